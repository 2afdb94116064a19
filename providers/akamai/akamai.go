package akamai

import (
	"context"
	"fmt"
	"net/http"

	"github.com/imgpurge/imgpurge/internal/providerkit"
	"github.com/imgpurge/imgpurge/internal/purge"
)

// Provider is an akamai layer.
type Provider struct {
	set      Settings
	hosts    []string
	endpoint string
	signer   *signer
	http     *http.Client
}

var _ purge.Provider = (*Provider)(nil)

// New builds an akamai layer from its settings. It makes no request: wrong
// credentials show on the first purge, not at start-up.
func New(_ context.Context, spec purge.LayerSpec) (purge.Provider, error) {
	var s Settings
	if spec.Decode != nil {
		if err := spec.Decode(&s); err != nil {
			return nil, err
		}
	}
	s.applyDefaults()
	if err := s.validate(spec.PublicHosts); err != nil {
		return nil, err
	}
	return &Provider{
		set:      s,
		hosts:    providerkit.LowerHosts(spec.PublicHosts),
		endpoint: s.Scheme + "://" + s.Host + "/ccu/v3/" + s.Action + "/" + s.Type + "/" + s.Network,
		signer:   newSigner(&s),
		http:     newHTTPClient(),
	}, nil
}

// String describes the layer without its credentials: fmt would otherwise
// print unexported fields, secrets included, as raw values.
func (p *Provider) String() string {
	return fmt.Sprintf("akamai(%s, %s/%s/%s)", p.set.Host, p.set.Action, p.set.Type, p.set.Network)
}

// GoString keeps %#v from printing the credentials.
func (p *Provider) GoString() string { return p.String() }

// Account identifies the API client together with the shape of its
// requests (action, type, network), so that items merged across purges
// under one key can travel in one request.
func (p *Provider) Account() string {
	return "akamai:" + p.set.Host + ":" + p.set.Action + "/" + p.set.Type + "/" + p.set.Network
}

// MaxItemsPerCall is the most objects one request carries; long URLs may
// split a request further to stay under the body limit.
func (p *Provider) MaxItemsPerCall() int { return p.set.MaxObjectsPerCall }

// Purge implements purge.Provider. Items are packed into requests under the
// body and object limits; Remaining holds exactly the items of the requests
// that failed or were not made.
func (p *Provider) Purge(ctx context.Context, items []string) (purge.Result, error) {
	res := providerkit.Run(ctx, p.pack(items), p.set.Concurrency, p.post)
	sum := providerkit.Sum(ctx, "akamai", len(items), res)

	purgeIDs, supportIDs := []string{}, []string{}
	estimated := 0
	for _, r := range res {
		if r.Info.PurgeID != "" {
			purgeIDs = append(purgeIDs, r.Info.PurgeID)
			supportIDs = append(supportIDs, r.Info.SupportID)
			estimated = max(estimated, r.Info.EstimatedSeconds)
		}
	}
	return purge.Result{Remaining: sum.Left, Detail: map[string]any{
		"action": p.set.Action, "type": p.set.Type, "network": p.set.Network,
		"calls": sum.Calls, "failed_calls": sum.Failed, "purged": len(items) - len(sum.Left),
		"purge_ids": purgeIDs, "support_ids": supportIDs, "estimated_seconds": estimated,
	}}, sum.Err
}
