package oauthagent_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokenhandler/traefik-token-handler/internal/cookiecrypt"
	"github.com/tokenhandler/traefik-token-handler/internal/cookies"
	"github.com/tokenhandler/traefik-token-handler/oauthagent"
	"github.com/tokenhandler/traefik-token-handler/testsupport/fakeas"
	"github.com/tokenhandler/traefik-token-handler/testsupport/fuzzcheck"
	"github.com/tokenhandler/traefik-token-handler/testsupport/requestcases"
	"github.com/tokenhandler/traefik-token-handler/testsupport/scenarios"
	"github.com/tokenhandler/traefik-token-handler/testsupport/traefikconfig"
)

// The fuzz targets' secrets: distinctive, so that a log line holding one is found.
const (
	fuzzClientSecret = "fuzz-agent-client-secret-3f9a1c7e42d8"
	fuzzKey          = "0f1e2d3c4b5a69788796a5b4c3d2e1f00112233445566778899aabbccddeeff0"
	// fuzzBodyCap bounds the bodies a fuzzed back-channel answer sends, and fuzzInputCap the
	// other fuzzed strings.
	fuzzBodyCap  = 16 * 1024
	fuzzInputCap = 8 * 1024
	// fuzzInputTime bounds one input: every back-channel call has a 1 s timeout, and an input
	// makes at most a few of them.
	fuzzInputTime = 20 * time.Second
	// fuzzInputAlloc bounds what one input may allocate, HTTP client and server included.
	fuzzInputAlloc = 32 << 20
)

// agentFuzz is a fake provider and an agent built for it, shared by every input of one fuzz
// target: discovery and the JWKS are fetched once, and inputs stay fast.
type agentFuzz struct {
	p      *fakeas.Provider
	agent  http.Handler
	cipher *cookiecrypt.Cipher

	// A login started at set-up: its -login cookie, authorization request URL, and the values
	// it keeps (which must never be logged).
	loginCookie     string
	authURL         string
	state           string
	verifier, nonce string
	logins          int64 // fresh logins made, for unique states

	// A session from a completed login: its cookies, and the provider's tokens.
	sessionCookies string
	sessionCSRF    string
	tokens         map[string]string
}

func agentConfig(p *fakeas.Provider, extra map[string]interface{}) map[string]interface{} {
	base := map[string]interface{}{"timeoutSeconds": "1", "logLevel": "debug", "encryptionKey": fuzzKey}
	for k, v := range extra {
		base[k] = v
	}
	return scenarios.AgentConfig(p, base)
}

func buildAgent(t testing.TB, raw map[string]interface{}) http.Handler {
	t.Helper()
	cfg := oauthagent.CreateConfig()
	if err := traefikconfig.Decode(raw, cfg); err != nil {
		t.Fatal(err)
	}
	h, err := oauthagent.New(context.Background(), nil, cfg, "oauth-agent@fuzz")
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// newAgentFuzz starts a provider and an agent; with session, it also completes one login.
func newAgentFuzz(f *testing.F, session bool) *agentFuzz {
	f.Helper()
	p := fakeas.NewProvider(f, fakeas.ProviderOptions{ClientSecret: fuzzClientSecret})
	cipher, err := cookiecrypt.NewCipher(fuzzKey, nil)
	if err != nil {
		f.Fatal(err)
	}
	a := &agentFuzz{p: p, agent: buildAgent(f, agentConfig(p, nil)), cipher: cipher, tokens: map[string]string{}}
	stop := requestcases.CaptureLogs()
	defer func() {
		if logs := stop(); f.Failed() {
			f.Log(logs)
		}
	}()
	a.loginCookie, a.authURL = a.startLogin(f, a.agent)
	var pending struct {
		Logins []struct{ State, CodeVerifier, Nonce string }
	}
	if err := json.Unmarshal([]byte(a.open(f, a.loginCookie)), &pending); err != nil || len(pending.Logins) != 1 {
		f.Fatalf("the -login cookie: %v", err)
	}
	a.state, a.verifier, a.nonce = pending.Logins[0].State, pending.Logins[0].CodeVerifier, pending.Logins[0].Nonce
	if session {
		rec := a.do(http.MethodPost, "/login/end", pageURLBody(a.callback(f)), a.loginCookie)
		if rec.Code != http.StatusOK {
			f.Fatalf("setting up a session: %d %s", rec.Code, rec.Body)
		}
		var cookies []string
		for _, c := range (&http.Response{Header: rec.Header()}).Cookies() {
			if c.Value != "" && c.Name != "example-login" {
				cookies = append(cookies, c.Name+"="+c.Value)
				if c.Name == "example-csrf" {
					a.sessionCSRF, _ = cipher.Decrypt(c.Value)
				}
			}
		}
		a.sessionCookies = strings.Join(cookies, "; ")
		for k, v := range p.LastTokenResponse() {
			if s, ok := v.(string); ok {
				a.tokens[k] = s
			}
		}
		if a.tokens["access_token"] == "" || a.tokens["id_token"] == "" || a.sessionCSRF == "" {
			f.Fatalf("setting up a session: tokens %v, csrf %q", a.tokens, a.sessionCSRF)
		}
	}
	return a
}

// freshLogin returns a -login cookie like the one of the set-up login but with a new state, and
// that state: a state is accepted once per instance, and every input needs its own.
func (a *agentFuzz) freshLogin(t testing.TB) (cookie, state string) {
	t.Helper()
	state = fmt.Sprintf("fuzz-state-%d", atomic.AddInt64(&a.logins, 1))
	plain, _ := json.Marshal(map[string]interface{}{"logins": []map[string]interface{}{
		{"state": state, "codeVerifier": a.verifier, "nonce": a.nonce, "created": time.Now().Unix()},
	}})
	sealed, err := a.cipher.Encrypt(string(plain))
	if err != nil {
		t.Fatal(err)
	}
	return "example-login=" + sealed, state
}

// startLogin posts /login/start and returns the -login cookie ("example-login=...") and the
// authorization request URL.
func (a *agentFuzz) startLogin(t testing.TB, agent http.Handler) (cookie, authURL string) {
	t.Helper()
	rec := doWith(agent, http.MethodPost, "/login/start", "", "")
	var body struct {
		AuthorizationRequestURL string `json:"authorizationRequestUrl"`
	}
	if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &body) != nil || body.AuthorizationRequestURL == "" {
		t.Fatalf("/login/start: %d %s", rec.Code, rec.Body)
	}
	for _, c := range (&http.Response{Header: rec.Header()}).Cookies() {
		if c.Name == "example-login" && c.Value != "" {
			return c.Name + "=" + c.Value, body.AuthorizationRequestURL
		}
	}
	t.Fatalf("/login/start set no -login cookie: %v", rec.Header())
	return "", ""
}

