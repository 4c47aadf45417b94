package hotpath

import (
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/tokenhandler/traefik-token-handler/internal/cookiecrypt"
)

// Path is one hot path of Benchmarks: a middleware, the request it serves and the Authorization
// its upstream must receive.
type Path struct {
	Name              string
	Handler           http.Handler
	Method            string
	Headers           func() http.Header
	WantAuthorization string
}

// Paths builds the hot paths of Benchmarks, in the same order, with the same names,
// configurations and requests, in front of next (Benchmarks uses Upstream). The allocation budget
// test measures these, so that its figures and the benchmark's allocs/op are the same work.
// introspectionURL is a fake introspection server that answers ActiveToken as active with jwt;
// activeCookie is ActiveToken encrypted with Key.
func Paths(tb testing.TB, build Builder, next http.Handler, introspectionURL, clientID, clientSecret, jwt, activeCookie string) []Path {
	tb.Helper()
	mustBuild := func(conf map[string]interface{}, next http.Handler) http.Handler {
		tb.Helper()
		h, err := build(conf, next)
		if err != nil {
			tb.Fatal(err)
		}
		return h
	}
	bff := func(next http.Handler) http.Handler {
		return mustBuild(map[string]interface{}{"bffToken": BFFTokenConfig()}, next)
	}
	phantom := func(next http.Handler) http.Handler {
		return mustBuild(map[string]interface{}{"phantomToken": map[string]interface{}{
			"introspectionEndpoint": introspectionURL, "clientId": clientID, "clientSecret": clientSecret,
		}}, next)
	}
	chunked := chunkedCookieHeader(tb)
	return []Path{
		{"PassThrough", mustBuild(nil, next), http.MethodGet, BrowserGET, ""},
		{"BFFTokenGET", bff(next), http.MethodGet, BrowserGET, "Bearer " + OpaqueToken},
		{"BFFTokenGETChunked", bff(next), http.MethodGet, func() http.Header {
			return http.Header{"Origin": {Origin}, "Cookie": {chunked}}
		}, "Bearer " + LargeToken},
		{"BFFTokenPOST", bff(next), http.MethodPost, BrowserPOST, "Bearer " + OpaqueToken},
		{"PhantomTokenCacheHit", phantom(next), http.MethodGet, func() http.Header {
			return http.Header{"Authorization": {"Bearer " + ActiveToken}}
		}, "Bearer " + jwt},
		{"StackedGET", bff(phantom(next)), http.MethodGet, func() http.Header {
			return http.Header{"Origin": {Origin}, "Cookie": {"example-at=" + activeCookie}}
		}, "Bearer " + jwt},
	}
}

// LargeToken is an access token of 5,000 bytes, like an Entra ID token with groups: its encrypted
// cookie does not fit in 4,096 bytes and is written as chunks (contract §6.1).
var LargeToken = "large-" + strings.Repeat("0123456789", 499) + "9876"

// chunkedCookieHeader is the Cookie header of LargeToken's access-token cookie, sealed with Key
// and cut into two chunks as the OAuth Agent writes it.
func chunkedCookieHeader(tb testing.TB) string {
	c, err := cookiecrypt.NewCipher(Key, nil)
	if err != nil {
		tb.Fatal(err)
	}
	sealed, err := c.Encrypt(LargeToken)
	if err != nil {
		tb.Fatal(err)
	}
	half := len(sealed) / 2
	return "example-at=chunks-2; example-at-1=" + sealed[:half] + "; example-at-2=" + sealed[half:]
}

// Serve returns the body of Run's loop for p, to be called once per request: fresh headers as a
// browser would send them, the response headers emptied, one ServeHTTP. req is the request it
// reuses, whose headers are those the middleware handed on after the last call.
func (p Path) Serve() (serve func(), req *http.Request) {
	req = httptest.NewRequest(p.Method, "http://api.example.com/api/data", nil)
	w := &discardWriter{h: http.Header{}}
	return func() {
		req.Header = p.Headers()
		for k := range w.h {
			delete(w.h, k)
		}
		p.Handler.ServeHTTP(w, req)
	}, req
}

// BytesPerRun is testing.AllocsPerRun for bytes: the average number of heap bytes allocated per
// call of f over runs calls, after one warm-up call, with GOMAXPROCS set to 1 meanwhile.
func BytesPerRun(runs int, f func()) float64 {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	f()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := 0; i < runs; i++ {
		f()
	}
	runtime.ReadMemStats(&after)
	return float64(after.TotalAlloc-before.TotalAlloc) / float64(runs)
}
