package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"golang.org/x/sync/errgroup"

	"github.com/imgpurge/imgpurge/internal/purge"
	"github.com/imgpurge/imgpurge/internal/selector"
	s3provider "github.com/imgpurge/imgpurge/providers/s3"
)

// S3: one image's derivatives on a real S3-compatible server.
const (
	s3Objects      = 10000
	s3Bucket       = "derivatives"
	s3UploadWorker = 32
)

// versityGW is a versitygw S3 gateway with the posix backend.
type versityGW struct {
	url, access, secret string
	cmd                 *exec.Cmd
	exited              chan struct{}
}

// findVersityGW looks where make deps installs it: PATH, then GOPATH/bin.
func findVersityGW() (string, error) {
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p, nil
	}
	out, err := exec.Command("go", "env", "GOPATH").Output()
	if err == nil {
		for _, dir := range filepath.SplitList(strings.TrimSpace(string(out))) {
			p := filepath.Join(dir, "bin", "versitygw")
			if fi, err := os.Stat(p); err == nil && fi.Mode()&0o111 != 0 {
				return p, nil
			}
		}
	}
	return "", errors.New("versitygw is not installed; run `make deps`")
}

func (b *Bench) startVersityGW() (*versityGW, error) {
	bin, err := findVersityGW()
	if err != nil {
		return nil, err
	}
	secret := make([]byte, 20)
	_, _ = rand.Read(secret)
	gw := &versityGW{access: "imgpurge-bench", secret: hex.EncodeToString(secret)}
	dir := filepath.Join(b.tmp, "versitygw")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	var lastErr error
	for range 3 {
		addr, err := freeAddr()
		if err != nil {
			return nil, err
		}
		gw.url = "http://" + addr
		gw.cmd = exec.Command(bin, "-q", "--access", gw.access, "--secret", gw.secret, "--port", addr, "posix", dir)
		gw.cmd.Env = versityEnv()
		logf, err := os.Create(b.artifact("versitygw.log"))
		if err != nil {
			return nil, err
		}
		gw.cmd.Stdout, gw.cmd.Stderr = logf, logf
		err = gw.cmd.Start()
		logf.Close()
		if err != nil {
			return nil, err
		}
		gw.exited = make(chan struct{})
		go func() { _ = gw.cmd.Wait(); close(gw.exited) }()
		// An unsigned request is refused with 403: enough to know it serves.
		if lastErr = waitAnswers(gw.url, gw.exited, 15*time.Second); lastErr == nil {
			return gw, nil
		}
		gw.stop()
	}
	return nil, fmt.Errorf("versitygw did not start: %w", lastErr)
}

// versityEnv drops the variables versitygw reads as flag defaults.
func versityEnv() []string {
	var env []string
	for _, kv := range hermeticEnv() {
		if strings.HasPrefix(kv, "VGW_") || strings.HasPrefix(kv, "ROOT_ACCESS_KEY") ||
			strings.HasPrefix(kv, "ROOT_SECRET") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

func waitAnswers(base string, exited <-chan struct{}, limit time.Duration) error {
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{Proxy: nil}}
	defer client.CloseIdleConnections()
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if resp, err := client.Get(base + "/"); err == nil {
			_ = resp.Body.Close()
			return nil
		}
		select {
		case <-exited:
			return errors.New("versitygw exited")
		case <-time.After(20 * time.Millisecond):
		}
	}
	return fmt.Errorf("no answer on %s within %s", base, limit)
}

func (gw *versityGW) stop() {
	_ = gw.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-gw.exited:
	case <-time.After(10 * time.Second):
		_ = gw.cmd.Process.Kill()
		<-gw.exited
	}
}

// client is a plain AWS SDK client of the gateway at endpoint.
func (gw *versityGW) client(endpoint string) *awss3.Client {
	return awss3.New(awss3.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(endpoint), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(gw.access, gw.secret, ""),
		HTTPClient:  &http.Client{Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 64}},
	})
}

