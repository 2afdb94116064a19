package purge

import "context"

// Journal keeps the steps of a purge that did not complete during its request
// and runs them later, in tier order, until they succeed or are given up.
type Journal interface {
	// Record durably stores outcome's leftover steps. It reports whether they
	// were stored; only then may a response say the purge is journaled.
	Record(ctx context.Context, outcome *Outcome) (bool, error)
}

// NoJournal stores nothing.
//
// Known limitation: until the durable journal exists, leftover steps are
// reported to the caller (with journaled=false) but not retried later,
// because no queue backs this service yet.
type NoJournal struct{}

// Record implements Journal.
func (NoJournal) Record(context.Context, *Outcome) (bool, error) { return false, nil }
