// Package proc runs local servers as child processes (Varnish, nginx, an
// S3 server, imgpurged itself) and stops them, children included, for the
// tests and the demo.
package proc

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Daemon is a server process and the children it forks (varnish's cache
// child, nginx's workers).
type Daemon struct {
	cmd  *exec.Cmd
	log  string
	done chan struct{}
}

// Start runs bin with args, its output appended to the file log.
func Start(log string, env []string, bin string, args ...string) (*Daemon, error) {
	f, err := os.OpenFile(log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	if env != nil {
		cmd.Env = env
	}
	// If the parent dies without cleaning up, the server dies too, unless
	// it switched users: that clears the setting (varnishd does).
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	d := &Daemon{cmd: cmd, log: log, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(d.done) }()
	return d, nil
}

// PID is the process id.
func (d *Daemon) PID() int { return d.cmd.Process.Pid }

// Exited reports whether the process has ended.
func (d *Daemon) Exited() bool {
	select {
	case <-d.done:
		return true
	default:
		return false
	}
}

// Tree returns the daemon's PID followed by its children's.
func (d *Daemon) Tree() []int {
	pids := []int{d.cmd.Process.Pid}
	for _, c := range children(d.cmd.Process.Pid) {
		pids = append(pids, c.pid)
	}
	return pids
}

// Kill ends the process at once with SIGKILL, as a crash would.
func (d *Daemon) Kill() {
	_ = d.cmd.Process.Kill()
	<-d.done
}

// Stop asks the server to stop with SIGTERM, then kills it and every child
// it had, by PID, if they are still there after a grace period. logf, when
// set, is told when the server had to be killed.
func (d *Daemon) Stop(logf func(format string, args ...any)) {
	kids := children(d.cmd.Process.Pid)
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(10 * time.Second):
		if logf != nil {
			logf("%s ignored SIGTERM for 10s; killing it", d.cmd.Path)
		}
		d.Kill()
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

// LogTail returns the end of the server's log, for a failure message.
func (d *Daemon) LogTail() string {
	b, _ := os.ReadFile(d.log)
	return string(b[max(0, len(b)-2000):])
}

// WaitHTTP waits until url answers at all, or the process exits.
func (d *Daemon) WaitHTTP(url string, limit time.Duration) error {
	c := &http.Client{Timeout: time.Second, Transport: &http.Transport{Proxy: nil}}
	defer c.CloseIdleConnections()
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if d.Exited() {
			return fmt.Errorf("exited; log:\n%s", d.LogTail())
		}
		if resp, err := c.Get(url); err == nil {
			_ = resp.Body.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return errors.New("no answer within " + limit.String() + "; log:\n" + d.LogTail())
}

// LookPath finds a server binary, also in /usr/sbin, where Debian installs
// servers and which a CI PATH may lack.
func LookPath(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if p := "/usr/sbin/" + name; fileExists(p) {
		return p
	}
	return ""
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// pidStart identifies a process by PID and start time, so a PID reused
// after the process ended is never signalled.
type pidStart struct {
	pid   int
	start string
}

func children(parent int) []pidStart {
	entries, _ := os.ReadDir("/proc")
	var out []pidStart
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, ok := readStat(pid); ok && st.ppid == parent && st.state != "Z" {
			out = append(out, pidStart{pid: pid, start: st.start})
		}
	}
	return out
}

func (p pidStart) alive() bool {
	st, ok := readStat(p.pid)
	return ok && st.start == p.start && st.state != "Z"
}

type stat struct {
	state string
	ppid  int
	start string
}

// readStat reads /proc/PID/stat: the fields after the parenthesised name
// are state, ppid, ... and, 20th from there, the start time.
func readStat(pid int) (stat, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return stat{}, false
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 20 {
		return stat{}, false
	}
	ppid, _ := strconv.Atoi(f[1])
	return stat{state: f[0], ppid: ppid, start: f[19]}, true
}
