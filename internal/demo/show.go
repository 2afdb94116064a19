package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// The purge the demo makes: one size, in every format, of the first image.
const selector = "640x360"

var (
	purged = []string{"640x360.jpg", "640x360.webp"}
	kept   = []string{"320x180.jpg", "1280x720.jpg"}
)

func (d *demo) show(ctx context.Context) error {
	id := Images[0]
	d.step("A visitor's GETs go through Varnish; the second of each is served from cache")
	for _, r := range Renditions {
		if _, err := d.get(id, r); err != nil {
			return err
		}
	}
	for _, r := range Renditions {
		st, err := d.get(id, r)
		if err != nil {
			return err
		}
		d.say("   GET %s/image/%s/%s  →  %s", host, short(id), r, st)
		if !strings.HasPrefix(st, "200 HIT") {
			return fmt.Errorf("check failed: %s should be a cache HIT, got %s", r, st)
		}
	}

	d.step("Purging size " + selector + " of image " + short(id) + " with the command line")
	cmd := exec.CommandContext(ctx, filepath.Join(d.opts.Bin, "imgpurge"), "purge", id, selector)
	cmd.Env = append(os.Environ(), "IMGPURGE_URL="+d.apiURL, "IMGPURGE_TOKEN="+d.token)
	out := &indent{w: d.opts.Out}
	cmd.Stdout, cmd.Stderr = out, out
	d.say("   $ imgpurge purge %s %s", id, selector)
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("check failed: imgpurge purge: %w", err)
	}
	return d.received(ctx, id)
}

// received shows what each layer got and checks it.
func (d *demo) received(ctx context.Context, id string) error {
	d.step("What each layer received")
	left, err := d.listS3(ctx, id)
	if err != nil {
		return err
	}
	d.say("   S3: derived/%s/ now holds %s", short(id), strings.Join(left, ", "))
	if !slices.Equal(left, sorted(kept)) {
		return fmt.Errorf("check failed: S3 should hold only %v, holds %v", kept, left)
	}
	files, err := d.calls(d.cfURL, func(raw json.RawMessage) []string {
		var c []struct{ Items []string }
		_ = json.Unmarshal(raw, &c)
		var out []string
		for _, x := range c {
			out = append(out, x.Items...)
		}
		return out
	})
	if err != nil {
		return err
	}
	d.say("   Cloudflare purge_cache files:\n      %s", strings.Join(files, "\n      "))
	paths, err := d.calls(d.cfrontURL, func(raw json.RawMessage) []string {
		var c []struct{ Paths []string }
		_ = json.Unmarshal(raw, &c)
		var out []string
		for _, x := range c {
			out = append(out, x.Paths...)
		}
		return out
	})
	if err != nil {
		return err
	}
	d.say("   CloudFront invalidation paths:\n      %s", strings.Join(paths, "\n      "))
	for _, r := range purged {
		if !slices.Contains(files, "https://"+host+"/image/"+id+"/"+r) ||
			!slices.Contains(paths, "/image/"+id+"/"+r) {
			return fmt.Errorf("check failed: the CDNs were not asked to purge %s", r)
		}
	}

	d.step("The next GETs: purged renditions miss the cache, the others are still cached")
	for _, r := range Renditions {
		st, err := d.get(id, r)
		if err != nil {
			return err
		}
		d.say("   GET %s/image/%s/%s  →  %s", host, short(id), r, st)
		want := "200 HIT"
		if slices.Contains(purged, r) {
			// The derivative is gone too, so the origin has nothing to serve
			// until the resizer makes it again.
			want = "404 MISS"
		}
		if !strings.HasPrefix(st, want) {
			return fmt.Errorf("check failed: %s should be %s, got %s", r, want, st)
		}
	}
	d.say("\nAll checks passed: every copy of %s of image %s is gone, and nothing else.", selector, short(id))
	return nil
}

// get fetches a rendition through Varnish as a visitor of the public host.
func (d *demo) get(id, rendition string) (string, error) {
	req, err := http.NewRequest(http.MethodGet, d.varnishURL+"/image/"+id+"/"+rendition, nil)
	if err != nil {
		return "", err
	}
	req.Host = host
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return fmt.Sprintf("%d %s", resp.StatusCode, resp.Header.Get("X-Cache")), nil
}

func (d *demo) listS3(ctx context.Context, id string) ([]string, error) {
	out, err := d.s3Client().ListObjectsV2(ctx, &s3.ListObjectsV2Input{
		Bucket: aws.String(bucket), Prefix: aws.String("derived/" + id + "/")})
	if err != nil {
		return nil, err
	}
	var names []string
	for _, o := range out.Contents {
		names = append(names, strings.TrimPrefix(aws.ToString(o.Key), "derived/"+id+"/"))
	}
	return sorted(names), nil
}

// calls reads what an emulator received.
func (d *demo) calls(base string, items func(json.RawMessage) []string) ([]string, error) {
	resp, err := http.Get(base + "/_emulator/calls")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, errors.New("emulator calls: " + resp.Status)
	}
	return items(raw), nil
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func short(id string) string { return id[:8] + "…" }

// indent prefixes each line of the command line's output, so it reads as
// part of a step. Writes may end mid-line; the prefix goes only where a
// line starts.
type indent struct {
	w   io.Writer
	mid bool
}

func (i *indent) Write(p []byte) (int, error) {
	for _, l := range strings.SplitAfter(string(p), "\n") {
		if l == "" {
			continue
		}
		if !i.mid {
			fmt.Fprint(i.w, "   | ")
		}
		fmt.Fprint(i.w, l)
		i.mid = !strings.HasSuffix(l, "\n")
	}
	return len(p), nil
}
