// Package journal makes sure no purge is forgotten. A purge that did not
// complete during its request is written, with its fixed plan, to a durable
// queue (River, on SQLite by default or PostgreSQL for several replicas) and
// retried tier by tier until it succeeds or is kept as dead for an
// operator. Every purge, complete or not, is also recorded for audit.
package journal

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"

	"github.com/imgpurge/imgpurge/internal/config"
	"github.com/imgpurge/imgpurge/internal/purge"
)

// Resolver finds a configured datastore by name.
type Resolver func(name string) *purge.Datastore

// Journal is the durable record and retry queue of purges.
type Journal struct {
	cfg     config.Journal
	st      *store
	client  *river.Client[*sql.Tx]
	resolve Resolver
	orch    *purge.Orchestrator
	log     *slog.Logger

	audit     chan *Purge
	stopAudit chan struct{}
	auditDone chan struct{}
	// retryAfter carries a provider's Retry-After from a failed attempt to
	// the NextRetry call River makes right after it, in the same process.
	retryAfter sync.Map

	started  bool
	stopOnce sync.Once
	stopErr  error

	// Completed, when set, is told the time from a journaled purge's
	// request to its last layer succeeding.
	Completed func(time.Duration)

	// open counts this process's unfinished purges by image and selector,
	// so a request for an image with none asks the database nothing. On
	// SQLite this process is the only writer, so the count is complete.
	openMu sync.Mutex
	open   map[string]int
}

// PendingRenditions returns the renditions that unfinished purges of the
// same image and selector still cover. A new request adds them to its own
// plan: their derivatives may already be gone, so the listing no longer
// shows them, while caches may still hold them.
func (j *Journal) PendingRenditions(ctx context.Context, datastore, imageID, selector string) []string {
	if !j.st.postgres {
		j.openMu.Lock()
		n := j.open[openKey(datastore, imageID, selector)]
		j.openMu.Unlock()
		if n == 0 {
			return nil
		}
	}
	names, err := j.st.openRenditions(ctx, datastore, imageID, selector)
	if err != nil {
		j.log.LogAttrs(ctx, slog.LevelError, "journal query failed", slog.String("error", err.Error()))
		return nil
	}
	return names
}

// track adjusts the count of unfinished purges of p's image and selector.
func (j *Journal) track(p *Purge, delta int) {
	j.openMu.Lock()
	defer j.openMu.Unlock()
	k := openKey(p.Datastore, p.ImageID, p.Selector)
	if j.open[k] += delta; j.open[k] <= 0 {
		delete(j.open, k)
	}
}

// Stats reports the journal's depth, for metrics.
func (j *Journal) Stats(ctx context.Context) (Stats, error) { return j.st.stats(ctx) }

// Open connects to the journal database, applies River's migrations and
// imgpurge's own, and prepares the worker. Call Start to begin work.
func Open(ctx context.Context, cfg config.Journal, dataDir string, resolve Resolver,
	orch *purge.Orchestrator, logger *slog.Logger) (*Journal, error) {
	st, err := openDB(cfg.DatabaseURL.Reveal(), dataDir)
	if err != nil {
		return nil, fmt.Errorf("journal.database_url: %w", err)
	}
	logger.Info("journal database", slog.String("backend", st.describe()))
	j := &Journal{cfg: cfg, st: st, resolve: resolve, orch: orch, log: logger,
		audit: make(chan *Purge, 4096), stopAudit: make(chan struct{}), auditDone: make(chan struct{})}
	if err := j.init(ctx); err != nil {
		_ = st.db.Close()
		return nil, err
	}
	return j, nil
}

func (j *Journal) init(ctx context.Context) error {
	var driver riverdriver.Driver[*sql.Tx]
	if j.st.postgres {
		driver = riverdatabasesql.New(j.st.db)
	} else {
		driver = riversqlite.New(j.st.db)
	}
	unlock, err := j.st.lockMigrations(ctx)
	if err != nil {
		return fmt.Errorf("journal.database_url: %w", err)
	}
	defer unlock()
	migrator, err := rivermigrate.New(driver, nil)
	if err != nil {
		return err
	}
	if _, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("journal migrations: %w", err)
	}
	if err := j.st.migrate(ctx); err != nil {
		return err
	}
	if j.open, err = j.st.openKeys(ctx); err != nil {
		return err
	}

	workers := river.NewWorkers()
	river.AddWorker(workers, &worker{j: j})
	j.client, err = river.NewClient(driver, &river.Config{
		Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: j.cfg.Workers}},
		Workers:           workers,
		FetchPollInterval: j.cfg.PollInterval.D(),
		// A short cooldown lets a backlog drain at the workers' pace
		// rather than one fetch of jobs per 100 ms.
		FetchCooldown: min(j.cfg.PollInterval.D(), 20*time.Millisecond),
		JobTimeout:    j.cfg.JobTimeout.D(),
		// A replica killed mid-attempt leaves its job running; another
		// replica, or this one restarted, takes it over after this long.
		RescueStuckJobsAfter: max(j.cfg.RescueAfter.D(), j.cfg.JobTimeout.D()+time.Second),
		MaxAttempts:          j.cfg.MaxAttempts,
		// Purge steps are idempotent; a crash may repeat the tier that was
		// running, never skip one.
		PollOnly: true,
		Logger:   j.log.With(slog.String("component", "river")),
	})
	return err
}

