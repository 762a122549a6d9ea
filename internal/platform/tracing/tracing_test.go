package tracing

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/opentracing/opentracing-go"
	"github.com/uber/jaeger-client-go"
)

func mapenv(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestNew(t *testing.T) {
	t.Run("DisabledIsNoop", func(t *testing.T) {
		tracer, closer, err := New("product", mapenv(map[string]string{"JAEGER_DISABLED": "true"}), slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		defer closer.Close()
		if _, ok := tracer.(opentracing.NoopTracer); !ok {
			t.Errorf("tracer is %T, want opentracing.NoopTracer", tracer)
		}
	})

	t.Run("DefaultIsJaeger", func(t *testing.T) {
		tracer, closer, err := New("product", mapenv(nil), slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		defer closer.Close()
		if _, ok := tracer.(*jaeger.Tracer); !ok {
			t.Errorf("tracer is %T, want *jaeger.Tracer", tracer)
		}
	})

	errCases := []struct {
		name    string
		service string
		env     map[string]string
	}{
		{"ErrSamplerParam", "product", map[string]string{"JAEGER_SAMPLER_PARAM": "lots"}},
		{"ErrSamplerType", "product", map[string]string{"JAEGER_SAMPLER_TYPE": "sometimes"}},
		{"ErrProbabilityAboveOne", "product", map[string]string{"JAEGER_SAMPLER_PARAM": "2"}},
		{"ErrDisabled", "product", map[string]string{"JAEGER_DISABLED": "maybe"}},
		{"ErrAgentPort", "product", map[string]string{"JAEGER_AGENT_PORT": "70000"}},
		{"ErrEndpoint", "product", map[string]string{"JAEGER_ENDPOINT": "not a url"}},
		{"ErrUserWithoutPassword", "product", map[string]string{"JAEGER_ENDPOINT": "http://jaeger:14268/api/traces", "JAEGER_USER": "u"}},
		{"ErrServiceNameRequired", "", nil},
	}
	for _, tc := range errCases {
		t.Run(tc.name, func(t *testing.T) {
			tracer, closer, err := New(tc.service, mapenv(tc.env), slog.New(slog.DiscardHandler))
			if err == nil {
				closer.Close()
				t.Fatalf("New = %T, nil; want an error", tracer)
			}
		})
	}
}

func TestConfigFromEnv(t *testing.T) {
	t.Run("Defaults", func(t *testing.T) {
		cfg, err := configFromEnv("order", mapenv(nil))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := cfg.ServiceName, "order"; got != want {
			t.Errorf("ServiceName = %q, want %q", got, want)
		}
		if got, want := cfg.Sampler.Type, "probabilistic"; got != want {
			t.Errorf("Sampler.Type = %q, want %q", got, want)
		}
		if got, want := cfg.Sampler.Param, 0.001; got != want {
			t.Errorf("Sampler.Param = %v, want %v", got, want)
		}
		if got, want := cfg.Reporter.LocalAgentHostPort, "localhost:6831"; got != want {
			t.Errorf("LocalAgentHostPort = %q, want %q", got, want)
		}
		if cfg.Disabled {
			t.Error("Disabled = true, want false")
		}
	})

	t.Run("Overrides", func(t *testing.T) {
		cfg, err := configFromEnv("order", mapenv(map[string]string{
			"JAEGER_SERVICE_NAME":  "order-canary",
			"JAEGER_SAMPLER_TYPE":  "const",
			"JAEGER_SAMPLER_PARAM": "1",
			"JAEGER_AGENT_HOST":    "jaeger",
			"JAEGER_AGENT_PORT":    "6832",
		}))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := cfg.ServiceName, "order-canary"; got != want {
			t.Errorf("ServiceName = %q, want %q", got, want)
		}
		if got, want := cfg.Sampler.Type, "const"; got != want {
			t.Errorf("Sampler.Type = %q, want %q", got, want)
		}
		if got, want := cfg.Sampler.Param, 1.0; got != want {
			t.Errorf("Sampler.Param = %v, want %v", got, want)
		}
		if got, want := cfg.Sampler.SamplingServerURL, "http://jaeger:5778/sampling"; got != want {
			t.Errorf("SamplingServerURL = %q, want %q", got, want)
		}
		if got, want := cfg.Reporter.LocalAgentHostPort, "jaeger:6832"; got != want {
			t.Errorf("LocalAgentHostPort = %q, want %q", got, want)
		}
	})

	t.Run("CollectorEndpoint", func(t *testing.T) {
		cfg, err := configFromEnv("order", mapenv(map[string]string{
			"JAEGER_ENDPOINT": "http://jaeger:14268/api/traces",
			"JAEGER_USER":     "u",
			"JAEGER_PASSWORD": "p",
		}))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := cfg.Reporter.CollectorEndpoint, "http://jaeger:14268/api/traces"; got != want {
			t.Errorf("CollectorEndpoint = %q, want %q", got, want)
		}
		if got, want := cfg.Reporter.User+":"+cfg.Reporter.Password, "u:p"; got != want {
			t.Errorf("credentials = %q, want %q", got, want)
		}
	})
}

func TestTruncate(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"select 1", 100, "select 1"},
		{"select 1", 6, "select"},
		{"'héllo'", 3, "'h"}, // é is two bytes; never cut it in half
		{"'héllo'", 4, "'hé"},
	}
	for _, tc := range tests {
		if got := truncate(tc.in, tc.n); got != tc.want {
			t.Errorf("truncate(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
	if got := truncate(strings.Repeat("x", 5000), maxStatementLen); len(got) != maxStatementLen {
		t.Errorf("len(truncate(5000 bytes)) = %d, want %d", len(got), maxStatementLen)
	}
}
