package cli

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"
)

// Outcomes of one line of a bulk run, as the summary and the report name
// them.
const (
	outSucceeded = "succeeded"
	outPlanned   = "planned"
	outAccepted  = "accepted"
	outJournaled = "journaled"
	outFailed    = "failed"
	outMalformed = "malformed"
	outNotRun    = "not_run"
)

// result is what became of one line.
type result struct {
	entry
	outcome    string
	httpStatus int
	codes      []string
	message    string
	purgeID    string
	journalID  string
	trackingID string
	layers     []layerData
	plan       *planData
	// fatal is the exit code of a failure that stops the run: credentials
	// refused, server unreachable, unknown datastore. 0 otherwise.
	fatal int
}

// summary counts a bulk run. It is printed for people or, with --json,
// as one JSON document.
type summary struct {
	DryRun    bool   `json:"dry_run"`
	Input     string `json:"input"`
	Purges    int    `json:"purges"`
	Succeeded int    `json:"succeeded"`
	Planned   int    `json:"planned,omitempty"`
	Accepted  int    `json:"accepted,omitempty"`
	Journaled int    `json:"journaled"`
	Failed    int    `json:"failed"`
	Malformed int    `json:"malformed"`
	NotRun    int    `json:"not_run"`
	// Layers sums each layer's outcomes (a dry run: its planned items).
	Layers []*layerSum `json:"layers"`
	// Renditions and the CloudFront estimate are a dry run's totals.
	Renditions        int     `json:"renditions,omitempty"`
	CloudFrontPaths   int     `json:"cloudfront_paths,omitempty"`
	CloudFrontCostUSD float64 `json:"cloudfront_cost_usd,omitempty"`
	CostBasis         string  `json:"cost_basis,omitempty"`
	cloudfront        bool

	DurationMS int64  `json:"duration_ms"`
	Report     string `json:"report,omitempty"`
	Reported   int    `json:"reported"`
	// Stopped says why the run stopped before the end of its input.
	Stopped  string `json:"stopped,omitempty"`
	ExitCode int    `json:"exit_code"`

	byLayer map[string]*layerSum
}

type layerSum struct {
	Layer     string `json:"layer"`
	Provider  string `json:"provider"`
	Succeeded int    `json:"succeeded"`
	Failed    int    `json:"failed"`
	Pending   int    `json:"pending"`
	Items     int    `json:"items"`
}

func (s *summary) layer(name, provider string) *layerSum {
	if s.byLayer == nil {
		s.byLayer = map[string]*layerSum{}
	}
	ls := s.byLayer[name]
	if ls == nil {
		ls = &layerSum{Layer: name, Provider: provider}
		s.byLayer[name] = ls
		s.Layers = append(s.Layers, ls)
	}
	return ls
}

// add counts one line's result.
func (s *summary) add(r *result) {
	switch r.outcome {
	case outSucceeded:
		s.Succeeded++
	case outPlanned:
		s.Planned++
	case outAccepted:
		s.Accepted++
	case outJournaled:
		s.Journaled++
	case outFailed:
		s.Failed++
	case outMalformed:
		s.Malformed++
	case outNotRun:
		s.NotRun++
	}
	for _, l := range r.layers {
		ls := s.layer(l.Layer, l.Provider)
		ls.Items += l.Items
		switch l.Status {
		case outSucceeded:
			ls.Succeeded++
		case outFailed:
			ls.Failed++
		default:
			ls.Pending++
		}
	}
	if p := r.plan; p != nil {
		s.Renditions += p.RenditionCount
		s.CloudFrontPaths += p.CloudFrontPaths
		s.CloudFrontCostUSD = float64(s.CloudFrontPaths*5) / 1000
		s.CostBasis = p.CostBasis
		s.cloudfront = s.cloudfront || hasCloudFront(p.Layers)
		for _, l := range p.Layers {
			s.layer(l.Layer, l.Provider).Items += l.Count
		}
	}
}

// done counts the purges that have an answer.
func (s *summary) done() int {
	return s.Succeeded + s.Planned + s.Accepted + s.Journaled + s.Failed
}

// exitCode is the run's exit code: a fatal failure's own, else 1 when any
// line did not succeed.
func (s *summary) exitCode(fatal int) int {
	if fatal != 0 {
		return fatal
	}
	if s.Journaled+s.Failed+s.Malformed+s.NotRun > 0 {
		return ExitFailed
	}
	return ExitOK
}

