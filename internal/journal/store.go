package journal

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	neturl "net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	_ "modernc.org/sqlite"             // database/sql driver "sqlite", pure Go

	"github.com/imgpurge/imgpurge/internal/purge"
)

// Purge states.
const (
	StatePending   = "pending"
	StateRunning   = "running"
	StateSucceeded = "succeeded"
	StateFailed    = "failed"
	StateDead      = "dead"
)

// ErrNotFound is returned for an unknown purge id.
var ErrNotFound = errors.New("purge not found")

// ErrBusy is returned when a purge cannot be retried because an attempt of
// it is still running.
var ErrBusy = errors.New("an attempt of this purge is still running")

// LayerState is one layer's state within a recorded purge.
type LayerState struct {
	Layer        string         `json:"layer"`
	Provider     string         `json:"provider"`
	Tier         int            `json:"tier"`
	State        string         `json:"state"`
	Items        int            `json:"items"`
	Remaining    []string       `json:"remaining,omitempty"`
	Attempts     int            `json:"attempts"`
	ErrorCode    string         `json:"error_code,omitempty"`
	ErrorMessage string         `json:"error_message,omitempty"`
	UpdatedAt    time.Time      `json:"updated_at"`
	Detail       map[string]any `json:"detail,omitempty"`
}

// Purge is the durable record of one purge: its audit entry and, while it
// is unfinished, its journal state.
type Purge struct {
	ID         string       `json:"id"`
	Datastore  string       `json:"datastore"`
	ImageID    string       `json:"image_id"`
	Selector   string       `json:"selector"`
	Subject    string       `json:"subject"`
	TrackingID string       `json:"tracking_id"`
	State      string       `json:"state"`
	Attempts   int          `json:"attempts"`
	CreatedAt  time.Time    `json:"created_at"`
	UpdatedAt  time.Time    `json:"updated_at"`
	Layers     []LayerState `json:"layers"`
	JobID      int64        `json:"-"`
	Plan       *purge.Plan  `json:"-"`
}

// store is imgpurge's own tables beside River's, in SQLite or PostgreSQL.
type store struct {
	db       *sql.DB
	postgres bool
	// where names the database for logs, without credentials.
	where string
}

func (s *store) describe() string {
	if s.postgres {
		return "postgres " + s.where
	}
	return "sqlite " + s.where
}

const schema = `
CREATE TABLE IF NOT EXISTS imgpurge_purge (
	id          TEXT PRIMARY KEY,
	datastore   TEXT NOT NULL,
	image_id    TEXT NOT NULL,
	selector    TEXT NOT NULL,
	subject     TEXT NOT NULL,
	tracking_id TEXT NOT NULL,
	state       TEXT NOT NULL,
	attempts    INTEGER NOT NULL DEFAULT 0,
	created_at  BIGINT NOT NULL,
	updated_at  BIGINT NOT NULL,
	job_id      BIGINT,
	plan        TEXT NOT NULL,
	layers      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS imgpurge_purge_image ON imgpurge_purge (datastore, image_id, created_at);
CREATE INDEX IF NOT EXISTS imgpurge_purge_created ON imgpurge_purge (created_at);
CREATE INDEX IF NOT EXISTS imgpurge_purge_state ON imgpurge_purge (state, datastore, image_id, selector);
`

// openDB opens the journal database named by url: "" or a path or
// sqlite:// URL for SQLite, postgres:// for PostgreSQL.
func openDB(url, dataDir string) (*store, error) {
	if scheme, _, ok := strings.Cut(url, "://"); ok && scheme != "postgres" && scheme != "postgresql" &&
		scheme != "sqlite" {
		// A mistyped scheme would otherwise become a file name.
		return nil, fmt.Errorf("scheme %q is neither postgres:// nor sqlite://", scheme)
	}
	if strings.HasPrefix(url, "postgres://") || strings.HasPrefix(url, "postgresql://") {
		db, err := sql.Open("pgx", url)
		if err != nil {
			return nil, err
		}
		db.SetMaxOpenConns(20)
		where := "(unparsable URL)"
		if u, err := neturl.Parse(url); err == nil {
			u.User = nil
			where = u.Redacted()
		}
		return &store{db: db, postgres: true, where: where}, nil
	}
	path := strings.TrimPrefix(url, "sqlite://")
	if path == "" {
		path = filepath.Join(dataDir, "imgpurge.sqlite3")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=synchronous(NORMAL)")
	if err != nil {
		return nil, err
	}
	// SQLite has one writer; one connection avoids SQLITE_BUSY between
	// River's queries and ours.
	db.SetMaxOpenConns(1)
	return &store{db: db, where: path}, nil
}

func (s *store) migrate(ctx context.Context) error {
	for _, stmt := range strings.Split(schema, ";") {
		if strings.TrimSpace(stmt) == "" {
			continue
		}
		if _, err := s.db.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("journal schema: %w", err)
		}
	}
	return nil
}

