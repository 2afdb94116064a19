package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/imgpurge/imgpurge/internal/app"
	"github.com/imgpurge/imgpurge/internal/config"
)

// serviceConfig is an imgpurged configuration with one default datastore,
// media, made of layers (YAML list items indented for the datastore).
func serviceConfig(addr, dataDir, auth, layers string) string {
	return fmt.Sprintf(`listen: %s
data_dir: %s
log_level: info
shutdown_timeout: 5s
auth: %s
datastores:
  - name: media
    default: true
    tenants: [%s]
    public_hosts: [img.example.test]
    layers:
%s`, addr, dataDir, auth, tokenTenant, layers)
}

// process is an imgpurged started from the binary make bench built.
type process struct {
	URL    string
	cmd    *exec.Cmd
	exited chan struct{}
}

// startProcess writes the configuration that cfg returns for a free address
// and a fresh data directory, starts imgpurged on it and waits until it
// answers /healthz.
func (b *Bench) startProcess(name string, cfg func(addr, dataDir string) string, env ...string) (*process, error) {
	var lastErr error
	// The address is free when chosen, not necessarily when imgpurged binds
	// it; a second attempt makes that race harmless.
	for attempt := range 3 {
		dir := filepath.Join(b.tmp, fmt.Sprintf("%s-%d-%d", name, time.Now().UnixNano(), attempt))
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
		addr, err := freeAddr()
		if err != nil {
			return nil, err
		}
		path := filepath.Join(dir, "imgpurge.yaml")
		if err := os.WriteFile(path, []byte(cfg(addr, dir)), 0o600); err != nil {
			return nil, err
		}
		// The log holds a line per purge, hundreds of megabytes over a
		// run, so it lives with the run's temporary files.
		p, err := b.launch(path, addr, filepath.Join(dir, "imgpurged.log"), env)
		if err == nil {
			return p, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

func (b *Bench) launch(cfgPath, addr, logPath string, env []string) (*process, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(b.opts.Imgpurged, "-config", cfgPath)
	cmd.Env = append(hermeticEnv(), env...)
	// A file, not a pipe: at ten thousand purges a second the summary lines
	// must not cost this process CPU to read.
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &process{URL: "http://" + addr, cmd: cmd, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.exited) }()
	if err := waitHealthy(p.URL, p.exited, 30*time.Second); err != nil {
		p.stop()
		return nil, fmt.Errorf("imgpurged did not start: %w; its log ends:\n%s", err, tail(logPath, 2048))
	}
	return p, nil
}

// hermeticEnv keeps the environment but drops what would change where
// imgpurged listens, keeps state or sends requests, and the Go runtime's
// tuning, which the figures assume is the default.
func hermeticEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "IMGPURGE_") || strings.HasSuffix(strings.ToUpper(k), "_PROXY") ||
			k == "GOGC" || k == "GOMEMLIMIT" || k == "GOMAXPROCS" {
			continue
		}
		env = append(env, kv)
	}
	return env
}

func waitHealthy(base string, exited <-chan struct{}, limit time.Duration) error {
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{Proxy: nil}}
	defer client.CloseIdleConnections()
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if resp, err := client.Get(base + "/healthz"); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-exited:
			return errors.New("it exited")
		case <-time.After(20 * time.Millisecond):
		}
	}
	return fmt.Errorf("no answer on %s within %s", base, limit)
}

// stop asks imgpurged to shut down and kills it if it has not within 30 s.
func (p *process) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// rssKB is the process's resident memory now, VmRSS of /proc/<pid>/status.
func (p *process) rssKB() (int64, error) {
	v := procField(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid), "VmRSS")
	f := strings.Fields(v)
	if len(f) == 0 {
		return 0, errors.New("no VmRSS")
	}
	return strconv.ParseInt(f[0], 10, 64)
}

// rssSampler reads a process's RSS every interval until stopped and keeps
// the largest value.
type rssSampler struct {
	stopc chan struct{}
	done  chan struct{}
	mu    sync.Mutex
	peak  int64
	last  int64
}

func (p *process) sampleRSS(every time.Duration) *rssSampler {
	s := &rssSampler{stopc: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			if kb, err := p.rssKB(); err == nil {
				s.mu.Lock()
				s.peak, s.last = max(s.peak, kb), kb
				s.mu.Unlock()
			}
			select {
			case <-s.stopc:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

// stop ends the sampling and returns the peak and the last reading, in kB.
func (s *rssSampler) stop() (peak, last int64) {
	close(s.stopc)
	<-s.done
	return s.peak, s.last
}

// inProcess is the service built by app.New inside this process, the way
// imgpurged builds it, so that it can be CPU-profiled with runtime/pprof
// without adding a profiling endpoint to the service.
type inProcess struct {
	URL  string
	stop func() error
}

func (b *Bench) startInProcess(ctx context.Context, name string,
	cfg func(addr, dataDir string) string) (*inProcess, error) {
	dir := filepath.Join(b.tmp, fmt.Sprintf("%s-inproc-%d", name, time.Now().UnixNano()))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	c, err := config.Parse([]byte(cfg(ln.Addr().String(), dir)))
	if err != nil {
		ln.Close()
		return nil, err
	}
	logf, err := os.Create(filepath.Join(dir, "imgpurged.log"))
	if err != nil {
		ln.Close()
		return nil, err
	}
	a, err := app.New(ctx, c, app.NewLogger(logf, c.LogLevel))
	if err != nil {
		ln.Close()
		logf.Close()
		return nil, err
	}
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan error, 1)
	go func() { done <- a.Serve(sctx, ln) }()
	stop := func() error {
		cancel()
		err := <-done
		a.Close()
		return errors.Join(err, logf.Close())
	}
	return &inProcess{URL: "http://" + ln.Addr().String(), stop: stop}, nil
}

// cpuTime is the CPU the process has used so far, user and system, from
// /proc/<pid>/stat.
func (p *process) cpuTime() time.Duration {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	// The command name may hold spaces; the fields that follow it do not.
	s := string(raw)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / userHZ
}

// shownConfig is an imgpurged configuration as the report prints it, the
// run's own addresses and directories replaced by names.
func (b *Bench) shownConfig(layers string) []string {
	cfg := serviceConfig("127.0.0.1:$PORT", "$DATA_DIR", b.iss.authConfig(), layers)
	cfg = strings.ReplaceAll(cfg, b.iss.URL, "http://127.0.0.1:$ISSUER_PORT")
	return strings.Split(strings.TrimRight(cfg, "\n"), "\n")
}

// tail returns the last n bytes of the file at path.
func tail(path string, n int64) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() > n {
		_, _ = f.Seek(-n, io.SeekEnd)
	}
	raw, _ := io.ReadAll(io.LimitReader(f, n))
	return string(raw)
}
