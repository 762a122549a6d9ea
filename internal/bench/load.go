// Package bench drives a flash sale over HTTP the way a crowd would, and
// verifies afterwards that every promise held. seckill-bench and the
// make bench suite share it.
package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Answer is one purchase request's answer, as the client saw it.
type Answer struct {
	Code    int // HTTP status; 0 when the request failed
	Status  string
	OrderID string
	Latency time.Duration
	// Done is when the answer arrived, from the start of the run.
	Done time.Duration
	Err  error
}

// Load is the answers of a run: two per user, in the order sent.
type Load struct {
	Answers  [][2]Answer // index: user - first user
	First    int64       // the first user id
	Start    time.Time   // when the first request could go out
	Duration time.Duration
}

// NewClient returns the HTTP client of the set-up and verification calls,
// with up to conns keep-alive connections; the load itself goes through
// Drive's own connections.
func NewClient(conns int) *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		MaxIdleConns: conns, MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns,
		DisableCompression: true, IdleConnTimeout: time.Minute,
	}}
}

// Crowd is who buys and how hard they push.
type Crowd struct {
	FirstUser int64 // the first user id; users are FirstUser, FirstUser+1, …
	Users     int
	Conns     int // workers, each on a keep-alive connection of its own
	// Rate, when positive, paces the crowd to that many requests a second.
	// A request sent late because its worker was still waiting for an
	// earlier answer has its latency counted from when it was due, so a
	// server that falls behind is charged for the queue it caused. Zero
	// sends each request as soon as the worker's previous answer is in.
	Rate     float64
	Progress io.Writer // a line a second when not nil
	// Timeout bounds one request (default 30 s); a request that takes
	// longer is a failed one.
	Timeout time.Duration
	// RetryFor, when positive, sends a request again after 20 ms when it
	// got no answer (a connection error) or a 503, until an answer comes or
	// RetryFor has passed since its first try: how a client rides out a
	// crash or an outage. The last try's answer is recorded, its latency
	// counted from the first.
	RetryFor time.Duration
	// Observe, when not nil, sees every try as it ends, in the worker
	// that sent it: the user, when the try was sent and its answer. Tests
	// use it to inject a fault at the nth win and to count retries.
	Observe func(user int64, sent time.Time, a Answer)
}

