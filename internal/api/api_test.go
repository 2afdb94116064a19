package api_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/imgpurge/imgpurge/internal/api"
	"github.com/imgpurge/imgpurge/internal/auth"
	"github.com/imgpurge/imgpurge/internal/config"
	"github.com/imgpurge/imgpurge/internal/journal"
	"github.com/imgpurge/imgpurge/internal/purge"
	"github.com/imgpurge/imgpurge/internal/selector"
	"github.com/imgpurge/imgpurge/internal/testenv"
)

const imageID = "1e8a9135-5976-4de8-9c27-64cc33bf9baa"

// fakeLayer is a provider made of functions; it counts calls.
type fakeLayer struct {
	names []string
	purge func(ctx context.Context, items []string) (purge.Result, error)
	calls atomic.Int32
	got   atomic.Value
}

func (f *fakeLayer) Plan(t purge.Target) ([]string, error) { return t.Renditions, nil }

func (f *fakeLayer) List(context.Context, string) ([]string, error) {
	f.calls.Add(1)
	return f.names, nil
}

func (f *fakeLayer) Purge(ctx context.Context, items []string) (purge.Result, error) {
	f.calls.Add(1)
	f.got.Store(items)
	if f.purge == nil {
		return purge.Result{Detail: map[string]any{"deleted": len(items)}}, nil
	}
	return f.purge(ctx, items)
}

type bundle struct {
	idp     *testenv.IdP
	srv     *httptest.Server
	store   *fakeLayer // tier 0, lists renditions
	edge    *fakeLayer // tier 2
	edge2   *fakeLayer // tier 2
	logBuf  *syncBuffer
	journal *journal.Journal
}

// startJournal opens a real SQLite journal whose retries come quickly.
func startJournal(t *testing.T, orch *purge.Orchestrator, logger *slog.Logger, stores ...*api.Datastore) *journal.Journal {
	t.Helper()
	cfg := config.Journal{MaxAttempts: 3, RetryBase: config.Duration(50 * time.Millisecond),
		RetryMax: config.Duration(200 * time.Millisecond), JobTimeout: config.Duration(10 * time.Second),
		Workers: 2, PollInterval: config.Duration(50 * time.Millisecond),
		AuditFlushInterval: config.Duration(20 * time.Millisecond)}
	resolve := func(name string) *purge.Datastore {
		for _, ds := range stores {
			if ds.Name == name {
				return &ds.Datastore
			}
		}
		return nil
	}
	j, err := journal.Open(context.Background(), cfg, t.TempDir(), resolve, orch, logger)
	if err != nil {
		t.Fatalf("journal.Open: %v", err)
	}
	if err := j.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := j.Stop(ctx); err != nil {
			t.Errorf("journal.Stop: %v", err)
		}
	})
	return j
}

func setup(t *testing.T) *bundle {
	t.Helper()
	b := &bundle{
		idp:    testenv.StartIdP(t),
		store:  &fakeLayer{names: []string{"640x360.jpg", "640x360.webp", "640x3600.jpg", "1280x720.jpg"}},
		edge:   &fakeLayer{},
		edge2:  &fakeLayer{},
		logBuf: &syncBuffer{},
	}
	logger := slog.New(api.LogHandler(slog.NewJSONHandler(b.logBuf, nil)))
	v, err := auth.New(context.Background(), config.Auth{
		Mode: config.AuthModeOIDC, Issuer: b.idp.URL, Audience: "purge-api",
		Algorithms: []string{"RS256", "ES256"}, RequiredClaim: "scope", RequiredValue: "images:purge",
		TenantClaim: "tenant", KeysRefreshInterval: config.Duration(time.Second),
		DiscoveryTimeout: config.Duration(5 * time.Second), TokenCacheSize: 100,
	}, t.TempDir(), logger)
	if err != nil {
		t.Fatalf("auth.New: %v", err)
	}
	uuidRule, _ := selector.NewIDRule("")
	legacyRule, _ := selector.NewIDRule(`[A-Za-z0-9-]{1,64}`)
	media := &api.Datastore{
		Datastore: purge.Datastore{Name: "media", Layers: []purge.Layer{
			{Name: "s3", Kind: "s3", Tier: 0, Provider: b.store},
			{Name: "cloudflare", Kind: "cloudflare", Tier: 2, Provider: b.edge},
			{Name: "cloudfront", Kind: "cloudfront", Tier: 2, Provider: b.edge2},
		}},
		Default: true, Tenants: []string{"media"}, IDRule: uuidRule,
	}
	other := &api.Datastore{
		Datastore: purge.Datastore{Name: "other", Layers: []purge.Layer{
			{Name: "s3", Kind: "s3", Provider: b.store},
		}},
		Tenants: []string{"other"}, IDRule: legacyRule,
	}
	orch := &purge.Orchestrator{Logger: logger, Retry: purge.RetryPolicy{Base: time.Millisecond}}
	b.journal = startJournal(t, orch, logger, media, other)
	s := api.New(api.Options{
		Auth: v, Datastores: []*api.Datastore{media, other}, Orchestrator: orch, Journal: b.journal,
		RequestTimeout: 5 * time.Second, Logger: logger,
	})
	b.srv = httptest.NewServer(s)
	t.Cleanup(b.srv.Close)
	return b
}