// Start begins working journaled purges and writing audit records.
func (j *Journal) Start(ctx context.Context) error {
	j.started = true
	go j.flushAudit()
	return j.client.Start(ctx)
}

// Stop waits for running attempts to finish or ctx to end, writes the audit
// records still buffered and closes the database. An attempt cut short is
// taken up again by the next start or by another replica.
func (j *Journal) Stop(ctx context.Context) error {
	j.stopOnce.Do(func() {
		err := j.client.Stop(ctx)
		if errors.Is(err, context.DeadlineExceeded) {
			err = j.client.StopAndCancel(context.WithoutCancel(ctx))
		}
		close(j.stopAudit)
		if j.started {
			<-j.auditDone
		}
		j.stopErr = errors.Join(err, j.st.db.Close())
	})
	return j.stopErr
}

// Ready reports whether the database answers.
func (j *Journal) Ready(ctx context.Context) error { return j.st.db.PingContext(ctx) }

// Record durably stores what outcome left undone and queues it. An
// identical purge still pending absorbs it instead; its id is returned. A
// provider that answered with Retry-After is not tried again before it has
// passed: the first attempt is scheduled after the longest one (case C8).
func (j *Journal) Record(ctx context.Context, out *purge.Outcome) (string, error) {
	if open := j.joinable(ctx, out.Plan); open != nil {
		return open.ID, nil
	}
	_, wait := outcomeError(out)
	return j.insert(ctx, recordOf(out, StatePending), wait)
}

// Enqueue stores a planned purge without running it, for asynchronous
// requests. It reports whether an identical pending purge was joined.
func (j *Journal) Enqueue(ctx context.Context, plan *purge.Plan) (string, bool, error) {
	if open := j.joinable(ctx, plan); open != nil {
		return open.ID, true, nil
	}
	id, err := j.insert(ctx, recordOf(&purge.Outcome{Plan: plan, Layers: pendingLayers(plan)}, StatePending), 0)
	return id, false, err
}

// joinable returns a pending purge of the same image and selector whose
// plan covers every rendition of plan, or nil.
func (j *Journal) joinable(ctx context.Context, plan *purge.Plan) *Purge {
	open, err := j.st.findOpen(ctx, plan.Datastore, plan.ImageID, plan.Selector)
	if err != nil || open == nil {
		return nil
	}
	have := map[string]bool{}
	for _, r := range open.Plan.Target.Renditions {
		have[r] = true
	}
	for _, r := range plan.Target.Renditions {
		if !have[r] {
			return nil
		}
	}
	return open
}

// insert stores p and queues its job to run no sooner than wait from now.
func (j *Journal) insert(ctx context.Context, p *Purge, wait time.Duration) (string, error) {
	tx, err := j.st.db.BeginTx(ctx, nil)
	if err != nil {
		return "", err
	}
	defer func() { _ = tx.Rollback() }()
	if err := j.st.insert(ctx, tx, p); err != nil {
		return "", err
	}
	opts := &river.InsertOpts{MaxAttempts: j.cfg.MaxAttempts}
	if wait > 0 {
		// A scheduled job becomes available when River's scheduler next
		// looks, every few seconds: later than asked, never sooner.
		opts.ScheduledAt = time.Now().Add(wait)
	}
	res, err := j.client.InsertTx(ctx, tx, Args{PurgeID: p.ID}, opts)
	if err != nil {
		return "", err
	}
	if err := j.st.setJob(ctx, tx, p.ID, res.Job.ID); err != nil {
		return "", err
	}
	if err := tx.Commit(); err != nil {
		return "", err
	}
	j.track(p, 1)
	return p.ID, nil
}

