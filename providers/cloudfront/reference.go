package cloudfront

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"slices"
	"strings"
)

// CallerReference scheme.
//
// CloudFront remembers every CallerReference of a distribution. The same
// reference with the same paths returns the original invalidation and
// invalidates nothing new; with other paths it fails. So a reference must be
// new for every purge (an image purged again next week must be invalidated
// again) and the same for a retry of a call whose outcome is unknown (a
// timeout, a dropped connection or a 5xx may have created the invalidation,
// and a second one would be a duplicate, billed and counted against the
// in-progress quota).
//
// Each Purge call draws a random nonce, and a call's reference is
//
//	{prefix}-{nonce}-{first 16 hex digits of SHA-256 of its sorted paths}
//
// When a call's outcome is unknown, Result.Remaining carries the nonce as an
// item "ref:{nonce}" followed by exactly that call's paths. Purge reads the
// paths after a ref item as one group sent under that nonce, so the retry,
// whether the orchestrator's or the journal's, sends the same paths under
// the same reference and CloudFront hands back the original invalidation.
// When CloudFront answered with an error, it created nothing: those paths
// come back without a ref item and the retry gets a fresh reference, which
// is just as safe.
//
// Plan emits no ref item, so identical purges at different times never
// share a reference, and a plan's items are only the paths CloudFront bills.
//
// Known limitation: a ref group larger than max_paths_per_call (the setting
// was lowered between the call and its retry) is split again under new
// references, so an invalidation created by the lost call may be repeated.

const refItemPrefix = "ref:"

var nonceRE = regexp.MustCompile(`^[0-9a-f]{8,64}$`)

// group is a run of paths sent under one nonce; "" means this call's own.
type group struct {
	nonce string
	paths []string
}

// parseItems splits items into groups, in order, and returns the items that
// are neither paths nor ref items.
func parseItems(items []string) (groups []group, bad []string) {
	groups = []group{{}}
	for _, it := range items {
		switch {
		case strings.HasPrefix(it, "/"):
			last := &groups[len(groups)-1]
			last.paths = append(last.paths, it)
		case strings.HasPrefix(it, refItemPrefix) && nonceRE.MatchString(it[len(refItemPrefix):]):
			groups = append(groups, group{nonce: it[len(refItemPrefix):]})
		default:
			bad = append(bad, it)
		}
	}
	return groups, bad
}

func newNonce() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b)
}

func (p *Provider) reference(nonce string, paths []string) string {
	sorted := slices.Clone(paths)
	slices.Sort(sorted)
	sum := sha256.Sum256([]byte(strings.Join(sorted, "\n")))
	return p.refPrefix + "-" + nonce + "-" + hex.EncodeToString(sum[:8])
}

// split cuts paths into calls of at most maxPaths paths and at most 15
// wildcards, keeping their order.
func split(paths []string, maxPaths int) [][]string {
	var calls [][]string
	var cur []string
	wild := 0
	for _, path := range paths {
		w := isWildcard(path)
		if len(cur) == maxPaths || w && wild == maxWildcardsPerCallLimit {
			calls, cur, wild = append(calls, cur), nil, 0
		}
		cur = append(cur, path)
		if w {
			wild++
		}
	}
	if len(cur) > 0 {
		calls = append(calls, cur)
	}
	return calls
}
