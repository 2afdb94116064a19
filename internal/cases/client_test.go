package cases

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// The wire form of the API's responses, written out here rather than taken
// from internal/api so that a renamed field fails these tests.
type (
	envelope struct {
		Header struct {
			Source     string  `json:"source"`
			Code       *int    `json:"code"`
			Message    string  `json:"message"`
			SystemTime int64   `json:"system_time"`
			TrackingID string  `json:"tracking_id"`
			Errors     []entry `json:"errors"`
		} `json:"header"`
		Data json.RawMessage `json:"data"`
	}
	entry struct {
		Code        string `json:"code"`
		Description string `json:"description"`
	}
	purgeData struct {
		PurgeID    string      `json:"purge_id"`
		Datastore  string      `json:"datastore"`
		ImageID    string      `json:"image_id"`
		Selector   string      `json:"selector"`
		Renditions []string    `json:"renditions"`
		Journaled  bool        `json:"journaled"`
		JournalID  string      `json:"journal_id"`
		Layers     []layerData `json:"layers"`
	}
	layerData struct {
		Layer      string `json:"layer"`
		Provider   string `json:"provider"`
		Tier       int    `json:"tier"`
		Status     string `json:"status"`
		Reason     string `json:"reason"`
		Items      int    `json:"items"`
		Attempts   int    `json:"attempts"`
		DurationMS int64  `json:"duration_ms"`
		Error      *struct {
			Code         string `json:"code"`
			Message      string `json:"message"`
			Retryable    bool   `json:"retryable"`
			RetryAfterMS int64  `json:"retry_after_ms"`
		} `json:"error"`
		Remaining      []string       `json:"remaining"`
		RemainingCount int            `json:"remaining_count"`
		Journaled      bool           `json:"journaled"`
		Detail         map[string]any `json:"detail"`
	}
	// purgeRecord is GET /purges/{id}'s data.
	purgeRecord struct {
		ID         string `json:"id"`
		State      string `json:"state"`
		TrackingID string `json:"tracking_id"`
		Selector   string `json:"selector"`
		Layers     []struct {
			Layer     string   `json:"layer"`
			State     string   `json:"state"`
			Remaining []string `json:"remaining"`
			ErrorCode string   `json:"error_code"`
		} `json:"layers"`
	}
)

// response is one answer of imgpurged.
type response struct {
	status  int
	header  http.Header
	body    []byte
	env     envelope
	elapsed time.Duration
}

// call sends a request as a client of the conventions does: the bearer
// token and X-Tracking-Id trk-0001. Every answer must echo the tracking id.
func (f *fixture) call(method, path, token string) *response {
	f.t.Helper()
	r, err := f.callContext(context.Background(), method, path, token)
	if err != nil {
		f.t.Fatalf("%s %s: %v", method, path, err)
	}
	return r
}

