package notify

import (
	"bytes"
	"cmp"
	"encoding/csv"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/cortexbridge/cortex-bridge/event"
)

// DefaultScoreThreshold is the score under which a digest lists a repository as below target.
const DefaultScoreThreshold = 70

// Digest is what digest templates see as .Digest (docs/configuration.md, digests): the period, its events and figures
// computed from them.
type Digest struct {
	Name           string
	Template       string // template name the digest is rendered with
	From, To       time.Time
	Events         []*event.Event // every event of the period, oldest first
	Counts         map[string]int // events per type
	Scans          DigestScans
	CriticalIssues []DigestIssue // deduplicated, most recent first
	Threshold      float64       // score threshold for BelowThreshold
	// Findings counts the period's finding.new, finding.fixed and finding.regressed events per
	// repository and branch (docs/events.md, Findings), most changes first.
	Findings []RepoFindings
	// OpenFindings are the findings open when the period closed, per repository and branch,
	// oldest first (at most MaxOpenFindingScopes); empty when the run did not record them.
	OpenFindings []OpenFindings
}

// RepoFindings counts what the period's scan comparisons said about one repository and branch.
type RepoFindings struct {
	RepoURL, Repo, Branch string // Repo: RepoURL shortened (event.Repo)
	New, Fixed, Regressed int
}

// OpenFindings are the open findings of one repository and branch when a digest period closed:
// how many, and since when the oldest of them is open.
type OpenFindings struct {
	RepoURL string    `json:"repo_url"`
	Repo    string    `json:"-"` // RepoURL shortened (event.Repo)
	Branch  string    `json:"branch"`
	Open    int       `json:"open"`
	Oldest  time.Time `json:"oldest"` // first_seen of the oldest open finding
	// AgeDays is how many whole days the oldest was open at the period's end (set by
	// NewDigest's caller, core.FillDigest).
	AgeDays int `json:"-"`
}

// MaxOpenFindingScopes bounds Digest.OpenFindings: the repositories and branches with the oldest
// open findings are kept.
const MaxOpenFindingScopes = 100

// DigestScans summarises the period's scans.
type DigestScans struct {
	Started, Completed, Failed, TimedOut int
	Scored                               int     // completed scans with a score
	AverageScore                         float64 // over Scored; 0 when none
	LowestScore                          float64 // 0 when none
	LowestRepo                           string
	BelowThreshold                       []RepoScore // repositories whose latest score is under the threshold, lowest first
}

// RepoScore is a repository's latest score in the period.
type RepoScore struct {
	Repo  string
	Score float64
	Scan  string
	When  time.Time
}

// DigestIssue is one critical finding, reported once however many scans found it.
type DigestIssue struct {
	IssueID, Title, Severity, Repo, File string
	Line                                 int64
	FirstSeen, LastSeen                  time.Time
	Count                                int
}

