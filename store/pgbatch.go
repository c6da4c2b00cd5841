package store

// The hot write paths on Postgres (dialect.ingest, dialect.complete): a whole batch as arrays in
// one statement, one round trip.

import (
	"context"
	"slices"
	"strings"

	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/event"
)

// pgIngestSQL stores a whole ingest batch in one statement (one round trip, atomic): the events
// as arrays, in id order so two replicas inserting overlapping batches lock in the same order;
// then the deliveries, digest items, group items, findings (scan_findings, finding_scans) and scan contexts (event.ScanOf; merged per scan
// in batch order, the first value given for each field kept) of the events that were new; and, if any
// new delivery is pending (not handed straight to this replica's workers), a notification for
// idle replicas. It returns the ids of the new events.
const pgIngestSQL = `WITH ev AS (
	INSERT INTO events (id, type, occurred_at_ms, received_at_ms, sender_delivery, body, severity, repository, scan_id, title, file)
	SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::text[], $6::bytea[],
		$26::text[], $27::text[], $28::text[], $29::text[], $30::text[])
	ORDER BY 1
	ON CONFLICT (id) DO NOTHING
	RETURNING id
), dl AS (
	INSERT INTO deliveries (id, event_id, target, route, state, attempts, next_attempt_at_ms, lease_owner,
		lease_until_ms, created_at_ms, updated_at_ms, last_error, event_received_at_ms)
	SELECT x.id, x.event_id, x.target, x.route, x.state, 0, x.next_at, NULLIF(x.owner, ''),
		CASE WHEN x.owner = '' THEN NULL ELSE x.until END, x.created, x.created, x.last_error, x.received
	FROM unnest($7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::bigint[], $13::text[], $14::bigint[], $15::bigint[], $37::text[], $50::bigint[])
		AS x(id, event_id, target, route, state, next_at, owner, until, created, last_error, received)
	WHERE x.event_id COLLATE "C" IN (SELECT id FROM ev)
	RETURNING state
), di AS (
	INSERT INTO digest_items (digest, event_id, received_at_ms)
	SELECT x.digest, x.event_id, x.received
	FROM unnest($16::text[], $17::text[], $18::bigint[]) AS x(digest, event_id, received)
	WHERE x.event_id COLLATE "C" IN (SELECT id FROM ev)
), gi AS (
	INSERT INTO group_items (target, route, group_key, event_id, received_at_ms, member, closes)
	SELECT x.target, x.route, x.gkey, x.event_id, x.received, x.member, x.closes
	FROM unnest($19::text[], $20::text[], $21::text[], $22::text[], $23::bigint[], $24::int[], $25::int[])
		AS x(target, route, gkey, event_id, received, member, closes)
	WHERE x.event_id COLLATE "C" IN (SELECT id FROM ev)
), sc AS (
	INSERT INTO scans (scan_id, repo_url, branch, commit_id, first_seen_ms, last_seen_ms)
	SELECT x.scan_id,
		(array_agg(x.repo ORDER BY x.n) FILTER (WHERE x.repo <> ''))[1],
		(array_agg(x.branch ORDER BY x.n) FILTER (WHERE x.branch <> ''))[1],
		(array_agg(x.commit ORDER BY x.n) FILTER (WHERE x.commit <> ''))[1],
		min(x.seen), max(x.seen)
	FROM unnest($31::text[], $32::text[], $33::text[], $34::text[], $35::text[], $36::bigint[]) WITH ORDINALITY
		AS x(scan_id, event_id, repo, branch, commit, seen, n)
	WHERE x.event_id COLLATE "C" IN (SELECT id FROM ev)
	GROUP BY x.scan_id ORDER BY 1
	ON CONFLICT (scan_id) DO UPDATE SET
		repo_url = COALESCE(scans.repo_url, EXCLUDED.repo_url),
		branch = COALESCE(scans.branch, EXCLUDED.branch),
		commit_id = COALESCE(scans.commit_id, EXCLUDED.commit_id),
		first_seen_ms = LEAST(scans.first_seen_ms, EXCLUDED.first_seen_ms),
		last_seen_ms = GREATEST(scans.last_seen_ms, EXCLUDED.last_seen_ms)
), sf AS (
	INSERT INTO scan_findings (scan_id, fingerprint, title, file, line, severity, received_at_ms)
	SELECT x.scan_id, x.fp, x.title, x.file, x.line, x.severity, x.received
	FROM unnest($38::text[], $39::text[], $40::text[], $41::text[], $42::text[], $43::bigint[], $44::text[], $45::bigint[]) WITH ORDINALITY
		AS x(event_id, scan_id, fp, title, file, line, severity, received, n)
	WHERE x.event_id COLLATE "C" IN (SELECT id FROM ev)
	ORDER BY x.scan_id, x.fp, x.n
	ON CONFLICT (scan_id, fingerprint) DO NOTHING
), fs AS (
	INSERT INTO finding_scans (scan_id, received_at_ms, due_at_ms)
	SELECT x.scan_id, x.received, x.due
	FROM unnest($46::text[], $47::text[], $48::bigint[], $49::bigint[]) WITH ORDINALITY AS x(event_id, scan_id, received, due, n)
	WHERE x.event_id COLLATE "C" IN (SELECT id FROM ev)
	ORDER BY x.scan_id, x.n
	ON CONFLICT (scan_id) DO NOTHING
), wake AS (
	SELECT pg_notify('` + notifyChannel + `', COALESCE(current_schema(), '')) FROM dl WHERE state = 'pending' LIMIT 1
)
SELECT id FROM ev WHERE (SELECT count(*) FROM wake) >= 0`