type response struct {
	status int
	header http.Header
	env    struct {
		Header struct {
			Source     *string `json:"source"`
			Code       *int    `json:"code"`
			Message    *string `json:"message"`
			SystemTime *int64  `json:"system_time"`
			TrackingID *string `json:"tracking_id"`
			Errors     []struct {
				Code        string `json:"code"`
				Description string `json:"description"`
			} `json:"errors"`
		} `json:"header"`
		Data *api.PurgeData `json:"data"`
	}
	raw string
}

func (b *bundle) do(t *testing.T, method, path, token string, hdr map[string]string) *response {
	t.Helper()
	req, err := http.NewRequest(method, b.srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Opaque keeps escapes such as %2F, even malformed ones, as written.
	p, q, _ := strings.Cut(path, "?")
	req.URL.Opaque, req.URL.RawQuery = "//"+req.URL.Host+p, q
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("X-Tracking-Id", "trk-0001")
	for k, v := range hdr {
		if v == "" {
			req.Header.Del(k)
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	r := &response{status: resp.StatusCode, header: resp.Header, raw: string(body)}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type = %q, body %s", ct, body)
	}
	if err := json.Unmarshal(body, &r.env); err != nil {
		t.Fatalf("body is not JSON: %v: %s", err, body)
	}
	return r
}

func (b *bundle) token(t *testing.T) string { return b.idp.Token(t, "rsa-1", nil) }

// checkFailure asserts a failure envelope field by field.
func checkFailure(t *testing.T, r *response, status int, code string) {
	t.Helper()
	h := r.env.Header
	if r.status != status {
		t.Fatalf("status = %d, want %d; body %s", r.status, status, r.raw)
	}
	if h.Source == nil || *h.Source != "042-02" || h.Code == nil || *h.Code != -1 ||
		h.Message == nil || *h.Message != "Failure" || h.SystemTime == nil || h.TrackingID == nil {
		t.Fatalf("failure header incomplete: %s", r.raw)
	}
	if time.Since(time.UnixMilli(*h.SystemTime)).Abs() > time.Minute {
		t.Errorf("system_time %d is not milliseconds of now", *h.SystemTime)
	}
	if len(h.Errors) == 0 || h.Errors[0].Code != code || h.Errors[0].Description == "" {
		t.Fatalf("errors = %+v, want first code %s", h.Errors, code)
	}
	if got := r.header.Get("X-Tracking-Id"); got != *h.TrackingID {
		t.Errorf("X-Tracking-Id %q differs from tracking_id %q", got, *h.TrackingID)
	}
}

func (b *bundle) noProviderCalled(t *testing.T) {
	t.Helper()
	if n := b.store.calls.Load() + b.edge.calls.Load() + b.edge2.calls.Load(); n != 0 {
		t.Fatalf("providers were called %d times", n)
	}
}

func TestSuccessEnvelope(t *testing.T) {
	t.Parallel()
	b := setup(t)
	r := b.do(t, "DELETE", "/image/"+imageID+"/640x360", b.token(t), nil)
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.raw)
	}
	h := r.env.Header
	if *h.Source != "042-02" || *h.Code != 0 || *h.Message != "Success" || h.SystemTime == nil {
		t.Fatalf("header = %s", r.raw)
	}
	if h.TrackingID != nil || h.Errors != nil {
		t.Errorf("success header carries failure fields: %s", r.raw)
	}
	if r.header.Get("X-Tracking-Id") != "trk-0001" {
		t.Errorf("tracking id not echoed")
	}
	d := r.env.Data
	if d == nil || strings.Join(d.Renditions, ",") != "640x360.jpg,640x360.webp" || len(d.Layers) != 3 {
		t.Fatalf("data = %+v", d)
	}
	got, _ := b.edge.got.Load().([]string)
	if strings.Join(got, ",") != "640x360.jpg,640x360.webp" {
		t.Errorf("edge layer received %v", got)
	}
}

