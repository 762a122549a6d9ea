package seckill

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/seckill/seckill/internal/platform/errs"
)

// memStore is a Store with the database's rules, in memory: a user wins at
// most once and remaining never goes below zero.
type memStore struct {
	mu        sync.Mutex
	act       Activity
	winners   map[int64]uuid.UUID
	commits   int
	failBatch atomic.Int32 // fail this many multi-claim commits
	lostReply atomic.Bool  // commit, then report an error
	noResolve atomic.Bool  // Resolve fails
	gone      atomic.Bool  // the activity was deleted
	delay     time.Duration
}

func newMemStore(stock int64, start, end time.Time) *memStore {
	return &memStore{act: Activity{ID: 1, Stock: stock, Remaining: stock, StartTime: start, EndTime: end},
		winners: map[int64]uuid.UUID{}}
}

func (m *memStore) Snapshot(ctx context.Context, id int64) (Snapshot, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if id != m.act.ID || m.gone.Load() {
		return Snapshot{}, errs.E(errs.NotFound, "activity %d not found", id)
	}
	w := make(map[int64]uuid.UUID, len(m.winners))
	for k, v := range m.winners {
		w[k] = v
	}
	return Snapshot{Activity: m.act, Winners: w}, nil
}

func (m *memStore) Commit(ctx context.Context, id int64, claims []Claim) ([]Outcome, int64, error) {
	if m.delay > 0 {
		time.Sleep(m.delay) // stands in for the database's commit latency
	}
	if len(claims) > 1 && m.failBatch.Load() > 0 {
		m.failBatch.Add(-1)
		return nil, 0, errors.New("batch failed")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.gone.Load() {
		return nil, 0, errs.E(errs.NotFound, "activity %d not found", id)
	}
	m.commits++
	outs := make([]Outcome, len(claims))
	now := time.Now() // the database's clock
	for i, c := range claims {
		switch oid, ok := m.winners[c.UserID]; {
		case ok:
			outs[i] = known(oid)
		case now.Before(m.act.StartTime):
			outs[i] = Outcome{Status: NotStarted}
		case !now.Before(m.act.EndTime):
			outs[i] = Outcome{Status: Ended}
		case m.act.Remaining > 0:
			m.act.Remaining--
			m.winners[c.UserID] = c.OrderID
			outs[i] = Outcome{Status: Won, OrderID: c.OrderID}
		default:
			outs[i] = Outcome{Status: SoldOut}
		}
	}
	if m.lostReply.Load() {
		return nil, 0, errors.New("connection lost during commit")
	}
	return outs, m.act.Remaining, nil
}

func (m *memStore) Resolve(ctx context.Context, id int64, users []int64) (map[int64]uuid.UUID, error) {
	if m.noResolve.Load() {
		return nil, errors.New("database down")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[int64]uuid.UUID{}
	if users == nil {
		for k, v := range m.winners {
			out[k] = v
		}
		return out, nil
	}
	for _, u := range users {
		if v, ok := m.winners[u]; ok {
			out[u] = v
		}
	}
	return out, nil
}

func open() (time.Time, time.Time) { return time.Now().Add(-time.Minute), time.Now().Add(time.Hour) }

func TestEngine_ExactlyStockWinners(t *testing.T) {
	start, end := open()
	st := newMemStore(100, start, end)
	st.delay = time.Millisecond
	e := New(st, Options{})
	defer e.Close(context.Background())

	const users = 10_000
	results := make([][2]Outcome, users+1)
	var wg sync.WaitGroup
	for u := int64(1); u <= users; u++ {
		for k := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r, err := e.Buy(context.Background(), 1, u)
				if err != nil {
					t.Errorf("user %d: %v", u, err)
				}
				results[u][k] = r
			}()
		}
	}
	wg.Wait()

	won := 0
	for u := 1; u <= users; u++ {
		a, b := results[u][0], results[u][1]
		if a.Status == AlreadyWon {
			a, b = b, a
		}
		switch {
		case a.Status == Won:
			won++
			if b.Status != AlreadyWon || b.OrderID != a.OrderID {
				t.Errorf("user %d: won %v but other answer %v", u, a, b)
			}
			if st.winners[int64(u)] != a.OrderID {
				t.Errorf("user %d told won with %s, store holds %s", u, a.OrderID, st.winners[int64(u)])
			}
		case a.Status == SoldOut && b.Status == SoldOut:
		default:
			t.Errorf("user %d: answers %v, %v", u, a.Status, b.Status)
		}
	}
	if got, want := won, 100; got != want {
		t.Errorf("won = %d, want %d", got, want)
	}
	if got := len(st.winners); got != 100 || st.act.Remaining != 0 {
		t.Errorf("store: %d winners, remaining %d", got, st.act.Remaining)
	}
	t.Logf("100 wins in %d commits", st.commits)
}

