package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/imgpurge/imgpurge/internal/config"
	akamaiemu "github.com/imgpurge/imgpurge/internal/emulator/akamai"
	cfemu "github.com/imgpurge/imgpurge/internal/emulator/cloudflare"
	cfrontemu "github.com/imgpurge/imgpurge/internal/emulator/cloudfront"
	fastlyemu "github.com/imgpurge/imgpurge/internal/emulator/fastly"
	"github.com/imgpurge/imgpurge/internal/purge"
	"github.com/imgpurge/imgpurge/internal/selector"
	"github.com/imgpurge/imgpurge/providers/akamai"
	"github.com/imgpurge/imgpurge/providers/cloudflare"
	"github.com/imgpurge/imgpurge/providers/cloudfront"
	"github.com/imgpurge/imgpurge/providers/fastly"
	"github.com/imgpurge/imgpurge/providers/httpcache"
)

// fanoutRuns is the least number of runs of each way; they are short.
const fanoutRuns = 5

// fixtureSet is a set of loopback servers and the providers built on them.
type fixtureSet struct {
	stops   []func()
	closers []io.Closer
}

func (f *fixtureSet) close() {
	for _, c := range f.closers {
		_ = c.Close()
	}
	for _, s := range f.stops {
		s()
	}
}

func (f *fixtureSet) serve(h http.Handler) (string, error) {
	url, stop, err := serve(h)
	if err == nil {
		f.stops = append(f.stops, stop)
	}
	return url, err
}

// layerSpec names a provider and its settings.
type layerSpec struct {
	name, kind string
	tier       int
	latency    time.Duration
	factory    purge.Factory
	settings   string
}

// build makes a layer the way imgpurged does: the provider's own New with
// its settings decoded strictly from YAML.
func (f *fixtureSet) build(ctx context.Context, l layerSpec) (purge.Layer, error) {
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(l.settings), &n); err != nil {
		return purge.Layer{}, err
	}
	p, err := l.factory(ctx, purge.LayerSpec{
		Datastore: "media", Layer: l.name, Tier: l.tier, PublicHosts: []string{"img.example.test"},
		Decode: func(v any) error { return config.DecodeStrict(n.Content[0], v) },
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		return purge.Layer{}, fmt.Errorf("layer %s: %w", l.name, err)
	}
	if c, ok := p.(io.Closer); ok {
		f.closers = append(f.closers, c)
	}
	return purge.Layer{Name: l.name, Kind: l.kind, Tier: l.tier, Timeout: 5 * time.Second, Provider: p}, nil
}

// delayed serves a delayServer and returns an httpcache layer purging it.
func (f *fixtureSet) delayed(name string, tier int, d time.Duration) (layerSpec, error) {
	url, err := f.serve(&delayServer{delay: d})
	return layerSpec{name: name, kind: "httpcache", tier: tier, latency: d, factory: httpcache.New,
		settings: fmt.Sprintf("nodes: [%q]\n", url)}, err
}

