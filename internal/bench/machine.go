package bench

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// machine describes where the figures were taken.
type machine struct {
	cpu       string
	cores     int
	memory    string
	kernel    string
	goVersion string
}

func readMachine() machine {
	m := machine{cpu: "unknown", cores: runtime.NumCPU(), memory: "unknown", kernel: "unknown",
		goVersion: runtime.Version()}
	if v := procField("/proc/cpuinfo", "model name"); v != "" {
		m.cpu = v
	}
	if v := procField("/proc/meminfo", "MemTotal"); v != "" {
		if kb, err := strconv.ParseFloat(strings.Fields(v)[0], 64); err == nil {
			m.memory = fmt.Sprintf("%.1f GiB", kb/(1<<20))
		}
	}
	if raw, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.kernel = strings.TrimSpace(string(raw))
	}
	// The toolchain that built the service, not only the one running this.
	if out, err := exec.Command("go", "version").Output(); err == nil {
		m.goVersion = strings.TrimSpace(string(out))
	}
	return m
}

// procField returns the value of the first "name : value" line of a /proc
// file.
func procField(path, name string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == name {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// loadAverage returns the 1, 5 and 15 minute load averages as written in
// /proc/loadavg.
func loadAverage() string {
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(raw))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], ", ")
}

// cpuClock is the machine's busy CPU time and this process tree's, read
// together so that their difference is the CPU other work took.
type cpuClock struct {
	at      time.Time
	busy    time.Duration // all processes, from /proc/stat
	ownTree time.Duration // this process and its waited-for children
}

// userHZ is the unit of /proc/stat; it is 100 on every Linux this runs on.
const userHZ = 100

func readCPUClock() cpuClock {
	c := cpuClock{at: time.Now()}
	if raw, err := os.ReadFile("/proc/stat"); err == nil {
		line, _, _ := strings.Cut(string(raw), "\n")
		f := strings.Fields(line)
		// user nice system idle iowait irq softirq steal: all but idle and
		// iowait are busy.
		for i, v := range f[1:min(len(f), 9)] {
			if i == 3 || i == 4 {
				continue
			}
			n, _ := strconv.ParseInt(v, 10, 64)
			c.busy += time.Duration(n) * time.Second / userHZ
		}
	}
	for _, who := range []int{syscall.RUSAGE_SELF, syscall.RUSAGE_CHILDREN} {
		var ru syscall.Rusage
		if syscall.Getrusage(who, &ru) == nil {
			c.ownTree += time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		}
	}
	return c
}

// othersShare is the CPU, in core-seconds and as a share of every core's
// time, that processes outside this run used between a and b.
func othersShare(a, b cpuClock, cores int) (float64, float64) {
	other := (b.busy - a.busy) - (b.ownTree - a.ownTree)
	wall := b.at.Sub(a.at)
	if wall <= 0 || cores == 0 {
		return 0, 0
	}
	return max(other.Seconds(), 0), max(other.Seconds(), 0) / (wall.Seconds() * float64(cores))
}
