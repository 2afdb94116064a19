package cloudflare_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/imgpurge/imgpurge/internal/providertest"
	"github.com/imgpurge/imgpurge/internal/purge"
	"github.com/imgpurge/imgpurge/providers/cloudflare"
)

// newFromDoc builds a provider from a whole settings document.
func newFromDoc(t *testing.T, doc string, hosts ...string) (purge.Provider, error) {
	t.Helper()
	decode, err := providertest.Decoder(doc)
	if err != nil {
		t.Fatal(err)
	}
	p, err := cloudflare.New(context.Background(), purge.LayerSpec{
		Layer: "cloudflare", PublicHosts: hosts, Decode: decode,
	})
	if err == nil {
		t.Cleanup(func() { _ = p.(*cloudflare.Provider).Close() })
	}
	return p, err
}

func TestBadSettings(t *testing.T) {
	t.Parallel()
	const secret = "s3cr3t-token-value"
	const base = "zone_id: 023e105f4ecef8ad9ca31a8372d0c353\nzone: example.test\napi_token: " + secret + "\n"
	for _, tc := range []struct {
		name, doc string
		hosts     []string
		field     string
	}{
		{"NoZoneID", "zone: example.test\napi_token: " + secret, nil, "zone_id: required"},
		{"ZoneNameAsID", "zone_id: example.test\nzone: example.test\napi_token: " + secret, nil, "zone_id:"},
		{"NoZone", "zone_id: 023e105f4ecef8ad9ca31a8372d0c353\napi_token: " + secret, nil, "zone: required"},
		{"NoPublicHosts", base, []string{}, "no public_hosts"},
		{"HostOutsideZone", base, []string{"img.example.test", "cdn.example.org"}, `zone: public_hosts[1] "cdn.example.org"`},
		{"NoCredentials", "zone_id: 023e105f4ecef8ad9ca31a8372d0c353\nzone: example.test", nil, "api_token: required"},
		{"BothCredentials", base + "api_email: a@example.test\napi_key: k", nil, "api_token: give"},
		{"KeyWithoutEmail", "zone_id: 023e105f4ecef8ad9ca31a8372d0c353\nzone: example.test\napi_key: k", nil, "api_key:"},
		{"BaseURL", base + "base_url: ftp://api.example.test", nil, "base_url:"},
		{"Mode", base + "mode: urls", nil, "mode:"},
		{"TagsWithoutTemplate", base + "mode: tags", nil, "tag_template: required"},
		{"TagTemplateWithoutID", base + "mode: tags\ntag_template: images", nil, "tag_template:"},
		{"TagTemplateWithSpace", base + "mode: tags\ntag_template: 'image {id}'", nil, "tag_template:"},
		{"HostsNotAcknowledged", base + "mode: hosts", nil, "allow_whole_host:"},
		{"PathWithoutRendition", base + "path_template: /image/{id}", nil, "path_template:"},
		{"PathRenditionNotLast", base + "path_template: /image/{id}/{rendition}.jpg", nil, "path_template:"},
		{"PathWithoutID", base + "path_template: /image/{rendition}", nil, "path_template:"},
		{"PathRelative", base + "path_template: image/{id}/{rendition}", nil, "path_template:"},
		{"PathUnencoded", base + "path_template: '/my images/{id}/{rendition}'", nil, "path_template:"},
		{"PathDotDot", base + "path_template: /image/../{id}/{rendition}", nil, "path_template:"},
		{"Scheme", base + "schemes: [ftp]", nil, "schemes[0]:"},
		{"SchemeTwice", base + "schemes: [https, https]", nil, "schemes[1]:"},
		{"FilesPerCall", base + "max_files_per_call: 501", nil, "max_files_per_call:"},
		{"ItemsPerCall", base + "max_items_per_call: 101", nil, "max_items_per_call:"},
		{"Concurrency", base + "concurrency: 9", nil, "concurrency:"},
		{"Timeout", base + "request_timeout: -1s", nil, "request_timeout:"},
		{"UnknownField", base + "zoneid: x", nil, "zoneid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			hosts := tc.hosts
			if hosts == nil {
				hosts = []string{"img.example.test"}
			}
			_, err := newFromDoc(t, tc.doc, hosts...)
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tc.field) {
				t.Errorf("error %q does not name %q", err, tc.field)
			}
			if strings.Contains(err.Error(), secret) || strings.Contains(fmt.Sprintf("%+v", err), secret) {
				t.Errorf("error shows the token: %v", err)
			}
		})
	}
}

// TestSettingsAccepted is not parallel: it sets an environment variable.
func TestSettingsAccepted(t *testing.T) {
	t.Setenv("IMGPURGE_TEST_CF_TOKEN", "from-env")
	doc := "zone_id: 023e105f4ecef8ad9ca31a8372d0c353\nzone: Example.Test.\n" +
		"api_token: ${IMGPURGE_TEST_CF_TOKEN}\nbase_url: http://127.0.0.1:1/client/v4\n" +
		"max_files_per_call: 500\nconcurrency: 8"
	p, err := newFromDoc(t, doc, "example.test", "img.EXAMPLE.test:8443")
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	cp := p.(*cloudflare.Provider)
	if cp.MaxItemsPerCall() != 100 || cp.Account() != "cloudflare:zone:023e105f4ecef8ad9ca31a8372d0c353" {
		t.Errorf("MaxItemsPerCall %d, Account %q", cp.MaxItemsPerCall(), cp.Account())
	}
	if s := fmt.Sprintf("%v %+v %#v", cp, cp, cp); strings.Contains(s, "from-env") {
		t.Error("the provider prints its token")
	}
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	// Built with no base_url, the provider targets the real API; nothing
	// here calls it.
	p, err := newFromDoc(t, "zone_id: 023e105f4ecef8ad9ca31a8372d0c353\nzone: example.test\napi_token: t",
		"img.example.test")
	if err != nil {
		t.Fatal(err)
	}
	cp := p.(*cloudflare.Provider)
	if cp.MaxItemsPerCall() != cloudflare.MaxFilesPerCallDefault {
		t.Errorf("MaxItemsPerCall = %d", cp.MaxItemsPerCall())
	}
	items, _ := cp.Plan(all("a.jpg"))
	if want := []string{"https://img.example.test/image/" + imageID + "/a.jpg"}; !slices.Equal(items, want) {
		t.Errorf("Plan = %q, want %q", items, want)
	}
}
