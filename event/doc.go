// Package event is the Cortex webhook event: the Event model, Parse with its limits
// (MaxNestingDepth, MaxValues) and field errors, and the known event types and data fields that
// rules and templates expose at top level. It depends on nothing else in the bridge, so the
// adapters, rules and templates can use it without the engine (package core).
package event
