package cloudfront

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/imgpurge/imgpurge/internal/config"
	"github.com/imgpurge/imgpurge/internal/providerkit"
)

// Defaults for Settings, applied when a field is left out.
const (
	RegionDefault                = "us-east-1"
	PathTemplateDefault          = "/image/{id}/{rendition}"
	WildcardThresholdDefault     = 10
	MaxPathsPerCallDefault       = 3000
	CallerReferencePrefixDefault = "imgpurge"
)

// CloudFront lets at most 3,000 exact paths and 15 wildcard paths be in
// progress per distribution; a batch above either can never be accepted.
const (
	maxPathsPerCallLimit     = 3000
	maxWildcardsPerCallLimit = 15
)

// Settings are the cloudfront layer's settings.
type Settings struct {
	// DistributionID is the distribution whose edges are invalidated, such
	// as "EDFDVBD6EXAMPLE". Required.
	DistributionID string `yaml:"distribution_id"`

	// Region picks the partition: CloudFront is global, and the SDK signs
	// for us-east-1 whatever the region of the aws partition, or for
	// cn-northwest-1 in China. With Endpoint set the SDK signs for Region
	// itself, so keep us-east-1 there. Default "us-east-1".
	Region string `yaml:"region"`

	// Endpoint is the base URL of the CloudFront API, for an emulator or a
	// proxy. Empty means the SDK's endpoint for Region.
	Endpoint string `yaml:"endpoint"`

	// AccessKeyID and SecretAccessKey are static credentials, literal or
	// "${ENV_NAME}". Give both or neither; with neither, the standard AWS
	// chain is used (environment, shared files, SSO, web identity, ECS or
	// EC2 instance roles). The key needs cloudfront:CreateInvalidation.
	AccessKeyID     config.Secret `yaml:"access_key_id"`
	SecretAccessKey config.Secret `yaml:"secret_access_key"`

	// PathTemplate is a rendition's path on the distribution: it starts
	// with "/", holds {id} once and ends with "/{rendition}". Its fixed
	// text must need no percent-encoding. Default "/image/{id}/{rendition}".
	PathTemplate string `yaml:"path_template"`

	// WildcardThreshold is the most exact paths one image is invalidated
	// with; above it the image gets one wildcard path ("/image/{id}/*")
	// instead. CloudFront lets 3,000 exact paths be in progress but only
	// 15 wildcards, and bills a wildcard as one path: a low value saves
	// money, a high one keeps bursts clear of the wildcard quota. 0 always
	// uses the wildcard. Default 10.
	WildcardThreshold *int `yaml:"wildcard_threshold"`

	// MaxPathsPerCall is the most paths sent in one CreateInvalidation,
	// 1 to 3000. 3000 is CloudFront's in-progress cap per distribution, so
	// one full call holds the whole quota until it completes; lower it to
	// leave room for other invalidations of the same distribution.
	// Default 3000.
	MaxPathsPerCall int `yaml:"max_paths_per_call"`

	// CallerReferencePrefix starts every CallerReference imgpurge sends, so
	// its invalidations can be told apart in the console and in
	// ListInvalidations: "{prefix}-{purge nonce}-{hash of the paths}".
	// Letters, digits, ".", "_" and "-", at most 32. Default "imgpurge".
	CallerReferencePrefix string `yaml:"caller_reference_prefix"`
}

func (s *Settings) applyDefaults() {
	providerkit.Default(&s.Region, RegionDefault)
	providerkit.Default(&s.PathTemplate, PathTemplateDefault)
	providerkit.DefaultPtr(&s.WildcardThreshold, WildcardThresholdDefault)
	providerkit.Default(&s.MaxPathsPerCall, MaxPathsPerCallDefault)
	providerkit.Default(&s.CallerReferencePrefix, CallerReferencePrefixDefault)
}

var (
	distributionRE = regexp.MustCompile(`^[A-Z0-9]{1,32}$`)
	regionRE       = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)
	refPrefixRE    = regexp.MustCompile(`^[A-Za-z0-9._-]{1,32}$`)
)

// validate returns every problem at once, each naming its field.
func (s *Settings) validate() error {
	var p providerkit.Problems
	switch {
	case s.DistributionID == "":
		p.Add("distribution_id", "required")
	case !distributionRE.MatchString(s.DistributionID):
		p.Add("distribution_id", "%q is not a distribution id (upper-case letters and digits)",
			s.DistributionID)
	}
	if !regionRE.MatchString(s.Region) {
		p.Add("region", "%q is not an AWS region", s.Region)
	}
	if err := providerkit.CheckEndpoint(s.Endpoint); err != nil {
		p.Add("endpoint", "%v", err)
	}
	if err := providerkit.CheckAWSKeys(s.AccessKeyID, s.SecretAccessKey); err != nil {
		p.Add("secret_access_key", "%v", err)
	}
	if err := checkTemplate(s.PathTemplate); err != nil {
		p.Add("path_template", "%v", err)
	}
	if *s.WildcardThreshold < 0 {
		p.Add("wildcard_threshold", "must be 0 or more")
	}
	if s.MaxPathsPerCall < 1 || s.MaxPathsPerCall > maxPathsPerCallLimit {
		p.Add("max_paths_per_call", "must be between 1 and %d", maxPathsPerCallLimit)
	}
	if !refPrefixRE.MatchString(s.CallerReferencePrefix) {
		p.Add("caller_reference_prefix", "must be 1 to 32 letters, digits, '.', '_' or '-'")
	}
	return p.Err()
}

func checkTemplate(t string) error {
	if !strings.HasPrefix(t, "/") || !strings.HasSuffix(t, "/{rendition}") ||
		strings.Count(t, "{rendition}") != 1 || strings.Count(t, "{id}") != 1 {
		return errors.New(`must start with "/", contain {id} once and end with "/{rendition}"`)
	}
	fixed := strings.NewReplacer("{id}", "", "{rendition}", "").Replace(t)
	if strings.Contains(t, "//") || strings.Contains(t, "/../") || strings.Contains(t, "/./") {
		return errors.New(`must not contain "//", "." or ".." segments`)
	}
	if enc, ok := encodeSegment(fixed); !ok || enc != fixed {
		return fmt.Errorf("%q has characters CloudFront paths must encode or cannot match", t)
	}
	return nil
}
