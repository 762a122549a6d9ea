package activity

import (
	"log/slog"
	"testing"
	"time"
)

// While wins keep coming the relay delivers once a rushEvery; once they
// stop for rushQuiet it delivers at once.
func TestRelay_HoldsBackDuringARush(t *testing.T) {
	r := newRelay(nil, orderClient{}, 10, time.Second, nil, slog.New(slog.DiscardHandler))
	t0 := time.Unix(1_800_000_000, 0)
	now := t0
	r.now = func() time.Time { return now }
	if d := r.hold(); d > 0 {
		t.Errorf("no win yet: hold %v, want none", d)
	}
	r.notify() // a commit with wins at t0
	r.lastSend.Store(t0.Add(-100 * time.Millisecond).UnixNano())
	now = t0.Add(10 * time.Millisecond)
	if d, want := r.hold(), 890*time.Millisecond; d != want {
		t.Errorf("in a rush, 110 ms after a delivery: hold %v, want %v", d, want)
	}
	now = t0.Add(950 * time.Millisecond)
	r.notify() // the rush goes on
	now = t0.Add(960 * time.Millisecond)
	if d, want := r.hold(), 0*time.Millisecond; d > want {
		t.Errorf("in a rush, over a second after a delivery: hold %v, want none", d)
	}
	now = t0.Add(950*time.Millisecond + rushQuiet + time.Millisecond)
	r.lastSend.Store(now.UnixNano())
	if d := r.hold(); d > 0 {
		t.Errorf("after the rush: hold %v, want none", d)
	}
}