// Audit records a purge that completed within its request. It does not
// wait for the database: records are written in batches shortly after.
func (j *Journal) Audit(out *purge.Outcome) {
	p := recordOf(out, StateSucceeded)
	select {
	case j.audit <- p:
	default:
		// The buffer is full: write this one now rather than drop it.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		j.writeAudit(ctx, []*Purge{p})
	}
}

func (j *Journal) flushAudit() {
	defer close(j.auditDone)
	tick := time.NewTicker(j.cfg.AuditFlushInterval.D())
	defer tick.Stop()
	var batch []*Purge
	flush := func() {
		if len(batch) > 0 {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			j.writeAudit(ctx, batch)
			cancel()
			batch = batch[:0]
		}
	}
	for {
		select {
		case p := <-j.audit:
			if batch = append(batch, p); len(batch) >= 500 {
				flush()
			}
		case <-tick.C:
			flush()
		case <-j.stopAudit:
			for {
				select {
				case p := <-j.audit:
					batch = append(batch, p)
				default:
					flush()
					return
				}
			}
		}
	}
}

func (j *Journal) writeAudit(ctx context.Context, batch []*Purge) {
	err := func() error {
		tx, err := j.st.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer func() { _ = tx.Rollback() }()
		if err := j.st.insertMany(ctx, tx, batch); err != nil {
			return err
		}
		return tx.Commit()
	}()
	if err != nil {
		j.log.LogAttrs(ctx, slog.LevelError, "audit write failed",
			slog.Int("records", len(batch)), slog.String("error", err.Error()))
	}
}

// Get returns a recorded purge.
func (j *Journal) Get(ctx context.Context, id string) (*Purge, error) { return j.st.get(ctx, id) }

// List returns recorded purges, newest first.
func (j *Journal) List(ctx context.Context, q Query) ([]*Purge, error) {
	if q.Limit <= 0 || q.Limit > 1000 {
		q.Limit = 100
	}
	return j.st.list(ctx, q)
}

// Retry makes a dead purge run again from where it stopped.
func (j *Journal) Retry(ctx context.Context, id string) (*Purge, error) {
	p, err := j.st.get(ctx, id)
	if err != nil {
		return nil, err
	}
	if p.State != StateDead && p.State != StateFailed {
		return p, nil
	}
	job, err := j.client.JobGet(ctx, p.JobID)
	if err != nil {
		return nil, err
	}
	if job.State == rivertype.JobStateRunning {
		// Its last attempt is still being recorded; a retry now would be lost.
		return nil, ErrBusy
	}
	if _, err := j.client.JobRetry(ctx, p.JobID); err != nil {
		return nil, err
	}
	if p.State == StateDead {
		j.track(p, 1)
	}
	p.State, p.UpdatedAt = StatePending, time.Now().UTC()
	for i := range p.Layers {
		if p.Layers[i].State == StateDead {
			p.Layers[i].State = StatePending
		}
	}
	return p, j.st.update(ctx, p)
}

func recordOf(out *purge.Outcome, state string) *Purge {
	plan, now := out.Plan, time.Now().UTC()
	p := &Purge{
		ID: plan.ID, Datastore: plan.Datastore, ImageID: plan.ImageID, Selector: plan.Selector,
		Subject: plan.Subject, TrackingID: plan.TrackingID, State: state, Attempts: 1,
		CreatedAt: plan.Created, UpdatedAt: now, Plan: plan,
	}
	if p.CreatedAt.IsZero() {
		p.CreatedAt = now
	}
	for _, l := range out.Layers {
		p.Layers = append(p.Layers, layerState(l, now))
	}
	return p
}

func layerState(l purge.LayerOutcome, now time.Time) LayerState {
	ls := LayerState{Layer: l.Layer, Provider: l.Kind, Tier: l.Tier, State: string(l.Status),
		Items: l.Items, Attempts: l.Attempts, UpdatedAt: now, Detail: l.Detail}
	if l.Status != purge.StatusSucceeded {
		ls.Remaining = l.Remaining
	}
	if l.Err != nil {
		ls.ErrorCode, ls.ErrorMessage = l.Err.Code, l.Err.Message
	}
	return ls
}

func pendingLayers(plan *purge.Plan) []purge.LayerOutcome {
	out := make([]purge.LayerOutcome, len(plan.Steps))
	for i, s := range plan.Steps {
		out[i] = purge.LayerOutcome{Layer: s.Layer, Kind: s.Kind, Tier: s.Tier,
			Status: purge.StatusPending, Items: len(s.Items), Remaining: s.Items}
	}
	return out
}