// q rewrites ? placeholders as $n for PostgreSQL.
func (s *store) q(query string) string {
	if !s.postgres {
		return query
	}
	var b strings.Builder
	n := 0
	for _, c := range query {
		if c == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}

type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

const insertSQL = `INSERT INTO imgpurge_purge
	(id, datastore, image_id, selector, subject, tracking_id, state, attempts, created_at, updated_at, job_id, plan, layers)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

func (s *store) insert(ctx context.Context, x execer, p *Purge) error {
	args, err := insertArgs(p)
	if err != nil {
		return err
	}
	_, err = x.ExecContext(ctx, s.q(insertSQL), args...)
	return err
}

// insertMany writes a batch of records with one prepared statement.
func (s *store) insertMany(ctx context.Context, tx *sql.Tx, batch []*Purge) error {
	stmt, err := tx.PrepareContext(ctx, s.q(insertSQL))
	if err != nil {
		return err
	}
	defer stmt.Close()
	for _, p := range batch {
		args, err := insertArgs(p)
		if err != nil {
			return err
		}
		if _, err := stmt.ExecContext(ctx, args...); err != nil {
			return err
		}
	}
	return nil
}

func insertArgs(p *Purge) ([]any, error) {
	plan, err := json.Marshal(p.Plan)
	if err != nil {
		return nil, err
	}
	layers, err := json.Marshal(p.Layers)
	if err != nil {
		return nil, err
	}
	return []any{p.ID, p.Datastore, p.ImageID, p.Selector, p.Subject, p.TrackingID, p.State, p.Attempts,
		p.CreatedAt.UnixMilli(), p.UpdatedAt.UnixMilli(), nullID(p.JobID), string(plan), string(layers)}, nil
}

func nullID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

func (s *store) setJob(ctx context.Context, x execer, id string, jobID int64) error {
	_, err := x.ExecContext(ctx, s.q(`UPDATE imgpurge_purge SET job_id = ? WHERE id = ?`), jobID, id)
	return err
}

func (s *store) update(ctx context.Context, p *Purge) error {
	layers, err := json.Marshal(p.Layers)
	if err != nil {
		return err
	}
	_, err = s.db.ExecContext(ctx, s.q(`UPDATE imgpurge_purge SET state = ?, attempts = ?, updated_at = ?, layers = ?
		WHERE id = ?`), p.State, p.Attempts, p.UpdatedAt.UnixMilli(), string(layers), p.ID)
	return err
}

const columns = `id, datastore, image_id, selector, subject, tracking_id, state, attempts,
	created_at, updated_at, job_id, plan, layers`

func (s *store) get(ctx context.Context, id string) (*Purge, error) {
	row := s.db.QueryRowContext(ctx, s.q(`SELECT `+columns+` FROM imgpurge_purge WHERE id = ?`), id)
	p, err := scan(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	return p, err
}

// findOpen returns an unfinished purge of the same image and selector.
func (s *store) findOpen(ctx context.Context, datastore, imageID, selector string) (*Purge, error) {
	row := s.db.QueryRowContext(ctx, s.q(`SELECT `+columns+` FROM imgpurge_purge
		WHERE state IN ('pending', 'failed') AND datastore = ? AND image_id = ? AND selector = ?
		ORDER BY created_at LIMIT 1`), datastore, imageID, selector)
	p, err := scan(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return p, err
}

// openRenditions returns the renditions planned by unfinished purges of the
// same image and selector.
func (s *store) openRenditions(ctx context.Context, datastore, imageID, selector string) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT plan FROM imgpurge_purge
		WHERE state IN ('pending', 'running', 'failed') AND datastore = ? AND image_id = ? AND selector = ?`),
		datastore, imageID, selector)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var raw string
		var plan purge.Plan
		if err := rows.Scan(&raw); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(raw), &plan); err != nil {
			return nil, err
		}
		out = append(out, plan.Target.Renditions...)
	}
	return out, rows.Err()
}

