// Package cases runs the provider and input cases of
// shared/cases/provider-and-input-cases.md (C1 to C14) against the whole
// service: imgpurged built by internal/app from a configuration file, its
// real HTTP router, auth, orchestrator and journal, with a fake S3 store,
// a recording origin cache node, the CloudFront and Cloudflare emulators
// and a local OIDC issuer. Each test sends the case's request and checks
// the envelope, the per-layer data, what every fake received and what was
// journaled. e2e_test.go runs one purge through real servers: versitygw,
// Varnish with the shipped VCL, and a test origin reading from the store.
//
// The package holds only tests; this file is its documentation.
package cases
