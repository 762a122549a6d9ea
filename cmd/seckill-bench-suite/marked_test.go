package main

import (
	"strings"
	"testing"
	"time"

	"github.com/seckill/seckill/internal/bench"
)

const haSection = haBegin + "\n## What synchronous replication costs\n\nHA / single: 0.80\n" + haEnd

// TestKeepMarked: make bench's rewrite of BENCHMARKS.md keeps make
// bench-ha's section, and make bench-ha replaces only that section.
func TestKeepMarked(t *testing.T) {
	fresh := "# Benchmarks\n\nnew figures\n"
	t.Run("make bench carries the section over to its new file", func(t *testing.T) {
		old := "# Benchmarks\n\nold figures\n\n" + haSection + "\n\n## Later\n"
		got, err := keepMarked(fresh, old)
		if want := fresh + "\n" + haSection + "\n"; err != nil || got != want {
			t.Errorf("keepMarked = %q, %v; want %q", got, err, want)
		}
	})
	t.Run("make bench without a section leaves its file as it is", func(t *testing.T) {
		for _, old := range []string{"", "# Benchmarks\n\nold figures\n"} {
			if got, err := keepMarked(fresh, old); err != nil || got != fresh {
				t.Errorf("keepMarked(fresh, %q) = %q, %v; want fresh", old, got, err)
			}
		}
	})
	t.Run("make bench-ha replaces its section in place", func(t *testing.T) {
		doc := "# Benchmarks\n\n" + haSection + "\n\n## Later\n"
		next := strings.Replace(haSection, "0.80", "0.75", 1)
		got, err := replaceMarked(doc, next)
		if want := "# Benchmarks\n\n" + next + "\n\n## Later\n"; err != nil || got != want {
			t.Errorf("replaceMarked = %q, %v; want %q", got, err, want)
		}
	})
	t.Run("make bench-ha appends its section to a file without one", func(t *testing.T) {
		for doc, want := range map[string]string{
			"":                   haSection + "\n",
			"# Benchmarks\n":     "# Benchmarks\n\n" + haSection + "\n",
			"# Benchmarks\n\n":   "# Benchmarks\n\n" + haSection + "\n",
			"# Benchmarks\n\n\n": "# Benchmarks\n\n" + haSection + "\n",
		} {
			if got, err := replaceMarked(doc, haSection); err != nil || got != want {
				t.Errorf("replaceMarked(%q) = %q, %v; want %q", doc, got, err, want)
			}
		}
	})
	t.Run("unpaired or repeated markers are refused, not guessed at", func(t *testing.T) {
		for _, doc := range []string{
			"a\n" + haBegin + "\nb\n",
			"a\n" + haEnd + "\nb\n",
			haEnd + "\n" + haBegin,
			haSection + "\n" + haSection,
		} {
			if _, err := keepMarked(fresh, doc); err == nil {
				t.Errorf("keepMarked accepted %q", doc)
			}
			if _, err := replaceMarked(doc, haSection); err == nil {
				t.Errorf("replaceMarked accepted %q", doc)
			}
		}
	})
}

// TestHAResult_Table: the table gives each stack's runs, their median and
// its ratio to the single server's, and a failed run fails the whole.
func TestHAResult_Table(t *testing.T) {
	run := func(soldOut time.Duration) bench.Report {
		return bench.Report{Stock: 100_000, OK: true, SoldOutAfter: soldOut}
	}
	r := haResult{o: options{haDirect: true, winStock: 100_000},
		single:  []bench.Report{run(10 * time.Second), run(12500 * time.Millisecond)}, // 10000, 8000: median 9000
		proxied: []bench.Report{run(20 * time.Second), run(25 * time.Second)},         // 5000, 4000: median 4500
		direct:  []bench.Report{run(16 * time.Second), run(16 * time.Second)},         // 6250
	}
	hasRows(t, r.table(),
		"| 10000 (10.00s); 8000 (12.50s) | 9000 | 1.00 |",
		"| 5000 (20.00s); 4000 (25.00s) | 4500 | 0.50 |",
		"| 6250 (16.00s); 6250 (16.00s) | 6250 | 0.69 |",
		"| verification (wins == stock, pairs, stats, orders), every run | PASS |",
	)
	if m := r.meaning(); !strings.Contains(m, "at 50% of the single server's rate through HAProxy, and at 69% with one activity instance") {
		t.Errorf("the paragraph does not state the ratios: %s", m)
	}
	if s := r.section(r.table()); !strings.HasPrefix(s, haBegin+"\n") || !strings.HasSuffix(s, haEnd) {
		t.Errorf("the section is not between its markers: %q", s)
	}
	r.direct[1].OK = false
	hasRows(t, r.table(), "| verification (wins == stock, pairs, stats, orders), every run | FAIL |")
	if r.ok() {
		t.Error("a failed direct run passes")
	}
}
