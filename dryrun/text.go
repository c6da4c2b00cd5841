package dryrun

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/notify"
	"github.com/cortexbridge/cortex-bridge/rules"
)

// WriteRouteVerdict prints "route NAME: matched" (or why not) and the rule's explanation tree,
// each line prefixed by indent, as `cortex-bridge route --explain` shows it.
func WriteRouteVerdict(out io.Writer, v rules.RouteVerdict, indent string) {
	r := v.Route
	switch {
	case v.StoppedBy != "":
		fmt.Fprintf(out, "%sroute %s: not evaluated (route %s above matched and has stop: true)\n", indent, r.Name, v.StoppedBy)
		fmt.Fprintf(out, "%s  when: %s\n", indent, r.When)
		return
	case v.Explanation.Err != nil:
		fmt.Fprintf(out, "%sroute %s: not matched (the rule failed at run time)\n", indent, r.Name)
	case v.Matched && r.Stop:
		fmt.Fprintf(out, "%sroute %s: matched (stop: true, later routes are not evaluated)\n", indent, r.Name)
	case v.Matched:
		fmt.Fprintf(out, "%sroute %s: matched\n", indent, r.Name)
	default:
		fmt.Fprintf(out, "%sroute %s: not matched\n", indent, r.Name)
	}
	fmt.Fprint(out, v.Explanation.Text(indent+"  "))
}

// WriteDigestVerdict prints whether digest d collects the event, with its rule's explanation,
// each line prefixed by indent.
func WriteDigestVerdict(out io.Writer, d Digest, indent string) {
	e := d.Explanation
	if e == nil {
		fmt.Fprintf(out, "%sdigest %s: collects this event (no when: rule, it collects every event)\n", indent, d.Spec.Name)
		return
	}
	switch {
	case e.Err != nil:
		fmt.Fprintf(out, "%sdigest %s: does not collect this event (the rule failed at run time)\n", indent, d.Spec.Name)
	case e.Matched:
		fmt.Fprintf(out, "%sdigest %s: collects this event\n", indent, d.Spec.Name)
	default:
		fmt.Fprintf(out, "%sdigest %s: does not collect this event\n", indent, d.Spec.Name)
	}
	fmt.Fprint(out, e.Text(indent+"  "))
}

// WriteMessage prints a rendered message for t, each line indented by four spaces: its subject,
// its body (JSON indented; the original event when the target sends it unchanged; a note for the
// audit file's record) and the size of its HTML part.
func WriteMessage(out io.Writer, t *core.Target, msg *notify.Message) {
	if msg.Subject != "" {
		fmt.Fprintf(out, "    subject: %s\n", msg.Subject)
	}
	body := msg.Body
	switch {
	case body == nil && t.Format == notify.FormatNone:
		fmt.Fprintln(out, "    (audit record of the original event)")
		return
	case body == nil:
		body = msg.Event.Raw
		fmt.Fprintln(out, "    body: the original event, unchanged")
	}
	var pretty bytes.Buffer
	if t.Format == notify.FormatJSON && json.Indent(&pretty, body, "    ", "  ") == nil {
		fmt.Fprintf(out, "    %s\n", pretty.Bytes())
	} else {
		for _, l := range bytes.Split(bytes.TrimRight(body, "\n"), []byte("\n")) {
			fmt.Fprintf(out, "    %s\n", l)
		}
	}
	if msg.HTML != "" {
		fmt.Fprintf(out, "    html: %d bytes\n", len(msg.HTML))
	}
}

// WriteSent prints what t would send: "sends N bytes (type), exactly:" and then the bytes as
// they are, unindented and byte for byte (credentials redacted), ending with a newline; or the
// error that stops the target before sending; nothing when the target cannot say (disabled).
func WriteSent(out io.Writer, t *Target) {
	for _, n := range notesOf(t) {
		fmt.Fprintf(out, "    (fitted: %s)\n", n)
	}
	switch {
	case t.SendErr != nil:
		fmt.Fprintf(out, "    would not send: %v\n", t.SendErr)
	case t.Sent != nil:
		fmt.Fprintf(out, "    sends %d bytes (%s), exactly:\n", len(t.Sent.Body), t.Sent.ContentType)
		_, _ = out.Write(t.Sent.Body)
		if !bytes.HasSuffix(t.Sent.Body, []byte("\n")) {
			fmt.Fprintln(out)
		}
	}
}

func notesOf(t *Target) []string {
	if t.Message == nil {
		return nil
	}
	return t.Message.Notes
}
