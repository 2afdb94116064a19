package cloudfront

import (
	"encoding/xml"
	"fmt"
	"slices"
	"strings"
)

const (
	msgMalformed = "The XML you provided was not well-formed or did not validate against our " +
		"published schema."
	msgBadPaths = "Your request contains one or more invalid invalidation paths."
	msgRefUsed  = "Your request contains a caller reference that was used for a previous " +
		"invalidation batch for the same distribution."
)

// accept validates a CreateInvalidation body and creates the invalidation,
// or returns the original one for a repeated CallerReference.
func (e *Emulator) accept(dist string, body []byte, call *Call) (*Invalidation, *apiError) {
	e.mu.Lock()
	defer e.mu.Unlock()
	d, ok := e.dists[dist]
	if !ok {
		return nil, errorOf("NoSuchDistribution", msgNoDist)
	}
	if e.limiter != nil && !e.limiter.AllowN(e.now(), 1) {
		return nil, errorOf("Throttling", "Rate exceeded")
	}
	ref, paths, aerr := parseBatch(body)
	call.CallerReference, call.Paths = ref, paths
	if aerr != nil {
		return nil, aerr
	}
	if aerr := e.refused(paths); aerr != nil {
		return nil, aerr
	}
	if prev, ok := d.byRef[ref]; ok {
		return e.repeated(prev, paths, call)
	}
	if aerr := e.checkLimits(d, paths); aerr != nil {
		return nil, aerr
	}
	return e.createLocked(d, dist, ref, paths), nil
}

func parseBatch(body []byte) (ref string, paths []string, aerr *apiError) {
	if len(body) == 0 {
		return "", nil, errorOf("MissingBody", "This operation requires a body. Ensure that "+
			"the body is present and the Content-Type header is set.")
	}
	var b batchXML
	if err := xml.Unmarshal(body, &b); err != nil || b.XMLName.Space != Namespace {
		return "", nil, errorOf("InvalidArgument", msgMalformed)
	}
	if b.CallerReference == nil || *b.CallerReference == "" || b.Paths == nil ||
		b.Paths.Quantity == nil {
		return "", nil, errorOf("InvalidArgument", msgMalformed)
	}
	ref = *b.CallerReference
	if b.Paths.Items != nil {
		paths = b.Paths.Items.Path
	}
	if *b.Paths.Quantity != len(paths) {
		return ref, paths, errorOf("InconsistentQuantities",
			"The value of Quantity and the size of Items don't match.")
	}
	if len(paths) == 0 {
		return ref, paths, errorOf("InvalidArgument", "Your request must contain at least one path.")
	}
	for _, p := range paths {
		if reason := checkPath(p); reason != "" {
			return ref, paths, errorOf("InvalidArgument", msgBadPaths+" "+reason)
		}
	}
	return ref, paths, nil
}

// checkPath applies CloudFront's path rules and returns why p breaks them.
// Raw spaces, non-ASCII bytes and "~" are refused as in aws-sdk-go issue
// 223; "%7E" passes, and simply matches no cached "~".
func checkPath(p string) string {
	switch {
	case !strings.HasPrefix(p, "/"):
		return fmt.Sprintf("%q does not start with /.", p)
	case len(p) > MaxPathLength:
		return fmt.Sprintf("A path is longer than %d characters.", MaxPathLength)
	case strings.Contains(strings.TrimSuffix(p, "*"), "*"):
		return fmt.Sprintf("%q has * other than as its last character.", p)
	}
	for i := 0; i < len(p); i++ {
		if c := p[i]; c <= ' ' || c >= 0x7f || c == '~' {
			return fmt.Sprintf("%q contains a character that must be URL-encoded.", p)
		}
	}
	return ""
}

func (e *Emulator) refused(paths []string) *apiError {
	for _, p := range paths {
		if code, ok := e.failing[p]; ok {
			return errorOf(code, fmt.Sprintf("The emulator was told to refuse %s.", p))
		}
	}
	return nil
}

// repeated answers a CallerReference seen before: the original invalidation
// when the paths are the same, else the configured conflict.
func (e *Emulator) repeated(prev *Invalidation, paths []string, call *Call) (*Invalidation, *apiError) {
	a, b := slices.Clone(prev.Paths), slices.Clone(paths)
	slices.Sort(a)
	slices.Sort(b)
	if slices.Equal(a, b) {
		call.Duplicate = true
		return prev, nil
	}
	if e.opts.Conflict == ConflictInvalidArgument {
		return nil, errorOf("InvalidArgument", msgRefUsed)
	}
	return nil, errorOf("InvalidationBatchAlreadyExists",
		"The CallerReference you attempted to create the invalidation batch with is already "+
			"in use with a different set of paths.")
}

func (e *Emulator) checkLimits(d *distribution, paths []string) *apiError {
	exact, wild := countPaths(paths)
	if exact > MaxInProgressPaths || wild > MaxInProgressWildcards {
		return errorOf("BatchTooLarge", "Invalidation batch specified is too large.")
	}
	busyExact, busyWild := e.inProgress(d)
	if busyExact+exact > MaxInProgressPaths || busyWild+wild > MaxInProgressWildcards {
		return errorOf("TooManyInvalidationsInProgress", msgTooMany)
	}
	return nil
}

func (e *Emulator) createLocked(d *distribution, dist, ref string, paths []string) *Invalidation {
	now := e.now()
	inv := &Invalidation{ID: newInvalidationID(), Distribution: dist, CallerReference: ref,
		Paths: paths, Created: now, CompleteAt: now.Add(e.opts.CompleteAfter)}
	d.invalidations = append(d.invalidations, inv)
	d.byRef[ref] = inv
	// Objects stop being served at once (CloudFront reports under 5 s at
	// P95), well before the invalidation reads Completed.
	for _, p := range paths {
		if prefix, ok := strings.CutSuffix(p, "*"); ok {
			for k := range d.cache {
				if strings.HasPrefix(k, prefix) {
					delete(d.cache, k)
				}
			}
			continue
		}
		delete(d.cache, p)
	}
	return inv
}
