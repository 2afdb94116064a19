package api

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/imgpurge/imgpurge/internal/envelope"
	"github.com/imgpurge/imgpurge/internal/purge"
)

// MaxPlanItems bounds the renditions and the items per layer a dry run
// lists; counts stay exact. It is larger than MaxListed because showing
// what would be sent is the point of a dry run.
const MaxPlanItems = 1000

// CloudFront bills each invalidation path at $0.005, a wildcard path
// counting as one. The estimate is kept in thousandths of a dollar so that
// a path count turns into dollars without floating-point drift.
const (
	cloudFrontKind          = "cloudfront"
	cloudFrontMilliUSDPath  = 5
	cloudFrontEstimateBasis = "$0.005 per CloudFront invalidation path, a wildcard path " +
		"counting as one; the 1,000 free paths a month are not deducted"
)

// PlanData is the data of a dry run: what each layer would receive.
type PlanData struct {
	Datastore      string          `json:"datastore"`
	ImageID        string          `json:"image_id"`
	Selector       string          `json:"selector"`
	Renditions     []string        `json:"renditions"`
	RenditionCount int             `json:"rendition_count"`
	Layers         []PlanLayerData `json:"layers"`
	// CloudFrontPaths is the number of invalidation paths of the plan's
	// cloudfront layers, and CloudFrontCostUSD their price at the list
	// rate, as CostBasis says.
	CloudFrontPaths   int     `json:"cloudfront_paths"`
	CloudFrontCostUSD float64 `json:"cloudfront_cost_usd"`
	CostBasis         string  `json:"cost_basis"`
}

// PlanLayerData is one layer's share of a dry run.
type PlanLayerData struct {
	Layer    string   `json:"layer"`
	Provider string   `json:"provider"`
	Tier     int      `json:"tier"`
	Items    []string `json:"items"`
	Count    int      `json:"count"`
}

// planImage answers GET /plan/image/{id}[/{selector}]: the purge the same
// DELETE would make, planned the same way (the innermost store is listed)
// but neither executed nor journaled.
func (s *Server) planImage(w http.ResponseWriter, r *http.Request) {
	tid := TrackingID(r.Context())
	p, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	req, bad := s.parse(r, p)
	if bad != nil {
		if bad.status == http.StatusForbidden {
			w.Header().Set("WWW-Authenticate", `Bearer realm="imgpurge", error="insufficient_scope"`)
		}
		envelope.Fail(w, bad.status, tid, bad.code, bad.desc)
		return
	}

	ctx, cancel := context.WithTimeout(r.Context(), s.timeout)
	defer cancel()
	known := s.journal.PendingRenditions(ctx, req.ds.Name, req.imageID, req.sel.String())
	plan, err := purge.NewPlan(ctx, "", &req.ds.Datastore, req.imageID, req.sel, known...)
	if err != nil {
		s.planFailed(w, r, err)
		return
	}
	data := planData(plan)
	s.log.LogAttrs(r.Context(), slog.LevelInfo, "purge dry run",
		slog.String("tracking_id", tid), slog.String("subject", p.Subject),
		slog.String("datastore", plan.Datastore), slog.String("image_id", plan.ImageID),
		slog.String("selector", plan.Selector), slog.Int("renditions", data.RenditionCount),
		slog.Int("cloudfront_paths", data.CloudFrontPaths))
	envelope.Write(w, http.StatusOK, envelope.Success(data))
}

func planData(plan *purge.Plan) *PlanData {
	d := &PlanData{
		Datastore: plan.Datastore, ImageID: plan.ImageID, Selector: plan.Selector,
		Renditions:     cappedTo(plan.Target.Renditions, MaxPlanItems),
		RenditionCount: len(plan.Target.Renditions),
		Layers:         make([]PlanLayerData, 0, len(plan.Steps)),
		CostBasis:      cloudFrontEstimateBasis,
	}
	for _, st := range plan.Steps {
		d.Layers = append(d.Layers, PlanLayerData{
			Layer: st.Layer, Provider: st.Kind, Tier: st.Tier,
			Items: cappedTo(st.Items, MaxPlanItems), Count: len(st.Items),
		})
		if st.Kind == cloudFrontKind {
			// Every item of a fresh cloudfront plan is one path, an image
			// wildcard included.
			d.CloudFrontPaths += len(st.Items)
		}
	}
	d.CloudFrontCostUSD = float64(d.CloudFrontPaths*cloudFrontMilliUSDPath) / 1000
	return d
}

// cappedTo returns at most n elements of s, never nil, so the JSON shows an
// empty list rather than null.
func cappedTo(s []string, n int) []string {
	if s == nil {
		return []string{}
	}
	return s[:min(len(s), n)]
}
