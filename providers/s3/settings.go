package s3

import (
	"errors"
	"strings"

	"github.com/imgpurge/imgpurge/internal/config"
	"github.com/imgpurge/imgpurge/internal/providerkit"
)

// Defaults for Settings, applied when a field is left out.
const (
	PrefixDefault            = "derived/{id}/"
	RegionDefault            = "us-east-1"
	RequestChecksumDefault   = ChecksumWhenSupported
	ContentMD5Default        = true
	MaxKeysPerBatchDefault   = 1000
	DeleteConcurrencyDefault = 4
)

// Values of Settings.RequestChecksum.
const (
	ChecksumWhenSupported = "when_supported"
	ChecksumWhenRequired  = "when_required"
)

// S3 refuses a DeleteObjects request naming more than 1,000 keys.
const maxKeysPerBatchLimit = 1000

// A few in-flight batches already saturate one bucket prefix; more only
// earns SlowDown from S3 and overloads small self-hosted stores.
const deleteConcurrencyLimit = 64

// Settings are the s3 layer's settings.
type Settings struct {
	// Bucket holds the derivatives. Required.
	Bucket string `yaml:"bucket"`

	// Prefix is where one image's derivatives live: {id} is replaced by the
	// image id, and rendition r is stored at Prefix+r. It must contain {id}
	// once and end with "/", so listing image "abc" never reaches "abcd/".
	// Default "derived/{id}/".
	Prefix string `yaml:"prefix"`

	// Endpoint is the base URL of an S3-compatible store, such as
	// "http://127.0.0.1:7070". Empty means AWS S3 in Region (or the
	// AWS_ENDPOINT_URL_S3 of the standard configuration chain).
	Endpoint string `yaml:"endpoint"`

	// Region signs the requests and, without Endpoint, picks the AWS
	// endpoint. Default "us-east-1".
	Region string `yaml:"region"`

	// ForcePathStyle addresses the bucket in the path (endpoint/bucket/key)
	// rather than as a host name (bucket.endpoint/key). Most S3-compatible
	// stores need it. Default false.
	ForcePathStyle bool `yaml:"force_path_style"`

	// AccessKeyID and SecretAccessKey are static credentials, literal or
	// "${ENV_NAME}". Give both or neither; with neither, the standard AWS
	// chain is used (environment, shared files, SSO, web identity, ECS or
	// EC2 instance roles).
	AccessKeyID     config.Secret `yaml:"access_key_id"`
	SecretAccessKey config.Secret `yaml:"secret_access_key"`

	// RequestChecksum is the SDK's request checksum mode: "when_supported"
	// sends a CRC32 checksum with every request that can carry one,
	// "when_required" only where the operation requires one. DeleteObjects
	// always requires one, so it carries CRC32 in both modes; see
	// ContentMD5. Default "when_supported".
	RequestChecksum string `yaml:"request_checksum"`

	// ContentMD5 adds a correct base64 Content-MD5 header to DeleteObjects
	// alongside the SDK's CRC32. Stores such as older MinIO, OCI and KS3
	// answer 400 MissingContentMD5 without it; AWS S3 accepts both headers.
	// Default true.
	ContentMD5 *bool `yaml:"content_md5"`

	// MaxKeysPerBatch is the number of keys per DeleteObjects request, 1 to
	// 1000. Default 1000.
	MaxKeysPerBatch int `yaml:"max_keys_per_batch"`

	// DeleteConcurrency is how many delete requests run at once, 1 to 64.
	// Default 4.
	DeleteConcurrency int `yaml:"delete_concurrency"`
}

func (s *Settings) applyDefaults() {
	providerkit.Default(&s.Prefix, PrefixDefault)
	providerkit.Default(&s.Region, RegionDefault)
	providerkit.Default(&s.RequestChecksum, RequestChecksumDefault)
	providerkit.DefaultPtr(&s.ContentMD5, ContentMD5Default)
	providerkit.Default(&s.MaxKeysPerBatch, MaxKeysPerBatchDefault)
	providerkit.Default(&s.DeleteConcurrency, DeleteConcurrencyDefault)
}

// validate returns every problem at once, each naming its field.
func (s *Settings) validate() error {
	var p providerkit.Problems
	if s.Bucket == "" {
		p.Add("bucket", "required")
	} else if strings.ContainsAny(s.Bucket, "/ ") {
		p.Add("bucket", "%q is not a bucket name", s.Bucket)
	}
	if err := checkPrefix(s.Prefix); err != nil {
		p.Add("prefix", "%v", err)
	}
	if err := providerkit.CheckEndpoint(s.Endpoint); err != nil {
		p.Add("endpoint", "%v", err)
	}
	if err := providerkit.CheckAWSKeys(s.AccessKeyID, s.SecretAccessKey); err != nil {
		p.Add("secret_access_key", "%v", err)
	}
	if s.RequestChecksum != ChecksumWhenSupported && s.RequestChecksum != ChecksumWhenRequired {
		p.Add("request_checksum", "must be %q or %q (got %q)",
			ChecksumWhenSupported, ChecksumWhenRequired, s.RequestChecksum)
	}
	if s.MaxKeysPerBatch < 1 || s.MaxKeysPerBatch > maxKeysPerBatchLimit {
		p.Add("max_keys_per_batch", "must be between 1 and %d", maxKeysPerBatchLimit)
	}
	if s.DeleteConcurrency < 1 || s.DeleteConcurrency > deleteConcurrencyLimit {
		p.Add("delete_concurrency", "must be between 1 and %d", deleteConcurrencyLimit)
	}
	return p.Err()
}

func checkPrefix(p string) error {
	if strings.Count(p, "{id}") != 1 {
		return errors.New(`must contain {id} exactly once`)
	}
	if !strings.HasSuffix(p, "/") {
		return errors.New(`must end with "/" so one image's listing cannot reach another's`)
	}
	if strings.HasPrefix(p, "/") || strings.Contains(p, "//") {
		return errors.New(`must not start with "/" or contain "//"`)
	}
	for seg := range strings.SplitSeq(strings.TrimSuffix(p, "/"), "/") {
		// File-backed stores (versitygw posix, MinIO) map keys to paths.
		if seg == "." || seg == ".." {
			return errors.New(`must not contain "." or ".." segments`)
		}
	}
	return nil
}
