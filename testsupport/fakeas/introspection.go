// Package fakeas is an in-process authorization server for tests: token introspection whose
// answer each test picks through the token it sends, and (in oidc.go) an OpenID Connect
// provider that signs real ID tokens and can be told to fail each call. Both can require
// private_key_jwt client authentication (clientauth.go), and keys.go makes test keys and PEM
// files. It complements the real authorization server of the end-to-end tests with faults that a
// real server cannot be made to produce on demand.
package fakeas

import (
	"context"
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

// IssuedAt is the iat member of the fake's plain JSON answers (JSONFor).
const IssuedAt = 1735689600 // 2025-01-01

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
//	jsonnojwt     200 {"active":true,"scope":"read","sub":"demouser"}
//	json-*        200 plain RFC 7662 JSON, JSONFor(token): scope "read write", exp in 2100
//	jsonnoexp-*   the same without exp
//	jsonexpstring the same with exp as a string, "4102444800"
//	jsonscopearray the same with scope as an array, ["read","write"]
//	jsonhugesub   the same with a sub of 64 KiB
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
// Any other token is inactive (204). Requests without the right client credentials get 401
// (with no body for HTTP Basic, {"error":"invalid_client"} otherwise): by default HTTP Basic
// with IntrospectionClientID and IntrospectionClientSecret, see SetClientAuth.
//
// SetPlainJSON turns the answers into plain RFC 7662 JSON, like Ory Hydra's; SetDelay delays
// every answer, and InFlight and MaxInFlight count the requests being answered at once.
type Introspector struct {
	Server *httptest.Server
	// SlowDelay is how long slow-* tokens wait before answering (default 300 ms).
	SlowDelay time.Duration

	auth *clientAuth

	mu          sync.Mutex
	calls       map[string]int
	total       int
	last        http.Header
	plainJSON   bool
	delay       time.Duration
	inFlight    int
	maxInFlight int
}

// NewIntrospector starts a fake introspection server; it stops when the test ends.
func NewIntrospector(t interface{ Cleanup(func()) }) *Introspector {
	f := &Introspector{
		calls:     map[string]int{},
		SlowDelay: 300 * time.Millisecond,
		auth:      newClientAuth(ClientSecretBasic, IntrospectionClientID, IntrospectionClientSecret, nil),
	}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Server.Close)
	return f
}

// SetClientAuth sets the only accepted client authentication of IntrospectionClientID:
// "client_secret_basic" (the default, with IntrospectionClientSecret), "client_secret_post", or
// "private_key_jwt" with a client assertion signed by one of keys, checked as the Provider's
// token endpoint does (aud URL() or Server.URL, a jti used once, exp at most 5 minutes ahead;
// see ProviderOptions.ClientAuth). It panics on another method.
func (f *Introspector) SetClientAuth(method string, keys ...ClientKey) {
	if method != ClientSecretBasic && method != ClientSecretPost && method != PrivateKeyJWT {
		panic("fakeas: unsupported client authentication " + method)
	}
	f.auth.setMethod(method, keys)
}

// LastClientAssertion returns the JWS header and claims of the last private_key_jwt client
// assertion received that could be decoded, accepted or not (nils before the first).
func (f *Introspector) LastClientAssertion() (header, claims map[string]interface{}) {
	return f.auth.lastAssertion()
}

// LastClientAuthError returns why the last client authentication failed ("" when it succeeded).
func (f *Introspector) LastClientAuthError() string {
	return f.auth.lastError()
}

// SetPlainJSON turns plain RFC 7662 JSON answers on or off. While on, the tokens that answer an
// active JWT (active-*, read-*, noscope-*, maxage10-*, badcache-*, nostore-*, exp30-*,
// expired-*, slow-*) answer 200 application/json JSONFor(token) instead (with the same
// Cache-Control headers and exp), with no jwt member; and an inactive token (inactive-*, any
// unknown token) answers 200 {"active":false} instead of 204. The other tokens answer as
// always.
func (f *Introspector) SetPlainJSON(on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.plainJSON = on
}

// SetDelay makes every authenticated introspection request wait d before it is answered (0:
// no delay), and stop waiting when the client gives up.
func (f *Introspector) SetDelay(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.delay = d
}

// InFlight returns how many requests are being answered now.
func (f *Introspector) InFlight() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.inFlight
}

// MaxInFlight returns the largest number of requests answered at once so far.
func (f *Introspector) MaxInFlight() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.maxInFlight
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

