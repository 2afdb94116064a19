package purge

import "context"

// Journal keeps the steps of a purge that did not complete during its request
// and runs them later, in tier order, until they succeed or are given up.
type Journal interface {
	// Record durably stores outcome's leftover steps and returns the id of
	// the purge that will finish them: outcome's own, or that of an
	// identical purge still pending. Only after it returns may a response
	// say the purge is journaled.
	Record(ctx context.Context, outcome *Outcome) (string, error)
}
