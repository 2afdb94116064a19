package account_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/imgpurge/imgpurge/internal/account"
	"github.com/imgpurge/imgpurge/internal/config"
	cfemu "github.com/imgpurge/imgpurge/internal/emulator/cloudflare"
	"github.com/imgpurge/imgpurge/internal/purge"
	"github.com/imgpurge/imgpurge/providers/cloudflare"
)

// TestBurstToOneCloudflareZone sends 1,000 purges of different images to
// one zone within a second through the real Cloudflare provider and
// emulator, and counts the API calls the coalescer lets through.
func TestBurstToOneCloudflareZone(t *testing.T) {
	t.Parallel()
	emu := cfemu.New(cfemu.Options{})
	srv := httptest.NewServer(emu)
	defer srv.Close()
	doc := fmt.Sprintf("zone_id: %s\nzone: example.test\napi_token: %s\nbase_url: %s/client/v4\n",
		cfemu.DefaultZoneID, cfemu.DefaultToken, srv.URL)
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(doc), &n); err != nil {
		t.Fatal(err)
	}
	p, err := cloudflare.New(context.Background(), purge.LayerSpec{
		Layer: "cloudflare", PublicHosts: []string{"img.example.test"},
		Decode: func(v any) error { return config.DecodeStrict(n.Content[0], v) },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer p.(*cloudflare.Provider).Close()
	limit := p.(account.Batched).MaxItemsPerCall()
	c := account.NewCoalescer(p, 100*time.Millisecond, limit)

	const purges = 1000
	start := time.Now()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var worst time.Duration
	failed := 0
	for i := range purges {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("1e8a9135-5976-4de8-9c27-%012d", i)
			items, _ := p.Plan(purge.Target{ImageID: id, Renditions: []string{"640x360.jpg"}})
			t0 := time.Now()
			_, err := c.Purge(context.Background(), items)
			mu.Lock()
			defer mu.Unlock()
			worst = max(worst, time.Since(t0))
			if err != nil {
				failed++
			}
		}()
	}
	wg.Wait()
	calls := len(emu.Calls())
	minimum := (purges + limit - 1) / limit
	t.Logf("%d purges in %s: %d API calls (minimum %d, unmerged %d); slowest purge waited %s",
		purges, time.Since(start).Round(time.Millisecond), calls, minimum, purges, worst.Round(time.Millisecond))
	if failed != 0 {
		t.Fatalf("%d purges failed", failed)
	}
	if calls > minimum+3 {
		t.Fatalf("%d API calls, want within 3 of the minimum %d", calls, minimum)
	}
	if got := len(emu.Purged()); got != purges {
		t.Fatalf("emulator purged %d URLs, want %d", got, purges)
	}
}
