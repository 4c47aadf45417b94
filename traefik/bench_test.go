package traefik_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/tokenhandler/traefik-token-handler/internal/cookiecrypt"
	"github.com/tokenhandler/traefik-token-handler/testsupport/fakeas"
	"github.com/tokenhandler/traefik-token-handler/testsupport/hotpath"
)

// BenchmarkHotPath measures the per-request work of the roles interpreted by Yaegi, built by
// Traefik's plugin builder; the root package's BenchmarkHotPath measures the same compiled.
func BenchmarkHotPath(b *testing.B) {
	introspection := fakeas.NewIntrospector(b)
	cipher, _ := cookiecrypt.NewCipher(hotpath.Key, nil)
	activeCookie, _ := cipher.Encrypt(hotpath.ActiveToken)
	build := func(conf map[string]interface{}, next http.Handler) (http.Handler, error) {
		ctor, err := builder.Build(alias, conf, "bench@file")
		if err != nil {
			return nil, err
		}
		return ctor(context.Background(), next)
	}
	hotpath.Benchmarks(b, build, introspection.URL(), fakeas.IntrospectionClientID, fakeas.IntrospectionClientSecret,
		fakeas.JWTFor(hotpath.ActiveToken), activeCookie)
}
