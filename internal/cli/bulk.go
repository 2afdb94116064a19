package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// maxNotes bounds the failed or malformed lines described on stderr; the
// report holds them all.
const maxNotes = 100

// bulkRun is one "imgpurge purge --from" run. Workers send requests; the
// goroutine that called run owns the summary, the report and the progress.
type bulkRun struct {
	o      *purgeOptions
	cl     *client
	env    Env
	sum    summary
	report *reportWriter
	prog   *progress
	notes  int
}

func runBulk(ctx context.Context, cl *client, o *purgeOptions, env Env) int {
	start := time.Now()
	entries, err := readEntries(o.from, env.Stdin)
	if err != nil {
		fmt.Fprintf(env.Stderr, "imgpurge purge: reading --from: %v\n", err)
		return ExitUsage
	}
	b := &bulkRun{o: o, cl: cl, env: env}
	b.sum.DryRun, b.sum.Input, b.sum.Report = o.dryRun, o.from, o.report
	if o.from == "-" {
		b.sum.Input = "stdin"
	}
	if o.report != "" {
		if b.report, err = createReport(o.report); err != nil {
			fmt.Fprintf(env.Stderr, "imgpurge purge: --report: %v\n", err)
			return ExitUsage
		}
	}
	// A token that cannot be had stops the run before its first purge.
	if _, err := cl.tokens.Token(); err != nil {
		_ = b.report.close()
		fmt.Fprintf(env.Stderr, "imgpurge purge: %v\n", classify(err))
		return errExit(classify(err))
	}

	good := 0
	for _, e := range entries {
		if e.problem == "" {
			good++
		}
	}
	b.sum.Purges = good
	b.prog = newProgress(env.Stderr, o, env.Terminal, good)
	jobs := b.splitMalformed(entries)
	fatal := b.run(ctx, jobs)
	b.prog.finish(&b.sum)

	b.sum.DurationMS = time.Since(start).Milliseconds()
	b.sum.ExitCode = b.sum.exitCode(fatal)
	if err := b.report.close(); err != nil {
		fmt.Fprintf(env.Stderr, "imgpurge purge: writing the report: %v\n", err)
		b.sum.ExitCode = max(b.sum.ExitCode, ExitFailed)
	}
	if o.json {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(&b.sum)
	} else {
		b.sum.print(env.Stdout)
	}
	return b.sum.ExitCode
}

// splitMalformed reports the malformed entries and returns the others.
func (b *bulkRun) splitMalformed(entries []entry) []entry {
	jobs := entries[:0:0]
	for _, e := range entries {
		if e.problem == "" {
			jobs = append(jobs, e)
			continue
		}
		b.record(&result{entry: e, outcome: outMalformed, message: e.problem})
	}
	return jobs
}

// run purges jobs with bounded concurrency and returns the exit code of a
// failure that stopped it early, or 0. When ctx ends (an interrupt) or a
// purge fails in a way every later one would too, no further purge is
// started; those in flight finish, and the rest are reported as not run.
func (b *bulkRun) run(ctx context.Context, jobs []entry) int {
	feed, stopFeed := context.WithCancel(ctx)
	defer stopFeed()
	queue, results := make(chan entry), make(chan *result, b.o.concurrency)
	sent := 0
	go func() {
		defer close(queue)
		for _, j := range jobs {
			select {
			case queue <- j:
				sent++
			case <-feed.Done():
				return
			}
		}
	}()
	// Requests in flight are not cut off by an interrupt: the answer says
	// what happened, and the server journals what a cut-off purge leaves.
	reqCtx := context.WithoutCancel(ctx)
	var wg sync.WaitGroup
	for range b.o.concurrency {
		wg.Go(func() {
			for j := range queue {
				results <- b.one(reqCtx, j)
			}
		})
	}
	go func() { wg.Wait(); close(results) }()

	fatal := b.collect(ctx, results, stopFeed)
	// The feeder has returned: queue is closed before results is.
	for _, j := range jobs[sent:] {
		b.record(&result{entry: j, outcome: outNotRun, message: b.sum.Stopped})
	}
	return fatal
}

