package api

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"github.com/imgpurge/imgpurge/internal/auth"
	"github.com/imgpurge/imgpurge/internal/envelope"
	"github.com/imgpurge/imgpurge/internal/journal"
)

// RecentDefault is the window GET /purges covers when since is not given.
const RecentDefault = 24 * time.Hour

// PurgeView is a recorded purge as the status endpoints show it.
type PurgeView struct {
	*journal.Purge
	Location string `json:"location"`
}

func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (*auth.Principal, bool) {
	if len(r.Header.Values("Authorization")) > 1 {
		// Which one counts would be a guess; RFC 6750 calls it invalid.
		s.refuseAuth(w, r, &auth.Error{Status: http.StatusUnauthorized, Code: auth.CodeInvalidRequest,
			Description: "only one Authorization header may be sent"})
		return nil, false
	}
	p, err := s.auth.Verify(r.Context(), r.Header.Get("Authorization"))
	if err != nil {
		s.refuseAuth(w, r, err)
		return nil, false
	}
	return p, true
}

// loadPurge finds the purge named in the path and checks that the caller's
// token is entitled to its datastore. It answers the caller itself when it
// returns nil.
func (s *Server) loadPurge(w http.ResponseWriter, r *http.Request) *journal.Purge {
	tid := TrackingID(r.Context())
	p, ok := s.authenticate(w, r)
	if !ok {
		return nil
	}
	id := chi.URLParam(r, "id")
	if _, err := uuid.Parse(id); err != nil || len(id) != 36 {
		envelope.Fail(w, http.StatusBadRequest, tid, envelope.CodeInvalidRequest, "purge id is not a UUID")
		return nil
	}
	rec, err := s.journal.Get(r.Context(), id)
	switch {
	case errors.Is(err, journal.ErrNotFound):
		envelope.Fail(w, http.StatusNotFound, tid, envelope.CodeInvalidRequest, "no such purge")
		return nil
	case err != nil:
		s.journalFault(w, r, err)
		return nil
	}
	if ds := s.datastores[rec.Datastore]; ds == nil || !entitled(ds.Tenants, p.Tenants) {
		// The same answer as an unknown id, so purge ids of other tenants
		// cannot be probed.
		envelope.Fail(w, http.StatusNotFound, tid, envelope.CodeInvalidRequest, "no such purge")
		return nil
	}
	return rec
}

func (s *Server) getPurge(w http.ResponseWriter, r *http.Request) {
	if rec := s.loadPurge(w, r); rec != nil {
		envelope.Write(w, http.StatusOK, envelope.Success(view(rec)))
	}
}

func (s *Server) retryPurge(w http.ResponseWriter, r *http.Request) {
	rec := s.loadPurge(w, r)
	if rec == nil {
		return
	}
	rec, err := s.journal.Retry(r.Context(), rec.ID)
	if errors.Is(err, journal.ErrBusy) {
		envelope.Fail(w, http.StatusConflict, TrackingID(r.Context()), envelope.CodeInvalidRequest, err.Error())
		return
	}
	if err != nil {
		s.journalFault(w, r, err)
		return
	}
	envelope.Write(w, http.StatusOK, envelope.Success(view(rec)))
}

func (s *Server) listPurges(w http.ResponseWriter, r *http.Request) {
	tid := TrackingID(r.Context())
	p, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	q, bad := s.purgeQuery(r.URL.Query(), p)
	if bad != nil {
		if bad.status == http.StatusForbidden {
			w.Header().Set("WWW-Authenticate", `Bearer realm="imgpurge", error="insufficient_scope"`)
		}
		envelope.Fail(w, bad.status, tid, bad.code, bad.desc)
		return
	}
	recs, err := s.journal.List(r.Context(), q)
	if err != nil {
		s.journalFault(w, r, err)
		return
	}
	views := make([]PurgeView, 0, len(recs))
	for _, rec := range recs {
		views = append(views, view(rec))
	}
	envelope.Write(w, http.StatusOK, envelope.Success(map[string]any{"purges": views, "count": len(views)}))
}

// purgeQuery validates the filters of GET /purges and limits it to the
// datastores the token is entitled to.
func (s *Server) purgeQuery(v url.Values, p *auth.Principal) (journal.Query, *badRequest) {
	q := journal.Query{Since: time.Now().Add(-RecentDefault), Limit: 100}
	for k, vals := range v {
		if len(vals) != 1 {
			return q, invalid("%s must be given once", k)
		}
		switch k {
		case "image", "since", "datastore", "state", "limit":
		default:
			return q, invalid("unknown query parameter %q", k)
		}
	}
	if img := v.Get("image"); img != "" {
		if len(img) > 255 {
			return q, invalid("image is too long")
		}
		q.ImageID = img
	}
	if since := v.Get("since"); since != "" {
		t, err := parseSince(since)
		if err != nil {
			return q, invalid("since must be an RFC 3339 time or a duration such as 24h")
		}
		q.Since = t
	}
	if st := v.Get("state"); st != "" {
		switch st {
		case journal.StatePending, journal.StateRunning, journal.StateSucceeded, journal.StateFailed, journal.StateDead:
			q.State = st
		default:
			return q, invalid("state must be pending, running, succeeded, failed or dead")
		}
	}
	if l := v.Get("limit"); l != "" {
		if _, err := fmt.Sscanf(l, "%d", &q.Limit); err != nil || q.Limit < 1 || q.Limit > 1000 {
			return q, invalid("limit must be between 1 and 1000")
		}
	}
	for name, ds := range s.datastores {
		if (v.Get("datastore") == "" || v.Get("datastore") == name) && entitled(ds.Tenants, p.Tenants) {
			q.Datastores = append(q.Datastores, name)
		}
	}
	if name := v.Get("datastore"); name != "" && len(q.Datastores) == 0 {
		if _, known := s.datastores[name]; !known {
			return q, &badRequest{http.StatusBadRequest, envelope.CodeInvalidDatastore, "unknown datastore"}
		}
		return q, &badRequest{http.StatusForbidden, envelope.CodeInvalidRequest,
			"token is not entitled to this datastore"}
	}
	return q, nil
}

func parseSince(s string) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return time.Now().Add(-d), nil
	}
	return time.Parse(time.RFC3339, s)
}

func view(rec *journal.Purge) PurgeView {
	for i := range rec.Layers {
		rec.Layers[i].Remaining = capped(rec.Layers[i].Remaining)
	}
	return PurgeView{Purge: rec, Location: "/purges/" + rec.ID}
}

func (s *Server) journalFault(w http.ResponseWriter, r *http.Request, err error) {
	s.log.LogAttrs(r.Context(), slog.LevelError, "journal query failed",
		slog.String("tracking_id", TrackingID(r.Context())), slog.String("error", err.Error()))
	envelope.Fail(w, http.StatusInternalServerError, TrackingID(r.Context()),
		envelope.CodeSystemFailure, "the journal could not be read")
}
