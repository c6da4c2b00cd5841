package dashboard

import (
	"encoding/xml"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/core"
)

// svgText is one <text> or <rect> of the chart: its class, x, text-anchor and content.
type svgText struct {
	class, anchor, text string
	x                   float64
}

// chartShapes parses the chart's SVG (it must be well-formed XML) into its texts and rects.
func chartShapes(t *testing.T, svg string) (texts, rects []svgText) {
	t.Helper()
	dec := xml.NewDecoder(strings.NewReader(svg))
	var cur *svgText
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return texts, rects
		}
		require.NoError(t, err, svg)
		switch tok := tok.(type) {
		case xml.StartElement:
			if tok.Name.Local != "text" && tok.Name.Local != "rect" {
				continue
			}
			s := svgText{}
			for _, a := range tok.Attr {
				switch a.Name.Local {
				case "class":
					s.class = a.Value
				case "text-anchor":
					s.anchor = a.Value
				case "x":
					s.x, err = strconv.ParseFloat(a.Value, 64)
					require.NoError(t, err)
				}
			}
			if tok.Name.Local == "rect" {
				rects = append(rects, s)
				continue
			}
			cur = &s
		case xml.CharData:
			if cur != nil {
				cur.text += string(tok)
			}
		case xml.EndElement:
			if tok.Name.Local == "text" && cur != nil {
				texts = append(texts, *cur)
				cur = nil
			}
		}
	}
}

// axisDigitAdvance is the widest digit advance of the axis labels' font, in viewBox units: the
// font size .chart .axis sets in static/app.css times 0.636 em (DejaVu Sans' digits, the widest
// of the usual system-ui fonts), read from the stylesheet so that a bigger font fails here.
// Headless Chromium agrees: getBBox gives "2000" a width of 30.5 and, with the old fixed
// margin, x = -4.5.
func axisDigitAdvance(t *testing.T) float64 {
	t.Helper()
	css, err := os.ReadFile("static/app.css")
	require.NoError(t, err)
	m := regexp.MustCompile(`\.chart \.axis \{[^}]*font-size: *([0-9.]+)px`).FindSubmatch(css)
	require.NotNil(t, m, "static/app.css sets .chart .axis font-size in px")
	px, err := strconv.ParseFloat(string(m[1]), 64)
	require.NoError(t, err)
	return 0.636 * px
}

// TestChartAxisLabelsFit: every y-axis label, for 1- to 5-digit maxima, is the whole number and
// starts inside the viewBox (an SVG clips what is left of x = 0: a fixed 30-unit margin cut the
// first digit of "2000"), and every bar starts right of the labels.
func TestChartAxisLabelsFit(t *testing.T) {
	t.Parallel()
	advance := axisDigitAdvance(t)
	now := time.Date(2026, 1, 2, 12, 0, 0, 0, time.UTC)
	tests := map[string]struct {
		peak   int
		labels []string
	}{
		"1 digit":  {peak: 7, labels: []string{"0", "4", "8"}},
		"2 digits": {peak: 45, labels: []string{"0", "30", "60"}},
		"3 digits": {peak: 150, labels: []string{"0", "100", "200"}},
		"4 digits": {peak: 1500, labels: []string{"0", "1000", "2000"}},
		"8000":     {peak: 7999, labels: []string{"0", "4000", "8000"}},
		"5 digits": {peak: 45000, labels: []string{"0", "30000", "60000"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var buckets []core.ActivityBucket
			for i := range 24 {
				events := 1 + (tc.peak-1)*i/23 // 1 … peak
				buckets = append(buckets, core.ActivityBucket{Start: now.Add(time.Duration(i-24) * time.Hour),
					Events: events, FailedAttempts: 1 + events/2, Attempts: events})
			}
			svg, _ := activityChart(buckets, now)
			texts, rects := chartShapes(t, string(svg))
			var labels []string
			labelsEnd := 0.0
			for _, s := range texts {
				if s.class != "axis" || s.anchor != "end" || s.text == "now" {
					continue
				}
				labels = append(labels, s.text)
				start := s.x - advance*float64(len(s.text))
				require.GreaterOrEqual(t, start, 0.0, "label %q (x=%.1f, %.1f units wide) starts left of the viewBox", s.text, s.x, advance*float64(len(s.text)))
				labelsEnd = max(labelsEnd, s.x)
			}
			require.Equal(t, tc.labels, labels)
			require.Len(t, rects, 24+24, "a bar of events and one of failures per hour")
			for _, r := range rects {
				require.Greater(t, r.x, labelsEnd, "%s bar overlaps the labels", r.class)
				require.Less(t, r.x, chartW)
			}
		})
	}
}
