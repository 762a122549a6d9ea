package tracing

import (
	"context"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/opentracing/opentracing-go"
	"github.com/opentracing/opentracing-go/ext"
	otlog "github.com/opentracing/opentracing-go/log"
)

// maxStatementLen bounds the SQL kept on a span: enough to recognise any
// statement of ours, and a guard against a generated IN list bloating every
// span the reporter has to send.
const maxStatementLen = 1000

// QueryTracer returns a pgx tracer, for pgx.ConnConfig.Tracer, that records
// a "db.query" span for each Query, QueryRow and Exec, and a "db.batch"
// span for each SendBatch (the value also implements pgx.BatchTracer). A
// span is made only when the context already carries one, from Middleware,
// so background work such as the group committer or the order relay does
// not litter Jaeger with one-span traces. Spans are tagged with the SQL
// text, cut to about 1000 bytes, and never with the arguments, which may
// hold personal data.
func QueryTracer(tracer opentracing.Tracer) pgx.QueryTracer {
	return queryTracer{tracer: tracer}
}

type queryTracer struct {
	tracer opentracing.Tracer
}

// spanKey is the context key of the span a query or batch started. It is
// not the opentracing context key: TraceQueryEnd must find only a span that
// TraceQueryStart made, never finish the request's span.
type spanKey struct{}

// TraceQueryStart implements pgx.QueryTracer.
func (q queryTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	span := q.start(ctx, "db.query")
	if span == nil {
		return ctx
	}
	ext.DBStatement.Set(span, truncate(data.SQL, maxStatementLen))
	return context.WithValue(ctx, spanKey{}, span)
}

// TraceQueryEnd implements pgx.QueryTracer.
func (queryTracer) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryEndData) {
	finish(ctx, data.Err)
}

// TraceBatchStart implements pgx.BatchTracer.
func (q queryTracer) TraceBatchStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceBatchStartData) context.Context {
	span := q.start(ctx, "db.batch")
	if span == nil {
		return ctx
	}
	if data.Batch != nil {
		span.SetTag("db.batch.size", data.Batch.Len())
	}
	return context.WithValue(ctx, spanKey{}, span)
}

// TraceBatchQuery implements pgx.BatchTracer: each statement of the batch
// is a log entry on the batch's span rather than a span of its own, since
// they share one round trip.
func (queryTracer) TraceBatchQuery(ctx context.Context, _ *pgx.Conn, data pgx.TraceBatchQueryData) {
	span, ok := ctx.Value(spanKey{}).(opentracing.Span)
	if !ok {
		return
	}
	fields := []otlog.Field{otlog.String("db.statement", truncate(data.SQL, maxStatementLen))}
	if data.Err != nil {
		fields = append(fields, otlog.Error(data.Err))
	}
	span.LogFields(fields...)
}

// TraceBatchEnd implements pgx.BatchTracer.
func (queryTracer) TraceBatchEnd(ctx context.Context, _ *pgx.Conn, data pgx.TraceBatchEndData) {
	finish(ctx, data.Err)
}

// start returns a new client span named op under the span in ctx, or nil
// when ctx has none.
func (q queryTracer) start(ctx context.Context, op string) opentracing.Span {
	parent := opentracing.SpanFromContext(ctx)
	if parent == nil || !enabled(q.tracer) || !isSampled(parent) {
		// The spans of an unsampled trace are never reported.
		return nil
	}
	span := q.tracer.StartSpan(op, opentracing.ChildOf(parent.Context()), ext.SpanKindRPCClient)
	ext.DBType.Set(span, "postgresql")
	return span
}

// finish ends the span a Start call stored in ctx, if any.
func finish(ctx context.Context, err error) {
	span, ok := ctx.Value(spanKey{}).(opentracing.Span)
	if !ok {
		return
	}
	if err != nil {
		ext.Error.Set(span, true)
		span.LogFields(otlog.Error(err))
	}
	span.Finish()
}

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
