package store

// The ingest journal's records: how an accepted event with its deliveries is written to the
// journal file and read back at open (journal.go).

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"hash/crc32"
	"io"

	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/event"
)

// A record is a 16-byte header and a payload, little-endian:
//
//	payload length (uint32, bytes) | CRC-32C of the sequence number and the payload (uint32) |
//	sequence number (uint64, from 1) | payload
//
// and the payload is the length of the item's description (uint32, bytes), the description
// (journalItem as JSON) and the event's body, byte for byte. A record whose CRC does not match
// (a write torn by a crash, the zeros past the end, an older record being overwritten) ends the
// journal.
const journalHeader = 16

var journalCRC = crc32.MakeTable(crc32.Castagnoli)

// journalItem describes a core.IngestItem apart from the event's body: what sqliteIngestTx
// writes. Times are Unix milliseconds, as the database stores them.
type journalItem struct {
	ID            string              `json:"id"`
	Type          string              `json:"type"`
	Occurred      int64               `json:"occurred"`
	Received      int64               `json:"received"`
	Sender        []byte              `json:"sender,omitempty"` // bytes: the header may hold invalid UTF-8
	Deliveries    []journalDelivery   `json:"deliveries,omitempty"`
	Digests       []string            `json:"digests,omitempty"`
	Groups        []core.GroupItem    `json:"groups,omitempty"`
	Finding       *core.FindingRecord `json:"finding,omitempty"`
	ScanCompleted string              `json:"scan_completed,omitempty"`
	CompareAt     int64               `json:"compare_at,omitempty"`
}

// journalDelivery is a new delivery as ingest stores it (insertDeliveries).
type journalDelivery struct {
	ID         string `json:"id"`
	Target     string `json:"target"`
	Route      string `json:"route"`
	State      string `json:"state"`
	Next       int64  `json:"next"`
	LeaseOwner string `json:"lease_owner,omitempty"`
	LeaseUntil int64  `json:"lease_until,omitempty"`
	LastError  string `json:"last_error,omitempty"`
	Created    int64  `json:"created"`
}

// appendRecordHead appends to buf the record of it with sequence number seq, all but the event's
// body, which follows it in the file (written from it.Event.Raw, not copied: journal.ingest).
func appendRecordHead(buf []byte, seq uint64, it core.IngestItem) ([]byte, error) {
	ev := it.Event
	desc := journalItem{
		ID: ev.ID, Type: ev.Type, Occurred: ms(ev.Timestamp), Received: ms(ev.ReceivedAt), Sender: []byte(ev.Delivery),
		Digests: it.Digests, Groups: it.Groups, Finding: it.Finding, ScanCompleted: it.ScanCompleted,
	}
	if it.ScanCompleted != "" {
		desc.CompareAt = ms(it.CompareAt)
	}
	for _, dl := range it.Deliveries {
		jd := journalDelivery{ID: dl.ID, Target: dl.Target, Route: dl.Route, State: string(dl.State),
			Next: ms(dl.NextAttemptAt), LastError: dl.LastError, Created: ms(dl.CreatedAt)}
		if dl.LeaseOwner != "" {
			jd.LeaseOwner, jd.LeaseUntil = dl.LeaseOwner, ms(dl.LeaseUntil)
		}
		desc.Deliveries = append(desc.Deliveries, jd)
	}
	meta, err := json.Marshal(desc)
	if err != nil {
		return buf, err
	}
	start := len(buf)
	buf = append(buf, make([]byte, journalHeader+4)...)
	buf = append(buf, meta...)
	h := buf[start:]
	payload := h[journalHeader:] // without the body
	binary.LittleEndian.PutUint32(payload, uint32(len(meta)))
	binary.LittleEndian.PutUint32(h, uint32(len(payload)+len(ev.Raw)))
	binary.LittleEndian.PutUint64(h[8:], seq)
	crc := crc32.Update(crc32.Update(crc32.Checksum(h[8:16], journalCRC), journalCRC, payload), journalCRC, ev.Raw)
	binary.LittleEndian.PutUint32(h[4:], crc)
	return buf, nil
}

// errJournalEnd ends a read of the journal: the next record is missing, torn or stale.
var errJournalEnd = errors.New("end of journal")

// readRecord reads the record at r's position, whose sequence number must be want (0: any
// but 0), of at most limit bytes in all. Any record that does not check out is errJournalEnd.
func readRecord(r *bufio.Reader, want uint64, limit int64) (seq uint64, it core.IngestItem, n int64, err error) {
	var h [journalHeader]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, it, 0, errJournalEnd
	}
	size := int64(binary.LittleEndian.Uint32(h[:]))
	seq = binary.LittleEndian.Uint64(h[8:])
	if seq == 0 || (want != 0 && seq != want) || size < 4 || journalHeader+size > limit {
		return 0, it, 0, errJournalEnd
	}
	payload := make([]byte, size)
	if _, err := io.ReadFull(r, payload); err != nil {
		return 0, it, 0, errJournalEnd
	}
	if crc32.Update(crc32.Checksum(h[8:16], journalCRC), journalCRC, payload) != binary.LittleEndian.Uint32(h[4:]) {
		return 0, it, 0, errJournalEnd
	}
	metaLen := int64(binary.LittleEndian.Uint32(payload))
	if 4+metaLen > size {
		return 0, it, 0, errJournalEnd
	}
	var desc journalItem
	if err := json.Unmarshal(payload[4:4+metaLen], &desc); err != nil {
		return 0, it, 0, errJournalEnd
	}
	return seq, desc.item(payload[4+metaLen:]), journalHeader + size, nil
}

// item is the core.IngestItem desc describes, with body as its event's body. The event is
// parsed from its body as a stored one is (queryEvents), so the list's fields and the scan
// context come out as ingest wrote them; a body that no longer parses keeps its envelope.
func (desc journalItem) item(body []byte) core.IngestItem {
	ev, err := event.Parse(body)
	if err != nil {
		ev = &event.Event{Type: desc.Type, Timestamp: fromMS(desc.Occurred), Raw: body}
	}
	ev.ID, ev.ReceivedAt, ev.Delivery = desc.ID, fromMS(desc.Received), string(desc.Sender)
	it := core.IngestItem{Event: ev, Digests: desc.Digests, Groups: desc.Groups, Finding: desc.Finding,
		ScanCompleted: desc.ScanCompleted}
	if desc.ScanCompleted != "" {
		it.CompareAt = fromMS(desc.CompareAt)
	}
	for _, jd := range desc.Deliveries {
		dl := &core.Delivery{ID: jd.ID, EventID: desc.ID, Target: jd.Target, Route: jd.Route, State: core.State(jd.State),
			NextAttemptAt: fromMS(jd.Next), LastError: jd.LastError, CreatedAt: fromMS(jd.Created), Event: ev}
		if jd.LeaseOwner != "" {
			dl.LeaseOwner, dl.LeaseUntil = jd.LeaseOwner, fromMS(jd.LeaseUntil)
		}
		it.Deliveries = append(it.Deliveries, dl)
	}
	return it
}
