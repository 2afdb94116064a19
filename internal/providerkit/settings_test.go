package providerkit_test

import (
	"strings"
	"testing"

	"github.com/imgpurge/imgpurge/internal/config"
	"github.com/imgpurge/imgpurge/internal/providerkit"
)

func TestProblemsNameTheirField(t *testing.T) {
	t.Parallel()
	var p providerkit.Problems
	if p.Err() != nil {
		t.Fatal("no problem recorded, yet Err is not nil")
	}
	p.Add("bucket", "required")
	p.OneOf("mode", "tags", "keys", "urls")
	p.OneOf("scheme", "https", "https", "http")
	want := "bucket: required\nmode: \"tags\" is not one of keys, urls"
	if err := p.Err(); err == nil || err.Error() != want {
		t.Errorf("Err = %v, want %q", err, want)
	}
}

func TestDefault(t *testing.T) {
	t.Parallel()
	s, n, set := "", 0, "kept"
	providerkit.Default(&s, "d")
	providerkit.Default(&n, 4)
	providerkit.Default(&set, "d")
	var b *bool
	providerkit.DefaultPtr(&b, true)
	if s != "d" || n != 4 || set != "kept" || b == nil || !*b {
		t.Errorf("got %q %d %q %v, want the defaults where left out", s, n, set, b)
	}
}

func TestCheckHost(t *testing.T) {
	t.Parallel()
	for h, ok := range map[string]bool{
		"img.example.test": true, "img.example.test:8080": true,
		"": false, "https://img.example.test": false, "img.example.test/x": false,
		"u@img.example.test": false, "img example": false,
	} {
		if err := providerkit.CheckHost(h); (err == nil) != ok {
			t.Errorf("CheckHost(%q) = %v, want ok=%v", h, err, ok)
		}
	}
	if got := providerkit.LowerHosts([]string{"IMG.Example.Test"}); got[0] != "img.example.test" {
		t.Errorf("LowerHosts = %q", got)
	}
}

func TestCheckEndpoint(t *testing.T) {
	t.Parallel()
	tests := []struct{ endpoint, wantErr string }{
		{"", ""},
		{"http://127.0.0.1:7070", ""},
		{"https://proxy.example.test/base", ""},
		{"ftp://x", "not an http or https URL"},
		{"http://", "not an http or https URL"},
		{"https://key:secret@x.test", "must not carry credentials"},
		{"https://x.test/?a=b", "a query"},
		{"https://x.test/#f", "a fragment"},
	}
	for _, tt := range tests {
		err := providerkit.CheckEndpoint(tt.endpoint)
		if !matches(err, tt.wantErr) {
			t.Errorf("CheckEndpoint(%q) = %v, want %q", tt.endpoint, err, tt.wantErr)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("CheckEndpoint(%q) shows the password: %v", tt.endpoint, err)
		}
	}
}

func TestCheckAWSKeys(t *testing.T) {
	t.Parallel()
	id, secret, none := config.NewSecret("AKID"), config.NewSecret("s"), config.Secret{}
	if providerkit.CheckAWSKeys(id, secret) != nil || providerkit.CheckAWSKeys(none, none) != nil {
		t.Error("both or neither must be accepted")
	}
	if providerkit.CheckAWSKeys(id, none) == nil || providerkit.CheckAWSKeys(none, secret) == nil {
		t.Error("one key without the other must be refused")
	}
}
