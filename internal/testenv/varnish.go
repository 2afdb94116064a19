package testenv

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
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

	var last error
	for range 3 {
		addr, admin := freeAddr(t), freeAddr(t)
		p, err := startDaemon(filepath.Join(dir, "varnishd.log"), bin, "-F",
			"-n", filepath.Join(dir, "work"), "-a", addr, "-T", admin,
			"-f", vclFile, "-s", "malloc,64m")
		if err != nil {
			t.Fatalf("starting varnishd: %v", err)
		}
		v := &Varnish{URL: "http://" + addr, Addr: addr, proc: p}
		if last = waitHTTP(p, v.URL+"/testenv-ready", 30*time.Second); last == nil {
			t.Cleanup(func() { p.stop(t) })
			return v
		}
		p.stop(t)
		// A port taken between freeAddr and varnishd's bind: try others.
	}
	t.Fatalf("varnishd did not start: %v", last)
	return nil
}

// Processes returns the PIDs of the manager and its child.
func (v *Varnish) Processes() []int { return v.proc.tree() }

// daemon is a server started by a test: its own process and the children
// it forks (varnish's cache child, nginx's workers).
type daemon struct {
	cmd  *exec.Cmd
	log  string
	done chan struct{}
}

func startDaemon(log string, bin string, args ...string) (*daemon, error) {
	f, err := os.OpenFile(log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	// If the test binary dies without its cleanups, the server dies too,
	// unless it switched users: that clears the setting (varnishd does).
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &daemon{cmd: cmd, log: log, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.done) }()
	return p, nil
}

func (p *daemon) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// tree returns the daemon's PID followed by its children's.
func (p *daemon) tree() []int {
	pids := []int{p.cmd.Process.Pid}
	for _, c := range childProcs(p.cmd.Process.Pid) {
		pids = append(pids, c.pid)
	}
	return pids
}

// stop asks the server to stop with SIGTERM, then kills it and every child
// it had, by PID, if they are still there after a grace period.
func (p *daemon) stop(t testing.TB) {
	kids := childProcs(p.cmd.Process.Pid)
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		t.Logf("%s ignored SIGTERM for 10s; killing it", p.cmd.Path)
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	deadline := time.Now().Add(5 * time.Second)
	for _, k := range kids {
		for k.alive() && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if k.alive() {
			_ = syscall.Kill(k.pid, syscall.SIGKILL)
		}
	}
}

// logTail returns the end of the server's log, for a failure message.
func (p *daemon) logTail() string {
	b, _ := os.ReadFile(p.log)
	return string(b[max(0, len(b)-2000):])
}

// pidStart identifies a process by PID and start time, so a PID reused
// after the process ended is never signalled.
type pidStart struct {
	pid   int
	start string
}

func childProcs(parent int) []pidStart {
	entries, _ := os.ReadDir("/proc")
	var out []pidStart
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, ok := readProcStat(pid); ok && st.ppid == parent && st.state != "Z" {
			out = append(out, pidStart{pid: pid, start: st.start})
		}
	}
	return out
}

func (p pidStart) alive() bool {
	st, ok := readProcStat(p.pid)
	return ok && st.start == p.start && st.state != "Z"
}

type procStat struct {
	state string
	ppid  int
	start string
}

// readProcStat reads /proc/PID/stat: the fields after the parenthesised name
// are state, ppid, ... and, 20th from there, the start time.
func readProcStat(pid int) (procStat, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, false
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 20 {
		return procStat{}, false
	}
	ppid, _ := strconv.Atoi(f[1])
	return procStat{state: f[0], ppid: ppid, start: f[19]}, true
}

// waitHTTP waits until url answers at all, or the process exits.
func waitHTTP(p *daemon, url string, limit time.Duration) error {
	c := &http.Client{Timeout: time.Second, Transport: &http.Transport{Proxy: nil}}
	defer c.CloseIdleConnections()
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if p.exited() {
			return fmt.Errorf("exited; log:\n%s", p.logTail())
		}
		if resp, err := c.Get(url); err == nil {
			_ = resp.Body.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return errors.New("no answer within " + limit.String() + "; log:\n" + p.logTail())
}

func lookPath(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	// Debian installs servers in /usr/sbin, which a CI PATH may lack.
	if p := "/usr/sbin/" + name; fileExists(p) {
		return p
	}
	return ""
}

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
