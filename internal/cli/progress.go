package cli

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// barWidth is the progress bar's width in cells; with the counts beside it
// the line fits 80 columns.
const barWidth = 24

// barRedraw is how often the bar is redrawn at most.
const barRedraw = 100 * time.Millisecond

// progress shows how far a bulk run is on stderr: a bar redrawn in place on
// a terminal, or a plain line now and then for a log file. Notes (a failed
// or malformed line) are printed above the bar.
type progress struct {
	w        io.Writer
	mode     string // "bar", "lines" or "none"
	total    int
	every    int
	interval time.Duration
	start    time.Time

	lastDraw  time.Time
	lastCount int
	drawn     int // width of the bar line on screen, to blank it
}

func newProgress(w io.Writer, o *purgeOptions, terminal bool, total int) *progress {
	mode := o.progress
	if mode == "auto" {
		mode = "lines"
		if terminal {
			mode = "bar"
		}
	}
	now := time.Now()
	return &progress{w: w, mode: mode, total: total, every: o.progressEvery,
		interval: o.progressInterval, start: now, lastDraw: now}
}

// update shows the counts if it is time to.
func (p *progress) update(s *summary) {
	done, now := s.done(), time.Now()
	switch p.mode {
	case "bar":
		if now.Sub(p.lastDraw) >= barRedraw || done == p.total {
			p.drawBar(s, now)
		}
	case "lines":
		if done-p.lastCount >= p.every || now.Sub(p.lastDraw) >= p.interval ||
			done == p.total && done != p.lastCount {
			p.line(s, now)
		}
	}
}

// note prints one line above the progress.
func (p *progress) note(msg string) {
	if p.mode == "bar" && p.drawn > 0 {
		fmt.Fprintf(p.w, "\r%s\r", strings.Repeat(" ", p.drawn))
		p.drawn = 0
	}
	fmt.Fprintln(p.w, msg)
}

// finish leaves the bar on its own line, complete.
func (p *progress) finish(s *summary) {
	switch p.mode {
	case "bar":
		p.drawBar(s, time.Now())
		fmt.Fprintln(p.w)
	case "lines":
		if s.done() != p.lastCount {
			p.line(s, time.Now())
		}
	}
}

func (p *progress) counts(s *summary) string {
	c := fmt.Sprintf("ok %d", s.Succeeded+s.Planned+s.Accepted)
	if s.Journaled > 0 {
		c += fmt.Sprintf(", journaled %d", s.Journaled)
	}
	if s.Failed > 0 {
		c += fmt.Sprintf(", failed %d", s.Failed)
	}
	if s.Malformed > 0 {
		c += fmt.Sprintf(", malformed %d", s.Malformed)
	}
	return c
}

func (p *progress) percent(done int) int {
	if p.total == 0 {
		return 100
	}
	return done * 100 / p.total
}

func (p *progress) line(s *summary, now time.Time) {
	done := s.done()
	fmt.Fprintf(p.w, "progress: %d/%d purges (%d%%), %s, %s elapsed\n",
		done, p.total, p.percent(done), p.counts(s), now.Sub(p.start).Round(100*time.Millisecond))
	p.lastDraw, p.lastCount = now, done
}

func (p *progress) drawBar(s *summary, now time.Time) {
	done := s.done()
	filled := barWidth
	if p.total > 0 {
		filled = done * barWidth / p.total
	}
	line := fmt.Sprintf("[%s%s] %d/%d %3d%% %s %s",
		strings.Repeat("#", filled), strings.Repeat(".", barWidth-filled),
		done, p.total, p.percent(done), p.counts(s), now.Sub(p.start).Round(100*time.Millisecond))
	pad := ""
	if n := p.drawn - len(line); n > 0 {
		pad = strings.Repeat(" ", n)
	}
	fmt.Fprintf(p.w, "\r%s%s", line, pad)
	p.drawn, p.lastDraw, p.lastCount = len(line), now, done
}
