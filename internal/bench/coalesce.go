package bench

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/imgpurge/imgpurge/internal/account"
	cfemu "github.com/imgpurge/imgpurge/internal/emulator/cloudflare"
	cfrontemu "github.com/imgpurge/imgpurge/internal/emulator/cloudfront"
	"github.com/imgpurge/imgpurge/internal/purge"
	"github.com/imgpurge/imgpurge/providers/cloudflare"
	"github.com/imgpurge/imgpurge/providers/cloudfront"
)

// Coalescing: a burst of purges of different images to one CDN account.
const (
	burstPurges    = 1000
	coalesceWindow = 100 * time.Millisecond
	burstSpread    = time.Second
)

// cdnAccount is one CDN account under a burst: its provider and what its
// emulator saw.
type cdnAccount struct {
	provider purge.Provider
	limit    int
	// calls are the API calls the emulator answered with success, and
	// items the URLs or paths they carried.
	calls func() (calls, items int)
}

// burstRun is one burst through a coalescer.
type burstRun struct {
	calls, items, failed int
	firstErr             error
	lat                  []float64 // ms per purge, from its call to its answer
	took                 time.Duration
}

func (r burstRun) p50() float64 { return quantile(r.lat, 0.50) }
func (r burstRun) p99() float64 { return quantile(r.lat, 0.99) }

