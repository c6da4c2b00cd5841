package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/core"
)

func webhookTests() map[string]func(t *testing.T, s Store) {
	return map[string]func(t *testing.T, s Store){
		"WebhooksPerAccount":          testWebhooksPerAccount,
		"WebhookUpdateVersions":       testWebhookUpdate,
		"DeliveryPagesAndFilters":     testDeliveryPages,
		"RetryGivesAFreshBudget":      testRetryDelivery,
		"AttemptsOfSeveralDeliveries": testAttemptsOf,
	}
}

func webhook(id, account string) *core.Webhook {
	return &core.Webhook{ID: id, Account: account, URL: "https://example.com/" + id, Events: []string{"scan.completed", "issue.critical"},
		Secret: "whsec_0123456789abcdef", Active: true, Description: "d", Version: 1, CreatedAt: t0, UpdatedAt: t0}
}

func testWebhooksPerAccount(t *testing.T, s Store) {
	ctx := context.Background()
	before, err := s.WebhooksChanged(ctx)
	require.NoError(t, err)
	for i := range 3 {
		require.NoError(t, s.CreateWebhook(ctx, webhook(fmt.Sprint("wh_a", i), "acme"), 3))
	}
	require.ErrorIs(t, s.CreateWebhook(ctx, webhook("wh_a3", "acme"), 3), core.ErrLimitReached)
	require.NoError(t, s.CreateWebhook(ctx, webhook("wh_b0", "beta"), 3), "the limit is per account")

	acme, err := s.Webhooks(ctx, "acme")
	require.NoError(t, err)
	require.Len(t, acme, 3)
	require.Equal(t, webhook("wh_a0", "acme"), acme[0], "every field round-trips")
	all, err := s.Webhooks(ctx, "")
	require.NoError(t, err)
	require.Len(t, all, 4)

	_, err = s.Webhook(ctx, "beta", "wh_a0")
	require.ErrorIs(t, err, core.ErrNotFound, "another account's webhook does not exist for you")
	require.ErrorIs(t, s.DeleteWebhook(ctx, "beta", "wh_a0"), core.ErrNotFound)
	require.NoError(t, s.DeleteWebhook(ctx, "acme", "wh_a0"))
	_, err = s.Webhook(ctx, "acme", "wh_a0")
	require.ErrorIs(t, err, core.ErrNotFound)
	after, err := s.WebhooksChanged(ctx)
	require.NoError(t, err)
	require.NotEqual(t, before, after)
}

func testWebhookUpdate(t *testing.T, s Store) {
	ctx := context.Background()
	require.NoError(t, s.CreateWebhook(ctx, webhook("wh_1", "acme"), 10))
	before, err := s.WebhooksChanged(ctx)
	require.NoError(t, err)
	w := webhook("wh_1", "acme")
	w.URL, w.Events, w.Active, w.Secret, w.UpdatedAt = "https://example.com/new", []string{"*"}, false, "whsec_new-0123456789", t0.Add(time.Minute)
	w.SignatureScheme = "standard-webhooks"
	require.NoError(t, s.UpdateWebhook(ctx, w, 1))
	require.Equal(t, 2, w.Version)
	got, err := s.Webhook(ctx, "acme", "wh_1")
	require.NoError(t, err)
	require.Equal(t, w, got, "every field is stored, the signature scheme too")
	require.ErrorIs(t, s.UpdateWebhook(ctx, w, 1), core.ErrConflict, "a stale version is refused")
	w.Account = "beta"
	require.ErrorIs(t, s.UpdateWebhook(ctx, w, 0), core.ErrNotFound)
	after, err := s.WebhooksChanged(ctx)
	require.NoError(t, err)
	require.NotEqual(t, before, after)

	std := webhook("wh_2", "acme")
	std.SignatureScheme = "standard-webhooks"
	require.NoError(t, s.CreateWebhook(ctx, std, 10))
	got, err = s.Webhook(ctx, "acme", "wh_2")
	require.NoError(t, err)
	require.Equal(t, std, got, "the signature scheme is stored at creation")
}

