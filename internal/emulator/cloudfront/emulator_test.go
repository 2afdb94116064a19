package cloudfront_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront/types"
	"github.com/aws/smithy-go"
	"go.uber.org/goleak"
	"golang.org/x/time/rate"

	emu "github.com/imgpurge/imgpurge/internal/emulator/cloudfront"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const dist = emu.TestDistribution

type bundle struct {
	emu    *emu.Emulator
	url    string
	client *cloudfront.Client
}

func setup(t *testing.T, opts emu.Options) *bundle {
	t.Helper()
	e := emu.New(opts)
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	return &bundle{emu: e, url: srv.URL, client: newClient(srv.URL, emu.TestSecretAccessKey)}
}

func newClient(url, secret string) *cloudfront.Client {
	return cloudfront.New(cloudfront.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(url),
		Credentials:  credentials.NewStaticCredentialsProvider(emu.TestAccessKeyID, secret, ""),
		Retryer:      aws.NopRetryer{},
	})
}

func (b *bundle) create(ref string, paths ...string) (*cloudfront.CreateInvalidationOutput, error) {
	return b.client.CreateInvalidation(context.Background(), &cloudfront.CreateInvalidationInput{
		DistributionId: aws.String(dist),
		InvalidationBatch: &types.InvalidationBatch{
			CallerReference: aws.String(ref),
			Paths:           &types.Paths{Quantity: aws.Int32(int32(len(paths))), Items: paths},
		},
	})
}

func code(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	return ""
}

// rawCall sends body signed with the SDK's own signer, so bodies the SDK
// would never build (inconsistent quantities, a wrong namespace) can be
// tried. It returns the status, the error code and the raw response.
func rawCall(t *testing.T, b *bundle, method, path, body string) (int, string, *http.Response) {
	t.Helper()
	req, err := http.NewRequest(method, b.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(body))
	creds := aws.Credentials{AccessKeyID: emu.TestAccessKeyID, SecretAccessKey: emu.TestSecretAccessKey}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]),
		"cloudfront", "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	return do(t, req)
}

func do(t *testing.T, req *http.Request) (int, string, *http.Response) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	var doc struct {
		Error struct{ Type, Code string }
	}
	_ = xml.Unmarshal(raw, &doc)
	resp.Body = io.NopCloser(bytes.NewReader(raw))
	return resp.StatusCode, doc.Error.Code, resp
}

func batchXML(ns, ref string, quantity int, paths ...string) string {
	var items strings.Builder
	for _, p := range paths {
		items.WriteString("<Path>" + p + "</Path>")
	}
	return fmt.Sprintf(`<InvalidationBatch xmlns="%s"><CallerReference>%s</CallerReference>`+
		`<Paths><Quantity>%d</Quantity><Items>%s</Items></Paths></InvalidationBatch>`,
		ns, ref, quantity, items.String())
}

const createPath = "/2020-05-31/distribution/" + dist + "/invalidation"

func TestAuthentication(t *testing.T) {
	t.Parallel()
	b := setup(t, emu.Options{})

	t.Run("Signed", func(t *testing.T) {
		if _, err := b.create("ok", "/a"); err != nil {
			t.Fatalf("signed request refused: %v", err)
		}
	})
	t.Run("WrongSecret", func(t *testing.T) {
		c := newClient(b.url, "not-the-secret")
		_, err := c.CreateInvalidation(context.Background(), &cloudfront.CreateInvalidationInput{
			DistributionId: aws.String(dist),
			InvalidationBatch: &types.InvalidationBatch{CallerReference: aws.String("x"),
				Paths: &types.Paths{Quantity: aws.Int32(1), Items: []string{"/a"}}},
		})
		if code(err) != "SignatureDoesNotMatch" {
			t.Fatalf("err = %v, want SignatureDoesNotMatch", err)
		}
	})
	t.Run("Missing", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, b.url+createPath,
			strings.NewReader(batchXML(emu.Namespace, "r", 1, "/a")))
		status, c, _ := do(t, req)
		if status != http.StatusForbidden || c != "MissingAuthenticationToken" {
			t.Fatalf("got %d %s, want 403 MissingAuthenticationToken", status, c)
		}
	})
	t.Run("UnknownKey", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, b.url+createPath, strings.NewReader("x"))
		req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIAOTHER/20260101/us-east-1/"+
			"cloudfront/aws4_request, SignedHeaders=host;x-amz-date, Signature=00")
		status, c, _ := do(t, req)
		if status != http.StatusForbidden || c != "InvalidClientTokenId" {
			t.Fatalf("got %d %s, want 403 InvalidClientTokenId", status, c)
		}
	})
	t.Run("BodyTampered", func(t *testing.T) {
		body := batchXML(emu.Namespace, "t", 1, "/a")
		req, _ := http.NewRequest(http.MethodPost, b.url+createPath, strings.NewReader(body))
		sum := sha256.Sum256([]byte(body))
		creds := aws.Credentials{AccessKeyID: emu.TestAccessKeyID, SecretAccessKey: emu.TestSecretAccessKey}
		_ = v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]),
			"cloudfront", "us-east-1", time.Now())
		tampered := strings.Replace(body, "/a", "/b", 1)
		req.Body = io.NopCloser(strings.NewReader(tampered))
		if status, c, _ := do(t, req); c != "SignatureDoesNotMatch" {
			t.Fatalf("got %d %s, want SignatureDoesNotMatch", status, c)
		}
	})
}

