package core

import (
	"encoding/base64"
	"encoding/json"
	"time"
)

// FindingFilter selects findings for listings (GET /findings, the dashboard's findings page):
// the store applies every field in its query, before Limit and After. Zero fields match
// everything.
type FindingFilter struct {
	// RepoURL is a repository as people write it: a URL (https://github.com/acme/api, with or
	// without a trailing slash or .git; git@github.com:acme/api.git) or owner/name. It matches
	// the findings whose scope's repository is the same one per event.RepoKey; owner/name
	// matches that path on any host.
	RepoURL string
	// Branch, when set, is the branch exactly: "" selects the scope of scans that named none.
	// nil: every branch.
	Branch *string
	State  string      // FindingOpen (open and regressed), FindingRegressed or FindingFixed
	Limit  int         // default DefaultPageSize
	After  *FindingKey // the page after this finding (FindingKey.Cursor of a page's last)
}

// FindingScope is one repository and branch with findings, counted by state (the dashboard's
// findings overview).
type FindingScope struct {
	RepoURL, Branch        string
	Open, Regressed, Fixed int
	LastSeen               time.Time // the latest last_seen of its findings
}

// FindingKey is a finding's place in listings, most recently seen first: last_seen, then
// repository, branch and fingerprint ascending.
type FindingKey struct {
	LastSeen                     time.Time
	RepoURL, Branch, Fingerprint string
}

// Key returns f's place in listings.
func (f Finding) Key() FindingKey {
	return FindingKey{LastSeen: f.LastSeen, RepoURL: f.RepoURL, Branch: f.Branch, Fingerprint: f.Fingerprint}
}

// Cursor encodes k as an opaque cursor (base64url of JSON), for the page after it.
func (k FindingKey) Cursor() string {
	b, _ := json.Marshal([]any{k.LastSeen.UnixMilli(), k.RepoURL, k.Branch, k.Fingerprint})
	return base64.RawURLEncoding.EncodeToString(b)
}

// ParseFindingCursor decodes a FindingKey.Cursor; anything else is ErrBadCursor.
func ParseFindingCursor(c string) (*FindingKey, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return nil, ErrBadCursor
	}
	var parts []json.RawMessage
	var ms int64
	var k FindingKey
	if json.Unmarshal(b, &parts) != nil || len(parts) != 4 || json.Unmarshal(parts[0], &ms) != nil ||
		json.Unmarshal(parts[1], &k.RepoURL) != nil || json.Unmarshal(parts[2], &k.Branch) != nil ||
		json.Unmarshal(parts[3], &k.Fingerprint) != nil {
		return nil, ErrBadCursor
	}
	k.LastSeen = time.UnixMilli(ms).UTC()
	return &k, nil
}
