package demo_test

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/imgpurge/imgpurge/internal/demo"
	"github.com/imgpurge/imgpurge/internal/proc"
	"github.com/imgpurge/imgpurge/internal/testenv"
)

// TestDemo runs `make demo`'s program as CI does, non-interactively: its
// own checks (cache HIT before, the selected renditions gone from S3, the
// CDNs and Varnish, the others untouched) must pass.
func TestDemo(t *testing.T) {
	if proc.LookPath("varnishd") == "" {
		testenv.Missing(t, "varnishd", "run make deps")
	}
	if _, err := exec.LookPath("versitygw"); err != nil {
		testenv.StartVersityGW(t) // reports the missing binary the usual way
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out bytes.Buffer
	err := demo.Run(ctx, demo.Options{Bin: testenv.Binaries(t), Repo: testenv.RepoPath(t, "."), Out: &out})
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "All checks passed") {
		t.Fatalf("demo output:\n%s", out.String())
	}
}