func TestBatchValidation(t *testing.T) {
	t.Parallel()
	long := "/" + strings.Repeat("a", emu.MaxPathLength)
	tests := []struct {
		name   string
		body   string
		status int
		code   string
	}{
		{"Accepted", batchXML(emu.Namespace, "a", 2, "/a", "/b*"), 201, ""},
		{"InconsistentQuantities", batchXML(emu.Namespace, "q", 3, "/a", "/b"), 400, "InconsistentQuantities"},
		{"NoLeadingSlash", batchXML(emu.Namespace, "s", 1, "a.jpg"), 400, "InvalidArgument"},
		{"StarNotLast", batchXML(emu.Namespace, "m", 1, "/a*/b"), 400, "InvalidArgument"},
		{"TooLong", batchXML(emu.Namespace, "l", 1, long), 400, "InvalidArgument"},
		{"RawSpace", batchXML(emu.Namespace, "sp", 1, "/a b.jpg"), 400, "InvalidArgument"},
		{"RawNonASCII", batchXML(emu.Namespace, "na", 1, "/café.jpg"), 400, "InvalidArgument"},
		{"RawTilde", batchXML(emu.Namespace, "ti", 1, "/v~2.jpg"), 400, "InvalidArgument"},
		{"EncodedTildeAccepted", batchXML(emu.Namespace, "te", 1, "/v%7E2.jpg"), 201, ""},
		{"NoPaths", batchXML(emu.Namespace, "np", 0), 400, "InvalidArgument"},
		{"WrongNamespace", batchXML("urn:other", "ns", 1, "/a"), 400, "InvalidArgument"},
		{"NotXML", "{}", 400, "InvalidArgument"},
		{"Empty", "", 400, "MissingBody"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, emu.Options{})
			status, c, resp := rawCall(t, b, http.MethodPost, createPath, tc.body)
			if status != tc.status || c != tc.code {
				t.Fatalf("got %d %q, want %d %q", status, c, tc.status, tc.code)
			}
			if resp.Header.Get("x-amz-request-id") == "" {
				t.Error("no x-amz-request-id header")
			}
			if status == 201 && !strings.Contains(resp.Header.Get("Location"), createPath+"/I") {
				t.Errorf("Location = %q", resp.Header.Get("Location"))
			}
		})
	}
}

func TestErrorBodyIsErrorResponse(t *testing.T) {
	t.Parallel()
	b := setup(t, emu.Options{})
	_, _, resp := rawCall(t, b, http.MethodPost, "/2020-05-31/distribution/ENOSUCH/invalidation",
		batchXML(emu.Namespace, "r", 1, "/a"))
	raw, _ := io.ReadAll(resp.Body)
	var doc struct {
		XMLName   xml.Name `xml:"ErrorResponse"`
		Error     struct{ Type, Code, Message string }
		RequestID string `xml:"RequestId"`
	}
	if err := xml.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("body %s: %v", raw, err)
	}
	if resp.StatusCode != 404 || doc.Error.Type != "Sender" || doc.Error.Code != "NoSuchDistribution" ||
		doc.RequestID != resp.Header.Get("x-amz-request-id") || doc.XMLName.Space != emu.Namespace {
		t.Fatalf("got %d %+v", resp.StatusCode, doc)
	}
}

func TestCacheEviction(t *testing.T) {
	t.Parallel()
	b := setup(t, emu.Options{})
	b.emu.Seed(dist, "/image/a/v~2.jpg", "/image/a/x.jpg", "/image/a/y.jpg", "/image/ab/x.jpg")

	if _, err := b.create("tilde", "/image/a/v%7E2.jpg"); err != nil {
		t.Fatal(err)
	}
	if !b.emu.Held(dist, "/image/a/v~2.jpg") {
		t.Error("%7E evicted a cached ~; CloudFront matches paths byte for byte")
	}
	if _, err := b.create("exact", "/image/a/x.jpg"); err != nil {
		t.Fatal(err)
	}
	if b.emu.Held(dist, "/image/a/x.jpg") || !b.emu.Held(dist, "/image/a/y.jpg") {
		t.Error("exact path evicted the wrong entries")
	}
	if _, err := b.create("wild", "/image/a/*"); err != nil {
		t.Fatal(err)
	}
	if b.emu.Held(dist, "/image/a/y.jpg") || b.emu.Held(dist, "/image/a/v~2.jpg") {
		t.Error("wildcard left an entry under its prefix")
	}
	if !b.emu.Held(dist, "/image/ab/x.jpg") {
		t.Error("wildcard /image/a/* reached /image/ab/")
	}
}

