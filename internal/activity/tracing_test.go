package activity_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/seckill/seckill/internal/activity"
	"github.com/seckill/seckill/internal/order"
	"github.com/seckill/seckill/internal/product"
	"github.com/seckill/seckill/internal/testing/jaegertest"
	"github.com/seckill/seckill/internal/testing/pgtest"
	"github.com/seckill/seckill/internal/testing/svctest"
)

// crossesServices reports whether a span of service to in tr is a child of
// a span of service from: the context crossed the call.
func crossesServices(tr jaegertest.Trace, from, to string) bool {
	byID := map[string]jaegertest.Span{}
	for _, s := range tr.Spans {
		byID[s.SpanID] = s
	}
	for _, s := range tr.Spans {
		if tr.Service(s) != to {
			continue
		}
		for _, ref := range s.References {
			if p, ok := byID[ref.SpanID]; ok && tr.Service(p) == from {
				return true
			}
		}
	}
	return false
}

// childOf reports whether tr has a span named child whose parent is a span
// named parent.
func childOf(tr jaegertest.Trace, child, parent string) bool {
	byID := map[string]jaegertest.Span{}
	for _, s := range tr.Spans {
		byID[s.SpanID] = s
	}
	for _, s := range tr.Spans {
		if s.OperationName != child {
			continue
		}
		for _, ref := range s.References {
			if p, ok := byID[ref.SpanID]; ok && ref.RefType == "CHILD_OF" && p.OperationName == parent {
				return true
			}
		}
	}
	return false
}

func TestTracing_CallsBetweenServicesAreOneTrace(t *testing.T) {
	j := jaegertest.Start(t)
	url := pgtest.NewDB(t)
	tracing := map[string]string{"JAEGER_DISABLED": "false", "JAEGER_ENDPOINT": j.CollectorURL,
		"JAEGER_SAMPLER_TYPE": "const", "JAEGER_SAMPLER_PARAM": "1", "DATABASE_URL": url}
	p := svctest.Start(t, product.Run, tracing)
	o := svctest.Start(t, order.Run, tracing)
	env := map[string]string{"PRODUCT_SERVICE_URL": p.URL, "ORDER_SERVICE_URL": o.URL, "RELAY_INTERVAL": "100ms"}
	for k, v := range tracing {
		env[k] = v
	}
	a := svctest.Start(t, activity.Run, env)

	r := svctest.Do(t, "POST", p.URL+"/products", `{"name":"traced","price":1,"inventory":5}`)
	r = svctest.Do(t, "POST", a.URL+"/activities", map[string]any{"name": "t", "product_id": svctest.Int(r.Data()["id"]), "stock": 2,
		"start_time": time.Now().Format(time.RFC3339), "end_time": time.Now().Add(time.Hour).Format(time.RFC3339)})
	if r.Status != 201 {
		t.Fatalf("create activity: %d %s", r.Status, r.Raw)
	}
	tr := j.WaitTrace(t, "activity", 30*time.Second, func(tr jaegertest.Trace) bool {
		return crossesServices(tr, "activity", "product")
	})
	ops := map[string]bool{}
	for _, s := range tr.Spans {
		ops[tr.Service(s)+": "+s.OperationName] = true
	}
	// Both sides of each call are named by the route pattern, never by
	// the path, so ids do not become operations.
	for _, want := range []string{"activity: HTTP POST /activities", "product: HTTP GET /products/{id}",
		"activity: HTTP GET /products/{id}", "activity: HTTP POST /products/{id}/reservations",
		"product: HTTP POST /products/{id}/reservations", "activity: db.query"} {
		if !ops[want] {
			t.Errorf("trace %s lacks span %q; has %v", tr.TraceID, want, ops)
		}
	}
	for op := range ops {
		if strings.ContainsAny(op, "0123456789") {
			t.Errorf("span %q is named with an id or address", op)
		}
	}
	t.Logf("trace %s: %d spans across activity and product", tr.TraceID, len(tr.Spans))

	// A win goes to the order service through the relay: one trace again.
	id := svctest.Int(r.Data()["id"])
	if w := svctest.DoAs(t, "", "POST", fmt.Sprintf("%s/activities/%d/seckill", a.URL, id), `{"user_id":7}`); w.Data()["status"] != "won" {
		t.Fatalf("buy: %s", w.Raw)
	}
	// The purchase's trace holds the group commit that decided it, and
	// the commit holds its database work.
	purchase := j.WaitTrace(t, "activity", 30*time.Second, func(tr jaegertest.Trace) bool {
		return childOf(tr, "seckill.commit", "HTTP POST /activities/{id}/seckill") && (childOf(tr, "db.batch", "seckill.commit") || childOf(tr, "db.query", "seckill.commit"))
	})
	t.Logf("purchase trace %s: %d spans, the group commit and its queries among them", purchase.TraceID, len(purchase.Spans))

	tr = j.WaitTrace(t, "activity", 30*time.Second, func(tr jaegertest.Trace) bool {
		return crossesServices(tr, "activity", "order")
	})
	ops = map[string]bool{}
	for _, s := range tr.Spans {
		ops[tr.Service(s)+": "+s.OperationName] = true
	}
	for _, want := range []string{"activity: relay.deliver", "order: HTTP POST /orders/batch"} {
		if !ops[want] {
			t.Errorf("relay trace %s lacks span %q; has %v", tr.TraceID, want, ops)
		}
	}
	t.Logf("relay trace %s: %d spans across activity and order", tr.TraceID, len(tr.Spans))
}
