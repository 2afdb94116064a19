package akamai

import (
	"strings"

	"github.com/imgpurge/imgpurge/internal/config"
	"github.com/imgpurge/imgpurge/internal/providerkit"
)

// Values of Settings.Action, Settings.Type and Settings.Network.
const (
	ActionInvalidate  = "invalidate"
	ActionDelete      = "delete"
	TypeURL           = "url"
	TypeTag           = "tag"
	NetworkProduction = "production"
	NetworkStaging    = "staging"
)

// Defaults for Settings, applied when a field is left out.
const (
	SchemeDefault               = "https"
	MaxBodyDefault              = 131072
	ActionDefault               = ActionInvalidate
	TypeDefault                 = TypeURL
	NetworkDefault              = NetworkProduction
	TagTemplateDefault          = "image-{id}"
	RenditionTagTemplateDefault = "image-{id}/{rendition}"
	PathTemplateDefault         = "/image/{id}/{rendition}"
	URLSchemeDefault            = "https"
	MaxRequestBytesDefault      = 50000
	MaxObjectsPerCallDefault    = 1000
	ConcurrencyDefault          = 4
)

// Fast Purge refuses bodies over 50,000 bytes (413). Its object buckets
// hold 10,000 URLs and 5,000 tags: a request needing more never passes.
const (
	maxRequestBytesLimit = 50000
	minRequestBytes      = 1024
	maxURLsPerCall       = 10000
	maxTagsPerCall       = 5000
	concurrencyLimit     = 16
)

// Settings are the akamai layer's settings. The credential fields are those
// of an .edgerc section.
type Settings struct {
	// Host is the API client's host, "akab-….luna.akamaiapis.net" (with a
	// port for a local emulator). Required.
	Host string `yaml:"host"`

	// Scheme is "https", or "http" for a local emulator. Default "https".
	Scheme string `yaml:"scheme"`

	// ClientToken, ClientSecret and AccessToken are the EdgeGrid
	// credentials, literal or "${ENV_NAME}". Required.
	ClientToken  config.Secret `yaml:"client_token"`
	ClientSecret config.Secret `yaml:"client_secret"`
	AccessToken  config.Secret `yaml:"access_token"`

	// MaxBody is how many body bytes the EdgeGrid signature covers, as
	// max_body in .edgerc. Default 131072.
	MaxBody int `yaml:"max_body"`

	// Action is "invalidate" (mark stale; the default, Akamai's
	// recommendation) or "delete" (evict, for compliance removals).
	Action string `yaml:"action"`

	// Type is "url" (absolute URLs; default) or "tag" (cache tags).
	Type string `yaml:"type"`

	// Network is "production" (default) or "staging".
	Network string `yaml:"network"`

	// TagTemplate is the cache tag the origin sends on every rendition of
	// an image; {id} is replaced by the escaped id. Type tag only. Default
	// "image-{id}".
	TagTemplate string `yaml:"tag_template"`

	// RenditionTagTemplate is the cache tag of one rendition. Type tag only.
	// Default "image-{id}/{rendition}".
	RenditionTagTemplate string `yaml:"rendition_tag_template"`

	// PathTemplate is a rendition's public path; it starts with "/" and
	// holds {id} and {rendition} once each. Type url only. Default
	// "/image/{id}/{rendition}".
	PathTemplate string `yaml:"path_template"`

	// URLScheme is the scheme of the purged URLs, "https" (default) or
	// "http". Type url only.
	URLScheme string `yaml:"url_scheme"`

	// MaxRequestBytes caps one request body, 1024 to 50000. Default 50000.
	MaxRequestBytes int `yaml:"max_request_bytes"`

	// MaxObjectsPerCall caps the objects of one request, 1 to 10000 for
	// URLs and 1 to 5000 for tags (the size of Akamai's buckets). Default
	// 1000, well inside both.
	MaxObjectsPerCall int `yaml:"max_objects_per_call"`

	// Concurrency is how many purge requests run at once, 1 to 16.
	// Default 4.
	Concurrency int `yaml:"concurrency"`
}

