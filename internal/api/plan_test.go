package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/imgpurge/imgpurge/internal/api"
)

type planBody struct {
	Data api.PlanData `json:"data"`
}

// plan fetches a dry run. The bundle's do decodes data as a purge outcome,
// so the body is read here.
func (b *bundle) plan(t *testing.T, path, token string) api.PlanData {
	t.Helper()
	req, _ := http.NewRequest("GET", b.srv.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Header struct{ Code int } `json:"header"`
		Data   api.PlanData       `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("body is not a plan envelope: %v", err)
	}
	if resp.StatusCode != 200 || body.Header.Code != 0 {
		t.Fatalf("status %d, code %d", resp.StatusCode, body.Header.Code)
	}
	return body.Data
}

func TestPlanShowsWhatEachLayerWouldReceive(t *testing.T) {
	t.Parallel()
	b := setup(t)
	d := b.plan(t, "/plan/image/"+imageID+"/640x360", b.token(t))
	if d.Datastore != "media" || d.ImageID != imageID || d.Selector != "640x360" {
		t.Errorf("data = %+v", d)
	}
	if strings.Join(d.Renditions, ",") != "640x360.jpg,640x360.webp" || d.RenditionCount != 2 {
		t.Errorf("renditions = %v (%d)", d.Renditions, d.RenditionCount)
	}
	want := []string{"s3/s3/0", "cloudflare/cloudflare/2", "cloudfront/cloudfront/2"}
	if len(d.Layers) != len(want) {
		t.Fatalf("layers = %+v", d.Layers)
	}
	for i, l := range d.Layers {
		if got := fmt.Sprintf("%s/%s/%d", l.Layer, l.Provider, l.Tier); got != want[i] || l.Count != 2 || len(l.Items) != 2 {
			t.Errorf("layers[%d] = %+v, want %s with 2 items", i, l, want[i])
		}
	}
	if d.CloudFrontPaths != 2 || d.CloudFrontCostUSD != 0.01 {
		t.Errorf("cloudfront estimate = %d paths, $%v", d.CloudFrontPaths, d.CloudFrontCostUSD)
	}
	if !strings.Contains(d.CostBasis, "not deducted") {
		t.Errorf("cost basis does not say the free tier is ignored: %q", d.CostBasis)
	}
	// Planning lists the store; nothing is purged.
	if b.store.got.Load() != nil || b.edge.calls.Load()+b.edge2.calls.Load() != 0 {
		t.Fatal("a dry run purged something")
	}
}

func TestPlanCapsItemsButCountsThemAll(t *testing.T) {
	t.Parallel()
	b := setup(t)
	names := make([]string, 1500)
	for i := range names {
		names[i] = fmt.Sprintf("%04dx1.jpg", i)
	}
	b.store.names = names
	d := b.plan(t, "/plan/image/"+imageID, b.token(t))
	if d.RenditionCount != 1500 || len(d.Renditions) != api.MaxPlanItems || d.Selector != "*" {
		t.Errorf("renditions: %d listed, count %d, selector %q", len(d.Renditions), d.RenditionCount, d.Selector)
	}
	for _, l := range d.Layers {
		if l.Count != 1500 || len(l.Items) != api.MaxPlanItems {
			t.Errorf("layer %s: %d listed, count %d", l.Layer, len(l.Items), l.Count)
		}
	}
	if d.CloudFrontPaths != 1500 || d.CloudFrontCostUSD != 7.5 {
		t.Errorf("cloudfront estimate = %d paths, $%v", d.CloudFrontPaths, d.CloudFrontCostUSD)
	}
}

func TestPlanRefusesWhatDeleteRefuses(t *testing.T) {
	t.Parallel()
	b := setup(t)
	other := b.idp.Token(t, "rsa-1", map[string]any{"tenant": "other"})
	cases := map[string]struct {
		path, token string
		status      int
		code        string
	}{
		"no token":          {"/plan/image/" + imageID, "", 401, "40420201"},
		"other tenant":      {"/plan/image/" + imageID + "?datastore=media", other, 403, "40420201"},
		"not a uuid":        {"/plan/image/img-42", b.token(t), 400, "40420201"},
		"selector dot-dot":  {"/plan/image/" + imageID + "/..", b.token(t), 400, "40420201"},
		"malformed glob":    {"/plan/image/" + imageID + "/[a-", b.token(t), 400, "40420201"},
		"unknown query":     {"/plan/image/" + imageID + "?force=1", b.token(t), 400, "40420201"},
		"unknown datastore": {"/plan/image/" + imageID + "?datastore=nope", b.token(t), 400, "40420202"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			r := b.do(t, "GET", c.path, c.token, nil)
			checkFailure(t, r, c.status, c.code)
			if c.status != 400 && !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("WWW-Authenticate = %q", r.header.Get("WWW-Authenticate"))
			}
		})
	}
	checkFailure(t, b.do(t, "POST", "/plan/image/"+imageID, b.token(t), nil), 405, "40420201")
	b.noProviderCalled(t)
}

// TestPlanIsNotJournaled plans, then purges, and waits for the audit trail
// to hold the purge: it must hold that one record and no other.
func TestPlanIsNotJournaled(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.plan(t, "/plan/image/"+imageID+"/640x360.jpg", b.token(t))
	if r := b.do(t, "DELETE", "/image/"+imageID+"/640x360.jpg", b.token(t), nil); r.status != 200 {
		t.Fatalf("purge: %d %s", r.status, r.raw)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := b.do(t, "GET", "/purges?image="+imageID, b.token(t), nil)
		var body struct {
			Data struct{ Count int } `json:"data"`
		}
		_ = json.Unmarshal([]byte(r.raw), &body)
		if body.Data.Count == 1 {
			return
		}
		if body.Data.Count > 1 || time.Now().After(deadline) {
			t.Fatalf("audit trail: %s", r.raw)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
