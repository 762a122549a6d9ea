package httpx

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestFramingScanner feeds the scanner connection streams whole, split at
// every byte and byte by byte: the verdict must not depend on how the
// reads fall.
func TestFramingScanner(t *testing.T) {
	for _, tc := range []struct {
		name, stream string
		want         framing
	}{
		{"Get", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", framingPlain},
		{"LengthBodiesThenGet", "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}" +
			"POST /b HTTP/1.1\r\nContent-Length: 3\r\nContent-Type: application/json\r\n\r\n[1]GET / HTTP/1.1\r\n\r\n", framingPlain},
		{"Chunked", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n", framingChunked},
		{"LengthAndChunked", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", framingBoth},
		{"ChunkedAndLength", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", framingBoth},
		{"AnyCase", "POST / HTTP/1.1\r\ncONTENT-lENGTH: 5\r\nTRANSFER-ENCODING: chunked\r\n\r\n", framingBoth},
		{"BareLF", "POST / HTTP/1.1\nContent-Length: 3\nTransfer-Encoding: chunked\n\n0\r\n\r\n", framingBoth},
		{"SecondRequestSmuggles", "GET / HTTP/1.1\r\nHost: x\r\n\r\n" +
			"POST / HTTP/1.1\r\nContent-Length: 40\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\n\r\n", framingBoth},
		{"HeadersInsideABodyAreBody", "POST / HTTP/1.1\r\nContent-Length: 60\r\n\r\n" +
			"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n" + strings.Repeat(" ", 13) +
			"GET / HTTP/1.1\r\n\r\n", framingPlain},
		{"CRLFAfterABody", "POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}\r\n" +
			"POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", framingBoth},
		{"FoldedLineIsNotAHeader", "POST / HTTP/1.1\r\nX-A: b\r\n Transfer-Encoding: chunked\r\n\r\n", framingPlain},
		{"OtherNames", "POST / HTTP/1.1\r\nX-Transfer-Encoding: chunked\r\nContent-Lengths: 4\r\nTransfer-Encodingx: y\r\nConnection: keep-alive\r\n\r\n", framingPlain},
		{"RequestLineIsNotAHeader", "Transfer-Encoding: chunked\r\n\r\n", framingPlain},
		{"LongLines", "POST / HTTP/1.1\r\nCookie: " + strings.Repeat("c", 300) + "\r\nX: " + strings.Repeat("x", 300) +
			"\r\nContent-Length: 1\r\n\r\nx", framingPlain},
		{"LengthWithWhiteSpace", "POST / HTTP/1.1\r\nContent-Length: \t 2 \r\n\r\n{}GET / HTTP/1.1\r\n\r\n", framingPlain},
		{"UnreadableLength", "POST / HTTP/1.1\r\nContent-Length: 1e3\r\n\r\n", framingLost},
		{"PaddedLength", "POST / HTTP/1.1\r\nContent-Length:" + strings.Repeat(" ", 80) + "2\r\n\r\n{}", framingLost},
		{"TwoLengths", "POST / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n", framingLost},
		{"SameLengthTwice", "POST / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}", framingPlain},
	} {
		t.Run(tc.name, func(t *testing.T) {
			feeds := map[string][][]byte{"whole": {[]byte(tc.stream)}}
			for i := 1; i < len(tc.stream); i++ {
				feeds["split"] = [][]byte{[]byte(tc.stream[:i]), []byte(tc.stream[i:])}
				if got := scan(feeds["split"]); got != tc.want {
					t.Fatalf("split at %d: verdict %d, want %d", i, got, tc.want)
				}
			}
			for i := range len(tc.stream) {
				feeds["bytes"] = append(feeds["bytes"], []byte{tc.stream[i]})
			}
			for name, f := range feeds {
				if got := scan(f); got != tc.want {
					t.Errorf("%s: verdict %d, want %d", name, got, tc.want)
				}
			}
		})
	}
}

func scan(reads [][]byte) framing {
	var s framingScanner
	for _, p := range reads {
		s.feed(p)
	}
	return framing(s.verdict.Load())
}

// FuzzFramingScanner: no input makes the scanner panic.
func FuzzFramingScanner(f *testing.F) {
	f.Add([]byte("POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"), 7)
	f.Fuzz(func(t *testing.T, b []byte, at int) {
		var s framingScanner
		at = min(max(at, 0), len(b))
		s.feed(b[:at])
		s.feed(b[at:])
	})
}

// rawServer serves h with c through Serve and returns its address.
func rawServer(t *testing.T, c ServerConfig, h http.Handler) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, slog.New(slog.DiscardHandler), c, h, func(a string) { addr <- a }) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return <-addr
}

// exchange writes raw to a new connection in one write and reads every
// response until the server closes the connection.
func exchange(t *testing.T, addr, raw string) []*http.Response {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// A bound on a server that wrongly keeps the connection: the read
	// then fails with a timeout, which the test reports.
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Write([]byte(raw)); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	var resps []*http.Response
	for {
		if _, err := br.Peek(1); err == io.EOF {
			return resps
		} else if err != nil {
			t.Fatalf("after %d responses the connection is still open: %v", len(resps), err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("response %d: %v", len(resps)+1, err)
		}
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body = io.NopCloser(strings.NewReader(string(b)))
		resps = append(resps, resp)
	}
}

// pathRecorder is a handler that reads the body and records each request's
// path.
type pathRecorder struct {
	mu    sync.Mutex
	paths []string
}

func (p *pathRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	p.mu.Lock()
	p.paths = append(p.paths, r.URL.Path)
	p.mu.Unlock()
	OK(w, "hi")
}

func (p *pathRecorder) served() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.paths)
}

// TestServe_Smuggling sends, in one write, a request that a proxy would
// frame by its Content-Length and Go by its chunked Transfer-Encoding,
// and behind it the request the proxy thought was body. The server
// answers the first with one 400 and closes the connection: the second
// never runs. Chunked and HTTP/1.0 requests that could do the same are
// answered likewise, and a plain chunked request is served with the
// connection closed after it.
func TestServe_Smuggling(t *testing.T) {
	const smuggled = "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
	for _, tc := range []struct {
		name, raw string
		statuses  []int
		served    []string
	}{
		{"LengthAndChunked", "POST /front HTTP/1.1\r\nHost: x\r\nContent-Length: 41\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled,
			[]int{400}, nil},
		{"AfterAKeptAliveRequest", "POST /first HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}" +
			"POST /front HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 41\r\n\r\n0\r\n\r\n" + smuggled,
			[]int{200, 400}, []string{"/first"}},
		{"HTTP10WithChunked", "POST /front HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n" + smuggled,
			[]int{400}, nil},
		{"OptionsStar", "OPTIONS * HTTP/1.1\r\nHost: x\r\nContent-Length: 41\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled,
			[]int{400}, nil},
		{"ChunkedOnly", "POST /chunked HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n" + smuggled,
			[]int{200}, []string{"/chunked"}},
		{"PipelinedLengths", "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n" +
			"GET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", []int{200, 200, 200}, []string{"/a", "/b", "/c"}},
	} {
		for _, maxConns := range []int{0, 8} {
			t.Run(tc.name+"/max_conns="+strconv.Itoa(maxConns), func(t *testing.T) {
				c := DefaultServerConfig("127.0.0.1:0")
				c.MaxConns = maxConns
				rec := &pathRecorder{}
				addr := rawServer(t, c, rec)
				resps := exchange(t, addr, tc.raw)
				var statuses []int
				for _, r := range resps {
					statuses = append(statuses, r.StatusCode)
				}
				if !slices.Equal(statuses, tc.statuses) {
					t.Fatalf("responses %v, want %v", statuses, tc.statuses)
				}
				// ReadResponse takes "Connection: close" out of the header
				// into Close.
				if last := resps[len(resps)-1]; !last.Close {
					t.Errorf("last response does not say Connection: close")
				}
				if last := resps[len(resps)-1]; last.StatusCode == 400 {
					var env ErrorEnvelope
					if err := json.NewDecoder(last.Body).Decode(&env); err != nil || env.StatusCode != 400 || env.Error != "invalid" {
						t.Errorf("400 envelope %+v (%v)", env, err)
					}
				}
				if got := rec.served(); !slices.Equal(got, tc.served) {
					t.Errorf("handler served %q, want %q", got, tc.served)
				}
			})
		}
	}
}

// TestServe_ExpectContinueTooLarge offers a body over MaxBodyBytes with
// "Expect: 100-continue": the answer is 413 at once, never "100 Continue",
// and the body is not uploaded.
func TestServe_ExpectContinueTooLarge(t *testing.T) {
	rec := &pathRecorder{}
	addr := rawServer(t, DefaultServerConfig("127.0.0.1:0"), rec)
	resps := exchange(t, addr, "POST /orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"+
		"Content-Length: 1048577\r\nExpect: 100-continue\r\n\r\n")
	if len(resps) != 1 || resps[0].StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("got %d responses, first %v; want only 413", len(resps), resps[0].Status)
	}
	var env ErrorEnvelope
	if err := json.NewDecoder(resps[0].Body).Decode(&env); err != nil || env.StatusCode != 413 || env.Error != "too_large" {
		t.Errorf("413 envelope %+v (%v)", env, err)
	}
	if got := rec.served(); len(got) != 0 {
		t.Errorf("handler served %q", got)
	}

	// At the limit, the client is told to go on and the body is read.
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Write([]byte("POST /orders HTTP/1.1\r\nHost: x\r\nContent-Length: 1048576\r\nExpect: 100-continue\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	if line, err := br.ReadString('\n'); err != nil || !strings.HasPrefix(line, "HTTP/1.1 100 ") {
		t.Fatalf("first line %q (%v), want 100 Continue", line, err)
	}
}

// BenchmarkFramingScanner is what every request pays for the scanner: a
// purchase as wrk sends it, and as a Go client with a buyer JWT does, each
// fed as one read. Compare with BenchmarkSoldOutPath's ns/op per request.
func BenchmarkFramingScanner(b *testing.B) {
	body := `{"user_id":1000000001}`
	for _, tc := range []struct{ name, req string }{
		{"wrk", "POST /activities/1/seckill HTTP/1.1\r\nHost: 127.0.0.1:8504\r\nContent-Type: application/json\r\n" +
			"Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body},
		{"go_client_jwt", "POST /activities/1/seckill HTTP/1.1\r\nHost: 127.0.0.1:8504\r\nUser-Agent: Go-http-client/1.1\r\n" +
			"Content-Length: " + strconv.Itoa(len(body)) + "\r\nAuthorization: Bearer " + strings.Repeat("x", 150) +
			"\r\nContent-Type: application/json\r\nAccept-Encoding: gzip\r\n\r\n" + body},
	} {
		b.Run(tc.name, func(b *testing.B) {
			p := []byte(tc.req)
			var s framingScanner
			b.SetBytes(int64(len(p)))
			b.ReportAllocs()
			for b.Loop() {
				s.feed(p)
			}
			if s.state != scanStart {
				b.Fatalf("scanner in state %d after a whole request", s.state)
			}
		})
	}
}
