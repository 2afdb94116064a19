package purge

import (
	"context"
	"log/slog"
)

// LayerSpec is what a provider's constructor receives: where the layer sits
// and how to read its own settings. Every provider package exports
//
//	func New(ctx context.Context, spec purge.LayerSpec) (purge.Provider, error)
//
// and returns errors that name the settings field at fault ("bucket: required").
type LayerSpec struct {
	Datastore   string
	Layer       string
	Tier        int
	PublicHosts []string
	// DataDir is the service's data directory, for relative paths.
	DataDir string
	// Decode fills v from the layer's settings, refusing unknown fields.
	Decode func(v any) error
	Logger *slog.Logger
}

// Factory builds a provider for one layer.
type Factory func(ctx context.Context, spec LayerSpec) (Provider, error)
