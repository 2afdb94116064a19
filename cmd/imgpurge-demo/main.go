// Command imgpurge-demo runs the whole system on 127.0.0.1, purges one
// rendition size through every layer, shows what each received, and stops
// everything it started. `make demo` runs it.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/imgpurge/imgpurge/internal/demo"
)

func main() {
	bin := flag.String("bin", "./bin", "directory holding imgpurged, imgpurge and cdnemu")
	repo := flag.String("repo", ".", "repository root")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := demo.Run(ctx, demo.Options{Bin: *bin, Repo: *repo, Out: os.Stdout}); err != nil {
		fmt.Fprintln(os.Stderr, "\ndemo:", err)
		os.Exit(1)
	}
}
