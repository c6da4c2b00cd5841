package webhooks

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/cortexbridge/cortex-bridge/adapters/webhook"
	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/event"
)

// Input is a webhook's fields as a user gives them: the body of POST and PATCH /webhooks, or
// the dashboard's form. Nil fields are absent (a patch leaves them unchanged).
type Input struct {
	URL         *string   `json:"url"`
	Events      *[]string `json:"events"`
	Secret      *string   `json:"secret"`
	Active      *bool     `json:"active"`
	Description *string   `json:"description"`
	// SignatureScheme is "cortex" (the default) or "standard-webhooks"; with the latter the
	// secret must be one or more whsec_<base64 of a 24–64 byte key> separated by spaces.
	SignatureScheme *string `json:"signature_scheme"`
}

// MinSecretBytes is the shortest signing secret a webhook may have (README.md, "Management API").
const MinSecretBytes = 16

// FieldErrors are a request's problems by field (url, events, secret, description, event, …):
// the API answers them with 422 and the field names, the dashboard shows each beside its field.
type FieldErrors map[string]string

func (f FieldErrors) Error() string {
	keys := make([]string, 0, len(f))
	for k := range f {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + ": " + f[k]
	}
	return strings.Join(parts, "; ")
}

// Validate checks in and returns problems by field (empty when valid). current is the webhook
// a patch changes (nil when creating): the signature scheme and the secret are checked
// together, whichever of them in changes.
func (s *Service) Validate(ctx context.Context, in Input, current *core.Webhook) FieldErrors {
	creating := current == nil
	bad := FieldErrors{}
	if in.URL == nil && creating {
		bad["url"] = "required"
	} else if in.URL != nil {
		if err := s.CheckURL(ctx, *in.URL); err != nil {
			bad["url"] = err.Error()
		}
	}
	if in.Events == nil && creating {
		bad["events"] = `required: a list of event types or ["*"]`
	} else if in.Events != nil {
		if len(*in.Events) == 0 {
			bad["events"] = `must not be empty: list event types or ["*"]`
		}
		for _, e := range *in.Events {
			if e != "*" && !event.IsKnownType(e) {
				bad["events"] = fmt.Sprintf("unknown event type %q (want %s or *)", e, strings.Join(event.Types, ", "))
				break
			}
		}
	}
	if in.Secret != nil && len(*in.Secret) < MinSecretBytes {
		bad["secret"] = fmt.Sprintf("must be at least %d bytes (or leave it out to have one generated)", MinSecretBytes)
	}
	if in.Description != nil && len(*in.Description) > 500 {
		bad["description"] = "at most 500 characters"
	}
	scheme, secret := "", ""
	if current != nil {
		scheme, secret = current.SignatureScheme, current.Secret.Reveal()
	}
	if in.SignatureScheme != nil {
		scheme = *in.SignatureScheme
		if !slices.Contains(webhook.Schemes(), scheme) {
			bad["signature_scheme"] = fmt.Sprintf("must be %s", strings.Join(webhook.Schemes(), " or "))
		}
	}
	if in.Secret != nil {
		secret = *in.Secret
	}
	if scheme == webhook.SchemeStandardWebhooks && secret != "" && bad["secret"] == "" {
		if _, err := webhook.StandardSigners(secret); err != nil {
			bad["secret"] = err.Error()
			if in.Secret == nil {
				bad["secret"] += "; the current secret is not: send a new one with signature_scheme (or leave both out to keep the cortex scheme)"
			}
		}
	}
	return bad
}
