package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/imgpurge/imgpurge/internal/apptest"
	"github.com/imgpurge/imgpurge/internal/cli"
	"github.com/imgpurge/imgpurge/internal/config"
	"github.com/imgpurge/imgpurge/internal/testenv"
)

const imageID = "1e8a9135-5976-4de8-9c27-64cc33bf9baa"

// bundle is a real imgpurged served in-process on 127.0.0.1 from the
// shipped local configuration, with its paths in a temporary directory,
// tokens from a local OIDC issuer, and two more datastores: "broken", whose
// origin-cache layer points at a closed port so its purges fail and are
// journaled, and "edge", with a CloudFront layer for dry runs (its API
// endpoint is a closed port too: nothing may reach AWS).
type bundle struct {
	url    string
	dir    string
	derivs string
	idp    *testenv.IdP
	token  string
	// closed is an address nothing listens on.
	closed string
	cache  string
}

const moreDatastores = `
  - name: broken
    tenants: [local]
    public_hosts: [img.localhost]
    layers:
      - name: derivatives
        kind: fs
        tier: 0
        timeout: 5s
        settings:
          root: %s/broken-derivatives
      - name: varnish
        kind: httpcache
        tier: 1
        timeout: 2s
        settings:
          nodes: [http://%s]
  - name: edge
    tenants: [local]
    public_hosts: [img.localhost]
    layers:
      - name: derivatives
        kind: fs
        tier: 0
        settings:
          root: %s/edge-derivatives
      - name: cdn
        kind: cloudfront
        tier: 2
        settings:
          distribution_id: EDFDVBD6EXAMPLE
          endpoint: http://%s
          access_key_id: test-key
          secret_access_key: test-secret
`

func setup(t *testing.T) *bundle {
	t.Helper()
	raw, err := os.ReadFile("../../deploy/local/imgpurge.yaml")
	if err != nil {
		t.Fatal(err)
	}
	b := &bundle{dir: t.TempDir(), idp: testenv.StartIdP(t), closed: testenv.FreeAddr(t), cache: t.TempDir()}
	b.derivs = filepath.Join(b.dir, "derivatives")
	doc := strings.ReplaceAll(string(raw), "./var", b.dir) + fmt.Sprintf(moreDatastores, b.dir, b.closed, b.dir, b.closed)
	cfg, err := config.Parse([]byte(doc))
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	cfg.Auth = config.Auth{Mode: config.AuthModeOIDC, Issuer: b.idp.URL, Audience: "purge-api",
		RequiredClaim: "scope", RequiredValue: "images:purge", TenantClaim: "tenant",
		DiscoveryTimeout: config.Duration(5 * time.Second)}.WithDefaults()
	// Journaled purges retry quickly and go dead after two attempts.
	cfg.Retry.Base, cfg.Retry.MaxAttempts = config.Duration(5*time.Millisecond), 2
	cfg.Journal.MaxAttempts = 2
	cfg.Journal.RetryBase, cfg.Journal.RetryMax = config.Duration(20*time.Millisecond), config.Duration(50*time.Millisecond)
	cfg.Journal.PollInterval = config.Duration(20 * time.Millisecond)
	cfg.Journal.AuditFlushInterval = config.Duration(20 * time.Millisecond)
	cfg.Journal.JobTimeout = config.Duration(10 * time.Second)
	b.url = serve(t, cfg)
	b.token = b.idp.Token(t, "rsa-1", map[string]any{"tenant": "local"})
	return b
}

func serve(t *testing.T, cfg *config.Config) string { return apptest.ServeConfig(t, cfg) }

// env is the environment of one run: the bundle's server and token and a
// private token cache, changed by mods ("" deletes a variable).
func (b *bundle) env(mods map[string]string) map[string]string {
	e := map[string]string{"IMGPURGE_URL": b.url, "IMGPURGE_TOKEN": b.token, "IMGPURGE_CACHE_DIR": b.cache}
	for k, v := range mods {
		if v == "" {
			delete(e, k)
			continue
		}
		e[k] = v
	}
	return e
}

type outcome struct {
	code           int
	stdout, stderr string
}

// run runs the command line in-process. No output may show a token.
func run(t *testing.T, env map[string]string, stdin string, args ...string) outcome {
	t.Helper()
	return runCtx(context.Background(), t, env, stdin, args...)
}

func runCtx(ctx context.Context, t *testing.T, env map[string]string, stdin string, args ...string) outcome {
	t.Helper()
	var out, errb bytes.Buffer
	code := cli.Run(ctx, args, cli.Env{
		Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb,
		Getenv: func(k string) string { return env[k] },
	})
	o := outcome{code: code, stdout: out.String(), stderr: errb.String()}
	for _, k := range []string{"IMGPURGE_TOKEN", "IMGPURGE_CLIENT_SECRET"} {
		if s := env[k]; len(s) > 8 && strings.Contains(o.stdout+o.stderr, s) {
			t.Fatalf("%v printed %s", args, k)
		}
	}
	return o
}

func (o outcome) want(t *testing.T, code int) outcome {
	t.Helper()
	if o.code != code {
		t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", o.code, code, o.stdout, o.stderr)
	}
	return o
}

// renditions puts empty rendition files of an image under root.
func renditions(t *testing.T, root, id string, names ...string) {
	t.Helper()
	dir := filepath.Join(root, id)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func left(t *testing.T, root, id string) string {
	t.Helper()
	entries, _ := os.ReadDir(filepath.Join(root, id))
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return strings.Join(names, ",")
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// summary decodes a bulk run's --json summary.
type summary struct {
	DryRun          bool    `json:"dry_run"`
	Purges          int     `json:"purges"`
	Succeeded       int     `json:"succeeded"`
	Planned         int     `json:"planned"`
	Accepted        int     `json:"accepted"`
	Journaled       int     `json:"journaled"`
	Failed          int     `json:"failed"`
	Malformed       int     `json:"malformed"`
	NotRun          int     `json:"not_run"`
	Renditions      int     `json:"renditions"`
	CloudFrontPaths int     `json:"cloudfront_paths"`
	Reported        int     `json:"reported"`
	Stopped         string  `json:"stopped"`
	ExitCode        int     `json:"exit_code"`
	DurationMS      int64   `json:"duration_ms"`
	CostUSD         float64 `json:"cloudfront_cost_usd"`
	Layers          []struct {
		Layer, Provider            string
		Succeeded, Failed, Pending int
		Items                      int
	} `json:"layers"`
}

func parseSummary(t *testing.T, o outcome) summary {
	t.Helper()
	var s summary
	if err := json.Unmarshal([]byte(o.stdout), &s); err != nil {
		t.Fatalf("summary is not JSON: %v\n%s", err, o.stdout)
	}
	return s
}

type reportLine struct {
	Line       int      `json:"line"`
	ID         string   `json:"id"`
	Selector   string   `json:"selector"`
	Status     string   `json:"status"`
	HTTPStatus int      `json:"http_status"`
	ErrorCodes []string `json:"error_codes"`
	Layers     []struct {
		Layer, Provider, Status, Code string
	} `json:"layers"`
	Message    string `json:"message"`
	PurgeID    string `json:"purge_id"`
	JournalID  string `json:"journal_id"`
	TrackingID string `json:"tracking_id"`
	Text       string `json:"text"`
}

func readReport(t *testing.T, path string) []reportLine {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []reportLine
	for _, l := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		if l == "" {
			continue
		}
		var r reportLine
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("report line %q: %v", l, err)
		}
		out = append(out, r)
	}
	return out
}