// collect counts results as they come and keeps the progress current.
func (b *bulkRun) collect(ctx context.Context, results <-chan *result, stopFeed func()) int {
	tick := time.NewTicker(barRedraw)
	defer tick.Stop()
	fatal, interrupted := 0, ctx.Done()
	for {
		select {
		case r, ok := <-results:
			if !ok {
				return fatal
			}
			b.record(r)
			if r.fatal != 0 && fatal == 0 {
				fatal = r.fatal
				b.sum.Stopped = r.message
				b.prog.note("imgpurge purge: stopping: " + r.message)
				stopFeed()
			}
			b.prog.update(&b.sum)
		case <-tick.C:
			b.prog.update(&b.sum)
		case <-interrupted:
			interrupted = nil
			if b.sum.Stopped == "" {
				b.sum.Stopped = "interrupted"
			}
			b.prog.note("imgpurge purge: interrupted; letting the purges in flight finish")
		}
	}
}

// record counts a result, and reports and describes one that did not
// succeed.
func (b *bulkRun) record(r *result) {
	b.sum.add(r)
	switch r.outcome {
	case outSucceeded, outPlanned, outAccepted:
		return
	}
	if b.report != nil {
		b.report.write(reportOf(r))
		b.sum.Reported++
	}
	if r.outcome == outNotRun {
		return
	}
	b.notes++
	switch {
	case b.notes <= maxNotes:
		b.note(r)
	case b.notes == maxNotes+1 && b.report != nil:
		b.prog.note("imgpurge purge: more lines did not succeed; the report lists them all")
	case b.notes == maxNotes+1:
		b.prog.note("imgpurge purge: more lines did not succeed; --report FILE lists them all")
	}
}

func (b *bulkRun) note(r *result) {
	what := r.outcome
	switch r.outcome {
	case outJournaled:
		what = "journaled for retry as purge " + r.journalID
	case outFailed:
		what = "failed"
	}
	target := r.id
	if r.selector != "" {
		target += " " + r.selector
	}
	msg := fmt.Sprintf("line %d: %s: %s", r.line, target, what)
	if r.outcome == outMalformed {
		msg = fmt.Sprintf("line %d: malformed, skipped: %s", r.line, r.message)
	} else if r.message != "" {
		msg += ": " + r.message
	}
	b.prog.note(msg)
}

// one purges (or plans) one line.
func (b *bulkRun) one(ctx context.Context, e entry) *result {
	res := &result{entry: e}
	r, err := b.cl.do(ctx, b.o.purgeRequest(e.id, e.selector))
	if err != nil {
		res.outcome, res.message = outFailed, err.Error()
		if code := errExit(err); code == ExitNoReach {
			res.fatal = code
		}
		return res
	}
	res.httpStatus, res.trackingID, res.codes = r.status, r.trackingID, r.codes()
	if code := r.exit(); code == ExitNoReach || code == ExitUsage {
		res.outcome, res.message, res.fatal = outFailed, r.problem(), code
		return res
	}
	if b.o.dryRun {
		return planResult(res, r)
	}
	return purgeResult(res, r)
}

func planResult(res *result, r *reply) *result {
	var d planData
	if !r.ok() || json.Unmarshal(r.data, &d) != nil {
		res.outcome, res.message = outFailed, r.problem()
		return res
	}
	res.outcome, res.plan = outPlanned, &d
	return res
}

func purgeResult(res *result, r *reply) *result {
	if r.status == http.StatusAccepted && r.ok() {
		var d acceptedData
		_ = json.Unmarshal(r.data, &d)
		res.outcome, res.purgeID = outAccepted, d.PurgeID
		return res
	}
	var d purgeData
	if r.envelope && len(r.data) > 0 {
		_ = json.Unmarshal(r.data, &d)
	}
	res.purgeID, res.journalID, res.layers = d.PurgeID, d.JournalID, d.Layers
	switch {
	case r.ok():
		res.outcome = outSucceeded
	case d.Journaled:
		res.outcome, res.message = outJournaled, failedLayers(d.Layers)
	default:
		res.outcome, res.message = outFailed, r.problem()
	}
	return res
}

// failedLayers names the layers that failed and their providers' codes.
func failedLayers(layers []layerData) string {
	var parts []string
	for _, l := range layers {
		if l.Error != nil {
			parts = append(parts, fmt.Sprintf("layer %s (%s): %s", l.Layer, l.Provider, l.Error.Code))
		}
	}
	return strings.Join(parts, "; ")
}