func testDeliveryPages(t *testing.T, s Store) {
	ctx := context.Background()
	var items []core.IngestItem
	for i := range 7 {
		ev := newEvent(t, fmt.Sprint("e", i))
		d1, d2 := delivery("wh_a", core.StatePending, ""), delivery("wh_b", core.StatePending, "")
		d1.CreatedAt, d2.CreatedAt = t0.Add(time.Duration(i)*time.Second), t0.Add(time.Duration(i)*time.Second)
		items = append(items, core.IngestItem{Event: ev, Deliveries: []*core.Delivery{d1, d2}})
	}
	ingest(t, s, items...)
	var seen []string
	cursor := ""
	for range 10 {
		p, err := s.DeliveryPage(ctx, core.DeliveryFilter{Targets: []string{"wh_a"}, Limit: 3, Cursor: cursor})
		require.NoError(t, err)
		for _, d := range p.Deliveries {
			require.Equal(t, "wh_a", d.Target)
			require.Equal(t, "scan.started", d.EventType)
			seen = append(seen, d.EventID)
		}
		if cursor = p.NextCursor; cursor == "" {
			break
		}
	}
	require.Equal(t, []string{"e6", "e5", "e4", "e3", "e2", "e1", "e0"}, seen, "every delivery once, newest first")

	p, err := s.DeliveryPage(ctx, core.DeliveryFilter{Targets: []string{}})
	require.NoError(t, err)
	require.Empty(t, p.Deliveries, "an account without webhooks sees nothing")
	p, err = s.DeliveryPage(ctx, core.DeliveryFilter{EventType: "issue.critical"})
	require.NoError(t, err)
	require.Empty(t, p.Deliveries)
	p, err = s.DeliveryPage(ctx, core.DeliveryFilter{From: t0.Add(2 * time.Second), To: t0.Add(3 * time.Second), Target: "wh_b"})
	require.NoError(t, err)
	require.Len(t, p.Deliveries, 2)
	_, err = s.DeliveryPage(ctx, core.DeliveryFilter{Cursor: "nonsense"})
	require.ErrorIs(t, err, core.ErrBadCursor)

	got := claim(t, s, "me", "wh_a", t0.Add(time.Minute), 1)
	require.Len(t, got, 1)
	require.NoError(t, s.Complete(ctx, []core.Completion{{LeaseOwner: "me", Attempt: attempt(got[0], 1, "server_error"),
		State: core.StatePending, NextAttemptAt: t0.Add(time.Hour)}}))
	p, err = s.DeliveryPage(ctx, core.DeliveryFilter{Failed: true})
	require.NoError(t, err)
	require.Equal(t, []string{got[0].ID}, ids(p.Deliveries), "failed: waiting for a retry after a failed attempt")
	one, err := s.Delivery(ctx, got[0].ID)
	require.NoError(t, err)
	require.Equal(t, 1, one.Attempts)
	_, err = s.Delivery(ctx, "nope")
	require.ErrorIs(t, err, core.ErrNotFound)
}

func testRetryDelivery(t *testing.T, s Store) {
	ctx := context.Background()
	d := delivery("a", core.StatePending, "")
	ingest(t, s, core.IngestItem{Event: newEvent(t, "e1"), Deliveries: []*core.Delivery{d}})
	got := claim(t, s, "me", "a", t0, 1)
	require.ErrorIs(t, s.RetryDelivery(ctx, d.ID, t0), core.ErrConflict, "not while an attempt runs")
	require.NoError(t, s.Complete(ctx, []core.Completion{{LeaseOwner: "me", Attempt: attempt(got[0], 4, "server_error"), State: core.StateDead}}))
	require.NoError(t, s.RetryDelivery(ctx, d.ID, t0.Add(time.Hour)))
	again := claim(t, s, "me", "a", t0.Add(time.Hour), 1)
	require.Len(t, again, 1)
	require.Equal(t, d.ID, again[0].ID, "the same delivery id")
	require.Equal(t, 4, again[0].Attempts)
	require.Equal(t, 4, again[0].RetryBase, "max_attempts counts again from here")
	require.ErrorIs(t, s.RetryDelivery(ctx, "nope", t0), core.ErrNotFound)
}

func testAttemptsOf(t *testing.T, s Store) {
	ctx := context.Background()
	a, b := delivery("a", core.StatePending, ""), delivery("a", core.StatePending, "")
	ingest(t, s, core.IngestItem{Event: newEvent(t, "e1"), Deliveries: []*core.Delivery{a}},
		core.IngestItem{Event: newEvent(t, "e2"), Deliveries: []*core.Delivery{b}})
	require.Len(t, claim(t, s, "me", "a", t0, 2), 2)
	require.NoError(t, s.Complete(ctx, []core.Completion{
		{LeaseOwner: "me", Attempt: attempt(a, 1, "server_error"), State: core.StatePending, NextAttemptAt: t0},
		{LeaseOwner: "me", Attempt: attempt(b, 1, "success"), State: core.StateSucceeded},
	}))
	require.Len(t, claim(t, s, "me", "a", t0, 2), 1)
	require.NoError(t, s.Complete(ctx, []core.Completion{{LeaseOwner: "me", Attempt: attempt(a, 2, "success"), State: core.StateSucceeded}}))
	got, err := s.AttemptsOf(ctx, []string{a.ID, b.ID, "none"})
	require.NoError(t, err)
	require.Len(t, got[a.ID], 2)
	require.Equal(t, []int{1, 2}, []int{got[a.ID][0].Number, got[a.ID][1].Number})
	require.Len(t, got[b.ID], 1)
	require.Empty(t, got["none"])
}
