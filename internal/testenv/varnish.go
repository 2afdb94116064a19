package testenv

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/imgpurge/imgpurge/internal/proc"
)

const depsHint = "run deploy/local/deps.d/httpcache.sh (apt-get install varnish " +
	"varnish-modules nginx libnginx-mod-http-cache-purge)"

// Varnish is a varnishd started for one test.
type Varnish struct {
	// URL is http://127.0.0.1:port, where it accepts requests.
	URL  string
	Addr string
	proc *daemon
}

// StartVarnish starts varnishd on a free 127.0.0.1 port with the VCL file
// at vclPath, whose backend port (the line `.port = "8080";`) is replaced by
// backendPort; nothing else is changed. It is stopped, with its child, when
// the test ends. Without varnishd or the xkey vmod the test is skipped, or
// fails under CI=true.
func StartVarnish(t testing.TB, vclPath string, backendPort int) *Varnish {
	t.Helper()
	bin := lookPath("varnishd")
	if bin == "" {
		Missing(t, "varnishd", depsHint)
	}
	if xkey, _ := filepath.Glob("/usr/lib/*/varnish/vmods/libvmod_xkey.so"); len(xkey) == 0 {
		Missing(t, "the xkey vmod (varnish-modules)", depsHint)
	}
	vcl := templateFile(t, vclPath, map[string]string{
		`.port = "8080";`: fmt.Sprintf(`.port = "%d";`, backendPort),
	})
	// The child runs as user vcache and must reach its working directory,
	// which t.TempDir's 0700 parents would deny.
	dir := sharedTempDir(t, "imgpurge-varnish-")
	vclFile := filepath.Join(dir, "imgpurge.vcl")
	writeTestFile(t, vclFile, vcl)

	p, addr := startOnFreePort(t, "varnishd", func(addr string) (*daemon, error) {
		return startDaemon(filepath.Join(dir, "varnishd.log"), bin, "-F",
			"-n", filepath.Join(dir, "work"), "-a", addr, "-T", FreeAddr(t),
			"-f", vclFile, "-s", "malloc,64m")
	})
	return &Varnish{URL: "http://" + addr, Addr: addr, proc: p}
}

// startOnFreePort starts a server on a free loopback address, waits until
// it answers, and stops it when the test ends. A port taken between
// FreeAddr and the server's bind is harmless: it tries other ports.
func startOnFreePort(t testing.TB, name string, start func(addr string) (*daemon, error)) (*daemon, string) {
	t.Helper()
	var last error
	for range 3 {
		addr := FreeAddr(t)
		p, err := start(addr)
		if err != nil {
			t.Fatalf("starting %s: %v", name, err)
		}
		if last = p.WaitHTTP("http://"+addr+"/testenv-ready", 30*time.Second); last == nil {
			t.Cleanup(func() { stopDaemon(t, p) })
			return p, addr
		}
		stopDaemon(t, p)
	}
	t.Fatalf("%s did not start: %v", name, last)
	return nil, ""
}

// Processes returns the PIDs of the manager and its child.
func (v *Varnish) Processes() []int { return v.proc.Tree() }

// daemon is a server started by a test.
type daemon = proc.Daemon

func startDaemon(log string, bin string, args ...string) (*daemon, error) {
	return proc.Start(log, nil, bin, args...)
}

// stopDaemon stops a server and its children, logging a forced kill.
func stopDaemon(t testing.TB, p *daemon) { p.Stop(t.Logf) }

func lookPath(name string) string { return proc.LookPath(name) }

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// sharedTempDir is a temporary directory other users may enter, removed
// when the test ends (after the servers in it have stopped).
func sharedTempDir(t testing.TB, pattern string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", pattern)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// templateFile reads a deploy file and makes each replacement, each of whose
// original strings must occur exactly once, so a test can only ever change
// what it says it changes.
func templateFile(t testing.TB, path string, repl map[string]string) string {
	t.Helper()
	b, err := os.ReadFile(RepoPath(t, path))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for old, repl := range repl {
		if n := strings.Count(s, old); n != 1 {
			t.Fatalf("%s: %q occurs %d times, want once", path, old, n)
		}
		s = strings.Replace(s, old, repl, 1)
	}
	return s
}

// RepoPath returns the absolute path of rel, relative to the module root
// (the nearest directory upwards holding go.mod).
func RepoPath(t testing.TB, rel string) string {
	t.Helper()
	if filepath.IsAbs(rel) {
		return rel
	}
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if fileExists(filepath.Join(dir, "go.mod")) {
			return filepath.Join(dir, rel)
		}
		up := filepath.Dir(dir)
		if up == dir {
			t.Fatalf("no go.mod above the working directory for %s", rel)
		}
		dir = up
	}
}

func writeTestFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