func TestTrackingID(t *testing.T) {
	t.Parallel()
	b := setup(t)
	r := b.do(t, "GET", "/healthz", "", map[string]string{"X-Tracking-Id": ""})
	if !regexp.MustCompile(`^[0-9a-f-]{36}$`).MatchString(r.header.Get("X-Tracking-Id")) {
		t.Errorf("generated tracking id = %q", r.header.Get("X-Tracking-Id"))
	}
	for name, bad := range map[string]string{"too long": strings.Repeat("a", 129), "space": "a b", "non-ascii": "trk-é"} {
		r := b.do(t, "DELETE", "/image/"+imageID, b.token(t), map[string]string{"X-Tracking-Id": bad})
		checkFailure(t, r, 400, "40420201")
		if r.header.Get("X-Tracking-Id") == bad || strings.Contains(r.raw, bad) {
			t.Errorf("%s: malformed tracking id echoed", name)
		}
	}
	b.noProviderCalled(t)
}

func TestUnknownRoutesGetTheEnvelope(t *testing.T) {
	t.Parallel()
	b := setup(t)
	checkFailure(t, b.do(t, "GET", "/nothing", "", nil), 404, "40420201")
	r := b.do(t, "GET", "/image/"+imageID, b.token(t), nil)
	checkFailure(t, r, 405, "40420201")
	if allow := r.header.Values("Allow"); len(allow) != 1 || allow[0] != "DELETE" {
		t.Errorf("Allow = %q, want DELETE", allow)
	}
	checkFailure(t, b.do(t, "POST", "/image/"+imageID+"/x.jpg", b.token(t), nil), 405, "40420201")
	b.noProviderCalled(t)
}

func TestBadInputChangesNothing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	cases := map[string]struct {
		path string
		code string
	}{
		"dot-dot id":    {"/image/..", "40420201"},
		"escaped slash": {"/image/" + imageID + "%2F..%2Fother", "40420201"},
		"nul":           {"/image/" + imageID + "%00", "40420201"},
		"control char":  {"/image/" + imageID + "%0A", "40420201"},
		"over-long id":  {"/image/" + strings.Repeat("a", 300), "40420201"},
		"not a uuid":    {"/image/img-42", "40420201"},
		// A malformed escape such as %zz never reaches the router: net/http
		// answers it with its own plain 400. A double escape does reach it.
		"escaped percent":   {"/image/%25zz", "40420201"},
		"selector slash":    {"/image/" + imageID + "/a/b.jpg", "40420201"},
		"selector %2F":      {"/image/" + imageID + "/..%2Fx.jpg", "40420201"},
		"selector dot-dot":  {"/image/" + imageID + "/..", "40420201"},
		"malformed glob":    {"/image/" + imageID + "/[a-", "40420201"},
		"selector ctrl":     {"/image/" + imageID + "/a%01.jpg", "40420201"},
		"unknown query":     {"/image/" + imageID + "?force=1", "40420201"},
		"twice datastore":   {"/image/" + imageID + "?datastore=media&datastore=media", "40420201"},
		"unknown datastore": {"/image/" + imageID + "?datastore=nope", "40420202"},
		"empty datastore":   {"/image/" + imageID + "?datastore=", "40420202"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			checkFailure(t, b.do(t, "DELETE", c.path, b.token(t), nil), 400, c.code)
		})
	}
	b.noProviderCalled(t)
}

