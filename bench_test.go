package tokenhandler_test

import (
	"context"
	"net/http"
	"testing"

	tokenhandler "github.com/tokenhandler/traefik-token-handler"
	"github.com/tokenhandler/traefik-token-handler/internal/cookiecrypt"
	"github.com/tokenhandler/traefik-token-handler/internal/logger"
	"github.com/tokenhandler/traefik-token-handler/testsupport/fakeas"
	"github.com/tokenhandler/traefik-token-handler/testsupport/hotpath"
	"github.com/tokenhandler/traefik-token-handler/testsupport/scenarios"
	"github.com/tokenhandler/traefik-token-handler/testsupport/traefikconfig"
)

// BenchmarkHotPath measures the per-request work of the compiled roles; traefik/bench_test.go
// measures the same under Yaegi.
func BenchmarkHotPath(b *testing.B) {
	defer logger.SetOutput(nopWriter{})()
	introspection := fakeas.NewIntrospector(b)
	cipher, _ := cookiecrypt.NewCipher(hotpath.Key, nil)
	activeCookie, _ := cipher.Encrypt(hotpath.ActiveToken)
	build := func(conf map[string]interface{}, next http.Handler) (http.Handler, error) {
		if conf == nil {
			return next, nil // compiled, a pass-through middleware costs nothing measurable
		}
		cfg := tokenhandler.CreateConfig()
		if err := traefikconfig.Decode(conf, cfg); err != nil {
			return nil, err
		}
		return tokenhandler.New(context.Background(), next, cfg, "bench")
	}
	hotpath.Benchmarks(b, build, introspection.URL(), fakeas.IntrospectionClientID, fakeas.IntrospectionClientSecret,
		fakeas.JWTFor(hotpath.ActiveToken), activeCookie)
}

type nopWriter struct{}

func (nopWriter) Write(p []byte) (int, error) { return len(p), nil }

// BenchmarkConcurrentFirstRequests reports how many introspection calls 200 concurrent first
// requests with one new token make (the target is 1).
func BenchmarkConcurrentFirstRequests(b *testing.B) {
	defer logger.SetOutput(nopWriter{})()
	build := func(raw map[string]interface{}, next http.Handler) (http.Handler, error) {
		return newRole("phantomToken", raw, next)
	}
	for i := 0; i < b.N; i++ {
		calls := scenarios.PhantomConcurrentFirstRequests(b, build, 200)
		b.ReportMetric(float64(calls), "introspections/200-requests")
	}
}

func newRole(role string, raw map[string]interface{}, next http.Handler) (http.Handler, error) {
	cfg := tokenhandler.CreateConfig()
	if err := traefikconfig.Decode(map[string]interface{}{role: raw}, cfg); err != nil {
		return nil, err
	}
	return tokenhandler.New(context.Background(), next, cfg, "bench")
}

// BenchmarkAgent measures the compiled OAuth Agent's own cost per request.
func BenchmarkAgent(b *testing.B) {
	defer logger.SetOutput(nopWriter{})()
	hotpath.AgentBenchmarks(b, func(raw map[string]interface{}, next http.Handler) (http.Handler, error) {
		return newRole("oauthAgent", raw, next)
	})
}
