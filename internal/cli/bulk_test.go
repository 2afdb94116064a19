package cli_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/imgpurge/imgpurge/internal/cli"
)

// bulkIDs are the images of the bulk tests, each with three renditions.
func bulkIDs(t *testing.T, root string, n int) []string {
	t.Helper()
	ids := make([]string, n)
	for i := range ids {
		ids[i] = uuid.NewString()
		renditions(t, root, ids[i], "640x360.jpg", "640x360.webp", "1280x720.jpg")
	}
	return ids
}

func TestBulkWithMalformedBlankAndCommentLines(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ids := bulkIDs(t, b.derivs, 4)
	input := strings.Join([]string{
		"# images retired on Monday", // 1
		ids[0],                       // 2
		"",                           // 3
		ids[1] + " 640x360",          // 4
		ids[2] + " a b",              // 5: malformed, three fields
		"   ",                        // 6
		"  # indented comment",       // 7
		ids[3] + "\t1280x720.jpg\r",  // 8: tab and CRLF are fine
		"img-42",                     // 9: the server refuses it
		"/image/" + ids[2],           // 10: malformed, a path
	}, "\n") + "\n"
	file := writeFile(t, b.dir, "ids.txt", input)
	report := filepath.Join(b.dir, "report.jsonl")

	o := run(t, b.env(nil), "", "purge", "--from", file, "--report", report,
		"--progress-every", "2", "--concurrency", "3").want(t, cli.ExitFailed)

	for _, want := range []string{"line 5: malformed, skipped", "line 10: malformed, skipped",
		"line 9: img-42: failed: HTTP 400, 40420201", "progress: 2/4 purges", "progress: 4/4 purges (100%)"} {
		if !strings.Contains(o.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, o.stderr)
		}
	}
	for _, want := range []string{"4 purges from " + file, "succeeded  3", "failed     1",
		"malformed  2", "derivatives  fs", "Report: " + report + " (3 entries)"} {
		if !strings.Contains(o.stdout, want) {
			t.Errorf("summary lacks %q:\n%s", want, o.stdout)
		}
	}
	if l := left(t, b.derivs, ids[0]); l != "" {
		t.Errorf("line 2 left %s", l)
	}
	if l := left(t, b.derivs, ids[1]); l != "1280x720.jpg" {
		t.Errorf("line 4 left %s", l)
	}
	if l := left(t, b.derivs, ids[2]); l != "1280x720.jpg,640x360.jpg,640x360.webp" {
		t.Errorf("the malformed line purged %s", l)
	}
	if l := left(t, b.derivs, ids[3]); l != "640x360.jpg,640x360.webp" {
		t.Errorf("line 8 left %s", l)
	}

	rep := readReport(t, report)
	if len(rep) != 3 {
		t.Fatalf("report = %+v", rep)
	}
	byLine := map[int]reportLine{}
	for _, r := range rep {
		byLine[r.Line] = r
	}
	if r := byLine[5]; r.Status != "malformed" || r.ID != ids[2] || !strings.Contains(r.Message, "3 fields") {
		t.Errorf("line 5 = %+v", r)
	}
	if r := byLine[10]; r.Status != "malformed" || !strings.Contains(r.Text, "/image/") {
		t.Errorf("line 10 = %+v", r)
	}
	if r := byLine[9]; r.Status != "failed" || r.HTTPStatus != 400 || strings.Join(r.ErrorCodes, ",") != "40420201" ||
		r.TrackingID == "" || r.ID != "img-42" {
		t.Errorf("line 9 = %+v", r)
	}
}

