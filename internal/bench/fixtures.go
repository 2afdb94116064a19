package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"time"

	cfemu "github.com/imgpurge/imgpurge/internal/emulator/cloudflare"
)

// The fixed latencies of the overhead measurement, and the critical path
// they make: the sum over tiers of each tier's slowest layer.
const (
	s3Latency     = 20 * time.Millisecond
	originLatency = 5 * time.Millisecond
	cdnLatency    = 150 * time.Millisecond
	criticalPath  = s3Latency + originLatency + cdnLatency
)

// fixtureLifetime bounds a fixture process that was never told to stop.
const fixtureLifetime = 30 * time.Minute

// latencyURLs are the loopback servers that answer for the providers of the
// overhead measurement. CDNPlain is a plain server with the CDN latency,
// for the variant whose layers are all httpcache.
type latencyURLs struct {
	S3         string `json:"s3"`
	Origin     string `json:"origin"`
	Cloudflare string `json:"cloudflare"`
	CDNPlain   string `json:"cdn_plain"`
}

// fixtureCount is what one fixture saw since the last reading: requests
// and the connections clients opened to carry them.
type fixtureCount struct {
	Requests int64 `json:"requests"`
	Conns    int64 `json:"conns"`
}

// latencyFixtures are the servers of the overhead measurement.
type latencyFixtures struct {
	urls  latencyURLs
	stops []func()
	// names, requests and conns are parallel: one entry a server.
	names    []string
	requests []func() int64
	conns    []*atomic.Int64
}

// unlimited is a Cloudflare account whose purge buckets no benchmark
// drains, so every call is answered after the delay and none with 429.
var unlimited = &cfemu.Limits{BulkRate: 1e9, BulkBurst: 1e9, URLRate: 1e9, URLBurst: 1e9}

// startLatencyFixtures serves, on 127.0.0.1, a stand-in for S3 and an
// origin cache that answer every request after their latency, and the
// Cloudflare emulator holding every answer for the CDN latency.
func startLatencyFixtures() (*latencyFixtures, error) {
	f := &latencyFixtures{}
	cf := cfemu.New(cfemu.Options{Limits: unlimited})
	cf.SetFaults(cfemu.Fault{Delay: cdnLatency})
	s3, origin, plain := &delayServer{delay: s3Latency}, &delayServer{delay: originLatency},
		&delayServer{delay: cdnLatency}
	for _, srv := range []struct {
		name     string
		url      *string
		h        http.Handler
		requests func() int64
	}{
		{"s3", &f.urls.S3, s3, s3.calls.Load},
		{"origin", &f.urls.Origin, origin, origin.calls.Load},
		{"cloudflare", &f.urls.Cloudflare, cf, func() int64 { return int64(len(cf.Calls())) }},
		{"cdn_plain", &f.urls.CDNPlain, plain, plain.calls.Load},
	} {
		conns := &atomic.Int64{}
		url, stop, err := serveCounting(srv.h, conns)
		if err != nil {
			f.stop()
			return nil, err
		}
		*srv.url, f.stops = url, append(f.stops, stop)
		f.names, f.requests, f.conns = append(f.names, srv.name), append(f.requests, srv.requests),
			append(f.conns, conns)
	}
	return f, nil
}

func (f *latencyFixtures) stop() {
	for _, s := range f.stops {
		s()
	}
}

// counts returns every fixture's totals so far.
func (f *latencyFixtures) counts() map[string]fixtureCount {
	out := map[string]fixtureCount{}
	for i, n := range f.names {
		out[n] = fixtureCount{Requests: f.requests[i](), Conns: f.conns[i].Load()}
	}
	return out
}

// latencyLayers is the datastore of the overhead measurement: one layer a
// tier, each a real provider of imgpurged calling its loopback server.
func latencyLayers(u latencyURLs) string {
	return fmt.Sprintf(`      - name: s3
        kind: httpcache
        tier: 0
        settings: {nodes: [%q]}
      - name: origin
        kind: httpcache
        tier: 1
        settings: {nodes: [%q]}
      - name: cdn
        kind: cloudflare
        tier: 2
        settings: {zone_id: %s, zone: %s, api_token: %s, base_url: %q}
`, u.S3, u.Origin, cfemu.DefaultZoneID, cfemu.DefaultZone, cfemu.DefaultToken, u.Cloudflare+"/client/v4")
}

// ServeFixtures is the fixture process: it serves the latency fixtures and
// writes their addresses as one JSON line to out; then each line "counts"
// read from in is answered with a JSON line of every fixture's totals. It
// stops when in is closed, ctx ends or fixtureLifetime passes. Running the
// fixtures in a process of their own keeps their CPU out of the service's
// profile.
func ServeFixtures(ctx context.Context, in io.Reader, out io.Writer) error {
	f, err := startLatencyFixtures()
	if err != nil {
		return err
	}
	defer f.stop()
	enc := json.NewEncoder(out)
	if err := enc.Encode(f.urls); err != nil {
		return err
	}
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		sc := bufio.NewScanner(in)
		for sc.Scan() {
			if sc.Text() == "counts" && enc.Encode(f.counts()) != nil {
				return
			}
		}
	}()
	select {
	case <-closed:
	case <-ctx.Done():
	case <-time.After(fixtureLifetime):
	}
	return nil
}

// fixtureClient talks to the fixture process.
type fixtureClient struct {
	urls latencyURLs
	in   io.WriteCloser
	out  *bufio.Reader
	stop func()
	mu   sync.Mutex
}

// fixtureProcess runs this binary as the fixture process.
func (b *Bench) fixtureProcess() (*fixtureClient, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, "-fixtures")
	cmd.Env = hermeticEnv()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	fc := &fixtureClient{in: stdin, out: bufio.NewReader(stdout)}
	fc.stop = func() {
		_ = stdin.Close()
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}
	line, err := fc.out.ReadBytes('\n')
	if err == nil {
		err = json.Unmarshal(line, &fc.urls)
	}
	if err == nil && (fc.urls.S3 == "" || fc.urls.Cloudflare == "") {
		err = errors.New("the fixture process named no addresses")
	}
	if err != nil {
		fc.stop()
		return nil, fmt.Errorf("fixture process: %w", err)
	}
	return fc, nil
}

// counts asks the fixture process for its totals.
func (fc *fixtureClient) counts() (map[string]fixtureCount, error) {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	if _, err := io.WriteString(fc.in, "counts\n"); err != nil {
		return nil, err
	}
	line, err := fc.out.ReadBytes('\n')
	if err != nil {
		return nil, err
	}
	var c map[string]fixtureCount
	return c, json.Unmarshal(line, &c)
}
