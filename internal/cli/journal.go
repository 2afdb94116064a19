package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/google/uuid"
)

// DeadSinceDefault is how far back "imgpurge jobs" looks. A purge goes dead
// hours after it was made, and an operator may look days later, so the
// server's 24-hour default for listings is too short here.
const DeadSinceDefault = 30 * 24 * time.Hour

// journalFlags are the flags shared by the journal commands.
type journalFlags struct {
	conn connFlags
	json bool
}

func (j *journalFlags) register(c *command) {
	c.fs.BoolVar(&j.json, "json", false, "print the server's JSON envelope")
	j.conn.register(c.fs)
}

// parse parses the arguments and checks that npos purge ids were given.
// It returns them, or an exit code (>= 0) when it has already answered.
func (j *journalFlags) parse(c *command, name string, args []string, env Env, npos int) ([]string, int) {
	pos, err := c.parse(args)
	if err != nil {
		return nil, helpOr(err)
	}
	if len(pos) != npos {
		return nil, usageError(env.Stderr, name, "want %d argument(s), got %d", npos, len(pos))
	}
	for _, p := range pos {
		if _, err := uuid.Parse(p); err != nil || len(p) != 36 {
			return nil, usageError(env.Stderr, name, "%q is not a purge id (a UUID)", p)
		}
	}
	return pos, -1
}

// connect checks the server and credential settings and builds a client.
func (j *journalFlags) connect(ctx context.Context, name string, env Env) (*client, int) {
	if err := j.conn.resolve(env.Getenv); err != nil {
		return nil, usageError(env.Stderr, name, "%v", err)
	}
	return newClient(ctx, &j.conn, env, 1), -1
}

// call sends req and prints a failure; ok is false when it did.
func (j *journalFlags) call(ctx context.Context, cl *client, name string, req request,
	env Env) (*reply, int, bool) {
	r, err := cl.do(ctx, req)
	if err != nil {
		fmt.Fprintf(env.Stderr, "imgpurge %s: %v\n", name, err)
		return nil, errExit(err), false
	}
	if j.json {
		writeRaw(env.Stdout, r.raw)
	}
	if !r.ok() {
		if !j.json {
			fmt.Fprintf(env.Stderr, "imgpurge %s: %s (tracking id %s)\n", name, r.problem(), r.trackingID)
		}
		return nil, journalExit(r), false
	}
	return r, ExitOK, true
}

// journalExit is the exit code of a journal command's failed reply. A 404
// (no purge by that id that the caller may see) or a 400 (a filter the
// server refuses) is the caller's input, not a purge that is pending or
// failed: exit 1 would keep a script waiting on "status" polling forever.
func journalExit(r *reply) int {
	if r.status == http.StatusNotFound || r.status == http.StatusBadRequest {
		return ExitUsage
	}
	return r.exit()
}

// record runs a command about one purge: it parses args for the purge id,
// sends the request req builds for it and reads the purge it answers with.
// It returns the purge, or nil and the exit code when it has answered.
func (j *journalFlags) record(ctx context.Context, c *command, name string, args []string, env Env,
	req func(id string) request) (*purgeRecord, int) {
	pos, code := j.parse(c, name, args, env, 1)
	if code >= 0 {
		return nil, code
	}
	cl, code := j.connect(ctx, name, env)
	if code >= 0 {
		return nil, code
	}
	r, code, ok := j.call(ctx, cl, name, req(pos[0]), env)
	if !ok {
		return nil, code
	}
	var p purgeRecord
	if err := json.Unmarshal(r.data, &p); err != nil {
		fmt.Fprintf(env.Stderr, "imgpurge %s: unreadable answer: %v\n", name, err)
		return nil, ExitFailed
	}
	return &p, ExitOK
}

