package bench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
)

// goBenchCount is how many times go test runs each benchmark.
const goBenchCount = 5

// goBenchArgs are the Go benchmarks of the hot path: the orchestrator
// alone, the HTTP handler with a cached token, and token verification.
var goBenchArgs = []string{"test", "-run", "^$",
	"-bench", "^Benchmark(PlanExecute|DeleteImage|Verify)$", "-benchmem",
	"-count", strconv.Itoa(goBenchCount), "-benchtime", "1s",
	"./internal/purge", "./internal/api", "./internal/auth"}

// goBench is one benchmark's runs.
type goBench struct {
	name                string
	ns, bytes, allocs   []float64
	procs               string
	nsMed, bMed, allocM float64
}

var benchLine = regexp.MustCompile(`^(Benchmark\S+?)(-\d+)?\s+\d+\s+([\d.]+) ns/op\s+([\d.]+) B/op\s+([\d.]+) allocs/op`)

func (b *Bench) allocs(ctx context.Context) error {
	cmd := exec.CommandContext(ctx, "go", goBenchArgs...)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go test: %w\n%s%s", err, out.String(), stderr.String())
	}
	b.rep.command("go " + shellJoin(goBenchArgs))
	raw := b.artifact("gobench.txt")
	if err := os.WriteFile(raw, out.Bytes(), 0o644); err != nil {
		return err
	}
	var order []string
	benches := map[string]*goBench{}
	for _, line := range strings.Split(out.String(), "\n") {
		m := benchLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		gb := benches[m[1]]
		if gb == nil {
			gb = &goBench{name: m[1], procs: strings.TrimPrefix(m[2], "-")}
			benches[m[1]] = gb
			order = append(order, m[1])
		}
		for i, dst := range []*[]float64{&gb.ns, &gb.bytes, &gb.allocs} {
			v, _ := strconv.ParseFloat(m[3+i], 64)
			*dst = append(*dst, v)
		}
	}
	if len(order) == 0 {
		return fmt.Errorf("go test printed no benchmark results:\n%s", out.String())
	}
	list := make([]*goBench, len(order))
	for i, name := range order {
		gb := benches[name]
		gb.nsMed, gb.bMed, gb.allocM = median(gb.ns), median(gb.bytes), median(gb.allocs)
		list[i] = gb
	}
	b.memoryReport(list, raw)
	return nil
}

// benchNotes say what each Go benchmark covers.
var benchNotes = map[string]string{
	"BenchmarkPlanExecute/bare": "orchestrator: plan one rendition (listing the store) and run " +
		"3 tiers of instant providers",
	"BenchmarkPlanExecute/observed": "the same with imgpurged's metrics and a span per provider call",
	"BenchmarkDeleteImage/handler": "HTTP handler, cached RS256 token, 3 instant layers, summary " +
		"log line (JSON, info), envelope",
	"BenchmarkDeleteImage/telemetry": "the same inside imgpurged's tracing and metrics middleware, with the observer",
	"BenchmarkDeleteImage/as_served": "the same with audit records written to a real SQLite " +
		"journal in batches, as imgpurged serves it",
	"BenchmarkVerify/cached":         "token check answered from the cache (parallel)",
	"BenchmarkVerify/RS256_uncached": "full RS256 token check (parallel, 2 cores)",
	"BenchmarkVerify/ES256_uncached": "full ES256 token check (parallel, 2 cores)",
}

func (b *Bench) memoryReport(list []*goBench, raw string) {
	s := b.rep.section("6. Memory")
	b.rssTable(s)
	s.p("**Allocations per purge**, from Go benchmarks with -benchmem, each run %d times "+
		"(median; the runs are in `%s`). These run in one process without the network: the handler "+
		"benchmarks are the request after the server has parsed it.", goBenchCount, b.shown(raw))
	var rows [][]string
	for _, gb := range list {
		rows = append(rows, []string{"`" + gb.name + "`", benchNotes[gb.name],
			fmt.Sprintf("%.0f", gb.allocM), thousands(gb.bMed), thousands(gb.nsMed),
			each(gb.list(), "%.0f", func(x float64) float64 { return x })})
		if gb.name == "BenchmarkDeleteImage/as_served" || gb.name == "BenchmarkPlanExecute/bare" {
			b.rep.verdict("6. Allocations per purge, "+strings.TrimPrefix(gb.name, "Benchmark"),
				fmt.Sprintf("%.0f allocs, %s B, %s ns", gb.allocM, thousands(gb.bMed), thousands(gb.nsMed)),
				"report", "reported")
		}
	}
	s.table([]string{"benchmark", "what one op is", "allocs/op", "B/op", "ns/op", "allocs/op per run"}, rows)
}

func (gb *goBench) list() []float64 { return gb.allocs }

// rssTable reports imgpurged's resident memory from the throughput runs.
func (b *Bench) rssTable(s *section) {
	if len(b.memory) == 0 {
		s.p("Resident memory is read during the throughput measurement, which did not run.")
		return
	}
	s.p("**Resident memory of the imgpurged process** (VmRSS of /proc/<pid>/status), read from " +
		"every throughput run of measurement 2: at idle (started, /healthz answered, then a second " +
		"alone), its peak under the load (read every 50 ms) and at the end of the load.")
	var rows [][]string
	mb := func(kb float64) string { return fmt.Sprintf("%.1f", kb/1024) }
	for i, runs := range b.memory {
		rows = append(rows, []string{b.modes[i],
			mb(medianOf(runs, func(r throughputRun) float64 { return float64(r.idleKB) })),
			mb(medianOf(runs, func(r throughputRun) float64 { return float64(r.peakKB) })),
			mb(medianOf(runs, func(r throughputRun) float64 { return float64(r.afterKB) })),
			each(runs, "%.1f", func(r throughputRun) float64 { return float64(r.peakKB) / 1024 })})
	}
	s.table([]string{"load of measurement 2", "idle RSS MiB", "peak RSS MiB under load", "RSS MiB at the end",
		"peak per run"}, rows)
	idle := medianOf(b.memory[0], func(r throughputRun) float64 { return float64(r.idleKB) })
	peak := 0.0
	for _, runs := range b.memory {
		peak = max(peak, medianOf(runs, func(r throughputRun) float64 { return float64(r.peakKB) }))
	}
	b.rep.verdict("6. imgpurged RSS, idle / peak under the load of 2", fmt.Sprintf("%s / %s MiB", mb(idle), mb(peak)),
		"report", "reported")
}
