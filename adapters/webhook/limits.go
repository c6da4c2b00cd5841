package webhook

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/cortexbridge/cortex-bridge/templates"
)

// Each preset's service limits, in characters (Unicode code points, as the services count them)
// or bytes of the JSON body, beside the document that sets them. Notify fits every body into them
// after rendering (fit.go), whatever template rendered it: strings are cut by runes with "…",
// lists over their count lose their tail (counted in the note), and the attempt log says what was
// cut. Where a service documents no limit, the bound chosen is safe and its reason is given.

// PagerDuty Events API v2
// (https://developer.pagerduty.com/docs/events-api-v2/trigger-events/): summary 1 024
// characters, dedup_key 255 characters (cut to 255 bytes, which is within it however it is
// counted), and the whole event's size (512 KB; 512 000 bytes, as Alertmanager reads it, keeps
// under either reading of KB).
const (
	pdMaxSummaryRunes = 1024
	pdMaxDedupKey     = 255
	pdMaxEventBytes   = 512_000
)

// Opsgenie Create Alert (https://docs.opsgenie.com/docs/alert-api#create-alert, field limits in
// https://docs.opsgenie.com/docs/alerts-and-alert-fields).
const (
	ogMaxMessageRunes     = 130
	ogMaxAliasRunes       = 512
	ogMaxDescriptionRunes = 15_000
	ogMaxEntityRunes      = 512
	ogMaxSourceRunes      = 100
	ogMaxUserRunes        = 100
	ogMaxNoteRunes        = 25_000
	ogMaxTags             = 20
	ogMaxTagRunes         = 50
	ogMaxActions          = 10
	ogMaxActionRunes      = 50
	// responders and visibleTo: at most 50 each.
	ogMaxResponders = 50
	// ogMaxDetailsRunes bounds details in all: every key and value counted.
	ogMaxDetailsRunes = 8_000
)

// teamsMaxBytes bounds a Microsoft Teams webhook message. Teams documents "The message size
// limit is 28 KB"
// (https://learn.microsoft.com/microsoftteams/platform/webhooks-and-connectors/how-to/add-incoming-webhook),
// and answers 413 below it when it counts text as UTF-16 (two bytes a character; reports put the
// largest message taken near 20 800 characters): 20 000 bytes of UTF-8 stays under it either way. Only texts are cut (TextRun text, fact
// values and titles, fallbackText), never a URL or a type.
const teamsMaxBytes = 20_000

// Mattermost: a post's message holds 16 383 characters (PostMessageMaxRunesV2 in
// https://github.com/mattermost/mattermost/blob/master/server/public/model/post.go, the limit
// since Mattermost 5.0, https://docs.mattermost.com/upgrade/important-upgrade-notes.html; a
// server whose database was never migrated keeps 4 000, which the built-in template's text stays
// within; longer webhook text is split into several posts rather than refused). Attachments have no documented limit of their own: their texts together
// are held to the same 16 383, so one alert is one post of a size Mattermost always takes.
const (
	mmMaxTextRunes        = 16_383
	mmMaxAttachmentsRunes = 16_383
)

// Rocket.Chat: a message's text is at most the workspace's Message_MaxAllowedSize, 5 000
// characters by default
// (https://docs.rocket.chat/docs/message#message-settings, "Maximum Allowed Message Size").
// Attachments have no documented limit: their texts together are held to the same 5 000.
const (
	rcMaxTextRunes        = 5_000
	rcMaxAttachmentsRunes = 5_000
)

// GitHub repository dispatch
// (https://docs.github.com/en/rest/repos/repos#create-a-repository-dispatch-event): event_type
// at most 100 characters (maxEventTypeLen), client_payload at most 10 top-level properties and
// "less than 64KB" of JSON (64 000 bytes keeps under either reading of KB).
const (
	ghMaxPayloadProperties = 10
	ghMaxPayloadBytes      = 64_000
)