// cdnLayers serves the four CDN emulators, each holding every answer for
// the CDN latency, and returns a layer for each.
func (f *fixtureSet) cdnLayers() ([]layerSpec, error) {
	cf := cfemu.New(cfemu.Options{Limits: unlimited})
	cf.SetFaults(cfemu.Fault{Delay: cdnLatency})
	cfront := cfrontemu.New(cfrontemu.Options{})
	cfront.SetFault(&cfrontemu.Fault{Delay: cdnLatency})
	fst := fastlyemu.New(fastlyemu.Options{})
	fst.FailWhen(func(fastlyemu.Call) bool { return true }, fastlyemu.Fault{Delay: cdnLatency})
	ak := akamaiemu.New(akamaiemu.Options{})
	ak.FailWhen(func(akamaiemu.Call) bool { return true }, akamaiemu.Fault{Delay: cdnLatency})
	var urls [4]string
	for i, h := range []http.Handler{cf, cfront, fst, ak} {
		var err error
		if urls[i], err = f.serve(h); err != nil {
			return nil, err
		}
	}
	return []layerSpec{
		{name: "cloudflare", kind: "cloudflare", tier: 2, latency: cdnLatency, factory: cloudflare.New,
			settings: fmt.Sprintf("{zone_id: %s, zone: %s, api_token: %s, base_url: %q}",
				cfemu.DefaultZoneID, cfemu.DefaultZone, cfemu.DefaultToken, urls[0]+"/client/v4")},
		{name: "cloudfront", kind: "cloudfront", tier: 2, latency: cdnLatency, factory: cloudfront.New,
			settings: fmt.Sprintf("{distribution_id: %s, endpoint: %q, access_key_id: %s, secret_access_key: %s}",
				cfrontemu.TestDistribution, urls[1], cfrontemu.TestAccessKeyID, cfrontemu.TestSecretAccessKey)},
		{name: "fastly", kind: "fastly", tier: 2, latency: cdnLatency, factory: fastly.New,
			settings: fmt.Sprintf("{service_id: %s, api_token: %s, base_url: %q}",
				fastlyemu.ServiceIDDefault, fastlyemu.APIKeyDefault, urls[2])},
		{name: "akamai", kind: "akamai", tier: 2, latency: cdnLatency, factory: akamai.New,
			settings: fmt.Sprintf("{host: %q, scheme: http, client_token: %s, client_secret: %q, access_token: %s}",
				strings.TrimPrefix(urls[3], "http://"), akamaiemu.ClientTokenDefault,
				akamaiemu.ClientSecretDefault, akamaiemu.AccessTokenDefault)},
	}, nil
}

// fanoutCase is one datastore, purged both ways.
type fanoutCase struct {
	name   string
	specs  []layerSpec
	ds     *purge.Datastore
	script []float64 // ms per run
	tiers  []float64
}

// criticalPath is the sum over tiers of each tier's slowest layer; sum is
// every layer's latency added up, what a script waits for.
func (c *fanoutCase) paths() (critical, sum time.Duration) {
	slowest := map[int]time.Duration{}
	for _, l := range c.specs {
		slowest[l.tier] = max(slowest[l.tier], l.latency)
		sum += l.latency
	}
	for _, d := range slowest {
		critical += d
	}
	return critical, sum
}

func (b *Bench) fanout(ctx context.Context) error {
	f := &fixtureSet{}
	defer f.close()
	s3, err1 := f.delayed("s3", 0, s3Latency)
	origin, err2 := f.delayed("origin", 1, originLatency)
	originB, err3 := f.delayed("origin-b", 1, originLatency)
	cdns, err4 := f.cdnLayers()
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		return err
	}
	cases := []*fanoutCase{
		{name: "A: the overhead datastore, one layer a tier", specs: []layerSpec{s3, origin, cdns[0]}},
		{name: "B: two origin caches and four CDNs", specs: append([]layerSpec{s3, origin, originB}, cdns...)},
	}
	for _, c := range cases {
		c.ds = &purge.Datastore{Name: "media"}
		for _, spec := range c.specs {
			l, err := f.build(ctx, spec)
			if err != nil {
				return err
			}
			c.ds.Layers = append(c.ds.Layers, l)
		}
	}
	orch := &purge.Orchestrator{Logger: slog.New(slog.DiscardHandler)}
	runs := max(b.opts.Runs, fanoutRuns)
	for i := range runs {
		for j, c := range cases {
			if err := c.measure(ctx, orch, uint32(300+10*j+i)); err != nil {
				return fmt.Errorf("%s: %w", c.name, err)
			}
		}
	}
	b.fanoutReport(cases, runs)
	return nil
}

