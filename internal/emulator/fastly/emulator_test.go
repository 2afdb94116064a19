package fastly_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/imgpurge/imgpurge/internal/emulator/fastly"
	"github.com/imgpurge/imgpurge/internal/providertest"
)

func setup(t *testing.T, opts fastly.Options) (*fastly.Emulator, *httptest.Server) {
	t.Helper()
	emu := fastly.New(opts)
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	return emu, srv
}

func post(t *testing.T, u string, body string, h http.Header) (*http.Response, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = h
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("body %q is not a JSON object: %v", raw, err)
	}
	return resp, m
}

func keyHeader() http.Header {
	return http.Header{"Fastly-Key": {fastly.APIKeyDefault}, "Content-Type": {"application/json"}}
}

func keysBody(n int) string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("k%d", i)
	}
	b, _ := json.Marshal(map[string][]string{"surrogate_keys": keys})
	return string(b)
}

func TestBatchLimit(t *testing.T) {
	t.Parallel()
	_, srv := setup(t, fastly.Options{})
	u := srv.URL + "/service/" + fastly.ServiceIDDefault + "/purge"
	resp, body := post(t, u, keysBody(257), keyHeader())
	if resp.StatusCode != 400 || !strings.Contains(fmt.Sprint(body["detail"]), "at most 256") {
		t.Errorf("257 keys: %d %v, want 400 naming the 256 cap", resp.StatusCode, body)
	}
	resp, body = post(t, u, keysBody(256), keyHeader())
	if resp.StatusCode != 200 || len(body) != 256 {
		t.Errorf("256 keys: %d with %d ids, want 200 with 256", resp.StatusCode, len(body))
	}
}

func TestBatchByHeaderAndSingleKey(t *testing.T) {
	t.Parallel()
	emu, srv := setup(t, fastly.Options{})
	emu.Seed("img.example.test", "/a.jpg", "k1", "all")
	emu.Seed("img.example.test", "/b.jpg", "k/2", "all")
	emu.Seed("img.example.test", "/c.jpg", "k3")
	h := http.Header{"Fastly-Key": {fastly.APIKeyDefault}, "Surrogate-Key": {"k1 unknown"}}
	resp, body := post(t, srv.URL+"/service/"+fastly.ServiceIDDefault+"/purge", "", h)
	if resp.StatusCode != 200 || body["k1"] == nil || body["unknown"] == nil {
		t.Errorf("header batch: %d %v, want an id per key", resp.StatusCode, body)
	}
	resp, body = post(t, srv.URL+"/service/"+fastly.ServiceIDDefault+"/purge/k%2F2", "", keyHeader())
	if resp.StatusCode != 200 || body["status"] != "ok" || body["id"] == "" {
		t.Errorf("single key: %d %v", resp.StatusCode, body)
	}
	if emu.Cached("img.example.test", "/a.jpg") || emu.Cached("img.example.test", "/b.jpg") {
		t.Error("purged objects still cached")
	}
	if !emu.Cached("img.example.test", "/c.jpg") {
		t.Error("an object under another key was purged")
	}
}

func TestAuthAndRoutes(t *testing.T) {
	t.Parallel()
	_, srv := setup(t, fastly.Options{ReadOnlyKey: "ro"})
	batch := srv.URL + "/service/" + fastly.ServiceIDDefault + "/purge"
	tests := []struct {
		name, url, key string
		status         int
	}{
		{"NoKey", batch, "", 403},
		{"WrongKey", batch, "nope", 401},
		{"ReadOnlyKey", batch, "ro", 403},
		{"UnknownService", srv.URL + "/service/other/purge", fastly.APIKeyDefault, 404},
		{"UnknownRoute", srv.URL + "/nothing", fastly.APIKeyDefault, 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := http.Header{"Content-Type": {"application/json"}}
			if tt.key != "" {
				h.Set("Fastly-Key", tt.key)
			}
			resp, body := post(t, tt.url, keysBody(1), h)
			if resp.StatusCode != tt.status || body["msg"] == nil {
				t.Errorf("got %d %v, want %d with a msg", resp.StatusCode, body, tt.status)
			}
		})
	}
}

