package cases

import (
	"bytes"
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/imgpurge/imgpurge/internal/app"
	"github.com/imgpurge/imgpurge/internal/apptest"
	"github.com/imgpurge/imgpurge/internal/config"
	flareemu "github.com/imgpurge/imgpurge/internal/emulator/cloudflare"
	frontemu "github.com/imgpurge/imgpurge/internal/emulator/cloudfront"
	"github.com/imgpurge/imgpurge/internal/testenv"
)

// The conventions of the cases.
const (
	imageID    = "1e8a9135-5976-4de8-9c27-64cc33bf9baa"
	imageDir   = "derived/" + imageID + "/"
	bucket     = "derived-bucket"
	publicHost = "img.example.test"
	realm      = "/realms/media"
	audience   = "purge-api"
	role       = "image-purger"
	tracking   = "trk-0001"
	// imagePath is a rendition's public path without its name.
	imagePath = "/image/" + imageID + "/"
)

// options change the fixture of the conventions for one case.
type options struct {
	// s3 are the fake store's quirks.
	s3 s3Rules
	// hosts are the public hosts; default img.example.test.
	hosts []string
	// flare configures the Cloudflare emulator.
	flare flareemu.Options
	// flareSettings are extra YAML lines of the cloudflare layer's settings.
	flareSettings []string
}

// fixture is imgpurged, in-process and configured as the conventions say,
// with every fake it talks to. Each case builds its own.
type fixture struct {
	t     *testing.T
	s3    *fakeS3
	node  *cacheNode
	front *frontemu.Emulator
	flare *flareemu.Emulator
	idp   *testenv.IdP
	logs  *syncBuffer
	// URL is where imgpurged answers.
	URL string
	// token is a valid bearer token of the conventions.
	token string
}

// newFixture starts the fakes and imgpurged.
func newFixture(t *testing.T, o options) *fixture {
	t.Helper()
	f := prepare(t, o)
	f.start(t, o)
	return f
}

// start builds imgpurged from the configuration and serves it.
func (f *fixture) start(t *testing.T, o options) {
	t.Helper()
	a, err := app.New(context.Background(), f.config(t, o), app.NewLogger(f.logs, "debug"))
	if err != nil {
		t.Fatalf("app.New: %v", err)
	}
	f.serve(t, a)
}

// prepare starts everything but imgpurged.
func prepare(t *testing.T, o options) *fixture {
	t.Helper()
	f := &fixture{
		t:     t,
		s3:    startFakeS3(t, bucket, o.s3),
		node:  startCacheNode(t),
		front: frontemu.New(frontemu.Options{}),
		flare: flareemu.New(o.flare),
		idp:   testenv.StartRealmIdP(t, realm),
		logs:  &syncBuffer{},
	}
	f.token = f.idp.Token(t, "rsa-1", map[string]any{"aud": audience, "realm_access": roles()})
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("imgpurged log:\n%s", f.logs.String())
		}
	})
	return f
}

func roles() map[string]any { return map[string]any{"roles": []string{role}} }

// config writes the configuration of the conventions and parses it as the
// service would read it from its file.
func (f *fixture) config(t *testing.T, o options) *config.Config {
	t.Helper()
	cfg, err := config.Parse([]byte(f.document(t, o)))
	if err != nil {
		t.Fatalf("fixture config: %v", err)
	}
	return cfg
}

func (f *fixture) document(t *testing.T, o options) string {
	t.Helper()
	hosts := o.hosts
	if len(hosts) == 0 {
		hosts = []string{publicHost}
	}
	front := httptest.NewServer(f.front)
	t.Cleanup(front.Close)
	flare := httptest.NewServer(f.flare)
	t.Cleanup(flare.Close)
	layers := fmt.Sprintf(layersDoc, f.s3.URL, f.node.URL,
		frontemu.TestDistribution, front.URL, frontemu.TestAccessKeyID, frontemu.TestSecretAccessKey,
		flareemu.DefaultZoneID, flareemu.DefaultZone, flareemu.DefaultToken, flare.URL,
		indent(o.flareSettings, "          "))
	return fmt.Sprintf(serviceDoc, t.TempDir(), f.idp.URL, audience, role,
		quoted(hosts), layers, quoted(hosts), layers)
}

// serviceDoc is imgpurged's configuration file: datastore media, the
// default, and legacy, whose ids need not be UUIDs (case C2). The issuer is
// the local IdP's realm, http://127.0.0.1:port/realms/media, standing in for
// https://idp.example.test/realms/media, which tests must not reach. The
// journal retries quickly so that tests can watch it finish.
const serviceDoc = `
data_dir: %s
request_timeout: 10s
shutdown_timeout: 3s
log_level: debug
auth:
  mode: oidc
  issuer: %s
  audience: %s
  algorithms: [RS256]
  required_claim: realm_access.roles
  required_value: %s
  discovery_timeout: 3s
journal:
  retry_base: 100ms
  retry_max: 400ms
  poll_interval: 100ms
  audit_flush_interval: 50ms
datastores:
  - name: media
    default: true
    tenants: [media]
    public_hosts: %s
    layers:%s
  - name: legacy
    tenants: [media]
    id_pattern: '[A-Za-z0-9-]{1,64}'
    public_hosts: %s
    layers:%s
`

const layersDoc = `
      - name: s3
        kind: s3
        tier: 0
        settings:
          bucket: derived-bucket
          endpoint: %s
          force_path_style: true
          access_key_id: AKIAFAKES3FIXTURE000
          secret_access_key: fake-s3-secret
      - name: origin
        kind: httpcache
        tier: 1
        settings:
          nodes: [%s]
          method: purge
      - name: cloudfront
        kind: cloudfront
        tier: 2
        settings:
          distribution_id: %s
          endpoint: %s
          access_key_id: %s
          secret_access_key: %s
      - name: cloudflare
        kind: cloudflare
        tier: 2
        settings:
          zone_id: %s
          zone: %s
          api_token: %s
          base_url: %s/client/v4
%s`

func quoted(items []string) string {
	return "[" + strings.Join(items, ", ") + "]"
}

func indent(lines []string, prefix string) string {
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(prefix + l + "\n")
	}
	return b.String()
}

// serve runs a on a loopback port until the test ends.
func (f *fixture) serve(t *testing.T, a *app.App) { f.URL = apptest.Serve(t, a) }

// seed puts renditions of the case's image into the fake store.
func (f *fixture) seed(names ...string) {
	for _, n := range names {
		f.s3.put(imageDir + n)
	}
}

// providerCalls counts every request any fake provider received, so a test
// can show that a refused request reached none.
func (f *fixture) providerCalls() int {
	return len(f.s3.callsOf("")) + len(f.node.requests()) + len(f.front.Calls()) + len(f.flare.Calls())
}

// invalidated returns the paths of every CreateInvalidation the CloudFront
// emulator accepted, in order.
func (f *fixture) invalidated() []string {
	var paths []string
	for _, c := range f.front.Calls() {
		if c.Operation == "CreateInvalidation" && c.Code == "" && c.InvalidationID != "" {
			paths = append(paths, c.Paths...)
		}
	}
	return paths
}

// syncBuffer collects the service's log lines, written from many
// goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// eventually polls cond until it holds or the deadline passes. It is for
// the journal, which works on its own schedule.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, within)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