// NewDigest computes a digest of events (any order) for the period [from, to].
func NewDigest(name string, from, to time.Time, events []*event.Event, threshold float64) *Digest {
	if threshold == 0 {
		threshold = DefaultScoreThreshold
	}
	evs := slices.Clone(events)
	slices.SortStableFunc(evs, func(a, b *event.Event) int { return a.Timestamp.Compare(b.Timestamp) })
	d := &Digest{Name: name, From: from, To: to, Events: evs, Counts: map[string]int{}, Threshold: threshold}
	latest := map[string]RepoScore{}
	issues := map[string]*DigestIssue{}
	findings := map[[2]string]*RepoFindings{}
	var sum float64
	d.Scans.LowestScore = math.Inf(1)
	for _, ev := range evs {
		d.Counts[ev.Type]++
		repo := event.Repo(ev.String("repo_url"))
		switch ev.Type {
		case event.ScanStarted:
			d.Scans.Started++
		case event.ScanFailed:
			d.Scans.Failed++
		case event.ScanTimeout:
			d.Scans.TimedOut++
		case event.ScanCompleted:
			d.Scans.Completed++
			if score, ok := ev.Data["score"].(float64); ok {
				d.Scans.Scored++
				sum += score
				if score < d.Scans.LowestScore {
					d.Scans.LowestScore, d.Scans.LowestRepo = score, repo
				}
				latest[cmp.Or(repo, ev.String("scan_id"))] = RepoScore{Repo: repo, Score: score, Scan: ev.String("scan_id"), When: ev.Timestamp}
			}
		case event.IssueCritical:
			key := cmp.Or(ev.String("issue_id"), ev.String("title")+"|"+ev.String("file"))
			is := issues[key]
			if is == nil {
				line, _ := ev.Data["line"].(int64)
				is = &DigestIssue{IssueID: ev.String("issue_id"), Title: ev.String("title"), Severity: ev.String("severity"),
					Repo: repo, File: ev.String("file"), Line: line, FirstSeen: ev.Timestamp}
				issues[key] = is
			}
			is.Count++
			is.LastSeen = ev.Timestamp
		case event.FindingNew, event.FindingFixed, event.FindingRegressed:
			key := [2]string{ev.String("repo_url"), ev.String("branch")}
			f := findings[key]
			if f == nil {
				f = &RepoFindings{RepoURL: key[0], Repo: repo, Branch: key[1]}
				findings[key] = f
			}
			switch ev.Type {
			case event.FindingNew:
				f.New++
			case event.FindingFixed:
				f.Fixed++
			default:
				f.Regressed++
			}
		}
	}
	for _, f := range findings {
		d.Findings = append(d.Findings, *f)
	}
	slices.SortFunc(d.Findings, func(a, b RepoFindings) int {
		return cmp.Or(cmp.Compare(b.New+b.Fixed+b.Regressed, a.New+a.Fixed+a.Regressed), cmp.Compare(a.RepoURL, b.RepoURL), cmp.Compare(a.Branch, b.Branch))
	})
	if d.Scans.Scored > 0 {
		d.Scans.AverageScore = math.Round(sum/float64(d.Scans.Scored)*10) / 10
	} else {
		d.Scans.LowestScore = 0
	}
	for _, rs := range latest {
		if rs.Score < threshold {
			d.Scans.BelowThreshold = append(d.Scans.BelowThreshold, rs)
		}
	}
	slices.SortFunc(d.Scans.BelowThreshold, func(a, b RepoScore) int {
		return cmp.Or(cmp.Compare(a.Score, b.Score), cmp.Compare(a.Repo, b.Repo))
	})
	for _, is := range issues {
		d.CriticalIssues = append(d.CriticalIssues, *is)
	}
	slices.SortFunc(d.CriticalIssues, func(a, b DigestIssue) int {
		return cmp.Or(b.LastSeen.Compare(a.LastSeen), cmp.Compare(a.Title, b.Title))
	})
	return d
}

// CSV returns every event of the digest as CSV (one row per event, with its main fields), the
// full detail behind a digest's top-N lists.
func (d *Digest) CSV() []byte {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	_ = w.Write([]string{"timestamp", "event", "id", "repo", "scan_id", "status", "score", "issues_count",
		"severity", "title", "file", "line", "error", "duration_seconds"})
	for _, ev := range d.Events {
		_ = w.Write([]string{ev.Timestamp.UTC().Format(time.RFC3339), ev.Type, ev.ID, event.Repo(ev.String("repo_url")),
			ev.String("scan_id"), ev.String("status"), num(ev.Data["score"]), num(ev.Data["issues_count"]),
			ev.String("severity"), ev.String("title"), ev.String("file"), num(ev.Data["line"]), ev.String("error"),
			num(ev.Data["duration_seconds"])})
	}
	w.Flush()
	return b.Bytes()
}

func num(v any) string {
	switch x := v.(type) {
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return ""
}

// Attachment is a file sent with a message (email attaches it; chat targets ignore it).
type Attachment struct {
	Name        string
	ContentType string
	Data        []byte
}
