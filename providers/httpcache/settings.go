package httpcache

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/imgpurge/imgpurge/internal/config"
	"github.com/imgpurge/imgpurge/internal/providerkit"
)

// Methods of turning a target into items; see the package doc.
const (
	MethodPurge = "purge"
	MethodBan   = "ban"
	MethodXKey  = "xkey"
	MethodNginx = "nginx"
)

// Defaults for settings left empty.
const (
	MethodDefault        = MethodPurge
	PathTemplateDefault  = "/image/{id}/{rendition}"
	PurgeMethodDefault   = "PURGE"
	PurgeLocationDefault = "/purge"
	XKeyImageDefault     = "image-{id}"
	XKeyRenditionDefault = "image-{id}/{rendition}"
	ConcurrencyDefault   = 8
)

// Settings are the httpcache layer's settings. The layer's timeout, set by
// the orchestrator, bounds each Purge call; there is no timeout here.
type Settings struct {
	// Nodes are the base URLs of the cache nodes, such as
	// http://10.0.0.7:6081. Required. http or https, without path, query or
	// credentials (put credentials in Headers).
	Nodes []string `yaml:"nodes"`
	// Method is purge, ban, xkey or nginx (see the package doc). Default purge.
	Method string `yaml:"method"`
	// PathTemplate is a rendition's public path: it starts with "/", holds
	// {id} once and ends with "/{rendition}". The id and the rendition are
	// each escaped with url.PathEscape. Default "/image/{id}/{rendition}".
	PathTemplate string `yaml:"path_template"`
	// PurgeMethod is the HTTP method of purge, nginx and xkey requests.
	// Default PURGE.
	PurgeMethod string `yaml:"purge_method"`
	// PurgeLocation is the path prefix of nginx's purge location; method
	// nginx requests {node}{purge_location}{path}. Default "/purge".
	PurgeLocation string `yaml:"purge_location"`
	// XKeyImage is the surrogate key of every rendition of an image, used
	// when the target covers them all. It holds {id} and no "/". Default
	// "image-{id}".
	XKeyImage string `yaml:"xkey_image"`
	// XKeyRendition is the surrogate key of one rendition. It holds {id},
	// then a "/", then {rendition}. Default "image-{id}/{rendition}".
	XKeyRendition string `yaml:"xkey_rendition"`
	// Headers are sent with every request, for example a shared secret the
	// cache checks. Values are secrets: write "${ENV_NAME}" to read one from
	// the environment.
	Headers map[string]config.Secret `yaml:"headers"`
	// Concurrency bounds the requests in flight to one node. Default 8.
	Concurrency int `yaml:"concurrency"`
}

func (s *Settings) applyDefaults() {
	providerkit.Default(&s.Method, MethodDefault)
	providerkit.Default(&s.PathTemplate, PathTemplateDefault)
	providerkit.Default(&s.PurgeMethod, PurgeMethodDefault)
	providerkit.Default(&s.PurgeLocation, PurgeLocationDefault)
	providerkit.Default(&s.XKeyImage, XKeyImageDefault)
	providerkit.Default(&s.XKeyRendition, XKeyRenditionDefault)
	providerkit.Default(&s.Concurrency, ConcurrencyDefault)
}

// validate returns every problem found, each naming its field.
func (s *Settings) validate() error {
	var p providerkit.Problems
	if len(s.Nodes) == 0 {
		p.Add("nodes", "at least one cache node is required")
	}
	for i, n := range s.Nodes {
		if _, err := parseNode(n); err != nil {
			p.Add(fmt.Sprintf("nodes[%d]", i), "%v", err)
		}
	}
	switch s.Method {
	case MethodPurge, MethodBan, MethodXKey, MethodNginx:
	default:
		p.Add("method", "must be purge, ban, xkey or nginx, not %q", s.Method)
	}
	if err := checkPathTemplate(s.PathTemplate); err != nil {
		p.Add("path_template", "%v", err)
	}
	if !tokenRE.MatchString(s.PurgeMethod) {
		p.Add("purge_method", "%q is not an HTTP method", s.PurgeMethod)
	}
	if !strings.HasPrefix(s.PurgeLocation, "/") || strings.HasSuffix(s.PurgeLocation, "/") ||
		!pathRE.MatchString(s.PurgeLocation) {
		p.Add("purge_location", `must start with "/", not end with one, and be a plain path`)
	}
	if err := checkKeyTemplate(s.XKeyImage, false); err != nil {
		p.Add("xkey_image", "%v", err)
	}
	if err := checkKeyTemplate(s.XKeyRendition, true); err != nil {
		p.Add("xkey_rendition", "%v", err)
	}
	for name, v := range s.Headers {
		if err := checkHeader(name, v.Reveal()); err != nil {
			p.Add("headers."+name, "%v", err)
		}
	}
	if s.Concurrency < 1 {
		p.Add("concurrency", "must be at least 1")
	}
	return p.Err()
}

