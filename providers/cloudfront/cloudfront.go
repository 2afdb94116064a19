package cloudfront

import (
	"cmp"
	"context"
	"log/slog"
	"path"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront/types"

	"github.com/imgpurge/imgpurge/internal/purge"
)

// Provider is a cloudfront layer.
type Provider struct {
	client    *cloudfront.Client
	dist      string
	account   string
	template  string // PathTemplate without its trailing "{rendition}"
	threshold int
	maxPaths  int
	refPrefix string
	logger    *slog.Logger
}

// New builds a cloudfront layer from its settings.
func New(ctx context.Context, spec purge.LayerSpec) (purge.Provider, error) {
	var s Settings
	if err := spec.Decode(&s); err != nil {
		return nil, err
	}
	s.applyDefaults()
	if err := s.validate(); err != nil {
		return nil, err
	}
	client, err := newClient(ctx, &s)
	if err != nil {
		return nil, err
	}
	logger := spec.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Provider{
		client:    client,
		dist:      s.DistributionID,
		account:   account(&s),
		template:  strings.TrimSuffix(s.PathTemplate, "{rendition}"),
		threshold: *s.WildcardThreshold,
		maxPaths:  s.MaxPathsPerCall,
		refPrefix: s.CallerReferencePrefix,
		logger:    logger,
	}, nil
}

// account keys the distribution for the coalescing and rate-limiting
// decorators. The endpoint is part of it when set, so two emulators in one
// process never share a key.
func account(s *Settings) string {
	if s.Endpoint == "" {
		return "cloudfront:" + s.DistributionID
	}
	return "cloudfront:" + s.DistributionID + "@" + s.Endpoint
}

// Account identifies the distribution: purges for the same key may be
// merged into one call, and share one rate limit.
func (p *Provider) Account() string { return p.account }

// MaxItemsPerCall is the most paths one CreateInvalidation carries
// (max_paths_per_call). Ref items are not paths and do not count.
func (p *Provider) MaxItemsPerCall() int { return p.maxPaths }

// Purge implements purge.Provider. Paths go out in calls of at most
// max_paths_per_call paths and 15 wildcards, one after the other. A quota or
// rate error stops the calls still to make, whose paths remain unsent.
// Result.Remaining holds the paths of the calls that failed, each call whose
// outcome is unknown preceded by its "ref:" item (see the CallerReference
// scheme in reference.go).
func (p *Provider) Purge(ctx context.Context, items []string) (purge.Result, error) {
	if err := ctx.Err(); err != nil {
		return purge.Result{Remaining: items}, canceled(err, nil)
	}
	groups, bad := parseItems(items)
	r := &run{nonce: newNonce()}
	if len(bad) > 0 {
		r.fresh = append(r.fresh, bad...)
		r.note(invalidItems(bad))
	}
	for _, g := range groups {
		// A group that arrived under a ref item retries a call that may have
		// created its invalidation: it keeps that reference until it
		// succeeds, whatever this attempt is answered.
		inherited := g.nonce != ""
		nonce := cmp.Or(g.nonce, r.nonce)
		for _, batch := range split(g.paths, p.maxPaths) {
			p.send(ctx, r, nonce, inherited, batch)
		}
	}
	return r.result()
}

func (p *Provider) send(ctx context.Context, r *run, nonce string, inherited bool, paths []string) {
	if r.stopped {
		r.fail(nonce, paths, inherited, nil)
		return
	}
	if err := ctx.Err(); err != nil {
		r.stopped = true
		r.fail(nonce, paths, inherited, canceled(err, nil))
		return
	}
	ref := p.reference(nonce, paths)
	out, err := p.client.CreateInvalidation(ctx, &cloudfront.CreateInvalidationInput{
		DistributionId: aws.String(p.dist),
		InvalidationBatch: &types.InvalidationBatch{
			CallerReference: aws.String(ref),
			Paths:           &types.Paths{Quantity: aws.Int32(int32(len(paths))), Items: paths},
		},
	})
	r.calls++
	if err == nil {
		r.done(invalidationID(out), paths)
		return
	}

	pe, uncertain := classify(ctx, err)
	if strings.HasPrefix(pe.Message, refConflictMsg) {
		p.logger.LogAttrs(ctx, slog.LevelError, "cloudfront caller reference conflict",
			slog.String("caller_reference", ref), slog.String("code", pe.Code))
	}
	r.fail(nonce, paths, inherited || uncertain, pe)
	r.stopped = stopCodes[pe.Code] || ctx.Err() != nil
}

// invalidationID reads the id from the body or, when a 201 came without
// one, from the Location header.
func invalidationID(out *cloudfront.CreateInvalidationOutput) string {
	if out == nil {
		return ""
	}
	if out.Invalidation != nil && out.Invalidation.Id != nil {
		return *out.Invalidation.Id
	}
	if out.Location != nil {
		return path.Base(*out.Location)
	}
	return ""
}

// run accumulates the outcome of one Purge call.
type run struct {
	nonce   string
	calls   int
	stopped bool
	ids     []string
	paths   int
	wild    int
	// fresh are items to retry under a new reference: refused by CloudFront
	// in a call of their own, invalid, or never sent. referenced are ref
	// groups, each a "ref:" item and the paths sent under it.
	fresh      []string
	referenced []string
	err        *purge.Error
}

func (r *run) done(id string, paths []string) {
	if id != "" {
		r.ids = append(r.ids, id)
	}
	r.paths += len(paths)
	for _, p := range paths {
		if isWildcard(p) {
			r.wild++
		}
	}
}

// fail records paths not purged; keepRef puts them under their reference.
// pe is nil for paths left unsent after an earlier error.
func (r *run) fail(nonce string, paths []string, keepRef bool, pe *purge.Error) {
	if keepRef {
		r.referenced = append(append(r.referenced, refItemPrefix+nonce), paths...)
	} else {
		r.fresh = append(r.fresh, paths...)
	}
	if pe != nil {
		r.note(pe)
	}
}

// note keeps the error the layer reports: the first one that a retry cannot
// fix, else the first; the longest Retry-After of all.
func (r *run) note(pe *purge.Error) {
	wait := pe.RetryAfter
	if r.err != nil {
		wait = max(wait, r.err.RetryAfter)
	}
	if r.err == nil || r.err.Retryable && !pe.Retryable {
		r.err = pe
	}
	r.err.RetryAfter = wait
}

func (r *run) result() (purge.Result, error) {
	res := purge.Result{Detail: map[string]any{
		"invalidation_ids": append([]string{}, r.ids...),
		"calls":            r.calls,
		"paths":            r.paths,
		"wildcard_paths":   r.wild,
	}}
	if r.err == nil {
		return res, nil
	}
	// Fresh items first: a path placed after a ref item would join its group.
	res.Remaining = append(r.fresh, r.referenced...)
	return res, r.err
}
