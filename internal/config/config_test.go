package config_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/imgpurge/imgpurge/internal/config"
)

const valid = `
auth:
  mode: oidc
  issuer: https://idp.example.test/realms/media
  audience: purge-api
datastores:
  - name: media
    default: true
    tenants: [media]
    public_hosts: [img.example.test]
    layers:
      - name: derivatives
        kind: fs
        settings: {root: /tmp/x}
`

func TestValidDefaults(t *testing.T) {
	cfg, err := config.Parse([]byte(valid))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != config.ListenDefault || cfg.RequestTimeout.D() != config.RequestTimeoutDefault ||
		cfg.Datastores[0].Layers[0].Timeout.D() != config.LayerTimeoutDefault || cfg.Auth.TenantClaim != "tenant" {
		t.Fatalf("defaults not applied: %+v", cfg)
	}
}

func TestErrorsNameTheField(t *testing.T) {
	cases := map[string]string{
		"issuer missing":     strings.Replace(valid, "  issuer: https://idp.example.test/realms/media\n", "", 1),
		"issuer not a URL":   strings.Replace(valid, "https://idp.example.test/realms/media", "idp", 1),
		"symmetric alg":      strings.Replace(valid, "  audience: purge-api", "  audience: purge-api\n  algorithms: [HS256]", 1),
		"unknown field":      strings.Replace(valid, "  audience:", "  audiense:", 1),
		"bad duration":       valid + "request_timeout: soon\n",
		"bad host":           strings.Replace(valid, "img.example.test", "img/example", 1),
		"no tenants":         strings.Replace(valid, "    tenants: [media]\n", "", 1),
		"bad id pattern":     strings.Replace(valid, "    tenants:", "    id_pattern: '('\n    tenants:", 1),
		"layer without kind": strings.Replace(valid, "        kind: fs\n", "", 1),
		"mode":               strings.Replace(valid, "mode: oidc", "mode: none", 1),
	}
	want := map[string]string{
		"issuer missing": "auth.issuer", "issuer not a URL": "auth.issuer", "symmetric alg": "auth.algorithms[0]",
		"unknown field": "audiense", "bad duration": "duration", "bad host": "datastores[0].public_hosts[0]",
		"no tenants": "datastores[0].tenants", "bad id pattern": "datastores[0].id_pattern",
		"layer without kind": "datastores[0].layers[0].kind", "mode": "auth.mode",
	}
	for name, doc := range cases {
		_, err := config.Parse([]byte(doc))
		if err == nil || !strings.Contains(err.Error(), want[name]) {
			t.Errorf("%s: err = %v, want it to name %s", name, err, want[name])
		}
	}
}

func TestSecretFromEnvNeverPrints(t *testing.T) {
	t.Setenv("IMGPURGE_TEST_TOKEN", "s3cr3t-value")
	var s struct {
		Token config.Secret `yaml:"token"`
	}
	if err := config.DecodeStrict(node(t, "token: ${IMGPURGE_TEST_TOKEN}"), &s); err != nil {
		t.Fatal(err)
	}
	if s.Token.Reveal() != "s3cr3t-value" || s.Token.From != "IMGPURGE_TEST_TOKEN" {
		t.Fatalf("secret = %q from %q", s.Token.Reveal(), s.Token.From)
	}
	type private struct{ token config.Secret }
	hidden := private{token: s.Token}
	var logged strings.Builder
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("x", "token", s.Token, "settings", s)
	js, _ := json.Marshal(s)
	for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%+v %#v %v %+v %#v", s, s, s.Token, hidden, &hidden), logged.String(), string(js)} {
		if strings.Contains(out, "s3cr3t") {
			t.Errorf("secret leaked: %s", out)
		}
	}
}

func TestSecretMissingEnv(t *testing.T) {
	var s struct {
		Token config.Secret `yaml:"token"`
	}
	err := config.DecodeStrict(node(t, "token: ${IMGPURGE_TEST_UNSET_VAR}"), &s)
	if err == nil || !strings.Contains(err.Error(), "IMGPURGE_TEST_UNSET_VAR") {
		t.Fatalf("err = %v", err)
	}
}

func TestEmptyDatabaseURLSecret(t *testing.T) {
	t.Setenv("IMGPURGE_TEST_EMPTY_DB", "")
	_, err := config.Parse([]byte(valid + "journal:\n  database_url: ${IMGPURGE_TEST_EMPTY_DB}\n"))
	if err == nil || !strings.Contains(err.Error(), "journal.database_url") {
		t.Fatalf("err = %v", err)
	}
}

func TestSettingsErrorsKeepTheFileLine(t *testing.T) {
	cfg, err := config.Parse([]byte(valid))
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Root  string          `yaml:"root"`
		Token config.Secret   `yaml:"token"`
		Wait  config.Duration `yaml:"wait"`
	}
	n := &cfg.Datastores[0].Layers[0].Settings
	if err := config.DecodeStrict(n, &s); err != nil {
		t.Fatalf("valid settings: %v", err)
	}
	doc := strings.Replace(valid, "settings: {root: /tmp/x}", "settings: {root: /tmp/x, rooot: y}", 1)
	cfg, _ = config.Parse([]byte(doc))
	err = config.DecodeStrict(&cfg.Datastores[0].Layers[0].Settings, &s)
	if err == nil || !strings.Contains(err.Error(), `line 14: unknown setting "rooot"`) {
		t.Fatalf("err = %v", err)
	}
	doc = strings.Replace(valid, "settings: {root: /tmp/x}", "settings: {root: /tmp/x, wait: soon}", 1)
	cfg, _ = config.Parse([]byte(doc))
	err = config.DecodeStrict(&cfg.Datastores[0].Layers[0].Settings, &s)
	if err == nil || !strings.Contains(err.Error(), "line 14") {
		t.Fatalf("err = %v", err)
	}
}

func TestListenAndEmptyFile(t *testing.T) {
	if _, err := config.Parse([]byte(valid + "listen: 127.0.0.1:99999\n")); err == nil || !strings.Contains(err.Error(), "listen") {
		t.Errorf("bad port: %v", err)
	}
	if _, err := config.Parse(nil); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("empty: %v", err)
	}
}

func TestDatabaseURLScheme(t *testing.T) {
	t.Setenv("IMGPURGE_DATABASE_URL", "postgress://u:s3cretpw@127.0.0.1/x")
	_, err := config.Parse([]byte(valid))
	if err == nil || !strings.Contains(err.Error(), "journal.database_url") || strings.Contains(err.Error(), "s3cretpw") {
		t.Fatalf("err = %v", err)
	}
}
