package app_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/imgpurge/imgpurge/internal/app"
	"github.com/imgpurge/imgpurge/internal/apptest"
	"github.com/imgpurge/imgpurge/internal/auth"
	"github.com/imgpurge/imgpurge/internal/config"
	"github.com/imgpurge/imgpurge/internal/testenv"
)

const imageID = "1e8a9135-5976-4de8-9c27-64cc33bf9baa"

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// localConfig is the shipped local configuration with its paths moved into
// a temporary directory.
func localConfig(t *testing.T) (*config.Config, string) {
	t.Helper()
	raw, err := os.ReadFile("../../deploy/local/imgpurge.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	doc := strings.ReplaceAll(string(raw), "./var", dir)
	cfg, err := config.Parse([]byte(doc))
	if err != nil {
		t.Fatalf("shipped config: %v", err)
	}
	return cfg, dir
}

func serve(t *testing.T, cfg *config.Config) string { return apptest.ServeConfig(t, cfg) }

// TestWorkedExample follows the README: mint a dev token, put three
// renditions on disk, purge one size, and see which files went.
func TestWorkedExample(t *testing.T) {
	cfg, dir := localConfig(t)
	base := serve(t, cfg)
	tok, err := auth.MintDev(cfg.Auth, cfg.DataDir, "dev-user", []string{"local"}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(dir, "derivatives", imageID)
	if err := os.MkdirAll(img, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"640x360.jpg", "640x360.webp", "1280x720.jpg", "640x3600.jpg"} {
		if err := os.WriteFile(filepath.Join(img, n), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	req, _ := http.NewRequest("DELETE", base+"/image/"+imageID+"/640x360", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var env struct {
		Header struct{ Code int } `json:"header"`
		Data   struct {
			Renditions []string `json:"renditions"`
		} `json:"data"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&env)
	if resp.StatusCode != 200 || env.Header.Code != 0 {
		t.Fatalf("status %d code %d", resp.StatusCode, env.Header.Code)
	}
	left, _ := os.ReadDir(img)
	var names []string
	for _, e := range left {
		names = append(names, e.Name())
	}
	if strings.Join(names, ",") != "1280x720.jpg,640x3600.jpg" {
		t.Fatalf("files left: %v", names)
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		r, err := http.Get(base + path)
		if err != nil || r.StatusCode != 200 {
			t.Fatalf("GET %s: %v %v", path, err, r)
		}
		r.Body.Close()
	}
}

func TestStartupErrorsNameTheSetting(t *testing.T) {
	t.Run("issuer trailing slash", func(t *testing.T) {
		idp := testenv.StartIdP(t)
		idp.Issuer = idp.URL + "/"
		cfg, _ := localConfig(t)
		cfg.Auth = config.Auth{Mode: config.AuthModeOIDC, Issuer: idp.URL, Audience: "purge-api",
			DiscoveryTimeout: config.Duration(2 * time.Second)}
		_, err := app.New(context.Background(), cfg, quiet())
		if err == nil || !strings.HasPrefix(err.Error(), "auth.issuer:") {
			t.Fatalf("err = %v, want one naming auth.issuer", err)
		}
	})
	t.Run("unknown provider", func(t *testing.T) {
		cfg, _ := localConfig(t)
		cfg.Datastores[0].Layers[0].Kind = "akamia"
		_, err := app.New(context.Background(), cfg, quiet())
		if err == nil || !strings.Contains(err.Error(), "datastores[0].layers[0].kind") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("provider settings", func(t *testing.T) {
		cfg, _ := localConfig(t)
		cfg.Datastores[0].Layers[0].Settings.Content[0].Value = "rooot"
		_, err := app.New(context.Background(), cfg, quiet())
		if err == nil || !strings.Contains(err.Error(), "datastores[0].layers[0].settings") {
			t.Fatalf("err = %v", err)
		}
	})
}
