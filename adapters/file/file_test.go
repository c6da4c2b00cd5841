package file_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/adapters/adaptertest"
	"github.com/cortexbridge/cortex-bridge/adapters/file"
	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/notify"
)

func readLines(t *testing.T, path string) []file.Line {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var out []file.Line
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l file.Line
		require.NoError(t, json.Unmarshal(sc.Bytes(), &l), "every line is one JSON object: %s", sc.Text())
		out = append(out, l)
	}
	require.NoError(t, sc.Err())
	return out
}

func TestNotifyAppendsOneLinePerDelivery(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "sub", "audit.jsonl")
	n, err := file.New(&file.Config{Path: path})
	require.NoError(t, err)
	defer n.Close()

	msg := adaptertest.Message(t) // the seed's pretty-printed issue.critical
	require.NoError(t, n.Notify(context.Background(), msg))
	lines := readLines(t, path)
	require.Len(t, lines, 1)
	require.Equal(t, "r", lines[0].Route)
	require.Equal(t, msg.DeliveryID, lines[0].DeliveryID)
	var ev map[string]any
	require.NoError(t, json.Unmarshal(lines[0].Event, &ev))
	require.Equal(t, "evt_1234567891", ev["id"])
	require.NotContains(t, string(lines[0].Event), "\n", "the event is compacted onto the line")

	st, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
}

func TestNotifyConcurrentLinesNeverInterleave(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	n, err := file.New(&file.Config{Path: path})
	require.NoError(t, err)
	defer n.Close()
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			msg := adaptertest.Message(t)
			msg.DeliveryID = fmt.Sprint("d", i)
			require.NoError(t, n.Notify(context.Background(), msg))
		})
	}
	wg.Wait()
	lines := readLines(t, path)
	require.Len(t, lines, 50)
	seen := map[string]bool{}
	for _, l := range lines {
		seen[l.DeliveryID] = true
	}
	require.Len(t, seen, 50)
}

// TestCase_C13_AuditLineRoundTrips: text with quotes, newlines and markup survives exactly.
func TestCase_C13_AuditLineRoundTrips(t *testing.T) {
	t.Parallel()
	titles := []string{"disk \"full\"\nnext", "a<b & c>", "<script>alert(1)</script>", "O'Brien"}
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	n, err := file.New(&file.Config{Path: path})
	require.NoError(t, err)
	defer n.Close()
	for _, title := range titles {
		body, err := json.Marshal(map[string]any{"event": "issue.critical", "id": title, "timestamp": "2026-01-01T00:00:00Z",
			"data": map[string]any{"scan_id": "s", "issue_id": "i", "severity": "critical", "title": title}})
		require.NoError(t, err)
		ev, err := event.Parse(body)
		require.NoError(t, err)
		require.NoError(t, n.Notify(context.Background(), &notify.Message{DeliveryID: "d", Event: ev, Events: []*event.Event{ev}}))
	}
	lines := readLines(t, path)
	require.Len(t, lines, len(titles))
	for i, l := range lines {
		var ev struct {
			Data struct {
				Title string `json:"title"`
			} `json:"data"`
		}
		require.NoError(t, json.Unmarshal(l.Event, &ev))
		require.Equal(t, titles[i], ev.Data.Title)
	}
}

func TestNewRefusesBadPath(t *testing.T) {
	t.Parallel()
	_, err := file.New(&file.Config{})
	require.ErrorContains(t, err, "path: required")
	dir := t.TempDir()
	_, err = file.New(&file.Config{Path: dir})
	require.ErrorContains(t, err, "path:", "a directory is not a file")
}

func TestNotifyHonoursCancelledContext(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	n, err := file.New(&file.Config{Path: path})
	require.NoError(t, err)
	defer n.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = n.Notify(ctx, adaptertest.Message(t))
	var de *notify.DeliveryError
	require.ErrorAs(t, err, &de)
	require.True(t, de.Retryable)
	require.Empty(t, readLines(t, path))
}

// TestRotationReopensThePath: after the file is moved or removed, the next line goes to a new
// file at the configured path.
func TestRotationReopensThePath(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.jsonl")
	n, err := file.New(&file.Config{Path: path})
	require.NoError(t, err)
	defer n.Close()
	msg := adaptertest.Message(t)
	require.NoError(t, n.Notify(context.Background(), msg))
	require.NoError(t, os.Rename(path, path+".1"))
	require.NoError(t, n.Notify(context.Background(), msg))
	require.Len(t, readLines(t, path), 1, "the moved file is not written to again")
	require.Len(t, readLines(t, path+".1"), 1)
	require.NoError(t, os.Remove(path))
	require.NoError(t, n.Notify(context.Background(), msg))
	require.Len(t, readLines(t, path), 1, "a removed file is recreated")
}

// TestLineKeepsMarkup: "<" and "&" in an event stay as sent in the audit line.
func TestLineKeepsMarkup(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	n, err := file.New(&file.Config{Path: path})
	require.NoError(t, err)
	defer n.Close()
	ev, err := event.Parse([]byte(`{"event":"x","id":"a<b&c","timestamp":"2026-01-01T00:00:00Z","data":{}}`))
	require.NoError(t, err)
	require.NoError(t, n.Notify(context.Background(), &notify.Message{DeliveryID: "d", Event: ev, Events: []*event.Event{ev}}))
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Contains(t, string(b), `"id":"a<b&c"`)
}