func TestCallerReference(t *testing.T) {
	t.Parallel()
	t.Run("SamePathsReturnOriginal", func(t *testing.T) {
		t.Parallel()
		b := setup(t, emu.Options{})
		first, err := b.create("ref-1", "/a", "/b")
		if err != nil {
			t.Fatal(err)
		}
		again, err := b.create("ref-1", "/b", "/a")
		if err != nil {
			t.Fatal(err)
		}
		if *again.Invalidation.Id != *first.Invalidation.Id || len(b.emu.Invalidations(dist)) != 1 {
			t.Fatalf("a repeated reference created a new invalidation")
		}
		if calls := b.emu.Calls(); !calls[1].Duplicate {
			t.Error("second call not marked Duplicate")
		}
	})
	for _, tc := range []struct {
		mode emu.ConflictMode
		code string
	}{
		{emu.ConflictAlreadyExists, "InvalidationBatchAlreadyExists"},
		{emu.ConflictInvalidArgument, "InvalidArgument"},
	} {
		t.Run("OtherPaths"+tc.code, func(t *testing.T) {
			t.Parallel()
			b := setup(t, emu.Options{Conflict: tc.mode})
			if _, err := b.create("ref-1", "/a"); err != nil {
				t.Fatal(err)
			}
			_, err := b.create("ref-1", "/c")
			if code(err) != tc.code {
				t.Fatalf("err = %v, want %s", err, tc.code)
			}
		})
	}
}

func TestInProgressLimits(t *testing.T) {
	t.Parallel()
	t.Run("ExactPaths", func(t *testing.T) {
		t.Parallel()
		b := setup(t, emu.Options{})
		if _, err := b.create("full", paths("/e/", emu.MaxInProgressPaths)...); err != nil {
			t.Fatal(err)
		}
		if _, err := b.create("more", "/x"); code(err) != "TooManyInvalidationsInProgress" {
			t.Fatalf("err = %v, want TooManyInvalidationsInProgress", err)
		}
		if _, err := b.create("wild-still-fits", "/w/*"); err != nil {
			t.Fatalf("wildcards are counted apart from exact paths: %v", err)
		}
		b.emu.Advance(emu.CompleteAfterDefault)
		if _, err := b.create("more", "/x"); err != nil {
			t.Fatalf("after completion: %v", err)
		}
	})
	t.Run("Wildcards", func(t *testing.T) {
		t.Parallel()
		b := setup(t, emu.Options{})
		for i := range emu.MaxInProgressWildcards {
			if _, err := b.create(fmt.Sprint("w", i), fmt.Sprintf("/w%d/*", i)); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := b.create("w-more", "/z/*"); code(err) != "TooManyInvalidationsInProgress" {
			t.Fatalf("16th wildcard: err = %v", err)
		}
		if _, err := b.create("exact-fits", "/z/a.jpg"); err != nil {
			t.Fatalf("exact path refused while only wildcards are full: %v", err)
		}
	})
	t.Run("BatchTooLarge", func(t *testing.T) {
		t.Parallel()
		b := setup(t, emu.Options{})
		_, err := b.create("big", paths("/b/", emu.MaxInProgressPaths+1)...)
		if code(err) != "BatchTooLarge" {
			t.Fatalf("err = %v, want BatchTooLarge", err)
		}
	})
}

func paths(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%d.jpg", prefix, i)
	}
	return out
}

func TestGetAndListOnTheClock(t *testing.T) {
	t.Parallel()
	b := setup(t, emu.Options{CompleteAfter: time.Minute})
	out, err := b.create("r", "/a")
	if err != nil {
		t.Fatal(err)
	}
	id := out.Invalidation.Id
	status := func() types.Invalidation {
		t.Helper()
		got, err := b.client.GetInvalidation(context.Background(),
			&cloudfront.GetInvalidationInput{DistributionId: aws.String(dist), Id: id})
		if err != nil {
			t.Fatal(err)
		}
		return *got.Invalidation
	}
	if s := status(); *s.Status != "InProgress" || *s.InvalidationBatch.CallerReference != "r" {
		t.Fatalf("fresh invalidation: %s", *s.Status)
	}
	b.emu.Advance(time.Minute)
	if s := status(); *s.Status != "Completed" {
		t.Fatalf("after the clock moved: %s", *s.Status)
	}
	list, err := b.client.ListInvalidations(context.Background(),
		&cloudfront.ListInvalidationsInput{DistributionId: aws.String(dist)})
	if err != nil || *list.InvalidationList.Quantity != 1 || *list.InvalidationList.Items[0].Id != *id {
		t.Fatalf("ListInvalidations = %+v, %v", list, err)
	}
	_, err = b.client.GetInvalidation(context.Background(),
		&cloudfront.GetInvalidationInput{DistributionId: aws.String(dist), Id: aws.String("INOPE")})
	if code(err) != "NoSuchInvalidation" {
		t.Fatalf("unknown id: %v", err)
	}
}

