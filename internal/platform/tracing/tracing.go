// Package tracing is the OpenTracing plumbing of the services: a Jaeger
// tracer built from the standard JAEGER_* variables, a server middleware, a
// client transport and a pgx query tracer. The tracer is always passed
// explicitly; nothing here touches opentracing's global tracer.
package tracing

import (
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strconv"

	"github.com/opentracing/opentracing-go"
	"github.com/uber/jaeger-client-go"
	"github.com/uber/jaeger-client-go/config"
)

// The JAEGER_* variables New understands. They keep the names and meaning
// jaeger-client-go's config.FromEnv gives them, so deployment files written
// for any Jaeger client work unchanged.
const (
	envServiceName      = "JAEGER_SERVICE_NAME"
	envDisabled         = "JAEGER_DISABLED"
	envSamplerType      = "JAEGER_SAMPLER_TYPE"
	envSamplerParam     = "JAEGER_SAMPLER_PARAM"
	envSamplingEndpoint = "JAEGER_SAMPLING_ENDPOINT"
	envAgentHost        = "JAEGER_AGENT_HOST"
	envAgentPort        = "JAEGER_AGENT_PORT"
	envEndpoint         = "JAEGER_ENDPOINT"
	envUser             = "JAEGER_USER"
	envPassword         = "JAEGER_PASSWORD"
	envLogSpans         = "JAEGER_REPORTER_LOG_SPANS"
)

// DefaultSamplerType and DefaultSamplerParam sample one trace in a thousand.
// A flash sale sends tens of thousands of requests a second at one endpoint;
// tracing all of them would cost more than serving them, and a thousandth is
// still plenty to see where time goes. Demos set JAEGER_SAMPLER_TYPE=const
// and JAEGER_SAMPLER_PARAM=1 to trace everything.
const (
	DefaultSamplerType  = jaeger.SamplerTypeProbabilistic
	DefaultSamplerParam = 0.001
)

// New builds the service's tracer from the JAEGER_* variables read through
// getenv: JAEGER_SERVICE_NAME (default serviceName), JAEGER_DISABLED,
// JAEGER_SAMPLER_TYPE and JAEGER_SAMPLER_PARAM (default probabilistic 0.001,
// see DefaultSamplerParam), JAEGER_SAMPLING_ENDPOINT, JAEGER_AGENT_HOST and
// JAEGER_AGENT_PORT (default localhost:6831 over UDP), or JAEGER_ENDPOINT
// with JAEGER_USER and JAEGER_PASSWORD to send spans straight to a
// collector over HTTP, and JAEGER_REPORTER_LOG_SPANS.
//
// It reads getenv rather than calling config.FromEnv, which reads the
// process environment itself, so tests can pass a map. When tracing is
// disabled it returns opentracing.NoopTracer{}, which Middleware and
// Transport recognise and step aside for. The closer flushes buffered spans
// and must be closed on shutdown. log receives the tracer's complaints.
func New(serviceName string, getenv func(string) string, log *slog.Logger) (opentracing.Tracer, io.Closer, error) {
	cfg, err := configFromEnv(serviceName, getenv)
	if err != nil {
		return nil, nil, fmt.Errorf("tracing config: %w", err)
	}
	if cfg.Disabled {
		return opentracing.NoopTracer{}, nopCloser{}, nil
	}
	tracer, closer, err := cfg.NewTracer(config.Logger(slogLogger{log}))
	if err != nil {
		return nil, nil, fmt.Errorf("new jaeger tracer for %s: %w", cfg.ServiceName, err)
	}
	return tracer, closer, nil
}

// configFromEnv mirrors config.FromEnv for the variables New documents, but
// reads getenv and starts from this project's sampler default.
func configFromEnv(serviceName string, getenv func(string) string) (config.Configuration, error) {
	cfg := config.Configuration{
		ServiceName: serviceName,
		Sampler:     &config.SamplerConfig{Type: DefaultSamplerType, Param: DefaultSamplerParam},
		Reporter:    &config.ReporterConfig{},
	}
	if v := getenv(envServiceName); v != "" {
		cfg.ServiceName = v
	}
	if v := getenv(envDisabled); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return cfg, fmt.Errorf("%s=%q: %w", envDisabled, v, err)
		}
		cfg.Disabled = b
	}

	if v := getenv(envSamplerType); v != "" {
		cfg.Sampler.Type = v
	}
	if v := getenv(envSamplerParam); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return cfg, fmt.Errorf("%s=%q: %w", envSamplerParam, v, err)
		}
		cfg.Sampler.Param = f
	}
	agentHost := getenv(envAgentHost)
	switch {
	case getenv(envSamplingEndpoint) != "":
		cfg.Sampler.SamplingServerURL = getenv(envSamplingEndpoint)
	case agentHost != "":
		// Only the remote sampler uses this; it lives beside the agent.
		cfg.Sampler.SamplingServerURL = fmt.Sprintf("http://%s:%d/sampling", agentHost, jaeger.DefaultSamplingServerPort)
	}

	if v := getenv(envLogSpans); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return cfg, fmt.Errorf("%s=%q: %w", envLogSpans, v, err)
		}
		cfg.Reporter.LogSpans = b
	}
	if v := getenv(envEndpoint); v != "" {
		u, err := url.ParseRequestURI(v)
		if err != nil {
			return cfg, fmt.Errorf("%s=%q: %w", envEndpoint, v, err)
		}
		cfg.Reporter.CollectorEndpoint = u.String()
		cfg.Reporter.User, cfg.Reporter.Password = getenv(envUser), getenv(envPassword)
		if (cfg.Reporter.User == "") != (cfg.Reporter.Password == "") {
			return cfg, fmt.Errorf("%s and %s must be set together", envUser, envPassword)
		}
		return cfg, nil
	}
	host, port := jaeger.DefaultUDPSpanServerHost, jaeger.DefaultUDPSpanServerPort
	if agentHost != "" {
		host = agentHost
	}
	if v := getenv(envAgentPort); v != "" {
		p, err := strconv.ParseUint(v, 10, 16)
		if err != nil {
			return cfg, fmt.Errorf("%s=%q: %w", envAgentPort, v, err)
		}
		port = int(p)
	}
	cfg.Reporter.LocalAgentHostPort = fmt.Sprintf("%s:%d", host, port)
	return cfg, nil
}

type nopCloser struct{}

func (nopCloser) Close() error { return nil }

// slogLogger hands the tracer's complaints (spans it could not send) to the
// service's structured log; its chatter at info level is dropped.
type slogLogger struct{ log *slog.Logger }

func (l slogLogger) Error(msg string)           { l.log.Error("jaeger", "err", msg) }
func (slogLogger) Infof(string, ...interface{}) {}

// enabled reports whether tracer records anything, so the middleware and
// transport can step aside entirely when tracing is off.
func enabled(tracer opentracing.Tracer) bool {
	switch tracer.(type) {
	case nil, opentracing.NoopTracer, *opentracing.NoopTracer:
		return false
	}
	return true
}
