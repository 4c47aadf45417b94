package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"log"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const (
	testIssuer   = "http://login.example.localhost:8080"
	testAudience = "api.example.localhost"
)

// testJWKS is an in-process authorization server JWKS endpoint whose keys a test can change.
type testJWKS struct {
	mu   sync.Mutex
	keys []map[string]string
	down bool
	srv  *httptest.Server
}

func newTestJWKS(t *testing.T) *testJWKS {
	j := &testJWKS{}
	j.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		j.mu.Lock()
		defer j.mu.Unlock()
		if j.down {
			http.Error(w, "down", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": j.keys})
	}))
	t.Cleanup(j.srv.Close)
	return j
}

func (j *testJWKS) publish(kid string, pub crypto.PublicKey) {
	b64 := base64.RawURLEncoding.EncodeToString
	var k map[string]string
	switch pub := pub.(type) {
	case *rsa.PublicKey:
		k = map[string]string{"kty": "RSA", "n": b64(pub.N.Bytes()), "e": b64(big.NewInt(int64(pub.E)).Bytes())}
	case *ecdsa.PublicKey:
		k = map[string]string{"kty": "EC", "crv": "P-256", "x": b64(pub.X.FillBytes(make([]byte, 32))),
			"y": b64(pub.Y.FillBytes(make([]byte, 32)))}
	}
	k["kid"], k["use"] = kid, "sig"
	j.mu.Lock()
	j.keys = append(j.keys, k)
	j.mu.Unlock()
}

type fixture struct {
	jwks    *testJWKS
	v       *validator
	handler http.Handler
	clock   time.Time
	rsaKey  *rsa.PrivateKey
	ecKey   *ecdsa.PrivateKey
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{jwks: newTestJWKS(t), rsaKey: rsaKey, ecKey: ecKey, clock: time.Now()}
	f.jwks.publish("rsa-1", &rsaKey.PublicKey)
	f.jwks.publish("ec-1", &ecKey.PublicKey)
	keys := newKeySet(f.jwks.srv.URL, time.Second)
	keys.now = func() time.Time { return f.clock }
	f.v = &validator{keys: keys, issuer: testIssuer, audience: testAudience, requiredScope: "read",
		leeway: clockLeeway, now: func() time.Time { return f.clock }}
	f.handler = newHandler(f.v)
	return f
}

func (f *fixture) claims() jwt.MapClaims {
	return jwt.MapClaims{
		"iss":   testIssuer,
		"aud":   testAudience,
		"sub":   "demouser",
		"scope": "openid profile read",
		"iat":   f.clock.Unix(),
		"exp":   f.clock.Add(5 * time.Minute).Unix(),
	}
}

func sign(t *testing.T, method jwt.SigningMethod, kid string, key any, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (f *fixture) get(token string) *httptest.ResponseRecorder {
	return f.send(http.MethodGet, token, "")
}

// send calls /api/data with the method, the bearer token (none when empty) and a JSON body
// (none when empty).
func (f *fixture) send(method, token, jsonBody string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, "/api/data", strings.NewReader(jsonBody))
	if jsonBody != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	f.handler.ServeHTTP(rec, req)
	return rec
}

func body(t *testing.T, rec *httptest.ResponseRecorder) map[string]string {
	t.Helper()
	var m map[string]string
	if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
		t.Fatalf("body %q: %v", rec.Body.String(), err)
	}
	return m
}

func TestValidTokens(t *testing.T) {
	f := newFixture(t)
	for name, token := range map[string]string{
		"RS256": sign(t, jwt.SigningMethodRS256, "rsa-1", f.rsaKey, f.claims()),
		"PS256": sign(t, jwt.SigningMethodPS256, "rsa-1", f.rsaKey, f.claims()),
		"ES256": sign(t, jwt.SigningMethodES256, "ec-1", f.ecKey, f.claims()),
	} {
		t.Run(name, func(t *testing.T) {
			rec := f.get(token)
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d, body %s", rec.Code, rec.Body)
			}
			b := body(t, rec)
			if b["message"] != "Success response from the Business API" || b["sub"] != "demouser" ||
				b["scope"] != "openid profile read" {
				t.Errorf("body %v", b)
			}
			if _, err := time.Parse(time.RFC3339, b["time"]); err != nil {
				t.Errorf("time: %v", err)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
		})
	}
	if f.v.keys.fetches != 1 {
		t.Errorf("JWKS fetched %d times, want 1 (cached)", f.v.keys.fetches)
	}
}

