package providerkit_test

import (
	"strings"
	"testing"

	"github.com/imgpurge/imgpurge/internal/providerkit"
)

func TestCheckKeyPlaceholders(t *testing.T) {
	t.Parallel()
	tests := []struct {
		tmpl          string
		withRendition bool
		wantErr       string
	}{
		{"image-{id}", false, ""},
		{"image-{id}/{rendition}", true, ""},
		{"image", false, "{id} once"},
		{"{id}-{id}", false, "{id} once"},
		{"image-{id}", true, "{rendition} once"},
		{"image-{id}/{rendition}", false, "must not contain {rendition}"},
	}
	for _, tt := range tests {
		err := providerkit.CheckKeyPlaceholders(tt.tmpl, tt.withRendition)
		if !matches(err, tt.wantErr) {
			t.Errorf("CheckKeyPlaceholders(%q, %v) = %v, want %q",
				tt.tmpl, tt.withRendition, err, tt.wantErr)
		}
	}
}

func TestCheckPathTemplate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		tmpl, refuse, wantErr string
	}{
		{"/image/{id}/{rendition}", "", ""},
		{"/image/{id}/*/{rendition}", "", ""},
		{"image/{id}/{rendition}", "", `start with "/"`},
		{"/image/{id}", "", "once each"},
		{"/image/{id}/{rendition}?x", "", `must not contain "?", "#", spaces or ".."`},
		{"/image/../{id}/{rendition}", "", `".."`},
		{"/image/{id}/*/{rendition}", "*", `must not contain "?", "#", "*", spaces or ".."`},
		{"/imagé/{id}/{rendition}", "", "must be percent-encoded"},
	}
	for _, tt := range tests {
		err := providerkit.CheckPathTemplate(tt.tmpl, tt.refuse)
		if !matches(err, tt.wantErr) {
			t.Errorf("CheckPathTemplate(%q, %q) = %v, want %q", tt.tmpl, tt.refuse, err, tt.wantErr)
		}
	}
}

// matches reports whether err is nil when want is empty, or holds want.
func matches(err error, want string) bool {
	if want == "" {
		return err == nil
	}
	return err != nil && strings.Contains(err.Error(), want)
}
