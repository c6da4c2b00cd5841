package silences

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/event"
)

// muteSlack is how much earlier than asked an existing silence of the same finding may end and
// still count as the one a Mute asks for.
const muteSlack = 5 * time.Minute

// MuteRule is the rule of a silence that mutes "this finding" of ev (Slack's Mute button, the
// dashboard's "Silence similar"). fingerprint is ev's finding's (core.FindingsPolicy.FingerprintOf;
// "" when the bridge does not track ev's finding); scan is the scan context recorded for ev's
// scan (event.Scan; zero when none). With a fingerprint the rule follows the finding across
// scans and event types: fingerprint == …; of the repository and branch (ev's, else its scan's,
// when known) an event that names one must name the same; any event type but finding.fixed
// (muting a finding does not hide that it was fixed; muting a finding.fixed mutes those only).
// Without a fingerprint: the same event type, repository, title and file. A value too long for
// the rule to fit MaxRuleBytes is matched by its prefix (is).
func MuteRule(ev *event.Event, fingerprint string, scan event.Scan) string {
	if fingerprint != "" {
		parts := []string{is("fingerprint", fingerprint)}
		// An event that names a repository or branch must name this one; Cortex's
		// issue.critical often names neither (its scan's other events do).
		for _, f := range []struct{ name, scan string }{{"repo_url", scan.RepoURL}, {"branch", scan.Branch}} {
			v := ev.String(f.name)
			if v == "" {
				v = f.scan
			}
			if v != "" {
				parts = append(parts, "("+f.name+" == nil || "+is(f.name, v)+")")
			}
		}
		if ev.Type == core.EventFindingFixed {
			parts = append(parts, "event == "+quote(ev.Type))
		} else {
			parts = append(parts, "event != "+quote(core.EventFindingFixed))
		}
		return strings.Join(parts, " && ")
	}
	parts := []string{is("event", ev.Type)}
	for _, f := range []string{"repo_url", "title", "file"} {
		if v := ev.String(f); v != "" {
			parts = append(parts, is(f, v))
		}
	}
	if len(parts) == 1 { // nothing identifies a finding: mute this event only
		parts = append(parts, "id == "+quote(ev.ID))
	}
	return strings.Join(parts, " && ")
}

// MuteRuleOf is MuteRule of ev with its fingerprint per the findings policy in force (Findings)
// and, when it has one, the scan context recorded for its scan (Store.Scans). Errors are the
// store's.
func (s *Service) MuteRuleOf(ctx context.Context, ev *event.Event) (string, error) {
	var p core.FindingsPolicy
	if s.Findings != nil {
		p = s.Findings()
	}
	fp := p.FingerprintOf(ev)
	var scan event.Scan
	if fp != "" {
		if id := ev.String("scan_id"); id != "" {
			scans, err := s.Store.Scans(ctx, []string{id})
			if err != nil {
				return "", err
			}
			scan = scans[id]
		}
	}
	return MuteRule(ev, fp, scan), nil
}

// quote makes v a string literal of the rule language (its escapes are Go's).
func quote(v string) string { return fmt.Sprintf("%q", v) }

// maxMuteLiteral bounds one value's literal in a mute rule (bytes, quotes and escapes
// included): the at most four values of MuteRule then fit MaxRuleBytes with their operators.
const maxMuteLiteral = 960

// is is the rule's test that field name equals v: `name == "v"`, or, when v's literal is over
// maxMuteLiteral bytes (a huge title, file or repository), `name startsWith "…"` with v's
// longest prefix (whole runes) whose literal fits, so the rule stays within MaxRuleBytes and
// still tells this finding from others.
func is(name, v string) string {
	if q := quote(v); len(q) <= maxMuteLiteral {
		return name + " == " + q
	}
	// The longest fitting prefix: quote's length grows with the prefix and is at least its
	// length, so no prefix longer than maxMuteLiteral fits (the search never quotes more).
	lo, hi := 0, min(len(v), maxMuteLiteral)
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if len(quote(prefixRunes(v, mid))) <= maxMuteLiteral {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return name + " startsWith " + quote(prefixRunes(v, lo))
}

// prefixRunes is v cut to at most n bytes, at a rune boundary.
func prefixRunes(v string, n int) string {
	for n > 0 && n < len(v) && !utf8.RuneStart(v[n]) {
		n--
	}
	return v[:n]
}

// Acknowledge records that user (id and name, from source, e.g. "slack") acknowledged event
// eventID, with an audit entry. core.ErrNotFound when the event is not stored.
func (s *Service) Acknowledge(ctx context.Context, eventID, source, userID, userName string) error {
	s.defaults()
	now := s.NowFunc().UTC().Truncate(time.Millisecond) // as stored
	actor := actorOf(source, userID, userName)
	return s.Store.Acknowledge(ctx, core.Acknowledgement{EventID: eventID, UserID: userID, UserName: userName, Source: source, At: now},
		s.audit(now, actor, core.AuditEventAcknowledge, eventID, "acknowledged"))
}

// Mute creates a silence of the finding of event eventID (MuteRuleOf) for d, on behalf of user,
// with audit entries for the silence and the event; it returns the silence. When an active
// silence of the same finding already lasts that long (within 5 minutes), it returns that one
// and creates nothing: double clicks and replayed requests mute once.
// core.ErrNotFound when the event is not stored (another error when its stored body no longer
// parses); FieldErrors when d is out of range.
func (s *Service) Mute(ctx context.Context, eventID, source, userID, userName string, d time.Duration) (*core.Silence, error) {
	s.defaults()
	ev, err := s.Store.Event(ctx, eventID)
	if err != nil {
		return nil, err
	}
	rule, err := s.MuteRuleOf(ctx, ev)
	if err != nil {
		return nil, err
	}
	return s.create(ctx, Input{When: rule, Duration: d.String(), Comment: "muted from " + source + " (event " + eventID + ")"},
		actorOf(source, userID, userName), core.AuditEventMute, eventID)
}

// Acknowledgements lists who acknowledged event eventID and when, oldest first.
func (s *Service) Acknowledgements(ctx context.Context, eventID string) ([]core.Acknowledgement, error) {
	return s.Store.Acknowledgements(ctx, eventID)
}

func actorOf(source, id, name string) string {
	if name == "" {
		return source + ":" + id
	}
	return source + ":" + id + " (" + name + ")"
}
