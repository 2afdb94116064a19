package journal_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/imgpurge/imgpurge/internal/config"
	"github.com/imgpurge/imgpurge/internal/journal"
)

// BenchmarkAsyncDrain measures how fast one replica works off a backlog of
// journaled purges whose providers answer at once, on the embedded SQLite
// journal with the default number of workers.
func BenchmarkAsyncDrain(b *testing.B) {
	bb := setup(b)
	bb.cfg.Workers = config.JournalWorkersDefault
	j := bb.open(b)
	ids := make([]string, b.N)
	b.ResetTimer()
	for i := range b.N {
		plan := bb.plan(b, fmt.Sprintf("0193a0e0-0000-7000-8000-%012d", i), "a.jpg")
		plan.ImageID = fmt.Sprintf("1e8a9135-5976-4de8-9c27-%012d", i) // no two join
		id, joined, err := j.Enqueue(context.Background(), plan)
		if err != nil || joined {
			b.Fatal(err, joined)
		}
		ids[i] = id
	}
	for _, id := range ids {
		for {
			p, err := j.Get(context.Background(), id)
			if err == nil && p.State == journal.StateSucceeded {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "purges/s")
}
