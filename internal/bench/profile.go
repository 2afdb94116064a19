package bench

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"runtime/metrics"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"
)

// fn is one function of a CPU profile.
type fn struct {
	name      string
	flat, cum time.Duration
}

// cpuProfile is a CPU profile of the service under one load, read with
// go tool pprof.
type cpuProfile struct {
	path    string
	total   time.Duration // samples, every goroutine
	wall    time.Duration
	fns     []fn // by flat time, largest first
	purges  int  // answered 200 while profiling
	loadRes *loadRun
	rt      runtimeStats
}

// profiled runs load l against the service built in this process from cfg,
// with the CPU profiler on for the whole load.
func (b *Bench) profiled(ctx context.Context, name string, cfg func(addr, dir string) string,
	l loadSpec) (*cpuProfile, error) {
	svc, err := b.startInProcess(ctx, name, cfg)
	if err != nil {
		return nil, err
	}
	l.url = svc.URL
	path := b.artifact(name + ".cpu.pprof")
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	start, rt0 := time.Now(), readRuntimeMetrics()
	if err := pprof.StartCPUProfile(f); err != nil {
		return nil, err
	}
	res, err := b.load(ctx, l)
	pprof.StopCPUProfile()
	wall, rt := time.Since(start), runtimeDelta(rt0, readRuntimeMetrics())
	if serr := svc.stop(); err == nil && serr != nil {
		err = serr
	}
	if err != nil {
		return nil, err
	}
	p := &cpuProfile{path: path, wall: wall, purges: res.OK, loadRes: res, rt: rt}
	return p, p.read(ctx)
}

// read lists every function of the profile with go tool pprof -top.
func (p *cpuProfile) read(ctx context.Context) error {
	cmd := exec.CommandContext(ctx, "go", "tool", "pprof", "-top", "-nodecount=100000",
		"-nodefraction=0", "-edgefraction=0", p.path)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go tool pprof: %w: %s", err, stderr.String())
	}
	for _, line := range strings.Split(out.String(), "\n") {
		if strings.Contains(line, "Total samples =") {
			_, after, _ := strings.Cut(line, "Total samples = ")
			p.total = parseDur(strings.Fields(after)[0])
			continue
		}
		f := strings.Fields(line)
		if len(f) < 6 || !strings.HasSuffix(f[1], "%") || !strings.HasSuffix(f[4], "%") {
			continue
		}
		p.fns = append(p.fns, fn{name: strings.Join(f[5:], " "), flat: parseDur(f[0]), cum: parseDur(f[3])})
	}
	if len(p.fns) == 0 {
		return fmt.Errorf("go tool pprof listed no functions for %s", p.path)
	}
	return nil
}

func parseDur(s string) time.Duration {
	if d, err := time.ParseDuration(s); err == nil {
		return d
	}
	return 0
}

// perPurge is the service's CPU time per purge answered.
func (p *cpuProfile) perPurge() time.Duration {
	if p.purges == 0 {
		return 0
	}
	return p.total / time.Duration(p.purges)
}

// cum is the cumulative time of the first function whose name starts with
// prefix: the time spent in it and everything it called.
func (p *cpuProfile) cum(prefix string) time.Duration {
	var best time.Duration
	for _, f := range p.fns {
		if strings.HasPrefix(f.name, prefix) {
			best = max(best, f.cum)
		}
	}
	return best
}

// area is a group of functions that the report sums flat time over.
type area struct {
	name     string
	prefixes []string
}

