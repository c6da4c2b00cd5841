package core_test

import (
	"context"
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
	const n = 300
	for i := range n {
		accept(t, b, fmt.Sprintf("evt_ride_%03d", i))
		time.Sleep(time.Millisecond)
	}
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
