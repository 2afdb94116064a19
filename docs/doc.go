// Package docs holds no code. Its tests keep the documentation true: the
// OpenAPI document is checked against the responses of the real service,
// and the configuration reference and provider guides against the code's
// configuration types.
package docs
