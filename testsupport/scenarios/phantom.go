// Package scenarios holds behaviour checks that need more than one request, written once and
// run against both the compiled roles and the roles interpreted by Yaegi.
package scenarios

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokenhandler/traefik-token-handler/internal/jwt"
	"github.com/tokenhandler/traefik-token-handler/testsupport/fakeas"
	"github.com/tokenhandler/traefik-token-handler/testsupport/requestcases"
)

// phantomConfig is a phantomToken configuration for the fake introspection server f.
func phantomConfig(f *fakeas.Introspector, extra map[string]interface{}) map[string]interface{} {
	cfg := map[string]interface{}{
		"introspectionEndpoint": f.URL(),
		"clientId":              fakeas.IntrospectionClientID,
		"clientSecret":          fakeas.IntrospectionClientSecret,
		"timeoutSeconds":        "2",
	}
	for k, v := range extra {
		if v == nil {
			delete(cfg, k)
		} else {
			cfg[k] = v
		}
	}
	return cfg
}

// upstreamAuthorization is a next handler that answers 200 with the Authorization it received.
var upstreamAuthorization = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Upstream-Authorization", r.Header.Get("Authorization"))
})

func mustBuild(t testing.TB, build requestcases.Builder, cfg map[string]interface{}) http.Handler {
	t.Helper()
	h, err := build(cfg, upstreamAuthorization)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func callWithToken(h http.Handler, token string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, "http://api.example.com/api/data", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// PhantomCacheHits: repeated requests with one token make one introspection call; another token
// makes its own.
func PhantomCacheHits(t *testing.T, build requestcases.Builder) {
	f := fakeas.NewIntrospector(t)
	h := mustBuild(t, build, phantomConfig(f, nil))
	for i := 0; i < 5; i++ {
		if rec := callWithToken(h, "active-hits"); rec.Code != http.StatusOK || rec.Header().Get("X-Upstream-Authorization") != "Bearer "+fakeas.JWTFor("active-hits") {
			t.Fatalf("request %d: status %d, upstream %q", i, rec.Code, rec.Header().Get("X-Upstream-Authorization"))
		}
	}
	if calls := f.Calls("active-hits"); calls != 1 {
		t.Fatalf("5 requests made %d introspection calls, want 1", calls)
	}
	callWithToken(h, "active-other")
	if calls := f.Total(); calls != 2 {
		t.Fatalf("a second token: %d calls in all, want 2", calls)
	}
	// Another instance with the same setup (Traefik builds one per router) shares the cache.
	h2 := mustBuild(t, build, phantomConfig(f, nil))
	callWithToken(h2, "active-hits")
	if calls := f.Calls("active-hits"); calls != 1 {
		t.Fatalf("a second instance introspected again: %d calls", calls)
	}
}

// PhantomConcurrentFirstRequests: n concurrent first requests with one new token make exactly one
// introspection call, and all of them get its JWT.
func PhantomConcurrentFirstRequests(t testing.TB, build requestcases.Builder, n int) int {
	f := fakeas.NewIntrospector(t)
	h := mustBuild(t, build, phantomConfig(f, nil))
	const token = "slow-concurrent"
	want := "Bearer " + fakeas.JWTFor(token)
	var wg sync.WaitGroup
	var mu sync.Mutex
	bad := 0
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			rec := callWithToken(h, token)
			if rec.Code != http.StatusOK || rec.Header().Get("X-Upstream-Authorization") != want {
				mu.Lock()
				bad++
				mu.Unlock()
			}
		}()
	}
	close(start)
	wg.Wait()
	if bad > 0 {
		t.Errorf("%d of %d concurrent requests did not get the JWT", bad, n)
	}
	calls := f.Calls(token)
	if calls != 1 {
		t.Errorf("%d concurrent first requests made %d introspection calls, want 1", n, calls)
	}
	return calls
}

// PhantomSharedError: concurrent requests share one failing call and all get its error; errors
// are not cached.
func PhantomSharedError(t *testing.T, build requestcases.Builder) {
	f := fakeas.NewIntrospector(t)
	h := mustBuild(t, build, phantomConfig(f, map[string]interface{}{"timeoutSeconds": "1"}))
	var wg sync.WaitGroup
	codes := make([]int, 20)
	for i := range codes {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			codes[i] = callWithToken(h, "hang").Code
		}(i)
	}
	wg.Wait()
	for i, code := range codes {
		if code != http.StatusBadGateway {
			t.Fatalf("request %d: status %d, want 502", i, code)
		}
	}
	if calls := f.Calls("hang"); calls != 1 {
		t.Fatalf("20 concurrent requests on a hanging server made %d calls, want 1", calls)
	}
	for _, token := range []string{"status500", "jsonnojwt"} {
		callWithToken(h, token)
		callWithToken(h, token)
		if calls := f.Calls(token); calls != 2 {
			t.Errorf("%s: two requests made %d calls, want 2 (failures must not be cached)", token, calls)
		}
	}
}