func statusCommand(ctx context.Context, args []string, env Env) int {
	c := newCommand("status", "status PURGE-ID [flags]",
		"Shows a purge and each layer's state, attempts and last error. Exits 0 when\n"+
			"the purge has succeeded, 1 while it is pending or running or after it\n"+
			"failed or went dead, so a script can wait on it; 2 when the server knows\n"+
			"no such purge (or it is another tenant's).\n",
		"  imgpurge status 0193a0e0-5b1c-7d2e-8f00-1234567890ab\n", env.Stderr)
	var j journalFlags
	j.register(c)
	p, code := j.record(ctx, c, "status", args, env, func(id string) request {
		return request{method: http.MethodGet, path: "/purges/" + id}
	})
	if p == nil {
		return code
	}
	if !j.json {
		printRecord(env.Stdout, p)
	}
	if p.State != "succeeded" {
		return ExitFailed
	}
	return ExitOK
}

func retryCommand(ctx context.Context, args []string, env Env) int {
	c := newCommand("retry", "retry PURGE-ID [flags]",
		"Runs a dead (or failed) purge again from where it stopped: the journal\n"+
			"takes it up with a fresh set of attempts. A purge that is not dead is\n"+
			"left as it is.\n",
		"  imgpurge jobs --dead\n  imgpurge retry 0193a0e0-5b1c-7d2e-8f00-1234567890ab\n", env.Stderr)
	var j journalFlags
	j.register(c)
	p, code := j.record(ctx, c, "retry", args, env, func(id string) request {
		return request{method: http.MethodPost, path: "/purges/" + id + "/retry"}
	})
	if p == nil {
		return code
	}
	if !j.json {
		fmt.Fprintf(env.Stdout, "Purge %s is %s; follow it with: imgpurge status %s\n", p.ID, p.State, p.ID)
	}
	return ExitOK
}

// listFlags are the filters of GET /purges.
type listFlags struct {
	journalFlags
	image, since, state, datastore string
	limit                          int
}

func (l *listFlags) register(c *command, since string) {
	c.fs.StringVar(&l.image, "image", "", "only purges of this image id")
	c.fs.StringVar(&l.since, "since", since, "how far back: a duration (24h) or an RFC 3339 time")
	c.fs.StringVar(&l.datastore, "datastore", "", "only this datastore")
	c.fs.IntVar(&l.limit, "limit", 100, "at most this many purges, newest first (1 to 1000)")
	l.journalFlags.register(c)
}

// parse parses the arguments, which name no purge, and checks --limit. It
// returns an exit code (>= 0) when it has already answered.
func (l *listFlags) parse(c *command, name string, args []string, env Env) int {
	if _, code := l.journalFlags.parse(c, name, args, env, 0); code >= 0 {
		return code
	}
	if l.limit < 1 || l.limit > 1000 {
		return usageError(env.Stderr, name, "--limit must be between 1 and 1000")
	}
	return -1
}

func (l *listFlags) query() url.Values {
	q := url.Values{"limit": {strconv.Itoa(l.limit)}}
	for k, v := range map[string]string{"image": l.image, "since": l.since, "state": l.state, "datastore": l.datastore} {
		if v != "" {
			q.Set(k, v)
		}
	}
	return q
}

func (l *listFlags) list(ctx context.Context, name string, env Env) int {
	cl, code := l.connect(ctx, name, env)
	if code >= 0 {
		return code
	}
	req := request{method: http.MethodGet, path: "/purges", query: l.query()}
	r, code, ok := l.call(ctx, cl, name, req, env)
	if !ok || l.json {
		return code
	}
	var pl purgeList
	if err := json.Unmarshal(r.data, &pl); err != nil {
		fmt.Fprintf(env.Stderr, "imgpurge %s: unreadable answer: %v\n", name, err)
		return ExitFailed
	}
	printList(env.Stdout, pl.Purges)
	return ExitOK
}

