package file

import (
	"bytes"
	"encoding/json"
)

// appendLine appends l to dst as one audit line ending in "\n", with l.Event compacted, and
// returns the extended slice; the error is json.Compact's when l.Event is not valid JSON, or
// received_at's when its year is outside 0–9999. The line is byte for byte what json.Encoder
// with SetEscapeHTML(false) writes for l (the event's text kept as sent: no \u003c for "<"),
// but the event is compacted once: the Encoder compacts a json.RawMessage again after
// json.Compact has, a second pass over an event of up to ingest.max_body_bytes (1 MiB by
// default) for every audit line.
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
	buf := bytes.NewBuffer(dst)
	buf.Grow(len(`{"received_at":,"event":,`) + len(at) + len(l.Event) + tail.Len())
	buf.WriteString(`{"received_at":`)
	buf.Write(at)
	buf.WriteString(`,"event":`)
	if err := json.Compact(buf, l.Event); err != nil {
		return dst, err
	}
	buf.WriteByte(',')
	buf.Write(tail.Bytes()[1:])
	return buf.Bytes(), nil
}