func TestPurgeAllHourlyBucket(t *testing.T) {
	t.Parallel()
	clk := providertest.NewClock(time.Date(2026, 5, 1, 10, 59, 0, 0, time.UTC))
	emu, srv := setup(t, fastly.Options{PurgeAllPerHour: 2, Now: clk.Now})
	emu.Seed("h", "/x")
	u := srv.URL + "/service/" + fastly.ServiceIDDefault + "/purge_all"
	for i := range 2 {
		resp, _ := post(t, u, "", keyHeader())
		if resp.StatusCode != 200 || resp.Header.Get("Fastly-RateLimit-Remaining") != strconv.Itoa(1-i) {
			t.Fatalf("purge_all #%d: %d remaining %q", i+1, resp.StatusCode, resp.Header.Get("Fastly-RateLimit-Remaining"))
		}
	}
	if emu.Cached("h", "/x") {
		t.Error("purge_all left an object")
	}
	resp, _ := post(t, u, "", keyHeader())
	reset := strconv.FormatInt(time.Date(2026, 5, 1, 11, 0, 0, 0, time.UTC).Unix(), 10)
	if resp.StatusCode != 429 || resp.Header.Get("Fastly-RateLimit-Reset") != reset {
		t.Errorf("third purge_all: %d reset %q, want 429 reset %s", resp.StatusCode,
			resp.Header.Get("Fastly-RateLimit-Reset"), reset)
	}
	// Key purges are not counted against the hourly limit.
	if resp, _ := post(t, u[:len(u)-len("_all")], keysBody(3), keyHeader()); resp.StatusCode != 200 {
		t.Errorf("key purge while purge_all is limited: %d, want 200", resp.StatusCode)
	}
	clk.Add(time.Minute)
	if resp, _ := post(t, u, "", keyHeader()); resp.StatusCode != 200 {
		t.Errorf("purge_all in the next hour: %d, want 200", resp.StatusCode)
	}
	h := keyHeader()
	h.Set("Fastly-Soft-Purge", "1")
	if resp, _ := post(t, u, "", h); resp.StatusCode != 400 {
		t.Errorf("soft purge_all: %d, want 400", resp.StatusCode)
	}
}

func TestFaults(t *testing.T) {
	t.Parallel()
	emu, srv := setup(t, fastly.Options{})
	u := srv.URL + "/service/" + fastly.ServiceIDDefault + "/purge"
	emu.FailNext(fastly.Fault{Status: 503}, fastly.Fault{}, fastly.Fault{Drop: true})
	emu.FailWhen(fastly.NamesAny("k0"), fastly.Fault{Status: 429, RetryAfter: time.Minute})
	if resp, _ := post(t, u, keysBody(1), keyHeader()); resp.StatusCode != 503 {
		t.Errorf("first call %d, want the queued 503", resp.StatusCode)
	}
	if resp, _ := post(t, u, keysBody(1), keyHeader()); resp.StatusCode != 200 {
		t.Errorf("second call %d, want 200 (zero fault)", resp.StatusCode)
	}
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(keysBody(1)))
	req.Header = keyHeader()
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Errorf("dropped call answered %d, want a connection error", resp.StatusCode)
	}
	resp, _ := post(t, u, keysBody(1), keyHeader())
	if resp.StatusCode != 429 || resp.Header.Get("Fastly-RateLimit-Remaining") != "0" {
		t.Errorf("rule: %d %v, want 429 with rate-limit headers", resp.StatusCode, resp.Header)
	}
	calls := emu.Calls()
	if len(calls) != 4 || calls[2].Status != 0 || calls[3].Status != 429 {
		t.Errorf("recorded %d calls: %+v", len(calls), calls)
	}
}