// TestPostData: POST /api/data, as Curity's example SPAs call it, is validated as GET is and
// answers the same members, whatever its body.
func TestPostData(t *testing.T) {
	f := newFixture(t)
	token := sign(t, jwt.SigningMethodRS256, "rsa-1", f.rsaKey, f.claims())
	for _, jsonBody := range []string{"", `{"item":"x"}`} {
		rec := f.send(http.MethodPost, token, jsonBody)
		if rec.Code != http.StatusOK {
			t.Fatalf("body %q: status %d, body %s", jsonBody, rec.Code, rec.Body)
		}
		b := body(t, rec)
		if len(b) != 4 || b["message"] != "Success response from the Business API" || b["sub"] != "demouser" ||
			b["scope"] != "openid profile read" {
			t.Errorf("body %q: answer %v", jsonBody, b)
		}
		if _, err := time.Parse(time.RFC3339, b["time"]); err != nil {
			t.Errorf("time: %v", err)
		}
		if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type %q", ct)
		}
	}

	if rec := f.send(http.MethodPost, "", ""); rec.Code != http.StatusUnauthorized ||
		rec.Header().Get("WWW-Authenticate") != `Bearer realm="api"` || body(t, rec)["code"] != "unauthorized" {
		t.Errorf("POST without a token: status %d, body %s", rec.Code, rec.Body)
	}
	expired := f.claims()
	expired["exp"] = f.clock.Add(-time.Minute).Unix()
	if rec := f.send(http.MethodPost, sign(t, jwt.SigningMethodRS256, "rsa-1", f.rsaKey, expired), ""); rec.Code != http.StatusUnauthorized ||
		body(t, rec)["message"] != "The access token has expired" {
		t.Errorf("POST with an expired token: status %d, body %s", rec.Code, rec.Body)
	}
	noScope := f.claims()
	noScope["scope"] = "openid profile"
	if rec := f.send(http.MethodPost, sign(t, jwt.SigningMethodRS256, "rsa-1", f.rsaKey, noScope), ""); rec.Code != http.StatusForbidden ||
		body(t, rec)["code"] != "forbidden" {
		t.Errorf("POST without the scope: status %d, body %s", rec.Code, rec.Body)
	}
	// Only GET and POST are routes: another method never reaches the validation.
	fetches := f.v.keys.fetches
	if rec := f.send(http.MethodPut, token, ""); rec.Code != http.StatusNotFound {
		t.Errorf("PUT: status %d, want 404", rec.Code)
	}
	if f.v.keys.fetches != fetches {
		t.Error("PUT fetched the JWKS")
	}
}

func TestScopeAsList(t *testing.T) {
	f := newFixture(t)
	c := f.claims()
	c["scope"] = []string{"read", "write"}
	if rec := f.get(sign(t, jwt.SigningMethodRS256, "rsa-1", f.rsaKey, c)); rec.Code != http.StatusOK {
		t.Fatalf("status %d, body %s", rec.Code, rec.Body)
	}
}

func TestRejectedTokens(t *testing.T) {
	f := newFixture(t)
	with := func(name string, value any) jwt.MapClaims {
		c := f.claims()
		if value == nil {
			delete(c, name)
		} else {
			c[name] = value
		}
		return c
	}
	otherKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	none, err := jwt.NewWithClaims(jwt.SigningMethodNone, f.claims()).SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name, token, description string
	}{
		{"wrong issuer", sign(t, jwt.SigningMethodRS256, "rsa-1", f.rsaKey, with("iss", "https://evil.example")),
			"The access token has an unexpected issuer"},
		{"wrong audience", sign(t, jwt.SigningMethodRS256, "rsa-1", f.rsaKey, with("aud", "other-api")),
			"The access token has an unexpected audience"},
		{"no audience", sign(t, jwt.SigningMethodRS256, "rsa-1", f.rsaKey, with("aud", nil)), ""},
		{"expired", sign(t, jwt.SigningMethodRS256, "rsa-1", f.rsaKey, with("exp", f.clock.Add(-time.Minute).Unix())),
			"The access token has expired"},
		{"no expiry", sign(t, jwt.SigningMethodRS256, "rsa-1", f.rsaKey, with("exp", nil)),
			"The access token lacks a required claim"},
		{"not yet valid", sign(t, jwt.SigningMethodRS256, "rsa-1", f.rsaKey, with("nbf", f.clock.Add(time.Minute).Unix())),
			"The access token is not valid yet"},
		{"alg none", none, "The access token's signing algorithm is not allowed"},
		{"HS256", sign(t, jwt.SigningMethodHS256, "rsa-1", []byte("a shared secret that nobody should accept"), f.claims()),
			"The access token's signing algorithm is not allowed"},
		{"wrong key for kid", sign(t, jwt.SigningMethodRS256, "rsa-1", otherKey, f.claims()),
			"The access token signature is invalid"},
		{"RSA alg with EC key", sign(t, jwt.SigningMethodRS256, "ec-1", f.rsaKey, f.claims()),
			"The access token signature is invalid"},
		{"no kid", sign(t, jwt.SigningMethodRS256, "", f.rsaKey, f.claims()), "The access token has no key identifier"},
		{"garbage", "not-a-jwt", "The access token is malformed"},
		{"three garbage parts", "a.b.c", "The access token is malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := f.get(tt.token)
			if rec.Code != http.StatusUnauthorized {
				t.Fatalf("status %d, body %s", rec.Code, rec.Body)
			}
			b := body(t, rec)
			if b["code"] != "unauthorized" {
				t.Errorf("code %q", b["code"])
			}
			if tt.description != "" && b["message"] != tt.description {
				t.Errorf("message %q, want %q", b["message"], tt.description)
			}
			want := `Bearer realm="api", error="invalid_token", error_description="` + b["message"] + `"`
			if got := rec.Header().Get("WWW-Authenticate"); got != want {
				t.Errorf("WWW-Authenticate %q, want %q", got, want)
			}
		})
	}
}

