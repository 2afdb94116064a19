package s3

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// layout is the parsed Prefix: an image's prefix is before+id+after.
type layout struct {
	before, after string
}

func parseLayout(prefix string) layout {
	before, after, _ := strings.Cut(prefix, "{id}")
	return layout{before: before, after: after}
}

// prefix returns the image's listing prefix, which always ends with "/".
func (l layout) prefix(imageID string) (string, error) {
	if err := checkSegment(imageID); err != nil {
		return "", fmt.Errorf("image id %q: %w", imageID, err)
	}
	return l.before + imageID + l.after, nil
}

// key returns the object key of one rendition.
func (l layout) key(imageID, rendition string) (string, error) {
	p, err := l.prefix(imageID)
	if err != nil {
		return "", err
	}
	if err := checkSegment(rendition); err != nil {
		return "", fmt.Errorf("rendition %q: %w", rendition, err)
	}
	return p + rendition, nil
}

// owns reports whether key is the key of some image's rendition under this
// layout. Purge checks every item with it, so a journaled or hand-edited
// item can never delete outside the derivatives.
func (l layout) owns(key string) bool {
	rest, ok := strings.CutPrefix(key, l.before)
	if !ok {
		return false
	}
	i := strings.LastIndexByte(rest, '/')
	if i < 0 {
		return false
	}
	id, ok := strings.CutSuffix(rest[:i+1], l.after)
	return ok && checkSegment(id) == nil && checkSegment(rest[i+1:]) == nil
}

// checkSegment refuses what would move a key to another image or, on
// file-backed stores, another directory.
func checkSegment(s string) error {
	switch {
	case s == "":
		return errors.New("empty")
	case s == "." || s == "..":
		return errors.New(`"." and ".." are not names`)
	case strings.Contains(s, "/"):
		return errors.New(`contains "/"`)
	}
	return nil
}

// xmlSafe reports whether a key survives the XML body of DeleteObjects.
// smithy-go's XML encoder, like encoding/xml, writes U+FFFD for every rune
// outside the XML 1.0 Char production (controls other than tab, LF and CR;
// U+FFFE and U+FFFF) and for every byte that is not valid UTF-8; the store
// would then delete a different, usually absent, key and report success.
func xmlSafe(key string) bool {
	for i := 0; i < len(key); {
		r, n := utf8.DecodeRuneInString(key[i:])
		if r == utf8.RuneError && n == 1 {
			return false
		}
		if !xmlChar(r) {
			return false
		}
		i += n
	}
	return true
}

func xmlChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD ||
		r >= 0x10000 && r <= 0x10FFFF
}

// errMangledKey marks a listing that cannot be trusted: the store ignored
// EncodingType=url and wrote a key XML cannot carry, so what reached us is
// U+FFFD instead of the real bytes.
var errMangledKey = errors.New("the store ignored EncodingType=url and listed a key with U+FFFD, " +
	"which usually stands for bytes XML cannot carry; delete that object by hand")

// decodeKey undoes the listing's encoding. Stores that honour
// EncodingType=url say so in the reply and form-encode keys (space as "+",
// "+" as "%2B"); those that ignore it (gofakes3, versitygw) send raw keys.
func decodeKey(enc types.EncodingType, key string) (string, error) {
	if enc != types.EncodingTypeUrl {
		if strings.ContainsRune(key, utf8.RuneError) {
			return "", errMangledKey
		}
		return key, nil
	}
	k, err := url.QueryUnescape(key)
	if err != nil {
		return "", fmt.Errorf("listed key %q is not URL-encoded: %w", key, err)
	}
	return k, nil
}
