package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cortexbridge/cortex-bridge/core"
)

var _ core.Waker = (*DB)(nil)

// Listener timings: how long the listener waits for a notification before it checks that its
// connection still answers (a silently dropped connection never reports an error by itself),
// and how long it waits between reconnection attempts.
var (
	listenIdleCheck   = 30 * time.Second
	listenPingTimeout = 5 * time.Second
	reconnectMin      = 100 * time.Millisecond
	reconnectMax      = 5 * time.Second
)

// Wake implements core.Waker. On Postgres, every channel returned fires (at most one signal is
// buffered; signals coalesce) when another transaction — on this replica or any other — committed
// work that is due now: new pending deliveries from Ingest or RunDigest, a retry due at once from
// Complete, leases handed back by ReleaseLeases. It also fires after the listener (re)connects,
// since notifications sent meanwhile were lost. The first call starts the listener, on its own
// connection outside the pool, so it never holds up ingest; it reconnects with backoff until
// Close. Polling stays the safety net: a signal is only a hint to poll now.
//
// On SQLite Wake returns nil (a nil channel never fires): one process works the queue, and its
// ingest hands new deliveries straight to its workers.
func (d *DB) Wake() <-chan struct{} {
	if d.pg == nil {
		return nil
	}
	p := d.pg
	ch := make(chan struct{}, 1)
	p.mu.Lock()
	p.wakers = append(p.wakers, ch)
	p.mu.Unlock()
	p.startOnce.Do(func() {
		ctx, cancel := context.WithCancel(context.Background())
		p.stop = cancel
		go func() {
			defer close(p.done)
			p.listen(ctx)
		}()
	})
	return ch
}

// signal wakes every subscriber without ever blocking.
func (p *postgres) signal() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, ch := range p.wakers {
		select {
		case ch <- struct{}{}:
		default: // a signal is already pending
		}
	}
}

// listen keeps a LISTEN connection open until ctx is done, reconnecting with backoff.
func (p *postgres) listen(ctx context.Context) {
	delay := reconnectMin
	for {
		connected, err := p.listenOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		if connected {
			delay = reconnectMin
		}
		p.log.Warn("postgres listener: connection lost; reconnecting (deliveries are still polled meanwhile)",
			"db", p.name, "retry_in", delay, "err", err)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		delay = min(delay*2, reconnectMax)
	}
}

// listenOnce connects, listens and forwards notifications until the connection fails or ctx is
// done. connected reports whether LISTEN succeeded (to reset the backoff).
func (p *postgres) listenOnce(ctx context.Context) (connected bool, err error) {
	conn, err := pgx.ConnectConfig(ctx, p.connCfg)
	if err != nil {
		return false, err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = conn.Close(cctx)
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+notifyChannel); err != nil {
		return false, err
	}
	p.pid.Store(conn.PgConn().PID())
	p.connects.Add(1)
	p.signal() // whatever was notified while we were not listening
	for {
		wctx, cancel := context.WithTimeout(ctx, listenIdleCheck)
		n, err := conn.WaitForNotification(wctx)
		timedOut := wctx.Err() != nil
		cancel()
		switch {
		case err == nil:
			if n.Channel == notifyChannel && n.Payload == p.schema {
				p.signal()
			}
		case ctx.Err() != nil:
			return true, ctx.Err()
		case timedOut:
			pctx, cancel := context.WithTimeout(ctx, listenPingTimeout)
			err := conn.Ping(pctx)
			cancel()
			if err != nil {
				return true, err
			}
		default:
			return true, err
		}
	}
}