func TestMissingToken(t *testing.T) {
	f := newFixture(t)
	for _, header := range []string{"", "Basic dXNlcjpwYXNz", "Bearer ", "Bearer"} {
		req := httptest.NewRequest(http.MethodGet, "/api/data", nil)
		if header != "" {
			req.Header.Set("Authorization", header)
		}
		rec := httptest.NewRecorder()
		f.handler.ServeHTTP(rec, req)
		if rec.Code != http.StatusUnauthorized {
			t.Fatalf("%q: status %d", header, rec.Code)
		}
		if got := rec.Header().Get("WWW-Authenticate"); got != `Bearer realm="api"` {
			t.Errorf("%q: WWW-Authenticate %q", header, got)
		}
		if b := body(t, rec); b["code"] != "unauthorized" || b["message"] == "" {
			t.Errorf("%q: body %v", header, b)
		}
	}
}

func TestBearerSchemeIsCaseInsensitive(t *testing.T) {
	f := newFixture(t)
	req := httptest.NewRequest(http.MethodGet, "/api/data", nil)
	req.Header.Set("Authorization", "bearer  "+sign(t, jwt.SigningMethodRS256, "rsa-1", f.rsaKey, f.claims()))
	rec := httptest.NewRecorder()
	f.handler.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d, body %s", rec.Code, rec.Body)
	}
}

func TestClockLeeway(t *testing.T) {
	f := newFixture(t)
	c := f.claims()
	c["exp"] = f.clock.Add(-clockLeeway / 2).Unix()
	if rec := f.get(sign(t, jwt.SigningMethodRS256, "rsa-1", f.rsaKey, c)); rec.Code != http.StatusOK {
		t.Fatalf("a token expired within the leeway: status %d, body %s", rec.Code, rec.Body)
	}
}

func TestMissingScope(t *testing.T) {
	f := newFixture(t)
	for _, scope := range []any{"openid profile", "readonly", nil} {
		c := f.claims()
		if scope == nil {
			delete(c, "scope")
		} else {
			c["scope"] = scope
		}
		rec := f.get(sign(t, jwt.SigningMethodRS256, "rsa-1", f.rsaKey, c))
		if rec.Code != http.StatusForbidden {
			t.Fatalf("scope %v: status %d, body %s", scope, rec.Code, rec.Body)
		}
		b := body(t, rec)
		if b["code"] != "forbidden" || b["message"] != "The token does not contain the required scope" {
			t.Errorf("body %v", b)
		}
		want := `Bearer realm="api", error="insufficient_scope", error_description="The token does not contain the required scope"`
		if got := rec.Header().Get("WWW-Authenticate"); got != want {
			t.Errorf("WWW-Authenticate %q", got)
		}
	}
}

// TestKeyRotation: a token signed with a key the cache does not know makes the API refetch the
// JWKS, at most once per refetchInterval.
func TestKeyRotation(t *testing.T) {
	f := newFixture(t)
	if rec := f.get(sign(t, jwt.SigningMethodRS256, "rsa-1", f.rsaKey, f.claims())); rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}

	newKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	token := sign(t, jwt.SigningMethodRS256, "rsa-2", newKey, f.claims())

	// The key is not published yet, and the JWKS was fetched moments ago: the miss is rejected
	// without another fetch.
	rec := f.get(token)
	if rec.Code != http.StatusUnauthorized || body(t, rec)["message"] != "The access token was signed with an unknown key" {
		t.Fatalf("status %d, body %s", rec.Code, rec.Body)
	}
	if f.v.keys.fetches != 1 {
		t.Fatalf("fetches %d, want 1 (rate-limited)", f.v.keys.fetches)
	}

	// The server publishes the new key; once the interval has passed, the miss refetches.
	f.jwks.publish("rsa-2", &newKey.PublicKey)
	f.clock = f.clock.Add(refetchInterval + time.Second)
	token = sign(t, jwt.SigningMethodRS256, "rsa-2", newKey, f.claims())
	if rec := f.get(token); rec.Code != http.StatusOK {
		t.Fatalf("after refetch: status %d, body %s", rec.Code, rec.Body)
	}
	if f.v.keys.fetches != 2 {
		t.Fatalf("fetches %d, want 2", f.v.keys.fetches)
	}

	// A kid that is nowhere: one refetch, then rate-limited.
	f.clock = f.clock.Add(refetchInterval + time.Second)
	ghost := sign(t, jwt.SigningMethodRS256, "ghost", newKey, f.claims())
	for i := 0; i < 5; i++ {
		if rec := f.get(ghost); rec.Code != http.StatusUnauthorized {
			t.Fatalf("status %d", rec.Code)
		}
	}
	if f.v.keys.fetches != 3 {
		t.Fatalf("fetches %d, want 3", f.v.keys.fetches)
	}
}

