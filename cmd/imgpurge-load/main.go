// Command imgpurge-load sends purge requests to an imgpurged on 127.0.0.1,
// at a constant rate or from a fixed number of workers, and prints a JSON
// summary of the answers and their latencies. make bench runs it as a
// separate process, so the service's CPU is measured apart from the load's.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/imgpurge/imgpurge/internal/bench/loadgen"
)

func main() {
	var cfg loadgen.Config
	var tokens, record string
	flag.StringVar(&cfg.URL, "url", "", "imgpurged base URL, http://127.0.0.1:port")
	flag.StringVar(&cfg.Path, "path", "/image/%s/640x360.jpg", "request path, %s is the image id")
	flag.StringVar(&tokens, "tokens", "", "file of bearer tokens, one a line")
	flag.BoolVar(&cfg.Distinct, "distinct", false, "a different token for every request")
	flag.Float64Var(&cfg.Rate, "rate", 0, "requests per second (open loop)")
	flag.IntVar(&cfg.Concurrency, "c", 0, "workers sending back to back (closed loop)")
	flag.DurationVar(&cfg.Warmup, "warmup", 0, "time sent but not measured")
	flag.DurationVar(&cfg.Duration, "duration", 0, "measured time after the warm-up")
	flag.IntVar(&cfg.MaxRequests, "n", 100000, "most requests sent, warm-up included")
	flag.DurationVar(&cfg.Timeout, "timeout", loadgen.TimeoutDefault, "bound of one request")
	seed := flag.Uint("seed", 1, "distinguishes this run's image ids")
	flag.StringVar(&record, "record", "", "write every request's latency to this CSV file")
	flag.Parse()
	cfg.Seed = uint32(*seed)
	if err := run(cfg, tokens, record); err != nil {
		fmt.Fprintln(os.Stderr, "imgpurge-load:", err)
		os.Exit(1)
	}
}

func run(cfg loadgen.Config, tokens, record string) error {
	raw, err := os.ReadFile(tokens)
	if err != nil {
		return err
	}
	cfg.Tokens = strings.Fields(string(raw))
	res, err := loadgen.Run(context.Background(), cfg)
	if err != nil {
		return err
	}
	if record != "" {
		f, err := os.Create(record)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := res.WriteCSV(f); err != nil {
			return err
		}
	}
	return json.NewEncoder(os.Stdout).Encode(res)
}
