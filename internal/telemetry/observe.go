package telemetry

import (
	"context"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/imgpurge/imgpurge/internal/purge"
)

// Observer implements purge.Observer with metrics and a span per provider
// call.
type Observer struct {
	M      *Metrics
	Tracer trace.Tracer
}

// CallStarted implements purge.Observer.
func (o *Observer) CallStarted(ctx context.Context, plan *purge.Plan, l *purge.Layer, attempt int) (context.Context, func(*purge.Error)) {
	start := time.Now()
	if attempt > 1 {
		o.M.retries.WithLabelValues(l.Name, l.Kind).Inc()
	}
	ctx, span := o.Tracer.Start(ctx, "purge "+l.Name, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(
			attribute.String("imgpurge.tracking_id", plan.TrackingID),
			attribute.String("imgpurge.purge_id", plan.ID),
			attribute.String("imgpurge.layer", l.Name),
			attribute.String("imgpurge.provider", l.Kind),
			attribute.Int("imgpurge.tier", l.Tier),
			attribute.Int("imgpurge.attempt", attempt)))
	return ctx, func(err *purge.Error) {
		o.M.callDuration.WithLabelValues(l.Name, l.Kind).Observe(time.Since(start).Seconds())
		if err != nil {
			span.SetStatus(codes.Error, err.Code)
			span.SetAttributes(attribute.String("imgpurge.error_code", err.Code))
		}
		span.End()
	}
}

// LayerDone implements purge.Observer.
func (o *Observer) LayerDone(_ context.Context, _ *purge.Plan, lo purge.LayerOutcome) {
	reason := lo.Reason
	if lo.Err != nil {
		reason = lo.Err.Code
	}
	o.M.outcomes.WithLabelValues(lo.Layer, lo.Kind, string(lo.Status), reason).Inc()
}

// statusWriter remembers the status and the envelope code of a response.
type statusWriter struct {
	http.ResponseWriter
	status int
	code   string
}

func (w *statusWriter) WriteHeader(s int) {
	if w.status == 0 {
		w.status = s
	}
	w.ResponseWriter.WriteHeader(s)
}

// SetEnvelopeCode is called by the envelope writer with the response's
// first error code, or "0" for success.
func (w *statusWriter) SetEnvelopeCode(c string) { w.code = c }

// Middleware records every request's route, status, envelope code and
// latency, and names its span after the route.
func (m *Metrics) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		// chi fills in a route context it finds in the request, so the
		// route pattern is readable here once it has routed.
		rctx := chi.NewRouteContext()
		r = r.WithContext(context.WithValue(r.Context(), chi.RouteCtxKey, rctx))
		next.ServeHTTP(sw, r)
		route := "unmatched"
		if p := rctx.RoutePattern(); p != "" {
			route = p
		}
		trace.SpanFromContext(r.Context()).SetName(r.Method + " " + route)
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		m.request(route, methodLabel(r.Method), sw.status, sw.code, time.Since(start))
	})
}

// methodLabel keeps the method label's values few: anyone can send any
// method, and each new label value would be a new series.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions:
		return m
	}
	return "other"
}
