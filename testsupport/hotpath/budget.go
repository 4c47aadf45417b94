package hotpath

import (
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
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
	return []Path{
		{"PassThrough", mustBuild(nil, next), http.MethodGet, BrowserGET, ""},
		{"BFFTokenGET", bff(next), http.MethodGet, BrowserGET, "Bearer " + OpaqueToken},
		{"BFFTokenPOST", bff(next), http.MethodPost, BrowserPOST, "Bearer " + OpaqueToken},
		{"PhantomTokenCacheHit", phantom(next), http.MethodGet, func() http.Header {
			return http.Header{"Authorization": {"Bearer " + ActiveToken}}
		}, "Bearer " + jwt},
		{"StackedGET", bff(phantom(next)), http.MethodGet, func() http.Header {
			return http.Header{"Origin": {Origin}, "Cookie": {"example-at=" + activeCookie}}
		}, "Bearer " + jwt},
	}
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
