package fastly

import (
	"errors"
	"fmt"

	"github.com/imgpurge/imgpurge/internal/providerkit"
	"github.com/imgpurge/imgpurge/internal/purge"
)

// ErrNeedsNames is returned by Plan in mode urls when every rendition is to
// be purged but none is named: only surrogate keys can reach those.
var ErrNeedsNames = errors.New("mode urls needs rendition names to purge every rendition; " +
	"use mode keys, or a datastore whose derivatives can be listed")

// Plan implements purge.Provider: surrogate keys in mode keys, absolute URLs
// in mode urls.
func (p *Provider) Plan(t purge.Target) ([]string, error) {
	if p.set.Mode != ModeURLs {
		keys := providerkit.PlanKeys(t, p.set.KeyTemplate, p.set.RenditionKeyTemplate, maxKeyBytes)
		return keys, nil
	}
	if t.NamesUnknown() {
		return nil, ErrNeedsNames
	}
	// Fastly keys its cache by host and path: one scheme purges both.
	return providerkit.PlanURLs(t, "https", p.hosts, p.set.PathTemplate, ""), nil
}

// checkKeyTemplate accepts a surrogate key template: its placeholders, and
// no byte that cannot sit in a Surrogate-Key header.
func checkKeyTemplate(t string, withRendition bool) error {
	if err := providerkit.CheckKeyPlaceholders(t, withRendition); err != nil {
		return err
	}
	for i := 0; i < len(t); i++ {
		if t[i] <= ' ' || t[i] >= 0x7f {
			return fmt.Errorf("byte %#x at %d cannot be part of a surrogate key", t[i], i)
		}
	}
	return nil
}
