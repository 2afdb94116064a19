package cloudfront_test

import (
	"fmt"
	"slices"
	"testing"

	emu "github.com/imgpurge/imgpurge/internal/emulator/cloudfront"
	"github.com/imgpurge/imgpurge/internal/purge"
)

func emuOptions() emu.Options { return emu.Options{} }

func names(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%dx%d.jpg", 100+i, 100+i)
	}
	return out
}

func TestPlanEncoding(t *testing.T) {
	t.Parallel()
	b := setup(t, emuOptions(), "")
	tests := []struct {
		rendition string
		want      []string
	}{
		{"640x360.jpg", []string{base + "640x360.jpg"}},
		{"640x360 q=80.jpg", []string{base + "640x360%20q=80.jpg"}},
		{"café.jpg", []string{base + "caf%C3%A9.jpg"}},
		{"50%.jpg", []string{base + "50%25.jpg"}},
		{"a#b.jpg", []string{base + "a%23b.jpg"}},
		{`q"<>[\]^{|}` + "`.jpg", []string{base + "q%22%3C%3E%5B%5C%5D%5E%7B%7C%7D%60.jpg"}},
		{"tab\t.jpg", []string{base + "tab%09.jpg"}},
		{"a+b,c;d@e:f&g$h'(i)!.jpg", []string{base + "a+b,c;d@e:f&g$h'(i)!.jpg"}},
		// No exact path matches these: the image's wildcard covers them.
		{"v~2.jpg", []string{base + "*"}},
		{"a*b.jpg", []string{base + "*"}},
		{"what?.jpg", []string{base + "*"}},
	}
	for _, tc := range tests {
		t.Run(tc.rendition, func(t *testing.T) {
			t.Parallel()
			got := b.plan(t, tc.rendition)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("Plan(%q) = %q, want %q", tc.rendition, got, tc.want)
			}
		})
	}
}

func TestPlanRefusesNamesOutsideTheImage(t *testing.T) {
	t.Parallel()
	b := setup(t, emuOptions(), "")
	for _, r := range []string{"", ".", "..", "../other/x.jpg", "a/b.jpg"} {
		if items, err := b.p.Plan(purge.Target{ImageID: imageID, Renditions: []string{r}}); err == nil {
			t.Errorf("Plan(%q) = %q, want an error", r, items)
		}
	}
	for _, id := range []string{"a/b", "..", "a~b"} {
		if items, err := b.p.Plan(purge.Target{ImageID: id, Renditions: []string{"x.jpg"}}); err == nil {
			t.Errorf("Plan(id %q) = %q, want an error", id, items)
		}
	}
}

func TestPlanWildcardRule(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		extra    string
		target   purge.Target
		wantLen  int
		wildcard bool
	}{
		{"AllWithNamesUsesExactPaths", "",
			purge.Target{ImageID: imageID, All: true, Renditions: names(3)}, 3, false},
		{"AllWithoutNamesUsesWildcard", "",
			purge.Target{ImageID: imageID, All: true}, 1, true},
		{"NothingSelected", "", purge.Target{ImageID: imageID}, 0, false},
		{"ThresholdZeroAlwaysWildcard", "wildcard_threshold: 0\n",
			purge.Target{ImageID: imageID, Renditions: names(1)}, 1, true},
		{"ThresholdHigh", "wildcard_threshold: 50\n",
			purge.Target{ImageID: imageID, Renditions: names(50)}, 50, false},
		{"AboveThreshold", "wildcard_threshold: 2\n",
			purge.Target{ImageID: imageID, Renditions: names(3)}, 1, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, emuOptions(), tc.extra)
			items, err := b.p.Plan(tc.target)
			if err != nil {
				t.Fatal(err)
			}
			if len(items) != tc.wantLen || slices.Contains(items, base+"*") != tc.wildcard {
				t.Fatalf("Plan = %q", items)
			}
		})
	}
}

func TestPlanPathTemplate(t *testing.T) {
	t.Parallel()
	b := setup(t, emuOptions(), "path_template: /media/v2/{id}/r/{rendition}\n")
	got := b.plan(t, "a b.jpg", "v~1.jpg")
	want := []string{"/media/v2/" + imageID + "/r/a%20b.jpg", "/media/v2/" + imageID + "/r/*"}
	if !slices.Equal(got, want) {
		t.Fatalf("Plan = %q, want %q", got, want)
	}
}
