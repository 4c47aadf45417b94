// Package hotpath holds the per-request benchmarks of bffToken and phantomToken, written once and
// run against the compiled roles and the roles interpreted by Yaegi, so that the two numbers
// measure exactly the same work.
package hotpath

import (
	"net/http"
	"testing"
)

// Key and cookies of Curity's published vectors (testdata/cookie-vectors.json).
const (
	Key         = "4e4636356d65563e4c73233847503e3b21436e6f7629724950526f4b5e2e4e50"
	Origin      = "https://www.example.com"
	ATCookie    = "AcYBf995tTBVsLtQLvOuLUZXHm2c-XqP8t7SKmhBiQtzy5CAw4h_RF6rXyg6kHrvhb8x4WaLQC6h3mw6a3O3Q9A"
	CSRFCookie  = "AfctuC2zuBeZoQHfbopmpQyOADYU6Tp9raMEA-2EhWp4I3HtoiAtoP-H2U_PIrF7O0ZQ0nwE7VmWcl3BAY6bGlv4_EGqToyh4lOqynkSlBByxixJY-kA3bIFufJl"
	CSRFToken   = "pQguFsD6hFjnyYjaeC5KyijcWS6AvkJHiUmY7dLUsuTKsLAITLiJHVqsCdQpaGYO"
	OpaqueToken = "42665300-efe8-419d-be52-07b53e208f46"
)

// BFFTokenConfig is the bffToken configuration of the benchmarks.
func BFFTokenConfig() map[string]interface{} {
	return map[string]interface{}{"cookieNamePrefix": "example", "encryptionKey": Key, "trustedWebOrigins": Origin}
}

// Upstream is the next handler: it does nothing, so that only the middleware is measured.
var Upstream = http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})

type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(int)             {}

// Run serves one request per iteration with fresh headers, as a browser would send them, and
// fails if the upstream does not receive the wanted Authorization.
func Run(b *testing.B, p Path) {
	serve, req := p.Serve()
	serve()
	if got := req.Header.Get("Authorization"); got != p.WantAuthorization {
		b.Fatalf("upstream Authorization = %q, want %q", got, p.WantAuthorization)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		serve()
	}
}

// BrowserGET are the headers of an SPA's GET.
func BrowserGET() http.Header {
	return http.Header{"Origin": {Origin}, "Cookie": {"example-at=" + ATCookie}}
}

// BrowserPOST are the headers of an SPA's POST, with the CSRF cookie and header.
func BrowserPOST() http.Header {
	return http.Header{"Origin": {Origin}, "Cookie": {"example-at=" + ATCookie + "; example-csrf=" + CSRFCookie}, "X-Example-Csrf": {CSRFToken}}
}

// ActiveToken is an opaque token that the fake introspection server answers as active.
const ActiveToken = "active-hotpath-9d7f6a54-6c3e-4a8e-9b1e"

// Builder builds a middleware from the plugin's whole configuration (role key included); a nil
// configuration asks for the pass-through reference plugin.
type Builder func(conf map[string]interface{}, next http.Handler) (http.Handler, error)

// Benchmarks runs every hot-path benchmark (Paths) against the middlewares that build makes.
// introspectionURL is a fake introspection server that answers ActiveToken as active with jwt.
func Benchmarks(b *testing.B, build Builder, introspectionURL, clientID, clientSecret, jwt string, activeCookie string) {
	for _, p := range Paths(b, build, Upstream, introspectionURL, clientID, clientSecret, jwt, activeCookie) {
		p := p
		b.Run(p.Name, func(b *testing.B) { Run(b, p) })
	}
}
