package file

import (
	"bytes"
	"encoding/json"
	"slices"

	"github.com/go-json-experiment/json/jsontext"
)

// appendLine appends l to dst as one audit line ending in "\n", with l.Event compacted, and
// returns the extended slice; the error is the compaction's when l.Event is not valid JSON, or
// received_at's when its year is outside 0–9999. The line is byte for byte what json.Encoder
// with SetEscapeHTML(false) writes for l after json.Compact of l.Event (the event's text kept as
// sent: no \u003c for "<"), in one compaction, not two (the Encoder compacts a
// json.RawMessage again), and with jsontext's compaction, which keeps strings and numbers as
// written like json.Compact but skips through strings instead of stepping a state machine over
// each byte: 4 ms for a 1 MiB string against 26 ms (BENCHMARKS.md, hostile input).
func appendLine(dst []byte, l Line) ([]byte, error) {
	at, err := l.ReceivedAt.MarshalJSON()
	if err != nil {
		return dst, err
	}
	var tail bytes.Buffer
	enc := json.NewEncoder(&tail)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(struct {
		Route      string `json:"route"`
		Target     string `json:"target"`
		DeliveryID string `json:"delivery_id"`
	}{l.Route, l.Target, l.DeliveryID}) // {"route":…,"target":…,"delivery_id":…}\n; strings always encode
	line := slices.Grow(dst, len(`{"received_at":,"event":,`)+len(at)+len(l.Event)+tail.Len())
	line = append(append(append(line, `{"received_at":`...), at...), `,"event":`...)
	start := len(line)
	ev := jsontext.Value(append(line, l.Event...)[start:])
	if err := ev.Compact(); err != nil {
		return dst, err
	}
	line = append(line, ev...) // ev is compacted in place, where it was appended
	line = append(line, ',')
	return append(line, tail.Bytes()[1:]...), nil
}
