package ratelimit

import (
	"testing"
	"time"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestKeyed_BurstThenRate(t *testing.T) {
	c := &clock{t: time.Unix(0, 0)}
	k := New[int64](2, 3, c.now)
	for i := range 3 {
		if ok, _ := k.Allow(1); !ok {
			t.Fatalf("request %d of the burst refused", i+1)
		}
	}
	ok, wait := k.Allow(1)
	if ok || wait != 500*time.Millisecond {
		t.Fatalf("4th request: ok=%v wait=%v; want refused, 500ms", ok, wait)
	}
	if ok, _ := k.Allow(2); !ok {
		t.Error("another key was limited by the first")
	}
	c.t = c.t.Add(500 * time.Millisecond)
	if ok, _ := k.Allow(1); !ok {
		t.Error("a refilled token was refused")
	}
}

func TestKeyed_NilAllowsAll(t *testing.T) {
	var k *Keyed[string] = New[string](0, 0, nil)
	if k != nil {
		t.Fatal("rate 0 should turn limiting off")
	}
	if ok, _ := k.Allow("x"); !ok {
		t.Error("a nil limiter refused")
	}
}

func TestKeyed_IdleBucketsAreSwept(t *testing.T) {
	c := &clock{t: time.Unix(0, 0)}
	k := New[int64](100, 1, c.now)
	// Four times what the shards may hold, each key idle (its bucket full
	// again) soon after its one request.
	for u := range int64(4 * shards * 4096) {
		k.Allow(u)
		c.t = c.t.Add(time.Millisecond)
	}
	if n := k.Len(); n > shards*4096 {
		t.Errorf("%d buckets kept, want at most %d", n, shards*4096)
	}
}
