// Package contract checks HTTP exchanges against a service's Swagger 2.0
// document, the one committed under api/ and served at /swagger/doc.json.
// svctest puts every end-to-end test's traffic through it, so a handler that
// answers a status, a field or a shape its document does not describe fails
// the test that made it answer.
//
// The document is converted to OpenAPI 3 (kin-openapi's openapi2conv) and each
// exchange is checked with openapi3filter in both directions:
//   - the response: its status must be documented for the operation (no
//     fallback to a default), its body must match that status's schema, and
//     every header the document names for that status must be present;
//   - the request: one the document refuses may get only a 4xx; a success
//     for it means the document promises a rule the service does not keep;
//   - a request that matches no operation may get only the router's 404, or
//     405 with an Allow header, each in the error envelope.
package contract

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"

	"github.com/getkin/kin-openapi/openapi2"
	"github.com/getkin/kin-openapi/openapi2conv"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
)

// Document is a loaded Swagger document, ready to check exchanges.
type Document struct {
	doc    *openapi3.T
	router routers.Router
}

// Load reads a Swagger 2.0 document.
func Load(swagger2 []byte) (*Document, error) {
	var d2 openapi2.T
	if err := json.Unmarshal(swagger2, &d2); err != nil {
		return nil, fmt.Errorf("read the Swagger document: %w", err)
	}
	d3, err := openapi2conv.ToV3(&d2)
	if err != nil {
		return nil, fmt.Errorf("convert the Swagger document to OpenAPI 3: %w", err)
	}
	// The document has no host, so that clients resolve it against where
	// they found it; the router matches paths on any host.
	d3.Servers = nil
	// Formats are checked, per document (kin-openapi's own defaults are
	// process-wide and check fewer).
	d3.SetStringFormatValidator("uuid", openapi3.NewRegexpFormatValidator(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`))
	d3.SetStringFormatValidator("date-time", openapi3.NewRegexpFormatValidator(openapi3.FormatOfStringDateTime))
	d3.SetIntegerFormatValidator("int64", openapi3.NewRangeFormatValidator(int64(math.MinInt64), int64(math.MaxInt64)))
	d3.SetIntegerFormatValidator("int32", openapi3.NewRangeFormatValidator(int64(math.MinInt32), int64(math.MaxInt32)))
	if err := d3.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("the document is not valid: %w", err)
	}
	r, err := legacy.NewRouter(d3)
	if err != nil {
		return nil, fmt.Errorf("route the document: %w", err)
	}
	return &Document{doc: d3, router: r}, nil
}

// Exchange is one request and the response it got.
type Exchange struct {
	Request      *http.Request
	RequestBody  []byte
	Status       int
	Header       http.Header
	ResponseBody []byte
}

// Check returns what in x the document does not describe, or nothing.
func (d *Document) Check(x Exchange) []string {
	req := x.Request
	if strings.HasPrefix(req.URL.Path, "/swagger/") {
		return nil // the Swagger UI and the document itself
	}
	if req.Method == http.MethodOptions && req.Header.Get("Access-Control-Request-Method") != "" {
		return nil // a CORS preflight, which no operation describes
	}
	where := req.Method + " " + req.URL.RequestURI()
	if len(x.RequestBody) > 0 && req.Header.Get("Content-Type") == "" {
		// The services read a body whose type is not declared as JSON
		// (only one declared as something else is refused, 415), and so
		// the document's application/json covers it.
		req = req.Clone(req.Context())
		req.Header.Set("Content-Type", "application/json")
	}
	route, params, err := d.router.FindRoute(withBody(req, x.RequestBody))
	if err != nil {
		if p := d.routerAnswer(x, err); p != "" {
			return []string{where + ": " + p}
		}
		return nil
	}
	ctx := context.Background()
	in := &openapi3filter.RequestValidationInput{
		Request:    withBody(req, x.RequestBody),
		PathParams: params,
		Route:      route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc,
			SchemaValidationOptions: d.doc.GetSchemaValidationOptions()},
	}
	var problems []string
	if err := openapi3filter.ValidateRequest(ctx, in); err != nil && x.Status < 400 {
		problems = append(problems, fmt.Sprintf("%s answered %d to a request its document refuses: %v", where, x.Status, short(err)))
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 x.Status,
		Header:                 x.Header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true,
			SchemaValidationOptions: d.doc.GetSchemaValidationOptions()},
	}
	out.SetBodyBytes(x.ResponseBody)
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		problems = append(problems, fmt.Sprintf("%s answered %d, which its document does not describe: %v\n\tbody: %.600s",
			where, x.Status, short(err), x.ResponseBody))
	}
	if resp := route.Operation.Responses.Status(x.Status); resp != nil && resp.Value != nil {
		for name := range resp.Value.Headers {
			if x.Header.Get(name) == "" {
				problems = append(problems, fmt.Sprintf("%s answered %d without the %s header its document promises", where, x.Status, name))
			}
		}
	}
	return problems
}

// routerAnswer checks the answer to a request no operation matches: the
// router's 404, or its 405 with Allow, in the error envelope.
func (d *Document) routerAnswer(x Exchange, err error) string {
	// The methods the document has for this path, if it has the path.
	var allowed []string
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		r := x.Request.Clone(x.Request.Context())
		r.Method = m
		if _, _, err := d.router.FindRoute(r); err == nil {
			allowed = append(allowed, m)
		}
	}
	want := http.StatusNotFound
	if len(allowed) > 0 || errors.Is(err, routers.ErrMethodNotAllowed) {
		want = http.StatusMethodNotAllowed
	}
	if x.Status != want {
		return fmt.Sprintf("no operation of the document matches, yet the answer is %d, not %d", x.Status, want)
	}
	if got := x.Header.Get("Allow"); want == http.StatusMethodNotAllowed && got != strings.Join(allowed, ", ") {
		return fmt.Sprintf("405 with Allow %q, but the document has %q for this path", got, strings.Join(allowed, ", "))
	}
	var env map[string]any
	if err := json.Unmarshal(x.ResponseBody, &env); err != nil {
		return fmt.Sprintf("%d without the error envelope: %.300s", x.Status, x.ResponseBody)
	}
	for k, v := range env {
		switch k {
		case "code", "status_code":
			if n, ok := v.(float64); !ok || int(n) != want {
				return fmt.Sprintf("%d whose envelope says %s %v", want, k, v)
			}
		case "message", "error":
			if s, ok := v.(string); !ok || s == "" {
				return fmt.Sprintf("%d whose envelope has no %s", want, k)
			}
		default:
			return fmt.Sprintf("%d whose envelope has the undocumented field %q", want, k)
		}
	}
	if len(env) != 4 {
		return fmt.Sprintf("%d with an incomplete error envelope: %.300s", want, x.ResponseBody)
	}
	return ""
}

// withBody returns a copy of r whose body reads b again.
func withBody(r *http.Request, b []byte) *http.Request {
	c := r.Clone(r.Context())
	c.Body = io.NopCloser(bytes.NewReader(b))
	c.ContentLength = int64(len(b))
	return c
}

// short keeps an error's first lines: kin-openapi appends the whole schema.
func short(err error) string {
	s := err.Error()
	var keep []string
	for _, line := range strings.Split(s, "\n") {
		if strings.HasPrefix(line, "Schema:") || strings.HasPrefix(line, "Value:") {
			continue
		}
		if strings.HasPrefix(line, "  ") || strings.HasPrefix(line, "\t") || strings.TrimSpace(line) == "" {
			continue
		}
		keep = append(keep, line)
		if len(keep) == 6 {
			break
		}
	}
	return strings.Join(keep, " | ")
}

// Middleware serves each request with next, checks the exchange and passes
// each problem to report before the client gets the answer, so a test that
// waits for the answer has the problem reported while it runs. Bodies are
// buffered whole, which end-to-end tests can afford.
func (d *Document) Middleware(next http.Handler, report func(problem string)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, "contract: read the request body: "+err.Error(), http.StatusBadGateway)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		if !proxyFailed(rec) {
			for _, p := range d.Check(Exchange{Request: r, RequestBody: body, Status: rec.Code, Header: rec.Header(), ResponseBody: rec.Body.Bytes()}) {
				report(p)
			}
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.Header().Del(proxyFailedHeader)
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	})
}

// proxyFailedHeader marks an answer the proxy in front of a service made up
// because the service could not be reached (a test stopped it): the service
// said nothing the document must describe.
const proxyFailedHeader = "X-Contract-Proxy-Failed"

func proxyFailed(rec *httptest.ResponseRecorder) bool {
	return rec.Header().Get(proxyFailedHeader) != ""
}

// Proxy forwards every request to target and checks each exchange on the
// way back, passing each problem to report.
func (d *Document) Proxy(target *url.URL, report func(problem string)) http.Handler {
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = pr.In.Host
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			w.Header().Set(proxyFailedHeader, "true")
			w.WriteHeader(http.StatusBadGateway)
		},
	}
	return d.Middleware(rp, report)
}
