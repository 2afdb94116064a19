// Command imgpurge-bench measures imgpurge against its performance targets
// and its alternatives, on this machine's loopback only, and writes the
// report (docs/benchmarks.md). make bench builds and runs it.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/imgpurge/imgpurge/internal/bench"
)

// limit stops a run that hangs; a whole run takes a few minutes.
const limit = 30 * time.Minute

func main() {
	var o bench.Options
	var only string
	fixtures := flag.Bool("fixtures", false, "serve the latency fixtures until stdin closes (internal)")
	flag.StringVar(&o.Imgpurged, "imgpurged", "bin/imgpurged", "imgpurged binary")
	flag.StringVar(&o.Load, "load", "bin/imgpurge-load", "load generator binary")
	flag.StringVar(&o.Out, "out", "docs/benchmarks.md", "report to write")
	flag.StringVar(&o.Artifacts, "artifacts", "var/bench", "directory for profiles, latencies and logs")
	flag.IntVar(&o.Runs, "runs", bench.RunsDefault, "runs per figure (at least 3)")
	flag.StringVar(&only, "only", "", "comma-separated measurements to run (default all)")
	flag.BoolVar(&o.Short, "short", false, "shorter loads, to try the harness out")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	var err error
	if *fixtures {
		err = bench.ServeFixtures(ctx, os.Stdin, os.Stdout)
	} else {
		if only != "" {
			o.Only = strings.Split(only, ",")
		}
		o.Log = os.Stderr
		err = bench.Run(ctx, o)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "imgpurge-bench:", err)
		os.Exit(1)
	}
}
