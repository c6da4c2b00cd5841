package core_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/store"
)

// resultCounter counts how delivery results reach SQLite: with an ingest batch or on their own.
type resultCounter struct {
	*store.DB
	mu             sync.Mutex
	carried, apart int
	refuse         bool // IngestWithResults fails, as if a result could not be written
}

func (s *resultCounter) Complete(ctx context.Context, cs []core.Completion) error {
	err := s.DB.Complete(ctx, cs)
	if err == nil {
		s.mu.Lock()
		s.apart += len(cs)
		s.mu.Unlock()
	}
	return err
}

func (s *resultCounter) IngestWithResults(ctx context.Context, items []core.IngestItem, cs []core.Completion) ([]bool, error) {
	s.mu.Lock()
	refuse := s.refuse
	s.mu.Unlock()
	if refuse {
		return nil, errors.New("attempts: FOREIGN KEY constraint failed")
	}
	dup, err := s.DB.IngestWithResults(ctx, items, cs)
	if err == nil {
		s.mu.Lock()
		s.carried += len(cs)
		s.mu.Unlock()
	}
	return dup, err
}

func (s *resultCounter) counts() (carried, apart int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.carried, s.apart
}

// sendConcurrently accepts n events from 8 senders at once: enough deliveries finish within the
// completion linger for their results to be offered to the ingest writer.
func sendConcurrently(t *testing.T, b *bundle, prefix string, n int) {
	t.Helper()
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < n; i += 8 {
				accept(t, b, fmt.Sprintf("%s_%03d", prefix, i))
			}
		})
	}
	wg.Wait()
}

// TestResultsRideWithIngest: while events keep arriving, delivery results are committed in the
// ingest writer's transactions instead of their own; when they stop, the last results are
// written apart. Either way each delivery's result is recorded exactly once.
func TestResultsRideWithIngest(t *testing.T) {
	t.Parallel()
	rc, url := newReceiver(t, nil)
	counter := &resultCounter{}
	b := setup(t, setupOpts{url: url, concurrency: 4, wrap: func(db *store.DB) core.Store {
		counter.DB = db
		return counter
	}})
	const n = 400
	sendConcurrently(t, b, "evt_ride", n)
	require.Eventually(t, func() bool {
		carried, apart := counter.counts()
		return rc.count() == n && carried+apart == n
	}, 10*time.Second, 10*time.Millisecond)
	carried, apart := counter.counts()
	t.Logf("results with ingest: %d, apart: %d", carried, apart)
	require.Positive(t, carried, "results shared ingest transactions")
	ds, err := b.store.Deliveries(context.Background(), core.DeliveryFilter{State: core.StateSucceeded, Limit: 1000})
	require.NoError(t, err)
	require.Len(t, ds, n)
	for _, d := range ds {
		require.Equal(t, 1, d.Attempts, d.ID)
	}
}

// TestResultsThatFailDoNotRefuseEvents: when the shared transaction fails, the events are stored
// on their own (every Accept succeeds) and the results are written apart.
func TestResultsThatFailDoNotRefuseEvents(t *testing.T) {
	t.Parallel()
	rc, url := newReceiver(t, nil)
	counter := &resultCounter{refuse: true}
	b := setup(t, setupOpts{url: url, concurrency: 4, wrap: func(db *store.DB) core.Store {
		counter.DB = db
		return counter
	}})
	const n = 200
	sendConcurrently(t, b, "evt_refused", n) // fails the test on an error
	require.Eventually(t, func() bool {
		_, apart := counter.counts()
		return rc.count() == n && apart == n
	}, 10*time.Second, 10*time.Millisecond)
	ds, err := b.store.Deliveries(context.Background(), core.DeliveryFilter{State: core.StateSucceeded, Limit: 1000})
	require.NoError(t, err)
	require.Len(t, ds, n)
}
