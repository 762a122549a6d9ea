package devstack

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/seckill/seckill/internal/devstack/pgserver"
)

// JaegerBinary returns the path of the Jaeger all-in-one binary `make
// tools` installs, on PATH or in $GOPATH/bin, or "" when it is not
// installed.
func JaegerBinary(getenv func(string) string) string {
	if p, err := exec.LookPath("all-in-one"); err == nil {
		return p
	}
	gopath := getenv("GOPATH")
	if gopath == "" {
		home, _ := os.UserHomeDir()
		gopath = filepath.Join(home, "go")
	}
	p := filepath.Join(gopath, "bin", "all-in-one")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	return ""
}

// Jaeger is a running all-in-one that keeps spans in memory.
type Jaeger struct {
	*Proc
	// CollectorURL is where JAEGER_ENDPOINT points: spans are sent over HTTP.
	CollectorURL string
	// QueryURL is the base of the UI and the query API (/api/traces).
	QueryURL string
}

// Env returns the services' variables that send their spans to j, sampled
// as the services sample by default (or as JAEGER_SAMPLER_TYPE and
// JAEGER_SAMPLER_PARAM in the caller's environment say): what make run
// gives, since users load-test the stack it starts.
func (j *Jaeger) Env() []string {
	return []string{"JAEGER_ENDPOINT=" + j.CollectorURL, "JAEGER_DISABLED=false"}
}

// EnvTraceAll is Env with every request traced: a demo's or a test's
// setting, not a load test's.
func (j *Jaeger) EnvTraceAll() []string {
	return append(j.Env(), "JAEGER_SAMPLER_TYPE=const", "JAEGER_SAMPLER_PARAM=1")
}

// StartJaeger runs bin with its collector's HTTP port and its query port
// on loopback (0 picks a free port) and every other listener on a free
// port, so it never collides with another Jaeger, and waits until its
// query API answers.
func StartJaeger(ctx context.Context, bin string, collector, query int, log io.Writer) (*Jaeger, error) {
	var err error
	port := func(fixed int) string {
		if fixed == 0 && err == nil {
			fixed, err = pgserver.FreePort()
		}
		return fmt.Sprintf("127.0.0.1:%d", fixed)
	}
	c, q := port(collector), port(query)
	args := []string{"--collector.http-server.host-port=" + c, "--query.http-server.host-port=" + q}
	for _, flag := range []string{"collector.grpc-server.host-port", "query.grpc-server.host-port", "admin.http.host-port",
		"http-server.host-port", "processor.jaeger-compact.server-host-port", "processor.jaeger-binary.server-host-port",
		"processor.zipkin-compact.server-host-port", "collector.otlp.grpc.host-port", "collector.otlp.http.host-port"} {
		args = append(args, "--"+flag+"="+port(0))
	}
	if err != nil {
		return nil, err
	}
	j := &Jaeger{CollectorURL: "http://" + c + "/api/traces", QueryURL: "http://" + q}
	j.Proc = &Proc{Name: "jaeger", Path: bin, Args: args, Env: []string{"SPAN_STORAGE_TYPE=memory"},
		ReadyURL: j.QueryURL + "/api/services", Log: log}
	if err := j.Start(ctx); err != nil {
		return nil, err
	}
	return j, nil
}
