package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"time"

	"github.com/imgpurge/imgpurge/internal/bench/loadgen"
)

// loadSpec is one run of the load generator.
type loadSpec struct {
	url      string
	tokens   string // file
	distinct bool
	rate     float64
	workers  int
	warmup   time.Duration
	duration time.Duration
	max      int
	seed     uint32
	record   string // CSV file, optional
}

func (l loadSpec) args() []string {
	a := []string{"-url", l.url, "-tokens", l.tokens,
		"-warmup", l.warmup.String(), "-duration", l.duration.String(),
		"-n", fmt.Sprint(l.max), "-seed", fmt.Sprint(l.seed)}
	if l.rate > 0 {
		a = append(a, "-rate", fmt.Sprint(l.rate))
	} else {
		a = append(a, "-c", fmt.Sprint(l.workers))
	}
	if l.distinct {
		a = append(a, "-distinct")
	}
	if l.record != "" {
		a = append(a, "-record", l.record)
	}
	return a
}

// loadRun is the load generator's summary and the CPU it used itself.
type loadRun struct {
	*loadgen.Result
	genCPU time.Duration
}

// load runs the load generator as its own process, so its CPU is not the
// service's, and returns its summary. The first run of each kind of load
// is recorded for the report's list of commands.
func (b *Bench) load(ctx context.Context, l loadSpec) (*loadRun, error) {
	args := l.args()
	cmd := exec.CommandContext(ctx, b.opts.Load, args...)
	cmd.Env = hermeticEnv()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("imgpurge-load: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	var res loadgen.Result
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		return nil, fmt.Errorf("imgpurge-load output: %w", err)
	}
	b.commandOnce(b.display("bin/imgpurge-load "+shellJoin(args), l))
	return &loadRun{Result: &res, genCPU: cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()}, nil
}

// display replaces a run's own addresses and files with names.
func (b *Bench) display(line string, l loadSpec) string {
	line = strings.ReplaceAll(line, l.url, "$URL")
	line = strings.ReplaceAll(line, l.tokens, "$TOKENS")
	if l.record != "" {
		line = strings.ReplaceAll(line, l.record, "$CSV")
	}
	line = strings.ReplaceAll(line, "-seed "+fmt.Sprint(l.seed), "-seed $RUN")
	return line
}

func (b *Bench) commandOnce(line string) {
	for _, c := range b.rep.commands {
		if c == line {
			return
		}
	}
	b.rep.command(line)
}

// shellJoin joins args as a shell would need them typed.
func shellJoin(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = a
		if strings.ContainsAny(a, "^$()|*? ") && !strings.HasPrefix(a, "$") {
			out[i] = "'" + a + "'"
		}
	}
	return strings.Join(out, " ")
}
