package testenv

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"go/build"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// VersityGWVersion is the release deploy/local/deps.d/versitygw.sh installs.
const VersityGWVersion = "v1.8.0"

const versityGWHint = "run `make deps` (or `GOBIN=\"$(go env GOPATH)/bin\" go install " +
	"github.com/versity/versitygw/cmd/versitygw@" + VersityGWVersion + "`)"

// StartVersityGW starts a versitygw S3 gateway with the posix backend on a
// free 127.0.0.1 port and a fresh data directory, waits until it answers and
// stops it when the test ends. It checks SigV4 signatures with the returned
// root credentials. Without the binary the test is skipped, or failed under
// CI=true (see Missing).
func StartVersityGW(t testing.TB) (endpoint, accessKey, secretKey string) {
	t.Helper()
	bin := findVersityGW()
	if bin == "" {
		Missing(t, "versitygw", versityGWHint)
		return "", "", ""
	}
	accessKey, secretKey = "imgpurge-test", randomHex(t, 20)
	dir := t.TempDir()

	// The port is chosen, released and then bound by versitygw, so another
	// process can take it in between; a few attempts make that harmless.
	var lastErr error
	for range 3 {
		addr := FreeAddr(t)
		gw, err := startVersityGW(bin, addr, accessKey, secretKey, dir)
		if err == nil {
			t.Cleanup(gw.stop)
			return "http://" + addr, accessKey, secretKey
		}
		lastErr = err
	}
	t.Fatalf("versitygw did not start: %v", lastErr)
	return "", "", ""
}

// findVersityGW looks where the deps script installs: PATH, then GOPATH/bin.
func findVersityGW() string {
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p
	}
	for _, gopath := range gopaths() {
		p := filepath.Join(gopath, "bin", "versitygw")
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

// gopaths returns what `go env GOPATH` says, which is what the deps script
// used, and the go/build default as a fallback when go is not in PATH.
func gopaths() []string {
	var dirs []string
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		dirs = append(dirs, filepath.SplitList(strings.TrimSpace(string(out)))...)
	}
	return append(dirs, filepath.SplitList(build.Default.GOPATH)...)
}

type versityGW struct {
	cmd    *exec.Cmd
	exited chan struct{}
	out    *lockedBuffer
}

func startVersityGW(bin, addr, access, secret, dir string) (*versityGW, error) {
	cmd := exec.Command(bin, "-q", "--access", access, "--secret", secret,
		"--port", addr, "posix", dir)
	cmd.Env = hermeticEnv()
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	gw := &versityGW{cmd: cmd, exited: make(chan struct{}), out: out}
	go func() {
		_ = cmd.Wait()
		close(gw.exited)
	}()
	if err := gw.waitReady(addr, 15*time.Second); err != nil {
		gw.stop()
		return nil, fmt.Errorf("%w; output: %s", err, out.String())
	}
	return gw, nil
}

// waitReady polls until the gateway answers HTTP at all: an unsigned request
// gets 403, which is enough to know it is serving.
func (gw *versityGW) waitReady(addr string, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/", nil)
		if resp, err := client.Do(req); err == nil {
			_ = resp.Body.Close()
			return gw.stillRunning()
		}
		select {
		case <-gw.exited:
			return errors.New("versitygw exited before answering")
		case <-ctx.Done():
			return fmt.Errorf("versitygw did not answer on %s within %s", addr, limit)
		case <-tick.C:
		}
	}
}

// stillRunning catches the race where versitygw lost the port to another
// process, which then answered in its place.
func (gw *versityGW) stillRunning() error {
	select {
	case <-gw.exited:
		return errors.New("versitygw exited; another process answered on its port")
	default:
		return nil
	}
}

// stop asks the gateway to finish, then kills it if it lingers.
func (gw *versityGW) stop() {
	_ = gw.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-gw.exited:
	case <-time.After(5 * time.Second):
		_ = gw.cmd.Process.Kill()
		<-gw.exited
	}
}

// hermeticEnv drops the variables versitygw reads as flag defaults, so the
// developer's shell cannot change what the tests start.
func hermeticEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "VGW_") || strings.HasPrefix(kv, "ROOT_ACCESS_KEY") ||
			strings.HasPrefix(kv, "ROOT_SECRET") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

func randomHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// lockedBuffer collects a child's output, which is written from another
// goroutine while a failing start reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	// Bounded: only the start of the output matters for a failure message.
	if b.buf.Len() < 64<<10 {
		b.buf.Write(p)
	}
	return len(p), nil
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