// callback plays a successful login at the provider and returns the page URL the browser comes
// back to, with a fresh code and the login's state.
func (a *agentFuzz) callback(t testing.TB) string {
	t.Helper()
	u, err := a.p.Authorize(a.authURL)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// open decrypts the value of a "name=value" cookie.
func (a *agentFuzz) open(t testing.TB, cookie string) string {
	t.Helper()
	plain, err := a.cipher.Decrypt(cookie[strings.Index(cookie, "=")+1:])
	if err != nil {
		t.Fatalf("cookie %s does not decrypt: %v", cookie[:strings.Index(cookie, "=")], err)
	}
	return plain
}

func (a *agentFuzz) do(method, path, body, cookie string) *httptest.ResponseRecorder {
	return doWith(a.agent, method, path, body, cookie)
}

// doWith sends one request from the SPA's origin to agent.
func doWith(agent http.Handler, method, path, body, cookie string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, scenarios.AgentBase+path, strings.NewReader(body))
	r.Header.Set("Origin", scenarios.SPAOrigin)
	r.Header.Set("Content-Type", "application/json")
	if cookie != "" {
		r.Header["Cookie"] = []string{cookie}
	}
	rec := httptest.NewRecorder()
	agent.ServeHTTP(rec, r)
	return rec
}

// secrets are the values no log line may hold.
func (a *agentFuzz) secrets() []string {
	list := []string{fuzzClientSecret, fuzzKey, a.verifier, a.nonce, a.sessionCSRF}
	for _, k := range []string{"access_token", "refresh_token", "id_token"} {
		list = append(list, a.tokens[k])
	}
	return list
}

// serve sends one request, with the log lines captured, and checks what every answer must be:
// one of the allowed statuses, the JSON error body on an error (never a 500), a JSON object on a
// 200, the CORS headers for the SPA, and log lines without a recovered panic or a secret.
func (a *agentFuzz) serve(t *testing.T, agent http.Handler, method, path, body, cookie string, allowed ...int) (*httptest.ResponseRecorder, string) {
	t.Helper()
	stop := requestcases.CaptureLogs()
	rec := doWith(agent, method, path, body, cookie)
	logs := stop()
	fuzzcheck.Logs(t, logs, a.secrets()...)
	fuzzcheck.StatusIn(t, rec, allowed...)
	if rec.Header().Get("Access-Control-Allow-Origin") != scenarios.SPAOrigin {
		t.Fatalf("status %d without CORS headers for the SPA", rec.Code)
	}
	code := ""
	switch {
	case rec.Code >= 400:
		code = fuzzcheck.JSONError(t, rec)
	case rec.Code == http.StatusOK:
		var v map[string]interface{}
		if rec.Header().Get("Content-Type") != "application/json" || json.Unmarshal(rec.Body.Bytes(), &v) != nil || v == nil {
			t.Fatalf("200 that is not a JSON object: %q %q", rec.Header().Get("Content-Type"), rec.Body)
		}
	}
	return rec, code
}

