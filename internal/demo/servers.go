package demo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	cfemu "github.com/imgpurge/imgpurge/internal/emulator/cloudflare"
	cfrontemu "github.com/imgpurge/imgpurge/internal/emulator/cloudfront"
	"github.com/imgpurge/imgpurge/internal/proc"
)

func (d *demo) s3Client() *s3.Client {
	return s3.New(s3.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(d.s3URL), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(s3Key, s3Secret, ""),
	})
}

func (d *demo) startS3(ctx context.Context) error {
	gopath, _ := exec.Command("go", "env", "GOPATH").Output()
	bin := proc.LookPath("versitygw")
	if bin == "" {
		bin = filepath.Join(strings.TrimSpace(string(gopath)), "bin", "versitygw")
	}
	if _, err := os.Stat(bin); err != nil {
		return errors.New("versitygw not found: run make deps")
	}
	addr, err := freeAddr()
	if err != nil {
		return err
	}
	data := filepath.Join(d.dir, "s3")
	if err := os.MkdirAll(data, 0o700); err != nil {
		return err
	}
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + d.dir}
	d.s3URL = "http://" + addr
	if err := d.daemon("versitygw", d.s3URL, env, bin, "-q", "--access", s3Key, "--secret", s3Secret,
		"--port", addr, "posix", data); err != nil {
		return err
	}
	c := d.s3Client()
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		return err
	}
	for _, id := range Images {
		for _, r := range Renditions {
			body := fmt.Sprintf("pixels of %s at %s\n", id, r)
			if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket),
				Key: aws.String(key(id, r)), Body: strings.NewReader(body)}); err != nil {
				return err
			}
		}
	}
	d.say("   seeded %d images × %d renditions under s3://%s/derived/", len(Images), len(Renditions), bucket)
	return nil
}

func key(id, rendition string) string { return "derived/" + id + "/" + rendition }

// startOrigin serves GET /image/{id}/{rendition} from S3, cacheable for an
// hour, as the image platform's resizer would once a derivative exists.
func (d *demo) startOrigin(context.Context) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	c := d.s3Client()
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(
		func(w http.ResponseWriter, r *http.Request) {
			id, rendition, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, "/image/"), "/")
			if !ok || !strings.HasPrefix(r.URL.Path, "/image/") {
				http.NotFound(w, r)
				return
			}
			out, err := c.GetObject(r.Context(), &s3.GetObjectInput{Bucket: aws.String(bucket),
				Key: aws.String(key(id, rendition))})
			var missing *types.NoSuchKey
			if errors.As(err, &missing) {
				w.Header().Set("Cache-Control", "no-store")
				http.NotFound(w, r)
				return
			}
			if err != nil {
				http.Error(w, "origin: "+err.Error(), http.StatusBadGateway)
				return
			}
			defer out.Body.Close()
			var buf bytes.Buffer
			_, _ = buf.ReadFrom(out.Body)
			w.Header().Set("Cache-Control", "public, max-age=3600")
			w.Header().Set("Content-Type", "image/jpeg")
			_, _ = w.Write(buf.Bytes())
		})}
	go func() { _ = srv.Serve(ln) }()
	d.stops = append(d.stops, func() { _ = srv.Close() })
	d.originURL = "http://" + ln.Addr().String()
	d.say("   origin is up on %s", ln.Addr())
	return nil
}

func (d *demo) startVarnish(context.Context) error {
	bin, err := need("varnishd", "run make deps (apt-get install varnish varnish-modules)")
	if err != nil {
		return err
	}
	raw, err := os.ReadFile(filepath.Join(d.opts.Repo, "deploy/varnish/imgpurge.vcl"))
	if err != nil {
		return err
	}
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(d.originURL, "http://"))
	vcl := strings.Replace(string(raw), `.port = "8080";`, `.port = "`+port+`";`, 1)
	path := filepath.Join(d.dir, "imgpurge.vcl")
	if err := os.WriteFile(path, []byte(vcl), 0o644); err != nil {
		return err
	}
	addr, err := freeAddr()
	if err != nil {
		return err
	}
	admin, err := freeAddr()
	if err != nil {
		return err
	}
	d.varnishURL = "http://" + addr
	return d.daemon("varnishd", d.varnishURL+"/", nil, bin, "-F", "-n", filepath.Join(d.dir, "varnish"),
		"-a", addr, "-T", admin, "-f", path, "-s", "malloc,32m")
}

func (d *demo) startCDNs(context.Context) error {
	cf, err := freeAddr()
	if err != nil {
		return err
	}
	cfront, err := freeAddr()
	if err != nil {
		return err
	}
	d.cfURL, d.cfrontURL = "http://"+cf, "http://"+cfront
	return d.daemon("cdnemu", d.cfrontURL+"/_emulator/calls", nil, filepath.Join(d.opts.Bin, "cdnemu"),
		"-cloudflare", cf, "-cloudfront", cfront)
}

const configTemplate = `# Written by the demo: one datastore, four layers, all on 127.0.0.1.
listen: %[1]s
data_dir: %[2]s
log_level: info
auth: {mode: dev, audience: purge-api, required_claim: scope, required_value: images:purge}
datastores:
  - name: demo
    default: true
    tenants: [demo]
    public_hosts: [%[3]s]
    layers:
      - name: derivatives
        kind: s3
        tier: 0
        settings:
          bucket: %[4]s
          endpoint: %[5]s
          force_path_style: true
          access_key_id: %[6]s
          secret_access_key: ${DEMO_S3_SECRET}
      - name: origin-cache
        kind: httpcache
        tier: 1
        settings: {nodes: ["%[7]s"], method: purge}
      - name: cloudflare
        kind: cloudflare
        tier: 2
        settings:
          zone_id: %[8]s
          zone: %[9]s
          api_token: ${DEMO_CF_TOKEN}
          base_url: %[10]s/client/v4
      - name: cloudfront
        kind: cloudfront
        tier: 2
        settings:
          distribution_id: %[11]s
          endpoint: %[12]s
          access_key_id: %[13]s
          secret_access_key: ${DEMO_CFRONT_SECRET}
`

func (d *demo) startImgpurged(context.Context) error {
	addr, err := freeAddr()
	if err != nil {
		return err
	}
	cfg := fmt.Sprintf(configTemplate, addr, filepath.Join(d.dir, "data"), host, bucket, d.s3URL, s3Key,
		d.varnishURL, cfemu.DefaultZoneID, cfemu.DefaultZone, d.cfURL,
		cfrontemu.TestDistribution, d.cfrontURL, cfrontemu.TestAccessKeyID)
	path := filepath.Join(d.dir, "imgpurge.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		return err
	}
	env := append(os.Environ(), "DEMO_S3_SECRET="+s3Secret, "DEMO_CF_TOKEN="+cfemu.DefaultToken,
		"DEMO_CFRONT_SECRET="+cfrontemu.TestSecretAccessKey)
	d.apiURL = "http://" + addr
	if err := d.daemon("imgpurged", d.apiURL+"/readyz", env, filepath.Join(d.opts.Bin, "imgpurged"),
		"-config", path); err != nil {
		return err
	}
	out, err := exec.Command(filepath.Join(d.opts.Bin, "imgpurge"), "token", "--dev", "--config", path,
		"--subject", "demo-editor").Output()
	if err != nil {
		return fmt.Errorf("imgpurge token --dev: %w", err)
	}
	d.token = strings.TrimSpace(string(out))
	d.say("   configuration: %s", path)
	return nil
}
