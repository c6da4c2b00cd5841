package dashboard

import (
	"fmt"
	"html"
	"html/template"
	"strconv"
	"strings"
	"time"

	"github.com/cortexbridge/cortex-bridge/core"
)

// chartRow is one bucket of the activity chart, for its table (the chart's text alternative).
type chartRow struct {
	From, To time.Time
	Events   int
	Failed   int
	Attempts int
}

// The chart's geometry, in viewBox units: small enough that its text stays legible on a phone
// (the SVG scales with the page's width). chartLeft is the least room left of the plot for the
// y-axis labels; longer labels widen it (axisLabelRoom).
const (
	chartW, chartH       = 360.0, 170.0
	chartLeft, chartTop  = 30.0, 8.0
	chartRight, chartBot = 6.0, 22.0
)

// Y-axis labels end axisGap left of the plot and keep axisPad from the viewBox's left edge.
// Their font is 12px system-ui (.chart .axis in static/app.css, in viewBox units), whose digits
// advance at most 0.636 em (DejaVu Sans, the fallback on Linux; Arial, Helvetica and Segoe UI
// are narrower): axisDigitW per digit.
const (
	axisGap, axisPad = 4.0, 2.0
	axisDigitW       = 0.64 * 12
)

// axisLabelRoom is the room left of the plot for y-axis labels up to top, so that the widest
// ends inside the viewBox (text past its left edge is clipped: a 4-digit label lost its first
// digit in a fixed 30-unit margin).
func axisLabelRoom(top int) float64 {
	return max(chartLeft, axisPad+axisDigitW*float64(len(strconv.Itoa(top)))+axisGap)
}

// activityChart draws buckets as an SVG bar chart, rendered on the server: per bucket, a bar
// of events received and one of failed attempts, on one scale.
func activityChart(buckets []core.ActivityBucket, now time.Time) (template.HTML, []chartRow) {
	rows := make([]chartRow, len(buckets))
	peak := 0
	for i, b := range buckets {
		to := now
		if i+1 < len(buckets) {
			to = buckets[i+1].Start
		}
		rows[i] = chartRow{From: b.Start, To: to, Events: b.Events, Failed: b.FailedAttempts, Attempts: b.Attempts}
		peak = max(peak, b.Events, b.FailedAttempts)
	}
	top := niceCeil(peak)
	left := axisLabelRoom(top)
	plotW, plotH := chartW-left-chartRight, chartH-chartTop-chartBot
	y := func(v int) float64 { return chartTop + plotH - plotH*float64(v)/float64(top) }

	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %.0f %.0f" role="img" aria-labelledby="chart-title chart-desc" xmlns="http://www.w3.org/2000/svg">`, chartW, chartH)
	b.WriteString(`<title id="chart-title">Events received and failed attempts per hour, last 24 hours</title>`)
	totalE, totalF := 0, 0
	for _, r := range rows {
		totalE += r.Events
		totalF += r.Failed
	}
	fmt.Fprintf(&b, `<desc id="chart-desc">%d events received and %d failed attempts in the last 24 hours; the table below the chart lists each hour.</desc>`, totalE, totalF)
	for _, v := range []int{0, top / 2, top} {
		yy := y(v)
		fmt.Fprintf(&b, `<line class="grid" x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f"/>`, left, chartW-chartRight, yy, yy)
		fmt.Fprintf(&b, `<text class="axis" x="%.1f" y="%.1f" text-anchor="end">%d</text>`, left-axisGap, yy+3.5, v)
	}
	n := len(rows)
	if n > 0 {
		slot := plotW / float64(n)
		bar := max(slot*0.36, 1)
		for i, r := range rows {
			x := left + slot*float64(i) + slot*0.12
			label := html.EscapeString(fmt.Sprintf("%s–%s UTC: %s received, %d of %s failed",
				r.From.Format("15:04"), r.To.Format("15:04"), plural(r.Events, "event"), r.Failed, plural(r.Attempts, "attempt")))
			fmt.Fprintf(&b, `<g><title>%s</title>`, label)
			if r.Events > 0 {
				fmt.Fprintf(&b, `<rect class="bar-events" x="%.1f" y="%.1f" width="%.1f" height="%.1f"/>`, x, y(r.Events), bar, chartTop+plotH-y(r.Events))
			}
			if r.Failed > 0 {
				fmt.Fprintf(&b, `<rect class="bar-failed" x="%.1f" y="%.1f" width="%.1f" height="%.1f"/>`, x+bar, y(r.Failed), bar, chartTop+plotH-y(r.Failed))
			}
			b.WriteString(`</g>`)
		}
		for i := 0; i <= n; i += 6 {
			x := left + slot*float64(i)
			label := "now"
			if i < n {
				label = fmt.Sprintf("−%dh", n-i)
			}
			anchor := "middle"
			if i == n {
				anchor = "end"
			}
			fmt.Fprintf(&b, `<text class="axis" x="%.1f" y="%.1f" text-anchor="%s">%s</text>`, x, chartH-6, anchor, label)
		}
	}
	fmt.Fprintf(&b, `<line class="baseline" x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f"/>`, left, chartW-chartRight, chartTop+plotH, chartTop+plotH)
	b.WriteString(`</svg>`)
	return template.HTML(b.String()), rows
}

// niceCeil rounds v up to 2, 4, 6, 8 or 10 times a power of ten: an even top, so the middle
// grid line is a whole number.
func niceCeil(v int) int {
	for p := 1; ; p *= 10 {
		for _, m := range []int{2, 4, 6, 8, 10} {
			if m*p >= v {
				return m * p
			}
		}
	}
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
