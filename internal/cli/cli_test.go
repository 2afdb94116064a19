package cli_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imgpurge/imgpurge/internal/auth"
	"github.com/imgpurge/imgpurge/internal/cli"
	"github.com/imgpurge/imgpurge/internal/config"
)

func TestTokenDevIsAcceptedByTheLocalConfig(t *testing.T) {
	raw, err := os.ReadFile("../../deploy/local/imgpurge.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "imgpurge.yaml")
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(string(raw), "./var", dir)), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := cli.Main([]string{"token", "--dev", "--config", path}, &out, &errb); code != cli.ExitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	cfg, _ := config.Load(path)
	v, err := auth.New(context.Background(), cfg.Auth, cfg.DataDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := v.Verify(context.Background(), "Bearer "+strings.TrimSpace(out.String()))
	if err != nil {
		t.Fatalf("minted token refused: %v", err)
	}
	if len(p.Tenants) != 1 || p.Tenants[0] != "local" {
		t.Fatalf("tenants = %v", p.Tenants)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{nil, {"nope"}, {"token"}, {"token", "--dev", "--config", "/nonexistent.yaml"}} {
		var out, errb bytes.Buffer
		if code := cli.Main(args, &out, &errb); code != cli.ExitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, cli.ExitUsage)
		}
	}
}