func (d *DB) pgIngest(ctx context.Context, items []core.IngestItem) ([]bool, error) {
	return d.pgIngestIn(ctx, d.w, items)
}

// pgIngestIn is pgIngest's statement run on q (the database, or a transaction).
func (d *DB) pgIngestIn(ctx context.Context, q querier, items []core.IngestItem) ([]bool, error) {
	dup := make([]bool, len(items))
	first := make(map[string]int, len(items)) // stored id → index of its first item in the batch
	var (
		evID, evType, evSender                             []string
		evOccurred, evReceived                             []int64
		evBody                                             [][]byte
		evSeverity, evRepo, evScan, evTitle, evFile        []string
		dlID, dlEvent, dlTarget, dlRoute, dlState, dlOwner []string
		dlNext, dlUntil, dlCreated, dlReceived             []int64
		dlError                                            []string // set for silenced deliveries
		diDigest, diEvent                                  []string
		diReceived                                         []int64
		giTarget, giRoute, giKey, giEvent                  []string
		giReceived                                         []int64
		giMember, giCloses                                 []int32
		scID, scEvent, scRepo, scBranch, scCommit          []string
		scSeen                                             []int64
		sfEvent, sfScan, sfFP, sfTitle, sfFile, sfSeverity []string
		sfLine, sfReceived                                 []int64
		fsEvent, fsScan                                    []string
		fsReceived, fsDue                                  []int64
	)
	for i, it := range items {
		ev := it.Event
		id := pgText(ev.ID)
		if _, seen := first[id]; seen {
			dup[i] = true // the same id earlier in this batch
			continue
		}
		first[id] = i
		evID, evType, evSender = append(evID, id), append(evType, pgText(ev.Type)), append(evSender, pgText(ev.Delivery))
		evOccurred, evReceived, evBody = append(evOccurred, ms(ev.Timestamp)), append(evReceived, ms(ev.ReceivedAt)), append(evBody, ev.Raw)
		sev, repo, scan, title, file := listFields(ev)
		evSeverity, evRepo, evScan = append(evSeverity, pgText(sev)), append(evRepo, pgText(repo)), append(evScan, pgText(scan))
		evTitle, evFile = append(evTitle, pgText(title)), append(evFile, pgText(file))
		for _, dl := range it.Deliveries {
			var until int64
			if dl.LeaseOwner != "" {
				until = ms(dl.LeaseUntil)
			}
			dlID, dlEvent, dlTarget = append(dlID, pgText(dl.ID)), append(dlEvent, id), append(dlTarget, pgText(dl.Target))
			dlRoute, dlState, dlOwner = append(dlRoute, pgText(dl.Route)), append(dlState, string(dl.State)), append(dlOwner, pgText(dl.LeaseOwner))
			dlNext, dlUntil, dlCreated = append(dlNext, ms(dl.NextAttemptAt)), append(dlUntil, until), append(dlCreated, ms(dl.CreatedAt))
			dlError, dlReceived = append(dlError, pgText(dl.LastError)), append(dlReceived, ms(ev.ReceivedAt))
		}
		for _, name := range it.Digests {
			diDigest, diEvent, diReceived = append(diDigest, pgText(name)), append(diEvent, id), append(diReceived, ms(ev.ReceivedAt))
		}
		for _, g := range it.Groups {
			giTarget, giRoute, giKey, giEvent = append(giTarget, pgText(g.Target)), append(giRoute, pgText(g.Route)), append(giKey, pgText(g.Key)), append(giEvent, id)
			giReceived, giMember, giCloses = append(giReceived, ms(ev.ReceivedAt)), append(giMember, flag(g.Member)), append(giCloses, flag(g.Closes))
		}
		if sc, ok := event.ScanOf(ev); ok {
			scID, scEvent, scRepo = append(scID, pgText(sc.ID)), append(scEvent, id), append(scRepo, pgText(sc.RepoURL))
			scBranch, scCommit, scSeen = append(scBranch, pgText(sc.Branch)), append(scCommit, pgText(sc.Commit)), append(scSeen, ms(sc.LastSeen))
		}
		if f := it.Finding; f != nil {
			sfEvent, sfScan, sfFP = append(sfEvent, id), append(sfScan, pgText(f.ScanID)), append(sfFP, pgText(f.Fingerprint))
			sfTitle, sfFile, sfSeverity = append(sfTitle, pgText(f.Title)), append(sfFile, pgText(f.File)), append(sfSeverity, pgText(f.Severity))
			sfLine, sfReceived = append(sfLine, f.Line), append(sfReceived, ms(ev.ReceivedAt))
		}
		if it.ScanCompleted != "" {
			fsEvent, fsScan = append(fsEvent, id), append(fsScan, pgText(it.ScanCompleted))
			fsReceived, fsDue = append(fsReceived, ms(ev.ReceivedAt)), append(fsDue, ms(it.CompareAt))
		}
	}
	rows, err := q.QueryContext(ctx, pgIngestSQL,
		evID, evType, evOccurred, evReceived, evSender, evBody,
		dlID, dlEvent, dlTarget, dlRoute, dlState, dlNext, dlOwner, dlUntil, dlCreated,
		diDigest, diEvent, diReceived,
		giTarget, giRoute, giKey, giEvent, giReceived, giMember, giCloses,
		evSeverity, evRepo, evScan, evTitle, evFile,
		scID, scEvent, scRepo, scBranch, scCommit, scSeen, dlError,
		sfEvent, sfScan, sfFP, sfTitle, sfFile, sfLine, sfSeverity, sfReceived,
		fsEvent, fsScan, fsReceived, fsDue, dlReceived)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	stored := make(map[string]bool, len(evID))
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		stored[id] = true
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for id, i := range first {
		dup[i] = !stored[id]
	}
	return dup, nil
}

