package app_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/imgpurge/imgpurge/internal/app"
	"github.com/imgpurge/imgpurge/internal/apptest"
	"github.com/imgpurge/imgpurge/internal/auth"
	"github.com/imgpurge/imgpurge/internal/config"
	cfemu "github.com/imgpurge/imgpurge/internal/emulator/cloudflare"
	emu "github.com/imgpurge/imgpurge/internal/emulator/cloudfront"
)

// lockedBuffer collects logs written from many goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestMetricsAndSecrets purges through files and the CloudFront emulator,
// once successfully and once into the journal, then scrapes /metrics for
// every metric the service promises, and checks that the secret access key
// given through the environment never reaches a log line.
func TestMetricsAndSecrets(t *testing.T) {
	const secret = "s3cr3t-cloudfront-key-value"
	e := emu.New(emu.Options{Credentials: map[string]string{emu.TestAccessKeyID: secret}})
	cf := httptest.NewServer(e)
	defer cf.Close()
	t.Setenv("IMGPURGE_TEST_CF_SECRET", secret)

	dir := t.TempDir()
	doc := fmt.Sprintf(`
data_dir: %s
log_level: debug
auth: {mode: dev, audience: purge-api}
retry: {base: 1ms, max_attempts: 2}
journal: {retry_base: 1h, retry_max: 1h}
datastores:
  - name: media
    default: true
    tenants: ["*"]
    public_hosts: [img.example.test]
    layers:
      - {name: derivatives, kind: fs, tier: 0, settings: {root: %s}}
      - name: cloudfront
        kind: cloudfront
        tier: 2
        coalesce_window: 5ms
        rate_limit: {per_second: 50, burst: 1}
        settings:
          distribution_id: %s
          endpoint: %s
          access_key_id: %s
          secret_access_key: ${IMGPURGE_TEST_CF_SECRET}
`, dir, filepath.Join(dir, "d"), emu.TestDistribution, cf.URL, emu.TestAccessKeyID)
	cfg, err := config.Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	logs := &lockedBuffer{}
	a, err := app.New(context.Background(), cfg, app.NewLogger(logs, "debug"))
	if err != nil {
		t.Fatal(err)
	}
	base := apptest.Serve(t, a)
	tok, _ := auth.MintDev(cfg.Auth, cfg.DataDir, "cms", []string{"any"}, time.Minute)

	del := func(id string) int {
		_ = os.MkdirAll(filepath.Join(dir, "d", id), 0o755)
		_ = os.WriteFile(filepath.Join(dir, "d", id, "640x360.jpg"), nil, 0o644)
		req, _ := http.NewRequest("DELETE", base+"/image/"+id, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	// Two purges back to back: the second waits for the bucket.
	if s := del("1e8a9135-5976-4de8-9c27-64cc33bf9b01"); s != 200 {
		t.Fatalf("first purge: %d", s)
	}
	if s := del("1e8a9135-5976-4de8-9c27-64cc33bf9b02"); s != 200 {
		t.Fatalf("second purge: %d", s)
	}
	e.SetFault(&emu.Fault{Code: "ServiceUnavailable", Status: 503})
	if s := del("1e8a9135-5976-4de8-9c27-64cc33bf9b03"); s != 500 {
		t.Fatalf("failing purge: %d", s)
	}

	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`imgpurge_http_requests_total{code="0",method="DELETE",route="/image/{id}",status="200"} 2`,
		`imgpurge_http_requests_total{code="40420290",method="DELETE",route="/image/{id}",status="500"} 1`,
		`imgpurge_http_request_duration_seconds_bucket{method="DELETE",route="/image/{id}"`,
		`imgpurge_provider_call_duration_seconds_count{layer="cloudfront",provider="cloudfront"}`,
		`imgpurge_layer_outcomes_total{layer="cloudfront",outcome="failed",provider="cloudfront",reason="ServiceUnavailable"} 1`,
		`imgpurge_layer_outcomes_total{layer="derivatives",outcome="succeeded",provider="fs",reason=""} 3`,
		`imgpurge_provider_retries_total{layer="cloudfront",provider="cloudfront"} 1`,
		`imgpurge_ratelimit_waits_total{account="cloudfront/`,
		`imgpurge_coalesced_batch_items_count{account="cloudfront/`,
		`imgpurge_journal_purges{state="failed"} 0`,
		`imgpurge_journal_purges{state="pending"} 1`,
		`imgpurge_journal_oldest_pending_age_seconds `,
		`imgpurge_time_to_consistency_seconds_count 2`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if t.Failed() {
		t.Logf("metrics:\n%s", grep(string(body), "imgpurge_"))
	}
	if strings.Contains(logs.String(), secret) {
		t.Fatal("the secret access key reached the logs")
	}
	if !strings.Contains(logs.String(), `"msg":"purge incomplete"`) {
		t.Fatalf("expected purge summary lines in the logs:\n%s", logs.String())
	}
}

func grep(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestLayersOfOneZoneKeepTheirOwnMode: two datastores purge the same
// Cloudflare zone, one by prefixes and one by tags. Each layer's items must
// reach the emulator as its own kind, not the first layer's.
func TestLayersOfOneZoneKeepTheirOwnMode(t *testing.T) {
	e := cfemu.New(cfemu.Options{})
	cf := httptest.NewServer(e)
	defer cf.Close()
	dir := t.TempDir()
	layer := func(mode string) string {
		return fmt.Sprintf(`
      - name: cloudflare
        kind: cloudflare
        tier: 2
        coalesce_window: 5ms
        settings: {zone_id: %s, zone: example.test, api_token: %s, base_url: %s/client/v4, %s}`,
			cfemu.DefaultZoneID, cfemu.DefaultToken, cf.URL, mode)
	}
	doc := fmt.Sprintf(`
data_dir: %s
auth: {mode: dev, audience: purge-api}
datastores:
  - name: shop
    tenants: ["*"]
    public_hosts: [shop.example.test]
    layers:%s
  - name: media
    default: true
    tenants: ["*"]
    public_hosts: [img.example.test]
    layers:%s
`, dir, layer("mode: tags, tag_template: 'shop-img-{id}'"), layer("mode: prefixes"))
	cfg, err := config.Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	base := apptest.ServeConfig(t, cfg)
	tok, _ := auth.MintDev(cfg.Auth, cfg.DataDir, "cms", []string{"any"}, time.Minute)
	const id = "1e8a9135-5976-4de8-9c27-64cc33bf9baa"
	for _, ds := range []string{"media", "shop"} {
		req, _ := http.NewRequest("DELETE", base+"/image/"+id+"?datastore="+ds, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s: status %d", ds, resp.StatusCode)
		}
	}
	got := map[string][]string{}
	for _, c := range e.Calls() {
		got[c.Kind] = append(got[c.Kind], c.Items...)
	}
	if want := []string{"img.example.test/image/" + id + "/"}; !slices.Equal(got["prefixes"], want) {
		t.Errorf("prefixes = %q, want %q", got["prefixes"], want)
	}
	if want := []string{"shop-img-" + id}; !slices.Equal(got["tags"], want) {
		t.Errorf("tags = %q, want %q", got["tags"], want)
	}
}
