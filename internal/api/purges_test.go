package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/imgpurge/imgpurge/internal/journal"
	"github.com/imgpurge/imgpurge/internal/purge"
)

type statusBody struct {
	Data struct {
		journal.Purge
		Location string `json:"location"`
	} `json:"data"`
}

func (b *bundle) status(t *testing.T, path, token string) (int, statusBody, *response) {
	t.Helper()
	r := b.do(t, "GET", path, token, nil)
	var sb statusBody
	_ = json.Unmarshal([]byte(r.raw), &sb)
	return r.status, sb, r
}

func TestAsyncPurge(t *testing.T) {
	t.Parallel()
	b := setup(t)
	r := b.do(t, "DELETE", "/image/"+imageID+"/640x360", b.token(t), map[string]string{"Prefer": "respond-async"})
	if r.status != http.StatusAccepted || *r.env.Header.Code != 0 {
		t.Fatalf("status %d: %s", r.status, r.raw)
	}
	loc := r.header.Get("Location")
	if !strings.HasPrefix(loc, "/purges/") {
		t.Fatalf("Location = %q", loc)
	}
	var st statusBody
	deadline := time.Now().Add(10 * time.Second)
	for st.Data.State != journal.StateSucceeded {
		if time.Now().After(deadline) {
			t.Fatalf("purge never completed: %+v", st.Data)
		}
		time.Sleep(20 * time.Millisecond)
		var code int
		code, st, r = b.status(t, loc, b.token(t))
		if code != 200 {
			t.Fatalf("GET %s = %d: %s", loc, code, r.raw)
		}
	}
	if st.Data.Subject != "cms-publisher" || st.Data.TrackingID != "trk-0001" || len(st.Data.Layers) != 3 {
		t.Errorf("status = %+v", st.Data)
	}
	got, _ := b.edge.got.Load().([]string)
	if strings.Join(got, ",") != "640x360.jpg,640x360.webp" {
		t.Errorf("journal sent the edge %v", got)
	}
}

func TestFailedPurgeIsJournaledAndCompletes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var down atomic.Bool
	down.Store(true)
	b.edge.purge = func(context.Context, []string) (purge.Result, error) {
		if down.Load() {
			return purge.Result{}, &purge.Error{Code: "HTTP503", Retryable: true}
		}
		return purge.Result{}, nil
	}
	r := b.do(t, "DELETE", "/image/"+imageID, b.token(t), nil)
	checkFailure(t, r, 500, "40420290")
	if !r.env.Data.Journaled || !strings.Contains(r.env.Header.Errors[0].Description, "journaled for retry as purge "+r.env.Data.PurgeID) {
		t.Fatalf("failure does not say it is journaled: %s", r.raw)
	}
	down.Store(false)
	loc := "/purges/" + r.env.Data.PurgeID
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, st, _ := b.status(t, loc, b.token(t))
		if st.Data.State == journal.StateSucceeded {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("journaled purge never completed: %+v", st.Data)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The audit query finds it by image.
	code, _, lr := b.status(t, "/purges?image="+imageID+"&since=1h", b.token(t))
	if code != 200 || !strings.Contains(lr.raw, r.env.Data.PurgeID) {
		t.Fatalf("GET /purges = %d: %s", code, lr.raw)
	}
}

func TestPurgeStatusRefusals(t *testing.T) {
	t.Parallel()
	b := setup(t)
	r := b.do(t, "DELETE", "/image/"+imageID, b.token(t), map[string]string{"Prefer": "respond-async"})
	loc := r.header.Get("Location")
	other := b.idp.Token(t, "rsa-1", map[string]any{"tenant": "other"})
	cases := map[string]struct {
		path, token string
		status      int
	}{
		"unknown id":     {"/purges/0193a0e0-0000-7000-8000-00000000dead", b.token(t), 404},
		"malformed id":   {"/purges/not-a-uuid", b.token(t), 400},
		"other tenant":   {loc, other, 404},
		"no token":       {loc, "", 401},
		"bad since":      {"/purges?since=yesterday", b.token(t), 400},
		"unknown filter": {"/purges?color=red", b.token(t), 400},
		"foreign store":  {"/purges?datastore=media", other, 403},
		"unknown store":  {"/purges?datastore=nope", b.token(t), 400},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			code, _, resp := b.status(t, c.path, c.token)
			if code != c.status {
				t.Fatalf("status %d, want %d: %s", code, c.status, resp.raw)
			}
			if strings.Contains(resp.raw, imageID) {
				t.Fatal("another tenant's purge leaked")
			}
		})
	}
	// The other tenant's listing is empty, not media's purges.
	code, _, resp := b.status(t, "/purges", other)
	if code != 200 || strings.Contains(resp.raw, imageID) {
		t.Fatalf("listing for another tenant = %d: %s", code, resp.raw)
	}
}

// TestRepeatOfAPendingPurgeKeepsItsRenditions: once a purge's derivatives
// are gone but its edge step is still journaled, a new request for the same
// image and selector must still name those renditions, or the caches would
// keep them.
func TestRepeatOfAPendingPurgeKeepsItsRenditions(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.edge.purge = func(context.Context, []string) (purge.Result, error) {
		return purge.Result{}, &purge.Error{Code: "HTTP503", Retryable: true}
	}
	r := b.do(t, "DELETE", "/image/"+imageID+"/640x360", b.token(t), nil)
	checkFailure(t, r, 500, "40420290")
	b.store.names = nil // the derivatives are gone now

	req, _ := http.NewRequest("GET", b.srv.URL+"/plan/image/"+imageID+"/640x360", nil)
	req.Header.Set("Authorization", "Bearer "+b.token(t))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Data struct{ Renditions []string } `json:"data"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&body)
	if got := strings.Join(body.Data.Renditions, ","); got != "640x360.jpg,640x360.webp" {
		t.Fatalf("the repeat plans %q; the pending purge's renditions were lost", got)
	}
}
