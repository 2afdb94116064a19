package fastly

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"time"

	"github.com/imgpurge/imgpurge/internal/providerkit"
	"github.com/imgpurge/imgpurge/internal/purge"
)

// Provider is a fastly layer.
type Provider struct {
	set   Settings
	hosts []string
	http  *http.Client
	now   func() time.Time
}

var _ purge.Provider = (*Provider)(nil)

// New builds a fastly layer from its settings. It makes no request: a wrong
// service or token shows on the first purge, not at start-up.
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
	return &Provider{set: s, hosts: providerkit.LowerHosts(spec.PublicHosts), http: newHTTPClient(),
		now: time.Now}, nil
}

// String describes the layer without its token: fmt would otherwise print
// unexported fields, Secret included, as raw values.
func (p *Provider) String() string {
	return fmt.Sprintf("fastly(service %s, mode %s, soft %t)", p.set.ServiceID, p.set.Mode, p.set.Soft)
}

// GoString keeps %#v from printing the token.
func (p *Provider) GoString() string { return p.String() }

// Account identifies the Fastly service together with the shape of the calls
// this layer makes, so that items merged across purges under one key can
// travel in one call.
func (p *Provider) Account() string {
	a := "fastly:" + p.set.ServiceID + ":" + p.set.Mode
	if p.set.Soft {
		a += ":soft"
	}
	return a
}

// MaxItemsPerCall is the number of items one API call carries: the batch
// size in mode keys, one URL in mode urls.
func (p *Provider) MaxItemsPerCall() int {
	if p.set.Mode == ModeURLs {
		return 1
	}
	return p.set.MaxKeysPerCall
}

// Purge implements purge.Provider. Items are split into calls of at most
// MaxItemsPerCall; Remaining holds exactly the items of the calls that
// failed or were not made.
func (p *Provider) Purge(ctx context.Context, items []string) (purge.Result, error) {
	call := p.purgeKeys
	if p.set.Mode == ModeURLs {
		call = p.purgeURL
	}
	batches := providerkit.Split(items, p.MaxItemsPerCall())
	res := providerkit.Run(ctx, batches, p.set.Concurrency, call)
	sum := providerkit.Sum(ctx, "fastly", len(items), res)

	ids := map[string]string{}
	for _, r := range res {
		maps.Copy(ids, r.Info)
	}
	return purge.Result{Remaining: sum.Left, Detail: map[string]any{
		"mode": p.set.Mode, "soft": p.set.Soft, "calls": sum.Calls, "failed_calls": sum.Failed,
		"purged": len(ids), "purge_ids": ids,
	}}, sum.Err
}
