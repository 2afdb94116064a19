package s3

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

func TestDefaults(t *testing.T) {
	t.Parallel()
	p := newProvider(t, "bucket: b\naccess_key_id: k\nsecret_access_key: s\n")
	s := p.set
	if s.Prefix != "derived/{id}/" || s.Region != "us-east-1" || s.RequestChecksum != "when_supported" ||
		!*s.ContentMD5 || s.MaxKeysPerBatch != 1000 || s.DeleteConcurrency != 4 || s.ForcePathStyle {
		t.Errorf("defaults = %+v", s)
	}
	o := p.client.Options()
	if o.RetryMaxAttempts != 1 || o.RequestChecksumCalculation != aws.RequestChecksumCalculationWhenSupported {
		t.Errorf("client: retry attempts %d, checksum %v", o.RetryMaxAttempts, o.RequestChecksumCalculation)
	}
}

// Every bad setting is a start-up error naming its field.
func TestBadSettings(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ doc, field string }{
		{"region: x\n", "bucket: required"},
		{"bucket: a/b\n", "bucket:"},
		{"bucket: b\nprefix: 'derived/'\n", "prefix:"},
		{"bucket: b\nprefix: 'derived/{id}'\n", "prefix:"},
		{"bucket: b\nprefix: '/derived/{id}/'\n", "prefix:"},
		{"bucket: b\nprefix: 'a/../{id}/'\n", "prefix:"},
		{"bucket: b\nprefix: '{id}/{id}/'\n", "prefix:"},
		{"bucket: b\nendpoint: ftp://h\n", "endpoint:"},
		{"bucket: b\nendpoint: http://u:pw@h\n", "endpoint:"},
		{"bucket: b\naccess_key_id: k\n", "secret_access_key:"},
		{"bucket: b\nrequest_checksum: always\n", "request_checksum:"},
		{"bucket: b\nmax_keys_per_batch: 1001\n", "max_keys_per_batch:"},
		{"bucket: b\ndelete_concurrency: -1\n", "delete_concurrency:"},
		{"bucket: b\nbuckt: c\n", "buckt"},
	} {
		_, err := build(tc.doc)
		if err == nil || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("settings %q: error %v, want one naming %q", tc.doc, err, tc.field)
		}
		if err != nil && strings.Contains(err.Error(), "pw") {
			t.Errorf("error %q shows a password", err)
		}
	}
}

func TestSecretsFromEnvironment(t *testing.T) {
	t.Setenv("IMGPURGE_TEST_S3_KEY", "env-key")
	t.Setenv("IMGPURGE_TEST_S3_SECRET", "env-secret")
	f, url := newFakeS3(t, &fakeS3{})
	p := newProvider(t, settingsFor(url, "${IMGPURGE_TEST_S3_KEY}", "${IMGPURGE_TEST_S3_SECRET}"))
	if _, err := p.List(context.Background(), imageC1); err != nil {
		t.Fatalf("List: %v", err)
	}
	auth := f.callsOf("ListObjectsV2")[0].header.Get("Authorization")
	if !strings.Contains(auth, "Credential=env-key/") {
		t.Errorf("Authorization = %q, want the key from the environment", auth)
	}
}

// Without keys in the settings the standard chain is used; here it finds
// environment credentials, with shared files and instance metadata shut off
// so nothing leaves 127.0.0.1.
func TestCredentialChain(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("AWS_ACCESS_KEY_ID", "chain-key")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "chain-secret")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	f, url := newFakeS3(t, &fakeS3{})
	p := newProvider(t, "bucket: "+bucket+"\nendpoint: "+url+"\nforce_path_style: true\n")
	if _, err := p.List(context.Background(), imageC1); err != nil {
		t.Fatalf("List: %v", err)
	}
	auth := f.callsOf("ListObjectsV2")[0].header.Get("Authorization")
	if !strings.Contains(auth, "Credential=chain-key/") {
		t.Errorf("Authorization = %q, want the chain's key", auth)
	}
	if got := p.client.Options().RetryMaxAttempts; got != 1 {
		t.Errorf("chain client retry attempts = %d, want 1", got)
	}
}

// A key XML cannot carry goes in the URL path of DeleteObject, after the
// bucket (path style), and arrives byte for byte.
func TestSingleDeleteKeyInPath(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var paths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.Host+r.URL.Path)
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	p := newProvider(t, settingsFor(srv.URL, "k", "s"))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _ = p.Purge(ctx, mustPlan(t, p, imageC1, "x\x01.jpg"))
	mu.Lock()
	defer mu.Unlock()
	want := strings.TrimPrefix(srv.URL, "http://") + "/" + bucket + "/derived/" + imageC1 + "/x\x01.jpg"
	if len(paths) != 1 || paths[0] != want {
		t.Errorf("requests = %q, want %q", paths, want)
	}
}
