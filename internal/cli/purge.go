package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// ConcurrencyDefault is how many purges of a bulk run are in flight at once.
const ConcurrencyDefault = 8

// ConcurrencyMax bounds --concurrency: beyond it a bulk run only queues
// requests at the server.
const ConcurrencyMax = 256

const purgeAbout = `Purges the renditions of one image, or of every image listed in a file,
from every layer of the datastore, and prints each layer's outcome.

SELECTOR picks renditions: absent or '*' all of them, an exact name
(640x360.jpg), a stem for every format of one size (640x360) or a glob
('*x360.*'). Quote '*' and globs from the shell.

--from FILE reads one "ID [SELECTOR]" per line ("-" reads stdin). Blank
lines and lines starting with # are skipped; a malformed line is reported
with its number and the run goes on. Progress goes to stderr (a bar on a
terminal, a line every --progress-every purges or --progress-interval
otherwise), the summary to stdout, and --report writes every line that did
not succeed as a JSON line.

--dry-run asks the server for the plan instead: what each layer would
receive, with counts and the estimated CloudFront invalidation cost.
Nothing is purged or journaled.

Exit codes: 0 all succeeded (or, with --async, were accepted); 1 some
failed, were journaled for retry, or a line was malformed or not run; 2
usage or configuration error (including a datastore the server does not
know); 3 server unreachable or credentials refused, which also stops a bulk
run.
`

const purgeExample = `  export IMGPURGE_URL=http://127.0.0.1:8080 IMGPURGE_TOKEN=$(imgpurge token --dev)
  imgpurge purge 1e8a9135-5976-4de8-9c27-64cc33bf9baa 640x360
  imgpurge purge 1e8a9135-5976-4de8-9c27-64cc33bf9baa '*' --dry-run
  imgpurge purge --from retired-ids.txt --concurrency 16 --report failures.jsonl
`

// purgeOptions are the flags of imgpurge purge.
type purgeOptions struct {
	conn             connFlags
	datastore        string
	json             bool
	dryRun           bool
	async            bool
	from             string
	concurrency      int
	report           string
	progress         string
	progressEvery    int
	progressInterval time.Duration
}

func purgeCommand(ctx context.Context, args []string, env Env) int {
	cmd := newCommand("purge", "purge ID [SELECTOR] [flags]\n       imgpurge purge --from FILE|- [flags]",
		purgeAbout, purgeExample, env.Stderr)
	var o purgeOptions
	fs := cmd.fs
	fs.StringVar(&o.datastore, "datastore", "", "datastore to purge in (default: the token's or the server's default)")
	fs.BoolVar(&o.json, "json", false, "print the server's JSON envelope (bulk: the summary as JSON)")
	fs.BoolVar(&o.dryRun, "dry-run", false, "print the plan without purging anything")
	fs.BoolVar(&o.async, "async", false, "let the server's journal run the purge and answer at once (202)")
	fs.StringVar(&o.from, "from", "", `file of "ID [SELECTOR]" lines, or "-" for stdin`)
	fs.IntVar(&o.concurrency, "concurrency", ConcurrencyDefault, "bulk: purges in flight at once")
	fs.StringVar(&o.report, "report", "", "bulk: write every line that did not succeed to this file, as JSON lines")
	fs.StringVar(&o.progress, "progress", "auto", "bulk: auto (a bar on a terminal, else lines), bar, lines or none")
	fs.IntVar(&o.progressEvery, "progress-every", 1000, "bulk: a progress line every this many purges")
	fs.DurationVar(&o.progressInterval, "progress-interval", 10*time.Second, "bulk: and at least this often")
	o.conn.register(fs)

	pos, err := cmd.parse(args)
	if err != nil {
		return helpOr(err)
	}
	if msg := o.check(pos); msg != "" {
		return usageError(env.Stderr, "purge", "%s", msg)
	}
	if err := o.conn.resolve(env.Getenv); err != nil {
		return usageError(env.Stderr, "purge", "%v", err)
	}
	cl := newClient(ctx, &o.conn, env, o.concurrency)
	if o.from != "" {
		return runBulk(ctx, cl, &o, env)
	}
	sel := ""
	if len(pos) == 2 {
		sel = pos[1]
	}
	if o.dryRun {
		return planOne(ctx, cl, &o, pos[0], sel, env)
	}
	return purgeOne(ctx, cl, &o, pos[0], sel, env)
}

