package docs_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/responses"
	"github.com/pb33f/libopenapi-validator/schema_validation"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"

	"github.com/imgpurge/imgpurge/internal/apptest"
	"github.com/imgpurge/imgpurge/internal/auth"
	"github.com/imgpurge/imgpurge/internal/config"
	"github.com/imgpurge/imgpurge/internal/testenv"
)

const imageID = "1e8a9135-5976-4de8-9c27-64cc33bf9baa"

// spec is docs/openapi.yaml, loaded and checked against the OpenAPI 3.1
// schema itself.
type spec struct {
	v     validator.Validator
	model *v3.Document
}

func loadSpec(t *testing.T) *spec {
	t.Helper()
	raw, err := os.ReadFile("openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := libopenapi.NewDocument(raw)
	if err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	if v := doc.GetVersion(); !strings.HasPrefix(v, "3.1") {
		t.Fatalf("openapi.yaml is OpenAPI %s, want 3.1", v)
	}
	model, err := doc.BuildV3Model()
	if err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	v, errs := validator.NewValidator(doc)
	if len(errs) > 0 {
		t.Fatalf("openapi.yaml: %v", errs)
	}
	if ok, verrs := v.ValidateDocument(); !ok {
		for _, e := range verrs {
			t.Errorf("openapi.yaml is not a valid OpenAPI document: %s: %s", e.Message, e.Reason)
		}
		t.FailNow()
	}
	return &spec{v: v, model: &model.Model}
}

// service is imgpurged booted in-process with two datastores: "local",
// whose derivatives are files, and "broken", whose origin cache is a closed
// port on 127.0.0.1, so its purges fail.
type service struct {
	base     string
	token    string
	stranger string // a valid token for another tenant
	dir      string
}

func startService(t *testing.T) *service {
	t.Helper()
	dir := t.TempDir()
	closed := testenv.FreeAddr(t)
	doc := fmt.Sprintf(`
listen: 127.0.0.1:0
data_dir: %[1]s
request_timeout: 5s
auth:
  mode: dev
  audience: purge-api
  required_claim: scope
  required_value: images:purge
retry:
  base: 10ms
  max_attempts: 2
journal:
  retry_base: 1m
datastores:
  - name: local
    default: true
    tenants: [local]
    public_hosts: [img.localhost]
    layers:
      - name: derivatives
        kind: fs
        tier: 0
        settings:
          root: %[1]s/derivatives
  - name: broken
    tenants: [local]
    public_hosts: [img.localhost]
    layers:
      - name: derivatives
        kind: fs
        tier: 0
        settings:
          root: %[1]s/derivatives
      - name: origin-cache
        kind: httpcache
        tier: 1
        timeout: 1s
        settings:
          nodes: [http://%[2]s]
`, dir, closed)
	for _, k := range []string{"IMGPURGE_LISTEN", "IMGPURGE_DATA_DIR", "IMGPURGE_DATABASE_URL"} {
		t.Setenv(k, "")
	}
	cfg, err := config.Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	s := &service{base: serve(t, cfg), dir: dir}
	s.token = mint(t, cfg, "local")
	s.stranger = mint(t, cfg, "elsewhere")
	return s
}

func mint(t *testing.T, cfg *config.Config, tenant string) string {
	t.Helper()
	tok, err := auth.MintDev(cfg.Auth, cfg.DataDir, "openapi-test", []string{tenant}, 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func serve(t *testing.T, cfg *config.Config) string { return apptest.ServeConfig(t, cfg) }

// renditions puts rendition files of the test image on disk.
func (s *service) renditions(t *testing.T, names ...string) {
	t.Helper()
	dir := filepath.Join(s.dir, "derivatives", imageID)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// exchange is one request and its response, body read.
type exchange struct {
	req  *http.Request
	resp *http.Response
	body []byte
}

func (s *service) do(t *testing.T, method, path, token string, hdr ...string) *exchange {
	t.Helper()
	req, err := http.NewRequest(method, s.base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	return &exchange{req: req, resp: resp, body: body}
}

// response returns the response with a fresh body reader, for a validator
// that reads it.
func (x *exchange) response() *http.Response {
	r := *x.resp
	r.Body = io.NopCloser(bytes.NewReader(x.body))
	return &r
}

// envelope is the part of a body the tests look at beyond the schema.
type envelope struct {
	Header struct {
		Code       int    `json:"code"`
		TrackingID string `json:"tracking_id"`
		Errors     []struct {
			Code string `json:"code"`
		} `json:"errors"`
	} `json:"header"`
	Data json.RawMessage `json:"data"`
}

func (x *exchange) envelope(t *testing.T) envelope {
	t.Helper()
	var e envelope
	if err := json.Unmarshal(x.body, &e); err != nil {
		t.Fatalf("body is not a JSON envelope: %v\n%s", err, x.body)
	}
	return e
}

func (x *exchange) codes(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, e := range x.envelope(t).Header.Errors {
		out = append(out, e.Code)
	}
	return out
}

// check validates a routed exchange against the document: the status is
// one the operation lists, the headers match their definitions and the
// body its schema. A request the service accepted must match the document
// too: its parameters, headers and credentials.
func (sp *spec) check(t *testing.T, x *exchange) {
	t.Helper()
	if x.resp.StatusCode < 400 {
		if ok, errs := sp.v.ValidateHttpRequest(x.req); !ok {
			for _, e := range errs {
				t.Errorf("request %s %s does not match openapi.yaml: %s: %s", x.req.Method, x.req.URL,
					e.Message, e.Reason)
			}
		}
	}
	if ok, errs := sp.v.ValidateHttpResponse(x.req, x.response()); !ok {
		for _, e := range errs {
			t.Errorf("%s %s → %d does not match openapi.yaml: %s: %s", x.req.Method, x.req.URL.Path,
				x.resp.StatusCode, e.Message, e.Reason)
			for _, se := range e.SchemaValidationErrors {
				t.Errorf("  at %s: %s", se.FieldPath, se.Reason)
			}
		}
		t.Logf("body: %s", x.body)
	}
}

// checkComponent validates an exchange that no operation covers (an
// unknown route or method) against a response under components.
func (sp *spec) checkComponent(t *testing.T, x *exchange, name string) {
	t.Helper()
	r := sp.model.Components.Responses.GetOrZero(name)
	if r == nil {
		t.Fatalf("openapi.yaml has no components.responses.%s", name)
	}
	code := fmt.Sprint(x.resp.StatusCode)
	if ok, errs := responses.ValidateResponseHeaders(x.req, x.response(), r.Headers, x.req.URL.Path, code); !ok {
		for _, e := range errs {
			t.Errorf("%s headers: %s: %s", name, e.Message, e.Reason)
		}
	}
	mt := r.Content.GetOrZero("application/json")
	if ct := x.resp.Header.Get("Content-Type"); mt == nil || ct != "application/json" {
		t.Fatalf("%s: Content-Type %q; the document says application/json", name, ct)
	}
	if ok, errs := schema_validation.NewSchemaValidator().ValidateSchemaBytes(mt.Schema.Schema(), x.body); !ok {
		for _, e := range errs {
			t.Errorf("%s body: %s: %s", name, e.Message, e.Reason)
		}
	}
}

func want(t *testing.T, x *exchange, status int, codes ...string) {
	t.Helper()
	if x.resp.StatusCode != status {
		t.Fatalf("%s %s = %d, want %d\n%s", x.req.Method, x.req.URL, x.resp.StatusCode, status, x.body)
	}
	if got := x.codes(t); !slices.Equal(got, codes) {
		t.Errorf("error codes %v, want %v", got, codes)
	}
}

// TestOpenAPIDescribesTheServer sends real requests to the real service and
// validates every response, status, headers and body, against
// docs/openapi.yaml.
func TestOpenAPIDescribesTheServer(t *testing.T) {
	sp := loadSpec(t)
	s := startService(t)
	img := "/image/" + imageID

	t.Run("200 purge", func(t *testing.T) {
		s.renditions(t, "640x360.jpg", "640x360.webp", "1280x720.jpg")
		for _, path := range []string{img + "/640x360", img + "/*x720.*", img, img + "/*"} {
			x := s.do(t, "DELETE", path, s.token, "X-Tracking-Id", "trk-openapi-1")
			want(t, x, 200)
			sp.check(t, x)
			if got := x.resp.Header.Get("X-Tracking-Id"); got != "trk-openapi-1" {
				t.Errorf("X-Tracking-Id = %q, want the caller's", got)
			}
		}
	})

	t.Run("202 async, then the journal routes", func(t *testing.T) {
		s.renditions(t, "640x360.jpg")
		x := s.do(t, "DELETE", img+"/640x360.jpg", s.token, "Prefer", "respond-async")
		want(t, x, 202)
		sp.check(t, x)
		loc := x.resp.Header.Get("Location")
		for _, y := range []*exchange{
			s.do(t, "GET", loc, s.token),
			s.do(t, "POST", loc+"/retry", s.token),
			s.do(t, "GET", "/purges?since=1h&limit=10", s.token),
			s.do(t, "GET", "/purges?state=dead&image="+imageID, s.token),
		} {
			want(t, y, 200)
			sp.check(t, y)
		}
	})

	t.Run("200 plan", func(t *testing.T) {
		s.renditions(t, "640x360.jpg", "640x360.webp")
		for _, path := range []string{"/plan" + img + "/640x360", "/plan" + img} {
			x := s.do(t, "GET", path, s.token)
			want(t, x, 200)
			sp.check(t, x)
		}
	})

	t.Run("200 operations", func(t *testing.T) {
		for _, path := range []string{"/healthz", "/readyz"} {
			x := s.do(t, "GET", path, "")
			want(t, x, 200)
			sp.check(t, x)
		}
		x := s.do(t, "GET", "/metrics", "")
		if x.resp.StatusCode != 200 {
			t.Fatalf("GET /metrics = %d", x.resp.StatusCode)
		}
		sp.check(t, x)
	})

	t.Run("400 invalid request", func(t *testing.T) {
		for _, x := range []*exchange{
			s.do(t, "DELETE", "/image/not-a-uuid/640x360", s.token),
			s.do(t, "DELETE", img+"/640x360?bogus=1", s.token),
			s.do(t, "GET", "/plan"+img+"/%5B", s.token),
			s.do(t, "GET", "/purges/not-a-uuid", s.token),
			s.do(t, "GET", "/purges?limit=0", s.token),
			s.do(t, "DELETE", img, s.token, "X-Tracking-Id", strings.Repeat("x", 129)),
			s.do(t, "GET", "/healthz", "", "X-Tracking-Id", "two words"),
			s.do(t, "GET", "/metrics", "", "X-Tracking-Id", "line\tbreak"),
		} {
			want(t, x, 400, "40420201")
			sp.check(t, x)
		}
	})

	t.Run("400 invalid datastore", func(t *testing.T) {
		for _, x := range []*exchange{
			s.do(t, "DELETE", img+"?datastore=nope", s.token),
			s.do(t, "DELETE", img+"?datastore=", s.token),
			s.do(t, "GET", "/purges?datastore=nope", s.token),
		} {
			want(t, x, 400, "40420202")
			sp.check(t, x)
		}
	})

	t.Run("401", func(t *testing.T) {
		for _, tok := range []string{"", "not.a.jwt", s.token + "x"} {
			x := s.do(t, "DELETE", img, tok)
			want(t, x, 401, "40420201")
			sp.check(t, x)
		}
		sp.check(t, s.do(t, "GET", "/purges", ""))
	})

	t.Run("403", func(t *testing.T) {
		x := s.do(t, "DELETE", img, s.stranger)
		want(t, x, 403, "40420201")
		sp.check(t, x)
		x = s.do(t, "GET", "/purges?datastore=local", s.stranger)
		want(t, x, 403, "40420201")
		sp.check(t, x)
	})

	t.Run("404", func(t *testing.T) {
		x := s.do(t, "GET", "/purges/019ae5c1-7d0e-7c8a-9f1e-3b2a1c0d9e8f", s.token)
		want(t, x, 404, "40420201")
		sp.check(t, x)
		x = s.do(t, "GET", "/no/such/route", "")
		want(t, x, 404, "40420201")
		sp.checkComponent(t, x, "NotFound")
	})

	t.Run("405", func(t *testing.T) {
		for _, x := range []*exchange{
			s.do(t, "PUT", img, s.token),
			s.do(t, "POST", "/healthz", ""),
			s.do(t, "DELETE", "/purges", s.token),
		} {
			want(t, x, 405, "40420201")
			sp.checkComponent(t, x, "MethodNotAllowed")
		}
	})

	t.Run("500 a layer failed", func(t *testing.T) {
		s.renditions(t, "640x360.jpg")
		x := s.do(t, "DELETE", img+"/640x360.jpg?datastore=broken", s.token)
		want(t, x, 500, "40420290")
		sp.check(t, x)
		var data struct {
			Journaled bool `json:"journaled"`
			Layers    []struct {
				Layer  string `json:"layer"`
				Status string `json:"status"`
			} `json:"layers"`
		}
		if err := json.Unmarshal(x.envelope(t).Data, &data); err != nil || !data.Journaled ||
			len(data.Layers) != 2 || data.Layers[1].Status != "failed" {
			t.Errorf("data = %+v (%v); want the origin-cache layer failed and the rest journaled", data, err)
		}
	})
}

// TestValidatorCatchesDrift makes sure the validation above can fail: a
// response that breaks the document is reported.
func TestValidatorCatchesDrift(t *testing.T) {
	sp := loadSpec(t)
	s := startService(t)
	x := s.do(t, "GET", "/healthz", "")
	replace := func(old, new string) func(*exchange) {
		return func(x *exchange) { x.body = bytes.Replace(x.body, []byte(old), []byte(new), 1) }
	}
	for name, mutate := range map[string]func(*exchange){
		"a wrong code":         replace(`"code":0`, `"code":1`),
		"an unknown field":     replace(`{"header":`, `{"extra":1,"header":`),
		"no tracking header":   func(x *exchange) { x.resp.Header.Del("X-Tracking-Id") },
		"an undocumented code": func(x *exchange) { x.resp.StatusCode = 418 },
	} {
		y := *x
		r := *x.resp
		r.Header = x.resp.Header.Clone()
		y.resp = &r
		mutate(&y)
		if ok, _ := sp.v.ValidateHttpResponse(y.req, y.response()); ok {
			t.Errorf("%s passed validation", name)
		}
	}
}