func TestTokens(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.idp.AddKey(t, "unpublished", "RS256")
	hour := time.Hour
	cases := map[string]struct {
		token  string
		status int
		www    string
	}{
		"missing":        {"", 401, `Bearer realm="imgpurge"`},
		"expired":        {b.idp.Token(t, "rsa-1", map[string]any{"exp": time.Now().Add(-hour).Unix()}), 401, `error="invalid_token"`},
		"no exp":         {b.idp.Token(t, "rsa-1", map[string]any{"exp": nil}), 401, `error="invalid_token"`},
		"wrong audience": {b.idp.Token(t, "rsa-1", map[string]any{"aud": []string{"account"}}), 401, `error="invalid_token"`},
		"wrong issuer":   {b.idp.Token(t, "rsa-1", map[string]any{"iss": b.idp.URL + "/"}), 401, `error="invalid_token"`},
		"unknown key":    {b.idp.Token(t, "unpublished", nil), 401, `error="invalid_token"`},
		"alg none":       {unsigned(b.idp.Claims()), 401, `error="invalid_token"`},
		"garbage":        {"not.a.jwt", 401, `error="invalid_token"`},
		"no scope":       {b.idp.Token(t, "rsa-1", map[string]any{"scope": "images:read"}), 403, `error="insufficient_scope"`},
		"other tenant":   {b.idp.Token(t, "rsa-1", map[string]any{"tenant": "other"}), 403, `error="insufficient_scope"`},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			r := b.do(t, "DELETE", "/image/"+imageID, c.token, nil)
			checkFailure(t, r, c.status, "40420201")
			if www := r.header.Get("WWW-Authenticate"); !strings.Contains(www, c.www) || !strings.HasPrefix(www, "Bearer") {
				t.Errorf("WWW-Authenticate = %q, want %s", www, c.www)
			}
			if c.token != "" && strings.Contains(r.raw, c.token[:min(20, len(c.token))]) {
				t.Error("the token is quoted in the response")
			}
			if *r.env.Header.TrackingID != "trk-0001" {
				t.Errorf("tracking id = %q", *r.env.Header.TrackingID)
			}
		})
	}
	b.noProviderCalled(t)
}

func TestAudienceArrayAndES256(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, tok := range []string{
		b.idp.Token(t, "rsa-1", map[string]any{"aud": []string{"purge-api", "account"}}),
		b.idp.Token(t, "ec-1", map[string]any{"tenant": []string{"x", "media"}}),
	} {
		if r := b.do(t, "DELETE", "/image/"+imageID, tok, nil); r.status != 200 {
			t.Fatalf("status %d: %s", r.status, r.raw)
		}
	}
}

func TestEntitlementToNamedDatastore(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tok := b.idp.Token(t, "rsa-1", map[string]any{"tenant": []string{"media", "other"}})
	if r := b.do(t, "DELETE", "/image/img-42?datastore=other", tok, nil); r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.raw)
	}
	r := b.do(t, "DELETE", "/image/img-42?datastore=other", b.token(t), nil)
	checkFailure(t, r, 403, "40420201")
}

func TestLayerFailures(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.edge.purge = func(context.Context, []string) (purge.Result, error) {
		return purge.Result{}, &purge.Error{Code: "1012", Message: "Request must contain files"}
	}
	b.edge2.purge = func(context.Context, []string) (purge.Result, error) {
		return purge.Result{}, &purge.Error{Code: "TooManyInvalidationsInProgress", Retryable: true}
	}
	r := b.do(t, "DELETE", "/image/"+imageID, b.token(t), nil)
	checkFailure(t, r, 500, "40420290")
	errs := r.env.Header.Errors
	if len(errs) != 2 {
		t.Fatalf("errors = %+v, want one per failed layer", errs)
	}
	for i, want := range []string{`"cloudflare" (cloudflare) failed: 1012`, `"cloudfront" (cloudfront) failed: TooManyInvalidationsInProgress`} {
		if !strings.Contains(errs[i].Description, want) {
			t.Errorf("errors[%d] = %q, want it to contain %q", i, errs[i].Description, want)
		}
	}
	if st := r.env.Data.Layers[0].Status; st != purge.StatusSucceeded {
		t.Errorf("s3 status = %s", st)
	}
}

func TestInnerFailureJournalsLaterTiers(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.store.purge = func(context.Context, []string) (purge.Result, error) {
		return purge.Result{}, &purge.Error{Code: "MissingContentMD5"}
	}
	r := b.do(t, "DELETE", "/image/"+imageID, b.token(t), nil)
	checkFailure(t, r, 500, "40420290")
	if len(r.env.Header.Errors) != 1 || !strings.Contains(r.env.Header.Errors[0].Description, "MissingContentMD5") {
		t.Fatalf("errors = %+v", r.env.Header.Errors)
	}
	if b.edge.calls.Load()+b.edge2.calls.Load() != 0 {
		t.Fatal("edge layers called after the inner tier failed")
	}
	if l := r.env.Data.Layers[1]; l.Status != purge.StatusPending || l.Reason != "inner_tier_failed" {
		t.Errorf("edge layer = %+v", l)
	}
}

