package traefik_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/tokenhandler/traefik-token-handler/internal/cookiecrypt"
	"github.com/tokenhandler/traefik-token-handler/testsupport/fakeas"
	"github.com/tokenhandler/traefik-token-handler/testsupport/hotpath"
	"github.com/tokenhandler/traefik-token-handler/testsupport/scenarios"
)

// BenchmarkHotPath measures the per-request work of the roles interpreted by Yaegi, built by
// Traefik's plugin builder; the root package's BenchmarkHotPath measures the same compiled.
func BenchmarkHotPath(b *testing.B) {
	introspection := fakeas.NewIntrospector(b)
	cipher, _ := cookiecrypt.NewCipher(hotpath.Key, nil)
	activeCookie, _ := cipher.Encrypt(hotpath.ActiveToken)
	hotpath.Benchmarks(b, buildHotPath, introspection.URL(), fakeas.IntrospectionClientID, fakeas.IntrospectionClientSecret,
		fakeas.JWTFor(hotpath.ActiveToken), activeCookie)
}

// buildHotPath builds a middleware of the hot-path benchmarks and of the allocation budget test
// with Traefik's plugin builder, as Traefik does for a router; a nil configuration builds the
// pass-through reference plugin.
func buildHotPath(conf map[string]interface{}, next http.Handler) (http.Handler, error) {
	plugin := alias
	if conf == nil {
		plugin = "passthrough"
	}
	ctor, err := builder.Build(plugin, conf, "bench@file")
	if err != nil {
		return nil, err
	}
	return ctor(context.Background(), next)
}

// BenchmarkConcurrentFirstRequests reports how many introspection calls 200 concurrent first
// requests with one new token make under Yaegi (the target is 1).
func BenchmarkConcurrentFirstRequests(b *testing.B) {
	for i := 0; i < b.N; i++ {
		calls := scenarios.PhantomConcurrentFirstRequests(b, buildInterpreted("phantomToken"), 200)
		b.ReportMetric(float64(calls), "introspections/200-requests")
	}
}

// BenchmarkAgent measures the OAuth Agent's own cost per request under Yaegi.
func BenchmarkAgent(b *testing.B) {
	hotpath.AgentBenchmarks(b, buildInterpreted("oauthAgent"))
}