// TestBulkJournaledFromStdin purges from stdin in the datastore whose cache
// layer fails: each line is journaled, and the report says as which purge.
func TestBulkJournaledFromStdin(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ids := bulkIDs(t, filepath.Join(b.dir, "broken-derivatives"), 3)
	report := filepath.Join(b.dir, "report.jsonl")

	o := run(t, b.env(nil), strings.Join(ids, "\n"), "purge", "--from", "-", "--datastore", "broken",
		"--report", report, "--json").want(t, cli.ExitFailed)
	s := parseSummary(t, o)
	if s.Purges != 3 || s.Journaled != 3 || s.Succeeded != 0 || s.Reported != 3 || s.ExitCode != 1 {
		t.Fatalf("summary = %+v", s)
	}
	if len(s.Layers) != 2 || s.Layers[0].Succeeded != 3 || s.Layers[1].Layer != "varnish" || s.Layers[1].Failed != 3 {
		t.Errorf("by layer = %+v", s.Layers)
	}
	for _, r := range readReport(t, report) {
		if r.Status != "journaled" || r.JournalID == "" || r.HTTPStatus != 500 ||
			strings.Join(r.ErrorCodes, ",") != "40420290" || len(r.Layers) != 1 ||
			r.Layers[0].Layer != "varnish" || r.Layers[0].Code == "" {
			t.Errorf("report line = %+v", r)
		}
	}
	if !strings.Contains(o.stderr, "journaled for retry as purge") {
		t.Errorf("stderr:\n%s", o.stderr)
	}
}

// TestBulkFileWithBOM: the byte order mark an editor may put first is not
// part of the first id.
func TestBulkFileWithBOM(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ids := bulkIDs(t, b.derivs, 2)
	file := writeFile(t, b.dir, "ids.txt", "\ufeff"+ids[0]+"\n"+ids[1]+"\n")

	o := run(t, b.env(nil), "", "purge", "--from", file).want(t, cli.ExitOK)
	if !strings.Contains(o.stdout, "succeeded  2") {
		t.Errorf("summary:\n%s", o.stdout)
	}
	for _, id := range ids {
		if l := left(t, b.derivs, id); l != "" {
			t.Errorf("%s left %s", id, l)
		}
	}
}

func TestBulkDryRun(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ids := bulkIDs(t, b.derivs, 3)
	file := writeFile(t, b.dir, "ids.txt", ids[0]+"\n"+ids[1]+" 640x360\n"+ids[2]+" x y z\n")

	o := run(t, b.env(nil), "", "purge", "--from", file, "--dry-run").want(t, cli.ExitFailed)
	for _, want := range []string{"Dry run of 2 purges", "nothing was purged", "planned    2",
		"malformed  1", "Renditions: 5", "CloudFront: no cloudfront layer"} {
		if !strings.Contains(o.stdout, want) {
			t.Errorf("summary lacks %q:\n%s", want, o.stdout)
		}
	}
	j := run(t, b.env(nil), "", "purge", "--from", file, "--dry-run", "--json").want(t, cli.ExitFailed)
	s := parseSummary(t, j)
	if !s.DryRun || s.Planned != 2 || s.Malformed != 1 || s.Renditions != 5 || len(s.Layers) != 1 || s.Layers[0].Items != 5 {
		t.Errorf("summary = %+v", s)
	}
	for _, id := range ids {
		if l := left(t, b.derivs, id); l != "1280x720.jpg,640x360.jpg,640x360.webp" {
			t.Errorf("a dry run deleted files of %s: %s", id, l)
		}
	}
	// Without the malformed line every plan succeeds: exit 0.
	ok := writeFile(t, b.dir, "ok.txt", ids[0]+"\n")
	run(t, b.env(nil), "", "purge", "--from", ok, "--dry-run").want(t, cli.ExitOK)
}

func TestBulkProgressBarOnATerminal(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ids := bulkIDs(t, b.derivs, 5)
	o := run(t, b.env(nil), strings.Join(ids, "\n"), "purge", "--from", "-", "--progress", "bar").want(t, cli.ExitOK)
	if !strings.Contains(o.stderr, "\r[########################] 5/5 100% ok 5") || strings.Contains(o.stderr, "progress:") {
		t.Errorf("stderr = %q", o.stderr)
	}
	n := run(t, b.env(nil), strings.Join(ids, "\n"), "purge", "--from", "-", "--progress", "none").want(t, cli.ExitOK)
	if n.stderr != "" {
		t.Errorf("--progress none wrote %q", n.stderr)
	}
}