// countingProxy passes requests to the gateway and counts them by S3
// operation, so both ways of deleting are counted the same way.
type countingProxy struct {
	rp                    *httputil.ReverseProxy
	list, deletes, others atomic.Int64
}

func newCountingProxy(target string) (*countingProxy, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	p := &countingProxy{}
	p.rp = &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(u)
			// The signature covers the Host the client addressed.
			r.Out.Host = r.In.Host
		},
		Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 64},
	}
	return p, nil
}

func (p *countingProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	switch {
	case r.Method == http.MethodGet && q.Has("list-type"):
		p.list.Add(1)
	case r.Method == http.MethodPost && q.Has("delete"):
		p.deletes.Add(1)
	default:
		p.others.Add(1)
	}
	p.rp.ServeHTTP(w, r)
}

func (p *countingProxy) reset() (list, deletes, others int64) {
	return p.list.Swap(0), p.deletes.Swap(0), p.others.Swap(0)
}

// s3Run is one deletion of the image's derivatives.
type s3Run struct {
	list, deletes, others int64
	wall, plan            time.Duration
}

func (b *Bench) s3(ctx context.Context) error {
	gw, err := b.startVersityGW()
	if err != nil {
		return err
	}
	defer gw.stop()
	proxy, err := newCountingProxy(gw.url)
	if err != nil {
		return err
	}
	f := &fixtureSet{}
	defer f.close()
	proxyURL, err := f.serve(proxy)
	if err != nil {
		return err
	}
	direct := gw.client(gw.url)
	if _, err := direct.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String(s3Bucket)}); err != nil &&
		!strings.Contains(err.Error(), "BucketAlreadyOwnedByYou") {
		return fmt.Errorf("CreateBucket: %w", err)
	}
	ds, err := s3Datastore(ctx, f, gw, proxyURL)
	if err != nil {
		return err
	}
	if err := s3Warmup(ctx, direct, ds, gw.client(proxyURL)); err != nil {
		return err
	}
	var ours, sdk []s3Run
	var uploads []time.Duration
	for r := range b.opts.Runs {
		for way := range 2 {
			id := fmt.Sprintf("%08x-0000-4000-8000-%012x", 500+r, way)
			took, err := upload(ctx, direct, id)
			if err != nil {
				return err
			}
			uploads = append(uploads, took)
			proxy.reset()
			var run s3Run
			if way == 0 {
				run, err = purgeWithImgpurge(ctx, ds, id, s3Objects)
			} else {
				run, err = purgeWithSDK(ctx, gw.client(proxyURL), id)
			}
			if err != nil {
				return err
			}
			run.list, run.deletes, run.others = proxy.reset()
			if err := checkGone(ctx, direct, id); err != nil {
				return err
			}
			if way == 0 {
				ours = append(ours, run)
			} else {
				sdk = append(sdk, run)
			}
			b.logf("s3 run %d way %d: %s", r+1, way, run.wall.Round(time.Millisecond))
		}
	}
	b.s3Report(ours, sdk, uploads)
	return nil
}

// s3Warmup deletes a small image both ways first, so that neither way's
// first run pays for the gateway's and the clients' cold start.
func s3Warmup(ctx context.Context, direct *awss3.Client, ds *purge.Datastore, sdk *awss3.Client) error {
	for way := range 2 {
		id := fmt.Sprintf("%08x-0000-4000-8000-%012x", 499, way)
		if _, err := uploadN(ctx, direct, id, 1000); err != nil {
			return err
		}
		var err error
		if way == 0 {
			_, err = purgeWithImgpurge(ctx, ds, id, 1000)
		} else {
			_, err = purgeWithSDK(ctx, sdk, id)
		}
		if err != nil {
			return fmt.Errorf("warm-up: %w", err)
		}
	}
	return nil
}

