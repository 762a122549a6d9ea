package discovery

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/consul/api"
)

// watchConfig holds the timings of the background refresh. Tests shorten
// them; production uses defaultWatchConfig().
type watchConfig struct {
	// wait is how long Consul may hold a blocking query open. Consul adds
	// up to wait/16 of jitter on its side.
	wait time.Duration
	// minBackoff and maxBackoff bound the exponential pause after a failed
	// query.
	minBackoff, maxBackoff time.Duration
	// idlePause is slept when a query returns without the index moving,
	// which a well-behaved Consul only does when wait elapses; it keeps a
	// proxy that ignores blocking from turning the loop into a busy spin.
	idlePause time.Duration
	// lookupTimeout bounds the one synchronous lookup Resolve may make.
	lookupTimeout time.Duration
}

// defaultWatchConfig returns the production timings.
func defaultWatchConfig() watchConfig {
	return watchConfig{
		wait:          45 * time.Second,
		minBackoff:    250 * time.Millisecond,
		maxBackoff:    30 * time.Second,
		idlePause:     time.Second,
		lookupTimeout: 5 * time.Second,
	}
}

// snapshot is what the resolver knows about the peer at one moment. It is
// never modified after it is published, so Resolve reads it without a lock.
type snapshot struct {
	urls  []string // base URLs of the passing instances, sorted
	index uint64   // Consul's X-Consul-Index for urls
	ok    bool     // urls came from a successful lookup
	err   error    // the latest lookup's error; nil when it succeeded
}

// Resolver resolves one peer service to the base URL of one of its passing
// instances in Consul, spreading calls round-robin. A background goroutine
// keeps the instance list current with blocking queries; Resolve only reads
// it, so the hot path costs an atomic load and an atomic add. It is safe for
// concurrent use; Close stops the goroutine.
type Resolver struct {
	health  *api.Health
	service string
	cfg     watchConfig

	state atomic.Pointer[snapshot]
	next  atomic.Uint64 // round-robin counter
	mu    sync.Mutex    // serialises writers of state
	first chan struct{} // a one-slot semaphore: one synchronous lookup at a time

	cancel    context.CancelFunc
	done      chan struct{} // closed when the watch goroutine returns
	closeOnce sync.Once
}

// NewConsulResolver returns a Resolver for service that asks the Consul
// agent at consulAddr ("host:port" or "http://host:port") and starts
// following it. Call Close when done.
func NewConsulResolver(consulAddr, service string) (*Resolver, error) {
	if service == "" {
		return nil, fmt.Errorf("new resolver: service name is empty")
	}
	c, err := newClient(consulAddr)
	if err != nil {
		return nil, fmt.Errorf("new resolver for %s: %w", service, err)
	}
	r := newResolver(c, service, defaultWatchConfig())
	r.start()
	return r, nil
}

// newResolver returns a Resolver that has not started watching yet.
func newResolver(c *api.Client, service string, cfg watchConfig) *Resolver {
	return &Resolver{
		health:  c.Health(),
		service: service,
		cfg:     cfg,
		first:   make(chan struct{}, 1),
		done:    make(chan struct{}),
	}
}

// start launches the watch goroutine.
func (r *Resolver) start() {
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go r.watch(ctx)
}

// Close stops the background refresh and waits for it to end. Resolve keeps
// answering from the last known list afterwards. Close may be called more
// than once.
func (r *Resolver) Close() {
	r.closeOnce.Do(func() {
		if r.cancel == nil { // never started
			close(r.done)
			return
		}
		r.cancel()
		<-r.done
	})
}

// Resolve returns the base URL ("http://host:port") of a passing instance,
// taking them in turn. Before the first lookup has finished it makes one
// itself, bounded by ctx; after that it never waits on Consul.
func (r *Resolver) Resolve(ctx context.Context) (string, error) {
	s := r.state.Load()
	if s == nil {
		var err error
		if s, err = r.lookupFirst(ctx); err != nil {
			return "", err
		}
	}
	if n := uint64(len(s.urls)); n > 0 {
		return s.urls[(r.next.Add(1)-1)%n], nil
	}
	switch {
	case !s.ok:
		return "", fmt.Errorf("look up %s in Consul: %w", r.service, s.err)
	case s.err != nil:
		return "", fmt.Errorf("no passing instance of %s in Consul (refresh failing: %w)", r.service, s.err)
	default:
		return "", fmt.Errorf("no passing instance of %s in Consul", r.service)
	}
}

