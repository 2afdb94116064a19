// Package api serves the Remove Image Cache API over HTTP: routing, the
// tracking id, authentication, request validation and the JSON envelope
// around the orchestrator's outcome.
package api
