package bench

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The shapes the hostile cases are built from. Every generator takes a byte budget n and
// returns a JSON value (or, for invalid UTF-8, almost one) of at most n bytes, as large as the
// shape allows within n, so a case's body is the largest of its class that fits the limit.

// deepObjects nests objects {"k…k":{"k…k":…0…}} depth levels deep with keys of keyLen bytes;
// depth 0 means as deep as n allows. Each level costs keyLen+5 bytes (`{"`, `":`, `}`).
func deepObjects(n, keyLen, depth int) []byte {
	per := keyLen + 5 // {"  key  ":  }
	fit := (n - 1) / per
	if depth <= 0 || depth > fit {
		depth = fit
	}
	key := strings.Repeat("a", keyLen)
	var b bytes.Buffer
	b.Grow(depth*per + 1)
	for range depth {
		b.WriteString(`{"` + key + `":`)
	}
	b.WriteByte('0')
	for range depth {
		b.WriteByte('}')
	}
	return b.Bytes()
}

// repeated is an array of as many copies of one's value as fit in n bytes (one gets the
// bytes left for a copy and returns at most that many).
func repeated(n int, one func(n int) []byte) []byte {
	v := one(n - 2)
	count := max(1, (n-1)/(len(v)+1))
	b := make([]byte, 0, count*(len(v)+1)+1)
	b = append(b, '[')
	for i := range count {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, v...)
	}
	return append(b, ']')
}

// keyFor returns the key length that makes depth levels of deepObjects fill n bytes.
func keyFor(n, depth int) int { return max(1, (n-1)/depth-5) }

// deepArrays nests arrays [[[…0…]]] depth levels deep; 0: as deep as n allows.
func deepArrays(n, depth int) []byte {
	fit := (n - 1) / 2
	if depth <= 0 || depth > fit {
		depth = fit
	}
	b := make([]byte, 0, 2*depth+1)
	b = append(b, bytes.Repeat([]byte("["), depth)...)
	b = append(b, '0')
	return append(b, bytes.Repeat([]byte("]"), depth)...)
}

// manyKeys is one object of distinct small keys {"k0000001":0,…} filling n; with dupLast the
// last key repeats the first (a duplicate found only after every other key was seen).
func manyKeys(n int, dupLast bool) []byte {
	const width = 7
	per := width + 6 // "k" + 7 digits + quotes + :0,
	count := (n - 2) / per
	var b bytes.Buffer
	b.Grow(n)
	b.WriteByte('{')
	for i := range count {
		if i > 0 {
			b.WriteByte(',')
		}
		k := i
		if dupLast && i == count-1 {
			k = 0
		}
		fmt.Fprintf(&b, `"k%0*d":0`, width, k)
	}
	b.WriteByte('}')
	return b.Bytes()
}

// sameKey is one object with the one key repeated as often as n allows: {"a":0,"a":0,…}.
func sameKey(n int) []byte {
	count := (n - 2 + 1) / 6
	return append(append([]byte{'{'}, bytes.TrimSuffix(bytes.Repeat([]byte(`"a":0,`), count), []byte(","))...), '}')
}

// hugeString is one string of n-2 plain letters; escaped makes it \u00e9 escapes instead.
func hugeString(n int, escaped bool) []byte {
	if !escaped {
		return append(append([]byte{'"'}, bytes.Repeat([]byte("a"), n-2)...), '"')
	}
	return append(append([]byte{'"'}, bytes.Repeat([]byte(`\u00e9`), (n-2)/6)...), '"')
}

// numbers is the array of distinct integers [0,1,2,…,count-1], or as many of them as fit in
// n bytes when count is 0 or too many. Distinct, so that `# in data.list` scans the list up to
// the element's own place: the quadratic rule does count²/2 comparisons.
func numbers(n, count int) []byte {
	b := make([]byte, 0, n)
	b = append(b, '[')
	for i := 0; count <= 0 || i < count; i++ {
		next := strconv.AppendInt(nil, int64(i), 10)
		if len(b)+len(next)+2 > n { // a comma before, the closing bracket after
			break
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, next...)
	}
	return append(b, ']')
}