// JSONFor returns the plain RFC 7662 answer of the fake for an active token: {"active":true,
// "sub":"demouser","scope":...,"client_id":"spa-client","iss":"https://fake.example",
// "exp":FarFutureExp,"iat":IssuedAt,"token_type":"Bearer"}, with scope "read" for read-*, none
// for noscope-*, "read write" otherwise. Numbers are int64.
func JSONFor(token string) map[string]interface{} {
	answer := map[string]interface{}{
		"active": true, "sub": "demouser", "client_id": "spa-client", "iss": "https://fake.example",
		"exp": int64(FarFutureExp), "iat": int64(IssuedAt), "token_type": "Bearer",
	}
	switch {
	case strings.HasPrefix(token, "read-"):
		answer["scope"] = "read"
	case strings.HasPrefix(token, "noscope-"):
	default:
		answer["scope"] = "read write"
	}
	return answer
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
	f.mu.Lock()
	f.inFlight++
	f.maxInFlight = max(f.maxInFlight, f.inFlight)
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.inFlight--
		f.mu.Unlock()
	}()
	formErr := r.ParseForm()
	if err := f.auth.authenticate(r, r.PostForm, f.URL(), f.Server.URL); err != nil {
		if f.auth.getMethod() == ClientSecretBasic {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		oauthError(w, http.StatusUnauthorized, "invalid_client", "client authentication failed: "+err.Error())
		return
	}
	if formErr != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	token := r.PostForm.Get("token")
	f.mu.Lock()
	f.calls[token]++
	f.total++
	f.last = r.Header.Clone()
	plainJSON, delay := f.plainJSON, f.delay
	f.mu.Unlock()
	if delay > 0 && !sleep(r.Context(), delay) {
		return
	}

	jsonAnswer := func(v interface{}) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(v)
	}
	// activeAnswer answers an active token: its JWT, or in plain JSON mode JSONFor(token) with
	// exp changed when exp is not 0.
	activeAnswer := func(jwt string, exp int64) {
		if !plainJSON {
			w.Header().Set("Content-Type", "application/jwt")
			fmt.Fprint(w, jwt)
			return
		}
		answer := JSONFor(token)
		if exp != 0 {
			answer["exp"] = exp
		}
		jsonAnswer(answer)
	}
	switch {
	case strings.HasPrefix(token, "active-"), strings.HasPrefix(token, "read-"), strings.HasPrefix(token, "noscope-"):
		activeAnswer(JWTFor(token), 0)
	case strings.HasPrefix(token, "maxage10-"):
		w.Header().Set("Cache-Control", "max-age=10")
		activeAnswer(JWTFor(token), 0)
	case strings.HasPrefix(token, "badcache-"):
		w.Header().Set("Cache-Control", "max-age=ten, private, =")
		activeAnswer(JWTFor(token), 0)
	case strings.HasPrefix(token, "nostore-"):
		w.Header().Set("Cache-Control", "no-store")
		activeAnswer(JWTFor(token), 0)
	case strings.HasPrefix(token, "exp30-"):
		exp := time.Now().Unix() + 30
		activeAnswer(unsignedJWT(map[string]interface{}{"sub": "demouser", "scope": "read", "exp": exp}), exp)
	case strings.HasPrefix(token, "expired-"):
		exp := time.Now().Unix() - 30
		activeAnswer(unsignedJWT(map[string]interface{}{"sub": "demouser", "scope": "read", "exp": exp}), exp)
	case strings.HasPrefix(token, "slow-"):
		if sleep(r.Context(), f.SlowDelay) {
			activeAnswer(JWTFor(token), 0)
		}
	case strings.HasPrefix(token, "jsonjwt-"):
		jsonAnswer(map[string]interface{}{"active": true, "jwt": JWTFor(token)})
	case token == "jsoninactive":
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"active":false}`)
	case token == "jsonnojwt":
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"active":true,"scope":"read","sub":"demouser"}`)
	case strings.HasPrefix(token, "json-"):
		jsonAnswer(JSONFor(token))
	case strings.HasPrefix(token, "jsonnoexp-"):
		answer := JSONFor(token)
		delete(answer, "exp")
		jsonAnswer(answer)
	case token == "jsonexpstring":
		answer := JSONFor(token)
		answer["exp"] = fmt.Sprint(FarFutureExp)
		jsonAnswer(answer)
	case token == "jsonscopearray":
		answer := JSONFor(token)
		answer["scope"] = []string{"read", "write"}
		jsonAnswer(answer)
	case token == "jsonhugesub":
		answer := JSONFor(token)
		answer["sub"] = strings.Repeat("s", 64*1024)
		jsonAnswer(answer)
	case token == "jsongarbage":
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"active":tru`)
	case token == "html":
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, "<html><body>Service temporarily unavailable</body></html>")
	case token == "twoparts":
		w.Header().Set("Content-Type", "application/jwt")
		fmt.Fprint(w, "abc.def")
	case token == "badjwt":
		w.Header().Set("Content-Type", "application/jwt")
		fmt.Fprint(w, "eyJhbGciOiJSUzI1NiJ9.!!!.c2ln")
	case token == "huge":
		w.Header().Set("Content-Type", "application/jwt")
		fmt.Fprint(w, JWTFor("active-huge")+strings.Repeat("A", 300*1024))
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
	case plainJSON: // inactive-* and any other token
		jsonAnswer(map[string]interface{}{"active": false})
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

// sleep waits d and reports true, or false when ctx ends first.
func sleep(ctx context.Context, d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
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
