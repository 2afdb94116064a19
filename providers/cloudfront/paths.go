package cloudfront

import (
	"fmt"
	"strings"

	"github.com/imgpurge/imgpurge/internal/purge"
)

// rfc1738Unsafe are the characters RFC 1738 calls unsafe, less "~", which
// CloudFront treats apart (see encodeSegment). Space and control characters
// are unsafe too and handled by range.
const rfc1738Unsafe = "\"#%<>[\\]^`{|}"

// encodeSegment writes a name the way CloudFront matches it in an
// invalidation path: non-ASCII bytes (UTF-8) and RFC 1738 unsafe characters
// percent-encoded, everything else as it is ("=" stays "="). Encoding more
// than that misses the cached object.
//
// It reports false for a name no exact path can match:
//   - "~": CloudFront refuses a raw "~" and accepts "%7E", which then matches
//     nothing, because viewers send "~" unencoded (aws-sdk-go issue 223);
//   - "*": it would be read as a wildcard, or refused before the end;
//   - "?": it would start a query string, while viewers send "%3F".
//
// Such names are covered by the image's wildcard instead.
func encodeSegment(s string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '~' || c == '*' || c == '?':
			return "", false
		case c <= ' ' || c >= 0x7f || strings.IndexByte(rfc1738Unsafe, c) >= 0:
			fmt.Fprintf(&b, "%%%02X", c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), true
}

// oneSegment reports whether name is a single, ordinary path segment, so no
// rendition or id can move a path outside its image.
func oneSegment(name string) bool {
	return name != "" && name != "." && name != ".." && !strings.Contains(name, "/")
}

// imageBase returns the encoded path every rendition of the image starts
// with, ending in "/".
func (p *Provider) imageBase(imageID string) (string, error) {
	enc, ok := encodeSegment(imageID)
	if !ok || !oneSegment(imageID) {
		return "", fmt.Errorf("image id %q cannot be written as an exact CloudFront path", imageID)
	}
	return strings.Replace(p.template, "{id}", enc, 1), nil
}

// Plan implements purge.Provider. Items are paths on the distribution: one
// exact, percent-encoded path per rendition, whatever the public hosts,
// because CloudFront paths carry no host. The image's wildcard
// "{base}*" replaces them when the image has more renditions than the
// wildcard threshold, and joins them when a name cannot be matched exactly.
// With every rendition selected but none known by name, the wildcard is the
// only way to reach them.
func (p *Provider) Plan(t purge.Target) ([]string, error) {
	base, err := p.imageBase(t.ImageID)
	if err != nil {
		return nil, err
	}
	wildcard := base + "*"
	if len(t.Renditions) == 0 {
		if t.NamesUnknown() {
			return []string{wildcard}, nil
		}
		// Nothing is selected, or the listing found nothing left to purge.
		return nil, nil
	}
	if len(t.Renditions) > p.threshold {
		return []string{wildcard}, nil
	}

	paths := make([]string, 0, len(t.Renditions)+1)
	inexact := false
	for _, r := range t.Renditions {
		if !oneSegment(r) {
			return nil, fmt.Errorf("rendition %q is not a single path segment", r)
		}
		enc, ok := encodeSegment(r)
		if !ok {
			inexact = true
			continue
		}
		paths = append(paths, base+enc)
	}
	// The exact paths stay beside the wildcard: they cost a path each but
	// keep the plan, the journal and the dry run listing every rendition
	// that could be named.
	if inexact {
		paths = append(paths, wildcard)
	}
	return paths, nil
}

func isWildcard(path string) bool { return strings.HasSuffix(path, "*") }
