package providerkit_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/imgpurge/imgpurge/internal/providerkit"
	"github.com/imgpurge/imgpurge/internal/purge"
)

func TestPlanKeys(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 40)
	tests := []struct {
		name   string
		target purge.Target
		want   []string
	}{
		{"All", purge.Target{ImageID: "a/b", All: true, Renditions: []string{"r"}},
			[]string{"img-a%2Fb"}},
		{"Escaped", purge.Target{ImageID: "id", Renditions: []string{"café 1.jpg", "a/b*", "~x_."}},
			[]string{"img-id/caf%C3%A9%201.jpg", "img-id/a%2Fb%2A", "img-id/~x_."}},
		{"TooLongBecomesTheImageKeyOnce",
			purge.Target{ImageID: "id", Renditions: []string{long, long + "y", "z"}},
			[]string{"img-id", "img-id/z"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := providerkit.PlanKeys(tt.target, "img-{id}", "img-{id}/{rendition}", 32)
			if !slices.Equal(got, tt.want) {
				t.Errorf("PlanKeys = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestPlanURLs(t *testing.T) {
	t.Parallel()
	target := purge.Target{ImageID: "{rendition}", Renditions: []string{"a b*:@.jpg", "x/y?#%"}}
	hosts := []string{"one.test", "two.test"}
	got := providerkit.PlanURLs(target, "https", hosts, "/i/{id}/{rendition}", "")
	want := []string{
		// A value never becomes a placeholder of its own.
		"https://one.test/i/%7Brendition%7D/a%20b*:@.jpg",
		"https://two.test/i/%7Brendition%7D/a%20b*:@.jpg",
		"https://one.test/i/%7Brendition%7D/x%2Fy%3F%23%25",
		"https://two.test/i/%7Brendition%7D/x%2Fy%3F%23%25",
	}
	if !slices.Equal(got, want) {
		t.Errorf("PlanURLs = %q, want %q", got, want)
	}
	got = providerkit.PlanURLs(target, "http", hosts[:1], "/i/{id}/{rendition}", "*")
	if want := "http://one.test/i/%7Brendition%7D/a%20b%2A:@.jpg"; got[0] != want {
		t.Errorf("PlanURLs encoding %q = %q, want %q", "*", got[0], want)
	}
}