func TestEngine_BatchFailureRetriesOneByOne(t *testing.T) {
	start, end := open()
	st := newMemStore(5, start, end)
	st.delay = 5 * time.Millisecond
	st.failBatch.Store(1000)
	e := New(st, Options{})
	defer e.Close(context.Background())
	var wg sync.WaitGroup
	var won atomic.Int32
	for u := int64(1); u <= 20; u++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := e.Buy(context.Background(), 1, u)
			if err != nil {
				t.Errorf("user %d: %v", u, err)
			}
			if r.Status == Won {
				won.Add(1)
			}
		}()
	}
	wg.Wait()
	if got := won.Load(); got != 5 {
		t.Errorf("won = %d, want 5", got)
	}
	// Without a failed batch the test would show nothing: some must have
	// been refused and their claims decided one by one.
	if failed := 1000 - st.failBatch.Load(); failed == 0 {
		t.Error("no multi-claim commit happened, so none failed: the retry path went untested")
	} else {
		t.Logf("%d multi-claim commits failed; their claims were decided one by one", failed)
	}
}

func TestEngine_UnknownCommitOutcomeIsResolved(t *testing.T) {
	start, end := open()
	st := newMemStore(5, start, end)
	e := New(st, Options{})
	defer e.Close(context.Background())

	st.lostReply.Store(true)
	r, err := e.Buy(context.Background(), 1, 7)
	if err != nil || r.Status != Won || st.winners[7] != r.OrderID {
		t.Fatalf("lost reply: got %v, %v; want the committed win", r, err)
	}

	st.noResolve.Store(true)
	_, err = e.Buy(context.Background(), 1, 8)
	if !errs.Is(err, errs.Unavailable) || !errors.Is(err, ErrUnknownOutcome) {
		t.Fatalf("unresolvable: err = %v, want Unavailable and ErrUnknownOutcome", err)
	}
	// Once the database answers again, the retry learns the truth.
	st.lostReply.Store(false)
	st.noResolve.Store(false)
	r, err = e.Buy(context.Background(), 1, 8)
	if err != nil || r.Status != AlreadyWon || st.winners[8] != r.OrderID {
		t.Fatalf("retry: got %v, %v; want already_won with the stored id", r, err)
	}
}

func TestEngine_TimeWindow(t *testing.T) {
	now := time.Now()
	for _, tc := range []struct {
		name       string
		start, end time.Time
		want       Status
	}{
		{"NotStarted", now.Add(time.Hour), now.Add(2 * time.Hour), NotStarted},
		{"Ended", now.Add(-2 * time.Hour), now.Add(-time.Hour), Ended},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := newMemStore(5, tc.start, tc.end)
			e := New(st, Options{})
			defer e.Close(context.Background())
			r, err := e.Buy(context.Background(), 1, 1)
			if err != nil || r.Status != tc.want {
				t.Fatalf("got %v, %v; want %s", r, err, tc.want)
			}
			if st.commits != 0 {
				t.Errorf("%d commits, want none", st.commits)
			}
		})
	}
}

func TestEngine_UnknownActivity(t *testing.T) {
	start, end := open()
	e := New(newMemStore(5, start, end), Options{})
	defer e.Close(context.Background())
	if _, err := e.Buy(context.Background(), 99, 1); !errs.Is(err, errs.NotFound) {
		t.Fatalf("err = %v, want NotFound", err)
	}
}

