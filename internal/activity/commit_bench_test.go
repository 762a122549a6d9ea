package activity

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/uuid"

	"github.com/seckill/seckill/internal/seckill"
)

// BenchmarkCommit measures one group commit (activity.commit_claims, one
// round trip) by batch size, on one connection as the engine's committer
// uses one at a time, as migrated (its statement planned once and reused)
// and with PostgreSQL left to choose (plan_cache_mode reset on the
// function), in one run. The test clusters run with fsync off: this is the
// statement's cost, not the disk's. Left to choose, PostgreSQL re-planned
// the statement for every small batch, and a one-claim commit cost three
// times as much.
func BenchmarkCommit(b *testing.B) {
	for _, plan := range []string{"migrated", "chosen per call"} {
		b.Run("plan="+plan, func(b *testing.B) {
			ctx := context.Background()
			pool, id := oneConnSale(b, 1_000_000_000)
			if plan != "migrated" {
				if _, err := pool.Exec(ctx, `ALTER FUNCTION activity.commit_claims(bigint, bigint[], uuid[]) RESET plan_cache_mode`); err != nil {
					b.Fatal(err)
				}
			}
			s := NewSales(pool)
			user := int64(0)
			for _, n := range []int{1, 16, 128} {
				b.Run(fmt.Sprintf("claims=%d", n), func(b *testing.B) {
					claims := make([]seckill.Claim, n)
					for b.Loop() {
						for i := range claims {
							user++
							claims[i] = seckill.Claim{UserID: user, OrderID: uuid.New()}
						}
						outs, _, err := s.Commit(ctx, id, claims)
						if err != nil {
							b.Fatal(err)
						}
						if outs[n-1].Status != seckill.Won {
							b.Fatalf("claim answered %s, want won", outs[n-1].Status)
						}
					}
					b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/claim")
				})
			}
		})
	}
}