// PhantomInactiveCache (contract §6.7): an inactive answer is remembered for
// inactiveCacheSeconds (one call for two requests; two with it off), in a set of its own: a flood
// of random tokens larger than maxCacheEntries leaves a cached active token cached.
func PhantomInactiveCache(t *testing.T, build requestcases.Builder) {
	f := fakeas.NewIntrospector(t)
	h := mustBuild(t, build, phantomConfig(f, map[string]interface{}{"maxCacheEntries": "20"}))
	if rec := callWithToken(h, "active-kept"); rec.Code != http.StatusOK {
		t.Fatalf("active token: %d", rec.Code)
	}
	for i := 0; i < 2; i++ {
		if rec := callWithToken(h, "inactive-remembered"); rec.Code != http.StatusUnauthorized {
			t.Fatalf("inactive token: %d", rec.Code)
		}
	}
	if calls := f.Calls("inactive-remembered"); calls != 1 {
		t.Fatalf("two requests with an inactive token made %d calls, want 1", calls)
	}
	for i := 0; i < 100; i++ {
		callWithToken(h, fmt.Sprintf("random-%d", i))
	}
	if rec := callWithToken(h, "active-kept"); rec.Code != http.StatusOK || f.Calls("active-kept") != 1 {
		t.Fatalf("after a flood of random tokens the active token made %d calls (status %d), want 1", f.Calls("active-kept"), rec.Code)
	}

	off := mustBuild(t, build, phantomConfig(f, map[string]interface{}{"inactiveCacheSeconds": "0"}))
	callWithToken(off, "inactive-forgotten")
	callWithToken(off, "inactive-forgotten")
	if calls := f.Calls("inactive-forgotten"); calls != 2 {
		t.Fatalf("inactiveCacheSeconds 0: %d calls, want 2", calls)
	}
}

// PhantomPrivateKeyJWT (contract §6.6): introspection authenticated with private_key_jwt, a new
// assertion per call with aud = the introspection endpoint's URL, and no secret sent.
func PhantomPrivateKeyJWT(t *testing.T, build requestcases.Builder) {
	f := fakeas.NewIntrospector(t)
	key := fakeas.NewKey(fakeas.KeyP256)
	f.SetClientAuth(fakeas.PrivateKeyJWT, fakeas.ClientKey{Public: key.Public()})
	h := mustBuild(t, build, phantomConfig(f, map[string]interface{}{
		"clientSecret": nil, "clientAuthMethod": "private_key_jwt", "clientPrivateKeyFile": fakeas.WritePEM(t, key, fakeas.PEMSEC1),
	}))
	if rec := callWithToken(h, "active-pkj-1"); rec.Code != http.StatusOK {
		t.Fatalf("status %d (%s)", rec.Code, f.LastClientAuthError())
	}
	_, first := f.LastClientAssertion()
	if first["aud"] != f.URL() || first["iss"] != fakeas.IntrospectionClientID {
		t.Fatalf("assertion claims %v", first)
	}
	if rec := callWithToken(h, "active-pkj-2"); rec.Code != http.StatusOK {
		t.Fatalf("second call: status %d (%s)", rec.Code, f.LastClientAuthError())
	}
	if _, second := f.LastClientAssertion(); second["jti"] == first["jti"] {
		t.Fatal("the second call reused the first call's assertion")
	}
}