func parseNode(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errors.New("not a URL")
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("%q: scheme must be http or https", raw)
	case u.Host == "":
		return nil, fmt.Errorf("%q: host required", raw)
	case u.User != nil:
		// A URL's credentials end up in error messages and logs.
		return nil, fmt.Errorf("%q: credentials in the URL are not allowed; use headers",
			u.Redacted())
	case (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "":
		return nil, fmt.Errorf("%q: only scheme, host and port are allowed", raw)
	}
	return &url.URL{Scheme: u.Scheme, Host: u.Host}, nil
}

func checkPathTemplate(t string) error {
	if !strings.HasPrefix(t, "/") || strings.HasPrefix(t, "//") ||
		strings.Count(t, "{id}") != 1 || strings.Count(t, "{rendition}") != 1 ||
		!strings.HasSuffix(t, "/{rendition}") {
		return errors.New(`must start with "/", hold {id} once and end with "/{rendition}"`)
	}
	literal := strings.NewReplacer("{id}", "x", "{rendition}", "x").Replace(t)
	if !pathRE.MatchString(literal) || strings.Contains(literal, "/../") ||
		strings.Contains(literal, "/./") {
		return errors.New("must be a plain URL path without query, fragment or dot segments")
	}
	return nil
}

// checkKeyTemplate keeps keys unambiguous. An escaped id or rendition
// never holds "/", so with "/" between {id} and {rendition}, and none in
// the image key, no rendition key equals another image's key: an image
// "a:b" must not purge rendition "b" of image "a".
func checkKeyTemplate(t string, rendition bool) error {
	if !keyRE.MatchString(t) {
		return errors.New("must not contain white space, commas, quotes or control characters")
	}
	if strings.Count(t, "{id}") != 1 {
		return errors.New("must hold {id} once")
	}
	if !rendition {
		if strings.Contains(t, "{rendition}") || strings.Contains(t, "/") {
			return errors.New(`must not hold {rendition} or "/"`)
		}
		return nil
	}
	_, after, _ := strings.Cut(t, "{id}")
	between, _, found := strings.Cut(after, "{rendition}")
	if strings.Count(t, "{rendition}") != 1 || !found || !strings.Contains(between, "/") {
		return errors.New(`must hold {id}, then "/", then {rendition}, each once`)
	}
	return nil
}

// reserved are headers the provider sets itself.
var reserved = []string{"Host", "Content-Length", "Transfer-Encoding", "Connection",
	"X-Ban-Url", "Xkey-Purge"}

func checkHeader(name, value string) error {
	if !tokenRE.MatchString(name) {
		return errors.New("not a valid header name")
	}
	for _, r := range reserved {
		if http.CanonicalHeaderKey(name) == r {
			return errors.New("set by the provider itself")
		}
	}
	if strings.ContainsAny(value, "\r\n\x00") {
		// The value is a secret: say what is wrong without showing it.
		return errors.New("value contains a line break or NUL")
	}
	return nil
}

var (
	// tokenRE is RFC 9110's token: header names and methods.
	tokenRE = regexp.MustCompile("^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")
	// pathRE is the characters of an escaped URL path (RFC 3986 pchar and /).
	pathRE = regexp.MustCompile(`^/[A-Za-z0-9\-._~%!$&'()*+,;=:@/]*$`)
	// keyRE: xkey separates keys with white space and commas.
	keyRE = regexp.MustCompile(`^[\x21\x23-\x2B\x2D-\x7E]+$`)
	// hostRE is a lower-case host name with an optional port.
	hostRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?(:[0-9]{1,5})?$`)
)