// openKeys counts unfinished purges by datastore, image and selector.
func (s *store) openKeys(ctx context.Context) (map[string]int, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT datastore, image_id, selector FROM imgpurge_purge
		WHERE state IN ('pending', 'running', 'failed')`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	keys := map[string]int{}
	for rows.Next() {
		var ds, img, sel string
		if err := rows.Scan(&ds, &img, &sel); err != nil {
			return nil, err
		}
		keys[openKey(ds, img, sel)]++
	}
	return keys, rows.Err()
}

func openKey(datastore, imageID, selector string) string {
	return datastore + "\x00" + imageID + "\x00" + selector
}

// Query selects recorded purges.
type Query struct {
	Datastores []string
	ImageID    string
	State      string
	Since      time.Time
	Limit      int
}

func (s *store) list(ctx context.Context, q Query) ([]*Purge, error) {
	var where []string
	var args []any
	if len(q.Datastores) == 0 {
		return nil, nil
	}
	where = append(where, "datastore IN ("+strings.TrimSuffix(strings.Repeat("?,", len(q.Datastores)), ",")+")")
	for _, d := range q.Datastores {
		args = append(args, d)
	}
	if q.ImageID != "" {
		where, args = append(where, "image_id = ?"), append(args, q.ImageID)
	}
	if q.State != "" {
		where, args = append(where, "state = ?"), append(args, q.State)
	}
	if !q.Since.IsZero() {
		where, args = append(where, "created_at >= ?"), append(args, q.Since.UnixMilli())
	}
	args = append(args, q.Limit)
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+columns+` FROM imgpurge_purge WHERE `+
		strings.Join(where, " AND ")+` ORDER BY created_at DESC LIMIT ?`), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*Purge
	for rows.Next() {
		p, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

type scanner interface{ Scan(dest ...any) error }

func scan(r scanner) (*Purge, error) {
	var p Purge
	var created, updated int64
	var job sql.NullInt64
	var plan, layers string
	err := r.Scan(&p.ID, &p.Datastore, &p.ImageID, &p.Selector, &p.Subject, &p.TrackingID, &p.State,
		&p.Attempts, &created, &updated, &job, &plan, &layers)
	if err != nil {
		return nil, err
	}
	p.CreatedAt, p.UpdatedAt, p.JobID = time.UnixMilli(created).UTC(), time.UnixMilli(updated).UTC(), job.Int64
	p.Plan = &purge.Plan{}
	if err := json.Unmarshal([]byte(plan), p.Plan); err != nil {
		return nil, fmt.Errorf("purge %s: plan: %w", p.ID, err)
	}
	if err := json.Unmarshal([]byte(layers), &p.Layers); err != nil {
		return nil, fmt.Errorf("purge %s: layers: %w", p.ID, err)
	}
	return &p, nil
}

// lockMigrations serialises schema changes between replicas starting
// together on PostgreSQL; SQLite has one process per file.
func (s *store) lockMigrations(ctx context.Context) (func(), error) {
	if !s.postgres {
		return func() {}, nil
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	const key = 4042020 // any constant shared by every replica
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, key); err != nil {
		_ = conn.Close()
		return nil, err
	}
	return func() {
		_, _ = conn.ExecContext(context.Background(), `SELECT pg_advisory_unlock($1)`, key)
		_ = conn.Close()
	}, nil
}

// Stats is the journal's depth: unfinished purges by state, and when the
// oldest of them was created.
type Stats struct {
	ByState      map[string]int
	OldestOpenAt time.Time
}

func (s *store) stats(ctx context.Context) (Stats, error) {
	st := Stats{ByState: map[string]int{}}
	rows, err := s.db.QueryContext(ctx, `SELECT state, COUNT(*), MIN(created_at) FROM imgpurge_purge
		WHERE state IN ('pending', 'running', 'failed', 'dead') GROUP BY state`)
	if err != nil {
		return st, err
	}
	defer rows.Close()
	for rows.Next() {
		var state string
		var n int
		var oldest int64
		if err := rows.Scan(&state, &n, &oldest); err != nil {
			return st, err
		}
		st.ByState[state] = n
		if at := time.UnixMilli(oldest); state != StateDead && (st.OldestOpenAt.IsZero() || at.Before(st.OldestOpenAt)) {
			st.OldestOpenAt = at
		}
	}
	return st, rows.Err()
}
