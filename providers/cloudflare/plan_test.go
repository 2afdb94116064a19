package cloudflare_test

import (
	"slices"
	"testing"

	"github.com/imgpurge/imgpurge/internal/purge"
)

// planOf builds a provider with settings extra and hosts, and plans target.
func planOf(t *testing.T, extra string, target purge.Target, hosts ...string) []string {
	t.Helper()
	p, err := build(t, "http://127.0.0.1:1/client/v4", extra, hosts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	items, err := p.Plan(target)
	if err != nil {
		t.Fatalf("Plan: %v", err)
	}
	return items
}

func TestEscaping(t *testing.T) {
	t.Parallel()
	const dir = "https://img.example.test/image/" + imageID + "/"
	for _, tc := range []struct{ rendition, want string }{
		{"café 640.jpg", "caf%C3%A9%20640.jpg"},
		{"640x360 q=80.jpg", "640x360%20q=80.jpg"},
		{"v~2.jpg", "v~2.jpg"},
		{"320x180@2x.avif", "320x180@2x.avif"},
		{"(1)!$&'*+,;=:.jpg", "(1)!$&'*+,;=:.jpg"},
		{"a/../b.jpg", "a%2F..%2Fb.jpg"},
		{"a?b#c%41.jpg", "a%3Fb%23c%2541.jpg"},
		{"640x360\x10.jpg", "640x360%10.jpg"},
		{`a"<>\^|[]{}.jpg`, "a%22%3C%3E%5C%5E%7C%5B%5D%7B%7D.jpg"},
		{"日本.png", "%E6%97%A5%E6%9C%AC.png"},
	} {
		t.Run(tc.rendition, func(t *testing.T) {
			t.Parallel()
			items := planOf(t, "", all(tc.rendition))
			if want := []string{dir + tc.want}; !slices.Equal(items, want) {
				t.Fatalf("Plan = %q, want %q", items, want)
			}
		})
	}
}

func TestPlanModes(t *testing.T) {
	t.Parallel()
	hosts := []string{"img.example.test", "images.example.test:8443", "IMG.example.test"}
	some := purge.Target{ImageID: imageID, Renditions: []string{"a.jpg"}}
	files := []string{
		"https://img.example.test/image/" + imageID + "/a.jpg",
		"https://images.example.test:8443/image/" + imageID + "/a.jpg",
	}
	for _, tc := range []struct {
		name, extra string
		target      purge.Target
		want        []string
	}{
		{"FilesAll", "", all("a.jpg"), files},
		{"FilesAllListedEmpty", "", purge.Target{ImageID: imageID, All: true, Listed: true}, []string{}},
		{"PrefixesAll", "mode: prefixes", all("a.jpg"),
			[]string{"img.example.test/image/" + imageID + "/", "images.example.test/image/" + imageID + "/"}},
		{"PrefixesSome", "mode: prefixes", some, files},
		{"TagsAll", "mode: tags\ntag_template: image-{id}", all("a.jpg"), []string{"image-" + imageID}},
		{"TagsSome", "mode: tags\ntag_template: image-{id}", some, files},
		{"HostsAll", "mode: hosts\nallow_whole_host: true", all(), []string{"img.example.test", "images.example.test"}},
		{"HostsSome", "mode: hosts\nallow_whole_host: true", some, files},
		{"Schemes", "schemes: [https, http]", some, []string{
			files[0], "http://img.example.test/image/" + imageID + "/a.jpg",
			files[1], "http://images.example.test:8443/image/" + imageID + "/a.jpg",
		}},
		{"PathTemplate", "path_template: /i/{id}/r/{rendition}", some, []string{
			"https://img.example.test/i/" + imageID + "/r/a.jpg",
			"https://images.example.test:8443/i/" + imageID + "/r/a.jpg",
		}},
		{"PrefixWithPathTemplate", "mode: prefixes\npath_template: /i/{id}/r/{rendition}", all(), []string{
			"img.example.test/i/" + imageID + "/r/", "images.example.test/i/" + imageID + "/r/",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := planOf(t, tc.extra, tc.target, hosts...)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("Plan = %q, want %q", got, tc.want)
			}
		})
	}
}

// Without a listing layer a whole-image purge has no names, and URLs have
// no wildcard: files mode says so rather than purging nothing.
func TestPlanFilesWithoutNames(t *testing.T) {
	t.Parallel()
	p, err := build(t, "http://127.0.0.1:1/client/v4", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Plan(all()); err == nil {
		t.Fatal("files mode planned a whole-image purge without names")
	}
}

func TestPlanRefusesBadTag(t *testing.T) {
	t.Parallel()
	p, err := build(t, "http://127.0.0.1:1/client/v4", "mode: tags\ntag_template: image-{id}")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Plan(purge.Target{ImageID: "a,b", All: true}); err == nil {
		t.Fatal("a tag with a comma was planned")
	}
}
