package cases

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/imgpurge/imgpurge/internal/app"
	"github.com/imgpurge/imgpurge/internal/config"
	flareemu "github.com/imgpurge/imgpurge/internal/emulator/cloudflare"
	"github.com/imgpurge/imgpurge/internal/testenv"
)

// TestEndToEndThroughRealServers purges one size of an image through real
// servers: derivatives in versitygw, a test origin that serves them, Varnish
// with the shipped VCL in front of it, and the Cloudflare emulator as the
// edge. The selected renditions leave the store and both caches; the others
// stay stored and cached.
func TestEndToEndThroughRealServers(t *testing.T) {
	t.Parallel()
	endpoint, access, secret := testenv.StartVersityGW(t)
	store := storeClient(endpoint, access, secret)
	ctx := context.Background()
	if _, err := store.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatalf("CreateBucket: %v", err)
	}
	renditions := []string{"1280x720.jpg", "640x360.jpg", "640x360.webp"}
	for _, r := range renditions {
		_, err := store.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String(bucket),
			Key: aws.String(imageDir + r), Body: strings.NewReader("pixels of " + r)})
		if err != nil {
			t.Fatalf("PutObject %s: %v", r, err)
		}
	}
	origin := startStoreOrigin(t, store)
	varnish := testenv.StartVarnish(t, "deploy/varnish/imgpurge.vcl", origin.port)
	edge := flareemu.New(flareemu.Options{})
	for _, r := range renditions {
		edge.Store("https://" + publicHost + imagePath + r)
	}

	for _, r := range renditions {
		if got := viewVarnish(t, varnish.URL, r); got.cache != "MISS" || got.status != http.StatusOK {
			t.Fatalf("first GET of %s: %+v", r, got)
		}
		if got := viewVarnish(t, varnish.URL, r); got.cache != "HIT" || got.body != "pixels of "+r {
			t.Fatalf("second GET of %s is not a HIT of the stored body: %+v", r, got)
		}
	}

	f := startEndToEnd(t, endpoint, access, secret, varnish.URL, edge)
	d := f.purge("/image/" + imageID + "/640x360").succeeded(t)
	if got := strings.Join(d.Renditions, ","); got != "640x360.jpg,640x360.webp" {
		t.Errorf("purged renditions %s", got)
	}

	for _, r := range []string{"640x360.jpg", "640x360.webp"} {
		if got := viewVarnish(t, varnish.URL, r); got.cache != "MISS" || got.status != http.StatusNotFound {
			t.Errorf("GET of purged %s: %+v, want a MISS and the origin's 404", r, got)
		}
		if stored(t, store, r) {
			t.Errorf("%s is still stored", r)
		}
		if edge.Cached("https://" + publicHost + imagePath + r) {
			t.Errorf("%s is still cached at the edge", r)
		}
	}
	kept := "1280x720.jpg"
	if got := viewVarnish(t, varnish.URL, kept); got.cache != "HIT" || got.body != "pixels of "+kept {
		t.Errorf("GET of %s outside the selector: %+v, want still a HIT", kept, got)
	}
	if !stored(t, store, kept) || !edge.Cached("https://"+publicHost+imagePath+kept) {
		t.Errorf("%s is no longer stored or cached at the edge", kept)
	}
}

// storeClient is the test's own S3 client, for seeding and inspecting.
func storeClient(endpoint, access, secret string) *awss3.Client {
	return awss3.New(awss3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(access, secret, ""),
	})
}

func stored(t *testing.T, store *awss3.Client, rendition string) bool {
	t.Helper()
	_, err := store.HeadObject(context.Background(), &awss3.HeadObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(imageDir + rendition)})
	var nf *types.NotFound
	if errors.As(err, &nf) {
		return false
	}
	if err != nil {
		t.Fatalf("HeadObject %s: %v", rendition, err)
	}
	return true
}

type storeOrigin struct {
	port int
}

// startStoreOrigin stands in for the resizer: GET /image/{id}/{rendition}
// answers the derivative stored at derived/{id}/{rendition}, cacheable for
// an hour, or a 404 that no cache keeps.
func startStoreOrigin(t *testing.T, store *awss3.Client) *storeOrigin {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rest, ok := strings.CutPrefix(r.URL.Path, "/image/")
		id, rendition, found := strings.Cut(rest, "/")
		if !ok || !found || r.Method != http.MethodGet {
			w.Header().Set("Cache-Control", "no-store")
			http.NotFound(w, r)
			return
		}
		obj, err := store.GetObject(r.Context(), &awss3.GetObjectInput{
			Bucket: aws.String(bucket), Key: aws.String("derived/" + id + "/" + rendition)})
		var nsk *types.NoSuchKey
		switch {
		case errors.As(err, &nsk):
			w.Header().Set("Cache-Control", "no-store")
			http.NotFound(w, r)
			return
		case err != nil:
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer obj.Body.Close()
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Header().Set("Content-Type", "image/jpeg")
		_, _ = io.Copy(w, obj.Body)
	}))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	port, _ := strconv.Atoi(u.Port())
	return &storeOrigin{port: port}
}

type view struct {
	status int
	cache  string
	body   string
}

// viewVarnish requests a rendition through Varnish as a visitor of the
// public host does.
func viewVarnish(t *testing.T, varnishURL, rendition string) view {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, varnishURL+imagePath+rendition, nil)
	req.Host = publicHost
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s through Varnish: %v", rendition, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return view{status: resp.StatusCode, cache: resp.Header.Get("X-Cache"), body: string(bytes.TrimSpace(body))}
}

// startEndToEnd serves imgpurged with datastore media on the real store and
// Varnish, and the Cloudflare emulator at the edge.
func startEndToEnd(t *testing.T, endpoint, access, secret, varnishURL string,
	edge *flareemu.Emulator) *fixture {
	t.Helper()
	f := &fixture{t: t, idp: testenv.StartRealmIdP(t, realm), logs: &syncBuffer{}}
	f.token = f.idp.Token(t, "rsa-1", map[string]any{"aud": audience, "realm_access": roles()})
	edgeSrv := httptest.NewServer(edge)
	t.Cleanup(edgeSrv.Close)
	doc := fmt.Sprintf(endToEndDoc, t.TempDir(), f.idp.URL, audience, role, publicHost,
		bucket, endpoint, access, secret, varnishURL,
		flareemu.DefaultZoneID, flareemu.DefaultZone, flareemu.DefaultToken, edgeSrv.URL)
	cfg, err := config.Parse([]byte(doc))
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	a, err := app.New(context.Background(), cfg, app.NewLogger(f.logs, "debug"))
	if err != nil {
		t.Fatalf("app.New: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("imgpurged log:\n%s", f.logs.String())
		}
	})
	f.serve(t, a)
	return f
}

const endToEndDoc = `
data_dir: %s
shutdown_timeout: 3s
auth:
  issuer: %s
  audience: %s
  algorithms: [RS256]
  required_claim: realm_access.roles
  required_value: %s
datastores:
  - name: media
    default: true
    tenants: [media]
    public_hosts: [%s]
    layers:
      - name: s3
        kind: s3
        tier: 0
        settings:
          bucket: %s
          endpoint: %s
          force_path_style: true
          access_key_id: %s
          secret_access_key: %s
      - name: origin
        kind: httpcache
        tier: 1
        settings:
          nodes: [%s]
          method: purge
      - name: cloudflare
        kind: cloudflare
        tier: 2
        settings:
          zone_id: %s
          zone: %s
          api_token: %s
          base_url: %s/client/v4
`
