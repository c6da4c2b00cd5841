// Package file is the audit-log target (docs/configuration.md, targets): one JSON object per line, appended and
// fsync'd before the delivery counts as done.
package file

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/cortexbridge/cortex-bridge/notify"
)

// Config is a file target's YAML (targets[] with type: file).
type Config struct {
	// Path of the JSON Lines file, created (with its folder) when missing; mode 0600.
	Path string `yaml:"path"`
}

// Validate checks the config; errors name the key relative to the target.
func (c *Config) Validate() error {
	if c.Path == "" {
		return errors.New("path: required")
	}
	return nil
}

// Line is one audit record. Event is the original event as compact JSON.
type Line struct {
	ReceivedAt time.Time       `json:"received_at"`
	Event      json.RawMessage `json:"event"`
	Route      string          `json:"route"`
	Target     string          `json:"target"`
	DeliveryID string          `json:"delivery_id"` // the same on a retry: readers can drop repeats
}

// SyncInterval is the shortest time between two of Notify's fsyncs (group commit; Sync, which
// the dispatcher calls once per batch of results, does not wait for it): a
// line written within it of the last fsync waits for the next one, shared with every line
// written meanwhile. A line after a quiet spell is fsynced at once, and so is every line of a
// target whose concurrency is 1 (WithConcurrency): with one delivery at a time, waiting would
// gather nothing. One fsync costs 0.2–0.3 ms of disk time here and competes with the
// database's own fsyncs: at 1 000 lines/s the spacing cuts a file target's fsyncs from ~830 to
// ~330 a second, and at 2 500 events/s it halves the bridge's ingest ack p99 (63 → 31 ms,
// BENCHMARKS.md). A target's throughput is at most its concurrency × 500 lines/s, which its
// default concurrency (64) puts far above the bridge's ingest.
const SyncInterval = 2 * time.Millisecond

// Notifier appends to one file. Writes are serialised, so lines never interleave; fsyncs are
// shared: a writer whose line a concurrent fsync already covered does not fsync again, and
// Notify's fsyncs are at least SyncInterval apart (group commit). The dispatcher uses it as a
// notify.Syncer: NotifyUnsynced per delivery, one Sync per batch of results. When the file is moved or removed (log
// rotation), the next write reopens the path, so no restart or signal is needed.
type Notifier struct {
	path    string
	alone   bool       // concurrency 1: no other line can share an fsync
	mu      sync.Mutex // guards f, info and written
	f       *os.File
	info    os.FileInfo // f's, to spot a rotation with one Stat of the path
	written uint64      // lines written to the files so far

	syncMu   sync.Mutex // one fsync at a time; guards synced, lastSync, syncs and waits
	synced   uint64     // lines known to be on disk
	lastSync time.Time  // when the last fsync ended
	syncs    uint64     // fsyncs so far (tests)
	waits    uint64     // fsyncs delayed for the spacing so far (tests)
	closeErr error      // set by Close when its fsync failed: what a later Sync returns
}

var _ notify.Syncer = (*Notifier)(nil)

// Option configures a Notifier.
type Option func(*Notifier)

// WithConcurrency tells the notifier how many Notify calls the dispatcher makes at once (the
// target's concurrency). With 1, each line is fsynced at once instead of waiting out
// SyncInterval for lines that cannot come. Without it, calls are taken to be concurrent.
func WithConcurrency(n int) Option {
	return func(nt *Notifier) { nt.alone = n == 1 }
}

// New opens (creating) the file for appending.
func New(cfg *Config, opts ...Option) (*Notifier, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(cfg.Path), 0o750); err != nil {
		return nil, fmt.Errorf("path: %w", err)
	}
	f, info, err := open(cfg.Path)
	if err != nil {
		return nil, fmt.Errorf("path: %w", err)
	}
	n := &Notifier{path: cfg.Path, f: f, info: info}
	for _, o := range opts {
		o(n)
	}
	return n, nil
}

func open(path string) (*os.File, os.FileInfo, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, nil, err
	}
	info, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, nil, err
	}
	return f, info, nil
}