// GitLab pipeline variables (https://docs.gitlab.com/ci/variables/#cicd-variable-limits and the
// plan limits ci_pipeline_variables_count and ci_variable_value_size,
// https://docs.gitlab.com/administration/instance_limits/): GitLab.com takes at most 1 200
// variables of at most 120 KiB each (the kernel's 128 KiB limit on one environment variable,
// MAX_ARG_STRLEN, less room for the name). All variables together are held to 1 MiB, a safe
// bound: a job's whole environment and arguments share the kernel's ARG_MAX, 2 MiB by default.
const (
	glMaxVariables     = 1_200
	glMaxValueBytes    = 120 * 1024
	glMaxVariablesSize = 1024 * 1024
	// glMaxKeyLen: a variable's key is 1–255 of A-Z, a-z, 0-9 and _
	// (https://docs.gitlab.com/ci/variables/#for-a-project, "Key").
	glMaxKeyLen = 255
)

// glKeyInvalid matches what a GitLab variable key cannot hold.
var glKeyInvalid = regexp.MustCompile(`[^A-Za-z0-9_]`)

// CloudEvents 1.0 (https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/spec.md): an
// event of at most 64 KB is forwarded by every intermediary ("Size Limits"; 64 000 bytes keeps
// under either reading of KB), attribute names are lower-case ASCII letters and digits and
// should be at most 20 characters ("Attribute Naming Convention").
const (
	ceMaxEventBytes    = 64_000
	ceMaxAttributeName = 20
)

// Fit returns body (a rendered JSON object) fitted into the limits of the config's preset's
// service, as Notify sends it, with one note per field it cut ("opsgenie: details cut from
// 10803 to 7989 characters (limit 8000): field_00, field_01, …"). body comes back unchanged when nothing
// is over a limit, when the preset has no limits (none, generic-json) or when it is not a JSON
// object. The error (naming the preset) says the body cannot be made to fit, which only a
// template can cause: tens of thousands of members outside the parts that can be cut.
func (c *Config) Fit(body []byte) ([]byte, []string, error) {
	p, _ := c.preset()
	fit := fitters[p.name]
	if fit == nil {
		return body, nil, nil
	}
	out, notes, err := fitBody(p.name, fit, body)
	if err != nil {
		return nil, notes, fmt.Errorf("preset %s: %w", p.name, err)
	}
	return out, notes, nil
}

// fitters are the presets' fitting functions, by preset name.
var fitters = map[string]func(doc map[string]any, f *fitting) error{
	PresetPagerDuty:      fitPagerDuty,
	PresetOpsgenie:       fitOpsgenie,
	PresetMSTeams:        fitTeams,
	PresetMattermost:     fitSlackCompatible(mmMaxTextRunes, mmMaxAttachmentsRunes),
	PresetRocketChat:     fitSlackCompatible(rcMaxTextRunes, rcMaxAttachmentsRunes),
	PresetGitHubDispatch: fitGitHubDispatch,
	PresetGitLabPipeline: fitGitLabPipeline,
	PresetCloudEvents:    fitCloudEvents,
}

func fitPagerDuty(doc map[string]any, f *fitting) error {
	f.cutBytes(doc, "dedup_key", pdMaxDedupKey, "dedup_key")
	payload, _ := doc["payload"].(map[string]any)
	if payload == nil {
		return nil
	}
	f.cut(payload, "summary", pdMaxSummaryRunes, "payload.summary")
	// Every text of the payload but its severity and timestamp may be cut, the longest first
	// (custom_details, where an event's long texts are); the size counts the whole event.
	return f.fitJSONSize(doc, payload, keysNotIn("severity", "timestamp"), pdMaxEventBytes, "event", payload, "custom_details")
}