// Drive sends two purchase requests for each user of the crowd, the second
// after the first's answer, and records every answer.
func Drive(ctx context.Context, url string, c Crowd) (Load, error) {
	l := Load{Answers: make([][2]Answer, c.Users), First: c.FirstUser}
	// Connections are opened before the clock starts: a paced crowd
	// whose first requests waited for 64 handshakes would be behind its
	// schedule from the start, and charge the server for it.
	posters := make([]*poster, c.Conns)
	for i := range posters {
		p, err := newPoster(ctx, url)
		if err == nil && c.Timeout > 0 {
			p.timeout = c.Timeout
		}
		if err == nil {
			err = p.dial()
		}
		if err != nil {
			for _, q := range posters[:i] {
				q.close()
			}
			return Load{}, err
		}
		posters[i] = p
	}
	var next, sent, done atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	l.Start = start
	stop := make(chan struct{})
	if c.Progress != nil {
		go func() {
			t := time.NewTicker(time.Second)
			defer t.Stop()
			var last int64
			for {
				select {
				case <-stop:
					return
				case <-t.C:
					n := done.Load()
					fmt.Fprintf(c.Progress, "  %8d requests  %8.0f req/s\n", n, float64(n-last))
					last = n
				}
			}
		}()
	}
	// due returns when the next request should go out and when its latency
	// starts to count.
	due := func() time.Time {
		now := time.Now()
		if c.Rate <= 0 {
			return now
		}
		at := start.Add(time.Duration(float64(sent.Add(1)-1) / c.Rate * float64(time.Second)))
		if wait := at.Sub(now); wait > 0 {
			time.Sleep(wait) // a load generator's pacing, not a test waiting for a condition
			return time.Now()
		}
		return at
	}
	for _, p := range posters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer p.close()
			var body []byte
			var buf bytes.Buffer
			for {
				i := next.Add(1) - 1
				if i >= int64(c.Users) || ctx.Err() != nil {
					return
				}
				user := c.FirstUser + i
				body = append(strconv.AppendInt(append(body[:0], `{"user_id":`...), user, 10), '}')
				for k := range 2 {
					a := c.buy(ctx, p, user, body, &buf, due())
					a.Done = time.Since(start)
					l.Answers[i][k] = a
					done.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	l.Duration = time.Since(start)
	return l, nil
}

// buy sends one purchase request, and again while the crowd retries it;
// its latency counts from start.
func (c Crowd) buy(ctx context.Context, p *poster, user int64, body []byte, buf *bytes.Buffer, start time.Time) Answer {
	for {
		sent := time.Now()
		a := try(p, body, buf, start)
		if c.Observe != nil {
			c.Observe(user, sent, a)
		}
		unanswered := a.Err != nil || a.Code == http.StatusServiceUnavailable
		if !unanswered || c.RetryFor <= 0 || time.Since(start) > c.RetryFor || ctx.Err() != nil {
			return a
		}
		time.Sleep(20 * time.Millisecond) // a client's back-off before it tries again
	}
}

// try sends one request once; its latency counts from start.
func try(p *poster, body []byte, buf *bytes.Buffer, start time.Time) Answer {
	code, err := p.post(body, buf)
	a := Answer{Code: code, Latency: time.Since(start), Err: err}
	if err != nil {
		return a
	}
	a.Status, a.OrderID = readAnswer(buf.Bytes())
	return a
}

// readAnswer returns the status and order id of a purchase's answer. The
// client shares the machine with the servers it measures, so the usual
// shape, {"code":0,...,"data":{...,"status":"…"[,"order_id":"…"]}}, is read
// without reflection or allocation (but for the order id) once json.Valid
// has vouched for the body; anything else goes through encoding/json.
func readAnswer(b []byte) (status, orderID string) {
	if json.Valid(b) {
		if d := bytes.Index(b, []byte(`"data":{`)); d >= 0 {
			data := b[d:]
			if st, ok := stringField(data, `"status":"`); ok {
				status = internStatus(st)
				if id, ok := stringField(data, `"order_id":"`); ok {
					orderID = string(id)
				}
				return status, orderID
			}
		}
	}
	var env struct {
		Data struct {
			Status  string `json:"status"`
			OrderID string `json:"order_id"`
		} `json:"data"`
	}
	if json.Unmarshal(b, &env) == nil {
		return env.Data.Status, env.Data.OrderID
	}
	return "", ""
}

// stringField returns the value of the string that follows key in b, if it
// has no escapes.
func stringField(b []byte, key string) ([]byte, bool) {
	i := bytes.Index(b, []byte(key))
	if i < 0 {
		return nil, false
	}
	v := b[i+len(key):]
	j := bytes.IndexByte(v, '"')
	if j < 0 || bytes.IndexByte(v[:j], '\\') >= 0 {
		return nil, false
	}
	return v[:j], true
}

// internStatus returns the statuses every answer carries without a new
// string each.
func internStatus(b []byte) string {
	switch string(b) {
	case "won":
		return "won"
	case "already_won":
		return "already_won"
	case "sold_out":
		return "sold_out"
	case "not_started":
		return "not_started"
	case "ended":
		return "ended"
	case "forfeited":
		return "forfeited"
	}
	return string(b)
}

// Latencies summarises a set of durations.
type Latencies struct {
	N                  int
	P50, P90, P99, Max time.Duration
}

func summarize(ds []time.Duration) Latencies {
	if len(ds) == 0 {
		return Latencies{}
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	at := func(q float64) time.Duration { return ds[min(len(ds)-1, int(q*float64(len(ds))))] }
	return Latencies{N: len(ds), P50: at(0.50), P90: at(0.90), P99: at(0.99), Max: ds[len(ds)-1]}
}

// String formats the summary for a report.
func (l Latencies) String() string {
	return fmt.Sprintf("n=%d p50=%s p90=%s p99=%s max=%s", l.N, ms(l.P50), ms(l.P90), ms(l.P99), ms(l.Max))
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond)) }

// Stats are the throughput and latencies of a load.
type Stats struct {
	Requests   int
	Wins       int
	RPS        float64
	WinsPerSec float64
	Won        Latencies // of "won" answers
	Other      Latencies // of every other answer
	All        Latencies // of every answer
	ByStatus   map[string]int
}

// Summarize computes the load's throughput and latencies.
func (l Load) Summarize() Stats {
	s := Stats{ByStatus: map[string]int{}}
	var won, other []time.Duration
	for _, pair := range l.Answers {
		for _, a := range pair {
			s.Requests++
			key := a.Status
			if a.Err != nil {
				key = "error"
			} else if a.Code != http.StatusOK {
				key = "http_" + strconv.Itoa(a.Code)
			}
			s.ByStatus[key]++
			if a.Status == "won" {
				s.Wins++
				won = append(won, a.Latency)
			} else {
				other = append(other, a.Latency)
			}
		}
	}
	secs := l.Duration.Seconds()
	if secs > 0 {
		s.RPS = float64(s.Requests) / secs
		s.WinsPerSec = float64(s.Wins) / secs
	}
	s.All = summarize(append(append([]time.Duration(nil), won...), other...))
	s.Won, s.Other = summarize(won), summarize(other)
	return s
}

// Point is one slice of a run's time: the answers that arrived in it, per
// second, and their latencies.
type Point struct {
	At         time.Duration `json:"at_ns"` // the end of the slice, from the start of the run
	RPS        float64       `json:"rps"`
	WinsPerSec float64       `json:"wins_per_sec"`
	P50        time.Duration `json:"p50_ns"`
	P99        time.Duration `json:"p99_ns"`
}

// Timeline cuts the run into n slices of equal time and summarizes each,
// for the charts of make bench: how throughput and latency move as the
// stock runs out.
func (l Load) Timeline(n int) []Point {
	if n <= 0 || l.Duration <= 0 {
		return nil
	}
	width := l.Duration / time.Duration(n)
	if width <= 0 {
		width = 1
	}
	lat := make([][]time.Duration, n)
	wins := make([]int, n)
	for _, pair := range l.Answers {
		for _, a := range pair {
			i := min(n-1, int(a.Done/width))
			lat[i] = append(lat[i], a.Latency)
			if a.Status == "won" {
				wins[i]++
			}
		}
	}
	points := make([]Point, n)
	for i := range points {
		s := summarize(lat[i])
		points[i] = Point{At: time.Duration(i+1) * width, RPS: float64(len(lat[i])) / width.Seconds(),
			WinsPerSec: float64(wins[i]) / width.Seconds(), P50: s.P50, P99: s.P99}
	}
	return points
}