// burst sends burstPurges purges of different images through a coalescer
// with window w, all at once or spread evenly over burstSpread.
func burst(ctx context.Context, a cdnAccount, w time.Duration, spread bool, seed uint32) burstRun {
	c := account.NewCoalescer(a.provider, w, a.limit)
	run := burstRun{lat: make([]float64, burstPurges)}
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	for i := range burstPurges {
		if spread {
			if d := time.Until(start.Add(burstSpread * time.Duration(i) / burstPurges)); d > 0 {
				time.Sleep(d)
			}
		}
		wg.Go(func() {
			id := fmt.Sprintf("%08x-0000-4000-8000-%012x", seed, i)
			items, err := a.provider.Plan(purge.Target{ImageID: id, Renditions: []string{"640x360.jpg"}})
			t0 := time.Now()
			if err == nil {
				pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				_, err = c.Purge(pctx, items)
				cancel()
			}
			run.lat[i] = msOf(time.Since(t0))
			if err != nil {
				mu.Lock()
				if run.failed++; run.firstErr == nil {
					run.firstErr = err
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	run.took = time.Since(start)
	run.calls, run.items = a.calls()
	return run
}

// cloudflareAccount is a fresh Cloudflare emulator (Enterprise buckets, 30
// URLs a call) and the cloudflare provider on it.
func cloudflareAccount(ctx context.Context, f *fixtureSet) (cdnAccount, error) {
	emu := cfemu.New(cfemu.Options{})
	url, err := f.serve(emu)
	if err != nil {
		return cdnAccount{}, err
	}
	l, err := f.build(ctx, layerSpec{name: "cloudflare", kind: "cloudflare", tier: 2, factory: cloudflare.New,
		settings: fmt.Sprintf("{zone_id: %s, zone: %s, api_token: %s, base_url: %q}",
			cfemu.DefaultZoneID, cfemu.DefaultZone, cfemu.DefaultToken, url+"/client/v4")})
	if err != nil {
		return cdnAccount{}, err
	}
	calls := func() (int, int) {
		n := 0
		for _, c := range emu.Calls() {
			if c.Success {
				n++
			}
		}
		return n, len(emu.Purged())
	}
	return cdnAccount{provider: l.Provider, limit: l.Provider.(account.Batched).MaxItemsPerCall(), calls: calls}, nil
}

// cloudfrontAccount is a fresh CloudFront emulator and the cloudfront
// provider on it (3,000 paths a call).
func cloudfrontAccount(ctx context.Context, f *fixtureSet) (cdnAccount, error) {
	emu := cfrontemu.New(cfrontemu.Options{})
	url, err := f.serve(emu)
	if err != nil {
		return cdnAccount{}, err
	}
	l, err := f.build(ctx, layerSpec{name: "cloudfront", kind: "cloudfront", tier: 2, factory: cloudfront.New,
		settings: fmt.Sprintf("{distribution_id: %s, endpoint: %q, access_key_id: %s, secret_access_key: %s}",
			cfrontemu.TestDistribution, url, cfrontemu.TestAccessKeyID, cfrontemu.TestSecretAccessKey)})
	if err != nil {
		return cdnAccount{}, err
	}
	calls := func() (int, int) {
		n, paths := 0, 0
		for _, c := range emu.Calls() {
			if c.Operation == "CreateInvalidation" && c.InvalidationID != "" && !c.Duplicate {
				n++
				paths += len(c.Paths)
			}
		}
		return n, paths
	}
	return cdnAccount{provider: l.Provider, limit: l.Provider.(account.Batched).MaxItemsPerCall(), calls: calls}, nil
}

// burstCase is one CDN and arrival pattern, coalesced and not.
type burstCase struct {
	cdn, unit string
	spread    bool
	limit     int
	on, off   []burstRun
}

func (b *Bench) coalescing(ctx context.Context) error {
	cdns := []struct {
		name, unit string
		open       func(context.Context, *fixtureSet) (cdnAccount, error)
	}{
		{"Cloudflare", "URLs", cloudflareAccount},
		{"CloudFront", "paths", cloudfrontAccount},
	}
	var cases []*burstCase
	for ci, cdn := range cdns {
		for _, spread := range []bool{false, true} {
			bc := &burstCase{cdn: cdn.name, unit: cdn.unit, spread: spread}
			for r := range b.opts.Runs {
				for _, w := range []time.Duration{coalesceWindow, 0} {
					run, limit, err := b.oneBurst(ctx, cdn.open, w, spread, uint32(400+100*ci+10*r))
					if err != nil {
						return fmt.Errorf("%s: %w", cdn.name, err)
					}
					if run.failed > 0 {
						return fmt.Errorf("%s: %d of %d purges failed: %w", cdn.name, run.failed, burstPurges, run.firstErr)
					}
					bc.limit = limit
					if w > 0 {
						bc.on = append(bc.on, run)
					} else {
						bc.off = append(bc.off, run)
					}
				}
			}
			b.logf("coalescing %s spread=%t: %d calls coalesced, %d not", cdn.name, spread,
				bc.on[0].calls, bc.off[0].calls)
			cases = append(cases, bc)
		}
	}
	b.coalescingReport(cases)
	return nil
}

// oneBurst runs one burst against a fresh emulator, so that no run counts
// another's calls or finds its invalidations still in progress.
func (b *Bench) oneBurst(ctx context.Context, open func(context.Context, *fixtureSet) (cdnAccount, error),
	w time.Duration, spread bool, seed uint32) (burstRun, int, error) {
	f := &fixtureSet{}
	defer f.close()
	a, err := open(ctx, f)
	if err != nil {
		return burstRun{}, 0, err
	}
	return burst(ctx, a, w, spread, seed), a.limit, nil
}

func (b *Bench) coalescingReport(cases []*burstCase) {
	s := b.rep.section("4. Coalescing a burst to one CDN account")
	s.p("%s purges of different images (one rendition each, so one URL or path each) to one "+
		"Cloudflare zone, then to one CloudFront distribution, through the real provider "+
		"(cloudflare-go; aws-sdk-go-v2 CreateInvalidation) against its emulator, which answers at "+
		"once, and account.Coalescer, the group commit imgpurged puts in front of every CDN account. "+
		"Each burst arrives either all at once or spread evenly over %s, and runs twice: with a "+
		"coalescing window of %s and with the window at 0 (off: one API call per purge). A fresh "+
		"emulator serves every run. Latency is one purge's wait from its call into the coalescer to "+
		"its answer; what the window adds is the difference between the two.",
		thousands(burstPurges), burstSpread, coalesceWindow)
	var rows [][]string
	for _, c := range cases {
		pattern := "all at once"
		if c.spread {
			pattern = "spread over " + burstSpread.String()
		}
		minimum := (burstPurges + c.limit - 1) / c.limit
		on := medianOf(c.on, func(r burstRun) float64 { return float64(r.calls) })
		off := medianOf(c.off, func(r burstRun) float64 { return float64(r.calls) })
		items := medianOf(c.on, func(r burstRun) float64 { return float64(r.items) })
		addP50 := medianOf(c.on, burstRun.p50) - medianOf(c.off, burstRun.p50)
		addP99 := medianOf(c.on, burstRun.p99) - medianOf(c.off, burstRun.p99)
		rows = append(rows, []string{c.cdn, pattern, fmt.Sprint(c.limit),
			fmt.Sprintf("**%.0f** (%s)", on, each(c.on, "%.0f", func(r burstRun) float64 { return float64(r.calls) })),
			fmt.Sprint(minimum), fmt.Sprintf("%.0f", off), fmt.Sprintf("%.0f", items),
			ratio(on, float64(minimum)), ratio(off, on),
			fmt.Sprintf("%.1f / %.1f", medianOf(c.on, burstRun.p50), medianOf(c.on, burstRun.p99)),
			fmt.Sprintf("%.1f / %.1f", medianOf(c.off, burstRun.p50), medianOf(c.off, burstRun.p99)),
			fmt.Sprintf("%+.1f / %+.1f", addP50, addP99)})
	}
	for i := 0; i+1 < len(cases); i += 2 {
		b.coalescingVerdict(cases[i], cases[i+1])
	}
	s.table([]string{"CDN", "arrivals", "items per call", "API calls coalesced (runs)", "minimum",
		"one per purge (window 0)", "URLs/paths sent", "calls ÷ minimum", "calls saved",
		"latency p50 / p99 ms, coalesced", "latency p50 / p99 ms, window 0", "added by the window p50 / p99 ms"}, rows)
	if len(cases) > 0 && medianOf(cases[0].on, burstRun.p50) < medianOf(cases[0].off, burstRun.p50) {
		s.p("All at once, the merged calls answer sooner than a thousand separate calls, which " +
			"queue for connections and for the emulator, so the window costs nothing there; spread " +
			"over a second, each purge waits for its batch to fill or its window to end, and that " +
			"wait is what coalescing costs.")
	}
	s.p("The minimum is the purges divided by the provider's items per call. Spread over a "+
		"second, a batch is sent when it is full or when its %s window ends, whichever comes "+
		"first, so CloudFront, whose calls hold 3,000 paths, makes one call per window there "+
		"(about %d) rather than one in all: the window, not the call's size, bounds the merging. "+
		"CloudFront bills per path, so the paths sent are the cost, the same either way; the "+
		"invalidation count is what the window saves (and what CloudFront's in-progress and "+
		"rate limits count).", coalesceWindow, int(burstSpread/coalesceWindow))
}

// coalescingVerdict is the summary row of one CDN: calls all at once, and
// the latency the window adds when the purges are spread out.
func (b *Bench) coalescingVerdict(burst, spread *burstCase) {
	calls := func(r burstRun) float64 { return float64(r.calls) }
	minimum := (burstPurges + burst.limit - 1) / burst.limit
	b.rep.verdict(fmt.Sprintf("4. Coalescing, %s: %s purges of different images", burst.cdn,
		thousands(burstPurges)),
		fmt.Sprintf("%.0f calls at once, %.0f spread over %s (minimum %d, one per purge %.0f); "+
			"spread, the %s window adds %+.1f ms p50, %+.1f ms p99 per purge", medianOf(burst.on, calls),
			medianOf(spread.on, calls), burstSpread, minimum, medianOf(burst.off, calls), coalesceWindow,
			medianOf(spread.on, burstRun.p50)-medianOf(spread.off, burstRun.p50),
			medianOf(spread.on, burstRun.p99)-medianOf(spread.off, burstRun.p99)),
		"calls near the minimum", "reported")
}