func TestConcurrentMissesFetchOnce(t *testing.T) {
	f := newFixture(t)
	token := sign(t, jwt.SigningMethodRS256, "rsa-1", f.rsaKey, f.claims())
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := f.v.validate(context.Background(), "Bearer "+token); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if f.v.keys.fetches != 1 {
		t.Fatalf("fetches %d, want 1", f.v.keys.fetches)
	}
}

func TestJWKSUnavailable(t *testing.T) {
	f := newFixture(t)
	f.jwks.mu.Lock()
	f.jwks.down = true
	f.jwks.mu.Unlock()
	rec := f.get(sign(t, jwt.SigningMethodRS256, "rsa-1", f.rsaKey, f.claims()))
	if rec.Code != http.StatusServiceUnavailable || body(t, rec)["code"] != "server_error" {
		t.Fatalf("status %d, body %s", rec.Code, rec.Body)
	}
	if rec.Header().Get("WWW-Authenticate") != "" {
		t.Error("a server error must not challenge the client")
	}

	// Back up: the retry after a failure comes sooner than the normal refetch interval.
	f.jwks.mu.Lock()
	f.jwks.down = false
	f.jwks.mu.Unlock()
	f.clock = f.clock.Add(failureRetryInterval + time.Second)
	if rec := f.get(sign(t, jwt.SigningMethodRS256, "rsa-1", f.rsaKey, f.claims())); rec.Code != http.StatusOK {
		t.Fatalf("status %d, body %s", rec.Code, rec.Body)
	}
}

func TestJWKSParsingSkipsUnusableKeys(t *testing.T) {
	keys, err := parseJWKS([]byte(`{"keys":[
		{"kty":"RSA","kid":"enc","use":"enc","n":"AQAB","e":"AQAB"},
		{"kty":"oct","kid":"sym","k":"c2VjcmV0"},
		{"kty":"EC","kid":"p384","crv":"P-384","x":"AA","y":"AA"},
		{"kty":"EC","kid":"off-curve","crv":"P-256","x":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","y":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},
		{"kty":"RSA","n":"AQAB","e":"AQAB"}
	]}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 0 {
		t.Fatalf("kept %v", keys)
	}
	if _, err := parseJWKS([]byte(`not json`)); err == nil {
		t.Fatal("want an error")
	}
}

func TestHealthAndNotFound(t *testing.T) {
	f := newFixture(t)
	for path, want := range map[string]int{"/health": 200, "/nope": 404, "/api/other": 404} {
		rec := httptest.NewRecorder()
		f.handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != want {
			t.Errorf("%s: status %d, want %d", path, rec.Code, want)
		}
	}
	if f.v.keys.fetches != 0 {
		t.Error("no route but /api/data may fetch the JWKS")
	}
}

func TestLogLineHasNoToken(t *testing.T) {
	var buf bytes.Buffer
	log.SetOutput(&buf)
	t.Cleanup(func() { log.SetOutput(os.Stderr) })
	f := newFixture(t)
	good := sign(t, jwt.SigningMethodRS256, "rsa-1", f.rsaKey, f.claims())
	bad := sign(t, jwt.SigningMethodRS256, "rsa-1", f.rsaKey, jwt.MapClaims{"iss": "x"})
	f.get(good)
	f.get(bad)
	out := buf.String()
	if strings.Count(out, "\n") != 2 {
		t.Fatalf("want one line per request, got %q", out)
	}
	for _, tok := range []string{good, bad, strings.Split(good, ".")[2]} {
		if strings.Contains(out, tok) {
			t.Fatalf("the log holds a token: %q", out)
		}
	}
	if !strings.Contains(out, "GET /api/data 200") || !strings.Contains(out, "sub=demouser") ||
		!strings.Contains(out, "GET /api/data 401") {
		t.Fatalf("log %q", out)
	}
}