func TestPanicIsUnknownFailure(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.edge.purge = func(context.Context, []string) (purge.Result, error) { panic("boom") }
	r := b.do(t, "DELETE", "/image/"+imageID+"/x.jpg", b.token(t), nil)
	checkFailure(t, r, 500, "40420291")
	if st := r.env.Data.Layers[2].Status; st != purge.StatusSucceeded {
		t.Errorf("the sibling layer's outcome was lost: %s", st)
	}
	if strings.Contains(r.raw, "boom") {
		t.Error("panic value leaked to the caller")
	}
}

func TestNoLeakOfTokenInLogs(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tok := b.idp.Token(t, "rsa-1", map[string]any{"aud": "someone-else"})
	b.do(t, "DELETE", "/image/"+imageID, tok, nil)
	good := b.token(t)
	b.do(t, "DELETE", "/image/"+imageID, good, nil)
	logs := b.logBuf.String()
	for _, secret := range []string{tok[strings.LastIndex(tok, ".")+1:], good[strings.LastIndex(good, ".")+1:]} {
		if strings.Contains(logs, secret) {
			t.Fatal("a token signature reached the logs")
		}
	}
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		if strings.Contains(line, `"msg":"purge`) || strings.Contains(line, "rejected") {
			if strings.Count(line, `"tracking_id":"trk-0001"`) != 1 {
				t.Errorf("log line without exactly one tracking id: %s", line)
			}
		}
	}
}

func unsigned(claims map[string]any) string {
	enc := func(v any) string {
		js, _ := json.Marshal(v)
		return strings.TrimRight(b64(js), "=")
	}
	return enc(map[string]string{"alg": "none", "typ": "JWT"}) + "." + enc(claims) + "."
}

func b64(b []byte) string { return base64.URLEncoding.EncodeToString(b) }

// syncBuffer is a log sink safe for concurrent handlers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// TestEscapesAreDecodedOnce: a selector written as a%252A.jpg names the
// rendition "a%2A.jpg" literally, never the glob a*.jpg.
func TestEscapesAreDecodedOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.store.names = []string{"a%2A.jpg", "ab.jpg", "ac.jpg"}
	for _, path := range []string{"/image/" + imageID + "/a%252A.jpg", "/image/" + imageID + "/a%252A.jpg?datastore=media"} {
		r := b.do(t, "DELETE", path, b.token(t), nil)
		if r.status != 200 {
			t.Fatalf("status %d: %s", r.status, r.raw)
		}
		if got := strings.Join(r.env.Data.Renditions, ","); got != "a%2A.jpg" {
			t.Fatalf("%s selected %q, want only the literal a%%2A.jpg", path, got)
		}
	}
	// Without any escape that differs from the default, chi sees the
	// decoded path: a%2A.jpg is the name a*.jpg, a glob, as written.
	r := b.do(t, "DELETE", "/image/"+imageID+"/a%2A.jpg", b.token(t), nil)
	if got := strings.Join(r.env.Data.Renditions, ","); got != "a%2A.jpg,ab.jpg,ac.jpg" {
		t.Fatalf("a%%2A.jpg selected %q", got)
	}
}

func TestTwoAuthorizationHeadersAreRefused(t *testing.T) {
	t.Parallel()
	b := setup(t)
	req, _ := http.NewRequest("DELETE", b.srv.URL+"/image/"+imageID, nil)
	req.Header.Add("Authorization", "Bearer "+b.token(t))
	req.Header.Add("Authorization", "Bearer garbage")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 || !strings.Contains(resp.Header.Get("WWW-Authenticate"), "invalid_request") {
		t.Fatalf("status %d, WWW-Authenticate %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	b.noProviderCalled(t)
}

func TestHeadOnProbes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, p := range []string{"/healthz", "/readyz"} {
		resp, err := http.Head(b.srv.URL + p)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("HEAD %s: %v %v", p, err, resp)
		}
		resp.Body.Close()
	}
}
