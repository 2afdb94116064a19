package s3

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"golang.org/x/sync/errgroup"

	"github.com/imgpurge/imgpurge/internal/purge"
)

// job is one delete request: a DeleteObjects batch, or a single key that
// XML cannot carry, for DeleteObject with the key in the URL path.
type job struct {
	keys   []string
	single bool
}

// failures maps each key that is still there to why.
type failures map[string]error

type counters struct {
	batches, singles atomic.Int64
}

// Purge implements purge.Provider. Keys already absent count as deleted, as
// S3 itself reports them, so a repeated purge succeeds.
func (p *Provider) Purge(ctx context.Context, items []string) (purge.Result, error) {
	if ctx.Err() != nil {
		return purge.Result{Remaining: items}, interrupted(ctx, nil)
	}
	keys, failed := p.admit(items)
	var n counters
	jobs := p.jobs(keys)

	// A plain Group: one failed batch must not cancel the others.
	var g errgroup.Group
	g.SetLimit(p.set.DeleteConcurrency)
	results := make([]failures, len(jobs))
	for i, j := range jobs {
		g.Go(func() error {
			results[i] = p.do(ctx, j, &n)
			return nil
		})
	}
	_ = g.Wait()
	for _, r := range results {
		maps.Copy(failed, r)
	}
	return p.result(ctx, items, failed, &n)
}

// admit removes duplicates and refuses items that are not keys of this
// layer's derivatives, whatever put them in the plan or the journal.
func (p *Provider) admit(items []string) ([]string, failures) {
	failed := failures{}
	seen := make(map[string]bool, len(items))
	keys := make([]string, 0, len(items))
	for _, it := range items {
		if seen[it] {
			continue
		}
		seen[it] = true
		if !p.layout.owns(it) {
			failed[it] = &purge.Error{Code: "InvalidItem",
				Message: fmt.Sprintf("%q is not a rendition key under %q", it, p.set.Prefix)}
			continue
		}
		keys = append(keys, it)
	}
	return keys, failed
}

// jobs cuts the keys into batches of at most MaxKeysPerBatch; keys XML
// cannot carry get a job each.
func (p *Provider) jobs(keys []string) []job {
	var safe []string
	var jobs []job
	for _, k := range keys {
		if xmlSafe(k) {
			safe = append(safe, k)
		} else {
			jobs = append(jobs, job{keys: []string{k}, single: true})
		}
	}
	for batch := range slices.Chunk(safe, p.set.MaxKeysPerBatch) {
		jobs = append(jobs, job{keys: batch})
	}
	return jobs
}

func (p *Provider) do(ctx context.Context, j job, n *counters) failures {
	if ctx.Err() != nil {
		return allFailed(j.keys, interrupted(ctx, nil))
	}
	if j.single {
		n.singles.Add(1)
		return p.deleteOne(ctx, j.keys[0])
	}
	n.batches.Add(1)
	return p.deleteBatch(ctx, j.keys)
}

func (p *Provider) deleteOne(ctx context.Context, key string) failures {
	_, err := p.client.DeleteObject(ctx, &awss3.DeleteObjectInput{
		Bucket: aws.String(p.set.Bucket),
		Key:    aws.String(key),
	})
	if err == nil || isCode(err, "NoSuchKey") {
		return nil
	}
	return failures{key: classify(ctx, "DeleteObject", err)}
}

func (p *Provider) deleteBatch(ctx context.Context, keys []string) failures {
	objs := make([]types.ObjectIdentifier, len(keys))
	for i, k := range keys {
		objs[i] = types.ObjectIdentifier{Key: aws.String(k)}
	}
	var opts []func(*awss3.Options)
	if *p.set.ContentMD5 {
		opts = append(opts, withContentMD5)
	}
	// Known limitation: in Quiet mode a 200 reply lists only failures, so a
	// 200 that is not a DeleteResult at all (a proxy's page) reads as "all
	// deleted". Verbose mode would let every key be confirmed, at the cost
	// of a reply as long as the request.
	out, err := p.client.DeleteObjects(ctx, &awss3.DeleteObjectsInput{
		Bucket: aws.String(p.set.Bucket),
		// Quiet: the reply lists only the keys that failed.
		Delete: &types.Delete{Objects: objs, Quiet: aws.Bool(true)},
	}, opts...)
	if err != nil {
		return allFailed(keys, classify(ctx, "DeleteObjects", err))
	}
	return keyErrors(keys, out.Errors)
}

