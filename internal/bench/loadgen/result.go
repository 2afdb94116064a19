package loadgen

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"time"
)

// Result summarises a run. Only requests sent after the warm-up count.
type Result struct {
	Mode        string  `json:"mode"`
	Rate        float64 `json:"rate,omitempty"`
	Concurrency int     `json:"concurrency,omitempty"`
	// Sent counts every request, warm-up included; Measured those after it.
	Sent     int `json:"sent"`
	Measured int `json:"measured"`
	// OK counts measured requests answered 200; Status counts every
	// measured answer by status, "error" for no answer at all.
	OK     int            `json:"ok"`
	Status map[string]int `json:"status"`
	// WindowS runs from the end of the warm-up to the last measured answer
	// (closed loop) or the last measured request sent (open loop).
	WindowS float64 `json:"window_s"`
	// Throughput is OK per second of the window.
	Throughput float64 `json:"throughput"`
	// Latency is from sending a request to the last byte of its answer.
	Latency Summary `json:"latency_ms"`
	// SendLag is how late requests left against the schedule (open loop):
	// small lags show the generator held its rate.
	SendLag    Summary `json:"send_lag_ms"`
	FirstError string  `json:"first_error,omitempty"`

	recs []record
	warm time.Duration
}

// Summary is a distribution in milliseconds.
type Summary struct {
	N    int     `json:"n"`
	Mean float64 `json:"mean"`
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p999"`
	Max  float64 `json:"max"`
}

func (g *gen) result() *Result {
	r := &Result{Mode: "closed", Concurrency: g.cfg.Concurrency, Status: map[string]int{},
		recs: g.recs, warm: g.cfg.Warmup}
	if g.cfg.Rate > 0 {
		r.Mode, r.Rate, r.Concurrency = "open", g.cfg.Rate, 0
	}
	var lat, lag []float64
	var last, lastSent time.Duration
	for _, rec := range g.recs {
		if !rec.used {
			continue
		}
		r.Sent++
		if rec.sent < g.cfg.Warmup {
			continue
		}
		r.Measured++
		last, lastSent = max(last, rec.end), max(lastSent, rec.sent)
		r.Status[statusKey(rec.status)]++
		lag = append(lag, ms(rec.sent-rec.due))
		if rec.status == 200 {
			r.OK++
			lat = append(lat, ms(rec.end-rec.sent))
		}
	}
	if g.cfg.Rate > 0 {
		// Open loop: the rate is what was sent, whatever the service took
		// to answer the last requests.
		last = lastSent
	}
	if last > g.cfg.Warmup {
		r.WindowS = (last - g.cfg.Warmup).Seconds()
		r.Throughput = float64(r.OK) / r.WindowS
	}
	r.Latency, r.SendLag = Summarize(lat), Summarize(lag)
	if g.first != nil {
		r.FirstError = g.first.Error()
	}
	return r
}

func statusKey(s int) string {
	if s < 0 {
		return "error"
	}
	return strconv.Itoa(s)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// Summarize returns the distribution of xs, nearest-rank percentiles.
func Summarize(xs []float64) Summary {
	if len(xs) == 0 {
		return Summary{}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	sum := 0.0
	for _, x := range s {
		sum += x
	}
	return Summary{N: len(s), Mean: sum / float64(len(s)), P50: rank(s, 0.50),
		P90: rank(s, 0.90), P99: rank(s, 0.99), P999: rank(s, 0.999), Max: s[len(s)-1]}
}

func rank(sorted []float64, p float64) float64 {
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// WriteCSV writes one line per request sent: its index, its scheduled and
// actual send times and its latency in microseconds, and its status.
func (r *Result) WriteCSV(w io.Writer) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintln(bw, "seq,due_us,sent_us,latency_us,status,warmup")
	for i, rec := range r.recs {
		if !rec.used {
			continue
		}
		fmt.Fprintf(bw, "%d,%d,%d,%d,%d,%t\n", i, rec.due.Microseconds(), rec.sent.Microseconds(),
			(rec.end - rec.sent).Microseconds(), rec.status, rec.sent < r.warm)
	}
	return bw.Flush()
}
