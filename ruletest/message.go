package ruletest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/cortexbridge/cortex-bridge/config"
	"github.com/cortexbridge/cortex-bridge/dryrun"
	"github.com/cortexbridge/cortex-bridge/notify"
)

// checkMessage checks the snippets against the message the named target gets for the event (from
// the first route that names it).
func checkMessage(rt *config.Runtime, dr *dryrun.Result, name string, want TextExpects) (Diff, bool) {
	d := Diff{Key: "messages." + name}
	t := dr.Delivery(name)
	switch {
	case !slices.Contains(rt.TargetNames(), name):
		d.Note = fmt.Sprintf("the config has no target named %s", name)
		return d, false
	case t == nil:
		d.Note = "this target gets no delivery for this event, so no message"
		return d, false
	case t.Err != nil:
		d.Note = "template error: " + t.Err.Error()
		return d, false
	}
	msg := t.Message
	hay := messageText(msg)
	for _, s := range want.Contains {
		if !containsAny(hay, s) {
			d.Missing = append(d.Missing, s)
		}
	}
	for _, s := range want.NotContains {
		if containsAny(hay, s) {
			d.Unexpected = append(d.Unexpected, s)
		}
	}
	if len(d.Missing)+len(d.Unexpected) == 0 {
		return d, true
	}
	d.Note = fmt.Sprintf("the %s message from route %s", t.Target.Type, t.Route.Name)
	var b bytes.Buffer
	dryrun.WriteMessage(&b, t.Target, msg)
	d.Message = strings.ReplaceAll(strings.TrimPrefix(b.String(), "    "), "\n    ", "\n") // WriteMessage indents by 4
	return d, false
}

// messageText is what contains/not_contains look in: the subject, the body as sent (the event
// itself when the target sends it unchanged), the HTML part, and for a JSON body every string in
// it, decoded (so a snippet with quotes or non-ASCII text matches however JSON escaped it).
func messageText(msg *notify.Message) []string {
	body := msg.Body
	if body == nil {
		body = msg.Event.Raw
	}
	hay := []string{msg.Subject, string(body), msg.HTML}
	var v any
	if json.Unmarshal(body, &v) == nil {
		var walk func(any)
		walk = func(v any) {
			switch x := v.(type) {
			case string:
				hay = append(hay, x)
			case map[string]any:
				for _, e := range x {
					walk(e)
				}
			case []any:
				for _, e := range x {
					walk(e)
				}
			}
		}
		walk(v)
	}
	return hay
}

func containsAny(hay []string, s string) bool {
	for _, h := range hay {
		if strings.Contains(h, s) {
			return true
		}
	}
	return false
}

func firstLineOf(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}
