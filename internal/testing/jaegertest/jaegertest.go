// Package jaegertest runs a real Jaeger all-in-one for integration tests and
// reads traces back through its query API.
package jaegertest

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/seckill/seckill/internal/devstack"
)

// Jaeger is a running all-in-one.
type Jaeger struct {
	// CollectorURL is where JAEGER_ENDPOINT points: spans are sent over HTTP.
	CollectorURL string
	// QueryURL is the base of the query API (/api/traces, /api/services).
	QueryURL string
}

// Start runs Jaeger on free loopback ports until t ends. Without the binary
// the test is skipped with the command that installs it, except in CI,
// where it must run.
func Start(t *testing.T) *Jaeger {
	t.Helper()
	bin := devstack.JaegerBinary(os.Getenv)
	if bin == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("the Jaeger all-in-one binary is required in CI: make tools")
		}
		t.Skip("Jaeger all-in-one is not installed (make tools installs it); skipping the tracing integration test")
	}
	j, err := devstack.StartJaeger(context.Background(), bin, 0, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(j.Kill)
	return &Jaeger{CollectorURL: j.CollectorURL, QueryURL: j.QueryURL}
}

// Span is a span as the query API returns it.
type Span struct {
	TraceID       string `json:"traceID"`
	SpanID        string `json:"spanID"`
	OperationName string `json:"operationName"`
	ProcessID     string `json:"processID"`
	References    []struct {
		RefType string `json:"refType"`
		SpanID  string `json:"spanID"`
	} `json:"references"`
}

// Trace is a trace as the query API returns it.
type Trace struct {
	TraceID   string `json:"traceID"`
	Spans     []Span `json:"spans"`
	Processes map[string]struct {
		ServiceName string `json:"serviceName"`
	} `json:"processes"`
}

// Service returns the name of the service that recorded s.
func (tr Trace) Service(s Span) string { return tr.Processes[s.ProcessID].ServiceName }

// Traces returns the stored traces of service.
func (j *Jaeger) Traces(service string) ([]Trace, error) {
	resp, err := http.Get(j.QueryURL + "/api/traces?limit=100&service=" + service)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var body struct {
		Data []Trace `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, err
	}
	return body.Data, nil
}

// WaitTrace polls until a trace of service satisfies match, or fails t.
func (j *Jaeger) WaitTrace(t *testing.T, service string, within time.Duration, match func(Trace) bool) Trace {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		traces, err := j.Traces(service)
		if err == nil {
			for _, tr := range traces {
				if match(tr) {
					return tr
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no matching trace of %s within %s (%d traces, err %v)", service, within, len(traces), err)
		}
		time.Sleep(200 * time.Millisecond) // polling interval of a deadline-bounded wait
	}
}