// check returns what is wrong with the flags and arguments, or "".
func (o *purgeOptions) check(pos []string) string {
	switch {
	case o.from == "" && (len(pos) < 1 || len(pos) > 2):
		return "want ID [SELECTOR], or --from FILE"
	case o.from != "" && len(pos) > 0:
		return "--from reads the ids from a file; give no ID on the command line"
	case o.from == "" && o.report != "":
		return "--report goes with --from"
	case o.dryRun && o.async:
		return "--dry-run and --async exclude each other"
	case o.concurrency < 1 || o.concurrency > ConcurrencyMax:
		return fmt.Sprintf("--concurrency must be between 1 and %d", ConcurrencyMax)
	case o.progressEvery < 1 || o.progressInterval <= 0:
		return "--progress-every and --progress-interval must be positive"
	}
	switch o.progress {
	case "auto", "bar", "lines", "none":
	default:
		return "--progress must be auto, bar, lines or none"
	}
	for _, p := range pos {
		if p == "" {
			return "an empty ID or SELECTOR"
		}
	}
	return ""
}

// purgeRequest is the DELETE (or, for a dry run, the GET of the plan) of
// one image.
func (o *purgeOptions) purgeRequest(id, sel string) request {
	req := request{method: http.MethodDelete, path: imagePath("", id, sel)}
	if o.dryRun {
		req = request{method: http.MethodGet, path: imagePath("/plan", id, sel)}
	}
	if o.datastore != "" {
		req.query = url.Values{"datastore": {o.datastore}}
	}
	if o.async {
		req.header = http.Header{"Prefer": {"respond-async"}}
	}
	return req
}

func purgeOne(ctx context.Context, cl *client, o *purgeOptions, id, sel string, env Env) int {
	r, err := cl.do(ctx, o.purgeRequest(id, sel))
	if err != nil {
		fmt.Fprintf(env.Stderr, "imgpurge purge: %v\n", err)
		return errExit(err)
	}
	if o.json {
		writeRaw(env.Stdout, r.raw)
		return r.exit()
	}
	switch {
	case r.status == http.StatusAccepted && r.ok():
		var d acceptedData
		_ = json.Unmarshal(r.data, &d)
		printAccepted(env.Stdout, id, sel, &d)
		return ExitOK
	case r.envelope && len(r.data) > 0 && string(r.data) != "null":
		var d purgeData
		if json.Unmarshal(r.data, &d) == nil && d.PurgeID != "" {
			printPurge(env.Stdout, r, &d)
			return r.exit()
		}
	}
	if r.ok() {
		fmt.Fprintf(env.Stdout, "purge of %s accepted by the server (HTTP %d)\n", id, r.status)
		return ExitOK
	}
	verdict := "refused"
	if r.status >= 500 {
		verdict = "failed"
	}
	fmt.Fprintf(env.Stderr, "imgpurge purge: %s: %s (tracking id %s)\n", verdict, r.problem(), r.trackingID)
	return r.exit()
}

func planOne(ctx context.Context, cl *client, o *purgeOptions, id, sel string, env Env) int {
	r, err := cl.do(ctx, o.purgeRequest(id, sel))
	if err != nil {
		fmt.Fprintf(env.Stderr, "imgpurge purge: %v\n", err)
		return errExit(err)
	}
	if o.json {
		writeRaw(env.Stdout, r.raw)
		return r.exit()
	}
	var d planData
	if !r.ok() || json.Unmarshal(r.data, &d) != nil {
		fmt.Fprintf(env.Stderr, "imgpurge purge: no plan: %s (tracking id %s)\n", r.problem(), r.trackingID)
		if r.ok() {
			return ExitFailed
		}
		return r.exit()
	}
	printPlan(env.Stdout, &d)
	return ExitOK
}

// writeRaw prints a body as it came, ending in one newline.
func writeRaw(w io.Writer, raw []byte) {
	_, _ = w.Write(raw)
	if len(raw) == 0 || raw[len(raw)-1] != '\n' {
		fmt.Fprintln(w)
	}
}
