package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/imgpurge/imgpurge/internal/bench/loadgen"
)

// controlRun calls urls one after another, as one operation, at rate
// operations a second (open loop) for warm+dur, and returns the latency of
// the operations started after warm.
func controlRun(ctx context.Context, urls []string, rate float64, warm, dur time.Duration) (loadgen.Summary, error) {
	client := &http.Client{Timeout: 10 * time.Second,
		Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 1024}}
	defer client.CloseIdleConnections()
	n := int(rate * (warm + dur).Seconds())
	lat := make([]float64, n)
	errs := make([]error, n)
	step := float64(time.Second) / rate
	start := time.Now()
	var wg sync.WaitGroup
	for i := range n {
		if d := time.Until(start.Add(time.Duration(float64(i) * step))); d > 0 {
			time.Sleep(d)
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			t0 := time.Now()
			for _, u := range urls {
				if errs[i] = call(ctx, client, u); errs[i] != nil {
					return
				}
			}
			lat[i] = msOf(time.Since(t0))
		})
	}
	wg.Wait()
	var measured []float64
	for i := int(rate * warm.Seconds()); i < n; i++ {
		if errs[i] != nil {
			return loadgen.Summary{}, fmt.Errorf("control call: %w", errs[i])
		}
		measured = append(measured, lat[i])
	}
	return loadgen.Summarize(measured), ctx.Err()
}

func call(ctx context.Context, c *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, "PURGE", url+"/image/x/640x360.jpg", nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s answered %s", url, resp.Status)
	}
	return nil
}
