// Package notify is the contract between the delivery engine (package core) and the adapters
// (adapters/…): the Message a target receives, the Notifier it implements, the DeliveryError
// that classifies a failed attempt, the shared HTTP handling (CheckResponse, ClassifyStatus,
// RequestError, NewHTTPClient, ParseRetryAfter), URL redaction and the scrubbing of secrets a
// receiver echoes, and what templates see of a digest or a group. It does not depend on the
// engine: an adapter imports notify and event, never core.
package notify
