package api

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/imgpurge/imgpurge/internal/auth"
	"github.com/imgpurge/imgpurge/internal/envelope"
	"github.com/imgpurge/imgpurge/internal/journal"
	"github.com/imgpurge/imgpurge/internal/purge"
	"github.com/imgpurge/imgpurge/internal/selector"
)

// Authenticator verifies the Authorization header of a request.
type Authenticator interface {
	Verify(ctx context.Context, authorization string) (*auth.Principal, error)
	Ready(ctx context.Context) error
}

// Journal is the durable side the API needs: recording unfinished and
// asynchronous purges, the audit trail, and the status of each purge.
type Journal interface {
	purge.Journal
	Enqueue(ctx context.Context, plan *purge.Plan) (id string, joined bool, err error)
	PendingRenditions(ctx context.Context, datastore, imageID, selector string) []string
	Audit(out *purge.Outcome)
	Get(ctx context.Context, id string) (*journal.Purge, error)
	List(ctx context.Context, q journal.Query) ([]*journal.Purge, error)
	Retry(ctx context.Context, id string) (*journal.Purge, error)
	Ready(ctx context.Context) error
}

// Datastore is a datastore as the API sees it: the orchestrator's layers
// plus who may purge it and which ids it accepts.
type Datastore struct {
	purge.Datastore
	Default bool
	// Tenants entitled to purge; "*" admits every valid token.
	Tenants []string
	IDRule  selector.IDRule
}

// Server is the HTTP API.
type Server struct {
	auth       Authenticator
	datastores map[string]*Datastore
	defaultDS  string
	orch       *purge.Orchestrator
	journal    Journal
	timeout    time.Duration
	log        *slog.Logger
	router     chi.Router
	metrics    http.Handler
	consistent func(time.Duration)
}

// Options configure a Server.
type Options struct {
	Auth         Authenticator
	Datastores   []*Datastore
	Orchestrator *purge.Orchestrator
	// Journal keeps what a purge left undone and the audit trail.
	Journal Journal
	// RequestTimeout bounds the synchronous part of a purge.
	RequestTimeout time.Duration
	Logger         *slog.Logger
	// Metrics, when set, is served unauthenticated at /metrics.
	Metrics http.Handler
	// Consistent, when set, is told how long each purge that completed
	// within its request took.
	Consistent func(time.Duration)
}

// New builds the API server.
func New(o Options) *Server {
	s := &Server{
		auth:       o.Auth,
		datastores: make(map[string]*Datastore, len(o.Datastores)),
		orch:       o.Orchestrator,
		journal:    o.Journal,
		timeout:    o.RequestTimeout,
		log:        o.Logger,
		metrics:    o.Metrics,
		consistent: o.Consistent,
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	for _, ds := range o.Datastores {
		s.datastores[ds.Name] = ds
		if ds.Default {
			s.defaultDS = ds.Name
		}
	}
	s.router = s.routes()
	return s
}

func (s *Server) routes() chi.Router {
	r := chi.NewRouter()
	r.Use(withTracking, s.recoverer)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		envelope.Fail(w, http.StatusNotFound, TrackingID(r.Context()),
			envelope.CodeInvalidRequest, "no such route: "+r.Method+" "+r.URL.EscapedPath())
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		// HTTP requires a 405 to say which methods the route has; chi's own
		// handler does, a replacement must look them up itself.
		path := r.URL.RawPath
		if path == "" {
			path = r.URL.Path
		}
		for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodDelete} {
			if s.router.Match(chi.NewRouteContext(), m, path) {
				w.Header().Add("Allow", m)
			}
		}
		envelope.Fail(w, http.StatusMethodNotAllowed, TrackingID(r.Context()),
			envelope.CodeInvalidRequest, "method "+r.Method+" is not allowed on this route")
	})
	// Probes and scrapers may use HEAD wherever GET works.
	for _, m := range []string{http.MethodGet, http.MethodHead} {
		r.MethodFunc(m, "/healthz", s.healthz)
		r.MethodFunc(m, "/readyz", s.readyz)
		if s.metrics != nil {
			r.Method(m, "/metrics", s.metrics)
		}
	}
	r.Delete("/image/{id}", s.deleteImage)
	r.Delete("/image/{id}/*", s.deleteImage)
	r.Get("/plan/image/{id}", s.planImage)
	r.Get("/plan/image/{id}/*", s.planImage)
	r.Get("/purges", s.listPurges)
	r.Get("/purges/{id}", s.getPurge)
	r.Post("/purges/{id}/retry", s.retryPurge)
	return r
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.router.ServeHTTP(w, r)
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	envelope.Write(w, http.StatusOK, envelope.Success(map[string]string{"status": "alive"}))
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.auth.Ready(ctx); err != nil {
		envelope.Fail(w, http.StatusServiceUnavailable, TrackingID(ctx),
			envelope.CodeSystemFailure, "identity provider keys are not available")
		return
	}
	if err := s.journal.Ready(ctx); err != nil {
		envelope.Fail(w, http.StatusServiceUnavailable, TrackingID(ctx),
			envelope.CodeSystemFailure, "journal database is not reachable")
		return
	}
	envelope.Write(w, http.StatusOK, envelope.Success(map[string]string{"status": "ready"}))
}
