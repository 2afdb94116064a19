// Package purge holds the orchestrator at the centre of imgpurge: the provider
// contract every layer implements, the plan that fixes what each layer
// receives, and the tiered fan-out that runs the plan and reports every
// layer's own outcome.
package purge