func TestFaults(t *testing.T) {
	t.Parallel()
	t.Run("Sequence", func(t *testing.T) {
		t.Parallel()
		b := setup(t, emu.Options{})
		b.emu.Enqueue(emu.Throttling(), emu.ServiceUnavailable())
		for _, want := range []string{"Throttling", "ServiceUnavailable", ""} {
			if _, err := b.create("r", "/a"); code(err) != want {
				t.Fatalf("err = %v, want %q", err, want)
			}
		}
		if calls := b.emu.Calls(); calls[1].Status != 503 || calls[0].Status != 400 {
			t.Fatalf("statuses %d, %d", calls[0].Status, calls[1].Status)
		}
	})
	t.Run("DropBeforeCommit", func(t *testing.T) {
		t.Parallel()
		b := setup(t, emu.Options{})
		b.emu.Enqueue(emu.Fault{Drop: true})
		if _, err := b.create("r", "/a"); err == nil || code(err) != "" {
			t.Fatalf("err = %v, want a transport error", err)
		}
		if n := len(b.emu.Invalidations(dist)); n != 0 {
			t.Fatalf("%d invalidations after a drop before commit", n)
		}
	})
	t.Run("DropAfterCommit", func(t *testing.T) {
		t.Parallel()
		b := setup(t, emu.Options{})
		b.emu.Enqueue(emu.Fault{Drop: true, Commit: true})
		if _, err := b.create("r", "/a"); err == nil {
			t.Fatal("dropped answer gave no error")
		}
		if n := len(b.emu.Invalidations(dist)); n != 1 {
			t.Fatalf("%d invalidations, want 1 created before the drop", n)
		}
	})
	t.Run("MalformedAfterCommit", func(t *testing.T) {
		t.Parallel()
		b := setup(t, emu.Options{})
		b.emu.Enqueue(emu.Fault{Malformed: true, Commit: true})
		_, err := b.create("r", "/a")
		var de *smithy.DeserializationError
		if !errors.As(err, &de) {
			t.Fatalf("err = %v, want a deserialization error", err)
		}
	})
	t.Run("BlockedUntilClientGivesUp", func(t *testing.T) {
		t.Parallel()
		b := setup(t, emu.Options{})
		arrived := make(chan struct{}, 1)
		b.emu.SetFault(&emu.Fault{Arrived: arrived, Block: make(chan struct{})})
		ctx, cancel := context.WithCancel(context.Background())
		go func() { <-arrived; cancel() }()
		_, err := b.client.CreateInvalidation(ctx, &cloudfront.CreateInvalidationInput{
			DistributionId: aws.String(dist),
			InvalidationBatch: &types.InvalidationBatch{CallerReference: aws.String("r"),
				Paths: &types.Paths{Quantity: aws.Int32(1), Items: []string{"/a"}}},
		})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	})
	t.Run("FailPaths", func(t *testing.T) {
		t.Parallel()
		b := setup(t, emu.Options{})
		b.emu.FailPaths("AccessDenied", "/secret")
		if _, err := b.create("r1", "/a", "/secret"); code(err) != "AccessDenied" {
			t.Fatalf("err = %v", err)
		}
		if _, err := b.create("r2", "/a"); err != nil {
			t.Fatalf("batch without the path: %v", err)
		}
	})
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	b := setup(t, emu.Options{Rate: rate.Limit(1), Burst: 6, Now: fixedClock()})
	for i := range 6 {
		if _, err := b.create(fmt.Sprint("r", i), "/a"); err != nil {
			t.Fatalf("call %d within the burst: %v", i+1, err)
		}
	}
	_, err := b.create("r6", "/a")
	if code(err) != "Throttling" {
		t.Fatalf("7th quick call: %v, want Throttling", err)
	}
	b.emu.Advance(time.Second)
	if _, err := b.create("r7", "/a"); err != nil {
		t.Fatalf("after a second: %v", err)
	}
}

func fixedClock() func() time.Time {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	return func() time.Time { return t0 }
}