func (f *fixture) callContext(ctx context.Context, method, path, token string) (*response, error) {
	req, err := http.NewRequestWithContext(ctx, method, f.URL+path, nil)
	if err != nil {
		return nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("X-Tracking-Id", tracking)
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	r := &response{status: resp.StatusCode, header: resp.Header}
	if r.body, err = io.ReadAll(resp.Body); err != nil {
		return nil, err
	}
	r.elapsed = time.Since(start)
	if got := resp.Header.Get("X-Tracking-Id"); got != tracking {
		f.t.Errorf("%s %s: X-Tracking-Id = %q, want %q", method, path, got, tracking)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		f.t.Errorf("%s %s: Content-Type = %q", method, path, ct)
	}
	if err := json.Unmarshal(r.body, &r.env); err != nil {
		f.t.Errorf("%s %s: body is not an envelope: %v\n%s", method, path, err, r.body)
	}
	return r, nil
}

// purge sends DELETE path with the fixture's token.
func (f *fixture) purge(path string) *response {
	f.t.Helper()
	return f.call(http.MethodDelete, path, f.token)
}

// record reads GET /purges/{id}.
func (f *fixture) record(id string) purgeRecord {
	f.t.Helper()
	r := f.call(http.MethodGet, "/purges/"+id, f.token)
	if r.status != http.StatusOK {
		f.t.Fatalf("GET /purges/%s: %d %s", id, r.status, r.body)
	}
	var rec purgeRecord
	if err := json.Unmarshal(r.env.Data, &rec); err != nil {
		f.t.Fatalf("GET /purges/%s: %v", id, err)
	}
	return rec
}

// waitDone polls the journal until purge id has succeeded.
func (f *fixture) waitDone(id string) purgeRecord {
	f.t.Helper()
	var rec purgeRecord
	eventually(f.t, 20*time.Second, "journaled purge "+id+" succeeded", func() bool {
		rec = f.record(id)
		return rec.State == "succeeded"
	})
	return rec
}

// succeeded checks the success envelope of the conventions and returns the
// per-layer data.
func (r *response) succeeded(t *testing.T) purgeData {
	t.Helper()
	h := r.env.Header
	if r.status != http.StatusOK || h.Code == nil || *h.Code != 0 || h.Message != "Success" ||
		h.Source != "042-02" || h.SystemTime <= 0 || len(h.Errors) != 0 {
		t.Fatalf("want 200 with the success envelope, got %d: %s", r.status, r.body)
	}
	return r.data(t)
}

// failed checks a failure envelope with the given status and one entry per
// element of codes, and returns its entries.
func (r *response) failed(t *testing.T, status int, codes ...string) []entry {
	t.Helper()
	h := r.env.Header
	if r.status != status || h.Code == nil || *h.Code != -1 || h.Message != "Failure" ||
		h.Source != "042-02" || h.SystemTime <= 0 || h.TrackingID != tracking {
		t.Fatalf("want %d with the failure envelope and tracking id %s, got %d: %s",
			status, tracking, r.status, r.body)
	}
	var got []string
	for _, e := range h.Errors {
		got = append(got, e.Code)
	}
	if !slices.Equal(got, codes) {
		t.Fatalf("error codes = %v, want %v: %s", got, codes, r.body)
	}
	return h.Errors
}

// systemFailure checks the 500 of a purge that a provider failed: exactly
// one 40420290 entry, naming layer and code, and no "context canceled".
func (r *response) systemFailure(t *testing.T, layer, code string) purgeData {
	t.Helper()
	e := r.failed(t, http.StatusInternalServerError, "40420290")[0]
	if !strings.Contains(e.Description, `layer "`+layer+`"`) || !strings.Contains(e.Description, code) {
		t.Errorf("description %q does not name layer %q and code %q", e.Description, layer, code)
	}
	if strings.Contains(strings.ToLower(string(r.body)), "context canceled") {
		t.Errorf("response reports a canceled context: %s", r.body)
	}
	return r.data(t)
}

func (r *response) data(t *testing.T) purgeData {
	t.Helper()
	var d purgeData
	if err := json.Unmarshal(r.env.Data, &d); err != nil {
		t.Fatalf("data: %v: %s", err, r.body)
	}
	return d
}

// layer returns one layer's outcome.
func (d purgeData) layer(t *testing.T, name string) layerData {
	t.Helper()
	for _, l := range d.Layers {
		if l.Layer == name {
			return l
		}
	}
	t.Fatalf("no layer %q in %+v", name, d.Layers)
	return layerData{}
}

// statuses maps each layer to its status.
func (d purgeData) statuses() map[string]string {
	m := map[string]string{}
	for _, l := range d.Layers {
		m[l.Layer] = l.Status
	}
	return m
}

// journaledLayers lists the layers the response says were journaled.
func (d purgeData) journaledLayers() []string {
	var out []string
	for _, l := range d.Layers {
		if l.Journaled {
			out = append(out, l.Layer)
		}
	}
	return out
}

// sorted returns a sorted copy.
func sorted(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}
