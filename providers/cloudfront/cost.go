package cloudfront

import "strings"

// CloudFront's invalidation price: the first 1,000 paths a month are free
// for the account, each further path costs $0.005, and a wildcard path
// counts as one path however many objects it matches.
const (
	FreePathsPerMonth = 1000
	PricePerPath      = 0.005
)

// EstimateCost returns the price in US dollars of invalidating paths paths
// when freeLeft paths of the month's free tier remain.
func EstimateCost(paths int, freeLeft int) float64 {
	billable := paths - max(freeLeft, 0)
	if billable <= 0 {
		return 0
	}
	return float64(billable) * PricePerPath
}

// BillablePaths counts the paths CloudFront bills among a plan's or a
// journal's items: every path once, wildcard or not; ref items not at all.
func BillablePaths(items []string) int {
	n := 0
	for _, it := range items {
		if strings.HasPrefix(it, "/") {
			n++
		}
	}
	return n
}
