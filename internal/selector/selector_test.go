package selector_test

import (
	"strings"
	"testing"

	"github.com/imgpurge/imgpurge/internal/selector"
)

func TestMatch(t *testing.T) {
	t.Parallel()
	names := []string{"640x360.jpg", "640x360.webp", "640x3600.jpg", "320x180@2x.avif", "640x360", "640x360\x10.jpg", "1280x720.jpg"}
	cases := map[string][]string{
		"":            names,
		"*":           names,
		"640x360.jpg": {"640x360.jpg"},
		"640x360":     {"640x360.jpg", "640x360.webp", "640x360"},
		"*x360.*":     {"640x360.jpg", "640x360.webp"},
		"*.jpg":       {"640x360.jpg", "640x3600.jpg", "640x360\x10.jpg", "1280x720.jpg"},
	}
	for sel, want := range cases {
		s, err := selector.Parse(sel)
		if err != nil {
			t.Fatalf("Parse(%q): %v", sel, err)
		}
		var got []string
		for _, n := range names {
			if s.Match(n) {
				got = append(got, n)
			}
		}
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("selector %q matched %q, want %q", sel, got, want)
		}
	}
}

func TestParseRefuses(t *testing.T) {
	t.Parallel()
	for _, sel := range []string{"a/b", `a\b`, "..", "../x.jpg", "x..jpg", ".", "[a-", "x\x00.jpg", "x\n.jpg",
		strings.Repeat("a", 256), "\xff.jpg", "a\ufffd.jpg", "gpj.\u202e640", "a\u200b.jpg"} {
		if _, err := selector.Parse(sel); err == nil {
			t.Errorf("Parse(%q) accepted", sel)
		}
	}
}

func TestIDRule(t *testing.T) {
	t.Parallel()
	uuid, _ := selector.NewIDRule("")
	legacy, _ := selector.NewIDRule(`[A-Za-z0-9-]{1,64}`)
	permissive, _ := selector.NewIDRule(`.*`)
	ok := map[*selector.IDRule][]string{
		&uuid:   {"1e8a9135-5976-4de8-9c27-64cc33bf9baa", "1E8A9135-5976-4DE8-9C27-64CC33BF9BAA"},
		&legacy: {"img-42", "img-420"},
	}
	bad := map[*selector.IDRule][]string{
		&uuid:       {"img-42", "1e8a9135-5976-4de8-9c27-64cc33bf9baa0", "", "1e8a9135-5976-4de8-9c27-64cc33bf9ba"},
		&legacy:     {"img_42", strings.Repeat("a", 65)},
		&permissive: {"..", "a/b", "a%2Fb", "a b", "a\x00", "a*", "a?", "a[", strings.Repeat("a", 256), ".", "a\tb"},
	}
	for r, ids := range ok {
		for _, id := range ids {
			if err := r.Check(id); err != nil {
				t.Errorf("Check(%q): %v", id, err)
			}
		}
	}
	for r, ids := range bad {
		for _, id := range ids {
			if err := r.Check(id); err == nil {
				t.Errorf("Check(%q) accepted", id)
			}
		}
	}
}
