package activity

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/seckill/seckill/internal/platform/errs"
	"github.com/seckill/seckill/internal/platform/money"
	"github.com/seckill/seckill/internal/testing/pgtest"
)

// fakeProducts is the product service as the Catalog sees it, in memory:
// reservations keyed by product and activity, each an absolute quantity.
type fakeProducts struct {
	mu       sync.Mutex
	prices   map[int64]money.Cents
	reserved map[[2]int64]int64 // {product, activity} → quantity
	calls    int
	// reserveErr, when set, decides the answer of a reserve call before it
	// takes effect.
	reserveErr func(productID, activityID, quantity int64) error
	// releaseErr does the same for release.
	releaseErr func(productID, activityID int64) error
}

func newFakeProducts(ids ...int64) *fakeProducts {
	f := &fakeProducts{prices: map[int64]money.Cents{}, reserved: map[[2]int64]int64{}}
	for _, id := range ids {
		f.prices[id] = money.Cents(100 * id)
	}
	return f
}

func (f *fakeProducts) get(ctx context.Context, id int64) (product, map[string]any, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	price, ok := f.prices[id]
	if !ok {
		return product{}, nil, errs.E(errs.NotFound, "product %d not found", id)
	}
	return product{ID: id, Price: price}, map[string]any{"id": id}, nil
}