func (s *summary) print(w io.Writer) {
	took := time.Duration(s.DurationMS) * time.Millisecond
	prefix := ""
	if s.DryRun {
		prefix = "Dry run of "
	}
	fmt.Fprintf(w, "%s%d %s from %s in %s", prefix, s.Purges, plural(s.Purges, "purge", "purges"),
		s.Input, took.Round(time.Millisecond))
	if secs := took.Seconds(); secs > 0 && s.done() > 0 {
		fmt.Fprintf(w, " (%.0f/s)", float64(s.done())/secs)
	}
	if s.DryRun {
		fmt.Fprint(w, ": nothing was purged")
	}
	fmt.Fprintln(w)
	tw := table(w)
	row := func(name string, n int, note string, always bool) {
		switch {
		case n > 0 && note != "":
			fmt.Fprintf(tw, "  %s\t%d\t%s\n", name, n, note)
		case n > 0 || always:
			fmt.Fprintf(tw, "  %s\t%d\n", name, n)
		}
	}
	row("succeeded", s.Succeeded, "", !s.DryRun)
	row("planned", s.Planned, "", s.DryRun)
	row("accepted", s.Accepted, "queued in the journal (--async)", false)
	row("journaled", s.Journaled, "imgpurged retries them; imgpurge status PURGE-ID follows one", !s.DryRun)
	row("failed", s.Failed, "", true)
	row("malformed", s.Malformed, "lines skipped", true)
	row("not run", s.NotRun, s.Stopped, s.NotRun > 0)
	_ = tw.Flush()
	s.printLayers(w)
	if s.DryRun {
		fmt.Fprintf(w, "Renditions: %d\n", s.Renditions)
		fmt.Fprintln(w, costLine(s.cloudfront, s.CloudFrontPaths, s.CloudFrontCostUSD, s.CostBasis))
	}
	if s.Stopped != "" {
		fmt.Fprintf(w, "Stopped early: %s\n", s.Stopped)
	}
	if s.Report != "" {
		fmt.Fprintf(w, "Report: %s (%d %s)\n", s.Report, s.Reported, plural(s.Reported, "entry", "entries"))
	}
}

func (s *summary) printLayers(w io.Writer) {
	if len(s.Layers) == 0 {
		return
	}
	fmt.Fprintln(w, "By layer:")
	tw := table(w)
	if s.DryRun {
		fmt.Fprintln(tw, "  LAYER\tPROVIDER\tITEMS")
		for _, l := range s.Layers {
			fmt.Fprintf(tw, "  %s\t%s\t%d\n", l.Layer, l.Provider, l.Items)
		}
	} else {
		fmt.Fprintln(tw, "  LAYER\tPROVIDER\tSUCCEEDED\tFAILED\tPENDING\tITEMS")
		for _, l := range s.Layers {
			fmt.Fprintf(tw, "  %s\t%s\t%d\t%d\t%d\t%d\n", l.Layer, l.Provider, l.Succeeded, l.Failed, l.Pending, l.Items)
		}
	}
	_ = tw.Flush()
}

// reportEntry is one line of the report: a line of the input that did not
// succeed, with what a person or a script needs to act on it.
type reportEntry struct {
	Line       int           `json:"line"`
	ID         string        `json:"id"`
	Selector   string        `json:"selector"`
	Status     string        `json:"status"`
	HTTPStatus int           `json:"http_status,omitempty"`
	ErrorCodes []string      `json:"error_codes,omitempty"`
	Layers     []reportLayer `json:"layers,omitempty"`
	Message    string        `json:"message,omitempty"`
	PurgeID    string        `json:"purge_id,omitempty"`
	JournalID  string        `json:"journal_id,omitempty"`
	TrackingID string        `json:"tracking_id,omitempty"`
	Text       string        `json:"text,omitempty"`
}

// reportLayer is a layer that did not succeed, with its provider's code.
type reportLayer struct {
	Layer    string `json:"layer"`
	Provider string `json:"provider"`
	Status   string `json:"status"`
	Code     string `json:"code,omitempty"`
}

func reportOf(r *result) reportEntry {
	e := reportEntry{
		Line: r.line, ID: r.id, Selector: r.selector, Status: r.outcome, HTTPStatus: r.httpStatus,
		ErrorCodes: r.codes, Message: r.message, PurgeID: r.purgeID, JournalID: r.journalID,
		TrackingID: r.trackingID, Text: r.text,
	}
	for _, l := range r.layers {
		if l.Status == outSucceeded {
			continue
		}
		rl := reportLayer{Layer: l.Layer, Provider: l.Provider, Status: l.Status}
		if l.Error != nil {
			rl.Code = l.Error.Code
		}
		e.Layers = append(e.Layers, rl)
	}
	return e
}

// reportWriter writes the report as JSON lines.
type reportWriter struct {
	f   *os.File
	buf *bufio.Writer
	err error
}

func createReport(path string) (*reportWriter, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	return &reportWriter{f: f, buf: bufio.NewWriter(f)}, nil
}

func (rw *reportWriter) write(e reportEntry) {
	if rw == nil || rw.err != nil {
		return
	}
	raw, err := json.Marshal(e)
	if err == nil {
		raw = append(raw, '\n')
		_, err = rw.buf.Write(raw)
	}
	rw.err = err
}

// close flushes the report and returns the first error of any write.
func (rw *reportWriter) close() error {
	if rw == nil {
		return nil
	}
	if err := rw.buf.Flush(); rw.err == nil {
		rw.err = err
	}
	if err := rw.f.Close(); rw.err == nil {
		rw.err = err
	}
	return rw.err
}
