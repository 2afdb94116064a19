package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"github.com/imgpurge/imgpurge/internal/auth"
	"github.com/imgpurge/imgpurge/internal/envelope"
	"github.com/imgpurge/imgpurge/internal/journal"
	"github.com/imgpurge/imgpurge/internal/purge"
	"github.com/imgpurge/imgpurge/internal/selector"
)

// badRequest is a refusal before anything was done.
type badRequest struct {
	status int
	code   string
	desc   string
}

func (b *badRequest) Error() string { return b.desc }

func invalid(format string, a ...any) *badRequest {
	return &badRequest{http.StatusBadRequest, envelope.CodeInvalidRequest, fmt.Sprintf(format, a...)}
}

// request is a validated purge request.
type request struct {
	principal *auth.Principal
	ds        *Datastore
	imageID   string
	sel       selector.Selector
}

func (s *Server) deleteImage(w http.ResponseWriter, r *http.Request) {
	tid := TrackingID(r.Context())

	p, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	req, bad := s.parse(r, p)
	if bad != nil {
		if bad.status == http.StatusForbidden {
			w.Header().Set("WWW-Authenticate", `Bearer realm="imgpurge", error="insufficient_scope"`)
		}
		envelope.Fail(w, bad.status, tid, bad.code, bad.desc)
		return
	}
	s.purge(w, r, req)
}

func (s *Server) refuseAuth(w http.ResponseWriter, r *http.Request, err error) {
	var ae *auth.Error
	if !errors.As(err, &ae) {
		s.log.LogAttrs(r.Context(), slog.LevelError, "token verification failed",
			slog.String("tracking_id", TrackingID(r.Context())), slog.String("error", err.Error()))
		envelope.Fail(w, http.StatusInternalServerError, TrackingID(r.Context()),
			envelope.CodeUnknownFailure, "token could not be verified")
		return
	}
	w.Header().Set("WWW-Authenticate", ae.WWWAuthenticate())
	envelope.Fail(w, ae.Status, TrackingID(r.Context()), envelope.CodeInvalidRequest, ae.Description)
}

// parse validates everything the caller sent. Nothing is called before it
// succeeds, so bad input changes nothing.
func (s *Server) parse(r *http.Request, p *auth.Principal) (*request, *badRequest) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, invalid("query string is malformed")
	}
	for k, v := range q {
		if k != "datastore" {
			return nil, invalid("unknown query parameter %q", k)
		}
		if len(v) != 1 {
			return nil, invalid("datastore must be given once")
		}
	}
	ds, bad := s.resolveDatastore(q.Get("datastore"), q.Has("datastore"), p)
	if bad != nil {
		return nil, bad
	}

	id, err := pathParam(r, "id")
	if err != nil {
		return nil, invalid("image id is not properly escaped")
	}
	if err := ds.IDRule.Check(id); err != nil {
		return nil, invalid("%v", err)
	}
	rawSel, err := pathParam(r, "*")
	if err != nil {
		return nil, invalid("selector is not properly escaped")
	}
	sel, err := selector.Parse(rawSel)
	if err != nil {
		return nil, invalid("%v", err)
	}
	return &request{principal: p, ds: ds, imageID: id, sel: sel}, nil
}

// pathParam returns a path parameter decoded exactly once. chi routes on
// the escaped path when the request's escaping differs from the default
// one, and on the decoded path otherwise, so only the first needs decoding:
// decoding twice would turn an escaped "%2A" into a glob.
func pathParam(r *http.Request, name string) (string, error) {
	v := chi.URLParam(r, name)
	if r.URL.RawPath == "" {
		return v, nil
	}
	return url.PathUnescape(v)
}

func (s *Server) resolveDatastore(name string, given bool, p *auth.Principal) (*Datastore, *badRequest) {
	invalidDS := func(desc string) *badRequest {
		return &badRequest{http.StatusBadRequest, envelope.CodeInvalidDatastore, desc}
	}
	switch {
	case given && name == "":
		return nil, invalidDS("datastore is empty")
	case !given && p.Datastore != "":
		name = p.Datastore
	case !given:
		name = s.defaultDS
	}
	if name == "" {
		return nil, invalidDS("no datastore given and none is the default")
	}
	ds, ok := s.datastores[name]
	if !ok {
		if len(name) > 64 {
			name = name[:64] + "…"
		}
		return nil, invalidDS(fmt.Sprintf("unknown datastore %q", name))
	}
	if !entitled(ds.Tenants, p.Tenants) {
		return nil, &badRequest{http.StatusForbidden, envelope.CodeInvalidRequest,
			fmt.Sprintf("token is not entitled to datastore %q", ds.Name)}
	}
	return ds, nil
}

func entitled(allowed, tenants []string) bool {
	if slices.Contains(allowed, "*") {
		return true
	}
	for _, t := range tenants {
		if slices.Contains(allowed, t) {
			return true
		}
	}
	return false
}

