package scenarios

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/tokenhandler/traefik-token-handler/testsupport/browser"
	"github.com/tokenhandler/traefik-token-handler/testsupport/fakeas"
	"github.com/tokenhandler/traefik-token-handler/testsupport/requestcases"
)

// The OAuth Agent's v2 API (agentApi: v2, contract §6.8), requested the way
// @curity/token-handler-js-assistant requests it: the token-handler-version header on every
// call, form bodies with a Content-Type only when not empty (Chromium then adds a charset).
const (
	formContentType  = "application/x-www-form-urlencoded;charset=UTF-8"
	loggedOutSession = `{"is_logged_in":false,"id_token_claims":null,"access_token_expires_in":null}`
)

// v2Fixture is an agent with agentApi: v2 and a browser that talks to it as the library does.
type v2Fixture struct{ *agentFixture }

func newV2Fixture(t *testing.T, build requestcases.Builder, opts fakeas.ProviderOptions, extra map[string]interface{}) v2Fixture {
	t.Helper()
	cfg := map[string]interface{}{"agentApi": "v2"}
	for k, v := range extra {
		cfg[k] = v
	}
	return v2Fixture{newAgentFixture(t, build, opts, cfg)}
}

// call sends a v2 request: form is the body ("" for none), headers are added (an empty value
// removes one, such as the version header).
func (f v2Fixture) call(method, path, form string, headers map[string]string) *browser.Response {
	f.t.Helper()
	h := map[string]string{"Accept": "application/json", "Token-Handler-Version": "1"}
	if form != "" {
		h["Content-Type"] = formContentType
	}
	for k, v := range headers {
		h[k] = v
	}
	return f.browser.Do(f.t, method, AgentBase+path, form, h)
}

// startLogin posts login/start and returns authorization_url.
func (f v2Fixture) startLogin(form string) string {
	f.t.Helper()
	resp := f.call(http.MethodPost, "/login/start", form, nil)
	u, _ := resp.JSON(f.t)["authorization_url"].(string)
	if resp.Status != http.StatusOK || u == "" {
		f.t.Fatalf("login/start: %d %s", resp.Status, resp.Body)
	}
	return u
}

// endLogin posts login/end with the callback URL's query, as the library forwards it.
func (f v2Fixture) endLogin(callback string) *browser.Response {
	f.t.Helper()
	u, err := url.Parse(callback)
	if err != nil {
		f.t.Fatal(err)
	}
	return f.call(http.MethodPost, "/login/end", u.RawQuery, nil)
}

// login signs in and returns login/end's answer.
func (f v2Fixture) login() map[string]interface{} {
	f.t.Helper()
	callback, err := f.p.Authorize(f.startLogin(""))
	if err != nil {
		f.t.Fatal(err)
	}
	resp := f.endLogin(callback)
	if resp.Status != http.StatusOK {
		f.t.Fatalf("login/end: %d %s", resp.Status, resp.Body)
	}
	return resp.JSON(f.t)
}

// expectV2 checks a v2 answer: its status, the exact Content-Type the library compares, and for
// an error the {"error_code","detailed_error"} body.
func expectV2(t *testing.T, what string, resp *browser.Response, status int, code string) map[string]interface{} {
	t.Helper()
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("%s: Content-Type %q, want exactly application/json (%d %s)", what, ct, resp.Status, resp.Body)
	}
	var body map[string]interface{}
	if err := json.Unmarshal(resp.Body, &body); err != nil {
		t.Fatalf("%s: not JSON: %s", what, resp.Body)
	}
	if resp.Status != status {
		t.Fatalf("%s: %d %s, want %d", what, resp.Status, resp.Body, status)
	}
	if code != "" {
		detail, _ := body["detailed_error"].(string)
		if body["error_code"] != code || detail == "" || len(body) != 2 {
			t.Fatalf("%s: %s, want {\"error_code\":%q,\"detailed_error\":...}", what, resp.Body, code)
		}
	}
	return body
}

// expiresIn returns access_token_expires_in, failing unless it is a number in [min, max].
func expiresIn(t *testing.T, what string, body map[string]interface{}, min, max float64) {
	t.Helper()
	n, ok := body["access_token_expires_in"].(float64)
	if !ok || n < min || n > max || n != float64(int64(n)) {
		t.Fatalf("%s: access_token_expires_in = %v, want a whole number in [%v, %v]", what, body["access_token_expires_in"], min, max)
	}
}

// AgentV2All runs every scenario of the v2 API as a subtest.
func AgentV2All(t *testing.T, build requestcases.Builder) {
	for _, s := range agentV2Scenarios {
		s := s
		t.Run(s.name, func(t *testing.T) { s.run(t, build) })
	}
}

