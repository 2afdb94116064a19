package bench

import (
	"fmt"
	"strings"
	"time"
)

// report is the Markdown document make bench writes. Every figure in it
// comes from a measurement of this run.
type report struct {
	started    time.Time
	took       time.Duration
	machine    machine
	loadBefore string
	loadAfter  string
	// othersCPU is the CPU other processes took during the run, in
	// core-seconds and as a share of all cores' time.
	othersCPU  float64
	othersFrac float64
	runs       int
	// commands are the command lines the figures came from, in order.
	commands []string
	summary  [][]string
	// findings are generated sentences that draw the figures together.
	findings []string
	sections []*section
}

// section is one measurement's part of the report.
type section struct {
	title string
	b     strings.Builder
}

func (r *report) section(title string) *section {
	s := &section{title: title}
	r.sections = append(r.sections, s)
	return s
}

// verdict is the summary row of one figure against its target.
func (r *report) verdict(measure, figure, target, status string) {
	r.summary = append(r.summary, []string{measure, figure, target, status})
}

func (r *report) command(line string) { r.commands = append(r.commands, line) }

func (r *report) finding(format string, args ...any) {
	r.findings = append(r.findings, fmt.Sprintf(format, args...))
}

// p writes a paragraph.
func (s *section) p(format string, args ...any) {
	fmt.Fprintf(&s.b, format, args...)
	s.b.WriteString("\n\n")
}

// table writes a Markdown table.
func (s *section) table(header []string, rows [][]string) {
	s.b.WriteString(row(header))
	seps := make([]string, len(header))
	for i := range seps {
		seps[i] = "---"
	}
	s.b.WriteString(row(seps))
	for _, r := range rows {
		s.b.WriteString(row(r))
	}
	s.b.WriteString("\n")
}

// code writes lines as a fenced block.
func (s *section) code(lines ...string) {
	s.b.WriteString("```\n")
	for _, l := range lines {
		s.b.WriteString(l + "\n")
	}
	s.b.WriteString("```\n\n")
}

func row(cells []string) string {
	esc := make([]string, len(cells))
	for i, c := range cells {
		esc[i] = strings.ReplaceAll(c, "|", `\|`)
	}
	return "| " + strings.Join(esc, " | ") + " |\n"
}

func (r *report) markdown() string {
	var b strings.Builder
	b.WriteString("# imgpurge benchmarks\n\n")
	b.WriteString("Written by `make bench` (cmd/imgpurge-bench); every figure below was measured " +
		"by that run. Rerun with the same command; it takes about " +
		fmt.Sprintf("%.0f minutes here.\n\n", r.took.Minutes()+0.5))
	fmt.Fprintf(&b, "Run started %s and took %s. Each figure is the median of %d runs unless "+
		"said otherwise; the runs themselves are listed beside it.\n\n",
		r.started.UTC().Format("2006-01-02 15:04 MST"), r.took.Round(time.Second), r.runs)
	b.WriteString("## Machine\n\n")
	m := r.machine
	s := &section{}
	s.table([]string{"", ""}, [][]string{
		{"CPU", m.cpu}, {"Cores", fmt.Sprint(m.cores)}, {"Memory", m.memory},
		{"Kernel", m.kernel}, {"Go", m.goVersion},
		{"Load average before (1, 5, 15 min)", r.loadBefore},
		{"Load average after", r.loadAfter},
		{"CPU taken by other processes during the run",
			fmt.Sprintf("%.0f core-seconds, %.0f%% of all cores' time", r.othersCPU, 100*r.othersFrac)},
	})
	b.WriteString(s.b.String())
	b.WriteString(r.sharedNote())
	b.WriteString("## Summary\n\n")
	s = &section{}
	s.table([]string{"Measurement", "Result", "Target", "Verdict"}, r.summary)
	b.WriteString(s.b.String())
	for _, sec := range r.sections {
		fmt.Fprintf(&b, "## %s\n\n%s", sec.title, sec.b.String())
	}
	if len(r.findings) > 0 {
		b.WriteString("## What the figures say\n\n")
		for _, f := range r.findings {
			b.WriteString("- " + f + "\n")
		}
		b.WriteString("\n")
	}
	b.WriteString("## Commands\n\n`make bench` builds the binaries and runs `bin/imgpurge-bench " +
		"-imgpurged bin/imgpurged -load bin/imgpurge-load -out docs/benchmarks.md -artifacts " +
		"var/bench`, which started imgpurged with the configurations above and ran these ($URL, " +
		"$TOKENS and the like are the run's own loopback addresses and temporary files):\n\n")
	s = &section{}
	s.code(r.commands...)
	b.WriteString(s.b.String())
	return b.String()
}

// sharedNote says whether other work ran on the machine during the run:
// CPU time that neither this process nor its children used.
func (r *report) sharedNote() string {
	if r.othersFrac < 0.05 {
		return "The machine was otherwise close to idle during the run.\n\n"
	}
	return fmt.Sprintf("**The machine was shared.** Other processes (other engineers' builds "+
		"and tests) took %.0f%% of the machine's CPU time during the run (%.0f core-seconds), "+
		"so CPU-bound figures, throughput above all, are lower and latency tails longer than "+
		"on an idle machine. Medians of several runs damp this but do not remove it.\n\n",
		100*r.othersFrac, r.othersCPU)
}
