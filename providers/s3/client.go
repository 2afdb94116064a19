package s3

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// sdkMaxAttempts is 1: the SDK makes one attempt per call and never retries.
// imgpurge's orchestrator owns the retry policy (backoff with jitter, the
// store's Retry-After, the request deadline, then the journal); SDK retries
// underneath it would multiply the attempts (3 x 3), spend the request's
// deadline in backoff the orchestrator cannot see, and hide the store's own
// error behind "exceeded maximum number of attempts".
const sdkMaxAttempts = 1

// newClient builds the S3 client. Static credentials get a client built
// from options alone, which reads nothing from the environment or shared
// files; without them the standard AWS chain is loaded. Neither path passes
// a plain *http.Client to LoadDefaultConfig, which fails when AWS_CA_BUNDLE
// is set.
func newClient(ctx context.Context, s *Settings) (*awss3.Client, error) {
	if !s.AccessKeyID.Empty() {
		o := awss3.Options{
			Credentials: credentials.NewStaticCredentialsProvider(
				s.AccessKeyID.Reveal(), s.SecretAccessKey.Reveal(), ""),
		}
		applyOptions(s)(&o)
		return awss3.New(o), nil
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(s.Region))
	if err != nil {
		return nil, fmt.Errorf("loading the AWS configuration chain: %w", err)
	}
	return awss3.NewFromConfig(cfg, applyOptions(s)), nil
}

func applyOptions(s *Settings) func(*awss3.Options) {
	return func(o *awss3.Options) {
		o.Region = s.Region
		o.UsePathStyle = s.ForcePathStyle
		if s.Endpoint != "" {
			o.BaseEndpoint = aws.String(s.Endpoint)
		}
		// Set explicitly: a bare s3.New leaves it unset, which behaves as
		// when_required, while LoadDefaultConfig defaults to when_supported.
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenSupported
		if s.RequestChecksum == ChecksumWhenRequired {
			o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		}
		o.RetryMaxAttempts = sdkMaxAttempts
	}
}

// withContentMD5 puts a Content-MD5 header of the exact request body on one
// call. Since service/s3 v1.73.0 DeleteObjects carries only a CRC32
// checksum, in every checksum mode, and stores that predate it answer 400
// MissingContentMD5 (aws-sdk-go-v2 issue 3258). smithy-go's middleware runs
// in the build step, after the body is serialized and before signing, so
// the header is signed too.
func withContentMD5(o *awss3.Options) {
	o.APIOptions = append(o.APIOptions, smithyhttp.AddContentChecksumMiddleware)
}
