package httpcache

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/imgpurge/imgpurge/internal/providerkit"
	"github.com/imgpurge/imgpurge/internal/purge"
	"github.com/imgpurge/imgpurge/internal/telemetry"
)

// Provider is an httpcache layer.
type Provider struct {
	set    Settings
	nodes  []*url.URL
	hosts  []string
	header http.Header
	client *http.Client
}

// New builds an httpcache layer from its settings and the datastore's
// public hosts.
func New(_ context.Context, spec purge.LayerSpec) (purge.Provider, error) {
	var s Settings
	if err := spec.Decode(&s); err != nil {
		return nil, err
	}
	s.applyDefaults()
	if err := s.validate(); err != nil {
		return nil, err
	}
	hosts, err := publicHosts(s.Method, spec.PublicHosts)
	if err != nil {
		return nil, err
	}
	p := &Provider{set: s, hosts: hosts, header: http.Header{}, client: newClient(s.Concurrency)}
	for _, n := range s.Nodes {
		u, _ := parseNode(n) // validated above
		p.nodes = append(p.nodes, u)
	}
	for name, v := range s.Headers {
		p.header.Set(name, v.Reveal())
	}
	return p, nil
}

// publicHosts lower-cases the hosts, as caches compare them, and requires
// them for every method that sends a Host header.
func publicHosts(method string, hosts []string) ([]string, error) {
	if len(hosts) == 0 && method != MethodXKey {
		return nil, fmt.Errorf("public_hosts: method %s purges per public host, "+
			"and the datastore lists none", method)
	}
	out := make([]string, 0, len(hosts))
	for i, h := range hosts {
		h = strings.ToLower(h)
		if !hostRE.MatchString(h) {
			return nil, fmt.Errorf("public_hosts[%d]: %q is not a host name", i, h)
		}
		out = append(out, h)
	}
	return out, nil
}

func newClient(concurrency int) *http.Client {
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		// Purges go straight to the configured nodes, never through a proxy
		// from the environment. The layer's timeout, through ctx, bounds
		// the rest.
		Proxy:               nil,
		DialContext:         dialer.DialContext,
		MaxIdleConnsPerHost: concurrency,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: 5 * time.Second,
	}
	// Purges carry the request's W3C trace context to the nodes. A
	// redirect would send the purge to a host nobody configured.
	return providerkit.NoRedirects(telemetry.Transport(tr))
}

// Close releases idle connections to the nodes.
func (p *Provider) Close() error {
	p.client.CloseIdleConnections()
	return nil
}
