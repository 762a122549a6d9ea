package main

import (
	"fmt"
	"runtime"
	"strings"
	"time"

	"github.com/seckill/seckill/internal/bench"
)

// haResult is make bench-ha's runs: the winning phase on the single server,
// on the HA cluster through HAProxy, and (unless -ha-direct=false) with one
// activity instance straight on the HA leader, in that order, run after
// run.
type haResult struct {
	o     options
	cores int
	date  time.Time
	load  string // the load average when the run started
	// single, proxied and direct are each stack's runs, in order.
	single, proxied, direct []bench.Report
}

// medianWins is the median of runs' winning-phase rates (stock over the
// time until the stats said it was gone).
func medianWins(runs []bench.Report) float64 {
	xs := make([]float64, len(runs))
	for i, r := range runs {
		xs[i] = r.SelloutWinsPerSec()
	}
	return medianFloat(xs)
}

// ok reports whether every run's verification passed; a run without one
// (none ran) does not pass.
func (r haResult) ok() bool {
	all := append(append(append([]bench.Report{}, r.single...), r.proxied...), r.direct...)
	for _, rep := range all {
		if !rep.OK {
			return false
		}
	}
	return len(r.single) > 0 && len(r.proxied) > 0
}

// ratio is HA's median rate over the single server's; 0 when either is
// unknown.
func (r haResult) ratio(ha []bench.Report) float64 {
	single, other := medianWins(r.single), medianWins(ha)
	if single == 0 || other == 0 {
		return 0
	}
	return other / single
}

// haRow names a row of the table and holds its runs.
type haRow struct {
	name string
	runs []bench.Report
}

func (r haResult) rows() []haRow {
	rows := []haRow{
		{"single server: one PostgreSQL, one activity instance (make bench's winning phase)", r.single},
		{"HA: buyers through HAProxy over two activity instances, the services on the leader through HAProxy", r.proxied},
	}
	if r.o.haDirect {
		rows = append(rows, haRow{"HA: one activity instance straight on the leader (multi-host DATABASE_URL, no HAProxy)", r.direct})
	}
	return rows
}

// table is the comparison: each stack's runs, their median and its ratio to
// the single server's.
func (r haResult) table() string {
	var b strings.Builder
	fmt.Fprintf(&b, "| stack | wins/s, each run (stock gone after) | median wins/s | / single server | p50, p99 of won answers, each run |\n|---|---|---|---|---|\n")
	for _, row := range r.rows() {
		var each, lat []string
		for _, rep := range row.runs {
			each = append(each, fmt.Sprintf("%.0f (%s)", rep.SelloutWinsPerSec(), soldOutText(rep.SoldOutAfter)))
			lat = append(lat, fmt.Sprintf("%s, %s", ms(rep.Stats.Won.P50), ms(rep.Stats.Won.P99)))
		}
		fmt.Fprintf(&b, "| %s | %s | %.0f | %.2f | %s |\n", row.name, strings.Join(each, "; "), medianWins(row.runs),
			r.ratio(row.runs), strings.Join(lat, "; "))
	}
	ok := r.ok()
	fmt.Fprintf(&b, "| verification (wins == stock, pairs, stats, orders), every run | %s | | | |\n", passFail(ok))
	return b.String()
}

// section is BENCHMARKS.md's part written by make bench-ha, between its
// markers: how it was measured, the table, and what the ratio means.
func (r haResult) section(table string) string {
	var b strings.Builder
	s := winningSale(r.o)
	b.WriteString(haBegin + "\n## What synchronous replication costs\n\n")
	fmt.Fprintf(&b, "Measured by `make bench-ha` on %s: %d cores, %s, %s/%s, load average %s at the start. ",
		r.date.Format("2006-01-02"), r.cores, runtime.Version(), runtime.GOOS, runtime.GOARCH, r.load)
	b.WriteString("Client, services and every PostgreSQL node (the single server and the cluster's three) share the machine and its disk.\n\n")
	if r.o.note != "" {
		b.WriteString(r.o.note + "\n\n")
	}
	fmt.Fprintf(&b, "The winning phase of `make bench` (stock %d, %d users x 2, %d connections, timed from the first request until ", s.stock, s.users, r.o.conns)
	fmt.Fprintf(&b, "GET /activities/{id}/stats, polled every %s, says no unit remains), run on the single server and on the HA cluster in turn, ", s.watch)
	fmt.Fprintf(&b, "%d times each, every run on freshly started services and verified as `make bench` verifies it. ", len(r.single))
	b.WriteString("The HA cluster is `make run-ha`'s: etcd, three Patroni-managed PostgreSQL 15 nodes with strict synchronous replication ")
	b.WriteString("(one synchronous standby, `synchronous_commit = on`), HAProxy; it stays up for the whole run, idle while the single server is measured.\n\n")
	b.WriteString(table)
	b.WriteString("\n" + r.meaning() + "\n")
	b.WriteString(haEnd)
	return b.String()
}

// meaning is the paragraph that says what the ratio is made of.
func (r haResult) meaning() string {
	var b strings.Builder
	b.WriteString("**What it means.** With synchronous replication a commit returns only once the synchronous standby has received ")
	b.WriteString("and flushed its WAL: every win's commit waits, beyond the leader's own flush, for a round trip to the standby and the ")
	b.WriteString("standby's fsync. The activity service does not commit wins one at a time: the claims waiting at that moment go in one ")
	b.WriteString("group commit (activity.commit_claims), so the wait is paid once per batch, and when commits slow down more claims queue ")
	b.WriteString("behind each one, so the batches grow and amortize it over more wins. ")
	fmt.Fprintf(&b, "Here the HA cluster sold the stock at %.0f%% of the single server's rate through HAProxy", 100*r.ratio(r.proxied))
	if r.o.haDirect {
		fmt.Fprintf(&b, ", and at %.0f%% with one activity instance straight on the leader. That second ratio leaves out ", 100*r.ratio(r.direct))
		b.WriteString("HAProxy's two hops (buyer to instance, service to leader) and the second instance, so what it loses is synchronous ")
		b.WriteString("replication's cost on this machine. The gap between the two ratios is the proxy's and the second instance's: ")
		b.WriteString("HAProxy's work takes CPU from the same cores, and two instances each run their own group commits on the activity's ")
		b.WriteString("one stock row, so their commits queue for its lock and each batch holds fewer wins")
	}
	b.WriteString(". On this machine the three nodes share the cores with the services and the client, so the standbys' ")
	b.WriteString("receiving and replaying WAL takes CPU the leader would otherwise have, and the round trip to the standby is a ")
	b.WriteString("loopback one: on separate machines the first part goes away and a network round trip per batch comes in its place. ")
	b.WriteString("The cluster's nodes run PostgreSQL's default shared_buffers (128 MB, against the single server's 256 MB) and data checksums; ")
	b.WriteString("a sale of this size fits in either.")
	return b.String()
}
