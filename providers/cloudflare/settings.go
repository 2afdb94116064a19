package cloudflare

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/imgpurge/imgpurge/internal/config"
	"github.com/imgpurge/imgpurge/internal/providerkit"
)

// Modes: what a whole-image purge sends.
const (
	ModeFiles    = "files"
	ModePrefixes = "prefixes"
	ModeTags     = "tags"
	ModeHosts    = "hosts"
)

// Defaults for Settings, applied when a field is left out.
const (
	BaseURLDefault         = "https://api.cloudflare.com/client/v4"
	ModeDefault            = ModeFiles
	PathTemplateDefault    = "/image/{id}/{rendition}"
	MaxFilesPerCallDefault = 30
	MaxItemsPerCallDefault = 100
	ConcurrencyDefault     = 4
	RequestTimeoutDefault  = 30 * time.Second
)

// Upper bounds of the per-call settings: the most any plan accepted as of
// 2025 (500 URLs on Enterprise, 100 tags, hosts or prefixes on every plan).
// A larger setting would fail every purge, so it fails at start-up instead.
const (
	maxFilesPerCallLimit = 500
	maxItemsPerCallLimit = 100
	concurrencyLimit     = 8
)

var defaultSchemes = []string{"https"}

// Settings are the cloudflare layer's settings.
type Settings struct {
	// ZoneID is the zone's identifier, 32 hex characters. Required.
	ZoneID string `yaml:"zone_id"`
	// Zone is the zone's apex name, such as example.test. Required. Every
	// public host of the datastore must be the zone or a subdomain of it:
	// Cloudflare ignores or refuses URLs of other hosts, so a host outside
	// the zone would never be purged.
	Zone string `yaml:"zone"`

	// APIToken is an API token with the Cache Purge permission on the zone,
	// literal or "${ENV_NAME}". Give it, or APIEmail with APIKey.
	APIToken config.Secret `yaml:"api_token"`
	// APIEmail and APIKey are the legacy global API key credentials.
	APIEmail string        `yaml:"api_email"`
	APIKey   config.Secret `yaml:"api_key"`

	// BaseURL is the API's base URL. Default the real API,
	// https://api.cloudflare.com/client/v4; tests point it at the emulator.
	BaseURL string `yaml:"base_url"`

	// Mode is what a whole-image purge sends: files, prefixes, tags or
	// hosts. Default files. See the package documentation.
	Mode string `yaml:"mode"`
	// PathTemplate is a rendition's public path; {id} and {rendition} are
	// replaced by the percent-encoded image id and rendition name. It must
	// start with "/" and end with "/{rendition}". Default
	// "/image/{id}/{rendition}".
	PathTemplate string `yaml:"path_template"`
	// Schemes are the schemes renditions are served under; Cloudflare's
	// default cache key includes the scheme, so a rendition served over both
	// needs both URLs purged. Default [https].
	Schemes []string `yaml:"schemes"`
	// TagTemplate is the cache tag every rendition of an image carries in
	// its Cache-Tag response header, with {id} for the image id, such as
	// "image-{id}". Required in tags mode.
	TagTemplate string `yaml:"tag_template"`
	// AllowWholeHost must be true in hosts mode. A host purge removes every
	// object cached for that host, every image and not only the one asked
	// for, so it is only right for hosts that serve nothing else worth
	// keeping cached.
	AllowWholeHost bool `yaml:"allow_whole_host"`

	// MaxFilesPerCall is the number of URLs per call, 1 to 500. Default 30:
	// Cloudflare's table of 2025 lists 100 URLs per request on Free, Pro and
	// Business and 500 on Enterprise, but Free to Business zones were still
	// refused past 30 after that change (cloudflare-docs issue 21338).
	// Operators raise it to what their plan really accepts.
	MaxFilesPerCall int `yaml:"max_files_per_call"`
	// MaxItemsPerCall is the number of prefixes, tags or hosts per call, 1
	// to 100. Default 100, every plan's limit since 2025-04-01.
	MaxItemsPerCall int `yaml:"max_items_per_call"`
	// Concurrency is how many calls of one purge run at once, 1 to 8.
	// Default 4. Purge limits are per-account token buckets (Free: 5 tag,
	// host or prefix requests a minute; 800 URLs a second), so more does
	// not buy more throughput.
	Concurrency int `yaml:"concurrency"`
	// RequestTimeout bounds one HTTP exchange, a backstop under the layer's
	// own timeout. Default 30s.
	RequestTimeout config.Duration `yaml:"request_timeout"`
}

func (s *Settings) applyDefaults() {
	providerkit.Default(&s.BaseURL, BaseURLDefault)
	providerkit.Default(&s.Mode, ModeDefault)
	providerkit.Default(&s.PathTemplate, PathTemplateDefault)
	if len(s.Schemes) == 0 {
		s.Schemes = defaultSchemes
	}
	providerkit.Default(&s.MaxFilesPerCall, MaxFilesPerCallDefault)
	providerkit.Default(&s.MaxItemsPerCall, MaxItemsPerCallDefault)
	providerkit.Default(&s.Concurrency, ConcurrencyDefault)
	providerkit.Default(&s.RequestTimeout, config.Duration(RequestTimeoutDefault))
	s.Zone = strings.TrimSuffix(strings.ToLower(s.Zone), ".")
}

var zoneIDRE = regexp.MustCompile(`^[0-9a-f]{32}$`)

