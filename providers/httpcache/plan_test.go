package httpcache_test

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/imgpurge/imgpurge/internal/purge"
	"github.com/imgpurge/imgpurge/providers/httpcache"
)

const node = "http://127.0.0.1:6081"

// TestPlanItems pins the item formats the journal stores, for case C9's
// two public hosts.
func TestPlanItems(t *testing.T) {
	t.Parallel()
	hosts := []string{"img.example.test", "Images.Example.Test"}
	id := imageA
	target := purge.Target{ImageID: id, Renditions: []string{"1280x720.webp", "640x360.jpg"}}
	for _, c := range []struct {
		method string
		want   []string
	}{
		{"purge", []string{
			"PURGE img.example.test /image/" + id + "/1280x720.webp",
			"PURGE images.example.test /image/" + id + "/1280x720.webp",
			"PURGE img.example.test /image/" + id + "/640x360.jpg",
			"PURGE images.example.test /image/" + id + "/640x360.jpg",
		}},
		{"nginx", []string{
			"PURGE img.example.test /image/" + id + "/1280x720.webp",
			"PURGE images.example.test /image/" + id + "/1280x720.webp",
			"PURGE img.example.test /image/" + id + "/640x360.jpg",
			"PURGE images.example.test /image/" + id + "/640x360.jpg",
		}},
		{"ban", []string{
			`BAN img.example.test ^/image/` + id + `/(1280x720\.webp|640x360\.jpg)$`,
			`BAN images.example.test ^/image/` + id + `/(1280x720\.webp|640x360\.jpg)$`,
		}},
		{"xkey", []string{
			"XKEY image-" + id + "/1280x720.webp",
			"XKEY image-" + id + "/640x360.jpg",
		}},
	} {
		p := onNode(t, hosts, c.method, node)
		items, err := p.Plan(target)
		if err != nil || !slices.Equal(items, c.want) {
			t.Errorf("%s: Plan = %q, %v\nwant %q", c.method, items, err, c.want)
		}
	}
}

// TestPlanAll: a target covering every rendition bans or keys the whole
// image, listed renditions or not; PURGE can only name renditions, so it
// needs them listed.
func TestPlanAll(t *testing.T) {
	t.Parallel()
	hosts := []string{"img.example.test"}
	all := purge.Target{ImageID: imageA, All: true}
	for method, want := range map[string][]string{
		"ban":  {"BAN img.example.test ^/image/" + imageA + "/"},
		"xkey": {"XKEY image-" + imageA},
	} {
		p := onNode(t, hosts, method, node)
		listed := purge.Target{ImageID: imageA, All: true, Renditions: []string{"a.jpg"}}
		for _, target := range []purge.Target{all, listed} {
			if items, err := p.Plan(target); err != nil || !slices.Equal(items, want) {
				t.Errorf("%s %+v: Plan = %q, %v, want %q", method, target, items, err, want)
			}
		}
	}
	for _, method := range []string{"purge", "nginx"} {
		p := onNode(t, hosts, method, node)
		if items, err := p.Plan(all); err == nil {
			t.Errorf("%s: Plan of every rendition, none listed = %q, want an error", method, items)
		}
		listed := all
		listed.Renditions = []string{"a.jpg", "b.jpg"}
		if items, err := p.Plan(listed); err != nil || len(items) != 2 {
			t.Errorf("%s: Plan of listed renditions = %q, %v", method, items, err)
		}
	}
}