func fitOpsgenie(doc map[string]any, f *fitting) error {
	f.cut(doc, "message", ogMaxMessageRunes, "message")
	f.cut(doc, "alias", ogMaxAliasRunes, "alias")
	f.cut(doc, "description", ogMaxDescriptionRunes, "description")
	f.cut(doc, "entity", ogMaxEntityRunes, "entity")
	f.cut(doc, "source", ogMaxSourceRunes, "source")
	f.cut(doc, "user", ogMaxUserRunes, "user")
	f.cut(doc, "note", ogMaxNoteRunes, "note")
	f.list(doc, "responders", ogMaxResponders, "responders")
	f.list(doc, "visibleTo", ogMaxResponders, "visibleTo entries")
	for _, l := range []struct {
		key         string
		count, size int
	}{{"tags", ogMaxTags, ogMaxTagRunes}, {"actions", ogMaxActions, ogMaxActionRunes}} {
		items := f.list(doc, l.key, l.count, l.key)
		cut := 0
		for i, v := range items {
			if s, ok := v.(string); ok && utf8.RuneCountInString(s) > l.size {
				items[i] = templates.Truncate(l.size, s)
				cut++
			}
		}
		if cut > 0 {
			f.note("%d %s cut to %d characters", cut, l.key, l.size)
		}
	}
	details, _ := doc["details"].(map[string]any)
	if details == nil {
		return nil
	}
	f.stringValues(details, "details")
	keys := 0
	for k := range details {
		keys += utf8.RuneCountInString(k)
	}
	if f.fitRunes(details, everything, keys, ogMaxDetailsRunes, "details") {
		return nil
	}
	// Too many keys for even one character each: keep the first ones (sorted, the event's own
	// first) that fit in half the limit, so their values share the other half.
	names := make([]string, 0, len(details))
	for k := range details {
		names = append(names, k)
	}
	slices.SortFunc(names, func(a, b string) int {
		return cmpBool(a == "event" || a == "event_id", b == "event" || b == "event_id", strings.Compare(a, b))
	})
	total, kept := 0, map[string]any{}
	for _, k := range names {
		v := details[k].(string)
		n := utf8.RuneCountInString(k) + min(utf8.RuneCountInString(v), 1)
		if total+n > ogMaxDetailsRunes/2 { // the other half is for their values
			continue
		}
		kept[k] = v
		total += n
	}
	f.note("%d details over the limit of %d characters left out", len(details)-len(kept), ogMaxDetailsRunes)
	doc["details"] = kept
	keys = 0
	for k := range kept {
		keys += utf8.RuneCountInString(k)
	}
	f.fitRunes(kept, everything, keys, ogMaxDetailsRunes, "details")
	return nil
}

// cmpBool orders a before b when a is first and b is not, else by then.
func cmpBool(a, b bool, then int) int {
	switch {
	case a && !b:
		return -1
	case b && !a:
		return 1
	}
	return then
}

func fitTeams(doc map[string]any, f *fitting) error {
	return f.fitJSONSize(doc, doc, keysIn("text", "value", "title", "fallbackText", "altText", "speak"), teamsMaxBytes, "message", nil, "")
}

// fitSlackCompatible fits a Mattermost or Rocket.Chat incoming-webhook message: text and the
// attachments' texts together.
func fitSlackCompatible(maxText, maxAttachments int) func(doc map[string]any, f *fitting) error {
	return func(doc map[string]any, f *fitting) error {
		f.cut(doc, "text", maxText, "text")
		if atts, ok := doc["attachments"].([]any); ok {
			if !f.fitRunes(atts, keysIn("text", "pretext", "fallback", "title", "value", "footer", "author_name"), 0, maxAttachments, "attachments' text") {
				return fmt.Errorf("attachments: too many fields to fit in %d characters", maxAttachments)
			}
		}
		return nil
	}
}

// ghMoreKey holds a client_payload's top-level properties past the tenth.
const ghMoreKey = "more"

func fitGitHubDispatch(doc map[string]any, f *fitting) error {
	f.cut(doc, "event_type", maxEventTypeLen, "event_type")
	payload, _ := doc["client_payload"].(map[string]any)
	if payload == nil {
		return nil
	}
	if len(payload) > ghMaxPayloadProperties {
		names := make([]string, 0, len(payload))
		for k := range payload {
			names = append(names, k)
		}
		slices.Sort(names)
		more := map[string]any{}
		for _, k := range names[ghMaxPayloadProperties-1:] {
			more[k] = payload[k]
			delete(payload, k)
		}
		payload[ghMoreKey] = more
		f.note("client_payload: %d top-level properties over the limit of %d moved under %q", len(more), ghMaxPayloadProperties, ghMoreKey)
	}
	base := jsonSize(payload)
	if base <= ghMaxPayloadBytes {
		return nil
	}
	ss := slots(payload, "", everything)
	before, after, ok := shrink(ss, jsonMeasure(ss, base), ghMaxPayloadBytes)
	if ok {
		f.note("client_payload cut from %d to %d bytes (limit %d): %s", before, after, ghMaxPayloadBytes, cutFields(ss))
		return nil
	}
	text, err := marshal(payload)
	if err != nil {
		return err
	}
	obj := map[string]any{"truncated_json": string(text)}
	doc["client_payload"] = obj
	ss = slots(obj, "", everything)
	if _, after, ok = shrink(ss, jsonMeasure(ss, jsonSize(obj)), ghMaxPayloadBytes); !ok {
		return fmt.Errorf("client_payload is %d bytes, over the limit of %d", before, ghMaxPayloadBytes)
	}
	f.note("client_payload cut from %d to %d bytes (limit %d): sent as the start of its JSON text", before, after, ghMaxPayloadBytes)
	return nil
}