// PhantomMinted (contract §6.7): with a signing key, a plain RFC 7662 JSON answer becomes a JWT
// signed by the gateway (typ at+jwt, kid the key's thumbprint, the answer's claims but active,
// iss and aud as configured, the answer's exp, or now + tokenCacheSeconds without one), which
// verifies with the JWKS served at jwksPath (current and previous keys); an exp that is not a
// number is a 502; the JWKS answers only GET and HEAD.
func PhantomMinted(t *testing.T, build requestcases.Builder) {
	f := fakeas.NewIntrospector(t)
	f.SetPlainJSON(true)
	key, previous := fakeas.NewKey(fakeas.KeyP256), fakeas.NewKey(fakeas.KeyRSA2048)
	previousPEM, err := fakeas.EncodePEM(previous, fakeas.PEMPKCS8)
	if err != nil {
		t.Fatal(err)
	}
	h := mustBuild(t, build, phantomConfig(f, map[string]interface{}{
		"signingKeyFile": fakeas.WritePEM(t, key, fakeas.PEMSEC1), "previousSigningKeys": []interface{}{string(previousPEM)},
		"mintedIssuer": "https://gateway.example.com", "mintedAudience": "api.example.com", "jwksPath": "/.well-known/gateway-jwks",
	}))
	jwksReq := httptest.NewRequest(http.MethodGet, "http://api.example.com/.well-known/gateway-jwks?x=1", nil)
	jwksRec := httptest.NewRecorder()
	h.ServeHTTP(jwksRec, jwksReq)
	keys, err := jwt.ParseJWKS(jwksRec.Body.Bytes())
	if jwksRec.Code != http.StatusOK || jwksRec.Header().Get("Content-Type") != "application/json" || err != nil || len(keys) != 2 {
		t.Fatalf("JWKS: %d %q, %d keys, %v", jwksRec.Code, jwksRec.Header().Get("Content-Type"), len(keys), err)
	}
	thumbprint, _ := fakeas.Thumbprint(key.Public())

	for _, tc := range []struct {
		token   string
		wantExp func(exp float64) bool
	}{
		{"json-minted", func(exp float64) bool { return exp == fakeas.FarFutureExp }},
		{"jsonnoexp-minted", func(exp float64) bool { d := exp - float64(time.Now().Unix()); return d > 290 && d <= 301 }},
	} {
		rec := callWithToken(h, tc.token)
		minted := strings.TrimPrefix(rec.Header().Get("X-Upstream-Authorization"), "Bearer ")
		parsed, err := jwt.Parse(minted)
		if rec.Code != http.StatusOK || err != nil {
			t.Fatalf("%s: %d, upstream got %q (%v)", tc.token, rec.Code, minted, err)
		}
		if parsed.Header.Typ != "at+jwt" || parsed.Header.Kid != thumbprint || parsed.Header.Alg != "ES256" {
			t.Fatalf("%s: header %+v", tc.token, parsed.Header)
		}
		verified := false
		for _, k := range keys {
			if k.Kid == parsed.Header.Kid && jwt.VerifySignature(parsed, k) == nil {
				verified = true
			}
		}
		var claims map[string]interface{}
		_ = json.Unmarshal(parsed.Payload, &claims)
		exp, _ := claims["exp"].(float64)
		if !verified || claims["iss"] != "https://gateway.example.com" || claims["aud"] != "api.example.com" ||
			claims["sub"] != "demouser" || claims["active"] != nil || !tc.wantExp(exp) || claims["iat"] == nil {
			t.Fatalf("%s: verified %v, claims %v", tc.token, verified, claims)
		}
	}
	if rec := callWithToken(h, "jsonexpstring"); rec.Code != http.StatusBadGateway {
		t.Fatalf("an exp that is a string: %d, want 502", rec.Code)
	}
	// Odd but valid members are minted as they are: a scope given as an array (and checked as
	// one), a sub of 64 KiB.
	scoped := mustBuild(t, build, phantomConfig(f, map[string]interface{}{
		"signingKeyFile": fakeas.WritePEM(t, key, fakeas.PEMSEC1), "mintedIssuer": "https://gateway.example.com", "requiredScopes": "read",
	}))
	if rec := callWithToken(scoped, "jsonscopearray"); rec.Code != http.StatusOK {
		t.Fatalf("a scope array with the required scope: %d, want 200", rec.Code)
	}
	if rec := callWithToken(h, "jsonhugesub"); rec.Code != http.StatusOK || len(rec.Header().Get("X-Upstream-Authorization")) < 64*1024 {
		t.Fatalf("a 64 KiB sub: %d with an upstream token of %d bytes", rec.Code, len(rec.Header().Get("X-Upstream-Authorization")))
	}
	post := httptest.NewRecorder()
	h.ServeHTTP(post, httptest.NewRequest(http.MethodPost, "http://api.example.com/.well-known/gateway-jwks", strings.NewReader("x")))
	if post.Code != http.StatusMethodNotAllowed || post.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("POST to the JWKS: %d %q", post.Code, post.Header().Get("Content-Type"))
	}

	for _, tc := range []struct {
		extra   map[string]interface{}
		wantErr string
	}{
		{map[string]interface{}{"signingKeyFile": fakeas.WritePEM(t, key, fakeas.PEMPKCS8)}, "mintedIssuer: is required"},
		{map[string]interface{}{"mintedIssuer": "https://gateway.example.com"}, "signingKey: is required with mintedIssuer"},
		{map[string]interface{}{"jwksPath": "/jwks"}, "jwksPath: needs signingKey"},
		{map[string]interface{}{"signingKey": "not a key", "mintedIssuer": "x"}, "signingKey: is not a PEM private key"},
		{map[string]interface{}{"signingKeyFile": fakeas.WritePEM(t, key, fakeas.PEMSEC1), "mintedIssuer": "x", "signingAlg": "RS256"}, "signingKeyFile: is an EC P-256 key, which signs ES256, not RS256"},
	} {
		if _, err := build(phantomConfig(f, tc.extra), upstreamAuthorization); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%v: error %v, want %q", tc.extra, err, tc.wantErr)
		}
	}
}

