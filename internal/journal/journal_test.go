package journal_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/imgpurge/imgpurge/internal/config"
	"github.com/imgpurge/imgpurge/internal/journal"
	"github.com/imgpurge/imgpurge/internal/purge"
	"github.com/imgpurge/imgpurge/internal/selector"
	"github.com/imgpurge/imgpurge/internal/testenv"
)

// layer is a provider whose answers a test scripts; it records every call.
type layer struct {
	mu    sync.Mutex
	calls [][]string
	fail  func(n int) error // nil error: success; n counts calls from 1
}

func (l *layer) Plan(t purge.Target) ([]string, error) { return t.Renditions, nil }

func (l *layer) Purge(_ context.Context, items []string) (purge.Result, error) {
	l.mu.Lock()
	l.calls = append(l.calls, items)
	n := len(l.calls)
	l.mu.Unlock()
	if l.fail != nil {
		if err := l.fail(n); err != nil {
			return purge.Result{}, err
		}
	}
	return purge.Result{}, nil
}

func (l *layer) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.calls)
}

func failFirst(k int, code string) func(int) error {
	return func(n int) error {
		if n <= k {
			return &purge.Error{Code: code, Retryable: true}
		}
		return nil
	}
}

type bundle struct {
	dir   string
	ds    *purge.Datastore
	store *layer
	edge  *layer
	orch  *purge.Orchestrator
	cfg   config.Journal
}

func setup(t testing.TB) *bundle {
	t.Helper()
	b := &bundle{dir: t.TempDir(), store: &layer{}, edge: &layer{}}
	b.ds = &purge.Datastore{Name: "media", Layers: []purge.Layer{
		{Name: "s3", Kind: "s3", Tier: 0, Provider: b.store},
		{Name: "cloudfront", Kind: "cloudfront", Tier: 2, Provider: b.edge},
	}}
	// One attempt per layer per job run keeps call counts exact.
	b.orch = &purge.Orchestrator{Retry: purge.RetryPolicy{MaxAttempts: 1}, Logger: quiet()}
	b.cfg = config.Journal{MaxAttempts: 4, RetryBase: config.Duration(20 * time.Millisecond),
		RetryMax: config.Duration(50 * time.Millisecond), JobTimeout: config.Duration(5 * time.Second),
		Workers: 2, PollInterval: config.Duration(20 * time.Millisecond),
		AuditFlushInterval: config.Duration(10 * time.Millisecond)}
	return b
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func (b *bundle) open(t testing.TB) *journal.Journal {
	t.Helper()
	resolve := func(name string) *purge.Datastore {
		if name == b.ds.Name {
			return b.ds
		}
		return nil
	}
	j, err := journal.Open(context.Background(), b.cfg, b.dir, resolve, b.orch, quiet())
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if err := j.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = j.Stop(context.Background()) })
	return j
}

func (b *bundle) plan(t testing.TB, id string, renditions ...string) *purge.Plan {
	t.Helper()
	sel, _ := selector.Parse("*")
	p, err := purge.NewPlan(context.Background(), id, b.ds, "1e8a9135-5976-4de8-9c27-64cc33bf9baa", sel)
	if err != nil {
		t.Fatal(err)
	}
	p.Target.Renditions = renditions
	for i := range p.Steps {
		p.Steps[i].Items = renditions
	}
	p.Subject, p.TrackingID = "cms", "trk-0001"
	return p
}