var agentV2Scenarios = []agentScenario{
	{"sign in, session, refresh, reload and logout, as the browser library does them", func(t *testing.T, build requestcases.Builder) {
		f := newV2Fixture(t, build, fakeas.ProviderOptions{}, nil)
		expectV2(t, "session before login", f.call(http.MethodGet, "/session", "", nil), http.StatusOK, "")
		if got := string(f.call(http.MethodGet, "/session", "", nil).Body); got != loggedOutSession {
			t.Fatalf("session before login = %s, want %s", got, loggedOutSession)
		}

		// login/start with an empty form, as startLogin() without parameters sends it.
		resp := f.call(http.MethodPost, "/login/start", "", map[string]string{"Content-Type": formContentType})
		body := expectV2(t, "login/start", resp, http.StatusOK, "")
		authorizationURL, _ := body["authorization_url"].(string)
		if len(body) != 1 || !strings.HasPrefix(authorizationURL, f.p.AuthorizationURL()+"?") {
			t.Fatalf("login/start: %s", resp.Body)
		}
		callback, err := f.p.Authorize(authorizationURL)
		if err != nil {
			t.Fatal(err)
		}
		resp = f.endLogin(callback)
		body = expectV2(t, "login/end", resp, http.StatusOK, "")
		claims, _ := body["id_token_claims"].(map[string]interface{})
		if body["is_logged_in"] != true || claims["sub"] == nil || claims["iss"] != f.p.Issuer() || len(body) != 3 {
			t.Fatalf("login/end: %s", resp.Body)
		}
		expiresIn(t, "login/end", body, 290, 300)
		if resp.Header.Get("Access-Control-Allow-Origin") != SPAOrigin {
			t.Fatalf("login/end: no CORS headers: %v", resp.Header)
		}
		for _, c := range resp.SetCookies {
			if strings.HasPrefix(c, "example-csrf=") && !strings.Contains(c, "Max-Age=0") {
				t.Fatalf("v2 wrote a CSRF cookie: %s", c)
			}
		}
		if f.browser.Cookie(AgentBase+"/session", "example-exp") == "" {
			t.Fatal("no -exp cookie for the session's access token expiry")
		}

		// A reload: the expiry comes from the cookie.
		body = expectV2(t, "session", f.call(http.MethodGet, "/session", "", nil), http.StatusOK, "")
		if body["is_logged_in"] != true || body["id_token_claims"].(map[string]interface{})["sub"] != claims["sub"] {
			t.Fatalf("session: %v", body)
		}
		expiresIn(t, "session", body, 280, 300)

		// refresh() sends an empty URLSearchParams: Chromium adds a Content-Type to the empty body.
		resp = f.call(http.MethodPost, "/refresh", "", map[string]string{"Content-Type": formContentType})
		body = expectV2(t, "refresh", resp, http.StatusOK, "")
		if len(body) != 1 {
			t.Fatalf("refresh: %s", resp.Body)
		}
		expiresIn(t, "refresh", body, 290, 300)
		if f.p.RefreshGrants() != 1 {
			t.Fatalf("refresh made %d refresh grants", f.p.RefreshGrants())
		}

		// A second tab shares the cookies and sees the same session.
		second := f.call(http.MethodGet, "/session", "", nil).JSON(t)
		if second["is_logged_in"] != true {
			t.Fatalf("second tab: %v", second)
		}

		resp = f.call(http.MethodPost, "/logout", "", nil)
		body = expectV2(t, "logout", resp, http.StatusOK, "")
		logoutURL, _ := body["logout_url"].(string)
		if len(body) != 1 || !strings.HasPrefix(logoutURL, f.p.EndSessionURL()+"?") || mustQuery(t, logoutURL, "id_token_hint") == "" {
			t.Fatalf("logout: %s", resp.Body)
		}
		if cleared := clearedNames(resp); !strings.Contains(cleared, "example-exp=;") || !strings.Contains(cleared, "example-at=;") {
			t.Fatalf("logout cleared %s", cleared)
		}
		if got := string(f.call(http.MethodGet, "/session", "", nil).Body); got != loggedOutSession {
			t.Fatalf("session after logout = %s", got)
		}
	}},
	{"extra authorization parameters come as a form, and scope replaces the configured one", func(t *testing.T, build requestcases.Builder) {
		f := newV2Fixture(t, build, fakeas.ProviderOptions{}, nil)
		u, _ := url.Parse(f.startLogin("ui_locales=fr+de&scope=openid+profile+email&login_hint=a%26b"))
		q := u.Query()
		if q.Get("ui_locales") != "fr de" || q.Get("scope") != "openid profile email" || q.Get("login_hint") != "a&b" || len(q["scope"]) != 1 {
			t.Fatalf("authorization request %s", u)
		}
		for _, key := range []string{"client_id", "redirect_uri", "state", "nonce", "code_challenge", "response_type", "Redirect_URI", "request_uri"} {
			expectV2(t, key, f.call(http.MethodPost, "/login/start", key+"=x", nil), http.StatusBadRequest, "invalid_request")
		}
	}},
	{"every endpoint needs the token-handler-version header", func(t *testing.T, build requestcases.Builder) {
		f := newV2Fixture(t, build, fakeas.ProviderOptions{}, nil)
		f.login()
		for _, e := range []struct{ method, path string }{
			{http.MethodPost, "/login/start"}, {http.MethodPost, "/login/end"}, {http.MethodGet, "/session"},
			{http.MethodPost, "/refresh"}, {http.MethodPost, "/logout"},
		} {
			resp := f.call(e.method, e.path, "", map[string]string{"Token-Handler-Version": ""})
			expectV2(t, e.path+" without the header", resp, http.StatusUnauthorized, "unauthorized_request")
			if resp.Header.Get("Access-Control-Allow-Origin") != SPAOrigin {
				t.Fatalf("%s: the SPA cannot read the error without CORS headers", e.path)
			}
			expectV2(t, e.path+" with version 2", f.call(e.method, e.path, "", map[string]string{"Token-Handler-Version": "2"}),
				http.StatusBadRequest, "invalid_request")
		}
		if len(f.browser.Jar.Cookies(mustURL(t, AgentBase+"/refresh"))) == 0 {
			t.Fatal("a refused request cleared the session")
		}
	}},
	{"preflights allow the token-handler-version header", func(t *testing.T, build requestcases.Builder) {
		f := newV2Fixture(t, build, fakeas.ProviderOptions{}, nil)
		resp := f.browser.Do(t, http.MethodOptions, AgentBase+"/session", "", map[string]string{
			"Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "token-handler-version"})
		if resp.Status != http.StatusNoContent || !strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "token-handler-version") ||
			resp.Header.Get("Access-Control-Allow-Origin") != SPAOrigin {
			t.Fatalf("%d %v", resp.Status, resp.Header)
		}
	}},
	{"an untrusted origin is refused with a v2 error", func(t *testing.T, build requestcases.Builder) {
		f := newV2Fixture(t, build, fakeas.ProviderOptions{}, nil)
		f.browser.Origin = UntrustedOrigin
		for _, path := range []string{"/login/start", "/login/end", "/refresh", "/logout"} {
			resp := f.call(http.MethodPost, path, "", nil)
			expectV2(t, path, resp, http.StatusUnauthorized, "unauthorized_request")
			if resp.Header.Get("Access-Control-Allow-Origin") != "" {
				t.Fatalf("%s: an untrusted origin got CORS headers", path)
			}
		}
		expectV2(t, "/session", f.call(http.MethodGet, "/session", "", nil), http.StatusUnauthorized, "unauthorized_request")
	}},
	{"bodies that are not a well-formed form are refused", func(t *testing.T, build requestcases.Builder) {
		f := newV2Fixture(t, build, fakeas.ProviderOptions{}, nil)
		cases := []struct {
			name, body, contentType string
		}{
			{"a JSON body", `{"pageUrl":"https://www.example.com/?code=a&state=b"}`, "application/json"},
			{"a form body sent as JSON", "code=a&state=b", "application/json"},
			{"a body without a Content-Type", "code=a&state=b", ""},
			{"a multipart body", "code=a&state=b", "multipart/form-data; boundary=x"},
			{"a repeated parameter", "code=a&state=b&state=c", formContentType},
			{"a repeated unknown parameter", "code=a&state=b&x=1&x=2", formContentType},
			{"an oversized parameter", "code=" + strings.Repeat("a", 8193) + "&state=b", formContentType},
			{"a malformed escape", "code=%zz&state=b", formContentType},
			{"a body over 64 KiB", strings.Repeat("a=b&", 17000), formContentType},
		}
		for _, c := range cases {
			for _, path := range []string{"/login/end", "/login/start"} {
				resp := f.call(http.MethodPost, path, c.body, map[string]string{"Content-Type": c.contentType})
				expectV2(t, path+": "+c.name, resp, http.StatusBadRequest, "invalid_request")
			}
		}
		expectV2(t, "refresh with a JSON body", f.call(http.MethodPost, "/refresh", `{}`, map[string]string{"Content-Type": "application/json"}),
			http.StatusBadRequest, "invalid_request")
	}},
	{"login/end refuses JARM and incomplete authorization responses", func(t *testing.T, build requestcases.Builder) {
		f := newV2Fixture(t, build, fakeas.ProviderOptions{}, nil)
		f.startLogin("")
		for _, c := range []struct{ name, form string }{
			{"a JARM response", "response=eyJhbGciOiJub25lIn0.e30."},
			{"a JARM response with a state", "response=eyJ.e30.&state=x"},
			{"an error without a state", "error=access_denied&error_description=nope"},
			{"a code without a state", "code=abc"},
			{"a state alone", "state=abc"},
		} {
			expectV2(t, c.name, f.call(http.MethodPost, "/login/end", c.form, nil), http.StatusBadRequest, "invalid_request")
		}
		if got := string(f.call(http.MethodPost, "/login/end", "", nil).Body); got != loggedOutSession {
			t.Fatalf("login/end without a response = %s, want the session", got)
		}
	}},
	{"an error response reports the server's error in a v2 body", func(t *testing.T, build requestcases.Builder) {
		f := newV2Fixture(t, build, fakeas.ProviderOptions{}, nil)
		callback, err := f.p.AuthorizeError(f.startLogin(""), "access_denied", "The user said no")
		if err != nil {
			t.Fatal(err)
		}
		body := expectV2(t, "access_denied", f.endLogin(callback), http.StatusBadRequest, "access_denied")
		if body["detailed_error"] != "The user said no" {
			t.Fatalf("%v", body)
		}
		callback, _ = f.p.AuthorizeError(f.startLogin(""), "login_required", "")
		expectV2(t, "login_required", f.endLogin(callback), http.StatusUnauthorized, "login_required")
		// A forged state: the description is not the page's.
		body = expectV2(t, "forged state", f.call(http.MethodPost, "/login/end", "error=access_denied&error_description=Call+0800&state=forged", nil),
			http.StatusBadRequest, "access_denied")
		if strings.Contains(body["detailed_error"].(string), "0800") {
			t.Fatalf("a forged description reached the SPA: %v", body)
		}
	}},
	{"a replayed code response is refused", func(t *testing.T, build requestcases.Builder) {
		f := newV2Fixture(t, build, fakeas.ProviderOptions{}, nil)
		callback, _ := f.p.Authorize(f.startLogin(""))
		expectV2(t, "first", f.endLogin(callback), http.StatusOK, "")
		expectV2(t, "replay", f.endLogin(callback), http.StatusBadRequest, "invalid_request")
	}},
	{"v1's endpoints are not found in v2", func(t *testing.T, build requestcases.Builder) {
		f := newV2Fixture(t, build, fakeas.ProviderOptions{}, nil)
		f.login()
		for _, path := range []string{"/userInfo", "/claims", "/nothing"} {
			expectV2(t, path, f.call(http.MethodGet, path, "", nil), http.StatusNotFound, "not_found")
		}
		expectV2(t, "POST /session", f.call(http.MethodPost, "/session", "", nil), http.StatusMethodNotAllowed, "method_not_allowed")
		expectV2(t, "GET /refresh", f.call(http.MethodGet, "/refresh", "", nil), http.StatusMethodNotAllowed, "method_not_allowed")
	}},
	{"access_token_expires_in follows expires_in: a number, a numeric string, or none", func(t *testing.T, build requestcases.Builder) {
		f := newV2Fixture(t, build, fakeas.ProviderOptions{}, nil)
		f.p.TamperTokenResponse(func(grant string, resp map[string]interface{}) { resp["expires_in"] = "120" })
		expiresIn(t, "a numeric string", f.login(), 118, 120)
		expiresIn(t, "session", f.call(http.MethodGet, "/session", "", nil).JSON(t), 110, 120)

		f.p.TamperTokenResponse(func(grant string, resp map[string]interface{}) { delete(resp, "expires_in") })
		body := f.call(http.MethodPost, "/refresh", "", nil).JSON(t)
		if v, present := body["access_token_expires_in"]; !present || v != nil {
			t.Fatalf("refresh without expires_in: %v, want null", body)
		}
		if v := f.call(http.MethodGet, "/session", "", nil).JSON(t)["access_token_expires_in"]; v != nil {
			t.Fatalf("session after a refresh without expires_in: %v, want null (the old expiry is cleared)", v)
		}
		for _, bad := range []interface{}{-5, 0, "soon", true, 1e12} {
			bad := bad
			f.p.TamperTokenResponse(func(grant string, resp map[string]interface{}) { resp["expires_in"] = bad })
			if v := f.call(http.MethodPost, "/refresh", "", nil).JSON(t)["access_token_expires_in"]; v != nil {
				t.Fatalf("expires_in %v: access_token_expires_in %v, want null", bad, v)
			}
		}
	}},
	{"without an ID token cookie the session's claims are null", func(t *testing.T, build requestcases.Builder) {
		f := newV2Fixture(t, build, fakeas.ProviderOptions{}, nil)
		f.login()
		f.browser.Jar.SetCookies(mustURL(t, AgentBase), []*http.Cookie{{Name: "example-id", Path: "/oauth-agent", MaxAge: -1}})
		body := f.call(http.MethodGet, "/session", "", nil).JSON(t)
		if v, present := body["id_token_claims"]; !present || v != nil || body["is_logged_in"] != true {
			t.Fatalf("session: %v", body)
		}
	}},
	{"extra refresh parameters are refused", func(t *testing.T, build requestcases.Builder) {
		f := newV2Fixture(t, build, fakeas.ProviderOptions{}, nil)
		f.login()
		expectV2(t, "refresh with scope", f.call(http.MethodPost, "/refresh", "scope=read", nil), http.StatusBadRequest, "invalid_request")
		if f.p.RefreshGrants() != 0 {
			t.Fatal("a refused refresh called the token endpoint")
		}
	}},
	{"a refresh token the server no longer accepts ends the session with 401 session_expired", func(t *testing.T, build requestcases.Builder) {
		f := newV2Fixture(t, build, fakeas.ProviderOptions{}, nil)
		f.login()
		f.p.RevokeRefreshTokens()
		resp := f.call(http.MethodPost, "/refresh", "", nil)
		expectV2(t, "refresh", resp, http.StatusUnauthorized, "session_expired")
		if !strings.Contains(clearedNames(resp), "example-exp=;") {
			t.Fatalf("session_expired cleared %s", clearedNames(resp))
		}
		if got := string(f.call(http.MethodGet, "/session", "", nil).Body); got != loggedOutSession {
			t.Fatalf("session = %s", got)
		}
	}},
	{"refresh and logout without a session are 401", func(t *testing.T, build requestcases.Builder) {
		f := newV2Fixture(t, build, fakeas.ProviderOptions{}, nil)
		expectV2(t, "refresh", f.call(http.MethodPost, "/refresh", "", nil), http.StatusUnauthorized, "unauthorized_request")
		expectV2(t, "logout", f.call(http.MethodPost, "/logout", "", nil), http.StatusUnauthorized, "unauthorized_request")
	}},
	{"logout without an end-session endpoint answers {}", func(t *testing.T, build requestcases.Builder) {
		f := newV2Fixture(t, build, fakeas.ProviderOptions{}, nil)
		f.p.TamperDiscovery(func(doc map[string]interface{}) { delete(doc, "end_session_endpoint") })
		f.login()
		resp := f.call(http.MethodPost, "/logout", "", nil)
		expectV2(t, "logout", resp, http.StatusOK, "")
		if string(resp.Body) != "{}" || !strings.Contains(clearedNames(resp), "example-at=;") {
			t.Fatalf("logout: %s, cleared %s", resp.Body, clearedNames(resp))
		}
	}},
	{"cookies that do not decrypt are cleared and the session reports logged out", func(t *testing.T, build requestcases.Builder) {
		f := newV2Fixture(t, build, fakeas.ProviderOptions{}, nil)
		f.browser.Jar.SetCookies(mustURL(t, AgentBase), []*http.Cookie{{Name: "example-at", Value: "AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", Path: "/"}})
		resp := f.call(http.MethodGet, "/session", "", nil)
		if string(resp.Body) != loggedOutSession || !strings.Contains(clearedNames(resp), "example-at=;") {
			t.Fatalf("session: %s, cleared %s", resp.Body, clearedNames(resp))
		}
	}},
	{"a session written by a v1 agent is signed in, with an unknown expiry", func(t *testing.T, build requestcases.Builder) {
		v1 := newAgentFixture(t, build, fakeas.ProviderOptions{}, nil)
		v1.login()
		v2h, err := build(AgentConfig(v1.p, map[string]interface{}{"agentApi": "v2"}), v1.next)
		if err != nil {
			t.Fatal(err)
		}
		v1.browser.Handler = v2h
		f := v2Fixture{v1}
		body := expectV2(t, "session", f.call(http.MethodGet, "/session", "", nil), http.StatusOK, "")
		if body["is_logged_in"] != true || body["id_token_claims"] == nil || body["access_token_expires_in"] != nil {
			t.Fatalf("session: %v", body)
		}
	}},
}

func mustURL(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