// PhantomScopeOnCachedEntry: the scope check runs on cache hits, so a cached token never skips it.
func PhantomScopeOnCachedEntry(t *testing.T, build requestcases.Builder) {
	f := fakeas.NewIntrospector(t)
	reader := mustBuild(t, build, phantomConfig(f, map[string]interface{}{"requiredScopes": "read"}))
	writer := mustBuild(t, build, phantomConfig(f, map[string]interface{}{"requiredScopes": "write"}))
	if rec := callWithToken(reader, "read-scoped"); rec.Code != http.StatusOK {
		t.Fatalf("read scope: %d", rec.Code)
	}
	for i := 0; i < 2; i++ {
		if rec := callWithToken(writer, "read-scoped"); rec.Code != http.StatusForbidden {
			t.Fatalf("cached token without the write scope: %d, want 403", rec.Code)
		}
	}
	if calls := f.Calls("read-scoped"); calls != 1 {
		t.Fatalf("%d calls, want 1 (the entry is cached)", calls)
	}
}

// PhantomCacheDisabled: tokenCacheSeconds 0 introspects on every request.
func PhantomCacheDisabled(t *testing.T, build requestcases.Builder) {
	f := fakeas.NewIntrospector(t)
	h := mustBuild(t, build, phantomConfig(f, map[string]interface{}{"tokenCacheSeconds": "0"}))
	for i := 0; i < 3; i++ {
		if rec := callWithToken(h, "active-nocache"); rec.Code != http.StatusOK {
			t.Fatalf("status %d", rec.Code)
		}
	}
	if calls := f.Calls("active-nocache"); calls != 3 {
		t.Fatalf("%d calls with the cache off, want 3", calls)
	}
}

// PhantomNoStoreNotCached: Cache-Control no-store from the server keeps a result out of the cache.
func PhantomNoStoreNotCached(t *testing.T, build requestcases.Builder) {
	f := fakeas.NewIntrospector(t)
	h := mustBuild(t, build, phantomConfig(f, nil))
	callWithToken(h, "nostore-1")
	callWithToken(h, "nostore-1")
	if calls := f.Calls("nostore-1"); calls != 2 {
		t.Fatalf("no-store answer: %d calls, want 2", calls)
	}
}

// PhantomAll runs every scenario as a subtest.
func PhantomAll(t *testing.T, build requestcases.Builder) {
	t.Run("cache hits", func(t *testing.T) { PhantomCacheHits(t, build) })
	t.Run("200 concurrent first requests make one call", func(t *testing.T) { PhantomConcurrentFirstRequests(t, build, 200) })
	t.Run("a failed call is shared and not cached", func(t *testing.T) { PhantomSharedError(t, build) })
	t.Run("private_key_jwt", func(t *testing.T) { PhantomPrivateKeyJWT(t, build) })
	t.Run("minted phantom tokens", func(t *testing.T) { PhantomMinted(t, build) })
	t.Run("inactive answers are remembered apart", func(t *testing.T) { PhantomInactiveCache(t, build) })
	t.Run("scope checked on cached entries", func(t *testing.T) { PhantomScopeOnCachedEntry(t, build) })
	t.Run("cache disabled", func(t *testing.T) { PhantomCacheDisabled(t, build) })
	t.Run("no-store not cached", func(t *testing.T) { PhantomNoStoreNotCached(t, build) })
}