// badUTF8 is a string of n-2 bytes, valid UTF-8 except its last 16 bytes (0xff), so a reader
// that checks as it goes finds the fault only at the end.
func badUTF8(n int) []byte {
	b := append([]byte{'"'}, bytes.Repeat([]byte("a"), n-18)...)
	b = append(b, bytes.Repeat([]byte{0xff}, 16)...)
	return append(b, '"')
}

// eventBody wraps value as data.x (or data.<field>) of an issue.critical event that every
// other check accepts (fresh timestamp, unique id, the required fields), and fills the rest of
// the size n: the value function gets the bytes left. The event matches the shipped routes
// (SIEM, the grouped Slack and Discord messages, the audit file).
func eventBody(n int, id string, now time.Time, field string, value func(left int) []byte) []byte {
	head := `{"id":` + strconv.Quote(id) + `,"event":"issue.critical","timestamp":"` + now.UTC().Format(time.RFC3339Nano) +
		`","data":{"scan_id":"scan_hostile","issue_id":"issue_1","severity":"critical","title":"Hostile input","file":"a.go","line":1,` +
		strconv.Quote(field) + `:`
	const tail = `}}`
	v := value(n - len(head) - len(tail))
	b := make([]byte, 0, len(head)+len(v)+len(tail))
	return append(append(append(b, head...), v...), tail...)
}

// gzipped compresses b (at the fastest level: the bodies are made per request).
func gzipped(b []byte) []byte {
	var out bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&out, gzip.BestSpeed)
	_, _ = zw.Write(b)
	_ = zw.Close()
	return out.Bytes()
}

// gzipBombBytes is how far the gzip cases' bodies decompress for a limit of maxBody bytes:
// 64 MiB (twice the RSS target, about 80 KiB on the wire), or 512 times a smaller limit so
// that the wire bytes still fit it.
func gzipBombBytes(maxBody int) int { return min(64<<20, 512*maxBody) }

// hostileCase is one class of hostile request.
type hostileCase struct {
	name  string // what is sent, in a few words
	via   string // ingest, dashboard or api
	auth  string // signed, bad signature, unsigned, account, anonymous
	count int    // requests sent one after another (stopped early once the case is over budget)
	// setup runs on the fresh bridge before the measurement (sign in, register a webhook).
	setup func(ctx context.Context, t *hostileTarget) error
	// send sends the case's requests and records each outcome with t.record.
	send func(ctx context.Context, t *hostileTarget, c *hostileCase)
	// size is the body size of one request, for the report; 0: known once sent (gzip).
	size int
}

// ingestShape builds the body of request i of an ingest case of at most max bytes.
type ingestShape func(max int, id string, now time.Time) []byte

// How an ingest case's body goes on the wire.
const (
	wirePlain   = iota
	wireChunked // without Content-Length
	wireGzip    // Content-Encoding: gzip
)

