package s3

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/imgpurge/imgpurge/internal/providertest"
	"github.com/imgpurge/imgpurge/internal/testenv"
)

// store is a real S3 server seen through a separate SDK client: the
// provider under test never seeds or inspects its own work.
type store struct {
	endpoint, access, secret string
	client                   *awss3.Client
	buckets                  atomic.Int64
}

func newStore(endpoint, access, secret string) *store {
	return &store{endpoint: endpoint, access: access, secret: secret,
		client: sdkClient(endpoint, access, secret)}
}

// bucket creates a fresh bucket, optionally with S3 Object Lock enabled.
func (s *store) bucket(t *testing.T, objectLock bool) string {
	t.Helper()
	name := fmt.Sprintf("bucket-%d", s.buckets.Add(1))
	_, err := s.client.CreateBucket(context.Background(), &awss3.CreateBucketInput{
		Bucket: aws.String(name), ObjectLockEnabledForBucket: aws.Bool(objectLock),
	})
	if err != nil {
		t.Fatalf("CreateBucket: %v", err)
	}
	return name
}

func (s *store) put(t testing.TB, b, key string) {
	t.Helper()
	_, err := s.client.PutObject(context.Background(), &awss3.PutObjectInput{
		Bucket: aws.String(b), Key: aws.String(key), Body: strings.NewReader("img"),
	})
	if err != nil {
		t.Fatalf("PutObject %q: %v", key, err)
	}
}

func (s *store) held(t testing.TB, b, key string) bool {
	t.Helper()
	_, err := s.client.HeadObject(context.Background(), &awss3.HeadObjectInput{
		Bucket: aws.String(b), Key: aws.String(key),
	})
	var ae smithy.APIError
	if errors.As(err, &ae) && (ae.ErrorCode() == "NotFound" || ae.ErrorCode() == "NoSuchKey") {
		return false
	}
	if err != nil {
		t.Fatalf("HeadObject %q: %v", key, err)
	}
	return true
}

// harness runs the provider on a fresh bucket per subtest. On a bucket with
// Object Lock, a legal hold makes the store itself refuse a key: a real
// per-key AccessDenied inside a 200 DeleteObjects reply.
func (s *store) harness(objectLock bool) providertest.Harness {
	return func(t *testing.T) *providertest.Backend {
		b := s.bucket(t, objectLock)
		p := newProvider(t, settingsForBucket(b, s.endpoint, s.access, s.secret))
		key := func(id, r string) string { return "derived/" + id + "/" + r }
		be := &providertest.Backend{
			Provider: p,
			Seed: func(t *testing.T, id string, renditions ...string) {
				for _, r := range renditions {
					s.put(t, b, key(id, r))
				}
			},
			Held: func(t *testing.T, id, r string) bool { return s.held(t, b, key(id, r)) },
		}
		if objectLock {
			be.FailItems = func(t *testing.T, id string, renditions ...string) string {
				for _, r := range renditions {
					s.legalHold(t, b, key(id, r))
				}
				return "AccessDenied"
			}
		}
		return be
	}
}

func (s *store) legalHold(t *testing.T, b, key string) {
	t.Helper()
	_, err := s.client.PutObjectLegalHold(context.Background(), &awss3.PutObjectLegalHoldInput{
		Bucket: aws.String(b), Key: aws.String(key),
		LegalHold: &types.ObjectLockLegalHold{Status: types.ObjectLockLegalHoldStatusOn},
	})
	if err != nil {
		t.Fatalf("PutObjectLegalHold %q: %v", key, err)
	}
}

// TestConformanceVersityGW runs the provider suite against versitygw, a real
// S3 gateway that checks SigV4 signatures, on plain buckets and on buckets
// with Object Lock, where PartialFailure runs too.
func TestConformanceVersityGW(t *testing.T) {
	t.Parallel()
	s := newStore(testenv.StartVersityGW(t))
	t.Run("PlainBucket", func(t *testing.T) { providertest.Run(t, s.harness(false)) })
	t.Run("ObjectLockBucket", func(t *testing.T) { providertest.Run(t, s.harness(true)) })
}

// TestConformanceGoFakeS3 runs the suite in-process, without a binary.
// gofakes3 cannot refuse one key, so PartialFailure is skipped here.
func TestConformanceGoFakeS3(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(gofakes3.New(s3mem.New()).Server())
	t.Cleanup(srv.Close)
	providertest.Run(t, newStore(srv.URL, "k", "s").harness(false))
}