// pgCompleteSQL writes a completion batch in one statement: every attempt row, and the delivery
// updates of the owners that still hold their leases (id = ANY gives the planner the primary key
// path whatever its estimate of the unnest). A retry that is due at once wakes the
// idle replicas; a later one is found by their pollers when it is due.
const pgCompleteSQL = `WITH a AS (
	INSERT INTO attempts (delivery_id, number, started_at_ms, duration_ms, outcome, status_code, error, response)
	SELECT * FROM unnest($1::text[], $2::int[], $3::bigint[], $4::bigint[], $5::text[], $6::int[], $7::text[], $8::text[])
), u AS (
	UPDATE deliveries d
	SET state = c.state, attempts = c.number, next_attempt_at_ms = c.next_at, last_error = c.last_error,
		lease_owner = NULL, lease_until_ms = NULL, updated_at_ms = c.ended
	FROM unnest($9::text[], $10::text[], $11::int[], $12::bigint[], $13::text[], $14::bigint[], $15::text[])
		AS c(id, state, number, next_at, last_error, ended, owner)
	WHERE d.id = ANY($9::text[]) AND d.id = c.id COLLATE "C"
		AND d.state = 'running' AND d.lease_owner = c.owner COLLATE "C"
	RETURNING d.state, d.next_attempt_at_ms, d.updated_at_ms
), wake AS (
	SELECT pg_notify('` + notifyChannel + `', COALESCE(current_schema(), ''))
	FROM u WHERE state = 'pending' AND next_attempt_at_ms <= updated_at_ms LIMIT 1
)
SELECT count(*) FROM wake`

func (d *DB) pgComplete(ctx context.Context, cs []core.Completion) error {
	if len(cs) == 0 {
		return nil
	}
	var (
		aDelivery, aOutcome, aError, aResponse []string
		aNumber, aStatus                       []int32
		aStarted, aDuration                    []int64
	)
	for _, c := range cs {
		a := c.Attempt
		aDelivery, aNumber, aStarted = append(aDelivery, pgText(a.DeliveryID)), append(aNumber, int32(a.Number)), append(aStarted, ms(a.StartedAt))
		aDuration, aOutcome, aStatus = append(aDuration, a.Duration.Milliseconds()), append(aOutcome, pgText(a.Outcome)), append(aStatus, int32(a.StatusCode))
		aError, aResponse = append(aError, pgText(a.Error)), append(aResponse, pgText(a.Response))
	}
	// One update per delivery (the first completion wins, as when applied one by one), in id
	// order so that overlapping batches of two replicas lock rows in the same order.
	ups := make([]core.Completion, 0, len(cs))
	seen := make(map[string]bool, len(cs))
	for _, c := range cs {
		if id := pgText(c.Attempt.DeliveryID); !seen[id] {
			seen[id] = true
			ups = append(ups, c)
		}
	}
	slices.SortStableFunc(ups, func(a, b core.Completion) int { return strings.Compare(a.Attempt.DeliveryID, b.Attempt.DeliveryID) })
	var (
		uID, uState, uLastError, uOwner []string
		uNumber                         []int32
		uNext, uEnded                   []int64
	)
	for _, c := range ups {
		a := c.Attempt
		uID, uState, uNumber = append(uID, pgText(a.DeliveryID)), append(uState, string(c.State)), append(uNumber, int32(a.Number))
		uNext, uLastError = append(uNext, ms(c.NextAttemptAt)), append(uLastError, pgText(c.LastError))
		uEnded, uOwner = append(uEnded, ms(a.StartedAt.Add(a.Duration))), append(uOwner, pgText(c.LeaseOwner))
	}
	var n int
	return d.w.QueryRowContext(ctx, pgCompleteSQL,
		aDelivery, aNumber, aStarted, aDuration, aOutcome, aStatus, aError, aResponse,
		uID, uState, uNumber, uNext, uLastError, uEnded, uOwner).Scan(&n)
}
