package fs_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/imgpurge/imgpurge/internal/providertest"
	"github.com/imgpurge/imgpurge/internal/purge"
	"github.com/imgpurge/imgpurge/providers/fs"
)

func newFS(t *testing.T, root string, layout string) purge.Provider {
	t.Helper()
	doc := "root: " + root + "\n"
	if layout != "" {
		doc += "layout: " + layout + "\n"
	}
	decode, err := providertest.Decoder(doc)
	if err != nil {
		t.Fatal(err)
	}
	p, err := fs.New(context.Background(), purge.LayerSpec{Layer: "derivatives", Decode: decode})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = p.(*fs.Provider).Close() })
	return p
}

func TestConformance(t *testing.T) {
	t.Parallel()
	providertest.Run(t, func(t *testing.T) *providertest.Backend {
		root := t.TempDir()
		return &providertest.Backend{
			Provider: newFS(t, root, ""),
			Seed: func(t *testing.T, id string, names ...string) {
				for _, n := range names {
					writeFile(t, filepath.Join(root, id, n))
				}
			},
			Held: func(t *testing.T, id, name string) bool {
				_, err := os.Stat(filepath.Join(root, id, name))
				return err == nil
			},
			FailItems: func(t *testing.T, id string, names ...string) string {
				// A file inside a directory the service may not write to
				// cannot be removed; root ignores permissions, so a
				// non-empty directory under the file's name stands in.
				for _, n := range names {
					p := filepath.Join(root, id, n)
					if err := os.Remove(p); err != nil {
						t.Fatal(err)
					}
					writeFile(t, filepath.Join(p, "keep"))
				}
				return "IOError"
			},
		}
	})
}

func writeFile(t *testing.T, p string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("img"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestNeverLeavesRoot(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	root := filepath.Join(base, "root")
	outside := filepath.Join(base, "secret.jpg")
	writeFile(t, outside)
	writeFile(t, filepath.Join(root, "x", "a.jpg"))
	if err := os.Symlink(base, filepath.Join(root, "link")); err != nil {
		t.Fatal(err)
	}
	p := newFS(t, root, "")

	for _, item := range []string{"../secret.jpg", "link/secret.jpg", "/" + outside} {
		if _, err := p.Purge(context.Background(), []string{item}); err == nil {
			t.Errorf("Purge(%q) succeeded", item)
		}
	}
	if _, err := os.Stat(outside); err != nil {
		t.Fatalf("file outside the root was touched: %v", err)
	}
	if names, err := p.(purge.Lister).List(context.Background(), "link"); err == nil && len(names) > 0 {
		t.Fatalf("List followed a symlink out of the root: %q", names)
	}
}

func TestLayout(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	p := newFS(t, root, `"renditions/{id}/{rendition}"`)
	writeFile(t, filepath.Join(root, "renditions", providertest.ImageA, "a.jpg"))
	items, _ := p.Plan(purge.Target{ImageID: providertest.ImageA, Renditions: []string{"a.jpg"}})
	if want := "renditions/" + providertest.ImageA + "/a.jpg"; len(items) != 1 || items[0] != want {
		t.Fatalf("Plan = %q, want %q", items, want)
	}
}

func TestBadSettings(t *testing.T) {
	t.Parallel()
	for _, doc := range []string{"layout: '{rendition}'\nroot: /tmp", "rooot: /tmp", "layout: '../{id}/{rendition}'\nroot: /tmp"} {
		decode, err := providertest.Decoder(doc)
		if err != nil {
			t.Fatal(err)
		}
		_, err = fs.New(context.Background(), purge.LayerSpec{Decode: decode})
		if err == nil {
			t.Errorf("settings %q accepted", doc)
		}
	}
}
