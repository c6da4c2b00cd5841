package dashboard

import (
	"fmt"
	"html/template"
	"io/fs"
	"net/url"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/event"
)

// parsePages parses each page of templates/ with the layout and the shared partials.
func (d *Dashboard) parsePages() (map[string]*template.Template, error) {
	names, err := fs.Glob(files, "templates/*.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, file := range names {
		name := strings.TrimSuffix(path.Base(file), ".html")
		if name == "layout" || name == "partials" {
			continue
		}
		t, err := template.New(name).Funcs(d.funcs()).ParseFS(files, "templates/layout.html", "templates/partials.html", file)
		if err != nil {
			return nil, fmt.Errorf("dashboard template %s: %w", file, err)
		}
		pages[name] = t
	}
	return pages, nil
}

func (d *Dashboard) funcs() template.FuncMap {
	return template.FuncMap{
		"when": func(t time.Time) string {
			if t.IsZero() {
				return "—"
			}
			return t.UTC().Format("2006-01-02 15:04:05 UTC")
		},
		"iso": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"ago": func(t time.Time) string { return ago(d.cfg.NowFunc(), t) },
		"dur": func(v time.Duration) string {
			switch {
			case v < time.Millisecond:
				return "<1 ms"
			case v < time.Second:
				return fmt.Sprintf("%d ms", v.Milliseconds())
			default:
				return fmt.Sprintf("%.1f s", v.Seconds())
			}
		},
		"statusClass":  statusClass,
		"silencedLink": silencedLink,
		"severityClass": func(severity string) string {
			switch severity {
			case "critical", "high":
				return "bad"
			case "medium":
				return "warn"
			default:
				return "muted"
			}
		},
		"outcomeClass": func(outcome string) string {
			if outcome == "success" {
				return "good"
			}
			return "bad"
		},
		"events": func(events []string) string {
			if slices.Contains(events, "*") {
				return "all events"
			}
			return strings.Join(events, ", ")
		},
		"deliveryStatus": (*core.Delivery).Status,
		"eventLabel": func(t string) string {
			if t == "*" {
				return "All events, also types Cortex adds later (*)"
			}
			return t
		},
		"allEvents":  func() []string { return append(slices.Clone(event.Types), "*") },
		"pathEscape": url.PathEscape,
		"asset":      func(name string) string { return "/ui/assets/" + name + "?v=" + d.cfg.Version },
	}
}

func statusClass(status string) string {
	switch status {
	case "succeeded", "success", "healthy":
		return "good"
	case "dead", "failing", "circuit open":
		return "bad"
	case "failed":
		return "warn"
	case "pending", "running":
		return "info"
	default:
		return "muted"
	}
}

// ago says how long before now t was ("3 min ago"), or how long until it ("in 2 h").
func ago(now, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t)
	suffix := " ago"
	if d < 0 {
		d, suffix = -d, ""
	}
	var s string
	switch {
	case d < 5*time.Second:
		return "just now"
	case d < time.Minute:
		s = fmt.Sprintf("%d s", int(d.Seconds()))
	case d < time.Hour:
		s = fmt.Sprintf("%d min", int(d.Minutes()))
	case d < 48*time.Hour:
		s = fmt.Sprintf("%d h", int(d.Hours()))
	default:
		s = fmt.Sprintf("%d days", int(d.Hours()/24))
	}
	if suffix == "" {
		return "in " + s
	}
	return s + suffix
}
