package event_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/samples"
)

func TestParseEventSeedsByteExact(t *testing.T) {
	t.Parallel()
	b, err := samples.Get("scan.completed")
	require.NoError(t, err)
	ev, err := event.Parse(b)
	require.NoError(t, err)
	require.Equal(t, "scan.completed", ev.Type)
	require.Equal(t, "evt_1234567890", ev.ID)
	require.True(t, time.Date(2024, 1, 1, 12, 0, 0, 0, time.UTC).Equal(ev.Timestamp))
	require.Equal(t, map[string]any{
		"scan_id": "scan_abc123", "repo_url": "https://github.com/user/repo", "status": "completed",
		"score": float64(85), "issues_count": int64(12), "duration_seconds": float64(45),
	}, ev.Data)
	require.Equal(t, b, ev.Raw)

	b, err = samples.Get("issue.critical")
	require.NoError(t, err)
	ev, err = event.Parse(b)
	require.NoError(t, err)
	require.Equal(t, int64(42), ev.Data["line"])
	require.Equal(t, "SQL Injection Vulnerability", ev.String("title"))
	require.Nil(t, ev.Field("repo_url"), "a field the event lacks is absent, not a zero value")
}

func TestParseEventKeepsUnknownFields(t *testing.T) {
	t.Parallel()
	body := `{"event":"scan.completed","id":"e1","timestamp":"2024-01-01T12:00:00.123456789+02:00","extra":{"a":1},
		"data":{"scan_id":"s","score":70.5,"labels":{"team":"payments","k8s.ns":"prod"},"tags":["a",2]}}`
	ev, err := event.Parse([]byte(body))
	require.NoError(t, err)
	require.Equal(t, map[string]any{"team": "payments", "k8s.ns": "prod"}, ev.Data["labels"])
	require.Equal(t, []any{"a", int64(2)}, ev.Data["tags"])
	require.Equal(t, 70.5, ev.Data["score"])
	require.Equal(t, body, string(ev.Raw), "unknown top-level fields survive in Raw")
}

func TestParseEventErrors(t *testing.T) {
	t.Parallel()
	env := func(data string) string {
		return `{"event":"scan.completed","id":"e1","timestamp":"2024-01-01T12:00:00Z","data":` + data + `}`
	}
	tests := map[string]struct {
		body  string
		json  bool     // want ErrInvalidJSON
		paths []string // else: each field path must be named
	}{
		"empty":                     {body: ``, json: true},
		"truncated":                 {body: `{"event":`, json: true},
		"array":                     {body: `[1]`, json: true},
		"null":                      {body: `null`, json: true},
		"trailing garbage":          {body: env(`{"scan_id":"s"}`) + `x`, json: true},
		"two objects":               {body: env(`{"scan_id":"s"}`) + env(`{"scan_id":"s"}`), json: true},
		"missing everything":        {body: `{}`, paths: []string{"event: required", "id: required", "timestamp: required", "data: required"}},
		"id not string":             {body: `{"event":"x","id":5,"timestamp":"2024-01-01T12:00:00Z","data":{}}`, paths: []string{"id: must be a string"}},
		"id empty":                  {body: `{"event":"x","id":" ","timestamp":"2024-01-01T12:00:00Z","data":{}}`, paths: []string{"id: must not be empty"}},
		"timestamp without zone":    {body: `{"event":"x","id":"e","timestamp":"2024-01-01T12:00:00","data":{}}`, paths: []string{"timestamp: must be RFC 3339"}},
		"timestamp as unix seconds": {body: `{"event":"x","id":"e","timestamp":1704110400,"data":{}}`, paths: []string{"timestamp: must be a string"}},
		"data not object":           {body: `{"event":"x","id":"e","timestamp":"2024-01-01T12:00:00Z","data":[]}`, paths: []string{"data: must be an object"}},
		"data null":                 {body: `{"event":"x","id":"e","timestamp":"2024-01-01T12:00:00Z","data":null}`, paths: []string{"data: must be an object"}},
		"missing scan_id":           {body: env(`{"score":1}`), paths: []string{"data.scan_id: required for scan.completed"}},
		"null scan_id":              {body: env(`{"scan_id":null}`), paths: []string{"data.scan_id: required"}},
		"score as string":           {body: env(`{"scan_id":"s","score":"85"}`), paths: []string{"data.score: must be a number"}},
		"score over 100":            {body: env(`{"scan_id":"s","score":100.5}`), paths: []string{"data.score: must be between 0 and 100"}},
		"negative issues":           {body: env(`{"scan_id":"s","issues_count":-1}`), paths: []string{"data.issues_count: must be at least 0"}},
		"fractional issues":         {body: env(`{"scan_id":"s","issues_count":1.5}`), paths: []string{"data.issues_count: must be an integer"}},
		"repo_url not string":       {body: env(`{"scan_id":"s","repo_url":{}}`), paths: []string{"data.repo_url: must be a string"}},
		"several at once":           {body: env(`{"score":"x","duration_seconds":-1}`), paths: []string{"data.scan_id", "data.score", "data.duration_seconds"}},
		"issue without title": {body: `{"event":"issue.critical","id":"e","timestamp":"2024-01-01T12:00:00Z",
			"data":{"scan_id":"s","issue_id":"i","severity":"high","line":0}}`, paths: []string{"data.title: required", "data.line: must be at least 1"}},
		"progress over 100": {body: `{"event":"scan.progress","id":"e","timestamp":"2024-01-01T12:00:00Z",
			"data":{"scan_id":"s","progress":101}}`, paths: []string{"data.progress: must be between 0 and 100"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := event.Parse([]byte(tc.body))
			require.Error(t, err)
			if tc.json {
				require.ErrorIs(t, err, event.ErrInvalidJSON)
				return
			}
			var ie *event.InvalidError
			require.True(t, errors.As(err, &ie), "want *InvalidError, got %v", err)
			for _, p := range tc.paths {
				require.Contains(t, err.Error(), p)
			}
		})
	}
}