func (f *fakeProducts) reserve(ctx context.Context, productID, activityID, quantity int64) error {
	if f.reserveErr != nil {
		if err := f.reserveErr(productID, activityID, quantity); err != nil {
			return err
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	f.reserved[[2]int64{productID, activityID}] = quantity
	return nil
}

func (f *fakeProducts) release(ctx context.Context, productID, activityID int64) error {
	if f.releaseErr != nil {
		if err := f.releaseErr(productID, activityID); err != nil {
			return err
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	delete(f.reserved, [2]int64{productID, activityID})
	return nil
}

// holds returns what the products hold for activity id, by product.
func (f *fakeProducts) holds(id int64) map[int64]int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[int64]int64{}
	for k, q := range f.reserved {
		if k[1] == id {
			out[k[0]] = q
		}
	}
	return out
}

func (f *fakeProducts) callCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

func newCatalog(t *testing.T, f *fakeProducts) (*Catalog, *Store, *[]int64) {
	t.Helper()
	pool, _ := pgtest.NewPool(t)
	store := NewStore(pool)
	var forgotten []int64
	var mu sync.Mutex
	forget := func(id int64) { mu.Lock(); forgotten = append(forgotten, id); mu.Unlock() }
	return NewCatalog(store, f, forget, time.Now, slog.New(slog.DiscardHandler)), store, &forgotten
}

func later() CreateRequest {
	start := time.Now().Add(time.Hour).Truncate(time.Second)
	return CreateRequest{Name: "later", ProductID: 1, Stock: 30, StartTime: start, EndTime: start.Add(time.Hour)}
}

// wantHolds checks that the products hold exactly want for activity id.
func wantHolds(t *testing.T, f *fakeProducts, id int64, want map[int64]int64) {
	t.Helper()
	if got := f.holds(id); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("products hold %v for activity %d, want %v", got, id, want)
	}
}

func TestCatalog_Create(t *testing.T) {
	ctx := context.Background()
	t.Run("ReservesThenWrites", func(t *testing.T) {
		f := newFakeProducts(1)
		cat, store, _ := newCatalog(t, f)
		a, err := cat.Create(ctx, later())
		if err != nil {
			t.Fatal(err)
		}
		if got, want := a.Price, money.Cents(100); got != want {
			t.Errorf("price %v, want the product's %v", got, want)
		}
		if _, err := store.Get(ctx, a.ID); err != nil {
			t.Errorf("the activity was not written: %v", err)
		}
		wantHolds(t, f, a.ID, map[int64]int64{1: 30})
	})
	t.Run("UnknownProductIsInvalid", func(t *testing.T) {
		f := newFakeProducts()
		cat, _, _ := newCatalog(t, f)
		if _, err := cat.Create(ctx, later()); !errs.Is(err, errs.Invalid) {
			t.Errorf("err = %v, want Invalid", err)
		}
	})
	t.Run("RefusedReservationWritesNothing", func(t *testing.T) {
		f := newFakeProducts(1)
		f.reserveErr = func(int64, int64, int64) error { return errs.E(errs.Conflict, "not enough inventory") }
		cat, store, _ := newCatalog(t, f)
		if _, err := cat.Create(ctx, later()); !errs.Is(err, errs.Conflict) {
			t.Fatalf("err = %v, want Conflict", err)
		}
		if _, total, _ := store.List(ctx, 10, 0); total != 0 {
			t.Errorf("%d activities written, want none", total)
		}
	})
	t.Run("FailedWriteReleases", func(t *testing.T) {
		f := newFakeProducts(1)
		cat, _, _ := newCatalog(t, f)
		in := later()
		in.Name = "" // the table's CHECK refuses it after the reservation was made
		if _, err := cat.Create(ctx, in); err == nil {
			t.Fatal("an activity the table refuses was created")
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		if len(f.reserved) != 0 {
			t.Errorf("products hold %v after a failed create, want nothing", f.reserved)
		}
	})
}

func TestCatalog_Update(t *testing.T) {
	ctx := context.Background()
	created := func(t *testing.T, f *fakeProducts, in CreateRequest) (*Catalog, *Store, Activity, *[]int64) {
		cat, store, forgotten := newCatalog(t, f)
		a, err := cat.Create(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		return cat, store, a, forgotten
	}
	ptr := func(v int64) *int64 { return &v }

	t.Run("MovesTheReservation", func(t *testing.T) {
		f := newFakeProducts(1, 2)
		cat, _, a, forgotten := created(t, f, later())
		got, err := cat.Update(ctx, a.ID, UpdateRequest{ProductID: ptr(2), Stock: ptr(10)})
		if err != nil {
			t.Fatal(err)
		}
		if got.ProductID != 2 || got.Stock != 10 || got.Remaining != 10 || got.Price != 200 {
			t.Errorf("updated to %+v, want product 2, stock 10, its price", got)
		}
		wantHolds(t, f, a.ID, map[int64]int64{2: 10})
		if fmt.Sprint(*forgotten) != fmt.Sprint([]int64{a.ID}) {
			t.Errorf("engine told to forget %v, want [%d]", *forgotten, a.ID)
		}
	})
	t.Run("FrozenAfterStart", func(t *testing.T) {
		f := newFakeProducts(1, 2)
		in := later()
		in.StartTime = time.Now().Add(-time.Minute)
		cat, store, a, _ := created(t, f, in)
		calls := f.callCount()
		for _, u := range []UpdateRequest{{Stock: ptr(50)}, {ProductID: ptr(2)}, {StartTime: &in.EndTime}} {
			if _, err := cat.Update(ctx, a.ID, u); !errs.Is(err, errs.Conflict) {
				t.Errorf("update %+v of a started sale: err = %v, want Conflict", u, err)
			}
		}
		if got := f.callCount(); got != calls {
			t.Errorf("refused edits called the product service %d times", got-calls)
		}
		// The name and the end may still change.
		name := "renamed"
		if _, err := cat.Update(ctx, a.ID, UpdateRequest{Name: &name}); err != nil {
			t.Errorf("rename of a started sale: %v", err)
		}
		if got, _ := store.Get(ctx, a.ID); got.Stock != 30 || got.Name != name {
			t.Errorf("after the edits: %+v", got)
		}
	})
	t.Run("EndAfterStart", func(t *testing.T) {
		f := newFakeProducts(1)
		in := later()
		cat, _, a, _ := created(t, f, in)
		if _, err := cat.Update(ctx, a.ID, UpdateRequest{EndTime: &in.StartTime}); !errs.Is(err, errs.Invalid) {
			t.Errorf("err = %v, want Invalid", err)
		}
	})
	t.Run("RefusedReservationChangesNothing", func(t *testing.T) {
		f := newFakeProducts(1, 2)
		cat, store, a, _ := created(t, f, later())
		f.reserveErr = func(p, _, _ int64) error {
			if p == 2 {
				return errs.E(errs.Conflict, "not enough inventory")
			}
			return nil
		}
		if _, err := cat.Update(ctx, a.ID, UpdateRequest{ProductID: ptr(2)}); !errs.Is(err, errs.Conflict) {
			t.Fatalf("err = %v, want Conflict", err)
		}
		if got, _ := store.Get(ctx, a.ID); got.ProductID != 1 {
			t.Errorf("product %d, want 1", got.ProductID)
		}
		wantHolds(t, f, a.ID, map[int64]int64{1: 30})
	})
	t.Run("FailedReleaseAfterTheMoveIsLogged", func(t *testing.T) {
		// The old product's reservation is released only after the row
		// moved: a failure leaves units reserved for nobody, never an
		// activity short of its inventory.
		f := newFakeProducts(1, 2)
		cat, _, a, _ := created(t, f, later())
		f.releaseErr = func(int64, int64) error { return errs.E(errs.Unavailable, "product service down") }
		if _, err := cat.Update(ctx, a.ID, UpdateRequest{ProductID: ptr(2)}); err != nil {
			t.Fatal(err)
		}
		wantHolds(t, f, a.ID, map[int64]int64{1: 30, 2: 30})
	})
	t.Run("RacingEditsEndMatching", func(t *testing.T) {
		// Edit A reads the row, then, while its reservation call is out,
		// edit B runs to completion. A's write finds the row changed,
		// re-reads and re-applies: both land, A last, and the product
		// service holds what the row says.
		f := newFakeProducts(1, 2)
		cat, store, a, _ := created(t, f, later())
		var once sync.Once
		f.reserveErr = func(p, _, q int64) error {
			if q == 50 {
				once.Do(func() {
					if _, err := cat.Update(ctx, a.ID, UpdateRequest{ProductID: ptr(2), Stock: ptr(40)}); err != nil {
						t.Errorf("edit B: %v", err)
					}
				})
			}
			return nil
		}
		got, err := cat.Update(ctx, a.ID, UpdateRequest{Stock: ptr(50)})
		if err != nil {
			t.Fatalf("edit A: %v", err)
		}
		if got.ProductID != 2 || got.Stock != 50 {
			t.Errorf("after both edits: product %d stock %d, want 2 and 50", got.ProductID, got.Stock)
		}
		if row, _ := store.Get(ctx, a.ID); row.Stock != 50 || row.Remaining != 50 {
			t.Errorf("row: stock %d remaining %d, want 50 and 50", row.Stock, row.Remaining)
		}
		wantHolds(t, f, a.ID, map[int64]int64{2: 50})
	})
}

func TestCatalog_Delete(t *testing.T) {
	ctx := context.Background()
	t.Run("ReleasesAfterTheRowIsGone", func(t *testing.T) {
		f := newFakeProducts(1)
		cat, store, _ := newCatalog(t, f)
		a, err := cat.Create(ctx, later())
		if err != nil {
			t.Fatal(err)
		}
		f.releaseErr = func(int64, int64) error {
			if _, err := store.Get(ctx, a.ID); !errs.Is(err, errs.NotFound) {
				t.Errorf("released while the row exists (%v)", err)
			}
			return nil
		}
		if err := cat.Delete(ctx, a.ID); err != nil {
			t.Fatal(err)
		}
		wantHolds(t, f, a.ID, map[int64]int64{})
		if err := cat.Delete(ctx, a.ID); !errs.Is(err, errs.NotFound) {
			t.Errorf("second delete: err = %v, want NotFound", err)
		}
	})
	t.Run("SoldIsKept", func(t *testing.T) {
		f := newFakeProducts(1)
		cat, store, _ := newCatalog(t, f)
		a, err := cat.Create(ctx, later())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := store.pool.Exec(ctx, `UPDATE activity.activities SET remaining = remaining - 1 WHERE id = $1`, a.ID); err != nil {
			t.Fatal(err)
		}
		if err := cat.Delete(ctx, a.ID); !errs.Is(err, errs.Conflict) {
			t.Fatalf("err = %v, want Conflict", err)
		}
		wantHolds(t, f, a.ID, map[int64]int64{1: 30})
	})
	t.Run("UnknownIsNotFound", func(t *testing.T) {
		cat, _, _ := newCatalog(t, newFakeProducts())
		err := cat.Delete(ctx, 12345)
		if !errs.Is(err, errs.NotFound) {
			t.Errorf("err = %v, want NotFound", err)
		}
		// The log line says where the error came from, with the ids.
		if got, want := fmt.Sprint(err), "Catalog.Delete(12345): Store.Get(12345): not_found: activity 12345 not found"; !strings.HasPrefix(got, want) {
			t.Errorf("err = %q, want it to start %q", got, want)
		}
	})
}
