package fastly

import (
	"net/url"
	"strings"

	"github.com/imgpurge/imgpurge/internal/config"
	"github.com/imgpurge/imgpurge/internal/providerkit"
)

// Values of Settings.Mode.
const (
	ModeKeys = "keys"
	ModeURLs = "urls"
)

// Defaults for Settings, applied when a field is left out.
const (
	BaseURLDefault              = "https://api.fastly.com"
	ModeDefault                 = ModeKeys
	KeyTemplateDefault          = "image-{id}"
	RenditionKeyTemplateDefault = "image-{id}/{rendition}"
	PathTemplateDefault         = "/image/{id}/{rendition}"
	MaxKeysPerCallDefault       = 256
	ConcurrencyDefault          = 4
)

// Fastly refuses a batch purge naming more than 256 keys, and a key longer
// than 1,024 bytes.
const (
	maxKeysPerCallLimit = 256
	maxKeyBytes         = 1024
)

// Purges are not rate limited by Fastly, but a few calls in flight already
// saturate one purge; more only multiplies the 429s when something is wrong.
const concurrencyLimit = 16

// Settings are the fastly layer's settings.
type Settings struct {
	// ServiceID is the Fastly service whose cache is purged. Required.
	ServiceID string `yaml:"service_id"`

	// APIToken is a Fastly API token with the purge_select scope, sent as
	// Fastly-Key; literal or "${ENV_NAME}". Required.
	APIToken config.Secret `yaml:"api_token"`

	// BaseURL is the API's address. Default "https://api.fastly.com"; tests
	// and demos point it at the local emulator.
	BaseURL string `yaml:"base_url"`

	// Mode is "keys" (purge by surrogate key) or "urls" (purge each URL on
	// each public host). Default "keys".
	Mode string `yaml:"mode"`

	// KeyTemplate is the surrogate key the origin sends on every rendition of
	// an image; {id} is replaced by the escaped image id. Mode keys only.
	// Default "image-{id}".
	KeyTemplate string `yaml:"key_template"`

	// RenditionKeyTemplate is the surrogate key of one rendition; {id} and
	// {rendition} are replaced by their escaped values. Mode keys only.
	// Default "image-{id}/{rendition}".
	RenditionKeyTemplate string `yaml:"rendition_key_template"`

	// PathTemplate is a rendition's public path; it starts with "/" and holds
	// {id} and {rendition} once each. Mode urls only. Default
	// "/image/{id}/{rendition}".
	PathTemplate string `yaml:"path_template"`

	// Soft sends Fastly-Soft-Purge: 1, which marks objects stale instead of
	// evicting them, so stale-while-revalidate and stale-if-error can still
	// serve them. Default false.
	Soft bool `yaml:"soft"`

	// MaxKeysPerCall is the number of surrogate keys per batch purge, 1 to
	// 256. Default 256.
	MaxKeysPerCall int `yaml:"max_keys_per_call"`

	// Concurrency is how many purge calls run at once, 1 to 16. Default 4.
	Concurrency int `yaml:"concurrency"`
}

func (s *Settings) applyDefaults() {
	providerkit.Default(&s.BaseURL, BaseURLDefault)
	providerkit.Default(&s.Mode, ModeDefault)
	providerkit.Default(&s.KeyTemplate, KeyTemplateDefault)
	providerkit.Default(&s.RenditionKeyTemplate, RenditionKeyTemplateDefault)
	providerkit.Default(&s.PathTemplate, PathTemplateDefault)
	providerkit.Default(&s.MaxKeysPerCall, MaxKeysPerCallDefault)
	providerkit.Default(&s.Concurrency, ConcurrencyDefault)
	s.BaseURL = strings.TrimRight(s.BaseURL, "/")
}

// validate returns every problem at once, each naming its field.
func (s *Settings) validate(publicHosts []string) error {
	var p providerkit.Problems
	if s.ServiceID == "" {
		p.Add("service_id", "required")
	} else if strings.ContainsAny(s.ServiceID, "/?#% ") {
		p.Add("service_id", "%q is not a Fastly service id", s.ServiceID)
	}
	if s.APIToken.Empty() {
		p.Add("api_token", "required")
	}
	if u, err := url.Parse(s.BaseURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		p.Add("base_url", "%q is not an http(s) URL", s.BaseURL)
	}
	switch s.Mode {
	case ModeKeys:
		if err := checkKeyTemplate(s.KeyTemplate, false); err != nil {
			p.Add("key_template", "%v", err)
		}
		if err := checkKeyTemplate(s.RenditionKeyTemplate, true); err != nil {
			p.Add("rendition_key_template", "%v", err)
		}
	case ModeURLs:
		if err := providerkit.CheckPathTemplate(s.PathTemplate, ""); err != nil {
			p.Add("path_template", "%v", err)
		}
		if len(publicHosts) == 0 {
			p.Add("public_hosts", "mode urls needs the datastore's public hosts")
		}
		for _, h := range publicHosts {
			if err := providerkit.CheckHost(h); err != nil {
				p.Add("public_hosts", "%v", err)
			}
		}
	default:
		p.Add("mode", "%q is not %q or %q", s.Mode, ModeKeys, ModeURLs)
	}
	if s.MaxKeysPerCall < 1 || s.MaxKeysPerCall > maxKeysPerCallLimit {
		p.Add("max_keys_per_call", "%d is outside 1..%d (Fastly's cap)", s.MaxKeysPerCall, maxKeysPerCallLimit)
	}
	if s.Concurrency < 1 || s.Concurrency > concurrencyLimit {
		p.Add("concurrency", "%d is outside 1..%d", s.Concurrency, concurrencyLimit)
	}
	return p.Err()
}
