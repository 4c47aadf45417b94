// Package fakeas is an in-process authorization server for tests: token introspection whose
// answer each test picks through the token it sends, and (in oidc.go) an OpenID Connect
// provider that signs real ID tokens and can be told to fail each call. It complements the real
// authorization server of the end-to-end tests with faults that a real server cannot be made to
// produce on demand.
package fakeas

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
)

// Introspection credentials the fake accepts.
const (
	IntrospectionClientID     = "api-gateway-client"
	IntrospectionClientSecret = "Password1"
)

// FarFutureExp is the exp claim of the fake's JWTs unless a token asks for another.
const FarFutureExp = 4102444800 // 2100-01-01

// Introspector answers RFC 7662 introspection the way the token asks, by its prefix:
//
//	active-*      200 application/jwt, scope "read write", exp in 2100
//	read-*        the same with scope "read"
//	noscope-*     the same without a scope claim
//	maxage10-*    the same with Cache-Control: max-age=10
//	badcache-*    the same with a malformed Cache-Control
//	nostore-*     the same with Cache-Control: no-store
//	exp30-*       the same with exp 30 s from now
//	expired-*     the same with exp in the past
//	slow-*        the same after SlowDelay
//	inactive-*    204
//	jsoninactive  200 {"active":false}
//	jsonjwt-*     200 {"active":true,"jwt":...}
//	jsonnojwt     200 {"active":true,"scope":"read"}
//	jsongarbage   200 application/json that is not JSON
//	html          200 text/html
//	twoparts      200 application/jwt "abc.def"
//	badjwt        200 application/jwt with a payload that is not base64url
//	huge          200 application/jwt of 300 KB
//	rfc9701       200 application/token-introspection+jwt
//	redirect      302
//	hang          no answer until the client gives up
//	status<NNN>   that status, for example status401, status500, status503
//
// Any other token is inactive (204). Requests without the right client credentials get 401.
type Introspector struct {
	Server *httptest.Server
	// SlowDelay is how long slow-* tokens wait before answering (default 300 ms).
	SlowDelay time.Duration

	mu    sync.Mutex
	calls map[string]int
	total int
	last  http.Header
}

// NewIntrospector starts a fake introspection server; it stops when the test ends.
func NewIntrospector(t interface{ Cleanup(func()) }) *Introspector {
	f := &Introspector{calls: map[string]int{}, SlowDelay: 300 * time.Millisecond}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Server.Close)
	return f
}

// URL is the introspection endpoint.
func (f *Introspector) URL() string { return f.Server.URL + "/introspect" }

// Calls returns how many introspection calls were made for token.
func (f *Introspector) Calls(token string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[token]
}

// Total returns the number of introspection calls.
func (f *Introspector) Total() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.total
}

// LastHeaders returns the headers of the last introspection request.
func (f *Introspector) LastHeaders() http.Header {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.last
}

// JWTFor returns the JWT that the fake answers for an active-*, read-*, noscope-* or jsonjwt-*
// token.
func JWTFor(token string) string {
	claims := map[string]interface{}{"sub": "demouser", "iss": "https://fake.example", "exp": FarFutureExp, "jti": token}
	switch {
	case strings.HasPrefix(token, "read-"):
		claims["scope"] = "read"
	case strings.HasPrefix(token, "noscope-"):
	default:
		claims["scope"] = "read write"
	}
	return unsignedJWT(claims)
}