// waitState polls the record until it reaches state; the journal's own
// workers are what moves it.
func waitState(t *testing.T, j *journal.Journal, id, state string) *journal.Purge {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		p, err := j.Get(context.Background(), id)
		if err == nil && p.State == state {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("purge %s: state %v, want %s (err %v)", id, stateOf(p), state, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func stateOf(p *journal.Purge) any {
	if p == nil {
		return nil
	}
	return p.State
}

func TestRecordRetriesUntilDone(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.edge.fail = failFirst(2, "TooManyInvalidationsInProgress")
	j := b.open(t)

	// The request already purged s3; only the edge is left.
	out := b.orch.Execute(context.Background(), b.ds, b.plan(t, "0193a0e0-0000-7000-8000-000000000001", "a.jpg"))
	if out.OK() {
		t.Fatal("the first edge call should fail")
	}
	id, err := j.Record(context.Background(), out)
	if err != nil || id != out.Plan.ID {
		t.Fatalf("Record = %q, %v", id, err)
	}
	p := waitState(t, j, id, journal.StateSucceeded)
	if b.store.count() != 1 {
		t.Errorf("s3 called %d times; it succeeded during the request and must not run again", b.store.count())
	}
	if b.edge.count() != 3 {
		t.Errorf("edge called %d times, want 3 (request + 2 journal attempts)", b.edge.count())
	}
	for _, l := range p.Layers {
		if l.State != journal.StateSucceeded {
			t.Errorf("layer %s state %s", l.Layer, l.State)
		}
	}
	if p.TrackingID != "trk-0001" || p.Subject != "cms" {
		t.Errorf("audit fields lost: %+v", p)
	}
}

// TestRecordWaitsOutRetryAfter: a provider that asked, with Retry-After,
// for a pause is not called again by the journal before the pause is over
// (case C8), though the journal's own backoff is shorter.
func TestRecordWaitsOutRetryAfter(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var retried atomic.Int64
	b.edge.fail = func(n int) error {
		if n == 1 {
			return &purge.Error{Code: "HTTP429", Retryable: true, RetryAfter: time.Second}
		}
		retried.Store(time.Now().UnixNano())
		return nil
	}
	j := b.open(t)
	plan := b.plan(t, "0193a0e0-0000-7000-8000-000000000020", "a.jpg")
	out := b.orch.Execute(context.Background(), b.ds, plan)
	recorded := time.Now()
	id, err := j.Record(context.Background(), out)
	if err != nil {
		t.Fatal(err)
	}
	waitState(t, j, id, journal.StateSucceeded)
	if gap := time.Unix(0, retried.Load()).Sub(recorded); gap < time.Second {
		t.Fatalf("the journal called the provider again %s after a Retry-After of 1s", gap)
	}
}

func TestTierOrderHoldsInJournal(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.store.fail = failFirst(2, "SlowDown")
	j := b.open(t)
	out := b.orch.Execute(context.Background(), b.ds, b.plan(t, "0193a0e0-0000-7000-8000-000000000002", "a.jpg"))
	if b.edge.count() != 0 {
		t.Fatal("edge ran after s3 failed during the request")
	}
	id, _ := j.Record(context.Background(), out)
	// s3 fails again on the first journal attempt: the edge must still wait.
	waitState(t, j, id, journal.StateSucceeded)
	if b.store.count() != 3 || b.edge.count() != 1 {
		t.Fatalf("calls: s3 %d (want 3), edge %d (want 1)", b.store.count(), b.edge.count())
	}
}

func TestDeadAfterLastAttemptThenRetry(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var broken atomic.Bool
	broken.Store(true)
	b.edge.fail = func(int) error {
		if broken.Load() {
			return &purge.Error{Code: "AccessDenied"}
		}
		return nil
	}
	j := b.open(t)
	out := b.orch.Execute(context.Background(), b.ds, b.plan(t, "0193a0e0-0000-7000-8000-000000000003", "a.jpg"))
	id, _ := j.Record(context.Background(), out)
	p := waitState(t, j, id, journal.StateDead)
	if p.Layers[1].State != journal.StateDead || p.Layers[1].ErrorCode != "AccessDenied" {
		t.Fatalf("edge layer = %+v", p.Layers[1])
	}
	if n := b.edge.count(); n != 1+b.cfg.MaxAttempts {
		t.Errorf("edge called %d times, want %d", n, 1+b.cfg.MaxAttempts)
	}
	dead, _ := j.List(context.Background(), journal.Query{Datastores: []string{"media"}, State: journal.StateDead})
	if len(dead) != 1 || dead[0].ID != id {
		t.Fatalf("dead list = %v", dead)
	}

	broken.Store(false)
	retry(t, j, id)
	waitState(t, j, id, journal.StateSucceeded)
}

func TestSurvivesRestart(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var down atomic.Bool
	down.Store(true)
	b.edge.fail = func(int) error {
		if down.Load() {
			return &purge.Error{Code: "ServiceUnavailable", Retryable: true}
		}
		return nil
	}
	b.cfg.RetryBase, b.cfg.RetryMax = config.Duration(time.Hour), config.Duration(time.Hour)
	j := b.open(t)
	out := b.orch.Execute(context.Background(), b.ds, b.plan(t, "0193a0e0-0000-7000-8000-000000000004", "a.jpg", "b.jpg"))
	id, _ := j.Record(context.Background(), out)
	if err := j.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}

	// A new process on the same file; the provider is back. The job waits
	// for its scheduled retry, so make it due now through the operator path.
	down.Store(false)
	b.cfg.RetryBase, b.cfg.RetryMax = config.Duration(time.Millisecond), config.Duration(time.Millisecond)
	j2 := b.open(t)
	waitOrRetry(t, j2, id)
	last := b.edge.calls[len(b.edge.calls)-1]
	if !slices.Equal(last, []string{"a.jpg", "b.jpg"}) {
		t.Errorf("journal replayed %v, want the planned items", last)
	}
}

// waitOrRetry makes a purge whose retry is scheduled far ahead due now.
func waitOrRetry(t *testing.T, j *journal.Journal, id string) {
	t.Helper()
	p, err := j.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if p.State != journal.StateSucceeded {
		retry(t, j, id)
	}
	waitState(t, j, id, journal.StateSucceeded)
}

func TestIdenticalPendingPurgeIsJoined(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.cfg.RetryBase, b.cfg.RetryMax = config.Duration(time.Hour), config.Duration(time.Hour)
	b.edge.fail = failFirst(100, "Throttling")
	j := b.open(t)
	first, _, err := j.Enqueue(context.Background(), b.plan(t, "0193a0e0-0000-7000-8000-000000000005", "a.jpg", "b.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	second, joined, err := j.Enqueue(context.Background(), b.plan(t, "0193a0e0-0000-7000-8000-000000000006", "a.jpg"))
	if err != nil || !joined || second != first {
		t.Fatalf("second enqueue = %q joined=%v err=%v; want it to join %q", second, joined, err, first)
	}
	third, joined, _ := j.Enqueue(context.Background(), b.plan(t, "0193a0e0-0000-7000-8000-000000000007", "a.jpg", "c.jpg"))
	if joined || third == first {
		t.Fatal("a purge with a rendition the pending one lacks was joined")
	}
}

func TestAuditIsWrittenInBatches(t *testing.T) {
	t.Parallel()
	b := setup(t)
	j := b.open(t)
	ids := []string{"0193a0e0-0000-7000-8000-000000000010", "0193a0e0-0000-7000-8000-000000000011"}
	for _, id := range ids {
		out := b.orch.Execute(context.Background(), b.ds, b.plan(t, id, "a.jpg"))
		j.Audit(out)
	}
	if err := j.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	j2 := b.open(t)
	got, err := j2.List(context.Background(), journal.Query{Datastores: []string{"media"},
		ImageID: "1e8a9135-5976-4de8-9c27-64cc33bf9baa", Since: time.Now().Add(-time.Minute)})
	if err != nil || len(got) != 2 {
		t.Fatalf("List = %d records, %v", len(got), err)
	}
	for _, p := range got {
		if p.State != journal.StateSucceeded || p.Subject != "cms" || len(p.Layers) != 2 {
			t.Errorf("record %+v", p)
		}
	}
}

// retry asks for a retry, waiting while the last attempt is still running.
func retry(t *testing.T, j *journal.Journal, id string) {
	t.Helper()
	for range 500 {
		_, err := j.Retry(context.Background(), id)
		if !errors.Is(err, journal.ErrBusy) {
			if err != nil {
				t.Fatal(err)
			}
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("the purge's attempt never finished")
}

// TestOnPostgres runs the journal's main path on PostgreSQL, the store
// several replicas share.
func TestOnPostgres(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.cfg.DatabaseURL = config.NewSecret(testenv.Postgres(t))
	b.edge.fail = failFirst(1, "Throttling")
	j := b.open(t)
	out := b.orch.Execute(context.Background(), b.ds, b.plan(t, "0193a0e0-0000-7000-8000-000000000020", "a.jpg"))
	id, err := j.Record(context.Background(), out)
	if err != nil {
		t.Fatal(err)
	}
	waitState(t, j, id, journal.StateSucceeded)
	j.Audit(b.orch.Execute(context.Background(), b.ds, b.plan(t, "0193a0e0-0000-7000-8000-000000000021", "b.jpg")))
	if err := j.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	j2 := b.open(t)
	got, err := j2.List(context.Background(), journal.Query{Datastores: []string{"media"}, Since: time.Now().Add(-time.Hour)})
	if err != nil || len(got) != 2 {
		t.Fatalf("List = %d, %v", len(got), err)
	}
}

func TestUnknownDatabaseSchemeIsRefused(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.cfg.DatabaseURL = config.NewSecret("postgress://u:s3cretpw@127.0.0.1/x")
	_, err := journal.Open(context.Background(), b.cfg, b.dir, nil, b.orch, quiet())
	if err == nil || !strings.Contains(err.Error(), "journal.database_url") || strings.Contains(err.Error(), "s3cretpw") {
		t.Fatalf("err = %v", err)
	}
}