// hostileCases lists every case for a limit of maxBody bytes on ingest bodies. The classes
// come from issue 16's adversarial trial; each is sent signed (the sender holding the secret)
// and with a bad signature (anyone) where the two differ.
func hostileCases(maxBody int) []*hostileCase {
	var cs []*hostileCase
	shape := func(field string, v func(left int) []byte) ingestShape {
		return func(n int, id string, now time.Time) []byte { return eventBody(n, id, now, field, v) }
	}
	both := func(name string, count int, s ingestShape) {
		cs = append(cs, ingestCase(name, "signed", count, maxBody, wirePlain, s), ingestCase(name, "bad signature", count, maxBody, wirePlain, s))
	}
	cs = append(cs, ingestCase("control: a valid issue.critical event", "signed", 20, maxBody, wirePlain,
		func(n int, id string, now time.Time) []byte {
			return eventBody(n, id, now, "note", func(int) []byte { return []byte(`"ok"`) })
		}))
	both("deep objects, 9 990 levels, keys filling the body", 3, shape("x", func(left int) []byte {
		return deepObjects(left, keyFor(left, 9990), 9990)
	}))
	both(`deep objects {"aaaaaaaaaaaaaa":…}, as deep as fits`, 3, shape("x", func(left int) []byte { return deepObjects(left, 14, 0) }))
	both("deep arrays [[[…]]], 9 990 levels", 10, shape("x", func(left int) []byte { return deepArrays(left, 9990) }))
	both("deep arrays [[[…]]], 9 990 levels, repeated to fill the body", 3, shape("x", func(left int) []byte {
		return repeated(left, func(n int) []byte { return deepArrays(n, 9989) })
	}))
	both("deep arrays [[[…]]], as deep as fits", 10, shape("x", func(left int) []byte { return deepArrays(left, 0) }))
	both("~80 000 distinct small keys in one object", 3, shape("x", func(left int) []byte { return manyKeys(left, false) }))
	both("duplicate key: ~80 000 keys, the last repeats the first", 3, shape("x", func(left int) []byte { return manyKeys(left, true) }))
	both("duplicate key: one key repeated ~170 000 times", 10, shape("x", sameKey))
	both("one huge string", 10, shape("title2", func(left int) []byte { return hugeString(left, false) }))
	both(`one huge string of \u00e9 escapes`, 10, shape("title2", func(left int) []byte { return hugeString(left, true) }))
	both("10 000 numbers in data.list (quadratic rule)", 3, shape("list", func(left int) []byte { return numbers(left, 10000) }))
	both("numbers in data.list, as many as fit (quadratic rule)", 3, shape("list", func(left int) []byte { return numbers(left, 0) }))
	both("invalid UTF-8 at the end of a full body", 10, shape("title2", badUTF8))

	// gzip: the bytes on the wire are small; what they decompress to is 64 MiB. The signature
	// is made over the wire bytes, or over the decompressed bytes (which one the bridge checks
	// is its choice; both are tried).
	bomb := func(n int, id string, now time.Time) []byte {
		return eventBody(gzipBombBytes(n), id, now, "title2", func(left int) []byte { return hugeString(left, false) })
	}
	for _, auth := range []string{"signed (wire bytes)", "signed (decompressed bytes)", "bad signature"} {
		cs = append(cs, ingestCase("gzip body decompressing to "+humanBytes(gzipBombBytes(maxBody))+" (Content-Encoding: gzip)",
			auth, 3, maxBody, wireGzip, bomb))
	}

	over := func(n int, id string, now time.Time) []byte {
		return eventBody(n+1, id, now, "title2", func(left int) []byte { return hugeString(left, false) })
	}
	for _, auth := range []string{"signed", "bad signature"} {
		cs = append(cs, ingestCase("body 1 byte over the limit, Content-Length", auth, 10, maxBody, wirePlain, over),
			ingestCase("body 1 byte over the limit, chunked", auth, 10, maxBody, wireChunked, over))
	}
	cs = append(cs, ingestCase("a full body without a signature header", "unsigned", 10, maxBody, wirePlain,
		shape("title2", func(left int) []byte { return hugeString(left, false) })))
	cs = append(cs, slowCase(maxBody, 300, 3*time.Second))
	cs = append(cs, dashboardCases(maxBody)...)
	cs = append(cs, apiCases(maxBody)...)
	return cs
}