// unsignedJWT builds a compact JWT whose signature is not checked by the phantom token role.
func unsignedJWT(claims map[string]interface{}) string {
	header := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"RS256","kid":"fake","typ":"JWT"}`))
	payload, _ := json.Marshal(claims)
	return header + "." + base64.RawURLEncoding.EncodeToString(payload) + "." + base64.RawURLEncoding.EncodeToString([]byte("not-a-signature"))
}

func (f *Introspector) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/introspect" {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	id, secret, ok := r.BasicAuth()
	if !ok || id != IntrospectionClientID || secret != IntrospectionClientSecret {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if err := r.ParseForm(); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	token := r.PostForm.Get("token")
	f.mu.Lock()
	f.calls[token]++
	f.total++
	f.last = r.Header.Clone()
	f.mu.Unlock()

	jwtAnswer := func(jwt string) {
		w.Header().Set("Content-Type", "application/jwt")
		fmt.Fprint(w, jwt)
	}
	switch {
	case strings.HasPrefix(token, "active-"), strings.HasPrefix(token, "read-"), strings.HasPrefix(token, "noscope-"):
		jwtAnswer(JWTFor(token))
	case strings.HasPrefix(token, "maxage10-"):
		w.Header().Set("Cache-Control", "max-age=10")
		jwtAnswer(JWTFor(token))
	case strings.HasPrefix(token, "badcache-"):
		w.Header().Set("Cache-Control", "max-age=ten, private, =")
		jwtAnswer(JWTFor(token))
	case strings.HasPrefix(token, "nostore-"):
		w.Header().Set("Cache-Control", "no-store")
		jwtAnswer(JWTFor(token))
	case strings.HasPrefix(token, "exp30-"):
		jwtAnswer(unsignedJWT(map[string]interface{}{"sub": "demouser", "scope": "read", "exp": time.Now().Unix() + 30}))
	case strings.HasPrefix(token, "expired-"):
		jwtAnswer(unsignedJWT(map[string]interface{}{"sub": "demouser", "scope": "read", "exp": time.Now().Unix() - 30}))
	case strings.HasPrefix(token, "slow-"):
		select {
		case <-time.After(f.SlowDelay):
			jwtAnswer(JWTFor(token))
		case <-r.Context().Done():
		}
	case strings.HasPrefix(token, "jsonjwt-"):
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]interface{}{"active": true, "jwt": JWTFor(token)})
	case token == "jsoninactive":
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"active":false}`)
	case token == "jsonnojwt":
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"active":true,"scope":"read","sub":"demouser"}`)
	case token == "jsongarbage":
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"active":tru`)
	case token == "html":
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, "<html><body>Service temporarily unavailable</body></html>")
	case token == "twoparts":
		jwtAnswer("abc.def")
	case token == "badjwt":
		jwtAnswer("eyJhbGciOiJSUzI1NiJ9.!!!.c2ln")
	case token == "huge":
		jwtAnswer(JWTFor("active-huge") + strings.Repeat("A", 300*1024))
	case token == "rfc9701":
		w.Header().Set("Content-Type", "application/token-introspection+jwt")
		fmt.Fprint(w, JWTFor("active-rfc9701"))
	case token == "redirect":
		http.Redirect(w, r, "/elsewhere", http.StatusFound)
	case token == "hang":
		<-r.Context().Done()
	case strings.HasPrefix(token, "status"):
		var status int
		if _, err := fmt.Sscanf(token, "status%d", &status); err != nil || status < 200 || status > 599 {
			status = http.StatusBadRequest
		}
		w.WriteHeader(status)
		fmt.Fprint(w, `{"error":"something"}`)
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

// CaseVars returns the variables that testdata/phantomtoken-cases.json expects from its runner.
func (f *Introspector) CaseVars(t interface {
	TempDir() string
	Fatal(...interface{})
}) map[string]string {
	secretFile := t.TempDir() + "/introspection-secret"
	if err := writeFile(secretFile, IntrospectionClientSecret+"\n"); err != nil {
		t.Fatal(err)
	}
	return map[string]string{
		"INTROSPECTION_URL": f.URL(),
		"CLOSED_URL":        ClosedURL() + "/introspect",
		"SECRET_FILE":       secretFile,
		"JWT_ACTIVE":        JWTFor("active-1"),
		"JWT_READ":          JWTFor("read-1"),
		"JWT_NOSCOPE":       JWTFor("noscope-1"),
		"JWT_JSON":          JWTFor("jsonjwt-1"),
	}
}
