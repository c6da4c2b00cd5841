package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/core"
)

func silenceTests() map[string]func(t *testing.T, s Store) {
	return map[string]func(t *testing.T, s Store){
		"SilencesActiveEndedExpired":           testSilences,
		"AcknowledgeRecordsAndAudits":          testAcknowledge,
		"SilencedDeliveriesAreListedAndPruned": testSilencedDeliveries,
	}
}

func audit(action, subject string, at time.Time) core.AuditEntry {
	return core.AuditEntry{ID: uuid.Must(uuid.NewV7()).String(), At: at, Actor: "api:ops", Action: action, Subject: subject, Detail: "d"}
}

func silence(id string, created time.Time, d time.Duration) *core.Silence {
	return &core.Silence{ID: id, When: `repo == "acme/api"`, Comment: "deploy", CreatedBy: "alice", CreatedAt: created, ExpiresAt: created.Add(d)}
}

// testSilences: a silence is listed as active from its creation until it expires or is ended;
// ending is recorded once (a second end, or ending an expired one, is a conflict; an unknown id
// is not found); every change writes its audit entries.
func testSilences(t *testing.T, s Store) {
	ctx := context.Background()
	a, b := uuid.Must(uuid.NewV7()).String(), uuid.Must(uuid.NewV7()).String()
	require.NoError(t, s.CreateSilence(ctx, silence(a, t0, time.Hour), audit(core.AuditSilenceCreate, a, t0)))
	require.NoError(t, s.CreateSilence(ctx, silence(b, t0.Add(time.Minute), 2*time.Hour),
		audit(core.AuditSilenceCreate, b, t0.Add(time.Minute)), audit(core.AuditEventMute, "ev-1", t0.Add(time.Minute))))
	ids := func(at time.Time) []string {
		t.Helper()
		list, err := s.Silences(ctx, core.SilenceFilter{ActiveAt: at})
		require.NoError(t, err)
		out := []string{}
		for _, x := range list {
			out = append(out, x.ID)
		}
		return out
	}
	tests := []struct {
		at   time.Time
		want []string
	}{
		{t0.Add(-time.Second), []string{}},
		{t0, []string{a}},
		{t0.Add(30 * time.Minute), []string{b, a}}, // newest first
		{t0.Add(time.Hour), []string{b}},           // a expired
		{t0.Add(3 * time.Hour), []string{}},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, ids(tt.at), "active at %s", tt.at)
	}
	got, err := s.Silence(ctx, a)
	require.NoError(t, err)
	require.Equal(t, silence(a, t0, time.Hour), got)

	end := audit(core.AuditSilenceEnd, b, t0.Add(10*time.Minute))
	require.NoError(t, s.EndSilence(ctx, b, end))
	require.ErrorIs(t, s.EndSilence(ctx, b, end), core.ErrConflict, "ended twice")
	require.ErrorIs(t, s.EndSilence(ctx, a, audit(core.AuditSilenceEnd, a, t0.Add(2*time.Hour))), core.ErrConflict, "expired")
	require.ErrorIs(t, s.EndSilence(ctx, "nope", end), core.ErrNotFound)
	_, err = s.Silence(ctx, "nope")
	require.ErrorIs(t, err, core.ErrNotFound)
	require.Equal(t, []string{a}, ids(t0.Add(20*time.Minute)))
	got, err = s.Silence(ctx, b)
	require.NoError(t, err)
	require.Equal(t, t0.Add(10*time.Minute), got.EndedAt)
	require.Equal(t, "api:ops", got.EndedBy)
	all, err := s.Silences(ctx, core.SilenceFilter{})
	require.NoError(t, err)
	require.Len(t, all, 2)

	entries, err := s.AuditLog(ctx, b, 0)
	require.NoError(t, err)
	require.Len(t, entries, 2, "created and ended once: failed ends write nothing")
	require.Equal(t, core.AuditSilenceEnd, entries[0].Action)
	require.Equal(t, core.AuditSilenceCreate, entries[1].Action)
	entries, err = s.AuditLog(ctx, "ev-1", 0)
	require.NoError(t, err)
	require.Len(t, entries, 1)
	require.Equal(t, core.AuditEventMute, entries[0].Action)
	entries, err = s.AuditLog(ctx, "", 0)
	require.NoError(t, err)
	require.Len(t, entries, 4)
}

