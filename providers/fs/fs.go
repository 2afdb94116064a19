// Package fs purges renditions kept as files on a local or mounted
// filesystem, as resizers that write their results to disk or NFS do.
//
// Every path is opened through an os.Root, so no id, selector, symlink or
// journaled item can reach a file outside the configured root.
package fs

import (
	"context"
	"errors"
	"fmt"
	iofs "io/fs"
	"os"
	"path"
	"strings"

	"github.com/imgpurge/imgpurge/internal/purge"
)

// LayoutDefault places rendition r of image i at {root}/i/r.
const LayoutDefault = "{id}/{rendition}"

// Settings are the fs layer's settings.
type Settings struct {
	// Root is the directory holding the derivatives. Required.
	Root string `yaml:"root"`
	// Layout is the path of a rendition under Root; it must contain {id}
	// and end with /{rendition}. Default "{id}/{rendition}".
	Layout string `yaml:"layout"`
}

// Provider is an fs layer.
type Provider struct {
	root   *os.Root
	layout string
}

// New builds an fs layer from its settings.
func New(_ context.Context, spec purge.LayerSpec) (purge.Provider, error) {
	var s Settings
	if err := spec.Decode(&s); err != nil {
		return nil, err
	}
	if s.Layout == "" {
		s.Layout = LayoutDefault
	}
	if err := checkLayout(s.Layout); err != nil {
		return nil, fmt.Errorf("layout: %w", err)
	}
	if s.Root == "" {
		return nil, errors.New("root: required")
	}
	if err := os.MkdirAll(s.Root, 0o755); err != nil {
		return nil, fmt.Errorf("root: %w", err)
	}
	root, err := os.OpenRoot(s.Root)
	if err != nil {
		return nil, fmt.Errorf("root: %w", err)
	}
	return &Provider{root: root, layout: s.Layout}, nil
}

func checkLayout(l string) error {
	if strings.Count(l, "{id}") != 1 || !strings.HasSuffix(l, "/{rendition}") ||
		strings.Count(l, "{rendition}") != 1 {
		return errors.New(`must contain {id} once and end with "/{rendition}"`)
	}
	if strings.HasPrefix(l, "/") || strings.Contains(l, "..") {
		return errors.New("must be a relative path without \"..\"")
	}
	return nil
}

// Close releases the root directory.
func (p *Provider) Close() error { return p.root.Close() }

func (p *Provider) dir(imageID string) string {
	return path.Dir(strings.ReplaceAll(p.layout, "{id}", imageID))
}

// List implements purge.Lister: the regular files in the image's directory.
func (p *Provider) List(_ context.Context, imageID string) ([]string, error) {
	entries, err := p.root.FS().(iofs.ReadDirFS).ReadDir(p.dir(imageID))
	if errors.Is(err, iofs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fsError(err)
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		if e.Type().IsRegular() {
			names = append(names, e.Name())
		}
	}
	return names, nil
}

// Plan implements purge.Provider: one relative path per rendition.
func (p *Provider) Plan(t purge.Target) ([]string, error) {
	dir := p.dir(t.ImageID)
	items := make([]string, 0, len(t.Renditions))
	for _, r := range t.Renditions {
		items = append(items, path.Join(dir, r))
	}
	return items, nil
}

// Purge implements purge.Provider. A file that is already gone counts as
// purged, so a repeated purge succeeds.
func (p *Provider) Purge(ctx context.Context, items []string) (purge.Result, error) {
	var left []string
	var first error
	deleted, missing := 0, 0
	for i, it := range items {
		if err := ctx.Err(); err != nil {
			return purge.Result{Remaining: append(left, items[i:]...)}, err
		}
		err := p.root.Remove(it)
		switch {
		case err == nil:
			deleted++
		case errors.Is(err, iofs.ErrNotExist):
			missing++
		default:
			left = append(left, it)
			if first == nil {
				first = err
			}
		}
	}
	p.removeEmptyDirs(items)
	res := purge.Result{Remaining: left, Detail: map[string]any{
		"deleted": deleted, "already_absent": missing, "failed": len(left),
	}}
	if first != nil {
		return res, fsError(first)
	}
	return res, nil
}

// removeEmptyDirs drops image directories left empty; a directory that
// still holds files stays, and any error is harmless.
func (p *Provider) removeEmptyDirs(items []string) {
	seen := map[string]bool{}
	for _, it := range items {
		d := path.Dir(it)
		if d != "." && !seen[d] {
			seen[d] = true
			_ = p.root.Remove(d)
		}
	}
}

func fsError(err error) *purge.Error {
	code := "IOError"
	if errors.Is(err, iofs.ErrPermission) {
		code = "PermissionDenied"
	}
	return &purge.Error{Code: code, Message: err.Error(), Retryable: code != "PermissionDenied", Err: err}
}
