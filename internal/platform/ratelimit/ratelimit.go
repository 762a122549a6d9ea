// Package ratelimit holds keyed token buckets: one bucket per user or
// client address, created on first use and swept once idle, so a flood of
// distinct keys cannot grow memory without bound.
package ratelimit

import (
	"hash/maphash"
	"sync"
	"time"
)

const shards = 64

// Keyed limits each key to Rate events per second with bursts of Burst.
// A nil *Keyed allows everything, which is how limits are turned off.
type Keyed[K comparable] struct {
	rate  float64
	burst float64
	seed  maphash.Seed
	now   func() time.Time
	max   int // entries per shard before idle ones are swept
	shard [shards]struct {
		mu sync.Mutex
		m  map[K]*bucket
	}
}

type bucket struct {
	tokens float64
	last   time.Time
}

// New returns a limiter, or nil (no limit) when rate is not positive.
func New[K comparable](rate float64, burst int, now func() time.Time) *Keyed[K] {
	if rate <= 0 {
		return nil
	}
	if burst < 1 {
		burst = 1
	}
	if now == nil {
		now = time.Now
	}
	k := &Keyed[K]{rate: rate, burst: float64(burst), seed: maphash.MakeSeed(), now: now, max: 4096}
	for i := range k.shard {
		k.shard[i].m = map[K]*bucket{}
	}
	return k
}

// Allow takes a token from key's bucket and reports whether there was one;
// when not, it also says how long until the next token.
func (k *Keyed[K]) Allow(key K) (bool, time.Duration) {
	if k == nil {
		return true, 0
	}
	s := &k.shard[maphash.Comparable(k.seed, key)%shards]
	now := k.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.m[key]
	if !ok {
		if len(s.m) >= k.max {
			k.sweep(s.m, now)
		}
		b = &bucket{tokens: k.burst, last: now}
		s.m[key] = b
	}
	b.tokens = min(k.burst, b.tokens+now.Sub(b.last).Seconds()*k.rate)
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / k.rate * float64(time.Second))
}

// sweep drops buckets that have refilled: forgetting them changes nothing.
func (k *Keyed[K]) sweep(m map[K]*bucket, now time.Time) {
	for key, b := range m {
		if b.tokens+now.Sub(b.last).Seconds()*k.rate >= k.burst {
			delete(m, key)
		}
	}
}

// Len returns the number of buckets held, for tests.
func (k *Keyed[K]) Len() int {
	n := 0
	for i := range k.shard {
		k.shard[i].mu.Lock()
		n += len(k.shard[i].m)
		k.shard[i].mu.Unlock()
	}
	return n
}
