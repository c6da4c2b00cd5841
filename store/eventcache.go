package store

import (
	"context"
	"runtime"
	"sync"
	"weak"

	"github.com/cortexbridge/cortex-bridge/event"
)

// eventCache shares one parsed copy of a stored event among the loads that need it while it is
// in use: the deliveries of one event claimed by different targets' workers, and the groups of
// several targets fired together over the same events. A load that finds an event being read by
// another waits for that read instead of making its own. It holds events weakly, so it keeps
// nothing alive: an event leaves it once no delivery holds it and the garbage collector has run.
// Without it each load read the body again (up to ingest.max_body_bytes, 1 MiB by default) and
// parsed it into new copies: a group of ten 1 MiB events cost 20 MB of live heap for every
// target it went to (BENCHMARKS.md, hostile input). Sharing is safe because a stored event
// never changes and nothing writes to a loaded *event.Event. The zero value is ready to use.
type eventCache struct {
	mu      sync.Mutex
	m       map[string]weak.Pointer[event.Event] // by stored id
	reading map[string]chan struct{}             // ids a load is reading; closed when it is done
}

// load returns the events with the given ids (stored form), keyed by id: the copies in use,
// waiting for those another load is reading, and read(ids) for the rest, which it then shares.
// An id read returns no event for is absent. Whatever another load could not give (absent,
// failed to parse, its read failed) is read again here, so read sees every id whose result it
// must report. The error is read's, or ctx's while waiting.
func (c *eventCache) load(ctx context.Context, ids []string, read func(ids []string) (map[string]*event.Event, error)) (map[string]*event.Event, error) {
	out := make(map[string]*event.Event, len(ids))
	var mine, theirs []string
	var waits []chan struct{}
	c.mu.Lock()
	if c.m == nil {
		c.m, c.reading = map[string]weak.Pointer[event.Event]{}, map[string]chan struct{}{}
	}
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		if ev := c.m[id].Value(); ev != nil {
			out[id] = ev
		} else if ch, ok := c.reading[id]; ok {
			theirs, waits = append(theirs, id), append(waits, ch)
		} else {
			c.reading[id] = make(chan struct{})
			mine = append(mine, id)
		}
	}
	c.mu.Unlock()
	if err := c.readShared(out, mine, true, read); err != nil {
		return nil, err
	}
	var again []string
	for i, id := range theirs {
		select {
		case <-waits[i]:
		case <-ctx.Done():
			return nil, unavailable("load events", ctx.Err())
		}
		if ev := c.get(id); ev != nil {
			out[id] = ev
		} else {
			again = append(again, id)
		}
	}
	if err := c.readShared(out, again, false, read); err != nil {
		return nil, err
	}
	return out, nil
}

// readShared reads ids (none of them in c) into out and shares what it got; when marked, the
// ids were marked as being read by this load, and the waits of the loads that wanted them end.
func (c *eventCache) readShared(out map[string]*event.Event, ids []string, marked bool, read func(ids []string) (map[string]*event.Event, error)) error {
	if len(ids) == 0 {
		return nil
	}
	got, err := read(ids)
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, id := range ids {
		if ev := got[id]; ev != nil && err == nil {
			out[id] = ev
			c.put(ev)
		}
		if marked {
			close(c.reading[id])
			delete(c.reading, id)
		}
	}
	return err
}

// get returns the event with stored id id, or nil when no loaded copy is alive.
func (c *eventCache) get(id string) *event.Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[id].Value()
}

// put shares ev (ev.ID in its stored form) with the next loads of its id. Called with mu held.
func (c *eventCache) put(ev *event.Event) {
	p := weak.Make(ev)
	c.m[ev.ID] = p
	runtime.AddCleanup(ev, c.forget, cacheEntry{ev.ID, p})
}

// cacheEntry names one entry of an eventCache for its cleanup.
type cacheEntry struct {
	id string
	p  weak.Pointer[event.Event]
}

// forget removes e once its event has been collected, unless a newer copy took its place.
func (c *eventCache) forget(e cacheEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m[e.id] == e.p {
		delete(c.m, e.id)
	}
}
