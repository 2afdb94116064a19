package cli_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/imgpurge/imgpurge/internal/cli"
)

func TestPurgeOne(t *testing.T) {
	t.Parallel()
	b := setup(t)
	renditions(t, b.derivs, imageID, "640x360.jpg", "640x360.webp", "640x3600.jpg", "1280x720.jpg")

	o := run(t, b.env(nil), "", "purge", imageID, "640x360").want(t, cli.ExitOK)
	for _, want := range []string{
		"Purge of image " + imageID + " (selector 640x360, datastore local): succeeded",
		"renditions: 640x360.jpg, 640x360.webp",
		"LAYER", "derivatives", "fs", "succeeded", "tracking id",
	} {
		if !strings.Contains(o.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, o.stdout)
		}
	}
	if got := left(t, b.derivs, imageID); got != "1280x720.jpg,640x3600.jpg" {
		t.Fatalf("files left: %s", got)
	}
}

func TestPurgeOneJSON(t *testing.T) {
	t.Parallel()
	b := setup(t)
	renditions(t, b.derivs, imageID, "640x360.jpg", "1280x720.jpg")

	// Flags may follow the arguments; a quoted glob reaches the server intact.
	o := run(t, b.env(nil), "", "purge", imageID, "*x360.*", "--json").want(t, cli.ExitOK)
	var env struct {
		Header struct {
			Source string `json:"source"`
			Code   int    `json:"code"`
		} `json:"header"`
		Data struct {
			Selector   string   `json:"selector"`
			Renditions []string `json:"renditions"`
			Layers     []struct {
				Layer, Status string
				Items         int
			} `json:"layers"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(o.stdout), &env); err != nil {
		t.Fatalf("--json output is not the envelope: %v\n%s", err, o.stdout)
	}
	d := env.Data
	if env.Header.Source != "042-02" || env.Header.Code != 0 || d.Selector != "*x360.*" ||
		strings.Join(d.Renditions, ",") != "640x360.jpg" || len(d.Layers) != 1 || d.Layers[0].Items != 1 {
		t.Fatalf("envelope = %s", o.stdout)
	}
	if got := left(t, b.derivs, imageID); got != "1280x720.jpg" {
		t.Fatalf("files left: %s", got)
	}
}

// TestLayerFailureExits1 purges in the datastore whose cache layer is on a
// closed port: the derivatives go, the cache layer fails, the purge is
// journaled, and the exit code says so.
func TestLayerFailureExits1(t *testing.T) {
	t.Parallel()
	b := setup(t)
	renditions(t, b.dir+"/broken-derivatives", imageID, "640x360.jpg")

	o := run(t, b.env(nil), "", "purge", "--datastore", "broken", imageID).want(t, cli.ExitFailed)
	for _, want := range []string{
		"FAILED, journaled for retry as purge", "varnish", "httpcache", "failed",
		"error 40420290", "follow it with: imgpurge status",
	} {
		if !strings.Contains(o.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, o.stdout)
		}
	}
	if got := left(t, b.dir+"/broken-derivatives", imageID); got != "" {
		t.Errorf("derivatives left: %s", got)
	}
	j := run(t, b.env(nil), "", "purge", "--datastore", "broken", imageID, "640x360.jpg", "--json").want(t, cli.ExitFailed)
	if !strings.Contains(j.stdout, `"journaled":true`) || !strings.Contains(j.stdout, `"code":"40420290"`) {
		t.Errorf("--json failure = %s", j.stdout)
	}
}

func TestAsyncPurge(t *testing.T) {
	t.Parallel()
	b := setup(t)
	renditions(t, b.derivs, imageID, "640x360.jpg")
	o := run(t, b.env(nil), "", "purge", imageID, "--async").want(t, cli.ExitOK)
	if !strings.Contains(o.stdout, "accepted") || !strings.Contains(o.stdout, "imgpurge status ") {
		t.Fatalf("output:\n%s", o.stdout)
	}
}

func TestDryRunOne(t *testing.T) {
	t.Parallel()
	b := setup(t)
	renditions(t, b.derivs, imageID, "640x360.jpg", "640x360.webp", "1280x720.jpg")

	o := run(t, b.env(nil), "", "purge", "--dry-run", imageID, "640x360").want(t, cli.ExitOK)
	for _, want := range []string{
		"Dry run for image " + imageID + " (selector 640x360, datastore local): nothing was purged",
		"renditions (2): 640x360.jpg, 640x360.webp",
		"layer derivatives (fs, tier 0) would receive 2 items",
		imageID + "/640x360.jpg",
		"CloudFront: no cloudfront layer, no invalidation cost",
	} {
		if !strings.Contains(o.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, o.stdout)
		}
	}
	j := run(t, b.env(nil), "", "purge", "--dry-run", "--json", imageID).want(t, cli.ExitOK)
	var env struct {
		Data struct {
			RenditionCount    int     `json:"rendition_count"`
			CloudFrontPaths   *int    `json:"cloudfront_paths"`
			CloudFrontCostUSD float64 `json:"cloudfront_cost_usd"`
			CostBasis         string  `json:"cost_basis"`
			Layers            []struct {
				Items []string
				Count int
			} `json:"layers"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(j.stdout), &env); err != nil {
		t.Fatal(err)
	}
	if d := env.Data; d.RenditionCount != 3 || d.CloudFrontPaths == nil || d.Layers[0].Count != 3 ||
		!strings.Contains(d.CostBasis, "not deducted") {
		t.Errorf("plan = %s", j.stdout)
	}
	if got := left(t, b.derivs, imageID); got != "1280x720.jpg,640x360.jpg,640x360.webp" {
		t.Fatalf("a dry run deleted files: %s", got)
	}
}

func TestHelpOnEveryCommand(t *testing.T) {
	t.Parallel()
	for _, c := range []string{"purge", "status", "purges", "jobs", "retry", "token"} {
		o := run(t, nil, "", c, "--help").want(t, cli.ExitOK)
		if !strings.Contains(o.stderr, "Usage: imgpurge "+c) || !strings.Contains(o.stderr, "Example") {
			t.Errorf("%s --help:\n%s", c, o.stderr)
		}
	}
	o := run(t, nil, "", "--help").want(t, cli.ExitOK)
	if !strings.Contains(o.stdout, "Exit codes") {
		t.Errorf("--help:\n%s", o.stdout)
	}
}

func TestExitCodes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	renditions(t, b.derivs, imageID, "640x360.jpg")
	other := b.idp.Token(t, "rsa-1", map[string]any{"tenant": "media"})
	noToken := map[string]string{"IMGPURGE_TOKEN": ""}
	halfCC := map[string]string{"IMGPURGE_TOKEN": "", "IMGPURGE_TOKEN_URL": "http://127.0.0.1:1/token"}
	closed := map[string]string{"IMGPURGE_URL": "http://" + b.closed}
	badToken := map[string]string{"IMGPURGE_TOKEN": "not.a.jwt"}
	cases := map[string]struct {
		env  map[string]string
		args []string
		code int
		says string
	}{
		"ok":            {nil, []string{"purge", imageID}, cli.ExitOK, "succeeded"},
		"layer failure": {nil, []string{"purge", imageID, "1x1.jpg", "--datastore", "broken"}, cli.ExitFailed, "journaled"},
		"invalid id":    {nil, []string{"purge", "img-42"}, cli.ExitFailed, "40420201"},
		"unknown flag":  {nil, []string{"purge", imageID, "--force"}, cli.ExitUsage, "flag provided but not defined"},
		"no id":         {nil, []string{"purge"}, cli.ExitUsage, "want ID [SELECTOR]"},
		"too many args": {nil, []string{"purge", imageID, "a", "b"}, cli.ExitUsage, "want ID [SELECTOR]"},
		"bad concurrency": {nil, []string{"purge", "--from", "-", "--concurrency", "0"},
			cli.ExitUsage, "--concurrency"},
		"report alone": {nil, []string{"purge", imageID, "--report", "r.jsonl"},
			cli.ExitUsage, "--report goes with --from"},
		"dry and async":     {nil, []string{"purge", imageID, "--dry-run", "--async"}, cli.ExitUsage, "exclude"},
		"missing file":      {nil, []string{"purge", "--from", b.dir + "/nope.txt"}, cli.ExitUsage, "reading --from"},
		"no credentials":    {noToken, []string{"purge", imageID}, cli.ExitUsage, "no credentials"},
		"half credentials":  {halfCC, []string{"purge", imageID}, cli.ExitUsage, "--client-id"},
		"bad url":           {map[string]string{"IMGPURGE_URL": "ftp://x"}, []string{"purge", imageID}, cli.ExitUsage, "not an http"},
		"unknown datastore": {nil, []string{"purge", imageID, "--datastore", "nope"}, cli.ExitUsage, "40420202"},
		"status not uuid":   {nil, []string{"status", "nope"}, cli.ExitUsage, "not a purge id"},
		"bad limit":         {nil, []string{"purges", "--limit", "0"}, cli.ExitUsage, "--limit"},
		"jobs no state":     {nil, []string{"jobs"}, cli.ExitUsage, "--dead"},
		"unreachable":       {closed, []string{"purge", imageID}, cli.ExitNoReach, "connection refused"},
		"unreachable GET":   {closed, []string{"purges"}, cli.ExitNoReach, "connection refused"},
		"bad token":         {badToken, []string{"purge", imageID}, cli.ExitNoReach, "HTTP 401"},
		"bad token status":  {badToken, []string{"jobs", "--dead"}, cli.ExitNoReach, "HTTP 401"},
		"not entitled":      {map[string]string{"IMGPURGE_TOKEN": other}, []string{"purge", imageID}, cli.ExitNoReach, "HTTP 403"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			o := run(t, b.env(c.env), "", c.args...).want(t, c.code)
			if !strings.Contains(o.stdout+o.stderr, c.says) {
				t.Errorf("output does not say %q:\nstdout:\n%s\nstderr:\n%s", c.says, o.stdout, o.stderr)
			}
		})
	}
}