// areas sort every sampled function by what it is for; the first match
// wins, and runtime functions not named are "scheduler and other runtime".
var areas = []area{
	{"signature checks (crypto, math/big)", []string{"crypto/", "math/big", "vendor/golang.org/x/crypto"}},
	{"token parsing (go-oidc, go-jose)", []string{"github.com/coreos/go-oidc", "github.com/go-jose"}},
	{"JSON", []string{"encoding/json", "github.com/goccy/go-json", "encoding/base64"}},
	{"logging (log/slog)", []string{"log/slog"}},
	{"audit writes (SQLite, database/sql, River)", []string{"modernc.org/", "database/sql", "github.com/riverqueue"}},
	{"metrics and tracing", []string{"github.com/prometheus", "go.opentelemetry.io"}},
	{"HTTP (net/http, textproto, bufio, url)", []string{"net/http", "net/textproto", "bufio", "net/url",
		"vendor/golang.org/x/net/http"}},
	{"syscalls and network I/O", []string{"syscall.", "internal/poll", "net.", "internal/runtime/syscall", "os."}},
	{"router (chi)", []string{"github.com/go-chi"}},
	{"imgpurge's own code", []string{"github.com/imgpurge/"}},
	{"garbage collection and allocation", []string{"runtime.gc", "runtime.mallocgc", "runtime.scan",
		"runtime.greyobject", "runtime.findObject", "runtime.markBits", "runtime.heapBits",
		"runtime.heapSetType", "runtime.(*mspan)", "runtime.(*mheap)", "runtime.(*mcache)",
		"runtime.(*mcentral)", "runtime.sweepone", "runtime.bgsweep", "runtime.(*sweepLocked)",
		"runtime.wbBuf", "runtime.bulkBarrier", "runtime.(*gcWork)", "runtime.(*gcBits)",
		"runtime.(*gcControllerState)", "runtime.(*pageAlloc)", "runtime.(*spanSet)", "runtime.spanOf",
		"runtime.markroot", "runtime.typePointers", "runtime.nextFreeFast", "runtime.newobject",
		"runtime.makeslice", "runtime.growslice", "runtime.deductAssistCredit", "runtime.memclrNoHeap",
		"runtime.pageIndexOf", "runtime.tryDeferToSpanScan", "runtime.(*mallocgc"}},
	{"scheduler and other runtime", []string{"runtime.", "internal/runtime", "sync.", "internal/sync", "sync/atomic"}},
}

// byArea sums flat time per area, in the order of areas, "other" last.
func (p *cpuProfile) byArea() []fn {
	sums := make([]time.Duration, len(areas)+1)
	for _, f := range p.fns {
		sums[areaOf(f.name)] += f.flat
	}
	out := make([]fn, 0, len(sums))
	for i, s := range sums {
		name := "other (fmt, strings, reflect, sort, time, ...)"
		if i < len(areas) {
			name = areas[i].name
		}
		out = append(out, fn{name: name, flat: s})
	}
	slices.SortStableFunc(out, func(a, b fn) int { return int(b.flat - a.flat) })
	return out
}

func areaOf(name string) int {
	for i, a := range areas {
		for _, pre := range a.prefixes {
			if strings.HasPrefix(name, pre) {
				return i
			}
		}
	}
	return len(areas)
}

// pct is d as a percentage of the profile's samples.
func (p *cpuProfile) pct(d time.Duration) string {
	if p.total == 0 {
		return "0%"
	}
	return strconv.FormatFloat(100*d.Seconds()/p.total.Seconds(), 'f', 1, 64) + "%"
}

// stages are the service's own steps, by the function that runs each one;
// their cumulative time says what a purge spends where.
// mod is the module path that starts imgpurge's own function names.
const mod = "github.com/imgpurge/imgpurge/"

var stages = []struct{ name, fn string }{
	{"inbound request in net/http (conn.serve)", "net/http.(*conn).serve"},
	{"token check (auth.Verifier.Verify)", mod + "internal/auth.(*Verifier).Verify"},
	{"plan (purge.NewPlan)", mod + "internal/purge.NewPlan"},
	{"each layer's step: provider calls (purge.Orchestrator.runLayer)",
		mod + "internal/purge.(*Orchestrator).runLayer"},
	{"the fs layers' unlinks (providers/fs Purge)", mod + "providers/fs.(*Provider).Purge"},
	{"the fs layer listing the store (providers/fs List)", mod + "providers/fs.(*Provider).List"},
	{"outbound HTTP connections, reading (net/http persistConn.readLoop)", "net/http.(*persistConn).readLoop"},
	{"outbound HTTP connections, writing (net/http persistConn.writeLoop)", "net/http.(*persistConn).writeLoop"},
	{"spans (otel sdk tracer.Start)", "go.opentelemetry.io/otel/sdk/trace.(*tracer).Start"},
	{"summary log line (api.Server.logPurge)", mod + "internal/api.(*Server).logPurge"},
	{"response envelope (envelope.Write)", mod + "internal/envelope.Write"},
	{"audit hand-off in the request (journal.Journal.Audit)", mod + "internal/journal.(*Journal).Audit"},
	{"audit batches to SQLite (journal.Journal.writeAudit)", mod + "internal/journal.(*Journal).writeAudit"},
	{"garbage collector, background (gcBgMarkWorker)", "runtime.gcBgMarkWorker"},
	{"garbage collector, assists charged to allocating goroutines (gcAssistAlloc)", "runtime.gcAssistAlloc"},
	{"goroutine stack growth (runtime.newstack)", "runtime.newstack"},
	{"scheduler looking for work (runtime.findRunnable)", "runtime.findRunnable"},
}