func (s *Server) purge(w http.ResponseWriter, r *http.Request, req *request) {
	start := time.Now()
	tid := TrackingID(r.Context())
	ctx, cancel := context.WithTimeout(r.Context(), s.timeout)
	defer cancel()

	id, _ := uuid.NewV7()
	known := s.journal.PendingRenditions(ctx, req.ds.Name, req.imageID, req.sel.String())
	plan, err := purge.NewPlan(ctx, id.String(), &req.ds.Datastore, req.imageID, req.sel, known...)
	if err != nil {
		s.planFailed(w, r, err)
		return
	}
	plan.Subject, plan.TrackingID = req.principal.Subject, tid
	if preferAsync(r) {
		s.enqueue(w, r, plan)
		return
	}
	// Known limitation: the plan is journaled only once the request has an
	// outcome, because a purge that succeeds must wait on no database write;
	// a crash of the process in between loses it (the caller sees the
	// connection drop), and a resend plans from a listing that tier 0 may
	// already have emptied. Prefer: respond-async journals first.
	out := s.orch.Execute(ctx, &req.ds.Datastore, plan)
	journalID := ""
	if out.OK() {
		s.journal.Audit(out)
		if s.consistent != nil {
			s.consistent(time.Since(start))
		}
	} else {
		journalID = s.record(r.Context(), out)
	}
	s.logPurge(r.Context(), req, out, journalID, time.Since(start))

	data := outcomeData(out, journalID)
	if out.OK() {
		envelope.Write(w, http.StatusOK, envelope.Success(data))
		return
	}
	envelope.Write(w, http.StatusInternalServerError,
		envelope.Failure(tid, data, failureEntries(out, journalID)...))
}

// record hands what is left to the journal and returns the id of the purge
// that will finish it, or "" when it could not be written. It runs even when
// the caller has gone, and is bounded on its own.
func (s *Server) record(ctx context.Context, out *purge.Outcome) string {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	id, err := s.journal.Record(ctx, out)
	if err != nil {
		s.log.LogAttrs(ctx, slog.LevelError, "journal write failed",
			slog.String("tracking_id", TrackingID(ctx)), slog.String("purge_id", out.Plan.ID),
			slog.String("error", err.Error()))
		return ""
	}
	return id
}

// preferAsync reports whether the caller asked for the purge to run in the
// background (RFC 7240).
func preferAsync(r *http.Request) bool {
	for _, v := range r.Header.Values("Prefer") {
		for _, pref := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(pref), "respond-async") {
				return true
			}
		}
	}
	return false
}

// enqueue journals a planned purge without running it and answers 202.
func (s *Server) enqueue(w http.ResponseWriter, r *http.Request, plan *purge.Plan) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 5*time.Second)
	defer cancel()
	id, joined, err := s.journal.Enqueue(ctx, plan)
	if err != nil {
		s.log.LogAttrs(ctx, slog.LevelError, "journal write failed",
			slog.String("tracking_id", TrackingID(r.Context())), slog.String("error", err.Error()))
		envelope.Fail(w, http.StatusInternalServerError, TrackingID(r.Context()),
			envelope.CodeSystemFailure, "the purge could not be journaled; nothing was purged")
		return
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "purge accepted",
		slog.String("tracking_id", TrackingID(r.Context())), slog.String("purge_id", id),
		slog.Bool("joined", joined), slog.String("subject", plan.Subject),
		slog.String("datastore", plan.Datastore), slog.String("image_id", plan.ImageID),
		slog.String("selector", plan.Selector))
	w.Header().Set("Location", "/purges/"+id)
	w.Header().Set("Preference-Applied", "respond-async")
	envelope.Write(w, http.StatusAccepted, envelope.Success(map[string]any{
		"purge_id": id, "joined": joined, "state": journal.StatePending,
		"renditions": append([]string{}, capped(plan.Target.Renditions)...),
	}))
}

func (s *Server) planFailed(w http.ResponseWriter, r *http.Request, err error) {
	tid := TrackingID(r.Context())
	var pe *purge.PlanError
	switch {
	case errors.Is(err, purge.ErrNeedsListing):
		envelope.Fail(w, http.StatusBadRequest, tid, envelope.CodeInvalidRequest, err.Error())
	case errors.As(err, &pe):
		s.log.LogAttrs(r.Context(), slog.LevelWarn, "purge planning failed",
			slog.String("tracking_id", tid), slog.String("layer", pe.Layer),
			slog.String("error", err.Error()))
		envelope.Fail(w, http.StatusInternalServerError, tid, envelope.CodeSystemFailure,
			fmt.Sprintf("layer %q (%s) could not plan the purge, nothing was purged: %v",
				pe.Layer, pe.Kind, describe(pe.Err)))
	default:
		envelope.Fail(w, http.StatusInternalServerError, tid, envelope.CodeUnknownFailure,
			"Unknown failure")
	}
}

func describe(err error) string {
	var pe *purge.Error
	if errors.As(err, &pe) {
		return pe.Error()
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "request deadline passed"
	}
	return err.Error()
}

func failureEntries(out *purge.Outcome, journalID string) []envelope.Entry {
	var entries []envelope.Entry
	after := "; not journaled"
	if journalID != "" {
		after = "; journaled for retry as purge " + journalID
	}
	for _, l := range out.Layers {
		var desc string
		code := envelope.CodeSystemFailure
		switch {
		case l.Unexpected:
			code = envelope.CodeUnknownFailure
			desc = fmt.Sprintf("layer %q (%s) failed unexpectedly", l.Layer, l.Kind)
		case l.Status == purge.StatusFailed:
			desc = fmt.Sprintf("layer %q (%s) failed: %s", l.Layer, l.Kind, l.Err.Error())
		case l.Status == purge.StatusPending && l.Reason != "inner_tier_failed":
			desc = fmt.Sprintf("layer %q (%s) did not finish: %s", l.Layer, l.Kind, reasonText(l.Reason))
		default:
			continue
		}
		entries = append(entries, envelope.Entry{Code: code, Description: desc + after})
	}
	return entries
}

func reasonText(r string) string {
	switch r {
	case "deadline":
		return "the request deadline passed"
	case "canceled":
		return "the request was canceled"
	}
	return strings.ReplaceAll(r, "_", " ")
}
