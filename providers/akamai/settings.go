package akamai

import (
	"errors"
	"fmt"
	"strings"

	"github.com/imgpurge/imgpurge/internal/config"
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
	def := func(v *string, d string) {
		if *v == "" {
			*v = d
		}
	}
	def(&s.Scheme, SchemeDefault)
	def(&s.Action, ActionDefault)
	def(&s.Type, TypeDefault)
	def(&s.Network, NetworkDefault)
	def(&s.TagTemplate, TagTemplateDefault)
	def(&s.RenditionTagTemplate, RenditionTagTemplateDefault)
	def(&s.PathTemplate, PathTemplateDefault)
	def(&s.URLScheme, URLSchemeDefault)
	defInt := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defInt(&s.MaxBody, MaxBodyDefault)
	defInt(&s.MaxRequestBytes, MaxRequestBytesDefault)
	defInt(&s.MaxObjectsPerCall, MaxObjectsPerCallDefault)
	defInt(&s.Concurrency, ConcurrencyDefault)
	s.Host = strings.ToLower(s.Host)
}

// validate returns every problem at once, each naming its field.
func (s *Settings) validate(publicHosts []string) error {
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{field}, args...)...))
	}
	if s.Host == "" {
		add("host", "required")
	} else if err := checkHost(s.Host); err != nil {
		add("host", "%v", err)
	}
	oneOf := func(field, v string, allowed ...string) {
		for _, a := range allowed {
			if v == a {
				return
			}
		}
		add(field, "%q is not one of %s", v, strings.Join(allowed, ", "))
	}
	oneOf("scheme", s.Scheme, "https", "http")
	for _, c := range []struct {
		field string
		v     config.Secret
	}{{"client_token", s.ClientToken}, {"client_secret", s.ClientSecret}, {"access_token", s.AccessToken}} {
		if c.v.Empty() {
			add(c.field, "required")
		}
	}
	if s.MaxBody < 1 {
		add("max_body", "%d must be positive", s.MaxBody)
	}
	oneOf("action", s.Action, ActionInvalidate, ActionDelete)
	oneOf("network", s.Network, NetworkProduction, NetworkStaging)
	maxObjects := maxURLsPerCall
	switch s.Type {
	case TypeURL:
		oneOf("url_scheme", s.URLScheme, "https", "http")
		if err := checkPathTemplate(s.PathTemplate); err != nil {
			add("path_template", "%v", err)
		}
		if len(publicHosts) == 0 {
			add("public_hosts", "type url needs the datastore's public hosts")
		}
		for _, h := range publicHosts {
			if err := checkHost(h); err != nil {
				add("public_hosts", "%v", err)
			}
		}
	case TypeTag:
		maxObjects = maxTagsPerCall
		if err := checkTagTemplate(s.TagTemplate, false); err != nil {
			add("tag_template", "%v", err)
		}
		if err := checkTagTemplate(s.RenditionTagTemplate, true); err != nil {
			add("rendition_tag_template", "%v", err)
		}
	default:
		add("type", "%q is not one of %s, %s", s.Type, TypeURL, TypeTag)
	}
	if s.MaxRequestBytes < minRequestBytes || s.MaxRequestBytes > maxRequestBytesLimit {
		add("max_request_bytes", "%d is outside %d..%d (Akamai's limit)",
			s.MaxRequestBytes, minRequestBytes, maxRequestBytesLimit)
	}
	if s.MaxObjectsPerCall < 1 || s.MaxObjectsPerCall > maxObjects {
		add("max_objects_per_call", "%d is outside 1..%d", s.MaxObjectsPerCall, maxObjects)
	}
	if s.Concurrency < 1 || s.Concurrency > concurrencyLimit {
		add("concurrency", "%d is outside 1..%d", s.Concurrency, concurrencyLimit)
	}
	return errors.Join(errs...)
}

func checkHost(h string) error {
	if h == "" || strings.ContainsAny(h, "/?#@ \t") || strings.Contains(h, "://") {
		return fmt.Errorf("%q is not a bare host name", h)
	}
	return nil
}
