package cloudfront_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"net/url"
	"testing"

	"go.uber.org/goleak"

	emu "github.com/imgpurge/imgpurge/internal/emulator/cloudfront"
	"github.com/imgpurge/imgpurge/internal/providertest"
	"github.com/imgpurge/imgpurge/internal/purge"
	"github.com/imgpurge/imgpurge/providers/cloudfront"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	imageID = "1e8a9135-5976-4de8-9c27-64cc33bf9baa"
	dist    = emu.TestDistribution
	base    = "/image/" + imageID + "/"
)

// bundle is one emulator and a provider aimed at it.
type bundle struct {
	emu *emu.Emulator
	url string
	p   *cloudfront.Provider
}

// setup starts an emulator and builds the provider the way the service
// does: YAML settings decoded strictly through the layer spec.
func setup(t testing.TB, opts emu.Options, extra string, hosts ...string) *bundle {
	t.Helper()
	e := emu.New(opts)
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	p, err := build(t, settingsYAML(srv.URL, extra), hosts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return &bundle{emu: e, url: srv.URL, p: p.(*cloudfront.Provider)}
}

func settingsYAML(endpoint, extra string) string {
	return fmt.Sprintf("distribution_id: %s\nendpoint: %s\naccess_key_id: %s\n"+
		"secret_access_key: %s\n%s", dist, endpoint, emu.TestAccessKeyID, emu.TestSecretAccessKey, extra)
}

func build(t testing.TB, src string, hosts ...string) (purge.Provider, error) {
	t.Helper()
	decode, err := providertest.Decoder(src)
	if err != nil {
		t.Fatalf("settings YAML: %v", err)
	}
	return cloudfront.New(context.Background(), purge.LayerSpec{
		Datastore: "media", Layer: "cloudfront", Tier: 2, PublicHosts: hosts, Decode: decode,
	})
}

func (b *bundle) plan(t testing.TB, renditions ...string) []string {
	t.Helper()
	items, err := b.p.Plan(purge.Target{ImageID: imageID, Renditions: renditions})
	if err != nil {
		t.Fatalf("Plan: %v", err)
	}
	return items
}

// viewerPath is a rendition's path as a browser requests it, and so as
// CloudFront caches it: RFC 3986 path escaping, which leaves "~" and "="
// alone and encodes space and non-ASCII bytes.
func viewerPath(id, rendition string) string {
	return "/image/" + id + "/" + url.PathEscape(rendition)
}

// created returns the paths of every CreateInvalidation call that created
// an invalidation, in order.
func (b *bundle) created() [][]string {
	var out [][]string
	for _, c := range b.emu.Calls() {
		if c.Operation == "CreateInvalidation" && c.Status == 201 && !c.Duplicate {
			out = append(out, c.Paths)
		}
	}
	return out
}

func (b *bundle) creates() []emu.Call {
	var out []emu.Call
	for _, c := range b.emu.Calls() {
		if c.Operation == "CreateInvalidation" {
			out = append(out, c)
		}
	}
	return out
}