// BenchmarkBuySoldOut measures the path nearly every request of a flash
// sale takes: the activity is sold out and the answer comes from memory.
func BenchmarkBuySoldOut(b *testing.B) {
	start, end := open()
	st := newMemStore(1, start, end)
	e := New(st, Options{})
	defer e.Close(context.Background())
	if _, err := e.Buy(context.Background(), 1, 1); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		u := int64(2)
		for pb.Next() {
			if r, _ := e.Buy(context.Background(), 1, u); r.Status != SoldOut {
				b.Fatalf("status %s", r.Status)
			}
			u++
		}
	})
}

// BenchmarkBuyWinning measures the winning path through the gate and the
// group committer, against a store with no latency.
func BenchmarkBuyWinning(b *testing.B) {
	start, end := open()
	st := newMemStore(int64(b.N)+1, start, end)
	e := New(st, Options{})
	defer e.Close(context.Background())
	var next atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if r, _ := e.Buy(context.Background(), 1, next.Add(1)); r.Status != Won {
				b.Fatalf("status %s", r.Status)
			}
		}
	})
	b.ReportMetric(float64(b.N)/float64(max(st.commits, 1)), "claims/commit")
}

func TestEngine_WindowMovedElsewhereIsSeen(t *testing.T) {
	now := time.Now()
	st := newMemStore(5, now.Add(time.Hour), now.Add(2*time.Hour))
	clock := now
	var mu sync.Mutex
	e := New(st, Options{Now: func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }})
	defer e.Close(context.Background())
	if r, _ := e.Buy(context.Background(), 1, 1); r.Status != NotStarted {
		t.Fatalf("got %s, want not_started", r.Status)
	}
	// Another instance moves the start to the past.
	st.mu.Lock()
	st.act.StartTime = now.Add(-time.Minute)
	st.mu.Unlock()
	mu.Lock()
	clock = now.Add(2 * refreshAfter)
	mu.Unlock()
	e.Buy(context.Background(), 1, 1) // notices the gate is old and drops it
	if r, err := e.Buy(context.Background(), 1, 1); err != nil || r.Status != Won && r.Status != AlreadyWon {
		t.Fatalf("after the move: %v, %v; want the sale open", r, err)
	}
}

// An end moved into the past by another instance: this gate still holds
// the old end, so the claim reaches the store, whose clock and window say
// ended; the gate is dropped and rebuilt, and later requests are answered
// from the new window without a commit.
func TestEngine_StoreWindowIsTheLastWord(t *testing.T) {
	start, end := open()
	st := newMemStore(100, start, end)
	e := New(st, Options{})
	defer e.Close(context.Background())
	if r, err := e.Buy(context.Background(), 1, 1); err != nil || r.Status != Won {
		t.Fatalf("in the window: %v, %v", r, err)
	}
	st.mu.Lock()
	st.act.EndTime = time.Now().Add(-time.Second)
	st.mu.Unlock()
	if r, err := e.Buy(context.Background(), 1, 2); err != nil || r.Status != Ended {
		t.Fatalf("after the end moved: %v, %v; want ended", r, err)
	}
	st.mu.Lock()
	commits := st.commits
	st.mu.Unlock()
	for u := int64(3); u < 10; u++ {
		if r, err := e.Buy(context.Background(), 1, u); err != nil || r.Status != Ended {
			t.Fatalf("user %d: %v, %v; want ended", u, r, err)
		}
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.commits != commits {
		t.Errorf("%d commits after the gate learned the new end, want none", st.commits-commits)
	}
}

// An activity deleted under a loaded gate: every claim is answered
// NotFound, and the gate is dropped, never 503 "retry" forever.
func TestEngine_GoneActivityIsNotFound(t *testing.T) {
	start, end := open()
	st := newMemStore(100, start, end)
	e := New(st, Options{})
	defer e.Close(context.Background())
	if r, err := e.Buy(context.Background(), 1, 1); err != nil || r.Status != Won {
		t.Fatalf("before: %v, %v", r, err)
	}
	st.gone.Store(true)
	var wg sync.WaitGroup
	for u := int64(2); u < 22; u++ {
		wg.Go(func() {
			if _, err := e.Buy(context.Background(), 1, u); !errs.Is(err, errs.NotFound) {
				t.Errorf("user %d: %v, want NotFound", u, err)
			}
		})
	}
	wg.Wait()
}

type userKey struct{}

func TestEngine_TraceSeesEveryCommittedRequest(t *testing.T) {
	start, end := open()
	st := newMemStore(100, start, end)
	st.delay = 5 * time.Millisecond // so that claims queue behind a commit and share the next one
	var mu sync.Mutex
	seen := map[int64]bool{}
	e := New(st, Options{Trace: func(ctx context.Context, activityID int64, requests []context.Context) (context.Context, func()) {
		mu.Lock()
		defer mu.Unlock()
		for _, r := range requests {
			seen[r.Value(userKey{}).(int64)] = true
		}
		return ctx, func() {}
	}})
	defer e.Close(context.Background())
	var wg sync.WaitGroup
	for u := int64(1); u <= 50; u++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := e.Buy(context.WithValue(context.Background(), userKey{}, u), 1, u); err != nil {
				t.Errorf("user %d: %v", u, err)
			}
		}()
	}
	wg.Wait()
	if len(seen) != 50 {
		t.Errorf("Trace saw the requests of %d users, want all 50", len(seen))
	}
}