func purgesCommand(ctx context.Context, args []string, env Env) int {
	c := newCommand("purges", "purges [--image ID] [--since D] [--state S] [--datastore D] [flags]",
		"Lists recent purges, newest first: the audit trail of who purged what and\n"+
			"how each purge ended. States: pending, running, succeeded, failed, dead.\n"+
			"Without --since the server shows the last 24 hours.\n",
		"  imgpurge purges --image 1e8a9135-5976-4de8-9c27-64cc33bf9baa --since 72h\n", env.Stderr)
	var l listFlags
	c.fs.StringVar(&l.state, "state", "", "only purges in this state")
	l.register(c, "")
	if code := l.parse(c, "purges", args, env); code >= 0 {
		return code
	}
	return l.list(ctx, "purges", env)
}

func jobsCommand(ctx context.Context, args []string, env Env) int {
	c := newCommand("jobs", "jobs --dead [flags]",
		"Lists the journal's purges in one state; --dead lists those whose\n"+
			"attempts ran out, kept for an operator to look at and retry. It looks\n"+
			"back 30 days unless --since says otherwise.\n",
		"  imgpurge jobs --dead\n  imgpurge jobs --state pending --since 2h\n", env.Stderr)
	var l listFlags
	dead := c.fs.Bool("dead", false, "list dead purges (the same as --state dead)")
	c.fs.StringVar(&l.state, "state", "", "list purges in this state: pending, running, failed or dead")
	l.register(c, DeadSinceDefault.String())
	if code := l.parse(c, "jobs", args, env); code >= 0 {
		return code
	}
	switch {
	case *dead && l.state != "" && l.state != "dead":
		return usageError(env.Stderr, "jobs", "--dead and --state %s contradict each other", l.state)
	case *dead:
		l.state = "dead"
	case l.state == "":
		return usageError(env.Stderr, "jobs", "say which jobs: --dead or --state S")
	}
	return l.list(ctx, "jobs", env)
}

func printRecord(w io.Writer, p *purgeRecord) {
	fmt.Fprintf(w, "Purge %s: %s after %d %s\n", p.ID, p.State, p.Attempts, plural(p.Attempts, "attempt", "attempts"))
	fmt.Fprintf(w, "  image %s, selector %s, datastore %s\n", p.ImageID, selectorText(p.Selector), p.Datastore)
	fmt.Fprintf(w, "  by %s, tracking id %s\n", p.Subject, p.TrackingID)
	fmt.Fprintf(w, "  created %s, updated %s\n", p.CreatedAt.Format(time.RFC3339), p.UpdatedAt.Format(time.RFC3339))
	tw := table(w)
	fmt.Fprintln(tw, "  LAYER\tPROVIDER\tTIER\tSTATE\tITEMS\tLEFT\tATTEMPTS\tERROR")
	for _, l := range p.Layers {
		errText := "-"
		if l.ErrorCode != "" {
			errText = l.ErrorCode
			if l.ErrorMessage != "" {
				errText += ": " + l.ErrorMessage
			}
		}
		fmt.Fprintf(tw, "  %s\t%s\t%d\t%s\t%d\t%d\t%d\t%s\n",
			l.Layer, l.Provider, l.Tier, l.State, l.Items, len(l.Remaining), l.Attempts, errText)
	}
	_ = tw.Flush()
}

func printList(w io.Writer, ps []purgeRecord) {
	if len(ps) == 0 {
		fmt.Fprintln(w, "No purges match.")
		return
	}
	tw := table(w)
	fmt.Fprintln(tw, "PURGE\tCREATED\tSTATE\tDATASTORE\tIMAGE\tSELECTOR\tLAYERS OK\tATTEMPTS")
	for _, p := range ps {
		ok := 0
		for _, l := range p.Layers {
			if l.State == "succeeded" {
				ok++
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d/%d\t%d\n", p.ID, p.CreatedAt.Format(time.RFC3339),
			p.State, p.Datastore, p.ImageID, selectorText(p.Selector), ok, len(p.Layers), p.Attempts)
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "%d %s\n", len(ps), plural(len(ps), "purge", "purges"))
}
