package akamai_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/imgpurge/imgpurge/internal/providertest"
	"github.com/imgpurge/imgpurge/internal/purge"
	"github.com/imgpurge/imgpurge/providers/akamai"
)

func TestPlanURLs(t *testing.T) {
	t.Parallel()
	b := setup(t, emptyOpts, "url_scheme: http\n", "img.example.test", "Images.Example.Test")
	tg := purge.Target{ImageID: imageID, Renditions: []string{"640x360.jpg", "1280x720.webp"}}
	providertest.CheckPlan(t, b.p, tg, []string{
		"http://img.example.test/image/" + imageID + "/640x360.jpg",
		"http://images.example.test/image/" + imageID + "/640x360.jpg",
		"http://img.example.test/image/" + imageID + "/1280x720.webp",
		"http://images.example.test/image/" + imageID + "/1280x720.webp",
	})
	if _, err := b.p.Plan(purge.Target{ImageID: imageID, All: true}); !errors.Is(err, akamai.ErrNeedsNames) {
		t.Errorf("Plan of every rendition with no names = %v, want ErrNeedsNames", err)
	}
}

func TestPlanTags(t *testing.T) {
	t.Parallel()
	b := setup(t, emptyOpts, "type: tag\n")
	long := strings.Repeat("x", 100) + ".jpg"
	tests := []struct {
		name   string
		target purge.Target
		want   []string
	}{
		{"All", purge.Target{ImageID: imageID, All: true, Renditions: []string{"a.jpg"}},
			[]string{"image-" + imageID}},
		{"Renditions", purge.Target{ImageID: imageID, Renditions: []string{"640x360.jpg", "café 1.jpg", "a/b*"}},
			[]string{"image-" + imageID + "/640x360.jpg", "image-" + imageID + "/caf%C3%A9%201.jpg",
				"image-" + imageID + "/a%2Fb%2A"}},
		{"TooLongFallsBackToImageTag", purge.Target{ImageID: imageID, Renditions: []string{long, "z.jpg"}},
			[]string{"image-" + imageID, "image-" + imageID + "/z.jpg"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			providertest.CheckPlan(t, b.p, tt.target, tt.want)
		})
	}
}

func TestSettingsErrorsNameTheField(t *testing.T) {
	t.Parallel()
	const creds = "client_token: t\nclient_secret: s\naccess_token: a\n"
	const base = "host: akab-x.luna.akamaiapis.net\n" + creds
	hosts := []string{"img.example.test"}
	tests := []struct {
		name, doc, field string
		hosts            []string
	}{
		{"NoHost", creds, "host:", hosts},
		{"HostWithScheme", "host: https://akab-x\n" + creds, "host:", hosts},
		{"NoSecret", "host: h\nclient_token: t\naccess_token: a\n", "client_secret:", hosts},
		{"NoClientToken", "host: h\nclient_secret: s\naccess_token: a\n", "client_token:", hosts},
		{"NoAccessToken", "host: h\nclient_token: t\nclient_secret: s\n", "access_token:", hosts},
		{"Scheme", base + "scheme: ftp\n", "scheme:", hosts},
		{"Action", base + "action: remove\n", "action:", hosts},
		{"Type", base + "type: cpcode\n", "type:", hosts},
		{"Network", base + "network: prod\n", "network:", hosts},
		{"NoPublicHosts", base, "public_hosts:", nil},
		{"PathTemplateWildcard", base + "path_template: /i/{id}/*/{rendition}\n", "path_template:", hosts},
		{"TagTemplateColon", base + "type: tag\ntag_template: \"img:{id}\"\n", "tag_template:", nil},
		{"RenditionTagTemplate", base + "type: tag\nrendition_tag_template: x-{id}\n", "rendition_tag_template:", nil},
		{"RequestBytesOverLimit", base + "max_request_bytes: 60000\n", "max_request_bytes:", hosts},
		{"TooManyTags", base + "type: tag\nmax_objects_per_call: 6000\n", "max_objects_per_call:", nil},
		{"Concurrency", base + "concurrency: 0\nmax_objects_per_call: -1\n", "max_objects_per_call:", hosts},
		{"UnknownField", base + "edgerc: x\n", "edgerc", hosts},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := newProvider(tt.doc, tt.hosts)
			if err == nil || !strings.Contains(err.Error(), tt.field) {
				t.Errorf("New = %v, want an error naming %q", err, tt.field)
			}
		})
	}
}