func pageURLBody(pageURL string) string {
	b, _ := json.Marshal(map[string]string{"pageUrl": pageURL})
	return string(b)
}

// setCookies returns the cookies an answer sets, by name (the last value of each).
func setCookies(rec *httptest.ResponseRecorder) map[string]string {
	out := map[string]string{}
	for _, c := range (&http.Response{Header: rec.Header()}).Cookies() {
		out[c.Name] = c.Value
	}
	return out
}

// chunkedValue returns the value of the cookie name, reassembled when it was written in chunks
// (contract §6.1: name=chunks-<n>, then name-1 ... name-<n>).
func chunkedValue(cookies map[string]string, name string) string {
	value := cookies[name]
	if !strings.HasPrefix(value, "chunks-") {
		return value
	}
	n, _ := strconv.Atoi(strings.TrimPrefix(value, "chunks-"))
	var joined strings.Builder
	for i := 1; i <= n; i++ {
		joined.WriteString(cookies[name+"-"+strconv.Itoa(i)])
	}
	return joined.String()
}

// effectiveStatus is the final status a client sees when the fake provider answers status, a
// Content-Type and a body: a 1xx other than 101 is informational, and the body that follows
// makes a 200. It reports false when the client refuses the answer for its Content-Type.
func effectiveStatus(status int, contentType string) (int, bool) {
	if !fuzzcheck.WellFormedHeaderValue(contentType) {
		return 0, false
	}
	if status < 200 && status != http.StatusSwitchingProtocols {
		return http.StatusOK, true
	}
	return status, true
}

// FuzzLoginStart posts arbitrary bodies (extraParams in any shape) to /login/start, with an
// arbitrary Cookie header beside. The answer is 200 or 400 invalid_request; a 200's authorization
// request URL is the provider's authorization endpoint with exactly one of each parameter the
// agent sets, with the agent's values (extraParams can never override them), and every usable
// extra parameter; and its -login cookie decrypts to the pending logins, the new one last.
func FuzzLoginStart(f *testing.F) {
	for _, seed := range []struct{ body, cookie string }{
		{"", ""},
		{"{}", ""},
		{`{"extraParams":[{"key":"prompt","value":"login"}]}`, ""},
		{`{"extraParams":[{"key":"prompt","value":"login"},{"key":"prompt","value":"none"},{"key":"ui_locales","value":"fr de"}]}`, ""},
		{`{"extraParams":[{"key":"state","value":"forged"}]}`, ""},
		{`{"extraParams":[{"key":"Redirect_URI","value":"https://evil.example/"}]}`, ""},
		{`{"extraParams":[{"key":"redirect_uri ","value":"https://evil.example/"}]}`, ""},
		{`{"extraParams":[{"key":"a&client_id=evil","value":"x&state=y#z"}]}`, ""},
		{`{"extraParams":[{"key":"","value":"x"},{"key":"x","value":""}]}`, ""},
		{`{"extraParams":[{"key":"\u0000\ud800","value":"\u00e9\u4e2d"}]}`, ""},
		{`{"extraParams":{"key":"prompt"}}`, ""},
		{`{"extraParams":[1,2]}`, ""},
		{`{"extraParams":null,"extraParams":[{"key":"k","value":"v"}]}`, ""},
		{`{"EXTRAPARAMS":[{"KEY":"k","VALUE":"v"}]}`, ""},
		{`[]`, ""}, {`null`, ""}, {`"x"`, ""}, {`{`, ""}, {" \t\n", ""}, {"\xff", ""},
		{`{"extraParams":[{"key":"login_hint","value":"` + strings.Repeat("a", 60*1024) + `"}]}`, ""},
		{strings.Repeat(" ", 64*1024+1), ""},
		{"", "example-login=garbage"},
		{"", "example-login=AcYBf995tTBVsLtQLvOuLUZXHm2c-XqP8t7SKmhBiQtzy5CAw4h_RF6rXyg6kHrvhb8x4WaLQC6h3mw6a3O3Q9A; example-login="},
	} {
		f.Add(seed.body, seed.cookie)
	}
	a := newAgentFuzz(f, false)
	authEndpoint := a.p.AuthorizationURL()
	opts := a.p.Options()
	f.Fuzz(func(t *testing.T, body, cookie string) {
		defer fuzzcheck.Bound(t, fuzzInputTime, fuzzInputAlloc)()
		body = fuzzcheck.Cap(body, 80*1024)
		cookie = fuzzcheck.Cap(cookie, fuzzInputCap)
		rec, code := a.serve(t, a.agent, http.MethodPost, "/login/start", body, cookie, http.StatusOK, http.StatusBadRequest)
		if rec.Code != http.StatusOK {
			if code != "invalid_request" {
				t.Fatalf("400 with code %q", code)
			}
			return
		}
		var answer struct {
			AuthorizationRequestURL string `json:"authorizationRequestUrl"`
		}
		_ = json.Unmarshal(rec.Body.Bytes(), &answer)
		if !strings.HasPrefix(answer.AuthorizationRequestURL, authEndpoint+"?") {
			t.Fatalf("authorization request URL %q", answer.AuthorizationRequestURL)
		}
		q, err := url.ParseQuery(strings.TrimPrefix(answer.AuthorizationRequestURL, authEndpoint+"?"))
		if err != nil {
			t.Fatalf("the authorization request's query does not parse: %v", err)
		}
		for name, want := range map[string]string{
			"client_id": opts.ClientID, "redirect_uri": opts.RedirectURI, "response_type": "code",
			"scope": "openid profile", "code_challenge_method": "S256",
			"state": "*", "nonce": "*", "code_challenge": "*",
		} {
			if got := q[name]; len(got) != 1 || (want != "*" && got[0] != want) || len(got[0]) == 0 {
				t.Fatalf("the authorization request has %s=%q", name, got)
			}
		}
		for name := range q {
			if isProtected(name) && name != strings.ToLower(name) {
				t.Fatalf("the authorization request has %s beside %s", name, strings.ToLower(name))
			}
		}
		var sent struct {
			ExtraParams []struct {
				Key   string `json:"key"`
				Value string `json:"value"`
			} `json:"extraParams"`
		}
		_ = json.Unmarshal([]byte(body), &sent)
		for _, p := range sent.ExtraParams {
			if p.Key != "" && p.Value != "" && !containsString(q[p.Key], p.Value) {
				t.Fatalf("extra parameter %q=%q is not in the authorization request", p.Key, p.Value)
			}
		}
		login := setCookies(rec)["example-login"]
		plain, err := a.cipher.Decrypt(login)
		var pending struct {
			Logins []struct{ State, CodeVerifier, Nonce string }
		}
		if err != nil || json.Unmarshal([]byte(plain), &pending) != nil || len(pending.Logins) == 0 || len(pending.Logins) > 5 {
			t.Fatalf("the -login cookie holds %d logins (%v)", len(pending.Logins), err)
		}
		if last := pending.Logins[len(pending.Logins)-1]; last.State != q.Get("state") || last.Nonce != q.Get("nonce") {
			t.Fatal("the -login cookie's newest login is not the one of the authorization request")
		}
	})
}

