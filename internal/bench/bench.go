package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// RunsDefault is how many times each figure is measured; the report gives
// the median.
const RunsDefault = 3

// Options configure a benchmark run.
type Options struct {
	// Imgpurged and Load are the binaries of the service and of the load
	// generator, built by make bench.
	Imgpurged string
	Load      string
	// Out is the report's path, docs/benchmarks.md.
	Out string
	// Artifacts receives what a reader may want to look at again: CPU
	// profiles, per-request latencies, the Go benchmarks' output. It is
	// emptied first. The service's logs stay with the temporary files.
	Artifacts string
	// Runs is how many runs each figure's median is taken over, at least 3.
	Runs int
	// Only, when set, names the measurements to run (overhead, throughput,
	// fanout, coalescing, s3, allocs); the report then holds only those.
	Only []string
	// Short scales every timed load down, for trying the harness out; its
	// figures are not fit for the committed report.
	Short bool
	// Log receives progress lines.
	Log io.Writer
}

// Bench is one run of the whole suite.
type Bench struct {
	opts Options
	tmp  string
	art  string
	iss  *issuer
	rep  *report
	// memory and modes are the throughput runs and their token modes,
	// kept for the memory report.
	memory [][]throughputRun
	modes  []string
}

// measurement is one of the six parts of the report.
type measurement struct {
	name string
	run  func(*Bench, context.Context) error
}

var measurements = []measurement{
	{"overhead", (*Bench).overhead},
	{"throughput", (*Bench).throughput},
	{"fanout", (*Bench).fanout},
	{"coalescing", (*Bench).coalescing},
	{"s3", (*Bench).s3},
	{"allocs", (*Bench).allocs},
}

// Run measures, then writes the report. A measurement that fails is named
// in the report and in the returned error; the others still run.
func Run(ctx context.Context, o Options) error {
	if o.Runs < RunsDefault {
		o.Runs = RunsDefault
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	b := &Bench{opts: o, art: o.Artifacts, rep: &report{started: time.Now(), runs: o.Runs}}
	if err := b.prepare(); err != nil {
		return err
	}
	defer os.RemoveAll(b.tmp)
	defer b.iss.stop()

	b.rep.machine = readMachine()
	b.rep.loadBefore = loadAverage()
	clock := readCPUClock()
	var errs []error
	for _, m := range measurements {
		if len(o.Only) > 0 && !slices.Contains(o.Only, m.name) {
			continue
		}
		b.logf("== %s", m.name)
		if err := m.run(b, ctx); err != nil {
			b.logf("%s failed: %v", m.name, err)
			b.rep.section(m.name+": failed").p("The measurement failed: `%v`", err)
			errs = append(errs, fmt.Errorf("%s: %w", m.name, err))
		}
		if ctx.Err() != nil {
			break
		}
	}
	b.rep.loadAfter = loadAverage()
	b.rep.othersCPU, b.rep.othersFrac = othersShare(clock, readCPUClock(), b.rep.machine.cores)
	b.rep.took = time.Since(b.rep.started)
	if err := os.WriteFile(o.Out, []byte(b.rep.markdown()), 0o644); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (b *Bench) prepare() error {
	if b.art == "" {
		return errors.New("artifacts: a directory is required")
	}
	if err := os.RemoveAll(b.art); err != nil {
		return err
	}
	if err := os.MkdirAll(b.art, 0o755); err != nil {
		return err
	}
	var err error
	if b.tmp, err = os.MkdirTemp("", "imgpurge-bench-"); err != nil {
		return err
	}
	if b.iss, err = startIssuer(); err != nil {
		os.RemoveAll(b.tmp)
		return err
	}
	return nil
}

func (b *Bench) logf(format string, args ...any) {
	fmt.Fprintf(b.opts.Log, "%s %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// scaled shortens d in a Short run.
func (b *Bench) scaled(d time.Duration) time.Duration {
	if b.opts.Short {
		return max(d/4, 250*time.Millisecond)
	}
	return d
}

// artifact is a path under the artifacts directory, as the report names it.
func (b *Bench) artifact(name string) string { return filepath.Join(b.art, name) }

// shown is how the report names an artifact: relative to the repository.
func (b *Bench) shown(path string) string {
	if wd, err := os.Getwd(); err == nil {
		if rel, err := filepath.Rel(wd, path); err == nil && !strings.HasPrefix(rel, "..") {
			return rel
		}
	}
	return path
}
