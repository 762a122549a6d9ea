package bench

import (
	"encoding/xml"
	"strings"
	"testing"
	"time"
)

func TestTimeline(t *testing.T) {
	// 100 users over 2 s: the first second answers 150 requests, 10 of them
	// wins in 1 ms each, the second 50 sold_out in 4 ms each.
	l := Load{Duration: 2 * time.Second, Answers: make([][2]Answer, 100)}
	for i := range l.Answers {
		for k := range 2 {
			n := 2*i + k
			a := Answer{Code: 200, Status: "sold_out", Latency: 4 * time.Millisecond, Done: 1500 * time.Millisecond}
			if n < 150 {
				a.Done, a.Latency = 500*time.Millisecond, time.Millisecond
				if n < 10 {
					a.Status = "won"
				}
			}
			l.Answers[i][k] = a
		}
	}
	got := l.Timeline(2)
	want := []Point{{At: time.Second, RPS: 150, WinsPerSec: 10, P50: time.Millisecond, P99: time.Millisecond},
		{At: 2 * time.Second, RPS: 50, P50: 4 * time.Millisecond, P99: 4 * time.Millisecond}}
	if len(got) != len(want) {
		t.Fatalf("Timeline(2) = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("point %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestChart_SVG(t *testing.T) {
	c := Chart{Title: "Throughput <&>", XLabel: "s", YLabel: "requests/s", Series: []Series{
		{Name: "requests/s", Color: "#1f77b4", X: []float64{0.5, 1, 1.5}, Y: []float64{12000, 30000, 8000}},
		{Name: "wins/s", Color: "#d62728", X: []float64{0.5, 1, 1.5}, Y: []float64{500, 200, 0}},
	}}
	svg := c.SVG()
	var doc struct {
		XMLName   xml.Name `xml:"svg"`
		Polylines []struct {
			Points string `xml:"points,attr"`
		} `xml:"polyline"`
	}
	if err := xml.Unmarshal(svg, &doc); err != nil {
		t.Fatalf("not well-formed SVG: %v\n%s", err, svg)
	}
	if len(doc.Polylines) != 2 || len(strings.Fields(doc.Polylines[0].Points)) != 3 {
		t.Errorf("polylines %+v, want 2 of 3 points", doc.Polylines)
	}
	if !strings.Contains(string(svg), ">50k<") {
		t.Errorf("the y axis does not reach the round 50k above the 30k peak")
	}
}
