// Package adapters lists the target types, one line each: adding a type is its own folder and
// one line here.
package adapters

import (
	"github.com/cortexbridge/cortex-bridge/adapters/discord"
	"github.com/cortexbridge/cortex-bridge/adapters/email"
	"github.com/cortexbridge/cortex-bridge/adapters/file"
	"github.com/cortexbridge/cortex-bridge/adapters/slack"
	"github.com/cortexbridge/cortex-bridge/adapters/webhook"
	"github.com/cortexbridge/cortex-bridge/notify"
)

// Types are the target types, in the order messages list them.
var Types = []*notify.TargetType{
	&slack.Type,
	&discord.Type,
	&email.Type,
	&webhook.Type,
	&file.Type,
}

// Lookup returns the type named name, or nil.
func Lookup(name string) *notify.TargetType {
	for _, t := range Types {
		if t.Name == name {
			return t
		}
	}
	return nil
}

// Names lists the types' names in order.
func Names() []string {
	out := make([]string, len(Types))
	for i, t := range Types {
		out[i] = t.Name
	}
	return out
}