// s3Datastore is one s3 layer, as imgpurged would build it, on the proxy.
func s3Datastore(ctx context.Context, f *fixtureSet, gw *versityGW, endpoint string) (*purge.Datastore, error) {
	l, err := f.build(ctx, layerSpec{name: "s3", kind: "s3", tier: 0, factory: s3provider.New,
		settings: fmt.Sprintf("{bucket: %s, endpoint: %q, force_path_style: true, access_key_id: %s, "+
			"secret_access_key: %s}", s3Bucket, endpoint, gw.access, gw.secret)})
	if err != nil {
		return nil, err
	}
	// No deadline of the layer's own: the request's bounds the whole purge.
	l.Timeout = 2 * time.Minute
	return &purge.Datastore{Name: "media", Layers: []purge.Layer{l}}, nil
}

func objectKey(id string, i int) string { return fmt.Sprintf("derived/%s/r%05d.jpg", id, i) }

// upload puts s3Objects derivatives of image id, many at a time.
func upload(ctx context.Context, c *awss3.Client, id string) (time.Duration, error) {
	return uploadN(ctx, c, id, s3Objects)
}

func uploadN(ctx context.Context, c *awss3.Client, id string, n int) (time.Duration, error) {
	start := time.Now()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s3UploadWorker)
	for i := range n {
		g.Go(func() error {
			_, err := c.PutObject(gctx, &awss3.PutObjectInput{Bucket: aws.String(s3Bucket),
				Key: aws.String(objectKey(id, i)), Body: strings.NewReader("x")})
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return 0, fmt.Errorf("uploading derivatives: %w", err)
	}
	return time.Since(start), nil
}

// purgeWithImgpurge plans and executes a purge of every rendition of id
// through the orchestrator and the s3 provider, as DELETE /image/{id} does.
func purgeWithImgpurge(ctx context.Context, ds *purge.Datastore, id string, want int) (s3Run, error) {
	sel, err := selector.Parse("*")
	if err != nil {
		return s3Run{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	start := time.Now()
	plan, err := purge.NewPlan(ctx, "s3-bench", ds, id, sel)
	if err != nil {
		return s3Run{}, err
	}
	planned := time.Since(start)
	if n := len(plan.Steps[0].Items); n != want {
		return s3Run{}, fmt.Errorf("the plan holds %d keys, want %d", n, want)
	}
	out := (&purge.Orchestrator{Logger: slog.New(slog.DiscardHandler)}).Execute(ctx, ds, plan)
	if !out.OK() {
		return s3Run{}, fmt.Errorf("purge failed: %+v", out.Layers[0].Err)
	}
	return s3Run{wall: time.Since(start), plan: planned}, nil
}

// purgeWithSDK deletes the same objects the straightforward way: list a
// page of keys, delete that page in one DeleteObjects, and so on, one
// request at a time.
func purgeWithSDK(ctx context.Context, c *awss3.Client, id string) (s3Run, error) {
	start := time.Now()
	pages := awss3.NewListObjectsV2Paginator(c, &awss3.ListObjectsV2Input{
		Bucket: aws.String(s3Bucket), Prefix: aws.String("derived/" + id + "/")})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return s3Run{}, err
		}
		if len(page.Contents) == 0 {
			continue
		}
		objs := make([]types.ObjectIdentifier, len(page.Contents))
		for i, o := range page.Contents {
			objs[i] = types.ObjectIdentifier{Key: o.Key}
		}
		out, err := c.DeleteObjects(ctx, &awss3.DeleteObjectsInput{Bucket: aws.String(s3Bucket),
			Delete: &types.Delete{Objects: objs, Quiet: aws.Bool(true)}})
		if err != nil {
			return s3Run{}, err
		}
		if len(out.Errors) > 0 {
			return s3Run{}, fmt.Errorf("DeleteObjects: %d keys failed", len(out.Errors))
		}
	}
	return s3Run{wall: time.Since(start)}, nil
}

// checkGone makes sure no derivative of id is left.
func checkGone(ctx context.Context, c *awss3.Client, id string) error {
	out, err := c.ListObjectsV2(ctx, &awss3.ListObjectsV2Input{Bucket: aws.String(s3Bucket),
		Prefix: aws.String("derived/" + id + "/")})
	if err != nil {
		return err
	}
	if n := len(out.Contents); n > 0 {
		return fmt.Errorf("%d derivatives of %s are left", n, id)
	}
	return nil
}

func (b *Bench) s3Report(ours, sdk []s3Run, uploads []time.Duration) {
	s := b.rep.section("5. S3: one image with 10,000 derivatives")
	s.p("A real S3-compatible server, versitygw (posix backend, SigV4 checked) on 127.0.0.1, holds "+
		"%s derivatives of one image under `derived/{id}/`; uploading them took a median %s each "+
		"time (%d PutObject at a time). Two ways of deleting them alternate, a fresh image each "+
		"run: imgpurge, planning and executing a purge of the whole image through the orchestrator "+
		"and providers/s3 (paginated ListObjectsV2 with the delimiter, then DeleteObjects of 1,000 "+
		"keys, 4 requests at a time by default); and the AWS SDK used the straightforward way, one "+
		"ListObjectsV2 page of 1,000 keys then one DeleteObjects of that page, in a loop. A "+
		"counting proxy in front of the server counts both ways' requests alike; a listing "+
		"afterwards checks that nothing is left. A small image (1,000 derivatives) is deleted both "+
		"ways first, uncounted, so that neither way's first run pays for a cold start.", thousands(s3Objects),
		time.Duration(median(durs(uploads))).Round(time.Millisecond), s3UploadWorker)
	row := func(name string, runs []s3Run) []string {
		return []string{name,
			fmt.Sprintf("%.0f", medianOf(runs, func(r s3Run) float64 { return float64(r.list) })),
			fmt.Sprintf("%.0f", medianOf(runs, func(r s3Run) float64 { return float64(r.deletes) })),
			fmt.Sprintf("%.0f", medianOf(runs, func(r s3Run) float64 { return float64(r.others) })),
			each(runs, "%.0f", func(r s3Run) float64 { return msOf(r.wall) }),
			fmt.Sprintf("**%.0f**", medianOf(runs, func(r s3Run) float64 { return msOf(r.wall) }))}
	}
	s.table([]string{"way", "ListObjectsV2 calls", "DeleteObjects calls", "other calls",
		"wall ms per run", "median wall ms"},
		[][]string{row("imgpurge (providers/s3)", ours), row("AWS SDK, one batch at a time", sdk)})
	o := medianOf(ours, func(r s3Run) float64 { return msOf(r.wall) })
	k := medianOf(sdk, func(r s3Run) float64 { return msOf(r.wall) })
	plan := medianOf(ours, func(r s3Run) float64 { return msOf(r.plan) })
	s.p("Of imgpurge's %.0f ms, planning (listing all %s keys, which must finish before anything "+
		"is deleted so the plan is fixed) took %.0f ms and deleting %.0f ms. The SDK loop took "+
		"%s imgpurge's time.", o, thousands(s3Objects), plan, o-plan, ratio(k, o))
	b.rep.verdict("5. S3, 10,000 derivatives: imgpurge vs SDK loop",
		fmt.Sprintf("%.0f ms vs %.0f ms (%s); calls %.0f+%.0f vs %.0f+%.0f (list+delete)", o, k, ratio(k, o),
			medianOf(ours, func(r s3Run) float64 { return float64(r.list) }),
			medianOf(ours, func(r s3Run) float64 { return float64(r.deletes) }),
			medianOf(sdk, func(r s3Run) float64 { return float64(r.list) }),
			medianOf(sdk, func(r s3Run) float64 { return float64(r.deletes) })),
		"report", "reported")
}

func durs(ds []time.Duration) []float64 {
	out := make([]float64, len(ds))
	for i, d := range ds {
		out[i] = float64(d)
	}
	return out
}
