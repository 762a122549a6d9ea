package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/seckill/seckill/internal/devstack/pgserver"
)

// pgbenchScript is the seckill transaction of the Go baseline as a pgbench
// custom script: one winner inserted and the stock conditionally
// decremented, one win per transaction. Users are drawn at random from a
// range far above the Go baseline's sequential ids; among the few 100,000
// transactions of a run, two draws of one id out of 9*10^12 are unlikely
// (a duplicate would abort its client, and the run says so).
const pgbenchScript = `\set u random(1000000000, 9000000000000)
BEGIN;
INSERT INTO activity.winners (activity_id, user_id, order_id) VALUES (:id, :u, gen_random_uuid());
UPDATE activity.activities SET remaining = remaining - 1 WHERE id = :id AND remaining >= 1;
COMMIT;
`

// baselineLevels are the connection counts both database baselines run
// at, Go and pgbench alike, so that the table compares them level by level.
var baselineLevels = []int{1, 2, 4, 16, 64}

// findPgbench returns the pgbench binary: on PATH, or beside the server
// binaries the cluster runs from.
func findPgbench() (string, error) {
	if p, err := exec.LookPath("pgbench"); err == nil {
		return p, nil
	}
	dir, err := pgserver.FindBinaries()
	if err != nil {
		return "", err
	}
	p := filepath.Join(dir, "pgbench")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("pgbench is neither on PATH nor in %s", dir)
	}
	return p, nil
}

// pgbenchBaseline runs pgbenchScript on database name of cluster, against
// an activity of its own, at every connection count of baselineLevels, for d
// each (whole seconds, at least one), and returns each level's
// transactions/s. dir holds the script file.
func pgbenchBaseline(ctx context.Context, bin string, cluster *pgserver.Cluster, name string, d time.Duration, dir string, out io.Writer) ([]level, error) {
	pool, err := pgxpool.New(ctx, cluster.URL(name))
	if err != nil {
		return nil, err
	}
	activity, err := baselineActivity(ctx, pool, "database baseline, pgbench")
	pool.Close()
	if err != nil {
		return nil, err
	}
	script := filepath.Join(dir, "seckill.pgbench.sql")
	if err := os.WriteFile(script, []byte(pgbenchScript), 0o644); err != nil {
		return nil, err
	}
	secs := max(1, int(math.Ceil(d.Seconds())))
	var levels []level
	for _, c := range baselineLevels {
		cmd := exec.CommandContext(ctx, bin, "-n", "-M", "prepared", "-f", script, "-D", "id="+strconv.FormatInt(activity, 10),
			"-c", strconv.Itoa(c), "-j", strconv.Itoa(min(2, c)), "-T", strconv.Itoa(secs),
			"-h", "127.0.0.1", "-p", strconv.Itoa(cluster.Port), "-U", "postgres", name)
		var buf bytes.Buffer
		cmd.Stdout, cmd.Stderr = &buf, &buf
		err := cmd.Run()
		tps, perr := parsePgbenchTPS(buf.String())
		if err != nil || perr != nil {
			return nil, fmt.Errorf("pgbench at %d clients: %w\n%s", c, errors.Join(err, perr), buf.String())
		}
		l := level{conns: c, tps: tps}
		fmt.Fprintf(out, "  pgbench, %2d clients: %7.0f transactions/s\n", c, l.tps)
		levels = append(levels, l)
	}
	return levels, nil
}

// pgbenchTPS matches pgbench's result line: "tps = 3176.849960 (without
// initial connection time)" since PostgreSQL 14, "(excluding connections
// establishing)" before, after a line "(including ...)" that is not wanted.
var (
	pgbenchTPS     = regexp.MustCompile(`(?m)^tps = ([0-9.]+) \((without initial connection time|excluding connections establishing)\)`)
	pgbenchFailed  = regexp.MustCompile(`(?m)^number of failed transactions: ([0-9]+)`)
	pgbenchAborted = regexp.MustCompile(`(?m)^pgbench: error: .*aborted`)
)

// parsePgbenchTPS reads the transactions/s out of pgbench's output. A run
// with aborted clients or failed transactions is refused: its rate is not
// the transaction's.
func parsePgbenchTPS(out string) (float64, error) {
	if m := pgbenchAborted.FindString(out); m != "" {
		return 0, fmt.Errorf("pgbench: a client aborted: %s", m)
	}
	if m := pgbenchFailed.FindStringSubmatch(out); m != nil && m[1] != "0" {
		return 0, fmt.Errorf("pgbench: %s failed transactions", m[1])
	}
	m := pgbenchTPS.FindStringSubmatch(out)
	if m == nil {
		return 0, errors.New("pgbench: no tps line in its output")
	}
	tps, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, fmt.Errorf("pgbench: tps %q: %w", m[1], err)
	}
	return tps, nil
}