func TestParseEventAcceptsEdgeValues(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"unknown event type":        `{"event":"scan.queued","id":"e","timestamp":"2024-01-01T12:00:00Z","data":{"anything":true}}`,
		"many fraction digits":      `{"event":"x","id":"e","timestamp":"2024-01-01T12:00:00.123456789Z","data":{}}`,
		"offset zone":               `{"event":"x","id":"e","timestamp":"2024-01-01T12:00:00-07:30","data":{}}`,
		"optional null is absent":   `{"event":"scan.completed","id":"e","timestamp":"2024-01-01T12:00:00Z","data":{"scan_id":"s","score":null}}`,
		"integral float for an int": `{"event":"issue.critical","id":"e","timestamp":"2024-01-01T12:00:00Z","data":{"scan_id":"s","issue_id":"i","severity":"high","title":"t","line":42.0}}`,
		"boundaries":                `{"event":"scan.completed","id":"e","timestamp":"2024-01-01T12:00:00Z","data":{"scan_id":"s","score":0,"issues_count":0,"duration_seconds":0}}`,
	}
	for name, body := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ev, err := event.Parse([]byte(body))
			require.NoError(t, err)
			if strings.Contains(name, "null") {
				_, ok := ev.Data["score"]
				require.False(t, ok)
			}
			if strings.Contains(name, "integral") {
				require.Equal(t, int64(42), ev.Data["line"])
			}
		})
	}
}

func TestRepo(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"https://github.com/user/repo":             "user/repo",
		"https://github.com/user/repo.git":         "user/repo",
		"https://github.com/user/repo/":            "user/repo",
		"https://gitlab.com/group/sub/project":     "group/sub/project",
		"git@github.com:owner/name.git":            "owner/name",
		"ssh://git@bitbucket.org/team/service.git": "team/service",
		"git@github.com:":                          "",
		"user@host/owner/name":                     "user@host/owner/name", // no colon: not scp-like
		"owner:name@x/y":                           "owner:name@x/y",       // the @ after the colon
		"":                                         "",
	} {
		require.Equal(t, want, event.Repo(in), in)
	}
}

func TestRepoKey(t *testing.T) {
	t.Parallel()
	type key struct{ host, path string }
	for in, want := range map[string]key{
		"https://github.com/acme/api":           {"github.com", "acme/api"},
		"https://github.com/Acme/API.git/":      {"github.com", "acme/api"},
		"HTTPS://GitHub.com:443/acme/api/":      {"github.com", "acme/api"},
		"git@github.com:acme/api.git":           {"github.com", "acme/api"},
		"ssh://git@github.com/acme/api.git":     {"github.com", "acme/api"},
		"github.com/acme/api":                   {"github.com", "acme/api"},
		"gitlab.com/group/sub/project":          {"gitlab.com", "group/sub/project"},
		"acme/api":                              {"", "acme/api"},
		" acme/api.git ":                        {"", "acme/api"},
		"acme.io/api":                           {"", "acme.io/api"}, // a dotted owner, not a host
		"https://gitlab.example.com/group/sub/": {"gitlab.example.com", "group/sub"},
		"":                                      {"", ""},
	} {
		h, p := event.RepoKey(in)
		require.Equal(t, want, key{h, p}, in)
	}
}