// newAudit opens a notifier on a new file, closed at the end of the test, and returns it and
// the file's path.
func newAudit(t *testing.T) (*file.Notifier, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	n, err := file.New(&file.Config{Path: path})
	require.NoError(t, err)
	t.Cleanup(func() { _ = n.Close() })
	return n, path
}

// TestLineIsWhatTheEncoderWrites: the audit line is byte for byte what json.Encoder (HTML left
// unescaped) writes for the Line with the event put through json.Compact, whatever the event's
// whitespace, escapes, numbers, markup, separators or invalid bytes and whatever the route,
// target and delivery id hold; a raw event json.Compact refuses is refused, and nothing written.
func TestLineIsWhatTheEncoderWrites(t *testing.T) {
	t.Parallel()
	deep := strings.Repeat(`{"a":`, 200) + "1" + strings.Repeat("}", 200)
	tests := map[string]struct {
		raw               string
		route, deliveryID string
	}{
		"pretty-printed": {raw: "{\n  \"event\": \"x\",\n\t\"id\": \"e1\",\r\n \"timestamp\": \"2026-01-01T00:00:00Z\",\n \"data\": { \"n\": 1.50, \"list\": [ 1 , 2 ] }\n}\n",
			route: "r", deliveryID: "d"},
		"markup and separators": {raw: `{"event":"x","id":"<a>&amp;` + "\u2028\u2029" + `","data":{"t":"é \u00e9 \" \\ \n \/ \ud800 \uDFFF"}}`,
			route: "r<&>" + "\u2028", deliveryID: "d\"\n"},
		"numbers as written":    {raw: `{"n":[-0, 1E+5, 1e-05, 0.10, 123456789012345678901234567890, -1.0e0]}`},
		"surrounding space":     {raw: " \t\r\n {} \n "},
		"invalid UTF-8":         {raw: "{\"t\":\"\xff\xfe a\"}"},
		"duplicate names":       {raw: `{"a":1, "a":2}`},
		"200 levels":            {raw: deep},
		"not an object":         {raw: `[1, "two", null, true, false]`},
		"empty strings":         {raw: `{"":""}`},
		"refused: truncated":    {raw: `{"a":`},
		"refused: trailing":     {raw: `{"a":1} x`},
		"refused: two values":   {raw: `{} {}`},
		"refused: leading zero": {raw: `{"a":01}`},
		"refused: comma":        {raw: `[1,]`},
		"refused: bad escape":   {raw: `{"a":"\x"}`},
		"refused: short escape": {raw: `{"a":"\u12"}`},
		"refused: control byte": {raw: "{\"a\":\"\x01\"}"},
		"refused: bare word":    {raw: `{"a":nul}`},
		"refused: empty":        {raw: ``},
		"refused: only space":   {raw: ` `},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			n, path := newAudit(t)
			ev := &event.Event{ID: "e1", Raw: []byte(tt.raw), ReceivedAt: time.Date(2026, 1, 2, 3, 4, 5, 600, time.UTC)}
			msg := &notify.Message{DeliveryID: tt.deliveryID, Target: "audit\t<x>", Route: tt.route, Event: ev, Events: []*event.Event{ev}}
			err := n.Notify(context.Background(), msg)
			got, rerr := os.ReadFile(path)
			require.NoError(t, rerr)

			var compact bytes.Buffer
			if json.Compact(&compact, ev.Raw) != nil {
				var de *notify.DeliveryError
				require.ErrorAs(t, err, &de, "json.Compact refuses it")
				require.Equal(t, notify.ReasonClientError, de.Reason)
				require.Empty(t, got)
				return
			}
			require.NoError(t, err)
			var want bytes.Buffer
			enc := json.NewEncoder(&want)
			enc.SetEscapeHTML(false)
			require.NoError(t, enc.Encode(file.Line{ReceivedAt: ev.ReceivedAt, Event: compact.Bytes(), Route: msg.Route,
				Target: msg.Target, DeliveryID: msg.DeliveryID}))
			require.Equal(t, want.String(), string(got))
		})
	}
}

// TestNotifyRefusesUnwritableLines: an event whose raw body is not JSON, or a received_at
// JSON cannot hold, is a client error and writes nothing.
func TestNotifyRefusesUnwritableLines(t *testing.T) {
	t.Parallel()
	tests := map[string]func(ev *event.Event){
		"raw not JSON":      func(ev *event.Event) { ev.Raw = []byte(`{"a":`) },
		"year out of range": func(ev *event.Event) { ev.ReceivedAt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) },
	}
	for name, spoil := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			n, path := newAudit(t)
			msg := adaptertest.Message(t)
			spoil(msg.Event)
			err := n.Notify(context.Background(), msg)
			var de *notify.DeliveryError
			require.ErrorAs(t, err, &de)
			require.Equal(t, notify.ReasonClientError, de.Reason)
			require.False(t, de.Retryable)
			require.Empty(t, readLines(t, path))
		})
	}
}
