package fastly_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/imgpurge/imgpurge/internal/providertest"
	"github.com/imgpurge/imgpurge/internal/purge"
	"github.com/imgpurge/imgpurge/providers/fastly"
)

func TestPlanKeys(t *testing.T) {
	t.Parallel()
	b := setup(t, "")
	long := strings.Repeat("x", 1100) + ".jpg"
	tests := []struct {
		name   string
		target purge.Target
		want   []string
	}{
		{"All", purge.Target{ImageID: imageID, All: true, Renditions: []string{"a.jpg"}},
			[]string{"image-" + imageID}},
		{"Renditions", purge.Target{ImageID: imageID, Renditions: []string{"640x360.jpg", "café 640.jpg"}},
			[]string{"image-" + imageID + "/640x360.jpg", "image-" + imageID + "/caf%C3%A9%20640.jpg"}},
		{"NoWidening", purge.Target{ImageID: imageID, Renditions: []string{"../x y", "a/b", "%2F"}},
			[]string{"image-" + imageID + "/..%2Fx%20y", "image-" + imageID + "/a%2Fb", "image-" + imageID + "/%252F"}},
		{"TooLongFallsBackToImageKey", purge.Target{ImageID: imageID, Renditions: []string{long, long + "2", "a.jpg"}},
			[]string{"image-" + imageID, "image-" + imageID + "/a.jpg"}},
		{"Nothing", purge.Target{ImageID: imageID}, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			providertest.CheckPlan(t, b.p, tt.target, tt.want)
		})
	}
}

func TestPlanKeyTemplates(t *testing.T) {
	t.Parallel()
	b := setup(t, "key_template: \"img:{id}\"\nrendition_key_template: \"img:{id}:{rendition}\"\n")
	providertest.CheckPlan(t, b.p, purge.Target{ImageID: imageID, Renditions: []string{"a b.jpg"}},
		[]string{"img:" + imageID + ":a%20b.jpg"})
}

func TestPlanURLs(t *testing.T) {
	t.Parallel()
	b := setup(t, "mode: urls\npath_template: /v1/{id}/r/{rendition}\n", "img.example.test", "IMAGES.example.test")
	tg := purge.Target{ImageID: imageID, Renditions: []string{"640x360.jpg", "1280x720.webp"}}
	providertest.CheckPlan(t, b.p, tg, []string{
		"https://img.example.test/v1/" + imageID + "/r/640x360.jpg",
		"https://images.example.test/v1/" + imageID + "/r/640x360.jpg",
		"https://img.example.test/v1/" + imageID + "/r/1280x720.webp",
		"https://images.example.test/v1/" + imageID + "/r/1280x720.webp",
	})
	if _, err := b.p.Plan(purge.Target{ImageID: imageID, All: true}); !errors.Is(err, fastly.ErrNeedsNames) {
		t.Errorf("Plan of every rendition with no names = %v, want ErrNeedsNames", err)
	}
}

func TestSettingsErrorsNameTheField(t *testing.T) {
	t.Parallel()
	const base = "service_id: SID\napi_token: k\nbase_url: http://127.0.0.1:1\n"
	tests := []struct {
		name, doc, field string
		hosts            []string
	}{
		{"NoService", "api_token: k\n", "service_id:", nil},
		{"NoToken", "service_id: SID\n", "api_token:", nil},
		{"BadBaseURL", "service_id: SID\napi_token: k\nbase_url: ftp://x\n", "base_url:", nil},
		{"BadMode", base + "mode: tags\n", "mode:", nil},
		{"URLsWithoutHosts", base + "mode: urls\n", "public_hosts:", nil},
		{"HostWithScheme", base + "mode: urls\n", "public_hosts:", []string{"https://img.example.test"}},
		{"PathTemplate", base + "mode: urls\npath_template: image/{id}\n", "path_template:", []string{"h"}},
		{"KeyTemplateWithRendition", base + "key_template: x-{id}-{rendition}\n", "key_template:", nil},
		{"KeyTemplateWithSpace", base + "rendition_key_template: \"a {id}/{rendition}\"\n", "rendition_key_template:", nil},
		{"Concurrency", base + "concurrency: 100\n", "concurrency:", nil},
		{"UnknownField", base + "surrogate: x\n", "surrogate", nil},
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