// TestDryRunCloudFrontEstimate plans in the datastore with a CloudFront
// layer: exact paths up to its wildcard threshold (10), then one wildcard,
// each path at $0.005.
func TestDryRunCloudFrontEstimate(t *testing.T) {
	t.Parallel()
	b := setup(t)
	root := b.dir + "/edge-derivatives"
	renditions(t, root, imageID, "640x360.jpg", "640x360.webp", "1280x720.jpg")
	many := "0c4cbe3f-9c1c-4b43-8d6a-2d6f7b4a2f10"
	var names []string
	for i := range 12 {
		names = append(names, fmt.Sprintf("%dx%d.jpg", 100+i, 100+i))
	}
	renditions(t, root, many, names...)

	o := run(t, b.env(nil), "", "purge", imageID, "--datastore", "edge", "--dry-run").want(t, cli.ExitOK)
	for _, want := range []string{
		"layer cdn (cloudfront, tier 2) would receive 3 items",
		"/image/" + imageID + "/640x360.webp",
		"CloudFront: 3 invalidation paths, estimated $0.015",
		"the 1,000 free paths a month are not deducted",
	} {
		if !strings.Contains(o.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, o.stdout)
		}
	}
	w := run(t, b.env(nil), "", "purge", many, "--datastore", "edge", "--dry-run").want(t, cli.ExitOK)
	if !strings.Contains(w.stdout, "/image/"+many+"/*") || !strings.Contains(w.stdout, "1 invalidation path, estimated $0.005") {
		t.Errorf("wildcard plan:\n%s", w.stdout)
	}
	bulk := run(t, b.env(nil), imageID+"\n"+many+"\n"+imageID+" 640x360\n", "purge", "--from", "-",
		"--datastore", "edge", "--dry-run", "--json").want(t, cli.ExitOK)
	if s := parseSummary(t, bulk); s.Planned != 3 || s.CloudFrontPaths != 6 || s.CostUSD != 0.03 {
		t.Errorf("bulk summary = %+v", s)
	}
	if left(t, root, imageID) != "1280x720.jpg,640x360.jpg,640x360.webp" {
		t.Error("a dry run deleted files")
	}
}
