package dashboard

import (
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
)

// readForm is r.ParseForm for a dashboard POST whose body is limited to limit bytes (an
// http.MaxBytesReader, whose *http.MaxBytesError it returns). A URL-encoded body is read once
// into a string of its Content-Length (at most limit) and parsed from there: net/http reads it
// into a slice grown from 512 bytes and then copies it into a string, three times the body in
// allocations, which for the "Try an event" form of an event of ingest.max_body_bytes (1.6 MiB
// encoded) was most of its cost (BENCHMARKS.md, hostile input row 39). Other bodies are left to
// r.ParseForm. Values that hold no escapes share the body's memory, which is never changed.
func readForm(r *http.Request, limit int64) error {
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "application/x-www-form-urlencoded" || r.Body == nil {
		return r.ParseForm()
	}
	var body strings.Builder
	body.Grow(int(min(max(r.ContentLength, 0), limit)))
	if _, err := io.Copy(&body, r.Body); err != nil {
		return err
	}
	var err error
	r.PostForm, err = url.ParseQuery(body.String())
	if qerr := r.ParseForm(); err == nil { // r.PostForm is set: this adds the URL's query to r.Form
		err = qerr
	}
	return err
}
