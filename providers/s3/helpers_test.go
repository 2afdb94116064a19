package s3

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/imgpurge/imgpurge/internal/providertest"
	"github.com/imgpurge/imgpurge/internal/purge"
)

// Test image ids: the C1/C3 image, and the C2 pair whose ids share a prefix.
const (
	imageC1 = "1e8a9135-5976-4de8-9c27-64cc33bf9baa"
	bucket  = "derived-bucket"
)

// newProvider builds a layer from YAML settings, the way the service does.
func newProvider(t *testing.T, doc string) *Provider {
	t.Helper()
	p, err := build(doc)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return p
}

func build(doc string) (*Provider, error) {
	decode, err := providertest.Decoder(doc)
	if err != nil {
		return nil, err
	}
	p, err := New(context.Background(), purge.LayerSpec{Layer: "derivatives", Decode: decode})
	if err != nil {
		return nil, err
	}
	return p.(*Provider), nil
}

// settingsFor returns YAML for a layer on a local endpoint with static
// credentials, so no test ever resolves the AWS chain or reaches AWS.
func settingsFor(endpoint, access, secret string, extra ...string) string {
	return settingsForBucket(bucket, endpoint, access, secret, extra...)
}

func settingsForBucket(b, endpoint, access, secret string, extra ...string) string {
	lines := []string{
		"bucket: " + b,
		"endpoint: " + endpoint,
		"force_path_style: true",
		"access_key_id: " + access,
		"secret_access_key: " + secret,
	}
	return strings.Join(append(lines, extra...), "\n") + "\n"
}

// sdkClient is a separate SDK client for seeding and inspecting a store.
func sdkClient(endpoint, access, secret string) *awss3.Client {
	return awss3.New(awss3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(access, secret, ""),
		// gofakes3 stores aws-chunked framing as the body over TLS; these
		// stores are plain http, but the seed bodies need no checksum.
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		RetryMaxAttempts:           1,
	})
}

func mustPlan(t *testing.T, p *Provider, id string, renditions ...string) []string {
	t.Helper()
	items, err := p.Plan(purge.Target{ImageID: id, Renditions: renditions})
	if err != nil {
		t.Fatalf("Plan: %v", err)
	}
	return items
}