// TestBanRegexMatchesOnlyItsNames checks the regexes Plan writes with Go's
// regexp (Varnish's PCRE treats these escapes alike; the Varnish test
// checks the real thing): each matches its own renditions' paths and no
// other path, for names full of regex syntax.
func TestBanRegexMatchesOnlyItsNames(t *testing.T) {
	t.Parallel()
	p := onNode(t, []string{"img.example.test"}, "ban", node)
	names := []string{"a.b", "a+b", "x$y", ".*", "(a|b)", "[ab]", `\d`, "^a", "a{2}", "?",
		"a b", "é"}
	others := []string{"aXb", "aab", "xy", "x", "anything", "a", "b", "ab", "d", "aa", "", "a.b.c"}
	items := plan(t, p, imageA, names...)
	if len(items) != 1 {
		t.Fatalf("items = %q", items)
	}
	re := regexp.MustCompile(strings.Fields(items[0])[2])
	path := func(id, r string) string { return uri(id, r) }
	for _, n := range names {
		if !re.MatchString(path(imageA, n)) {
			t.Errorf("ban %s misses %q", re, n)
		}
		if re.MatchString(path(imageB, n)) {
			t.Errorf("ban %s reaches the other image's %q", re, n)
		}
	}
	for _, o := range others {
		if re.MatchString(path(imageA, o)) {
			t.Errorf("ban %s reaches %q", re, o)
		}
	}
}

// TestBanSplitsLongLists: many renditions make several bans, each short
// enough for a Varnish request header, together naming every rendition.
func TestBanSplitsLongLists(t *testing.T) {
	t.Parallel()
	p := onNode(t, []string{"img.example.test"}, "ban", node)
	var names []string
	for i := range 600 {
		names = append(names, fmt.Sprintf("%04dx%04d@2x.avif", i, i))
	}
	items := plan(t, p, imageA, names...)
	if len(items) < 2 {
		t.Fatalf("%d items for 600 renditions", len(items))
	}
	matched := map[string]bool{}
	for _, it := range items {
		rx := strings.Fields(it)[2]
		if len(rx) > httpcache.MaxBanRegex {
			t.Errorf("regex of %d bytes", len(rx))
		}
		re := regexp.MustCompile(rx)
		for _, n := range names {
			if re.MatchString(uri(imageA, n)) {
				matched[n] = true
			}
		}
	}
	if len(matched) != len(names) {
		t.Errorf("%d of %d renditions covered", len(matched), len(names))
	}
}

// TestPlanRefusesDotNames: "." and ".." survive URL escaping and would be
// read as dot segments.
func TestPlanRefusesDotNames(t *testing.T) {
	t.Parallel()
	p := onNode(t, []string{"img.example.test"}, "", node)
	for _, target := range []purge.Target{
		{ImageID: "..", Renditions: []string{"a.jpg"}},
		{ImageID: imageA, Renditions: []string{".."}},
		{ImageID: imageA, Renditions: []string{""}},
		{ImageID: "", All: true},
	} {
		if items, err := p.Plan(target); err == nil {
			t.Errorf("Plan(%+v) = %q, want an error", target, items)
		}
	}
}

// TestPathTemplate: a custom path keeps ids and names inside their segments.
func TestPathTemplate(t *testing.T) {
	t.Parallel()
	p := newProvider(t, []string{"img.example.test"}, map[string]any{"nodes": []string{node},
		"path_template": "/r/{id}/v1/{rendition}"})
	items := plan(t, p, "a/../b", "x/y.jpg")
	want := []string{"PURGE img.example.test /r/a%2F..%2Fb/v1/x%2Fy.jpg"}
	if !slices.Equal(items, want) {
		t.Errorf("Plan = %q, want %q", items, want)
	}
}

// TestXKeyHeader is the header the origin sends, matching what xkey purges.
func TestXKeyHeader(t *testing.T) {
	t.Parallel()
	got := httpcache.XKeyHeader("img 1", "a,b c.jpg")
	if want := "image-img%201 image-img%201/a%2Cb%20c.jpg"; got != want {
		t.Errorf("XKeyHeader = %q, want %q", got, want)
	}
}

// TestShippedNginxConfig guards the one line that would crash Debian's
// module: the same-location form of proxy_cache_purge.
func TestShippedNginxConfig(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../../deploy/nginx/imgpurge.conf")
	if err != nil {
		t.Fatal(err)
	}
	sameLocation := regexp.MustCompile(`proxy_cache_purge\s+\S+\s+from\b`)
	for i, line := range strings.Split(string(raw), "\n") {
		code, _, _ := strings.Cut(line, "#")
		if sameLocation.MatchString(code) {
			t.Errorf("line %d uses the same-location purge form: %s", i+1, line)
		}
	}
}
