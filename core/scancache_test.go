package core

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/event"
)

func scanEvent(t *testing.T, scanID, repo string, at time.Time) *event.Event {
	t.Helper()
	ev, err := event.Parse(fmt.Appendf(nil, `{"event":"scan.started","id":"e-%d","timestamp":"2026-01-01T00:00:00Z","data":{"scan_id":%q,"repo_url":%q}}`,
		at.UnixNano(), scanID, repo))
	require.NoError(t, err)
	ev.ReceivedAt = at
	return ev
}

// TestScanCache: what the cache keeps and what it refuses to keep.
func TestScanCache(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	stored := event.Scan{ID: "s", FirstSeen: t0, LastSeen: t0}
	tests := []struct {
		name string
		// during runs between get and keep, as a commit or a prune would while the store is read.
		during func(c *scanCache)
		kept   bool
	}{
		{"a read nothing overtook", func(*scanCache) {}, true},
		{"a commit of the scan during the read", func(c *scanCache) { c.committed([]*event.Event{scanEvent(t, "s", "", t0.Add(time.Second))}) }, false},
		{"a commit of another scan", func(c *scanCache) { c.committed([]*event.Event{scanEvent(t, "other", "", t0.Add(time.Second))}) }, true},
		{"a prune during the read", func(c *scanCache) { c.clear() }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := newScanCache()
			found, missing := c.get([]string{"s"})
			require.Nil(t, found)
			require.Equal(t, []string{"s"}, missing)
			tc.during(c)
			c.keep(missing, map[string]event.Scan{"s": stored})
			require.Empty(t, c.reading, "reads end")
			found, missing = c.get([]string{"s"})
			if tc.kept {
				require.Equal(t, map[string]event.Scan{"s": stored}, found)
				require.Empty(t, missing)
			} else {
				require.Nil(t, found)
				require.Equal(t, []string{"s"}, missing)
			}
		})
	}
}

// TestScanCacheFollowsCommits: a held entry takes what each commit adds, as the store's upsert
// does (first value kept, earliest first and latest last time in whole milliseconds), and a
// failed read caches nothing.
func TestScanCacheFollowsCommits(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := newScanCache()
	_, missing := c.get([]string{"s", "gone"})
	c.keep(missing, map[string]event.Scan{"s": {ID: "s", FirstSeen: t0, LastSeen: t0}})
	c.committed([]*event.Event{
		scanEvent(t, "s", "https://a.example/r", t0.Add(1500*time.Microsecond)),
		scanEvent(t, "s", "https://b.example/r", t0.Add(-time.Second)),
		scanEvent(t, "unheld", "https://c.example/r", t0),
	})
	found, missing := c.get([]string{"s", "unheld"})
	require.Equal(t, map[string]event.Scan{"s": {ID: "s", RepoURL: "https://a.example/r",
		FirstSeen: t0.Add(-time.Second), LastSeen: t0.Add(time.Millisecond)}}, found)
	require.Equal(t, []string{"unheld"}, missing, "a commit creates no entry")
	c.keep(missing, nil)
	require.Empty(t, c.reading)
}

// TestScanCacheBounded: the cache never holds more than scanCacheSize entries.
func TestScanCacheBounded(t *testing.T) {
	t.Parallel()
	c := newScanCache()
	for i := range scanCacheSize + 10 {
		id := fmt.Sprint("s", i)
		_, missing := c.get([]string{id})
		c.keep(missing, map[string]event.Scan{id: {ID: id}})
		require.LessOrEqual(t, len(c.m), scanCacheSize)
	}
	found, _ := c.get([]string{fmt.Sprint("s", scanCacheSize+9)})
	require.Len(t, found, 1, "the newest is held")
}