// ingestCase sends count bodies made by s to the ingest path one after another, as wire
// says (wirePlain, wireChunked or wireGzip). auth is "signed" (over the bytes sent; for gzip "signed
// (wire bytes)" or "signed (decompressed bytes)"), "bad signature" (a well-formed HMAC of
// zeros) or "unsigned" (no X-Cortex-Signature).
func ingestCase(name, auth string, count, maxBody, wire int, s ingestShape) *hostileCase {
	c := &hostileCase{name: name, via: "ingest", auth: auth, count: count}
	if wire != wireGzip {
		c.size = len(s(maxBody, "hostile-size", time.Now()))
	}
	c.send = func(ctx context.Context, t *hostileTarget, c *hostileCase) {
		t.repeat(ctx, c.count, func(i int) {
			body := s(maxBody, fmt.Sprintf("hostile-%s-%d", t.runID, i), time.Now())
			sent := body
			h := http.Header{"Content-Type": {"application/json"}, "X-Cortex-Event": {"issue.critical"}}
			if wire == wireGzip {
				sent = gzipped(body)
				h.Set("Content-Encoding", "gzip")
				t.sentBytes(len(sent))
			}
			switch auth {
			case "signed", "signed (wire bytes)":
				h.Set("X-Cortex-Signature", t.sign(sent))
			case "signed (decompressed bytes)":
				h.Set("X-Cortex-Signature", t.sign(body))
			case "bad signature":
				h.Set("X-Cortex-Signature", "sha256="+strings.Repeat("0", 64))
			}
			var rd io.Reader = bytes.NewReader(sent)
			if wire == wireChunked {
				rd = io.MultiReader(rd) // unknown length: the client sends it chunked
			}
			t.record(t.do(ctx, http.MethodPost, t.base+IngestPath, h, rd))
		})
	}
	return c
}

// dashboardCases post the dashboard's forms as a signed-in account (the config's API key).
func dashboardCases(maxBody int) []*hostileCase {
	var cs []*hostileCase
	try := func(name string, count int, field string, v func(left int) []byte) {
		c := &hostileCase{name: `"Try an event": ` + name, via: "dashboard", auth: "account", count: count, setup: signIn}
		event := func(t *hostileTarget, i int) []byte {
			return eventBody(maxBody, fmt.Sprintf("hostile-%s-%d", t.runID, i), time.Now(), field, v)
		}
		c.size = len(url.Values{"event": {string(event(&hostileTarget{}, 0))}}.Encode())
		c.send = func(ctx context.Context, t *hostileTarget, c *hostileCase) {
			t.repeat(ctx, c.count, func(i int) {
				t.record(t.form(ctx, "/ui/routes/try", url.Values{"event": {string(event(t, i))}, "sample": {""}}))
			})
		}
		cs = append(cs, c)
	}
	try("deep objects, 9 990 levels", 3, "x", func(left int) []byte { return deepObjects(left, keyFor(left, 9990), 9990) })
	try("deep arrays, 9 990 levels", 10, "x", func(left int) []byte { return deepArrays(left, 9990) })
	try("~80 000 keys, the last repeats the first", 3, "x", func(left int) []byte { return manyKeys(left, true) })
	try("10 000 numbers in data.list (quadratic rule)", 3, "list", func(left int) []byte { return numbers(left, 10000) })
	try("one huge string", 10, "title2", func(left int) []byte { return hugeString(left, false) })

	// Test send with a huge event type; the webhook form with every field huge; sign-in with a
	// huge key (all wrong input: the answers are refusals, the cost is the point).
	test := &hostileCase{name: "webhook test send, event field of max_body_bytes", via: "dashboard", auth: "account", count: 10,
		size: maxBody, setup: func(ctx context.Context, t *hostileTarget) error {
			if err := signIn(ctx, t); err != nil {
				return err
			}
			return t.registerWebhook(ctx)
		}}
	test.send = func(ctx context.Context, t *hostileTarget, c *hostileCase) {
		t.repeat(ctx, c.count, func(int) {
			t.record(t.form(ctx, "/ui/webhooks/"+t.webhookID+"/test", url.Values{"event": {strings.Repeat("a", maxBody)}}))
		})
	}
	cs = append(cs, test)

	// Within the dashboard's 4 MiB bound on a form, and under Go's 10 000 fields a form may
	// have (more fields and url.ParseQuery refuses the form: the CSRF check then fails early).
	webhookForm := func() url.Values {
		v := url.Values{"url": {"http://127.0.0.1/" + strings.Repeat("a", maxBody)}, "description": {strings.Repeat("d", maxBody)},
			"secret_mode": {"set"}, "secret": {strings.Repeat("s", maxBody)}, "active": {"on"}}
		for range 5000 {
			v["events"] = append(v["events"], "scan.completed")
		}
		return v
	}
	wf := &hostileCase{name: "new webhook form: url, description, secret of max_body_bytes, 5 000 events", via: "dashboard", auth: "account", count: 5, setup: signIn,
		size: len(webhookForm().Encode())}
	wf.send = func(ctx context.Context, t *hostileTarget, c *hostileCase) {
		v := webhookForm()
		t.repeat(ctx, c.count, func(int) { t.record(t.form(ctx, "/ui/webhooks", v)) })
	}
	cs = append(cs, wf)

	for _, size := range []int{16<<10 - 100, maxBody} {
		si := &hostileCase{name: fmt.Sprintf("sign-in with a %s key", humanBytes(size)), via: "dashboard", auth: "anonymous", count: 9, size: size}
		si.send = func(ctx context.Context, t *hostileTarget, c *hostileCase) {
			t.repeat(ctx, c.count, func(int) { t.record(t.signInWith(ctx, strings.Repeat("k", size))) })
		}
		cs = append(cs, si)
	}
	return cs
}