// measure purges one image through imgpurge's tiers and another the way a
// script does, one provider call after the other in tier order.
func (c *fanoutCase) measure(ctx context.Context, orch *purge.Orchestrator, seed uint32) error {
	sel, err := selector.Parse("640x360.jpg")
	if err != nil {
		return err
	}
	plan, err := purge.NewPlan(ctx, "fanout", c.ds, fmt.Sprintf("%08x-0000-4000-8000-000000000001", seed), sel)
	if err != nil {
		return err
	}
	start := time.Now()
	out := orch.Execute(ctx, c.ds, plan)
	c.tiers = append(c.tiers, msOf(time.Since(start)))
	if !out.OK() {
		return fmt.Errorf("imgpurge's purge did not succeed: %+v", out.Layers)
	}

	plan, err = purge.NewPlan(ctx, "fanout", c.ds, fmt.Sprintf("%08x-0000-4000-8000-000000000002", seed), sel)
	if err != nil {
		return err
	}
	steps := slices.Clone(plan.Steps)
	slices.SortStableFunc(steps, func(a, b purge.Step) int { return a.Tier - b.Tier })
	start = time.Now()
	for _, st := range steps {
		l := c.ds.Layers[slices.IndexFunc(c.ds.Layers, func(l purge.Layer) bool { return l.Name == st.Layer })]
		if _, err := l.Provider.Purge(ctx, st.Items); err != nil {
			return fmt.Errorf("script: layer %s: %w", st.Layer, err)
		}
	}
	c.script = append(c.script, msOf(time.Since(start)))
	return nil
}

func (b *Bench) fanoutReport(cases []*fanoutCase, runs int) {
	s := b.rep.section("3. Fan-out against a sequential script")
	s.p("The same purge (one rendition of one image) done two ways in the same run, alternating, "+
		"%d times each: by imgpurge's orchestrator (tiers in order, the layers of a tier in "+
		"parallel), and the way a purge script does it, calling each provider in turn. Both use the "+
		"same provider code and the same plan, in this process: `httpcache` layers to loopback "+
		"servers that answer after %s (the S3 stand-in) and %s (origin caches), and the "+
		"`cloudflare`, `cloudfront`, `fastly` and `akamai` providers against their emulators, each "+
		"emulator holding every answer for %s with its Delay fault.", runs, s3Latency, originLatency, cdnLatency)
	var rows [][]string
	var verdicts []string
	for _, c := range cases {
		crit, sum := c.paths()
		names := make([]string, len(c.specs))
		for i, l := range c.specs {
			names[i] = fmt.Sprintf("%s (tier %d, %s)", l.name, l.tier, l.latency)
		}
		sm, tm := median(c.script), median(c.tiers)
		rows = append(rows, []string{c.name, strings.Join(names, ", "),
			fmt.Sprintf("%s; %s", sum, each(c.script, "%.0f", func(x float64) float64 { return x })),
			fmt.Sprintf("**%.1f**", sm),
			fmt.Sprintf("%s; %s", crit, each(c.tiers, "%.0f", func(x float64) float64 { return x })),
			fmt.Sprintf("**%.1f**", tm), "**" + ratio(sm, tm) + "**"})
		verdicts = append(verdicts, fmt.Sprintf("%s %s (%.0f → %.0f ms)", c.name[:1], ratio(sm, tm), sm, tm))
	}
	s.table([]string{"datastore", "layers", "script: sum of latencies; ms per run", "script median ms",
		"imgpurge: critical path; ms per run", "imgpurge median ms", "script ÷ imgpurge"}, rows)
	s.p("With one layer a tier (A) the tiers are as sequential as a script, and imgpurge gains " +
		"nothing in time; the order (derivatives, then the origin, then the edge) is what it adds. " +
		"With several layers in a tier (B) the script pays every latency in turn and imgpurge only " +
		"each tier's slowest.")
	b.rep.verdict("3. Fan-out: script time ÷ imgpurge time", strings.Join(verdicts, "; "),
		"report the ratio", "reported")
}