// profileTables writes where the CPU of p went: by stage, by area and the
// functions with the most flat time.
func profileTables(s *section, p *cpuProfile, top int) {
	s.p("Profile `%s`: %.2f s of CPU samples over %.1f s of wall time (%.2f cores busy in the "+
		"service), %s purges answered 200: **%.0f µs of service CPU per purge**.",
		p.path, p.total.Seconds(), p.wall.Seconds(), p.total.Seconds()/p.wall.Seconds(),
		thousands(float64(p.purges)), float64(p.perPurge())/float64(time.Microsecond))
	s.p("The Go runtime in that process over the same time: runnable goroutines waited for a CPU "+
		"p50 %s, p99 %s, p99.9 %s; the garbage collector ran %d cycles, with stop-the-world pauses "+
		"p99 %s, longest %s (the runtime's histograms, to their bucket bounds).", fmtMs(p.rt.schedP50),
		fmtMs(p.rt.schedP99), fmtMs(p.rt.schedP999), p.rt.gcCycles, fmtMs(p.rt.gcPauseP99),
		fmtMs(p.rt.gcPauseMax))
	var rows [][]string
	for _, st := range stages {
		if c := p.cum(st.fn); c > 0 {
			rows = append(rows, []string{st.name, p.pct(c)})
		}
	}
	s.table([]string{"Stage (cumulative: the function and all it calls; stages overlap)", "share of CPU"}, rows)
	rows = nil
	for _, a := range p.byArea() {
		if a.flat > 0 {
			rows = append(rows, []string{a.name, p.pct(a.flat)})
		}
	}
	s.table([]string{"Area (flat: where the CPU was when sampled)", "share of CPU"}, rows)
	rows = nil
	for _, f := range p.fns[:min(top, len(p.fns))] {
		rows = append(rows, []string{"`" + f.name + "`", p.pct(f.flat), p.pct(f.cum)})
	}
	s.table([]string{"Top functions by flat time", "flat", "cum"}, rows)
}

// runtimeStats are the Go runtime's own latency histograms over a span of
// time: how long runnable goroutines waited for a CPU, and how long the
// garbage collector stopped the world.
type runtimeStats struct {
	schedP50, schedP99, schedP999 time.Duration
	gcPauseP99, gcPauseMax        time.Duration
	gcCycles                      uint64
}

var runtimeMetricNames = []string{"/sched/latencies:seconds", "/sched/pauses/total/gc:seconds",
	"/gc/cycles/total:gc-cycles"}

func readRuntimeMetrics() []metrics.Sample {
	s := make([]metrics.Sample, len(runtimeMetricNames))
	for i, n := range runtimeMetricNames {
		s[i].Name = n
	}
	metrics.Read(s)
	return s
}

// runtimeDelta is what happened between two readings.
func runtimeDelta(a, b []metrics.Sample) runtimeStats {
	var st runtimeStats
	sched := histDelta(a[0], b[0])
	st.schedP50, st.schedP99, st.schedP999 = sched.quantile(0.5), sched.quantile(0.99), sched.quantile(0.999)
	gc := histDelta(a[1], b[1])
	st.gcPauseP99, st.gcPauseMax = gc.quantile(0.99), gc.quantile(1)
	if b[2].Value.Kind() == metrics.KindUint64 {
		st.gcCycles = b[2].Value.Uint64() - a[2].Value.Uint64()
	}
	return st
}

type hist struct {
	counts  []uint64
	buckets []float64
}

func histDelta(a, b metrics.Sample) hist {
	if a.Value.Kind() != metrics.KindFloat64Histogram || b.Value.Kind() != metrics.KindFloat64Histogram {
		return hist{}
	}
	ha, hb := a.Value.Float64Histogram(), b.Value.Float64Histogram()
	h := hist{counts: make([]uint64, len(hb.Counts)), buckets: hb.Buckets}
	for i := range hb.Counts {
		h.counts[i] = hb.Counts[i] - ha.Counts[i]
	}
	return h
}

// quantile is the upper bound of the bucket holding quantile q.
func (h hist) quantile(q float64) time.Duration {
	var total uint64
	for _, c := range h.counts {
		total += c
	}
	if total == 0 {
		return 0
	}
	want := uint64(math.Ceil(q * float64(total)))
	var seen uint64
	for i, c := range h.counts {
		if seen += c; seen >= max(want, 1) {
			upper := h.buckets[i+1]
			if math.IsInf(upper, 1) {
				upper = h.buckets[i]
			}
			return time.Duration(upper * float64(time.Second))
		}
	}
	return 0
}

// fmtMs formats d in milliseconds, or in microseconds below one.
func fmtMs(d time.Duration) string {
	if d < time.Millisecond {
		return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond))
	}
	return fmt.Sprintf("%.2f ms", msOf(d))
}