// current returns the open file, reopening the path when the file was rotated away; the old file
// is fsynced before it is closed, so the lines written to it are on disk. Called with mu held.
func (n *Notifier) current() (*os.File, error) {
	if onDisk, err := os.Stat(n.path); err == nil && os.SameFile(n.info, onDisk) {
		return n.f, nil
	}
	f, info, err := open(n.path)
	if err != nil {
		return nil, err
	}
	if err := n.f.Sync(); err != nil {
		_ = f.Close()
		return nil, err
	}
	_ = n.f.Close()
	n.f, n.info = f, info
	return f, nil
}

// Notify appends one line for msg and returns once it is fsynced. A write or sync error is
// retryable (disk full may clear); the partial line, if any, is left for readers to skip as
// invalid JSON, and a retried line carries the same delivery_id.
func (n *Notifier) Notify(ctx context.Context, msg *notify.Message) error {
	mine, err := n.write(ctx, msg)
	if err != nil {
		return err
	}
	return retryable(n.syncThrough(mine, !n.alone))
}

// NotifyUnsynced appends one line for msg like Notify but returns before the fsync: the line
// is in the operating system's cache until the next Sync (or Notify, or Close) puts it on disk.
// The dispatcher calls Sync before it records the delivery as done (notify.Syncer).
func (n *Notifier) NotifyUnsynced(ctx context.Context, msg *notify.Message) error {
	_, err := n.write(ctx, msg)
	return err
}

// Sync returns once every line written before it began is on disk: at once when an fsync
// since then covered them, else after one fsync of its own, without SyncInterval's spacing (its
// caller gathers the lines). The error is retryable, as Notify's.
func (n *Notifier) Sync() error {
	n.mu.Lock()
	upto := n.written
	n.mu.Unlock()
	return retryable(n.syncThrough(upto, false))
}

// write appends msg's line and returns its number (lines written so far, this one included).
func (n *Notifier) write(ctx context.Context, msg *notify.Message) (uint64, error) {
	line, err := lineOf(msg)
	if err != nil {
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, notify.AsDeliveryError(err)
	}
	n.mu.Lock()
	f, err := n.current()
	if err == nil {
		_, err = f.Write(line)
	}
	n.written++
	mine := n.written
	n.mu.Unlock()
	return mine, retryable(err)
}

// retryable wraps a write or sync error as a retryable delivery error; nil stays nil.
func retryable(err error) error {
	if err == nil {
		return nil
	}
	return &notify.DeliveryError{Err: err, Reason: notify.ReasonServerError, Retryable: true}
}

// syncThrough returns once the first line lines are on disk, fsyncing unless a concurrent fsync
// already covered them; with spaced it first waits out the rest of SyncInterval since the last
// fsync, so the lines written meanwhile share this one. (Waiting only while other calls are in
// progress is not enough: at 1 000 lines/s each line is usually fsynced before the next
// arrives, so every line would get its own fsync.)
func (n *Notifier) syncThrough(line uint64, spaced bool) error {
	n.syncMu.Lock()
	defer n.syncMu.Unlock()
	if n.synced >= line {
		return nil
	}
	if n.closeErr != nil {
		return n.closeErr
	}
	if wait := SyncInterval - time.Since(n.lastSync); wait > 0 && spaced {
		n.waits++
		time.Sleep(wait)
	}
	n.mu.Lock()
	f, upto := n.f, n.written
	n.mu.Unlock()
	if err := f.Sync(); err != nil && !errors.Is(err, os.ErrClosed) { // closed: rotated, and fsynced then
		return err
	}
	n.synced, n.lastSync = upto, time.Now()
	n.syncs++
	return nil
}

// Close fsyncs what NotifyUnsynced left unsynced and closes the file; a Sync after it
// returns nil when that fsync covered its lines, else the fsync's error. It is safe on a nil
// Notifier (what a failed New returns), so cleanup after a partial start needs no check.
func (n *Notifier) Close() error {
	if n == nil {
		return nil
	}
	n.syncMu.Lock()
	defer n.syncMu.Unlock()
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.synced < n.written {
		if err := n.f.Sync(); err != nil {
			n.closeErr = fmt.Errorf("fsync before close: %w", err)
		} else {
			n.synced = n.written
		}
	}
	return errors.Join(n.closeErr, n.f.Close())
}
