// Package demo runs the whole imgpurge system on 127.0.0.1 for a newcomer:
// a real S3-compatible server holding derivatives, a small origin serving
// renditions from it, Varnish in front of the origin, the CDN emulators and
// imgpurged wiring them all as one datastore. It seeds images, shows a
// cached GET, purges one size through the command line, shows what each
// layer received, checks the outcome and stops everything it started.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/imgpurge/imgpurge/internal/proc"
)

// Options say where the demo finds its parts and where it prints.
type Options struct {
	// Bin holds imgpurged, imgpurge and cdnemu (make build puts them in
	// ./bin).
	Bin string
	// Repo is the repository root, for deploy/varnish/imgpurge.vcl.
	Repo string
	// Out receives the narration.
	Out io.Writer
}

// Images seeded, and the renditions each one has.
var (
	Images     = []string{"1e8a9135-5976-4de8-9c27-64cc33bf9baa", "5c0f1a2b-7d3e-4f60-9a8b-0c1d2e3f4a5b"}
	Renditions = []string{"320x180.jpg", "640x360.jpg", "640x360.webp", "1280x720.jpg"}
)

const (
	host     = "img.example.test"
	bucket   = "derived-bucket"
	s3Key    = "demo-access-key"
	s3Secret = "demo-secret-key-for-local-use-only"
)

// demo holds the running parts.
type demo struct {
	opts    Options
	dir     string
	daemons []*proc.Daemon
	stops   []func()

	s3URL, originURL, varnishURL, cfURL, cfrontURL, apiURL string
	token                                                  string
}

// Run runs the demo until it has shown everything or ctx ends, and stops
// what it started either way. It returns an error when a check fails.
func Run(ctx context.Context, opts Options) error {
	dir, err := os.MkdirTemp("", "imgpurge-demo-")
	if err != nil {
		return err
	}
	// Varnish's child runs as another user and must enter its work dir.
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
	}
	d := &demo{opts: opts, dir: dir}
	defer d.stop()
	return d.run(ctx)
}

func (d *demo) say(format string, args ...any) { fmt.Fprintf(d.opts.Out, format+"\n", args...) }

func (d *demo) step(title string) { d.say("\n== %s", title) }

func (d *demo) run(ctx context.Context) error {
	for _, start := range []struct {
		title string
		fn    func(context.Context) error
	}{
		{"Starting an S3-compatible server (versitygw) with the derivatives", d.startS3},
		{"Starting the origin, which serves renditions from S3", d.startOrigin},
		{"Starting Varnish in front of the origin", d.startVarnish},
		{"Starting the Cloudflare and CloudFront emulators", d.startCDNs},
		{"Starting imgpurged with one datastore wiring all of them", d.startImgpurged},
	} {
		d.step(start.title)
		if err := start.fn(ctx); err != nil {
			return fmt.Errorf("%s: %w", start.title, err)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return d.show(ctx)
}

func (d *demo) stop() {
	for i := len(d.stops) - 1; i >= 0; i-- {
		d.stops[i]()
	}
	for i := len(d.daemons) - 1; i >= 0; i-- {
		d.daemons[i].Stop(nil)
	}
	_ = os.RemoveAll(d.dir)
}

// daemon starts a server and waits until url answers.
func (d *demo) daemon(name, url string, env []string, bin string, args ...string) error {
	p, err := proc.Start(filepath.Join(d.dir, name+".log"), env, bin, args...)
	if err != nil {
		return err
	}
	d.daemons = append(d.daemons, p)
	if err := p.WaitHTTP(url, 30*time.Second); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	d.say("   %s is up on %s (pid %d)", name, strings.TrimPrefix(url, "http://"), p.PID())
	return nil
}

// freeAddr picks a free 127.0.0.1 port.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// need finds a binary or says how to get it.
func need(name, hint string) (string, error) {
	if p := proc.LookPath(name); p != "" {
		return p, nil
	}
	return "", errors.New(name + " not found: " + hint)
}