// apiBodyBytes is the management API's bound on a JSON body (64 KiB): its largest hostile
// bodies are this size; one case sends max_body_bytes to see the bound hold.
const apiBodyBytes = 64 << 10

// apiCases post JSON bodies to the management API with the account's Bearer key.
func apiCases(maxBody int) []*hostileCase {
	var cs []*hostileCase
	add := func(name string, count int, body func() []byte) {
		c := &hostileCase{name: "POST /webhooks: " + name, via: "api", auth: "account", count: count, size: len(body())}
		c.send = func(ctx context.Context, t *hostileTarget, c *hostileCase) {
			b := body()
			t.repeat(ctx, c.count, func(int) {
				h := http.Header{"Content-Type": {"application/json"}, "Authorization": {"Bearer " + t.apiKey}}
				t.record(t.do(ctx, http.MethodPost, t.base+"/webhooks", h, bytes.NewReader(b)))
			})
		}
		cs = append(cs, c)
	}
	head := `{"url":"http://127.0.0.1:9/x","events":["*"],"description":`
	wrap := func(n int, v func(left int) []byte) []byte {
		return append(append([]byte(head), v(n-len(head)-1)...), '}')
	}
	add("deep objects in a field (64 KiB)", 10, func() []byte {
		return wrap(apiBodyBytes, func(left int) []byte { return deepObjects(left, 14, 0) })
	})
	add("deep arrays in a field (64 KiB)", 10, func() []byte { return wrap(apiBodyBytes, func(left int) []byte { return deepArrays(left, 0) }) })
	add("one key repeated (64 KiB)", 10, func() []byte { return wrap(apiBodyBytes, sameKey) })
	add("an events list of ~5 000 names (64 KiB)", 10, func() []byte {
		n := (apiBodyBytes - 60) / len(`"scan.completed",`)
		return []byte(`{"url":"http://127.0.0.1:9/x","events":[` + strings.TrimSuffix(strings.Repeat(`"scan.completed",`, n), ",") + `]}`)
	})
	add("a huge string of max_body_bytes", 10, func() []byte {
		return wrap(maxBody, func(left int) []byte { return hugeString(left, false) })
	})
	return cs
}

// humanBytes writes n as KiB or MiB when it is a round figure of them.
func humanBytes(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