func (s *Settings) applyDefaults() {
	providerkit.Default(&s.Scheme, SchemeDefault)
	providerkit.Default(&s.Action, ActionDefault)
	providerkit.Default(&s.Type, TypeDefault)
	providerkit.Default(&s.Network, NetworkDefault)
	providerkit.Default(&s.TagTemplate, TagTemplateDefault)
	providerkit.Default(&s.RenditionTagTemplate, RenditionTagTemplateDefault)
	providerkit.Default(&s.PathTemplate, PathTemplateDefault)
	providerkit.Default(&s.URLScheme, URLSchemeDefault)
	providerkit.Default(&s.MaxBody, MaxBodyDefault)
	providerkit.Default(&s.MaxRequestBytes, MaxRequestBytesDefault)
	providerkit.Default(&s.MaxObjectsPerCall, MaxObjectsPerCallDefault)
	providerkit.Default(&s.Concurrency, ConcurrencyDefault)
	s.Host = strings.ToLower(s.Host)
}

// validate returns every problem at once, each naming its field.
func (s *Settings) validate(publicHosts []string) error {
	var p providerkit.Problems
	if s.Host == "" {
		p.Add("host", "required")
	} else if err := providerkit.CheckHost(s.Host); err != nil {
		p.Add("host", "%v", err)
	}
	p.OneOf("scheme", s.Scheme, "https", "http")
	for _, c := range []struct {
		field string
		v     config.Secret
	}{{"client_token", s.ClientToken}, {"client_secret", s.ClientSecret}, {"access_token", s.AccessToken}} {
		if c.v.Empty() {
			p.Add(c.field, "required")
		}
	}
	if s.MaxBody < 1 {
		p.Add("max_body", "%d must be positive", s.MaxBody)
	}
	p.OneOf("action", s.Action, ActionInvalidate, ActionDelete)
	p.OneOf("network", s.Network, NetworkProduction, NetworkStaging)
	maxObjects := maxURLsPerCall
	switch s.Type {
	case TypeURL:
		s.validateURLs(&p, publicHosts)
	case TypeTag:
		maxObjects = maxTagsPerCall
		if err := checkTagTemplate(s.TagTemplate, false); err != nil {
			p.Add("tag_template", "%v", err)
		}
		if err := checkTagTemplate(s.RenditionTagTemplate, true); err != nil {
			p.Add("rendition_tag_template", "%v", err)
		}
	default:
		p.Add("type", "%q is not one of %s, %s", s.Type, TypeURL, TypeTag)
	}
	if s.MaxRequestBytes < minRequestBytes || s.MaxRequestBytes > maxRequestBytesLimit {
		p.Add("max_request_bytes", "%d is outside %d..%d (Akamai's limit)",
			s.MaxRequestBytes, minRequestBytes, maxRequestBytesLimit)
	}
	if s.MaxObjectsPerCall < 1 || s.MaxObjectsPerCall > maxObjects {
		p.Add("max_objects_per_call", "%d is outside 1..%d", s.MaxObjectsPerCall, maxObjects)
	}
	if s.Concurrency < 1 || s.Concurrency > concurrencyLimit {
		p.Add("concurrency", "%d is outside 1..%d", s.Concurrency, concurrencyLimit)
	}
	return p.Err()
}

// validateURLs checks the fields of type url.
func (s *Settings) validateURLs(p *providerkit.Problems, publicHosts []string) {
	p.OneOf("url_scheme", s.URLScheme, "https", "http")
	// "*" would reach Fast Purge as a wildcard, which it refuses.
	if err := providerkit.CheckPathTemplate(s.PathTemplate, "*"); err != nil {
		p.Add("path_template", "%v", err)
	}
	if len(publicHosts) == 0 {
		p.Add("public_hosts", "type url needs the datastore's public hosts")
	}
	for _, h := range publicHosts {
		if err := providerkit.CheckHost(h); err != nil {
			p.Add("public_hosts", "%v", err)
		}
	}
}