// lookupFirst makes the synchronous lookup for a Resolve that found nothing
// known yet. Only one runs at a time, and a caller that waited for the slot
// uses whatever outcome arrived meanwhile, so a burst of first calls costs
// Consul one query, not one each.
func (r *Resolver) lookupFirst(ctx context.Context) (*snapshot, error) {
	select {
	case r.first <- struct{}{}:
		defer func() { <-r.first }()
	case <-ctx.Done():
		return nil, fmt.Errorf("look up %s in Consul: %w", r.service, ctx.Err())
	}
	if s := r.state.Load(); s != nil {
		return s, nil
	}
	ctx, cancel := context.WithTimeout(ctx, r.cfg.lookupTimeout)
	defer cancel()
	urls, index, err := r.lookup(ctx, 0, 0)
	if err != nil {
		if ctx.Err() != nil {
			// The caller gave up; that says nothing about Consul, so
			// do not publish it for everyone else.
			return nil, fmt.Errorf("look up %s in Consul: %w", r.service, err)
		}
		return r.publishErr(err), nil
	}
	return r.publish(urls, index, false), nil
}

// watch keeps state current until ctx is cancelled, following Consul's
// advice on blocking queries: pass the last index, reset it when it goes
// backwards, back off on errors and keep the last good answer meanwhile.
func (r *Resolver) watch(ctx context.Context) {
	defer close(r.done)
	var index uint64
	backoff := time.Duration(0)
	for {
		// The deadline covers a connection that dies without a reset,
		// which would otherwise hang the query, and the loop, forever.
		qctx, cancel := context.WithTimeout(ctx, r.cfg.wait+r.cfg.wait/16+5*time.Second)
		urls, newIndex, err := r.lookup(qctx, index, r.cfg.wait)
		cancel()
		if ctx.Err() != nil {
			return
		}
		var pause time.Duration
		switch {
		case err != nil:
			r.publishErr(err)
			backoff = min(max(2*backoff, r.cfg.minBackoff), r.cfg.maxBackoff)
			pause = backoff
		default:
			backoff = 0
			reset := newIndex < index
			r.publish(urls, newIndex, reset)
			if newIndex == index {
				pause = r.cfg.idlePause
			}
			if reset {
				newIndex = 0 // Consul's state was reset: start over.
			}
			index = newIndex
		}
		if pause > 0 && !sleep(ctx, pause) {
			return
		}
	}
}

// sleep waits for d or until ctx is done, reporting whether d elapsed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// lookup asks Consul for the passing instances of the service
// (GET /v1/health/service/<name>?passing=1). With index > 0 it is a blocking
// query that returns when the answer changes or wait elapses.
func (r *Resolver) lookup(ctx context.Context, index uint64, wait time.Duration) ([]string, uint64, error) {
	q := (&api.QueryOptions{WaitIndex: index, WaitTime: wait}).WithContext(ctx)
	entries, meta, err := r.health.Service(r.service, "", true, q)
	if err != nil {
		return nil, 0, fmt.Errorf("health of %s: %w", r.service, err)
	}
	return instanceURLs(entries), meta.LastIndex, nil
}

// publish records a successful lookup, unless a newer one is already there.
// After a reset of Consul's state (its index went backwards) a lower index
// is the newer answer.
func (r *Resolver) publish(urls []string, index uint64, reset bool) *snapshot {
	r.mu.Lock()
	defer r.mu.Unlock()
	if cur := r.state.Load(); !reset && cur != nil && cur.ok && cur.index > index {
		return cur
	}
	s := &snapshot{urls: urls, index: index, ok: true}
	r.state.Store(s)
	return s
}

// publishErr records a failed lookup, keeping the last good list.
func (r *Resolver) publishErr(err error) *snapshot {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := &snapshot{err: err}
	if cur := r.state.Load(); cur != nil {
		s.urls, s.index, s.ok = cur.urls, cur.index, cur.ok
	}
	r.state.Store(s)
	return s
}

// instanceURLs turns health entries into sorted, distinct base URLs. It
// skips an entry whose checks are not all passing even though the query
// asked Consul to filter, so a proxy or cache that drops the filter cannot
// send traffic to a failing instance.
func instanceURLs(entries []*api.ServiceEntry) []string {
	urls := make([]string, 0, len(entries))
	for _, e := range entries {
		if e == nil || e.Service == nil || e.Service.Port <= 0 {
			continue
		}
		if e.Checks.AggregatedStatus() != api.HealthPassing {
			continue
		}
		host := e.Service.Address
		if host == "" && e.Node != nil {
			// An instance registered without an address is reached
			// at its node's address, as Consul's DNS interface does.
			host = e.Node.Address
		}
		if host == "" {
			continue
		}
		urls = append(urls, "http://"+net.JoinHostPort(host, strconv.Itoa(e.Service.Port)))
	}
	// Sorting keeps the round-robin order stable across refreshes.
	slices.Sort(urls)
	return slices.Compact(urls)
}
