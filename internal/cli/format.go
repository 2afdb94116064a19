package cli

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

const (
	// shownRenditions and shownItems bound the names a human listing
	// prints; --json has the server's (longer) lists.
	shownRenditions = 10
	shownItems      = 20
)

func table(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
}

// selectorText shows an absent selector as what it means.
func selectorText(sel string) string {
	if sel == "" {
		return "*"
	}
	return sel
}

// nameList joins up to n names and says how many more there are.
func nameList(names []string, total, n int) string {
	if total == 0 {
		return "none"
	}
	shown := names[:min(len(names), n)]
	s := strings.Join(shown, ", ")
	if more := total - len(shown); more > 0 {
		s += fmt.Sprintf(", … and %d more", more)
	}
	return s
}

func printPurge(w io.Writer, r *reply, d *purgeData) {
	verdict := "succeeded"
	switch {
	case r.ok():
	case d.Journaled:
		verdict = "FAILED, journaled for retry as purge " + d.JournalID
	default:
		verdict = "FAILED, not journaled"
	}
	fmt.Fprintf(w, "Purge of image %s (selector %s, datastore %s): %s\n",
		d.ImageID, selectorText(d.Selector), d.Datastore, verdict)
	fmt.Fprintf(w, "  renditions: %s\n", nameList(d.Renditions, len(d.Renditions), shownRenditions))
	tw := table(w)
	fmt.Fprintln(tw, "  LAYER\tPROVIDER\tTIER\tSTATUS\tITEMS\tERROR")
	for _, l := range d.Layers {
		status := l.Status
		if l.Reason != "" {
			status += " (" + strings.ReplaceAll(l.Reason, "_", " ") + ")"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%d\t%s\t%d\t%s\n", l.Layer, l.Provider, l.Tier, status, l.Items, layerErr(l.Error))
	}
	_ = tw.Flush()
	for _, e := range r.header.Errors {
		fmt.Fprintf(w, "  error %s: %s\n", e.Code, e.Description)
	}
	fmt.Fprintf(w, "  purge id %s, tracking id %s\n", d.PurgeID, r.trackingID)
	if d.Journaled {
		fmt.Fprintf(w, "  follow it with: imgpurge status %s\n", d.JournalID)
	}
}

// layerErr is a layer's error code; the error lines below the table
// carry the provider's message.
func layerErr(e *layerError) string {
	if e == nil {
		return "-"
	}
	return e.Code
}

func printAccepted(w io.Writer, id, sel string, d *acceptedData) {
	how := "queued"
	if d.Joined {
		how = "joined an identical pending purge"
	}
	fmt.Fprintf(w, "Purge of image %s (selector %s) accepted: %s as purge %s (%s)\n",
		id, selectorText(sel), how, d.PurgeID, d.State)
	fmt.Fprintf(w, "  renditions: %s\n", nameList(d.Renditions, len(d.Renditions), shownRenditions))
	fmt.Fprintf(w, "  follow it with: imgpurge status %s\n", d.PurgeID)
}

func printPlan(w io.Writer, d *planData) {
	fmt.Fprintf(w, "Dry run for image %s (selector %s, datastore %s): nothing was purged\n",
		d.ImageID, selectorText(d.Selector), d.Datastore)
	fmt.Fprintf(w, "  renditions (%d): %s\n", d.RenditionCount,
		nameList(d.Renditions, d.RenditionCount, shownRenditions))
	for _, l := range d.Layers {
		fmt.Fprintf(w, "  layer %s (%s, tier %d) would receive %d %s\n",
			l.Layer, l.Provider, l.Tier, l.Count, plural(l.Count, "item", "items"))
		for _, it := range l.Items[:min(len(l.Items), shownItems)] {
			fmt.Fprintf(w, "    %s\n", it)
		}
		if more := l.Count - min(len(l.Items), shownItems); more > 0 {
			fmt.Fprintf(w, "    … and %d more (--json lists up to %d)\n", more, len(l.Items))
		}
	}
	fmt.Fprintf(w, "  %s\n", costLine(hasCloudFront(d.Layers), d.CloudFrontPaths, d.CloudFrontCostUSD, d.CostBasis))
}

func hasCloudFront(layers []planLayer) bool {
	for _, l := range layers {
		if l.Provider == "cloudfront" {
			return true
		}
	}
	return false
}

func costLine(cloudfront bool, paths int, usd float64, basis string) string {
	if !cloudfront {
		return "CloudFront: no cloudfront layer, no invalidation cost"
	}
	return fmt.Sprintf("CloudFront: %d invalidation %s, estimated $%.3f (%s)",
		paths, plural(paths, "path", "paths"), usd, basis)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
