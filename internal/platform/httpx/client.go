package httpx

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/seckill/seckill/internal/platform/errs"
)

// Resolver yields the base URL (scheme://host:port) of a peer service for one
// call. A static URL and Consul discovery both implement it, so clients do not
// change when discovery is turned on.
type Resolver interface {
	Resolve(ctx context.Context) (string, error)
}

// StaticURL is a Resolver that always answers the same base URL.
type StaticURL string

// Resolve returns the URL itself.
func (u StaticURL) Resolve(context.Context) (string, error) { return string(u), nil }

// Client calls a peer service's JSON API and unwraps its envelope.
type Client struct {
	HTTP *http.Client
	Peer Resolver
	Name string // the peer's name, for error messages
	// Token, when set, is sent as "Authorization: Bearer <Token>" on every
	// call: the SERVICE_TOKEN peers ask of each other.
	Token string
}

// NewClient returns a Client with a bounded per-call timeout. transport may
// be nil for http.DefaultTransport; tracing wraps it.
func NewClient(name string, peer Resolver, transport http.RoundTripper, timeout time.Duration) *Client {
	if transport == nil {
		transport = http.DefaultTransport
	}
	return &Client{HTTP: &http.Client{Transport: transport, Timeout: timeout}, Peer: peer, Name: name}
}

// Route is the path of a call to a peer and the route pattern it fills in.
// The pattern names the call's span, so that /products/1 and /products/2
// are one operation.
type Route struct{ Pattern, Path string }

// R returns the Route that fills pattern's {placeholders}, in order, with
// args, each path-escaped.
func R(pattern string, args ...any) Route {
	var b strings.Builder
	rest := pattern
	for _, a := range args {
		i := strings.IndexByte(rest, '{')
		j := strings.IndexByte(rest, '}')
		if i < 0 || j < i {
			break
		}
		b.WriteString(rest[:i])
		b.WriteString(url.PathEscape(fmt.Sprint(a)))
		rest = rest[j+1:]
	}
	b.WriteString(rest)
	return Route{Pattern: pattern, Path: b.String()}
}

type routeKey struct{}

// WithRoutePattern returns ctx carrying the route pattern of an outgoing
// call, for the tracing transport to name its span by.
func WithRoutePattern(ctx context.Context, pattern string) context.Context {
	return context.WithValue(ctx, routeKey{}, pattern)
}

// RoutePatternFrom returns the pattern WithRoutePattern stored, or "".
func RoutePatternFrom(ctx context.Context) string {
	p, _ := ctx.Value(routeKey{}).(string)
	return p
}

// Do sends in (when not nil) as JSON with the given method to route, and
// decodes the envelope's data into out (when not nil). A peer's error
// envelope comes back as an *errs.Error with the peer's code and message; a
// peer that cannot be reached is errs.Unavailable.
func (c *Client) Do(ctx context.Context, method string, route Route, in, out any) error {
	ctx = WithRoutePattern(ctx, route.Pattern)
	path := route.Path
	base, err := c.Peer.Resolve(ctx)
	if err != nil {
		return errs.Wrap(errs.Unavailable, err, c.Name+" service cannot be found")
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encode %s request: %w", c.Name, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, body)
	if err != nil {
		return fmt.Errorf("build %s request: %w", c.Name, err)
	}
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if id := RequestIDFrom(ctx); id != "" {
		req.Header.Set(RequestIDHeader, id)
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return err
		}
		return errs.Wrap(errs.Unavailable, err, c.Name+" service is unreachable")
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return errs.Wrap(errs.Unavailable, err, "reading "+c.Name+" service response")
	}
	if resp.StatusCode >= 300 {
		var e ErrorEnvelope
		msg := fmt.Sprintf("%s service answered %d", c.Name, resp.StatusCode)
		if json.Unmarshal(raw, &e) == nil && e.Message != "" {
			msg = e.Message
		}
		return &errs.Error{Code: CodeOfStatus(resp.StatusCode), Message: msg,
			Err: fmt.Errorf("%s %s%s: status %d", method, base, path, resp.StatusCode)}
	}
	if out == nil {
		return nil
	}
	env := Envelope{Data: out}
	if err := json.Unmarshal(raw, &env); err != nil {
		return errs.Wrap(errs.Internal, err, "malformed response from "+c.Name+" service")
	}
	return nil
}
