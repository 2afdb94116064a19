package s3

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/imgpurge/imgpurge/internal/purge"
)

// Provider is an s3 layer.
type Provider struct {
	client *awss3.Client
	set    Settings
	layout layout
}

var (
	_ purge.Provider = (*Provider)(nil)
	_ purge.Lister   = (*Provider)(nil)
)

// New builds an s3 layer from its settings. It makes no request: a wrong
// bucket or credential shows on the first purge, not at start-up.
func New(ctx context.Context, spec purge.LayerSpec) (purge.Provider, error) {
	var s Settings
	if spec.Decode != nil {
		if err := spec.Decode(&s); err != nil {
			return nil, err
		}
	}
	s.applyDefaults()
	if err := s.validate(); err != nil {
		return nil, err
	}
	client, err := newClient(ctx, &s)
	if err != nil {
		return nil, err
	}
	return &Provider{client: client, set: s, layout: parseLayout(s.Prefix)}, nil
}

// Plan implements purge.Provider: the full object key of every rendition.
func (p *Provider) Plan(t purge.Target) ([]string, error) {
	items := make([]string, 0, len(t.Renditions))
	for _, r := range t.Renditions {
		k, err := p.layout.key(t.ImageID, r)
		if err != nil {
			return nil, err
		}
		items = append(items, k)
	}
	return items, nil
}

// List implements purge.Lister: the names of the objects directly under the
// image's prefix. Objects deeper down ("sub-directories") are not
// renditions of this image and are left alone.
func (p *Provider) List(ctx context.Context, imageID string) ([]string, error) {
	prefix, err := p.layout.prefix(imageID)
	if err != nil {
		return nil, &purge.Error{Code: "InvalidImageID", Message: err.Error()}
	}
	in := &awss3.ListObjectsV2Input{
		Bucket:    aws.String(p.set.Bucket),
		Prefix:    aws.String(prefix),
		Delimiter: aws.String("/"),
		// Keys come back percent-encoded, so any byte survives the XML reply.
		EncodingType: types.EncodingTypeUrl,
	}
	var names []string
	for page := 1; ; page++ {
		out, err := p.client.ListObjectsV2(ctx, in)
		if err != nil {
			return nil, classify(ctx, "ListObjectsV2", err)
		}
		// The SDK reads any 200 XML, a proxy's HTML page included, as an
		// empty listing; that would plan no renditions and purge nothing.
		if out.Name == nil && out.IsTruncated == nil {
			return nil, &purge.Error{Code: "InvalidResponse", Retryable: true,
				Message: "ListObjectsV2: the reply is not a ListBucketResult"}
		}
		if names, err = appendNames(names, out, prefix); err != nil {
			return nil, &purge.Error{Code: "InvalidListing", Message: err.Error(), Err: err}
		}
		next, err := nextToken(out, in.ContinuationToken)
		if err != nil {
			return nil, &purge.Error{Code: "InvalidListing",
				Message: fmt.Sprintf("page %d: %v", page, err), Retryable: true, Err: err}
		}
		if next == nil {
			return names, nil
		}
		in.ContinuationToken = next
	}
}

func appendNames(names []string, out *awss3.ListObjectsV2Output, prefix string) ([]string, error) {
	for _, o := range out.Contents {
		key, err := decodeKey(out.EncodingType, aws.ToString(o.Key))
		if err != nil {
			return names, err
		}
		name, ok := strings.CutPrefix(key, prefix)
		if !ok {
			return names, fmt.Errorf("listed key %q is outside the prefix %q", key, prefix)
		}
		if name == "" || strings.Contains(name, "/") {
			continue
		}
		names = append(names, name)
	}
	return names, nil
}

// nextToken returns the continuation token of the next page, or nil after
// the last one. A truncated page without a new token would otherwise end the
// listing early, silently, or loop on it forever.
func nextToken(out *awss3.ListObjectsV2Output, prev *string) (*string, error) {
	if !aws.ToBool(out.IsTruncated) {
		return nil, nil
	}
	next := aws.ToString(out.NextContinuationToken)
	switch {
	case next == "":
		return nil, errors.New("truncated reply without NextContinuationToken")
	case prev != nil && *prev == next:
		return nil, errors.New("the store repeated the continuation token")
	}
	return &next, nil
}
