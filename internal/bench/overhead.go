package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/imgpurge/imgpurge/internal/bench/loadgen"
)

// Overhead: the load, the target and how long each run lasts.
const (
	overheadRate      = 1000.0
	overheadTargetP99 = 2.0 // ms over the critical path
	overheadWarmup    = 3 * time.Second
	overheadDuration  = 10 * time.Second
)

// overheadRun is one run's answer latencies, the service's CPU and the
// connections it opened to each fixture per purge.
type overheadRun struct {
	res   *loadRun
	cpu   time.Duration // imgpurged's CPU during the run, warm-up included
	wall  time.Duration
	conns map[string]float64
}

func (r overheadRun) p50() float64 { return r.res.Latency.P50 - msOf(criticalPath) }
func (r overheadRun) p99() float64 { return r.res.Latency.P99 - msOf(criticalPath) }

// cpuPerPurge is imgpurged's CPU per purge sent, in µs.
func (r overheadRun) cpuPerPurge() float64 {
	return float64(r.cpu) / float64(time.Microsecond) / float64(max(r.res.Sent, 1))
}

// cpuShare is imgpurged's CPU as a share of one core.
func (r overheadRun) cpuShare() float64 { return r.cpu.Seconds() / r.wall.Seconds() }

// overheadSetup is one datastore configuration under the overhead load.
type overheadSetup struct {
	name   string
	layers string
	// fixtures are the fixture names its three tiers call, in tier order.
	fixtures []string
}

func (b *Bench) overhead(ctx context.Context) error {
	fc, err := b.fixtureProcess()
	if err != nil {
		return err
	}
	defer fc.stop()
	tokens, err := b.tokenFile(ctx, "overhead", "RS256", 1)
	if err != nil {
		return err
	}
	def := overheadSetup{name: "overhead", layers: latencyLayers(fc.urls),
		fixtures: []string{"s3", "origin", "cloudflare"}}
	runs, err := b.overheadSeries(ctx, def, fc, tokens, 100)
	if err != nil {
		return err
	}
	s := b.overheadReport(runs)
	s.p("imgpurged's configuration (the addresses are the fixtures' loopback ports):")
	s.code(b.shownConfig(latencyLayers(latencyURLs{S3: "http://127.0.0.1:$S3_PORT",
		Origin: "http://127.0.0.1:$ORIGIN_PORT", Cloudflare: "http://127.0.0.1:$CLOUDFLARE_PORT"}))...)
	if medianOf(runs, overheadRun.p99) <= overheadTargetP99 {
		return nil
	}
	control, err := b.controlSeries(ctx, fc.urls)
	if err != nil {
		return err
	}
	b.controlReport(s, runs, control)
	prof, err := b.overheadProfile(ctx, s, b.overheadConfig(def), tokens)
	if err != nil {
		return err
	}
	b.overheadFinding(runs, control, prof)
	return nil
}

func (b *Bench) overheadConfig(o overheadSetup) func(addr, dir string) string {
	return func(addr, dir string) string { return serviceConfig(addr, dir, b.iss.authConfig(), o.layers) }
}

func (b *Bench) overheadLoad(tokens string, seed uint32) loadSpec {
	warm, dur := b.scaled(overheadWarmup), b.scaled(overheadDuration)
	return loadSpec{tokens: tokens, rate: overheadRate, warmup: warm, duration: dur,
		max: int(overheadRate*(warm+dur).Seconds()) + 1, seed: seed}
}

