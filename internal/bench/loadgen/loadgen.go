// Package loadgen sends purge requests to an imgpurged on 127.0.0.1 and
// records every request's latency. It holds either a constant rate whatever
// the answers (open loop, for latency under a given load) or a fixed number
// of workers that each send again as soon as they are answered (closed loop,
// for the most purges a second the service sustains).
package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// TimeoutDefault bounds one request when Config.Timeout is zero.
const TimeoutDefault = 10 * time.Second

// Config is one load run. Every run is bounded twice: by MaxRequests and by
// Warmup+Duration.
type Config struct {
	// URL is imgpurged's base URL, such as http://127.0.0.1:8080. Only
	// 127.0.0.1 is accepted: the generator is for this machine's loopback.
	URL string
	// Path is the request path with one %s for the image id, such as
	// /image/%s/640x360.jpg. Each request purges a different image.
	Path string
	// Tokens are bearer tokens. With Distinct, request i presents Tokens[i]
	// and at most len(Tokens) requests are sent; otherwise every request
	// presents Tokens[0].
	Tokens   []string
	Distinct bool
	// Rate, when positive, is the requests sent per second (open loop).
	// Otherwise Concurrency workers send back to back (closed loop).
	Rate        float64
	Concurrency int
	// Warmup is sent but not measured: connections are opened and pools
	// filled during it. Duration is the measured time after it.
	Warmup   time.Duration
	Duration time.Duration
	// MaxRequests bounds the requests sent, warm-up included.
	MaxRequests int
	// Timeout bounds one request. Default TimeoutDefault.
	Timeout time.Duration
	// Seed makes this run's image ids differ from other runs'.
	Seed uint32
}

func (c *Config) validate() error {
	u, err := url.Parse(c.URL)
	switch {
	case err != nil:
		return fmt.Errorf("url: %w", err)
	case u.Scheme != "http" || u.Hostname() != "127.0.0.1":
		return fmt.Errorf("url: %q is not http://127.0.0.1:port", c.URL)
	case len(c.Tokens) == 0:
		return errors.New("tokens: at least one is required")
	case c.Rate <= 0 && c.Concurrency <= 0:
		return errors.New("give a rate (open loop) or a concurrency (closed loop)")
	case c.Duration <= 0 || c.MaxRequests <= 0:
		return errors.New("duration and max requests must be positive")
	}
	if c.Timeout <= 0 {
		c.Timeout = TimeoutDefault
	}
	return nil
}

// record is one request, its times as offsets from the run's start.
type record struct {
	used           bool
	due, sent, end time.Duration
	status         int // -1 for a transport error
}

type gen struct {
	cfg    Config
	client *http.Client
	start  time.Time
	recs   []record
	errMu  sync.Mutex
	first  error
}

// Run sends the load and summarises it. It returns when every request sent
// has been answered or has timed out.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	n := cfg.MaxRequests
	if cfg.Distinct {
		n = min(n, len(cfg.Tokens))
	}
	if cfg.Rate > 0 {
		n = min(n, int(cfg.Rate*(cfg.Warmup+cfg.Duration).Seconds()))
	}
	// Everything stops by itself, even if the service never answers.
	ctx, cancel := context.WithTimeout(ctx, cfg.Warmup+cfg.Duration+cfg.Timeout+5*time.Second)
	defer cancel()
	g := &gen{cfg: cfg, client: newClient(cfg.Timeout), recs: make([]record, n)}
	defer g.client.CloseIdleConnections()
	g.start = time.Now()
	if cfg.Rate > 0 {
		g.openLoop(ctx, n)
	} else {
		g.closedLoop(ctx, n)
	}
	return g.result(), nil
}

func newClient(timeout time.Duration) *http.Client {
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			// Loopback only: a proxy from the environment must not see this.
			Proxy:               nil,
			DialContext:         dialer.DialContext,
			MaxIdleConnsPerHost: 4096,
			IdleConnTimeout:     30 * time.Second,
			DisableCompression:  true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// openLoop starts request i at start + i/rate in its own goroutine, so a
// slow answer never delays the requests after it.
func (g *gen) openLoop(ctx context.Context, n int) {
	var wg sync.WaitGroup
	step := float64(time.Second) / g.cfg.Rate
	for i := range n {
		due := time.Duration(float64(i) * step)
		if wait := time.Until(g.start.Add(due)); wait > 0 {
			time.Sleep(wait)
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() { g.do(ctx, i, due) })
	}
	wg.Wait()
}

// closedLoop runs Concurrency workers until n requests are sent or the
// run's time is up.
func (g *gen) closedLoop(ctx context.Context, n int) {
	var next atomic.Int64
	end := g.cfg.Warmup + g.cfg.Duration
	var wg sync.WaitGroup
	for range g.cfg.Concurrency {
		wg.Go(func() {
			for ctx.Err() == nil {
				now := time.Since(g.start)
				i := int(next.Add(1) - 1)
				if i >= n || now >= end {
					return
				}
				g.do(ctx, i, now)
			}
		})
	}
	wg.Wait()
}

func (g *gen) do(ctx context.Context, i int, due time.Duration) {
	rec := &g.recs[i]
	rec.used, rec.due = true, due
	token := g.cfg.Tokens[0]
	if g.cfg.Distinct {
		token = g.cfg.Tokens[i]
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete,
		g.cfg.URL+fmt.Sprintf(g.cfg.Path, ImageID(g.cfg.Seed, i)), nil)
	if err != nil {
		g.fail(rec, err)
		return
	}
	req.Header.Set("Authorization", "Bearer "+token)
	rec.sent = time.Since(g.start)
	resp, err := g.client.Do(req)
	if err != nil {
		g.fail(rec, err)
		return
	}
	// Read the whole answer: the latency is to its last byte, and the
	// connection is reused only once the body is drained.
	_, err = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	rec.end = time.Since(g.start)
	rec.status = resp.StatusCode
	if err != nil {
		g.fail(rec, err)
	}
}

func (g *gen) fail(rec *record, err error) {
	rec.status, rec.end = -1, time.Since(g.start)
	g.errMu.Lock()
	defer g.errMu.Unlock()
	if g.first == nil {
		g.first = err
	}
}

// ImageID is the UUID-shaped image id of request i of the run with seed.
func ImageID(seed uint32, i int) string {
	return fmt.Sprintf("%08x-0000-4000-8000-%012x", seed, i)
}