func isProtected(name string) bool {
	switch strings.ToLower(name) {
	case "client_id", "redirect_uri", "response_type", "response_mode", "scope", "state", "nonce",
		"code_challenge", "code_challenge_method", "request", "request_uri":
		return true
	}
	return false
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// FuzzLoginEnd posts arbitrary bodies and page URLs to /login/end, with and without the -login
// cookie of a pending login and with arbitrary other cookies. In the page URL and the body,
// {{STATE}} stands for the pending login's state and {{CODE}} for a fresh authorization code; in
// the cookies, {{SESSION}} stands for the cookies of a signed-in session. The answer is 200, 400,
// 401 (login_required) or 502 with the JSON error body; a login is completed (handled) only with
// the -login cookie, and then stores the provider's access token; a session is reported as logged
// in only with the CSRF value of a CSRF cookie that the request carried.
func FuzzLoginEnd(f *testing.F) {
	redirect := "https://www.example.com/"
	for _, seed := range []struct {
		body, pageURL, cookies string
		raw, withLogin         bool
	}{
		{"", redirect + "?code={{CODE}}&state={{STATE}}", "", false, true},
		{"", redirect + "?code={{CODE}}&state={{STATE}}", "", false, false},
		{"", redirect + "?code=forged&state={{STATE}}", "", false, true},
		{"", redirect + "?code={{CODE}}&state=forged", "", false, true},
		{"", redirect + "?code={{CODE}}&state={{STATE}}&state={{STATE}}", "", false, true},
		{"", redirect + "?code={{CODE}}&code=x&state={{STATE}}", "", false, true},
		{"", redirect + "?error=access_denied&error_description=no&state={{STATE}}", "", false, true},
		{"", redirect + "?error=login_required&state={{STATE}}", "", false, false},
		{"", redirect + "?error=%22%3E%3Cscript%3E&error_description=" + strings.Repeat("x", 300) + "&state=s", "", false, false},
		{"", redirect + "?error=server_error&state=s", "", false, false},
		{"", redirect, "", false, true},
		{"", redirect, "{{SESSION}}", false, false},
		{"", redirect, "example-at=garbage; example-csrf=garbage", false, false},
		{"", redirect + "?code={{CODE}}&state={{STATE}}", "{{SESSION}}", false, true},
		{"", "", "", false, false},
		{"", "%zz", "", false, true},
		{"", redirect + "?code=%zz&state=%", "", false, true},
		{"", redirect + "?a=1;b=2&code={{CODE}}&state={{STATE}}", "", false, true},
		{"", "https://www.example.com/#code={{CODE}}&state={{STATE}}", "", false, true},
		{"", "\x00\r\n", "", false, false},
		{"", redirect + "?x=" + strings.Repeat("y", 8200), "", false, false},
		{`{"pageUrl":"` + redirect + `?code={{CODE}}&state={{STATE}}"}`, "", "", true, true},
		{`{"pageUrl":1}`, "", "", true, true},
		{`{"pageUrl":null}`, "", "{{SESSION}}", true, false},
		{`{"pageUrl":"a","pageUrl":"` + redirect + `?code={{CODE}}&state={{STATE}}"}`, "", "", true, true},
		{`{"PAGEURL":"` + redirect + `?code={{CODE}}&state={{STATE}}"}`, "", "", true, true},
		{`[`, "", "", true, false},
		{`"pageUrl"`, "", "", true, false},
		{strings.Repeat("[", 10000), "", "", true, false},
	} {
		f.Add(seed.body, seed.pageURL, seed.cookies, seed.raw, seed.withLogin)
	}
	a := newAgentFuzz(f, true)
	f.Fuzz(func(t *testing.T, body, pageURL, cookies string, raw, withLogin bool) {
		defer fuzzcheck.Bound(t, fuzzInputTime, fuzzInputAlloc)()
		body = fuzzcheck.Cap(body, fuzzBodyCap)
		pageURL = fuzzcheck.Cap(pageURL, fuzzBodyCap)
		cookies = fuzzcheck.Cap(cookies, fuzzInputCap)
		loginCookie, state := a.freshLogin(t)
		fill := func(s string) string {
			s = strings.ReplaceAll(s, "{{STATE}}", state)
			if strings.Contains(s, "{{CODE}}") {
				u, _ := url.Parse(a.callback(t))
				s = strings.ReplaceAll(s, "{{CODE}}", u.Query().Get("code"))
			}
			return strings.ReplaceAll(s, "{{SESSION}}", a.sessionCookies)
		}
		if raw {
			body = fill(body)
		} else {
			body = pageURLBody(fill(pageURL))
		}
		var cookie []string
		if withLogin {
			cookie = append(cookie, loginCookie)
		}
		if cookies = fill(cookies); cookies != "" {
			cookie = append(cookie, cookies)
		}
		rec, code := a.serve(t, a.agent, http.MethodPost, "/login/end", body, strings.Join(cookie, "; "),
			http.StatusOK, http.StatusBadRequest, http.StatusUnauthorized, http.StatusBadGateway)
		switch rec.Code {
		case http.StatusUnauthorized:
			if code != "login_required" {
				t.Fatalf("401 with code %q", code)
			}
			return
		case http.StatusBadGateway:
			if code != "authorization_server_error" {
				t.Fatalf("502 with code %q", code)
			}
			return
		case http.StatusBadRequest:
			return
		}
		var answer struct {
			Handled    *bool   `json:"handled"`
			IsLoggedIn *bool   `json:"isLoggedIn"`
			CSRF       *string `json:"csrf"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &answer); err != nil || answer.Handled == nil || answer.IsLoggedIn == nil {
			t.Fatalf("200 %s is not a /login/end answer", rec.Body)
		}
		set := setCookies(rec)
		if *answer.Handled {
			if !withLogin {
				t.Fatal("a login was completed without the -login cookie")
			}
			at, err := a.cipher.Decrypt(set["example-at"])
			if err != nil || !*answer.IsLoggedIn || at != a.p.LastTokenResponse()["access_token"] {
				t.Fatalf("a completed login did not store the provider's access token (%v)", err)
			}
		}
		if *answer.IsLoggedIn {
			if answer.CSRF == nil || *answer.CSRF == "" {
				t.Fatal("logged in without a CSRF value")
			}
			if _, rewritten := set["example-csrf"]; !*answer.Handled && (rewritten || !requestCSRF(a, cookie, *answer.CSRF)) {
				t.Fatalf("a page load reported a session with a CSRF value that no request cookie holds")
			}
		} else if answer.CSRF != nil {
			t.Fatal("a CSRF value without a session")
		}
	})
}

// requestCSRF reports whether one of the request's CSRF cookies decrypts to csrf.
func requestCSRF(a *agentFuzz, cookie []string, csrf string) bool {
	r := &http.Request{Header: http.Header{"Cookie": {strings.Join(cookie, "; ")}}}
	for _, c := range r.Cookies() {
		if plain, err := a.cipher.Decrypt(c.Value); c.Name == "example-csrf" && err == nil && plain == csrf {
			return true
		}
	}
	return false
}

// FuzzTokenResponse completes a login against a token endpoint that answers a fuzzed status,
// Content-Type and body ({{ID_TOKEN}} stands for a valid ID token of the pending login). A 4xx
// is 400 authorization_error, another status but 200 is 502; a 200 is a completed login only
// when the body holds an access token and a valid ID token, and the access-token cookie then
// holds exactly that access token; anything else is 400 or 502, never a 500.
func FuzzTokenResponse(f *testing.F) {
	for _, seed := range []struct {
		status            int
		contentType, body string
	}{
		{200, "application/json", `{"access_token":"at-1","token_type":"Bearer","refresh_token":"rt-1","id_token":"{{ID_TOKEN}}"}`},
		{200, "application/json", `{"access_token":"at-1","id_token":"{{ID_TOKEN}}","id_token":"x"}`},
		{200, "application/json", `{"access_token":"at-1"}`},
		{200, "application/json", `{"access_token":"","id_token":"{{ID_TOKEN}}"}`},
		{200, "application/json", `{"access_token":1,"id_token":"{{ID_TOKEN}}"}`},
		{200, "application/json", `{"access_token":"at-1","id_token":"e30.e30.e30"}`},
		{200, "application/json", `{"access_token":"at-1","id_token":"eyJhbGciOiJub25lIn0.e30."}`},
		{200, "application/json", `{"access_token":"at-\u0000\r\n;","id_token":"{{ID_TOKEN}}"}`},
		{200, "text/html", `<html>ok</html>`},
		{200, "", ``},
		{200, "application/json", `null`},
		{200, "application/json", `[]`},
		{400, "application/json", `{"error":"invalid_grant"}`},
		{400, "application/json", `{"error":"` + strings.Repeat("x", 100) + `"}`},
		{401, "application/json", `{"error":"invalid_client"}`},
		{429, "text/plain", `slow down`},
		{500, "application/json", `{"error":"server_error"}`},
		{503, "", ``},
		{302, "", ``},
		{204, "", ``},
		{100, "application/json", `{"access_token":"at-1","id_token":"{{ID_TOKEN}}"}`},
		{101, "", ``},
		{-1, "", ``},
		{200, "application/json", strings.Repeat(`{"a":`, 5000)},
	} {
		f.Add(seed.status, seed.contentType, seed.body)
	}
	a := newAgentFuzz(f, true)
	idToken := a.tokens["id_token"]
	f.Fuzz(func(t *testing.T, status int, contentType, body string) {
		defer fuzzcheck.Bound(t, fuzzInputTime, fuzzInputAlloc)()
		s := fuzzcheck.Status(status)
		body = strings.ReplaceAll(fuzzcheck.Cap(body, fuzzBodyCap), "{{ID_TOKEN}}", idToken)
		contentType = fuzzcheck.Cap(contentType, 1024)
		a.p.Fail(fakeas.EndpointToken, fakeas.Fault{Status: s, Body: body, ContentType: contentType})
		// The faulted token endpoint reads no code, so one made-up code does for every input.
		loginCookie, state := a.freshLogin(t)
		pageURL := a.p.Options().RedirectURI + "?code=fuzz-code&state=" + url.QueryEscape(state)
		rec, code := a.serve(t, a.agent, http.MethodPost, "/login/end", pageURLBody(pageURL), loginCookie,
			http.StatusOK, http.StatusBadRequest, http.StatusBadGateway, http.StatusInternalServerError)
		if rec.Code == http.StatusInternalServerError {
			// Only a token too large for maxCookieChunks (contract §6.1), with no session set.
			if code != "server_error" || len(body) < 3*cookies.MaxSetCookieBytes || strings.Contains(rec.Header().Get("Set-Cookie"), "example-at=") {
				t.Fatalf("500 %s for a token response of %d bytes, Set-Cookie %q", code, len(body), rec.Header()["Set-Cookie"])
			}
			return
		}
		eff, known := effectiveStatus(s, contentType)
		switch {
		case !known:
			// The client refuses the answer: 502, or any of the statuses above.
		case eff >= 400 && eff < 500:
			if rec.Code != http.StatusBadRequest || code != "authorization_error" {
				t.Fatalf("token endpoint %d: %d %s", s, rec.Code, code)
			}
		case eff != http.StatusOK:
			if rec.Code != http.StatusBadGateway || code != "authorization_server_error" {
				t.Fatalf("token endpoint %d: %d %s", s, rec.Code, code)
			}
		}
		if rec.Code != http.StatusOK {
			return
		}
		var tokens struct {
			AccessToken string `json:"access_token"`
			IDToken     string `json:"id_token"`
		}
		if err := json.Unmarshal([]byte(body), &tokens); err != nil || tokens.AccessToken == "" || tokens.IDToken == "" {
			t.Fatalf("a login completed with the token response %q", body)
		}
		at, err := a.cipher.Decrypt(chunkedValue(setCookies(rec), "example-at"))
		if err != nil || at != tokens.AccessToken {
			t.Fatalf("the access-token cookie does not hold the token response's access_token (%v)", err)
		}
	})
}

// FuzzDiscovery serves a fuzzed status, Content-Type and discovery document ({{ISSUER}} stands
// for the provider's issuer) to a new agent per input (so that each input is discovered afresh,
// without the 2 s retry interval), and posts /login/start. The answer is 200 only for a document
// that is a JSON object for the configured issuer with the required endpoints, with an
// authorization request URL on its authorization_endpoint; otherwise 502. When the document
// points at the provider's own token endpoint and JWKS, the login is completed too.
func FuzzDiscovery(f *testing.F) {
	doc := func(edit func(map[string]interface{})) string {
		d := map[string]interface{}{
			"issuer":                 "{{ISSUER}}",
			"authorization_endpoint": "{{ISSUER}}/authorize",
			"token_endpoint":         "{{ISSUER}}/token",
			"userinfo_endpoint":      "{{ISSUER}}/userinfo",
			"jwks_uri":               "{{ISSUER}}/jwks",
			"end_session_endpoint":   "{{ISSUER}}/session/end",
		}
		if edit != nil {
			edit(d)
		}
		b, _ := json.Marshal(d)
		return string(b)
	}
	for _, seed := range []struct {
		status            int
		contentType, body string
	}{
		{200, "application/json", doc(nil)},
		{200, "text/html", doc(nil)},
		{200, "application/json", doc(func(d map[string]interface{}) { d["issuer"] = "{{ISSUER}}/" })},
		{200, "application/json", doc(func(d map[string]interface{}) { d["issuer"] = "https://evil.example" })},
		{200, "application/json", doc(func(d map[string]interface{}) { d["issuer"] = nil })},
		{200, "application/json", doc(func(d map[string]interface{}) { delete(d, "jwks_uri") })},
		{200, "application/json", doc(func(d map[string]interface{}) { delete(d, "userinfo_endpoint"); delete(d, "end_session_endpoint") })},
		{200, "application/json", doc(func(d map[string]interface{}) { d["authorization_endpoint"] = "{{ISSUER}}/authorize?tenant=a" })},
		{200, "application/json", doc(func(d map[string]interface{}) { d["authorization_endpoint"] = "{{ISSUER}}/authorize#frag" })},
		{200, "application/json", doc(func(d map[string]interface{}) { d["authorization_endpoint"] = "javascript:alert(1)" })},
		{200, "application/json", doc(func(d map[string]interface{}) { d["token_endpoint"] = "http://127.0.0.1:1/token" })},
		{200, "application/json", doc(func(d map[string]interface{}) { d["token_endpoint"] = 42 })},
		{200, "application/json", `{"issuer":"{{ISSUER}}","issuer":"x"}`},
		{200, "application/json", `null`},
		{200, "application/json", `[]`},
		{200, "application/json", `{`},
		{200, "application/json", ``},
		{404, "text/html", `not found`},
		{500, "application/json", doc(nil)},
		{302, "", ``},
		{101, "", ``},
		{100, "application/json", doc(nil)},
	} {
		f.Add(seed.status, seed.contentType, seed.body)
	}
	p := fakeas.NewProvider(f, fakeas.ProviderOptions{ClientSecret: fuzzClientSecret})
	a := &agentFuzz{p: p}
	if c, err := cookiecrypt.NewCipher(fuzzKey, nil); err == nil {
		a.cipher = c
	}
	var counter int
	f.Fuzz(func(t *testing.T, status int, contentType, body string) {
		defer fuzzcheck.Bound(t, fuzzInputTime, fuzzInputAlloc)()
		s := fuzzcheck.Status(status)
		body = strings.ReplaceAll(fuzzcheck.Cap(body, fuzzBodyCap), "{{ISSUER}}", p.Issuer())
		contentType = fuzzcheck.Cap(contentType, 1024)
		p.Fail(fakeas.EndpointDiscovery, fakeas.Fault{Status: s, Body: body, ContentType: contentType})
		// A configuration of its own makes a discovery state of its own.
		counter++
		agent := buildAgent(t, agentConfig(p, map[string]interface{}{"endSessionEndpoint": fmt.Sprintf("%s?fuzz=%d", p.EndSessionURL(), counter)}))
		rec, code := a.serve(t, agent, http.MethodPost, "/login/start", "", "", http.StatusOK, http.StatusBadGateway)
		var d struct {
			Issuer                string `json:"issuer"`
			AuthorizationEndpoint string `json:"authorization_endpoint"`
			TokenEndpoint         string `json:"token_endpoint"`
			JwksURI               string `json:"jwks_uri"`
		}
		decodeErr := json.Unmarshal([]byte(body), &d)
		if rec.Code == http.StatusBadGateway {
			if code != "authorization_server_error" {
				t.Fatalf("502 with code %q", code)
			}
			return
		}
		if eff, known := effectiveStatus(s, contentType); !known || eff != http.StatusOK {
			t.Fatalf("discovery answered %d, yet /login/start worked", s)
		}
		if decodeErr != nil || strings.TrimSuffix(d.Issuer, "/") != p.Issuer() ||
			d.AuthorizationEndpoint == "" || d.TokenEndpoint == "" || d.JwksURI == "" {
			t.Fatalf("discovery document %q was accepted", body)
		}
		var answer struct {
			AuthorizationRequestURL string `json:"authorizationRequestUrl"`
		}
		_ = json.Unmarshal(rec.Body.Bytes(), &answer)
		if !strings.HasPrefix(answer.AuthorizationRequestURL, d.AuthorizationEndpoint) {
			t.Fatalf("authorization request URL %q is not on %q", answer.AuthorizationRequestURL, d.AuthorizationEndpoint)
		}
		if u, err := url.Parse(answer.AuthorizationRequestURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			t.Fatalf("the SPA would be sent to %q, which is not an http or https URL", answer.AuthorizationRequestURL)
		}
		if d.TokenEndpoint != p.TokenURL() || d.JwksURI != p.JWKSURL() {
			return // never call endpoints other than the provider's
		}
		var login string
		for _, c := range (&http.Response{Header: rec.Header()}).Cookies() {
			if c.Name == "example-login" {
				login = c.Name + "=" + c.Value
			}
		}
		callback, err := p.Authorize(answer.AuthorizationRequestURL)
		if err != nil {
			return // an authorization endpoint with a fragment, say: the browser would not get far either
		}
		rec, _ = a.serve(t, agent, http.MethodPost, "/login/end", pageURLBody(callback), login, http.StatusOK)
		if !strings.Contains(rec.Body.String(), `"handled":true`) {
			t.Fatalf("the login did not complete: %s", rec.Body)
		}
	})
}

// FuzzUserInfo has the userinfo endpoint answer a fuzzed status, Content-Type and body to a
// signed-in session's GET /userInfo. 401 is 401 token_expired, another 4xx 400
// authorization_error, another status but 200 502; a 200 passes the body on byte for byte when
// it is a JSON object, and is 502 otherwise.
func FuzzUserInfo(f *testing.F) {
	for _, seed := range []struct {
		status            int
		contentType, body string
	}{
		{200, "application/json", `{"sub":"demouser-sub","name":"Demo User"}`},
		{200, "application/json", `{"sub":"\u0000\ud800","nested":{"a":[1,2,{"b":null}]}}`},
		{200, "application/json", `{}`},
		{200, "application/json", `null`},
		{200, "application/json", `[{"sub":"x"}]`},
		{200, "application/json", `"string"`},
		{200, "application/json", `{"sub":"x"} trailing`},
		{200, "application/json", `{"sub":"x","sub":"y"}`},
		{200, "application/jwt", `eyJhbGciOiJSUzI1NiJ9.e30.c2ln`},
		{200, "text/html", `<html></html>`},
		{200, "", ``},
		{200, "application/json", strings.Repeat(`[`, 10000)},
		{401, "application/json", `{"error":"invalid_token"}`},
		{403, "application/json", `{"error":"insufficient_scope"}`},
		{404, "", ``},
		{500, "", ``},
		{503, "", ``},
		{204, "", ``},
		{301, "", ``},
		{100, "application/json", `{"sub":"x"}`},
		{101, "", ``},
	} {
		f.Add(seed.status, seed.contentType, seed.body)
	}
	a := newAgentFuzz(f, true)
	f.Fuzz(func(t *testing.T, status int, contentType, body string) {
		defer fuzzcheck.Bound(t, fuzzInputTime, fuzzInputAlloc)()
		s := fuzzcheck.Status(status)
		body = fuzzcheck.Cap(body, fuzzBodyCap)
		contentType = fuzzcheck.Cap(contentType, 1024)
		a.p.Fail(fakeas.EndpointUserinfo, fakeas.Fault{Status: s, Body: body, ContentType: contentType})
		rec, code := a.serve(t, a.agent, http.MethodGet, "/userInfo", "", a.sessionCookies,
			http.StatusOK, http.StatusBadRequest, http.StatusUnauthorized, http.StatusBadGateway)
		var want int
		var wantCode string
		var object map[string]interface{}
		eff, known := effectiveStatus(s, contentType)
		switch {
		case !known:
			want, wantCode = http.StatusBadGateway, "authorization_server_error" // the client refuses the answer
		case eff == http.StatusUnauthorized:
			want, wantCode = http.StatusUnauthorized, "token_expired"
		case eff >= 400 && eff < 500:
			want, wantCode = http.StatusBadRequest, "authorization_error"
		case eff != http.StatusOK:
			want, wantCode = http.StatusBadGateway, "authorization_server_error"
		case json.Unmarshal([]byte(body), &object) != nil || object == nil:
			want, wantCode = http.StatusBadGateway, "authorization_server_error"
		default:
			want = http.StatusOK
		}
		if rec.Code != want || code != wantCode {
			t.Fatalf("userinfo %d %q: %d %q, want %d %q", s, body, rec.Code, code, want, wantCode)
		}
		if want == http.StatusOK && rec.Body.String() != body {
			t.Fatalf("userinfo %q reached the SPA as %q", body, rec.Body)
		}
	})
}
