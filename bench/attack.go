package bench

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/cortexbridge/cortex-bridge/signature"
)

// requestTimeout bounds one POST; a bridge slower than this counts an error ("timeout").
const requestTimeout = 30 * time.Second

// newClient is the generator's HTTP client, shared by every step so connections are reused:
// keep-alive, as many idle connections as the open loop may need, no compression.
func newClient() *http.Client {
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Client{
		Timeout: requestTimeout,
		Transport: &http.Transport{
			DialContext:         dialer.DialContext,
			MaxIdleConns:        0,
			MaxIdleConnsPerHost: 10000,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// maxWorkers is the most requests the generator keeps in flight at once.
const maxWorkers = 2048

// attackResult is what the generator saw during one step.
type attackResult struct {
	sent, accepted, duplicate uint64
	errors                    map[string]uint64 // by HTTP status ("503") or transport error ("timeout", "refused", "other")
	ack                       *hdrhistogram.Histogram
	acceptedSeqs              []uint64
	first, last               time.Time // first send, last answer
	lastSent                  time.Time // start of the last request
}

func (a *attackResult) lastStart() time.Time { return a.lastSent }

// attack sends rate events a second for du, to urls in turn: an open loop (vegeta's constant
// pacer starts a request on schedule whether or not earlier ones were answered, adding workers
// as needed), so a slow server shows as latency instead of a lower send rate.
func attack(ctx context.Context, client *http.Client, urls []string, secret string, src *Source, next *atomic.Uint64, rate float64, du time.Duration) *attackResult {
	res := &attackResult{errors: map[string]uint64{}, ack: newHist()}
	if rate <= 0 || du <= 0 {
		return res
	}
	targeter := func(t *vegeta.Target) error {
		seq := next.Add(1) - 1
		body, typ := src.Append(make([]byte, 0, 512), seq, time.Now())
		sig, err := signature.Sign(secret, body)
		if err != nil {
			return err
		}
		t.Method, t.URL, t.Body = http.MethodPost, urls[seq%uint64(len(urls))], body
		t.Header = http.Header{
			"Content-Type":       {"application/json"},
			"X-Cortex-Signature": {sig},
			"X-Cortex-Event":     {typ},
			"X-Cortex-Delivery":  {src.prefix + strconv.FormatUint(seq, 10)},
		}
		return nil
	}
	atk := vegeta.NewAttacker(
		vegeta.Client(client),
		vegeta.Workers(uint64(max(8, min(int(rate/100), 256)))),
		// Bounded so that a rate far past the server's keeps the open connections (two
		// descriptors each when the baseline runs in this process) well under the file
		// limit; past it the pacer falls behind and judge fails the step as generator-limited.
		vegeta.MaxWorkers(maxWorkers),
		vegeta.MaxBody(512),
	)
	stop := context.AfterFunc(ctx, func() { atk.Stop() })
	defer stop()
	for r := range atk.Attack(targeter, vegeta.ConstantPacer{Freq: int(rate + 0.5), Per: time.Second}, du, "") {
		res.sent++
		if res.first.IsZero() || r.Timestamp.Before(res.first) {
			res.first = r.Timestamp
		}
		if r.Timestamp.After(res.lastSent) {
			res.lastSent = r.Timestamp
		}
		if end := r.End(); end.After(res.last) {
			res.last = end
		}
		recordUS(res.ack, r.Latency)
		switch {
		case r.Code == http.StatusOK && bytes.Contains(r.Body, []byte(`"status":"accepted"`)):
			res.accepted++
			if seq, ok := idInAnswer(r.Body, src.prefix); ok {
				res.acceptedSeqs = append(res.acceptedSeqs, seq)
			}
		case r.Code == http.StatusOK && bytes.Contains(r.Body, []byte(`"status":"duplicate"`)):
			res.duplicate++
		case r.Code != 0:
			res.errors[strconv.Itoa(int(r.Code))]++
		default:
			res.errors[classify(r.Error)]++
		}
	}
	return res
}

// classify names a transport error briefly.
func classify(msg string) string {
	switch {
	case strings.Contains(msg, "Client.Timeout"), strings.Contains(msg, "deadline exceeded"), strings.Contains(msg, "timeout"):
		return "timeout"
	case strings.Contains(msg, "connection refused"):
		return "refused"
	case strings.Contains(msg, "connection reset"), strings.Contains(msg, "EOF"):
		return "reset"
	case msg == "":
		return "unanswered"
	}
	return "other"
}