// testAcknowledge: an acknowledgement of a stored event is recorded once per user (a second
// click moves its time) with an audit entry; one of an unknown event is refused and writes
// nothing; pruning the event removes its acknowledgements but not the audit log.
func testAcknowledge(t *testing.T, s Store) {
	ctx := context.Background()
	ev := newEvent(t, "ack-1")
	_, err := s.Ingest(ctx, []core.IngestItem{{Event: ev}})
	require.NoError(t, err)
	loaded, err := s.Event(ctx, "ack-1")
	require.NoError(t, err)
	require.Equal(t, ev.Raw, loaded.Raw)
	_, err = s.Event(ctx, "nope")
	require.ErrorIs(t, err, core.ErrNotFound)

	ack := core.Acknowledgement{EventID: "ack-1", UserID: "U1", UserName: "alice", Source: "slack", At: t0}
	require.NoError(t, s.Acknowledge(ctx, ack, audit(core.AuditEventAcknowledge, "ack-1", t0)))
	ack.At = t0.Add(time.Minute)
	require.NoError(t, s.Acknowledge(ctx, ack, audit(core.AuditEventAcknowledge, "ack-1", t0.Add(time.Minute))))
	require.NoError(t, s.Acknowledge(ctx, core.Acknowledgement{EventID: "ack-1", UserID: "U2", UserName: "bob", Source: "slack", At: t0.Add(2 * time.Minute)},
		audit(core.AuditEventAcknowledge, "ack-1", t0.Add(2*time.Minute))))
	missing := core.Acknowledgement{EventID: "nope", UserID: "U1", UserName: "alice", Source: "slack", At: t0}
	require.ErrorIs(t, s.Acknowledge(ctx, missing, audit(core.AuditEventAcknowledge, "nope", t0)), core.ErrNotFound)

	acks, err := s.Acknowledgements(ctx, "ack-1")
	require.NoError(t, err)
	require.Equal(t, []core.Acknowledgement{ack, {EventID: "ack-1", UserID: "U2", UserName: "bob", Source: "slack", At: t0.Add(2 * time.Minute)}}, acks)
	entries, err := s.AuditLog(ctx, "ack-1", 0)
	require.NoError(t, err)
	require.Len(t, entries, 3)
	entries, err = s.AuditLog(ctx, "nope", 0)
	require.NoError(t, err)
	require.Empty(t, entries)

	// Pruning the event takes its acknowledgements; the audit log stays.
	pruned, err := s.Prune(ctx, t0.Add(time.Hour))
	require.NoError(t, err)
	require.EqualValues(t, 1, pruned)
	acks, err = s.Acknowledgements(ctx, "ack-1")
	require.NoError(t, err)
	require.Empty(t, acks)
	entries, err = s.AuditLog(ctx, "ack-1", 0)
	require.NoError(t, err)
	require.Len(t, entries, 3)
}

// testSilencedDeliveries: deliveries stored as silenced are final: listed under their status,
// never claimed or counted as unfinished, and their event is pruned like a delivered one.
func testSilencedDeliveries(t *testing.T, s Store) {
	ctx := context.Background()
	ev := newEvent(t, "quiet")
	dl := delivery("a", core.StateSilenced, "")
	dl.LastError = "silenced by silence x"
	_, err := s.Ingest(ctx, []core.IngestItem{{Event: ev, Deliveries: []*core.Delivery{dl}}})
	require.NoError(t, err)
	n, err := s.Unfinished(ctx)
	require.NoError(t, err)
	require.Zero(t, n)
	due, err := s.DueTargets(ctx, t0.Add(time.Hour))
	require.NoError(t, err)
	require.Empty(t, due)
	var f core.DeliveryFilter
	require.True(t, f.SetStatus("silenced"))
	list, err := s.Deliveries(ctx, f)
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Equal(t, core.StateSilenced, list[0].State)
	require.Equal(t, "silenced by silence x", list[0].LastError)
	pruned, err := s.Prune(ctx, t0.Add(time.Hour))
	require.NoError(t, err)
	require.EqualValues(t, 1, pruned)
}