// TestBulkStopsWhenUnauthorized: a refused token would be refused for every
// line, so the run stops, exits 3 and reports the lines it did not run.
func TestBulkStopsWhenUnauthorized(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var lines []string
	for range 50 {
		lines = append(lines, uuid.NewString())
	}
	report := filepath.Join(b.dir, "report.jsonl")
	o := run(t, b.env(map[string]string{"IMGPURGE_TOKEN": "not.a.jwt"}), strings.Join(lines, "\n"),
		"purge", "--from", "-", "--concurrency", "2", "--report", report, "--json").want(t, cli.ExitNoReach)
	s := parseSummary(t, o)
	if s.NotRun == 0 || s.Failed+s.NotRun != 50 || !strings.Contains(s.Stopped, "HTTP 401") {
		t.Fatalf("summary = %+v", s)
	}
	rep := readReport(t, report)
	if len(rep) != 50 || rep[len(rep)-1].Status != "not_run" || rep[len(rep)-1].Line != 50 {
		t.Errorf("report has %d lines, last %+v", len(rep), rep[len(rep)-1])
	}
	ds := run(t, b.env(nil), strings.Join(lines, "\n"), "purge", "--from", "-", "--datastore", "nope",
		"--json").want(t, cli.ExitUsage)
	if s := parseSummary(t, ds); s.NotRun == 0 || !strings.Contains(s.Stopped, "40420202") {
		t.Errorf("unknown datastore: summary = %+v", s)
	}
	u := run(t, b.env(map[string]string{"IMGPURGE_URL": "http://" + b.closed}), strings.Join(lines, "\n"),
		"purge", "--from", "-", "--concurrency", "2").want(t, cli.ExitNoReach)
	if !strings.Contains(u.stdout, "Stopped early") || !strings.Contains(u.stdout, "connection refused") {
		t.Errorf("summary:\n%s", u.stdout)
	}
}

func TestBulkInterrupted(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var lines []string
	for range 50 {
		lines = append(lines, uuid.NewString())
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	o := runCtx(ctx, t, b.env(nil), strings.Join(lines, "\n"), "purge", "--from", "-", "--json").want(t, cli.ExitFailed)
	if s := parseSummary(t, o); s.NotRun == 0 || s.Succeeded+s.NotRun != 50 || s.Stopped != "interrupted" {
		t.Fatalf("summary = %+v", s)
	}
}

// TestBulk10000 purges a file of 10,000 images, 200 of them with three
// renditions on disk, and logs how long it took (about a second here).
func TestBulk10000(t *testing.T) {
	t.Parallel()
	const n = 10000
	b := setup(t)
	ids := make([]string, n)
	var sb strings.Builder
	for i := range ids {
		ids[i] = uuid.NewString()
		fmt.Fprintln(&sb, ids[i])
	}
	for _, id := range ids[:200] {
		renditions(t, b.derivs, id, "640x360.jpg", "640x360.webp", "1280x720.jpg")
	}
	file := writeFile(t, b.dir, "ids.txt", sb.String())

	start := time.Now()
	o := run(t, b.env(nil), "", "purge", "--from", file, "--json").want(t, cli.ExitOK)
	took := time.Since(start)
	s := parseSummary(t, o)
	if s.Succeeded != n || s.Failed+s.Journaled+s.Malformed+s.NotRun != 0 {
		t.Fatalf("summary = %+v", s)
	}
	if lines := strings.Count(o.stderr, "progress: "); lines < n/1000 {
		t.Errorf("%d progress lines for %d purges:\n%s", lines, n, o.stderr)
	}
	t.Logf("%d purges in %s (%.0f/s), concurrency %d", n, took.Round(time.Millisecond),
		float64(n)/took.Seconds(), cli.ConcurrencyDefault)
	if _, err := os.Stat(filepath.Join(b.derivs, ids[0])); !os.IsNotExist(err) {
		t.Errorf("image directory still there: %v", err)
	}
}