func TestRepoMatcher(t *testing.T) {
	t.Parallel()
	const stored = "https://github.com/acme/api"
	sameRepo := func(query, stored string) bool { return event.RepoMatcher(query)(stored) }
	for query, want := range map[string]bool{
		"https://github.com/acme/api":      true,
		"https://github.com/acme/api/":     true,
		"https://github.com/acme/api.git":  true,
		"git@github.com:acme/api.git":      true,
		"acme/api":                         true,
		"ACME/Api":                         true,
		"https://gitlab.com/acme/api":      false, // another host
		"acme/api-v2":                      false,
		"acme":                             false,
		"https://github.com/acme/api/tree": false,
		"":                                 false,
	} {
		require.Equal(t, want, sameRepo(query, stored), query)
	}
}

// FuzzParseEvent: any body is accepted with a complete envelope or refused with a short error of
// one of the two kinds, never modified, and parsed the same way twice. Seeds, in
// testdata/fuzz/FuzzParseEvent, include the samples and hostile bodies: deep, wide, names
// repeated, invalid UTF-8, lone surrogates, numbers out of range.
func FuzzParseEvent(f *testing.F) {
	for _, typ := range samples.Types() {
		b, _ := samples.Get(typ)
		f.Add(b)
	}
	f.Add([]byte(`{"event":"x","id":"e","timestamp":"2024-01-01T12:00:00Z","data":{"n":1e400}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		raw := bytes.Clone(body)
		ev, err := event.Parse(body)
		require.Equal(t, raw, body, "the body is not modified")
		again, err2 := event.Parse(body)
		require.Equal(t, fmt.Sprint(err), fmt.Sprint(err2), "deterministic")
		if err != nil {
			var ie *event.InvalidError
			require.True(t, errors.Is(err, event.ErrInvalidJSON) || errors.As(err, &ie), "an error of a known kind: %v", err)
			require.Less(t, len(err.Error()), 8<<10, "errors stay short")
			return
		}
		require.Equal(t, ev.Data, again.Data)
		require.NotEmpty(t, ev.ID)
		require.NotEmpty(t, ev.Type)
		require.NotNil(t, ev.Data)
		require.False(t, ev.Timestamp.IsZero())
		require.True(t, json.Valid(body), "only JSON is accepted")
	})
}

// TestParseEventRejectsAmbiguousBodies: bodies that different JSON readers would understand
// differently are refused, so an id or event type can never be spoofed past the bridge.
func TestParseEventRejectsAmbiguousBodies(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		body string
		want string
	}{
		"duplicate id":                      {`{"event":"x","id":"a","id":"b","timestamp":"2024-01-01T12:00:00Z","data":{}}`, "key id appears twice"},
		"duplicate event":                   {`{"event":"scan.started","id":"a","timestamp":"2024-01-01T12:00:00Z","data":{},"event":"issue.critical"}`, "key event appears twice"},
		"duplicate data field":              {`{"event":"x","id":"a","timestamp":"2024-01-01T12:00:00Z","data":{"score":1,"score":99}}`, "key data.score appears twice"},
		"duplicate nested":                  {`{"event":"x","id":"a","timestamp":"2024-01-01T12:00:00Z","data":{"l":{"k":1,"k":2}}}`, "key data.l.k appears twice"},
		"duplicate in a list":               {`{"event":"x","id":"a","timestamp":"2024-01-01T12:00:00Z","data":{"l":[{"k":1},{"k":1,"k":2}]}}`, "key data.l.k appears twice"},
		"duplicate written with an escape":  {`{"event":"x","id":"a","timestamp":"2024-01-01T12:00:00Z","data":{"score":1,"\u0073core":2}}`, "key data.score appears twice"},
		"duplicate after a key with quotes": {`{"event":"x","id":"a","timestamp":"2024-01-01T12:00:00Z","data":{"a\"b":"{","k":"}","k":3}}`, "key data.k appears twice"},
		"a stray bracket after the body":    {`{"event":"x","id":"a","timestamp":"2024-01-01T12:00:00Z","data":{}} }`, "unexpected data after the JSON value"},
		"invalid UTF-8":                     {"{\"event\":\"x\",\"id\":\"a\xff\",\"timestamp\":\"2024-01-01T12:00:00Z\",\"data\":{}}", "not valid UTF-8"},
		"lone surrogate in id":              {`{"event":"x","id":"a\ud800","timestamp":"2024-01-01T12:00:00Z","data":{}}`, "id: contains U+FFFD"},
		"number out of range":               {`{"event":"x","id":"a","timestamp":"2024-01-01T12:00:00Z","data":{"n":1e400}}`, "data.n: number out of range"},
		"nested number too large":           {`{"event":"x","id":"a","timestamp":"2024-01-01T12:00:00Z","data":{"l":[1,-1e999]}}`, "data.l[1]: number out of range"},
		"line beyond 2^53": {`{"event":"issue.critical","id":"a","timestamp":"2024-01-01T12:00:00Z",
			"data":{"scan_id":"s","issue_id":"i","severity":"high","title":"t","line":1e300}}`, "data.line: must be an integer"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := event.Parse([]byte(tc.body))
			require.ErrorContains(t, err, tc.want)
		})
	}
	ev, err := event.Parse([]byte(`{"event":"x","id":"a","timestamp":"2024-01-01T12:00:00Z","data":{"a":{"k":1},"b":{"k":2},"list":[{"k":1},{"k":2}]}}`))
	require.NoError(t, err, "the same key in different objects is fine")
	require.Equal(t, "a", ev.ID)
}

// TestParseEventHostileBodies: every body up to the ingest limit built to be expensive is read in
// linear time and refused or accepted by the rules: nesting deeper than MaxNestingDepth and more
// than MaxValues values are refused with the limit named, everything else parses. (Before jsontext, the deep body built a
// key path at every level, 1.5 GB, and the many-keys body took 20 s: quadratic.)
func TestParseEventHostileBodies(t *testing.T) {
	t.Parallel()
	deeper := fmt.Sprintf("nest deeper than %d levels", event.MaxNestingDepth)
	tooMany := fmt.Sprintf("holds more than %d values", event.MaxValues)
	tests := map[string]string{ // "" = accepted
		"deep objects":           deeper,
		"deep arrays":            deeper,
		"many keys":              tooMany,
		"many keys outside data": tooMany,
		"objects outside data":   tooMany,
		"long array":             tooMany,
		"array of objects":       tooMany,
		"long string":            "",
		"numbers over range":     tooMany,
	}
	bodies := hostileBodies(1 << 20)
	require.Len(t, bodies, len(tests))
	for name, want := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			body := bodies[name]
			require.LessOrEqual(t, len(body), 1<<20)
			raw := bytes.Clone(body)
			start := time.Now()
			ev, err := event.Parse(body)
			require.Less(t, time.Since(start), 10*time.Second, "used to take 20 s or 1.5 GB")
			require.Equal(t, raw, body, "the body is not modified")
			if want == "" {
				require.NoError(t, err)
				require.Equal(t, "evt_hostile", ev.ID)
				return
			}
			require.ErrorContains(t, err, want)
			require.Less(t, len(err.Error()), 4<<10, "the error is short whatever the body: %.300s", err)
		})
	}
}

// TestParseEventNestingLimit: MaxNestingDepth counts the envelope as level 1, holds for objects
// and arrays, inside data and in any other member, and is named with the path in the error.
func TestParseEventNestingLimit(t *testing.T) {
	t.Parallel()
	nest := func(levels int, open, close string) string {
		return strings.Repeat(open, levels) + "1" + strings.Repeat(close, levels)
	}
	// data is level 2: levels more inside it reach level 2+levels.
	inData := func(levels int, open, close string) string {
		return `{"event":"x","id":"e","timestamp":"2024-01-01T12:00:00Z","data":{"k":` + nest(levels, open, close) + `}}`
	}
	inExtra := func(levels int) string {
		return `{"event":"x","id":"e","timestamp":"2024-01-01T12:00:00Z","data":{},"extra":` + nest(levels, `[`, `]`) + `}`
	}
	limit := event.MaxNestingDepth
	tests := map[string]struct {
		body string
		want string // "" = accepted
	}{
		"objects at the limit":    {inData(limit-2, `{"a":`, `}`), ""},
		"objects over the limit":  {inData(limit-1, `{"a":`, `}`), fmt.Sprintf("nest deeper than %d levels at data.k.a.a", limit)},
		"arrays at the limit":     {inData(limit-2, `[`, `]`), ""},
		"arrays over the limit":   {inData(limit-1, `[`, `]`), fmt.Sprintf("nest deeper than %d levels at data.k[0][0]", limit)},
		"unknown member at limit": {inExtra(limit - 1), ""},
		"unknown member over":     {inExtra(limit), "nest deeper than"},
		"envelope is an array":    {nest(limit+5, `[`, `]`), "nest deeper than"},
		"10 000 levels, 170 KB":   {inData(10000, `{"aaaaaaaaaaaaaa":`, `}`), "nest deeper than"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := event.Parse([]byte(tc.body))
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, event.ErrInvalidJSON)
			require.ErrorContains(t, err, tc.want)
			require.Less(t, len(err.Error()), 1<<10)
		})
	}
}

// TestParseEventErrorsStayShort: however many problems a body has and however long its keys
// and values, the error lists at most 20 problems and cuts paths, so a 1 MiB body does not get
// a 1 MiB answer.
func TestParseEventErrorsStayShort(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("k", 100_000)
	env := func(data string) string {
		return `{"event":"x","id":"e","timestamp":"2024-01-01T12:00:00Z","data":` + data + `}`
	}
	tests := map[string]struct {
		body string
		want string
	}{
		"many numbers out of range": {env(`{"l":[` + strings.Repeat(`1e999,`, 5000) + `1]}`), "and 4980 more"},
		"a long key repeated":       {env(`{"` + long + `":1,"` + long + `":2}`), "appears twice"},
		"a long key out of range":   {env(`{"` + long + `":1e999}`), "number out of range"},
		"a long timestamp":          {`{"event":"x","id":"e","timestamp":"` + long + `","data":{}}`, "timestamp: must be RFC 3339"},
		"deep under a long key":     {env(`{"` + long + `":` + strings.Repeat(`[`, 200) + strings.Repeat(`]`, 200) + `}`), "nest deeper than"},
		"a syntax error at the end": {env(`{"` + long + `":[1,2,}`), "invalid character"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := event.Parse([]byte(tc.body))
			require.ErrorContains(t, err, tc.want)
			require.Less(t, len(err.Error()), 5<<10, "%.300s", err)
		})
	}
	_, err := event.Parse([]byte(env(`{"":1,"":2}`)))
	require.ErrorContains(t, err, `key data."" appears twice`, "an empty name is shown, not left blank")
}

// TestParseEventContextStops: a body whose client has gone is not read to its end.
func TestParseEventContextStops(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var data strings.Builder
	data.WriteString(`{"scan_id":"s"`)
	for i := range event.MaxValues - 5 { // the envelope's 4 members and scan_id make the limit
		fmt.Fprintf(&data, `,"k%d":%d`, i, i)
	}
	body := []byte(`{"event":"scan.completed","id":"evt_hostile","timestamp":"2024-01-01T12:00:00Z","data":` + data.String() + `}}`)
	_, err := event.ParseContext(ctx, body)
	require.ErrorIs(t, err, context.Canceled)
	ev, err := event.ParseContext(context.Background(), body)
	require.NoError(t, err)
	require.Equal(t, "evt_hostile", ev.ID)
}

func manyKeys(n int) string {
	var b strings.Builder
	b.WriteString("{")
	for i := range n {
		fmt.Fprintf(&b, `"k%d":{},`, i)
	}
	b.WriteString(`"last":1}`)
	return b.String()
}

// TestParseEventValueLimit: MaxValues counts member values and array elements at any depth, in
// data and outside it; a body at the limit parses, one more value is refused naming the limit.
func TestParseEventValueLimit(t *testing.T) {
	t.Parallel()
	// The envelope has 4 members (event, id, timestamp, data) besides those below.
	list := func(n int, elem string) string { return "[" + strings.Repeat(elem+",", n-1) + elem + "]" }
	body := func(data, extra string) string {
		return `{"event":"x","id":"e","timestamp":"2024-01-01T12:00:00Z","data":` + data + extra + `}`
	}
	limit := event.MaxValues
	tests := map[string]struct {
		body     string
		accepted bool
	}{
		"list in data at the limit":   {body(`{"l":`+list(limit-5, "1")+`}`, ""), true},
		"list in data over the limit": {body(`{"l":`+list(limit-4, "1")+`}`, ""), false},
		"nested lists at the limit":   {body(`{"l":`+list((limit-5)/2, "[1]")+`}`, ""), true},
		"nested lists over the limit": {body(`{"l":`+list((limit-5)/2, "[1]")+`,"m":[1]}`, ""), false},
		"objects in data over":        {body(`{"l":`+list(limit/2, `{"a":1}`)+`}`, ""), false},
		"outside data at the limit":   {body(`{}`, `,"x":`+list(limit-5, "0")), true},
		"outside data over the limit": {body(`{}`, `,"x":`+list(limit-4, "0")), false},
		"object outside data over":    {body(`{}`, `,"x":`+manyKeys(limit)), false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := event.Parse([]byte(tc.body))
			if tc.accepted {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, event.ErrInvalidJSON)
			require.ErrorContains(t, err, fmt.Sprintf("holds more than %d values", limit))
		})
	}
}
