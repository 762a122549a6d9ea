package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
)

// pathLayer is one variant of BenchmarkSoldOutPath: the sold-out request
// served in process, with a layer more of the service each time.
type pathLayer struct {
	name   string
	ns     float64
	bytes  int64
	allocs int64
}

// pathLayers explains what each variant of BenchmarkSoldOutPath adds.
var pathLayers = map[string]string{
	"bare":               "a bare handler (reads the body, writes a fixed answer)",
	"handler":            "the seckill handler behind the router, the request context and the buyer check",
	"middleware":         "+ recover, request id, metrics, CORS (tracing and access log off)",
	"middleware+tracing": "+ tracing at the default sampler",
	"default":            "+ the access log to a file: the default configuration",
}

var benchLine = regexp.MustCompile(`^BenchmarkSoldOutPath/(\S+?)-\d+\s+\d+\s+([\d.]+) ns/op\s+(\d+) B/op\s+(\d+) allocs/op`)

// soldOutPath runs BenchmarkSoldOutPath with the go command and returns
// its variants in order.
func soldOutPath(ctx context.Context) ([]pathLayer, error) {
	cmd := exec.CommandContext(ctx, "go", "test", "-run", "^$", "-bench", "^BenchmarkSoldOutPath$", "-benchmem",
		"-benchtime", "300000x", "-count", "1", "./internal/activity/")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("go test -bench BenchmarkSoldOutPath: %v\n%s", err, out)
	}
	return parseSoldOutPath(out)
}

func parseSoldOutPath(out []byte) ([]pathLayer, error) {
	var ls []pathLayer
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		m := benchLine.FindStringSubmatch(strings.TrimSpace(sc.Text()))
		if m == nil {
			continue
		}
		ns, _ := strconv.ParseFloat(m[2], 64)
		b, _ := strconv.ParseInt(m[3], 10, 64)
		a, _ := strconv.ParseInt(m[4], 10, 64)
		ls = append(ls, pathLayer{name: m[1], ns: ns, bytes: b, allocs: a})
	}
	if len(ls) == 0 {
		return nil, fmt.Errorf("no BenchmarkSoldOutPath results in %q", out)
	}
	return ls, nil
}

// pathTable is the markdown table of the variants, each with what it adds
// to the one before.
func pathTable(ls []pathLayer) string {
	var b strings.Builder
	b.WriteString("| variant | what it serves | ns/op | added ns/op | B/op | allocs/op |\n|---|---|---|---|---|---|\n")
	for i, l := range ls {
		added := ""
		if i > 0 {
			added = fmt.Sprintf("%+.0f", l.ns-ls[i-1].ns)
		}
		fmt.Fprintf(&b, "| %s | %s | %.0f | %s | %d | %d |\n", l.name, pathLayers[l.name], l.ns, added, l.bytes, l.allocs)
	}
	return b.String()
}
