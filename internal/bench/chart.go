package bench

import (
	"fmt"
	"html"
	"math"
	"strings"
)

// Series is one line of a chart.
type Series struct {
	Name  string
	Color string // any SVG color
	X, Y  []float64
}

// Chart is a line chart drawn as SVG by Go alone, so make bench needs no
// plotting tool to put its figures in BENCHMARKS.md.
type Chart struct {
	Title, XLabel, YLabel string
	Series                []Series
}

// The chart's size and the plot's margins, in pixels.
const (
	chartW, chartH                     = 720, 320
	marginL, marginR, marginT, marginB = 70, 20, 40, 50
)

// SVG draws the chart: axes from zero to a round maximum with five ticks
// each, one polyline per series and a legend.
func (c Chart) SVG() []byte {
	var xMax, yMax float64
	for _, s := range c.Series {
		for i := range s.X {
			xMax, yMax = math.Max(xMax, s.X[i]), math.Max(yMax, s.Y[i])
		}
	}
	xMax, yMax = roundUp(xMax), roundUp(yMax)
	pw, ph := float64(chartW-marginL-marginR), float64(chartH-marginT-marginB)
	px := func(x float64) float64 { return marginL + x/xMax*pw }
	py := func(y float64) float64 { return marginT + ph - y/yMax*ph }

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n",
		chartW, chartH, chartW, chartH)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%d" y="22" font-size="15" font-weight="bold">%s</text>`+"\n", marginL, html.EscapeString(c.Title))
	for i := 0; i <= 5; i++ {
		x, y := xMax*float64(i)/5, yMax*float64(i)/5
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/>`+"\n", px(x), marginT, px(x), chartH-marginB)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", px(x), chartH-marginB+16, num(x))
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>`+"\n", marginL, py(y), chartW-marginR, py(y))
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n", marginL-6, py(y)+4, num(y))
	}
	fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", marginL+pw/2, chartH-12, html.EscapeString(c.XLabel))
	fmt.Fprintf(&b, `<text x="16" y="%.1f" text-anchor="middle" transform="rotate(-90 16 %.1f)">%s</text>`+"\n",
		marginT+ph/2, marginT+ph/2, html.EscapeString(c.YLabel))
	for i, s := range c.Series {
		var pts strings.Builder
		for j := range s.X {
			fmt.Fprintf(&pts, "%.1f,%.1f ", px(s.X[j]), py(s.Y[j]))
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`+"\n", s.Color, strings.TrimSpace(pts.String()))
		lx := float64(chartW - marginR - 170)
		ly := float64(marginT + 14 + 18*i)
		fmt.Fprintf(&b, `<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="%s" stroke-width="3"/>`+"\n", lx, ly-4, lx+20, ly-4, s.Color)
		fmt.Fprintf(&b, `<text x="%.0f" y="%.0f">%s</text>`+"\n", lx+26, ly, html.EscapeString(s.Name))
	}
	b.WriteString("</svg>\n")
	return []byte(b.String())
}

// roundUp returns a round number (1, 2 or 5 times a power of ten) at or
// above v, so the axis ticks are round too.
func roundUp(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

// num formats an axis value briefly: 12000 as 12k.
func num(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%gM", math.Round(v/1e5)/10)
	case v >= 1e3:
		return fmt.Sprintf("%gk", math.Round(v/1e2)/10)
	}
	return fmt.Sprintf("%g", math.Round(v*100)/100)
}