// keyErrors reads the per-key errors of a 200 DeleteObjects reply. An error
// for a key that was not sent means the store read the request differently
// from how it was meant, so no key of the batch is taken as deleted.
func keyErrors(keys []string, errs []types.Error) failures {
	sent := make(map[string]bool, len(keys))
	for _, k := range keys {
		sent[k] = true
	}
	failed := failures{}
	for _, e := range errs {
		key, code := aws.ToString(e.Key), cmp.Or(aws.ToString(e.Code), "UnknownError")
		if code == "NoSuchKey" {
			continue
		}
		pe := &purge.Error{Code: code, Retryable: retryableCode(code),
			Message: fmt.Sprintf("DeleteObjects: key %q: %s", key, aws.ToString(e.Message))}
		if !sent[key] {
			pe.Message = fmt.Sprintf("DeleteObjects: the store reported %s for %q, "+
				"a key it was not sent", code, key)
			return allFailed(keys, pe)
		}
		failed[key] = pe
	}
	return failed
}

func allFailed(keys []string, err error) failures {
	f := make(failures, len(keys))
	for _, k := range keys {
		f[k] = err
	}
	return f
}

// result lists the items still there in their given order and merges the
// failures into one error, with a count per code in Detail.
func (p *Provider) result(ctx context.Context, items []string, failed failures,
	n *counters) (purge.Result, error) {
	var sum summary
	seen := make(map[string]bool, len(items))
	res := purge.Result{}
	for _, it := range items {
		if seen[it] {
			continue
		}
		seen[it] = true
		if err, ok := failed[it]; ok {
			res.Remaining = append(res.Remaining, it)
			sum.add(err)
		}
	}
	res.Detail = map[string]any{
		"keys":           len(seen),
		"deleted":        len(seen) - len(res.Remaining),
		"failed":         len(res.Remaining),
		"batches":        int(n.batches.Load()),
		"single_deletes": int(n.singles.Load()),
	}
	if len(sum.errs) == 0 {
		return res, nil
	}
	res.Detail["failed_codes"] = sum.codes
	if ctx.Err() != nil {
		return res, interrupted(ctx, nil)
	}
	return res, sum.err(len(seen))
}

// summary gathers the failures of one call: the first failed item's code,
// retryable when any failure is, the longest Retry-After, and a count per
// code.
type summary struct {
	errs       []error
	seen       map[error]bool
	codes      map[string]int
	failed     int
	retryable  bool
	retryAfter time.Duration
}

// maxJoined bounds the distinct errors kept in a merged error; the counts
// per code in Detail cover the rest.
const maxJoined = 16

func (s *summary) add(err error) {
	if s.seen == nil {
		s.seen, s.codes = map[error]bool{}, map[string]int{}
	}
	s.failed++
	var pe *purge.Error
	code := "Interrupted"
	if errors.As(err, &pe) {
		code = pe.Code
		s.retryable = s.retryable || pe.Retryable
		s.retryAfter = max(s.retryAfter, pe.RetryAfter)
	}
	s.codes[code]++
	// A batch's keys share one error value; per-key errors each have one.
	if !s.seen[err] && len(s.errs) < maxJoined {
		s.seen[err] = true
		s.errs = append(s.errs, err)
	}
}

func (s *summary) err(total int) error {
	if len(s.errs) == 1 {
		return s.errs[0]
	}
	var first *purge.Error
	if !errors.As(s.errs[0], &first) {
		return errors.Join(s.errs...)
	}
	var parts []string
	for _, c := range slices.Sorted(maps.Keys(s.codes)) {
		parts = append(parts, fmt.Sprintf("%s %d", c, s.codes[c]))
	}
	return &purge.Error{
		Code: first.Code,
		Message: fmt.Sprintf("%d of %d keys not deleted (%s); first: %s",
			s.failed, total, strings.Join(parts, ", "), first.Message),
		Retryable:  s.retryable,
		RetryAfter: s.retryAfter,
		Err:        errors.Join(s.errs...),
	}
}

func isCode(err error, code string) bool {
	var pe interface{ ErrorCode() string }
	return errors.As(err, &pe) && pe.ErrorCode() == code
}
