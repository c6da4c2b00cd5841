package core

import (
	"sync"
	"time"

	"github.com/cortexbridge/cortex-bridge/event"
)

// SoleWriter is implemented by a store that can tell whether this process is the only one
// writing it (SQLite: one process owns the file, docs/operations.md). Only then does the
// dispatcher cache scan contexts: it sees every change to them (scanCache).
type SoleWriter interface {
	SoleWriter() bool
}

// scanCacheSize bounds the scan contexts a scanCache holds: scans run for minutes and a bridge
// sees a few at a time, so this covers every live scan of a busy bridge many times over, while
// whatever scan ids senders make up it holds at most ~2.8 MB (an entry is at most ~2.7 KB: the
// bounds of event.MaxScanIDBytes and its siblings).
const scanCacheSize = 1024

// scanCache holds the scan contexts (event.Scan) of recent messages by scan id, so that a
// templated attempt does not read the scans table: at 1 000 events/s that read (a query
// prepared per call) was 8 % of the bridge's CPU (BENCHMARKS.md, "The dispatch side at 1 000
// events/s"). It is only used over a SoleWriter store, where every change to a scan context is
// an ingest commit of this process's Bus: after each commit the bus merges the committed
// events' contexts into the entries held (merge, as the store's upsert does), so an entry
// always equals the stored record. A read of the store that such a merge overtook (the merge
// came while the read ran) is used for its message but not kept; Prune empties the cache.
type scanCache struct {
	mu      sync.Mutex
	m       map[string]event.Scan
	reading map[string]*scanRead // ids being read from the store
}

// scanRead is one scan id being read by one or more loads; stale once a commit changed it.
type scanRead struct {
	n     int
	stale bool
}

func newScanCache() *scanCache {
	return &scanCache{m: map[string]event.Scan{}, reading: map[string]*scanRead{}}
}

// get returns the cached contexts of ids (nil when none is cached) and the ids that are not
// cached, which it marks as being read: the caller reads them and calls keep.
func (c *scanCache) get(ids []string) (found map[string]event.Scan, missing []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, id := range ids {
		if sc, ok := c.m[id]; ok {
			if found == nil {
				found = make(map[string]event.Scan, len(ids))
			}
			found[id] = sc
			continue
		}
		missing = append(missing, id)
		r := c.reading[id]
		if r == nil {
			r = &scanRead{}
			c.reading[id] = r
		}
		r.n++
	}
	return found, missing
}

// keep ends the reads of ids (the missing of get) and caches what they found (got: nil after a
// failed read), unless a commit or a prune changed the scan while it was read.
func (c *scanCache) keep(ids []string, got map[string]event.Scan) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, id := range ids {
		r := c.reading[id]
		if sc, ok := got[id]; ok && !r.stale {
			c.put(id, sc)
		}
		if r.n--; r.n == 0 {
			delete(c.reading, id)
		}
	}
}

// put caches sc, first making room by dropping an arbitrary entry when full.
func (c *scanCache) put(id string, sc event.Scan) {
	if _, ok := c.m[id]; !ok && len(c.m) >= scanCacheSize {
		for old := range c.m {
			delete(c.m, old)
			break
		}
	}
	c.m[id] = sc
}

// active reports whether the cache holds or is reading anything, so committed has work: a
// bridge without templated targets never fills it, and its ingest commits skip the merge.
func (c *scanCache) active() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m) > 0 || len(c.reading) > 0
}

// committed merges the scan contexts of newly stored events (in commit order) into the cached
// entries; scans being read are marked stale instead.
func (c *scanCache) committed(events []*event.Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ev := range events {
		sc, ok := event.ScanOf(ev)
		if !ok {
			continue
		}
		if r := c.reading[sc.ID]; r != nil {
			r.stale = true
		}
		if held, ok := c.m[sc.ID]; ok {
			c.m[sc.ID] = mergeScan(held, sc)
		}
	}
}

// clear empties the cache (scan contexts were pruned); reads under way are not kept.
func (c *scanCache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.m)
	for _, r := range c.reading {
		r.stale = true
	}
}

// mergeScan is what the store keeps when a scan with record held gets an event carrying sc
// (store/ingest.go, upsertScanSQL): each field's first value, the earliest first and the
// latest last time, at the store's millisecond resolution.
func mergeScan(held, sc event.Scan) event.Scan {
	fill := func(have *string, v string) {
		if *have == "" {
			*have = v
		}
	}
	fill(&held.RepoURL, sc.RepoURL)
	fill(&held.Branch, sc.Branch)
	fill(&held.Commit, sc.Commit)
	if first := storedTime(sc.FirstSeen); first.Before(held.FirstSeen) {
		held.FirstSeen = first
	}
	if last := storedTime(sc.LastSeen); last.After(held.LastSeen) {
		held.LastSeen = last
	}
	return held
}

// storedTime is t as the store reads it back: whole milliseconds, UTC.
func storedTime(t time.Time) time.Time { return time.UnixMilli(t.UnixMilli()).UTC() }
