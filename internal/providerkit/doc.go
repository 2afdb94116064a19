// Package providerkit holds the pieces that several providers share, each
// written once: fanning batches of items out to an API with bounded
// concurrency and summing up the calls (calls.go, outcome.go), an HTTP
// client that follows no redirect (httpclient.go), turning a target into
// cache keys or public URLs (plan.go), checking the templates those are
// built from (template.go), and filling in and validating settings
// (defaults.go, problems.go, host.go, endpoint.go, awskeys.go).
//
// A piece belongs here only when the providers' logic is the same, not
// merely alike: what differs between two APIs (their limits, their error
// bodies, their rate-limit headers) stays in the provider. HTTP status
// classification lives in package purge, beside the retry policy it feeds.
package providerkit
