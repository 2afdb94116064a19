package telemetry

import (
	"context"
	"net/http"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	sdkresource "go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"
)

// Tracing is the service's tracer provider. Spans are always made, so
// trace context reaches HTTP providers; they are exported only when an
// OTLP endpoint is configured.
type Tracing struct {
	Provider *sdktrace.TracerProvider
	Tracer   trace.Tracer
}

// NewTracing builds the tracer provider. endpoint is an OTLP/HTTP URL such
// as http://collector:4318; empty exports nothing.
func NewTracing(ctx context.Context, endpoint, service string) (*Tracing, error) {
	opts := []sdktrace.TracerProviderOption{
		sdktrace.WithResource(sdkresource.NewSchemaless(semconv.ServiceName(service))),
	}
	if endpoint != "" {
		exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(endpoint))
		if err != nil {
			return nil, err
		}
		opts = append(opts, sdktrace.WithBatcher(exp))
	}
	tp := sdktrace.NewTracerProvider(opts...)
	otel.SetTextMapPropagator(propagation.TraceContext{})
	return &Tracing{Provider: tp, Tracer: tp.Tracer("github.com/imgpurge/imgpurge")}, nil
}

// Handler starts a span per request, continuing a caller's W3C trace.
func (t *Tracing) Handler(h http.Handler) http.Handler {
	return otelhttp.NewHandler(h, "imgpurge", otelhttp.WithTracerProvider(t.Provider),
		otelhttp.WithPropagators(propagation.TraceContext{}))
}

// Transport wraps an HTTP provider's transport so its calls carry the
// current trace context (traceparent) to the provider.
func Transport(rt http.RoundTripper) http.RoundTripper {
	return otelhttp.NewTransport(rt, otelhttp.WithPropagators(propagation.TraceContext{}))
}

// Shutdown flushes spans not yet exported.
func (t *Tracing) Shutdown(ctx context.Context) error { return t.Provider.Shutdown(ctx) }