// forfeit gives user's unit back, as the activity service's settlement
// receiver does: the win stays, marked forfeited, and the unit is on sale.
func (m *memStore) forfeit(user int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.winners[user] = uuid.Nil
	m.act.Remaining++
}

func TestEngine_ForfeitedUserCannotWinAgain(t *testing.T) {
	start, end := open()
	m := newMemStore(2, start, end)
	e := New(m, Options{})
	defer e.Close(context.Background())
	ctx := context.Background()
	buy := func(user int64) Outcome {
		t.Helper()
		o, err := e.Buy(ctx, 1, user)
		if err != nil {
			t.Fatalf("user %d: %v", user, err)
		}
		return o
	}
	for _, u := range []int64{1, 2} {
		if o := buy(u); o.Status != Won {
			t.Fatalf("user %d: %s, want won", u, o.Status)
		}
	}
	if o := buy(3); o.Status != SoldOut {
		t.Fatalf("user 3: %s, want sold_out", o.Status)
	}
	// User 1 gives the unit back; the activity service drops the gate.
	m.forfeit(1)
	e.Forget(1)
	if o := buy(1); o.Status != Forfeited || o.Won() || o.OrderID != uuid.Nil {
		t.Errorf("user 1 after forfeiting: %+v, want forfeited", o)
	}
	if o := buy(3); o.Status != Won {
		t.Errorf("user 3 after the return: %s, want won", o.Status)
	}
	// Sold out again: the lock-free final map answers the forfeited user.
	for range 2 {
		if o := buy(1); o.Status != Forfeited {
			t.Errorf("user 1 once sold out: %s, want forfeited", o.Status)
		}
	}
	if o := buy(4); o.Status != SoldOut {
		t.Errorf("user 4: %s, want sold_out", o.Status)
	}
	// A gate built with the forfeit already on disk knows it from the
	// snapshot, and a commit that meets it says so too.
	m.forfeit(2)
	e.Forget(1)
	if o := buy(2); o.Status != Forfeited {
		t.Errorf("user 2 after forfeiting: %s, want forfeited", o.Status)
	}
	// A user who won on another instance and forfeited there is unknown
	// to this gate: the commit says so, and memory answers after.
	m.mu.Lock()
	m.winners[60] = uuid.Nil
	m.mu.Unlock()
	commits := m.commits
	for range 2 {
		if o := buy(60); o.Status != Forfeited {
			t.Errorf("user 60: %s, want forfeited", o.Status)
		}
	}
	if m.commits != commits+1 {
		t.Errorf("%d commits for user 60's two requests, want 1", m.commits-commits)
	}
}
