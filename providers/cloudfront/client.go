package cloudfront

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront"
)

// newClient builds the CloudFront client. Static credentials get a client
// built from options alone, which reads nothing from the environment or
// shared files; without them the standard AWS chain is loaded. Neither path
// hands a plain *http.Client to LoadDefaultConfig, which fails when
// AWS_CA_BUNDLE is set.
func newClient(ctx context.Context, s *Settings) (*cloudfront.Client, error) {
	if !s.AccessKeyID.Empty() {
		o := cloudfront.Options{
			Credentials: credentials.NewStaticCredentialsProvider(
				s.AccessKeyID.Reveal(), s.SecretAccessKey.Reveal(), ""),
		}
		applyOptions(s)(&o)
		return cloudfront.New(o), nil
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(s.Region))
	if err != nil {
		return nil, fmt.Errorf("loading the AWS configuration chain: %w", err)
	}
	return cloudfront.NewFromConfig(cfg, applyOptions(s)), nil
}

func applyOptions(s *Settings) func(*cloudfront.Options) {
	return func(o *cloudfront.Options) {
		o.Region = s.Region
		if s.Endpoint != "" {
			o.BaseEndpoint = aws.String(s.Endpoint)
		}
		// One attempt per call. The SDK's standard retryer would retry
		// Throttling and 5xx three times with its own backoff and its own
		// client-side token bucket, multiplying the orchestrator's attempts,
		// spending the request's deadline where the orchestrator cannot see
		// it, and ending in "exceeded maximum number of attempts" instead of
		// CloudFront's code. The orchestrator owns retries.
		o.Retryer = aws.NopRetryer{}
		o.RetryMaxAttempts = 1 // overrides AWS_MAX_ATTEMPTS from the chain
	}
}
