package bench

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/cortexbridge/cortex-bridge/signature"
)

// Latencies are recorded in microseconds, from 1 µs to 60 s, with 3 significant digits.
const (
	histMinUS  = 1
	histMaxUS  = 60_000_000
	histDigits = 3
)

func newHist() *hdrhistogram.Histogram { return hdrhistogram.New(histMinUS, histMaxUS, histDigits) }

func recordUS(h *hdrhistogram.Histogram, d time.Duration) {
	us := d.Microseconds()
	if us < histMinUS {
		us = histMinUS
	}
	if us > histMaxUS {
		us = histMaxUS
	}
	_ = h.RecordValue(us)
}

// counts is how often each sequence number was seen (saturating at 255). The caller locks.
type counts struct {
	n []uint8
}

// add counts seq once more and returns how often it was seen before.
func (c *counts) add(seq uint64) uint8 {
	if seq >= uint64(len(c.n)) {
		size := max(2*len(c.n), 4096)
		for uint64(size) <= seq {
			size *= 2
		}
		grown := make([]uint8, size)
		copy(grown, c.n)
		c.n = grown
	}
	before := c.n[seq]
	if before < 255 {
		c.n[seq]++
	}
	return before
}

func (c *counts) get(seq uint64) uint8 {
	if seq >= uint64(len(c.n)) {
		return 0
	}
	return c.n[seq]
}

// Receiver is the webhook target the bridge under test delivers to. It verifies each delivery's
// signature, reads the event's id and send time from the body, and records per step the end to
// end latency (send → delivery received) and how often each id arrived.
type Receiver struct {
	secrets []string
	prefix  string

	mu         sync.Mutex
	seen       counts
	stepStarts []uint64 // first sequence number of each step, ascending
	steps      []*recvStep

	foreign atomic.Int64 // signed deliveries of events not made by this run
	badSig  atomic.Int64 // deliveries whose signature did not verify
}

type recvStep struct {
	e2e         *hdrhistogram.Histogram
	distinct    int64 // ids received at least once
	duplicates  int64 // deliveries of an id already received
	lastArrival time.Time
}

// NewReceiver returns a receiver for bodies made by a Source with prefix, signed with secret.
func NewReceiver(secret, prefix string) *Receiver {
	return &Receiver{secrets: []string{secret}, prefix: prefix}
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// ServeHTTP answers 200 to a delivery with a valid signature and 401 otherwise.
func (rc *Receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	buf := bufPool.Get().(*bytes.Buffer)
	defer bufPool.Put(buf)
	buf.Reset()
	if _, err := buf.ReadFrom(io.LimitReader(r.Body, 1<<20)); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	body := buf.Bytes()
	if signature.Verify(rc.secrets, body, r.Header.Get("X-Cortex-Signature")) != nil {
		rc.badSig.Add(1)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	seq, sent, ok := ParseBody(body, rc.prefix)
	if !ok {
		rc.foreign.Add(1)
		w.WriteHeader(http.StatusOK)
		return
	}
	rc.record(seq, now.Sub(time.Unix(0, sent)), now)
	w.WriteHeader(http.StatusOK)
}

func (rc *Receiver) record(seq uint64, lat time.Duration, now time.Time) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	before := rc.seen.add(seq)
	i := sort.Search(len(rc.stepStarts), func(i int) bool { return rc.stepStarts[i] > seq }) - 1
	if i < 0 {
		return
	}
	st := rc.steps[i]
	if before > 0 {
		st.duplicates++
		return
	}
	st.distinct++
	st.lastArrival = now
	recordUS(st.e2e, lat)
}

// beginStep starts a step whose sequence numbers start at first and returns its index.
func (rc *Receiver) beginStep(first uint64) int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.stepStarts = append(rc.stepStarts, first)
	rc.steps = append(rc.steps, &recvStep{e2e: newHist()})
	return len(rc.steps) - 1
}

// delivered returns how many distinct ids of step i arrived.
func (rc *Receiver) delivered(i int) int64 {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.steps[i].distinct
}

// stepStats returns a copy of step i's figures.
func (rc *Receiver) stepStats(i int) (e2e *hdrhistogram.Histogram, distinct, dups int64, last time.Time) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	st := rc.steps[i]
	return st.e2e.Clone(), st.distinct, st.duplicates, st.lastArrival
}

// missing counts the sequence numbers of accepted that never arrived.
func (rc *Receiver) missing(accepted []uint64) int64 {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var n int64
	for _, s := range accepted {
		if rc.seen.get(s) == 0 {
			n++
		}
	}
	return n
}

// auditTail follows the file target's JSON Lines file and counts the ids of this run in it.
type auditTail struct {
	path   string
	prefix []byte

	mu      sync.Mutex
	off     int64
	partial []byte
	seen    counts
	lines   int64 // distinct ids of this run
}

func newAuditTail(path, prefix string) *auditTail {
	return &auditTail{path: path, prefix: []byte(`"event":{"id":"` + prefix)}
}

// poll reads what was appended since the last call.
func (a *auditTail) poll() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	f, err := os.Open(a.path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.Seek(a.off, io.SeekStart); err != nil {
		return err
	}
	r := bufio.NewReaderSize(f, 256<<10)
	for {
		line, err := r.ReadSlice('\n')
		a.off += int64(len(line))
		if err == bufio.ErrBufferFull {
			a.partial = append(a.partial, line...)
			continue
		}
		if err != nil { // io.EOF: keep the unfinished line for the next poll
			a.partial = append(a.partial, line...)
			return nil
		}
		if len(a.partial) > 0 {
			line = append(a.partial, line...)
			a.partial = a.partial[:0]
		}
		a.count(line)
	}
}

func (a *auditTail) count(line []byte) {
	i := bytes.Index(line, a.prefix)
	if i < 0 {
		return
	}
	rest := line[i+len(a.prefix):]
	end := bytes.IndexByte(rest, '"')
	if end < 0 {
		return
	}
	if seq, ok := parseUint(rest[:end]); ok && a.seen.add(seq) == 0 {
		a.lines++
	}
}

func (a *auditTail) distinct() int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.lines
}

func (a *auditTail) missing(accepted []uint64) int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	var n int64
	for _, s := range accepted {
		if a.seen.get(s) == 0 {
			n++
		}
	}
	return n
}