// validate returns every problem at once, each naming its field.
func (s *Settings) validate(publicHosts []string) error {
	var p providerkit.Problems
	if s.ZoneID == "" {
		p.Add("zone_id", "required")
	} else if !zoneIDRE.MatchString(s.ZoneID) {
		p.Add("zone_id", "%q is not a zone id (32 lower-case hex characters; the zone's name goes in zone)", s.ZoneID)
	}
	p.Append(s.validateZone(publicHosts)...)
	p.Append(s.validateCredentials()...)
	if u, err := url.Parse(s.BaseURL); err != nil || u.Host == "" ||
		(u.Scheme != "https" && u.Scheme != "http") || u.RawQuery != "" {
		p.Add("base_url", "%q is not an http(s) URL without a query", s.BaseURL)
	}
	p.Append(s.validateMode()...)
	if err := checkPathTemplate(s.PathTemplate); err != nil {
		p.Add("path_template", "%v", err)
	}
	for i, sc := range s.Schemes {
		if sc != "https" && sc != "http" || slices.Index(s.Schemes, sc) != i {
			p.Add(fmt.Sprintf("schemes[%d]", i), "must be https or http, once each (got %q)", sc)
		}
	}
	if s.MaxFilesPerCall < 1 || s.MaxFilesPerCall > maxFilesPerCallLimit {
		p.Add("max_files_per_call", "must be between 1 and %d", maxFilesPerCallLimit)
	}
	if s.MaxItemsPerCall < 1 || s.MaxItemsPerCall > maxItemsPerCallLimit {
		p.Add("max_items_per_call", "must be between 1 and %d", maxItemsPerCallLimit)
	}
	if s.Concurrency < 1 || s.Concurrency > concurrencyLimit {
		p.Add("concurrency", "must be between 1 and %d", concurrencyLimit)
	}
	if s.RequestTimeout < 0 {
		p.Add("request_timeout", "must be positive")
	}
	return p.Err()
}

func (s *Settings) validateZone(publicHosts []string) []error {
	if s.Zone == "" {
		return []error{errors.New("zone: required (the zone's apex name, such as example.test)")}
	}
	if len(publicHosts) == 0 {
		return []error{errors.New("zone: the datastore lists no public_hosts; " +
			"a cloudflare layer purges URLs of the public hosts")}
	}
	var errs []error
	for i, h := range publicHosts {
		if !inZone(hostname(h), s.Zone) {
			errs = append(errs, fmt.Errorf("zone: public_hosts[%d] %q is outside zone %q; "+
				"every public host must be the zone or a subdomain of it", i, h, s.Zone))
		}
	}
	return errs
}

func (s *Settings) validateCredentials() []error {
	token, key := !s.APIToken.Empty(), !s.APIKey.Empty() || s.APIEmail != ""
	switch {
	case token && key:
		return []error{errors.New("api_token: give api_token or api_email with api_key, not both")}
	case !token && !key:
		return []error{errors.New("api_token: required (or api_email with api_key)")}
	case key && (s.APIEmail == "" || s.APIKey.Empty()):
		return []error{errors.New("api_key: give api_email and api_key together")}
	}
	return nil
}

func (s *Settings) validateMode() []error {
	switch s.Mode {
	case ModeFiles, ModePrefixes:
	case ModeTags:
		if err := checkTagTemplate(s.TagTemplate); err != nil {
			return []error{fmt.Errorf("tag_template: %w", err)}
		}
	case ModeHosts:
		if !s.AllowWholeHost {
			return []error{errors.New("allow_whole_host: hosts mode purges every object of every " +
				"public host, not only the image's; set allow_whole_host: true to accept that")}
		}
	default:
		return []error{fmt.Errorf("mode: must be %s, %s, %s or %s (got %q)",
			ModeFiles, ModePrefixes, ModeTags, ModeHosts, s.Mode)}
	}
	return nil
}

func checkPathTemplate(t string) error {
	dir, ok := strings.CutSuffix(t, "/{rendition}")
	if !ok || !strings.HasPrefix(t, "/") {
		return errors.New(`must start with "/" and end with "/{rendition}"`)
	}
	if strings.Count(t, "{rendition}") != 1 || strings.Count(dir, "{id}") != 1 {
		return errors.New("must contain {id} and {rendition} once each")
	}
	fixed := strings.ReplaceAll(dir, "{id}", "")
	for seg := range strings.SplitSeq(fixed, "/") {
		if seg == "." || seg == ".." {
			return errors.New(`must not contain "." or ".." segments`)
		}
	}
	for i := 0; i < len(fixed); i++ {
		if c := fixed[i]; c != '/' && !isPchar(c) {
			return fmt.Errorf("character %q must be percent-encoded", c)
		}
	}
	return nil
}

func checkTagTemplate(t string) error {
	if t == "" {
		return errors.New(`required in tags mode (the Cache-Tag value of every rendition of an image, such as "image-{id}")`)
	}
	if strings.Count(t, "{id}") != 1 {
		return errors.New("must contain {id} once")
	}
	if strings.HasPrefix(strings.ToLower(t), "http://") || strings.HasPrefix(strings.ToLower(t), "https://") {
		return errors.New("must not look like a URL")
	}
	return checkTag(strings.ReplaceAll(t, "{id}", "x"))
}

// hostname strips an optional port from a public host.
func hostname(h string) string {
	if i := strings.LastIndexByte(h, ':'); i >= 0 {
		h = h[:i]
	}
	return strings.TrimSuffix(strings.ToLower(h), ".")
}

func inZone(host, zone string) bool {
	return host == zone || strings.HasSuffix(host, "."+zone)
}
