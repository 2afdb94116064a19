package akamai

import (
	"errors"
	"fmt"
	"strings"

	"github.com/imgpurge/imgpurge/internal/providerkit"
	"github.com/imgpurge/imgpurge/internal/purge"
)

// Akamai refuses a cache tag longer than 128 characters.
const maxTagLen = 128

// ErrNeedsNames is returned by Plan for type url when every rendition is to
// be purged but none is named: only cache tags can reach those.
var ErrNeedsNames = errors.New("type url needs rendition names to purge every rendition; " +
	"use type tag, or a datastore whose derivatives can be listed")

// Plan implements purge.Provider: absolute URLs for type url, cache tags for
// type tag.
func (p *Provider) Plan(t purge.Target) ([]string, error) {
	if p.set.Type == TypeTag {
		tags := providerkit.PlanKeys(t, p.set.TagTemplate, p.set.RenditionTagTemplate, maxTagLen)
		return tags, nil
	}
	if t.NamesUnknown() {
		return nil, ErrNeedsNames
	}
	// "*" is encoded too: Fast Purge would refuse it as a wildcard.
	return providerkit.PlanURLs(t, p.set.URLScheme, p.hosts, p.set.PathTemplate, "*"), nil
}

// isTagByte reports whether c may appear in an Akamai cache tag:
// alphanumerics and !#$%'+./^_`|~-.
func isTagByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		strings.IndexByte("!#$%'+./^_`|~-", c) >= 0
}

// checkTagTemplate accepts a cache tag template: its placeholders, and only
// bytes Akamai allows in a tag around them.
func checkTagTemplate(t string, withRendition bool) error {
	if err := providerkit.CheckKeyPlaceholders(t, withRendition); err != nil {
		return err
	}
	lit := strings.NewReplacer("{id}", "", "{rendition}", "").Replace(t)
	for i := 0; i < len(lit); i++ {
		if !isTagByte(lit[i]) {
			return fmt.Errorf("%q cannot be part of an Akamai cache tag", lit[i])
		}
	}
	return nil
}