// overheadSeries starts imgpurged with o's datastore and runs the load
// against it Runs times.
func (b *Bench) overheadSeries(ctx context.Context, o overheadSetup, fc *fixtureClient,
	tokens string, seed uint32) ([]overheadRun, error) {
	p, err := b.startProcess(o.name, b.overheadConfig(o))
	if err != nil {
		return nil, err
	}
	defer p.stop()
	var runs []overheadRun
	for i := range b.opts.Runs {
		l := b.overheadLoad(tokens, seed+uint32(i))
		l.url, l.record = p.URL, b.artifact(fmt.Sprintf("%s-run%d.csv", o.name, i+1))
		c0, err := fc.counts()
		if err != nil {
			return nil, err
		}
		before, start := p.cpuTime(), time.Now()
		res, err := b.load(ctx, l)
		if err != nil {
			return nil, err
		}
		run := overheadRun{res: res, cpu: p.cpuTime() - before, wall: time.Since(start), conns: map[string]float64{}}
		c1, err := fc.counts()
		if err != nil {
			return nil, err
		}
		for tier, name := range o.fixtures {
			run.conns[fmt.Sprint(tier)] = float64(c1[name].Conns-c0[name].Conns) / float64(res.Sent)
		}
		if res.OK != res.Measured {
			return nil, fmt.Errorf("%s run %d: %d of %d purges failed (%v; first error %q)",
				o.name, i+1, res.Measured-res.OK, res.Measured, res.Status, res.FirstError)
		}
		runs = append(runs, run)
		b.logf("%s run %d: p50 %.2f ms, p99 %.2f ms", o.name, i+1, res.Latency.P50, res.Latency.P99)
	}
	return runs, nil
}

func (b *Bench) overheadReport(runs []overheadRun) *section {
	s := b.rep.section("1. Overhead at 1,000 purges/s")
	s.p("A 3-tier datastore whose layers answer after fixed latencies: tier 0 \"s3\" %s, tier 1 "+
		"\"origin\" %s, tier 2 \"cdn\" %s, so the critical path (the sum over tiers of each tier's "+
		"slowest layer) is **%s**. Every layer is a real provider inside imgpurged making real "+
		"HTTP calls over loopback: tiers 0 and 1 are `httpcache` layers (PURGE requests) to small "+
		"servers that answer 200 after their latency, and tier 2 is the `cloudflare` layer "+
		"(cloudflare-go) against the Cloudflare emulator (internal/emulator/cloudflare) with a "+
		"fault of `Delay: %s` on every call. Tier 0 stands in for S3 with an httpcache layer "+
		"because a fixed 20 ms answer needs a server the benchmark controls (the S3-compatible "+
		"server answers as fast as it can); what is measured is imgpurge's own time around the fixed latency, which "+
		"does not depend on the protocol behind it. The fixtures run in a process of their own.",
		s3Latency, originLatency, cdnLatency, criticalPath, cdnLatency)
	s.p("imgpurged is the binary (`bin/imgpurged`) with its default settings (log level info, "+
		"audit records batched to SQLite, metrics and tracing on, no coalescing window, providers' "+
		"default concurrency), verifying one reused RS256 token, as a CMS does, from an OIDC issuer "+
		"on loopback. The load generator, `bin/imgpurge-load`, is a separate process holding an "+
		"open-loop rate of %.0f purges/s (each request leaves on schedule whatever the earlier ones "+
		"are doing) for %s after a %s warm-up, each request purging one rendition of a different "+
		"image. Latency is from sending the request to the last byte of the answer; overhead is "+
		"that minus %s. The send lag column shows how late the generator sent against its schedule.",
		overheadRate, b.scaled(overheadDuration), b.scaled(overheadWarmup), criticalPath)
	s.table(overheadHeader, overheadRows(runs))
	p99 := medianOf(runs, overheadRun.p99)
	verdict := "met"
	if p99 > overheadTargetP99 {
		verdict = fmt.Sprintf("**missed by %.2f ms** (%.1f× the budget)", p99-overheadTargetP99, p99/overheadTargetP99)
	}
	b.rep.verdict("1. p99 overhead at 1,000 purges/s (over the 175 ms critical path)",
		fmt.Sprintf("p50 %+.2f ms, p99 %+.2f ms", medianOf(runs, overheadRun.p50), p99),
		fmt.Sprintf("p99 ≤ %.0f ms", overheadTargetP99), verdict)
	s.p("Every request's latency is in `%s` (one CSV per run). The fixtures' own timers are part "+
		"of the overhead as measured, so it is an upper bound on imgpurge's share. \"New connections "+
		"per purge\" counts the TCP connections imgpurged opened to each tier's server (as the "+
		"server accepted them) over the purges sent: 0 means every call reused a kept-alive "+
		"connection, 1 a new connection for every call.", b.shown(b.artifact("overhead-run*.csv")))
	return s
}

var overheadHeader = []string{"run", "purges/s", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "max ms",
	"p50 overhead ms", "p99 overhead ms", "send lag p99 ms", "imgpurged CPU (one core = 100%)",
	"new connections per purge, tier 0 / 1 / 2"}

