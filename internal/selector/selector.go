// Package selector parses the {selector} and {id} path segments of a purge
// request. Both reach object keys, URLs, ban expressions and CDN paths, so
// anything that could name more than one image is refused here, before any
// provider sees it.
package selector

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxLen bounds an id or a selector, in bytes.
const MaxLen = 255

// Kind is how a selector picks renditions.
type Kind int

const (
	// KindAll selects every rendition ("" or "*").
	KindAll Kind = iota
	// KindExact selects one rendition by its full name ("640x360.jpg").
	KindExact
	// KindStem selects every format of one size ("640x360").
	KindStem
	// KindGlob selects names matching a shell pattern ("*x360.*").
	KindGlob
)

// Selector picks which renditions of an image a purge removes.
type Selector struct {
	kind Kind
	raw  string
}

// Parse validates a selector as received after URL decoding.
func Parse(s string) (Selector, error) {
	if s == "" || s == "*" {
		return Selector{kind: KindAll, raw: "*"}, nil
	}
	if err := checkSegment(s); err != nil {
		return Selector{}, fmt.Errorf("selector %w", err)
	}
	if strings.ContainsAny(s, "*?[") {
		if _, err := path.Match(s, ""); err != nil {
			return Selector{}, errors.New("selector is a malformed pattern")
		}
		return Selector{kind: KindGlob, raw: s}, nil
	}
	if strings.Contains(s, ".") {
		return Selector{kind: KindExact, raw: s}, nil
	}
	return Selector{kind: KindStem, raw: s}, nil
}

// Kind returns how the selector picks renditions.
func (s Selector) Kind() Kind { return s.kind }

// All reports whether every rendition is selected.
func (s Selector) All() bool { return s.kind == KindAll }

// Exact returns the rendition name of an exact selector.
func (s Selector) Exact() (string, bool) { return s.raw, s.kind == KindExact }

func (s Selector) String() string { return s.raw }

// Match reports whether the rendition name is selected.
func (s Selector) Match(name string) bool {
	switch s.kind {
	case KindAll:
		return true
	case KindExact:
		return name == s.raw
	case KindStem:
		// A stem matches its size in every format: 640x360 matches
		// 640x360.jpg and 640x360.webp, never 640x3600.jpg or 640x360@2x.avif.
		ext, ok := strings.CutPrefix(name, s.raw+".")
		return name == s.raw || (ok && ext != "" && !strings.Contains(ext, "."))
	default:
		ok, _ := path.Match(s.raw, name)
		return ok
	}
}

// UUIDPattern is the default image id pattern.
const UUIDPattern = `[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}`

// IDRule validates image ids for one datastore.
type IDRule struct {
	re *regexp.Regexp
}

// NewIDRule compiles pattern, anchored at both ends; "" means UUID.
func NewIDRule(pattern string) (IDRule, error) {
	if pattern == "" {
		pattern = UUIDPattern
	}
	re, err := regexp.Compile(`^(?:` + pattern + `)$`)
	if err != nil {
		return IDRule{}, err
	}
	return IDRule{re: re}, nil
}

// Check validates an id as received after URL decoding. Whatever the
// configured pattern allows, an id never carries a path separator, a dot
// segment, a percent sign, whitespace or a control character.
func (r IDRule) Check(id string) error {
	if id == "" {
		return errors.New("image id is empty")
	}
	if err := checkSegment(id); err != nil {
		return fmt.Errorf("image id %w", err)
	}
	for _, c := range id {
		if c == '%' || unicode.IsSpace(c) || c == '*' || c == '?' || c == '[' {
			return errors.New("image id has a character that is not allowed")
		}
	}
	if r.re != nil && !r.re.MatchString(id) {
		return errors.New("image id does not match the datastore's id pattern")
	}
	return nil
}

// checkSegment refuses what could escape one path segment in any provider's
// syntax.
func checkSegment(s string) error {
	switch {
	case len(s) > MaxLen:
		return fmt.Errorf("is longer than %d bytes", MaxLen)
	case !utf8.ValidString(s):
		return errors.New("is not valid UTF-8")
	case strings.ContainsAny(s, `/\`):
		return errors.New("contains a path separator")
	case strings.Contains(s, ".."):
		return errors.New(`contains ".."`)
	case s == ".":
		return errors.New("is a dot segment")
	}
	for _, c := range s {
		switch {
		case unicode.IsControl(c):
			return errors.New("contains a control character")
		case c == unicode.ReplacementChar:
			return errors.New("contains U+FFFD, the mark of a character that could not be decoded")
		case unicode.Is(unicode.Cf, c):
			// Invisible formatting such as a right-to-left override would
			// make a name read differently in logs than it is.
			return errors.New("contains an invisible formatting character")
		}
	}
	return nil
}
