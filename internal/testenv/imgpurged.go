package testenv

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

// Binaries builds imgpurged, imgpurge and cdnemu once per test binary and returns
// the directory holding them.
func Binaries(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "imgpurge-bin-")
		if buildErr != nil {
			return
		}
		_, file, _, _ := runtime.Caller(0)
		root := filepath.Join(filepath.Dir(file), "..", "..")
		for _, cmd := range []string{"imgpurged", "imgpurge", "cdnemu"} {
			build := exec.Command("go", "build", "-o", filepath.Join(buildDir, cmd), "./cmd/"+cmd)
			build.Dir = root
			if out, err := build.CombinedOutput(); err != nil {
				buildErr = fmt.Errorf("go build %s: %v\n%s", cmd, err, out)
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildDir
}

// Process is an imgpurged running as a separate process.
type Process struct {
	URL string
	cmd *exec.Cmd
	log *syncBuffer
	// exited is closed once the process has been waited for.
	exited chan struct{}
}

// StartImgpurged runs imgpurged with the configuration file at cfgPath,
// which must listen on addr, and waits until it answers /healthz.
func StartImgpurged(t testing.TB, cfgPath, addr string, env ...string) *Process {
	t.Helper()
	bin := filepath.Join(Binaries(t), "imgpurged")
	cmd := exec.Command(bin, "-config", cfgPath)
	cmd.Env = append(os.Environ(), env...)
	buf := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = buf, buf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &Process{URL: "http://" + addr, cmd: cmd, log: buf, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() { p.Kill() })
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(p.URL + "/healthz")
		if err == nil {
			resp.Body.Close()
			return p
		}
		select {
		case <-p.exited:
			t.Fatalf("imgpurged exited at start:\n%s", buf.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("imgpurged did not answer on %s:\n%s", addr, buf.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Kill ends the process with SIGKILL, as a crash would.
func (p *Process) Kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
}

// Stop asks the process to shut down gracefully and waits up to d.
func (p *Process) Stop(d time.Duration) error {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		return nil
	case <-time.After(d):
		p.Kill()
		return fmt.Errorf("imgpurged did not stop within %s", d)
	}
}

// Log returns what the process has written so far.
func (p *Process) Log() string { return p.log.String() }

// Wait blocks until the process exits or ctx ends.
func (p *Process) Wait(ctx context.Context) error {
	select {
	case <-p.exited:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuffer) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(b)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}