func overheadRows(runs []overheadRun) [][]string {
	f2 := func(v float64) string { return fmt.Sprintf("%.2f", v) }
	cols := []func(overheadRun) string{
		func(r overheadRun) string { return fmt.Sprintf("%.0f", r.res.Throughput) },
		func(r overheadRun) string { return f2(r.res.Latency.P50) },
		func(r overheadRun) string { return f2(r.res.Latency.P90) },
		func(r overheadRun) string { return f2(r.res.Latency.P99) },
		func(r overheadRun) string { return f2(r.res.Latency.P999) },
		func(r overheadRun) string { return f2(r.res.Latency.Max) },
		func(r overheadRun) string { return fmt.Sprintf("%+.2f", r.p50()) },
		func(r overheadRun) string { return fmt.Sprintf("%+.2f", r.p99()) },
		func(r overheadRun) string { return f2(r.res.SendLag.P99) },
		func(r overheadRun) string { return fmt.Sprintf("%.0f%%", 100*r.cpuShare()) },
		func(r overheadRun) string {
			return fmt.Sprintf("%.2f / %.2f / %.2f", r.conns["0"], r.conns["1"], r.conns["2"])
		},
	}
	var rows [][]string
	for i, r := range runs {
		row := []string{fmt.Sprint(i + 1)}
		for _, c := range cols {
			row = append(row, c(r))
		}
		rows = append(rows, row)
	}
	med := overheadRun{res: &loadRun{Result: medianResult(runs)}, conns: map[string]float64{}}
	med.cpu = time.Duration(medianOf(runs, func(r overheadRun) float64 { return r.cpuShare() }) * float64(time.Second))
	med.wall = time.Second
	for _, k := range []string{"0", "1", "2"} {
		med.conns[k] = medianOf(runs, func(r overheadRun) float64 { return r.conns[k] })
	}
	row := []string{"**median**"}
	for _, c := range cols {
		row = append(row, "**"+c(med)+"**")
	}
	return append(rows, row)
}

// controlSeries runs the control: the same three calls to the same
// fixtures, one after another, from a bare Go client in this process at the
// same rate, with no imgpurged in between.
func (b *Bench) controlSeries(ctx context.Context, u latencyURLs) ([]loadgen.Summary, error) {
	var out []loadgen.Summary
	for range b.opts.Runs {
		sum, err := controlRun(ctx, []string{u.S3, u.Origin, u.CDNPlain}, overheadRate,
			b.scaled(overheadWarmup), b.scaled(overheadDuration))
		if err != nil {
			return nil, err
		}
		b.logf("control: p50 %.2f ms, p99 %.2f ms", sum.P50, sum.P99)
		out = append(out, sum)
	}
	return out, nil
}

func (b *Bench) controlReport(s *section, def []overheadRun, control []loadgen.Summary) {
	p50 := medianOf(control, func(c loadgen.Summary) float64 { return c.P50 })
	p99 := medianOf(control, func(c loadgen.Summary) float64 { return c.P99 })
	s.p("**Why the target is missed, part 1: a control without imgpurge.** The same three "+
		"fixtures (the Cloudflare emulator replaced by a plain server with the same %s latency) "+
		"called one after another by a bare Go HTTP client in the harness process, with kept-alive "+
		"connections, at the same open-loop %.0f a second: latency p50 %.2f ms and p99 %.2f ms "+
		"(medians; p50 per run %s, p99 per run %s), that is %+.2f / %+.2f ms over the critical path. That much of the "+
		"overhead above belongs to the loopback round trips, the fixtures' timers and this machine's "+
		"scheduling under the load, not to imgpurge; imgpurge's own share is the difference, a median "+
		"**%+.2f ms at p50 and %+.2f ms at p99**.%s", cdnLatency, overheadRate,
		p50, p99, each(control, "%.2f", func(c loadgen.Summary) float64 { return c.P50 }),
		each(control, "%.2f", func(c loadgen.Summary) float64 { return c.P99 }),
		p50-msOf(criticalPath), p99-msOf(criticalPath),
		medianOf(def, func(r overheadRun) float64 { return r.res.Latency.P50 })-p50,
		medianOf(def, func(r overheadRun) float64 { return r.res.Latency.P99 })-p99, connNote(def))
}

