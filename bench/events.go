package bench

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/cortexbridge/cortex-bridge/samples"
)

// SentField is the data field that carries the generator's send time (Unix nanoseconds). The
// bridge passes unknown data fields through and the webhook target forwards the original body,
// so the receiver reads it back without shared state.
const SentField = "bench_sent_ns"

// Source makes unique event bodies from recorded events: event i of the run is recorded event
// i mod n with id "<prefix><i>", its timestamp set to now and SentField first in data.
//
// A body is laid out as
//
//	{"id":"<prefix><seq>","event":"<type>","timestamp":"<RFC 3339 ms>","data":{"bench_sent_ns":<ns>,<the recorded data fields>}}
//
// so that the receiver finds the id and the send time with a byte scan instead of a JSON parse.
type Source struct {
	prefix string
	events []template
}

type template struct {
	typ  string
	mid  string // `","event":"<type>","timestamp":"`
	tail string // `,<recorded data fields>}}` or `}}`
}

// LoadEvents reads recorded events: every non-empty line of a .jsonl file, or the single event
// of any other file. An empty path gives the six embedded samples.
func LoadEvents(path string) ([][]byte, error) {
	if path == "" {
		var out [][]byte
		for _, typ := range samples.Types() {
			b, err := samples.Get(typ)
			if err != nil {
				return nil, err
			}
			out = append(out, b)
		}
		return out, nil
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("events: %w", err)
	}
	if !strings.EqualFold(filepath.Ext(path), ".jsonl") {
		return [][]byte{raw}, nil
	}
	var out [][]byte
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for sc.Scan() {
		if line := bytes.TrimSpace(sc.Bytes()); len(line) > 0 {
			out = append(out, bytes.Clone(line))
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("events: %s: %w", path, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("events: %s holds no event", path)
	}
	return out, nil
}

// NewSource builds a Source from recorded event bodies (each a JSON object with "event" and a
// "data" object). prefix starts every id; it must be unique per run so that ids never collide
// with a previous run's stored events.
func NewSource(bodies [][]byte, prefix string) (*Source, error) {
	if len(bodies) == 0 {
		return nil, errors.New("events: none given")
	}
	s := &Source{prefix: prefix}
	for i, b := range bodies {
		var env struct {
			Event string          `json:"event"`
			Data  json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(b, &env); err != nil {
			return nil, fmt.Errorf("events: event %d: %w", i+1, err)
		}
		if env.Event == "" {
			return nil, fmt.Errorf("events: event %d has no \"event\"", i+1)
		}
		var data bytes.Buffer
		if err := json.Compact(&data, env.Data); err != nil || data.Len() < 2 || data.Bytes()[0] != '{' {
			return nil, fmt.Errorf("events: event %d: data must be an object", i+1)
		}
		typ, _ := json.Marshal(env.Event)
		t := template{
			typ:  env.Event,
			mid:  `","event":` + string(typ) + `,"timestamp":"`,
			tail: "}}",
		}
		if inner := data.Bytes()[1 : data.Len()-1]; len(inner) > 0 {
			t.tail = "," + string(inner) + "}}"
		}
		s.events = append(s.events, t)
	}
	return s, nil
}

// Prefix is the id prefix of every body.
func (s *Source) Prefix() string { return s.prefix }

// Len is the number of recorded events the source cycles through.
func (s *Source) Len() int { return len(s.events) }

// Append appends the body of event seq, stamped with now, to dst and returns it with the
// event's type.
func (s *Source) Append(dst []byte, seq uint64, now time.Time) ([]byte, string) {
	t := &s.events[seq%uint64(len(s.events))]
	dst = append(dst, `{"id":"`...)
	dst = append(dst, s.prefix...)
	dst = strconv.AppendUint(dst, seq, 10)
	dst = append(dst, t.mid...)
	dst = now.UTC().AppendFormat(dst, "2006-01-02T15:04:05.000Z07:00")
	dst = append(dst, `","data":{"`+SentField+`":`...)
	dst = strconv.AppendInt(dst, now.UnixNano(), 10)
	dst = append(dst, t.tail...)
	return dst, t.typ
}

// ParseID returns the sequence number of id "<prefix><seq>"; ok is false for another id.
func ParseID(id []byte, prefix string) (seq uint64, ok bool) {
	if !bytes.HasPrefix(id, []byte(prefix)) {
		return 0, false
	}
	return parseUint(id[len(prefix):])
}

// ParseBody reads the sequence number and send time from a body made by Append (or the same
// event as forwarded by the bridge, byte for byte). ok is false for any other body.
func ParseBody(body []byte, prefix string) (seq uint64, sentNS int64, ok bool) {
	const head = `{"id":"`
	if !bytes.HasPrefix(body, []byte(head)) {
		return 0, 0, false
	}
	rest := body[len(head):]
	end := bytes.IndexByte(rest, '"')
	if end < 0 {
		return 0, 0, false
	}
	if seq, ok = ParseID(rest[:end], prefix); !ok {
		return 0, 0, false
	}
	const field = `"data":{"` + SentField + `":`
	i := bytes.Index(rest[end:], []byte(field))
	if i < 0 {
		return 0, 0, false
	}
	num := rest[end+i+len(field):]
	n := 0
	for n < len(num) && num[n] >= '0' && num[n] <= '9' {
		n++
	}
	ns, ok := parseUint(num[:n])
	if !ok {
		return 0, 0, false
	}
	return seq, int64(ns), true
}

// parseUint parses a non-empty run of decimal digits without allocating.
func parseUint(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	return n, true
}

// idInAnswer finds the "id" of a JSON answer such as {"deliveries":2,"id":"…","status":"accepted"}.
func idInAnswer(body []byte, prefix string) (uint64, bool) {
	key := []byte(`"id":"` + prefix)
	i := bytes.Index(body, key)
	if i < 0 {
		return 0, false
	}
	rest := body[i+len(key):]
	end := bytes.IndexByte(rest, '"')
	if end < 0 {
		return 0, false
	}
	return parseUint(rest[:end])
}
