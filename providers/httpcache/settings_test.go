package httpcache_test

import (
	"strings"
	"testing"
)

// TestBadSettings: each mistake is a start-up error naming its field.
func TestBadSettings(t *testing.T) {
	t.Parallel()
	hosts := []string{"img.example.test"}
	for _, c := range []struct {
		field    string
		settings map[string]any
		hosts    []string
	}{
		{"nodes", map[string]any{}, hosts},
		{"nodes[0]", map[string]any{"nodes": []string{"ftp://cache:21"}}, hosts},
		{"nodes[0]", map[string]any{"nodes": []string{"http://"}}, hosts},
		{"nodes[0]", map[string]any{"nodes": []string{"http://cache:6081/varnish"}}, hosts},
		{"nodes[0]", map[string]any{"nodes": []string{"http://cache:6081/?a=b"}}, hosts},
		{"method", with("method", "delete"), hosts},
		{"path_template", with("path_template", "/image/{rendition}"), hosts},
		{"path_template", with("path_template", "image/{id}/{rendition}"), hosts},
		{"path_template", with("path_template", "/{rendition}/{id}"), hosts},
		{"path_template", with("path_template", "/i?x=1/{id}/{rendition}"), hosts},
		{"path_template", with("path_template", "/a/../{id}/{rendition}"), hosts},
		{"purge_method", with("purge_method", "PUR GE"), hosts},
		{"purge_location", with("purge_location", "purge"), hosts},
		{"purge_location", with("purge_location", "/purge/"), hosts},
		{"xkey_image", with("xkey_image", "all"), hosts},
		{"xkey_image", with("xkey_image", "i-{id}-{rendition}"), hosts},
		{"xkey_image", with("xkey_image", "image/{id}"), hosts},
		{"xkey_rendition", with("xkey_rendition", "r-{id}"), hosts},
		{"xkey_rendition", with("xkey_rendition", "r {id}/{rendition}"), hosts},
		{"xkey_rendition", with("xkey_rendition", "{rendition}/{id}"), hosts},
		// img:a:b would be both image "a:b" and rendition "b" of image "a".
		{"xkey_rendition", with("xkey_image", "img:{id}",
			"xkey_rendition", "img:{id}:{rendition}"), hosts},
		{"headers.Bad Name", with("headers", map[string]string{"Bad Name": "x"}), hosts},
		{"headers.Host", with("headers", map[string]string{"Host": "x"}), hosts},
		{"headers.X-Token", with("headers", map[string]string{"X-Token": "a\nb"}), hosts},
		{"concurrency", with("concurrency", -1), hosts},
		{"public_hosts", with(), nil},
		{"public_hosts", with("method", "ban"), nil},
		{`unknown setting "noddes"`, map[string]any{"noddes": []string{node}}, hosts},
	} {
		_, err := build(c.hosts, c.settings)
		if err == nil || !strings.Contains(err.Error(), c.field) {
			t.Errorf("settings %v: error %v, want one naming %s", c.settings, err, c.field)
		}
	}
}

// with returns valid settings on one node plus the given key, value pairs.
func with(kv ...any) map[string]any {
	s := map[string]any{"nodes": []string{node}}
	for i := 0; i+1 < len(kv); i += 2 {
		s[kv[i].(string)] = kv[i+1]
	}
	return s
}

// TestCredentialsStayOut: a node URL with credentials is refused without
// repeating the password, and a secret header never shows in an error.
func TestCredentialsStayOut(t *testing.T) {
	t.Parallel()
	hosts := []string{"img.example.test"}
	_, err := build(hosts, map[string]any{"nodes": []string{"http://u:hunter2@cache:6081"}})
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error = %v, want a refusal without the password", err)
	}
	_, err = build(hosts, with("headers", map[string]string{"X-Token": "hunter2\r\n"}))
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error = %v, want a refusal without the value", err)
	}
}

// TestGoodSettings: the defaults need only nodes (and hosts); xkey needs no
// hosts because keys carry none.
func TestGoodSettings(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		settings map[string]any
		hosts    []string
	}{
		{map[string]any{"nodes": []string{node}}, []string{"img.example.test"}},
		{map[string]any{"nodes": []string{node, "https://cache-2.internal/"}, "method": "nginx",
			"purge_method": "GET", "concurrency": 2}, []string{"img.example.test"}},
		{map[string]any{"nodes": []string{node}, "method": "xkey", "xkey_image": "img:{id}",
			"xkey_rendition": "img:{id}/{rendition}"}, nil},
	} {
		if _, err := build(c.hosts, c.settings); err != nil {
			t.Errorf("settings %v: %v", c.settings, err)
		}
	}
}
