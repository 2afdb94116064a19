package api

import (
	"context"
	"log/slog"
	"time"

	"github.com/imgpurge/imgpurge/internal/purge"
)

// MaxListed bounds the renditions and remaining items shown per layer, so
// one purge of thousands of keys keeps a small response; counts stay exact.
const MaxListed = 100

// PurgeData is the optional data part of a purge response.
type PurgeData struct {
	PurgeID    string   `json:"purge_id"`
	Datastore  string   `json:"datastore"`
	ImageID    string   `json:"image_id"`
	Selector   string   `json:"selector"`
	Renditions []string `json:"renditions"`
	Journaled  bool     `json:"journaled"`
	// JournalID is the purge that will finish the remaining steps: this
	// one, or an identical one already pending that absorbed it.
	JournalID string      `json:"journal_id,omitempty"`
	Layers    []LayerData `json:"layers"`
}

// LayerData is one layer's outcome.
type LayerData struct {
	Layer          string         `json:"layer"`
	Provider       string         `json:"provider"`
	Tier           int            `json:"tier"`
	Status         purge.Status   `json:"status"`
	Reason         string         `json:"reason,omitempty"`
	Items          int            `json:"items"`
	Attempts       int            `json:"attempts"`
	DurationMS     int64          `json:"duration_ms"`
	Error          *ErrorData     `json:"error,omitempty"`
	Remaining      []string       `json:"remaining,omitempty"`
	RemainingCount int            `json:"remaining_count,omitempty"`
	Journaled      bool           `json:"journaled,omitempty"`
	Detail         map[string]any `json:"detail,omitempty"`
}

// ErrorData is a provider's own error.
type ErrorData struct {
	Code         string `json:"code"`
	Message      string `json:"message,omitempty"`
	Retryable    bool   `json:"retryable"`
	RetryAfterMS int64  `json:"retry_after_ms,omitempty"`
}

func outcomeData(out *purge.Outcome, journalID string) *PurgeData {
	p := out.Plan
	journaled := journalID != ""
	d := &PurgeData{
		PurgeID: p.ID, Datastore: p.Datastore, ImageID: p.ImageID, Selector: p.Selector,
		Renditions: capped(p.Target.Renditions), Journaled: journaled, JournalID: journalID,
		Layers: make([]LayerData, 0, len(out.Layers)),
	}
	if d.Renditions == nil {
		d.Renditions = []string{}
	}
	for _, l := range out.Layers {
		ld := LayerData{
			Layer: l.Layer, Provider: l.Kind, Tier: l.Tier, Status: l.Status, Reason: l.Reason,
			Items: l.Items, Attempts: l.Attempts, DurationMS: l.Duration.Milliseconds(),
			Detail: l.Detail,
		}
		if l.Status != purge.StatusSucceeded {
			ld.Remaining = capped(l.Remaining)
			ld.RemainingCount = len(l.Remaining)
			ld.Journaled = journaled
		}
		if l.Err != nil {
			ld.Error = &ErrorData{Code: l.Err.Code, Message: l.Err.Message,
				Retryable: l.Err.Retryable, RetryAfterMS: l.Err.RetryAfter.Milliseconds()}
		}
		d.Layers = append(d.Layers, ld)
	}
	return d
}

func capped(s []string) []string {
	if len(s) > MaxListed {
		return s[:MaxListed]
	}
	return s
}

// logPurge writes the one summary line of a purge. A purge that did not
// complete is logged at Warn; the provider faults behind it are expected and
// retried, so they are not errors of this service.
func (s *Server) logPurge(ctx context.Context, req *request, out *purge.Outcome, journalID string, took time.Duration) {
	level, msg := slog.LevelInfo, "purge succeeded"
	switch {
	case out.Canceled:
		msg = "purge canceled by the client"
	case !out.OK():
		level, msg = slog.LevelWarn, "purge incomplete"
	}
	// Attrs rather than slog.Group's ...any: boxing each attribute into an
	// interface cost allocations on every purge.
	layers := make([]slog.Attr, 0, len(out.Layers))
	for _, l := range out.Layers {
		attrs := make([]slog.Attr, 2, 4)
		attrs[0], attrs[1] = slog.String("status", string(l.Status)), slog.Int("items", l.Items)
		if l.Err != nil {
			attrs = append(attrs, slog.String("code", l.Err.Code))
		}
		if l.Reason != "" {
			attrs = append(attrs, slog.String("reason", l.Reason))
		}
		layers = append(layers, slog.GroupAttrs(l.Layer, attrs...))
	}
	s.log.LogAttrs(ctx, level, msg,
		slog.String("tracking_id", TrackingID(ctx)),
		slog.String("purge_id", out.Plan.ID),
		slog.String("subject", req.principal.Subject),
		slog.String("datastore", req.ds.Name),
		slog.String("image_id", req.imageID),
		slog.String("selector", req.sel.String()),
		slog.Int("renditions", len(out.Plan.Target.Renditions)),
		slog.String("journal_id", journalID),
		slog.GroupAttrs("layers", layers...),
		slog.Int64("duration_ms", took.Milliseconds()))
}
