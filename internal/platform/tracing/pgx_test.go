package tracing

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/opentracing/opentracing-go"
	"github.com/opentracing/opentracing-go/ext"
	"github.com/opentracing/opentracing-go/mocktracer"
)

func TestQueryTracer_NoSpanWithoutParent(t *testing.T) {
	tracer := mocktracer.New()
	qt := QueryTracer(tracer)
	ctx := context.Background()

	got := qt.TraceQueryStart(ctx, nil, pgx.TraceQueryStartData{SQL: "select 1"})
	qt.TraceQueryEnd(got, nil, pgx.TraceQueryEndData{})

	if got != ctx {
		t.Error("TraceQueryStart changed a context that carries no span")
	}
	if n := len(tracer.FinishedSpans()); n != 0 {
		t.Errorf("%d spans finished, want 0", n)
	}
}

func TestQueryTracer_ChildOfRequestSpan(t *testing.T) {
	tracer := mocktracer.New()
	parent := tracer.StartSpan("HTTP POST /orders")
	ctx := opentracing.ContextWithSpan(context.Background(), parent)
	qt := QueryTracer(tracer)

	qctx := qt.TraceQueryStart(ctx, nil, pgx.TraceQueryStartData{
		SQL:  "insert into orders (user_id) values ($1)",
		Args: []any{"secret-user"},
	})
	if n := len(tracer.FinishedSpans()); n != 0 {
		t.Fatalf("%d spans finished before the query ended", n)
	}
	qt.TraceQueryEnd(qctx, nil, pgx.TraceQueryEndData{})

	span := onlySpan(t, tracer) // the parent is still open
	if got, want := span.OperationName, "db.query"; got != want {
		t.Errorf("OperationName = %q, want %q", got, want)
	}
	if got, want := span.ParentID, ctxOf(parent.(*mocktracer.MockSpan)).SpanID; got != want {
		t.Errorf("ParentID = %d, want %d", got, want)
	}
	for k, want := range map[string]any{
		"db.type":      "postgresql",
		"db.statement": "insert into orders (user_id) values ($1)",
		"span.kind":    ext.SpanKindRPCClientEnum,
	} {
		if got := span.Tag(k); got != want {
			t.Errorf("tag %s = %v, want %v", k, got, want)
		}
	}
	if span.Tag("error") != nil {
		t.Error("error tag set on a query that succeeded")
	}
	for k, v := range span.Tags() {
		if s, ok := v.(string); ok && strings.Contains(s, "secret-user") {
			t.Errorf("tag %s carries a query argument: %q", k, s)
		}
	}
}

func TestQueryTracer_ErrorAndLongStatement(t *testing.T) {
	tracer := mocktracer.New()
	ctx := opentracing.ContextWithSpan(context.Background(), tracer.StartSpan("parent"))
	qt := QueryTracer(tracer)

	long := "select " + strings.Repeat("1, ", 2000) + "1"
	qctx := qt.TraceQueryStart(ctx, nil, pgx.TraceQueryStartData{SQL: long})
	qt.TraceQueryEnd(qctx, nil, pgx.TraceQueryEndData{Err: errors.New("deadlock detected")})

	span := onlySpan(t, tracer)
	if got := span.Tag("error"); got != true {
		t.Errorf("error tag = %v, want true", got)
	}
	if got := len(span.Tag("db.statement").(string)); got > maxStatementLen {
		t.Errorf("db.statement is %d bytes, want at most %d", got, maxStatementLen)
	}
}

func TestQueryTracer_Batch(t *testing.T) {
	tracer := mocktracer.New()
	ctx := opentracing.ContextWithSpan(context.Background(), tracer.StartSpan("parent"))
	bt := QueryTracer(tracer).(pgx.BatchTracer)

	b := &pgx.Batch{}
	b.Queue("update stock set n = n - 1 where id = $1", 1)
	b.Queue("insert into orders (id) values ($1)", 2)
	bctx := bt.TraceBatchStart(ctx, nil, pgx.TraceBatchStartData{Batch: b})
	bt.TraceBatchQuery(bctx, nil, pgx.TraceBatchQueryData{SQL: b.QueuedQueries[0].SQL})
	bt.TraceBatchQuery(bctx, nil, pgx.TraceBatchQueryData{SQL: b.QueuedQueries[1].SQL, Err: errors.New("duplicate key")})
	bt.TraceBatchEnd(bctx, nil, pgx.TraceBatchEndData{Err: errors.New("duplicate key")})

	span := onlySpan(t, tracer)
	if got, want := span.OperationName, "db.batch"; got != want {
		t.Errorf("OperationName = %q, want %q", got, want)
	}
	if got, want := span.Tag("db.batch.size"), any(2); got != want {
		t.Errorf("db.batch.size = %v, want %v", got, want)
	}
	if got := span.Tag("error"); got != true {
		t.Errorf("error tag = %v, want true", got)
	}
	// Two statement logs and the batch's error.
	if got, want := len(span.Logs()), 3; got != want {
		t.Errorf("%d log records, want %d", got, want)
	}

	// Without a parent the batch leaves no trace either.
	tracer.Reset()
	bctx = bt.TraceBatchStart(context.Background(), nil, pgx.TraceBatchStartData{Batch: b})
	bt.TraceBatchQuery(bctx, nil, pgx.TraceBatchQueryData{SQL: "select 1"})
	bt.TraceBatchEnd(bctx, nil, pgx.TraceBatchEndData{})
	if n := len(tracer.FinishedSpans()); n != 0 {
		t.Errorf("%d spans finished without a parent, want 0", n)
	}
}