func fitGitLabPipeline(doc map[string]any, f *fitting) error {
	vars, _ := doc["variables"].(map[string]any)
	if vars == nil {
		return nil
	}
	f.stringValues(vars, "variables")
	f.renameKeys(vars, keyRule{
		valid:  func(k string) bool { return k != "" && len(k) <= glMaxKeyLen && !glKeyInvalid.MatchString(k) },
		fix:    func(k string) string { return glKeyInvalid.ReplaceAllString(k, "_") },
		max:    glMaxKeyLen,
		noun:   "variable",
		why:    "its key is not valid and no valid form is free",
		allows: "A-Z, a-z, 0-9 and _",
	})
	if len(vars) > glMaxVariables {
		names := make([]string, 0, len(vars))
		for k := range vars {
			names = append(names, k)
		}
		slices.SortFunc(names, func(a, b string) int {
			return cmpBool(glBuiltin(a), glBuiltin(b), strings.Compare(a, b))
		})
		for _, k := range names[glMaxVariables:] {
			delete(vars, k)
		}
		f.note("%d variables over the limit of %d left out", len(names)-glMaxVariables, glMaxVariables)
	}
	var cut []string
	for k := range vars {
		if s := vars[k].(string); len(s) > glMaxValueBytes {
			vars[k] = truncateBytes(s, glMaxValueBytes)
			cut = append(cut, k)
		}
	}
	if len(cut) > 0 {
		slices.Sort(cut)
		n := len(cut)
		if n > 5 {
			cut = append(cut[:5], "…")
		}
		f.note("%d variables cut to %d bytes: %s", n, glMaxValueBytes, strings.Join(cut, ", "))
	}
	ss := slots(vars, "", everything)
	keys := 0
	for k := range vars {
		keys += len(k)
	}
	before, after, ok := shrink(ss, byteMeasure(ss, keys), glMaxVariablesSize)
	if !ok {
		return fmt.Errorf("variables: %d bytes, over the limit of %d", before, glMaxVariablesSize)
	}
	if before > glMaxVariablesSize {
		f.note("variables cut from %d to %d bytes in all (limit %d): %s", before, after, glMaxVariablesSize, cutFields(ss))
	}
	return nil
}

// glBuiltin says whether name is one of the variables every pipeline gets from the built-in
// template (kept first when some must be left out).
func glBuiltin(name string) bool {
	return slices.Contains([]string{"CORTEX_EVENT", "CORTEX_EVENT_ID", "CORTEX_TIMESTAMP", "CORTEX_PAYLOAD"}, name)
}

// ceAttributeName is the form of a CloudEvents attribute name.
var ceAttributeName = regexp.MustCompile(`^[a-z0-9]+$`)

// fitCloudEvents fits a CloudEvent; a body without specversion is not one (a digest's JSON,
// which generic receivers take as it is) and is left alone.
func fitCloudEvents(doc map[string]any, f *fitting) error {
	if _, ok := doc["specversion"]; !ok {
		return nil
	}
	f.renameKeys(doc, keyRule{
		valid: func(k string) bool { return ceAttributeName.MatchString(k) && len(k) <= ceMaxAttributeName },
		fix: func(k string) string {
			return strings.Map(func(r rune) rune {
				switch {
				case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
					return r
				case r >= 'A' && r <= 'Z':
					return r + ('a' - 'A')
				}
				return -1
			}, k)
		},
		max:    ceMaxAttributeName,
		noun:   "attribute",
		why:    "not a valid CloudEvents attribute name",
		allows: "lower-case letters and digits",
	})
	data, ok := doc["data"]
	if !ok {
		return f.fitJSONSize(doc, doc, keysNotIn("specversion", "type", "source", "id", "time", "datacontenttype", "dataschema", "subject"), ceMaxEventBytes, "event", nil, "")
	}
	return f.fitJSONSize(doc, data, everything, ceMaxEventBytes, "event", doc, "data")
}
