package cloudflare

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"

	cf "github.com/cloudflare/cloudflare-go"

	"github.com/imgpurge/imgpurge/internal/purge"
)

// Provider is a cloudflare layer: one zone.
type Provider struct {
	api       *cf.API
	transport *http.Transport
	zoneID    string
	zone      string
	mode      string
	hosts     []string
	schemes   []string
	// dirTemplate is PathTemplate without its final "{rendition}".
	dirTemplate string
	tagTemplate string
	maxFiles    int
	maxItems    int
	concurrency int
}

// New builds a cloudflare layer from its settings and the datastore's
// public hosts.
func New(_ context.Context, spec purge.LayerSpec) (purge.Provider, error) {
	var s Settings
	if err := spec.Decode(&s); err != nil {
		return nil, err
	}
	s.applyDefaults()
	if err := s.validate(spec.PublicHosts); err != nil {
		return nil, err
	}
	api, tr, err := newAPI(&s)
	if err != nil {
		return nil, err
	}
	return &Provider{
		api: api, transport: tr,
		zoneID: s.ZoneID, zone: s.Zone, mode: s.Mode,
		hosts:       publicHosts(spec.PublicHosts),
		schemes:     s.Schemes,
		dirTemplate: strings.TrimSuffix(s.PathTemplate, "{rendition}"),
		tagTemplate: s.TagTemplate,
		maxFiles:    s.MaxFilesPerCall,
		maxItems:    s.MaxItemsPerCall,
		concurrency: s.Concurrency,
	}, nil
}

// publicHosts lower-cases the hosts (host names are case-insensitive, so
// IMG.example.test and img.example.test are one cache entry) and drops
// repeats, so no URL is sent twice.
func publicHosts(hosts []string) []string {
	out := make([]string, 0, len(hosts))
	for _, h := range hosts {
		h = strings.TrimSuffix(strings.ToLower(h), ".")
		if !slices.Contains(out, h) {
			out = append(out, h)
		}
	}
	return out
}

// Account identifies the zone, for decorators that coalesce calls: one
// purge_cache call reaches one zone.
//
// Known limitation: Cloudflare's purge buckets are per account, which may
// hold several zones; the zone is the finest key the settings know, so a
// rate limiter keyed by it sees each zone of an account separately.
func (p *Provider) Account() string { return "cloudflare:zone:" + p.zoneID }

// MaxItemsPerCall is the most items one call carries: the smaller of the
// two per-call limits, since a batch of items may turn out to be files.
func (p *Provider) MaxItemsPerCall() int { return min(p.maxFiles, p.maxItems) }

// Close releases idle connections.
func (p *Provider) Close() error {
	p.transport.CloseIdleConnections()
	return nil
}

func (p *Provider) String() string {
	return fmt.Sprintf("cloudflare zone %s (%s, %s mode)", p.zone, p.zoneID, p.mode)
}
