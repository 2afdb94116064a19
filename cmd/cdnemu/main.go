// Command cdnemu serves local emulators of the CDN purge APIs (Cloudflare,
// CloudFront, Fastly, Akamai) on loopback addresses, for demos and manual
// tests. It is never a production target.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/sync/errgroup"

	"github.com/imgpurge/imgpurge/internal/emulator/standalone"
)

func main() {
	addrs := map[string]*string{}
	for _, kind := range []string{"cloudflare", "cloudfront", "fastly", "akamai"} {
		addrs[kind] = flag.String(kind, "", "serve the "+kind+" emulator on this 127.0.0.1:port")
	}
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	g, ctx := errgroup.WithContext(ctx)
	n := 0
	for kind, addr := range addrs {
		if *addr == "" {
			continue
		}
		h, err := standalone.New(kind)
		if err != nil {
			fmt.Fprintln(os.Stderr, "cdnemu:", err)
			os.Exit(2)
		}
		n++
		fmt.Printf("cdnemu: %s emulator on http://%s (calls at %s)\n", kind, *addr, standalone.CallsPath)
		g.Go(func() error { return standalone.Serve(ctx, *addr, h) })
	}
	if n == 0 {
		fmt.Fprintln(os.Stderr, "cdnemu: name at least one emulator, e.g. -cloudflare 127.0.0.1:18101")
		os.Exit(2)
	}
	if err := g.Wait(); err != nil {
		fmt.Fprintln(os.Stderr, "cdnemu:", err)
		os.Exit(1)
	}
}
