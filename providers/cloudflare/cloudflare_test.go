package cloudflare_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"go.uber.org/goleak"

	cfemu "github.com/imgpurge/imgpurge/internal/emulator/cloudflare"
	"github.com/imgpurge/imgpurge/internal/providertest"
	"github.com/imgpurge/imgpurge/internal/purge"
	"github.com/imgpurge/imgpurge/providers/cloudflare"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const (
	imageID = providertest.ImageA
	token   = "cf-test-token-0123456789"
)

// bundle is one emulator and a provider pointed at it.
type bundle struct {
	emu *cfemu.Emulator
	p   *cloudflare.Provider
}

// setup starts an emulator with opts and builds a provider for it from the
// settings in extra (YAML lines), with the public hosts given (default
// img.example.test). The provider is built by New, as the service does.
func setup(t testing.TB, opts cfemu.Options, extra string, hosts ...string) *bundle {
	t.Helper()
	if len(opts.Keys) == 0 {
		opts.Tokens = append(opts.Tokens, token)
	}
	emu := cfemu.New(opts)
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	p, err := build(t, srv.URL+"/client/v4", extra, hosts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return &bundle{emu: emu, p: p.(*cloudflare.Provider)}
}

func build(t testing.TB, baseURL, extra string, hosts ...string) (purge.Provider, error) {
	t.Helper()
	if len(hosts) == 0 {
		hosts = []string{"img.example.test"}
	}
	doc := "zone_id: " + cfemu.DefaultZoneID + "\nzone: example.test\n" + extra
	if baseURL != "" {
		doc += "\nbase_url: " + baseURL
	}
	if !strings.Contains(extra, "api_") {
		doc += "\napi_token: " + token
	}
	decode, err := providertest.Decoder(doc)
	if err != nil {
		t.Fatal(err)
	}
	p, err := cloudflare.New(context.Background(), purge.LayerSpec{
		Datastore: "media", Layer: "cloudflare", Tier: 2, PublicHosts: hosts, Decode: decode,
	})
	if err == nil {
		t.Cleanup(func() { _ = p.(*cloudflare.Provider).Close() })
	}
	return p, err
}

func (b *bundle) plan(t *testing.T, target purge.Target) []string {
	t.Helper()
	items, err := b.p.Plan(target)
	if err != nil {
		t.Fatalf("Plan: %v", err)
	}
	return items
}

func all(renditions ...string) purge.Target {
	return purge.Target{ImageID: imageID, Renditions: renditions, All: true}
}

func fileURL(host, id, rendition string) string {
	return "https://" + host + "/image/" + id + "/" + rendition
}

// TestConformance runs the provider suite in every mode. Cloudflare
// answers for a whole call, so the suite's partial failure (one rendition
// refused, the other purged) is only visible with one URL per call.
func TestConformance(t *testing.T) {
	t.Parallel()
	hosts := []string{"img.example.test", "images.example.test"}
	for _, tc := range []struct {
		mode, extra string
		status      int
		code        string
	}{
		{"files", "", 0, "1016"},
		{"prefixes", "", 400, "HTTP400/1016"},
		{"tags", "tag_template: image-{id}\n", 0, "1016"},
		{"hosts", "allow_whole_host: true\n", 403, "HTTP403/1016"},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			t.Parallel()
			providertest.Run(t, func(t *testing.T) *providertest.Backend {
				b := setup(t, cfemu.Options{},
					"mode: "+tc.mode+"\nmax_files_per_call: 1\n"+tc.extra, hosts...)
				urls := func(id string, names ...string) []string {
					var out []string
					for _, n := range names {
						for _, h := range hosts {
							out = append(out, fileURL(h, id, n))
						}
					}
					return out
				}
				return &providertest.Backend{
					Provider: b.p,
					Seed: func(t *testing.T, id string, names ...string) {
						for _, u := range urls(id, names...) {
							b.emu.Store(u, "image-"+id)
						}
					},
					Held: func(t *testing.T, id, name string) bool {
						for _, u := range urls(id, name) {
							if b.emu.Cached(u) {
								return true
							}
						}
						return false
					},
					FailItems: func(t *testing.T, id string, names ...string) string {
						b.emu.SetFaults(cfemu.Fault{Items: urls(id, names...), Status: tc.status,
							Code: 1016, Message: "refused by the test"})
						return tc.code
					},
				}
			})
		})
	}
}

// BenchmarkPurge45URLs measures one purge of 15 renditions on three hosts:
// two calls (30 and 15 URLs) to the local emulator.
func BenchmarkPurge45URLs(b *testing.B) {
	// Buckets no benchmark reaches: this measures the provider, not a plan.
	unlimited := &cfemu.Limits{BulkRate: 1e9, BulkBurst: 1e9, URLRate: 1e9, URLBurst: 1e9}
	bn := setup(b, cfemu.Options{Limits: unlimited}, "", "img.example.test", "images.example.test",
		"pics.example.test")
	items, _ := bn.p.Plan(all(fifteen()...))
	for b.Loop() {
		if _, err := bn.p.Purge(context.Background(), items); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPlan45URLs(b *testing.B) {
	bn := setup(b, cfemu.Options{}, "", "img.example.test", "images.example.test", "pics.example.test")
	target := all(fifteen()...)
	for b.Loop() {
		_, _ = bn.p.Plan(target)
	}
}