// connNote says whether imgpurged's connection pools held under the load.
func connNote(runs []overheadRun) string {
	worst := 0.0
	for _, k := range []string{"0", "1", "2"} {
		worst = max(worst, medianOf(runs, func(r overheadRun) float64 { return r.conns[k] }))
	}
	if worst < 0.2 {
		return fmt.Sprintf(" The providers' connection pools mostly held: at most %.2f new connections "+
			"per purge to any tier.", worst)
	}
	return fmt.Sprintf(" Up to %.2f new connections per purge to one tier: the providers' pools, "+
		"sized by their concurrency setting, are smaller than the calls in flight, and the calls "+
		"beyond them open connections of their own.", worst)
}

// medianResult is a result whose figures are the runs' medians.
func medianResult(runs []overheadRun) *loadgen.Result {
	m := func(f func(overheadRun) float64) float64 { return medianOf(runs, f) }
	r := &loadgen.Result{}
	r.Throughput = m(func(r overheadRun) float64 { return r.res.Throughput })
	r.Latency.P50 = m(func(r overheadRun) float64 { return r.res.Latency.P50 })
	r.Latency.P90 = m(func(r overheadRun) float64 { return r.res.Latency.P90 })
	r.Latency.P99 = m(func(r overheadRun) float64 { return r.res.Latency.P99 })
	r.Latency.P999 = m(func(r overheadRun) float64 { return r.res.Latency.P999 })
	r.Latency.Max = m(func(r overheadRun) float64 { return r.res.Latency.Max })
	r.SendLag.P99 = m(func(r overheadRun) float64 { return r.res.SendLag.P99 })
	return r
}

// overheadProfile runs the same load against the service built in this
// process, with the CPU profiler on, and says where its time goes.
func (b *Bench) overheadProfile(ctx context.Context, s *section, cfg func(addr, dir string) string,
	tokens string) (*cpuProfile, error) {
	prof, err := b.profiled(ctx, "overhead", cfg, b.overheadLoad(tokens, 199))
	if err != nil {
		return nil, err
	}
	s.p("**Why the target is missed, part 2: the profile.** The default datastore's load again, "+
		"against the same service built in this process by app.New (the code imgpurged runs) with "+
		"the CPU profiler on: p50 %.2f ms, p99 %.2f ms (overhead %+.2f / %+.2f ms).",
		prof.loadRes.Latency.P50, prof.loadRes.Latency.P99,
		prof.loadRes.Latency.P50-msOf(criticalPath), prof.loadRes.Latency.P99-msOf(criticalPath))
	profileTables(s, prof, 15)
	return prof, nil
}

// overheadFinding says how much of the overhead is imgpurge's and what
// sets its tail.
func (b *Bench) overheadFinding(runs []overheadRun, control []loadgen.Summary, prof *cpuProfile) {
	cp99 := medianOf(control, func(c loadgen.Summary) float64 { return c.P99 }) - msOf(criticalPath)
	own50 := medianOf(runs, overheadRun.p50) - (medianOf(control, func(c loadgen.Summary) float64 { return c.P50 }) -
		msOf(criticalPath))
	own99 := medianOf(runs, overheadRun.p99) - cp99
	floor := ""
	if cp99 > overheadTargetP99 {
		floor = fmt.Sprintf(" The control alone, with no imgpurge at all, is %+.2f ms at p99, above the "+
			"%.0f ms budget: on this machine, so measured, the target cannot be shown met by any service.",
			cp99, overheadTargetP99)
	}
	b.rep.finding("**Overhead.** At 1,000 purges/s imgpurge's own share of the latency, over a bare "+
		"client calling the same fixtures, is %+.2f ms at p50 and %+.2f ms at p99.%s imgpurged spends "+
		"%.0f µs of CPU per purge with three HTTP layers, so it keeps %.0f%% of a core busy at this "+
		"rate; its tail is waiting for a CPU, as imgpurged, the fixtures and the load generator share "+
		"two cores: in the profiled run runnable goroutines "+
		"waited for a CPU up to %s (p99.9), and the garbage collector stopped the world up to %s.",
		own50, own99, floor, medianOf(runs, overheadRun.cpuPerPurge),
		100*medianOf(runs, overheadRun.cpuShare), fmtMs(prof.rt.schedP999), fmtMs(prof.rt.gcPauseMax))
}
