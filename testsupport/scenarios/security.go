package scenarios

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokenhandler/traefik-token-handler/internal/cookiecrypt"
	"github.com/tokenhandler/traefik-token-handler/testsupport/browser"
	"github.com/tokenhandler/traefik-token-handler/testsupport/fakeas"
	"github.com/tokenhandler/traefik-token-handler/testsupport/requestcases"
)

// The security scenarios: the checks behind docs/security.md that the other matrices and
// scenarios do not already make. Each one builds the three roles the way a deployment stacks
// them (the agent on /oauth-agent, and /api behind bffToken then phantomToken), so that a cookie
// is followed from the agent that wrote it to the API that would receive it.

// Roles returns the Builder of one role: "oauthAgent", "bffToken" or "phantomToken". The
// compiled runner builds each package's New; the Yaegi runner builds the interpreted plugin.
type Roles func(role string) requestcases.Builder

// SecurityAll runs every security scenario as a subtest. Logs are not checked here: see
// SecretsNeverLogged, which needs the compiled roles' log capture.
func SecurityAll(t *testing.T, roles Roles) {
	for _, s := range securityScenarios {
		s := s
		t.Run(s.name, func(t *testing.T) { s.run(t, roles) })
	}
}

type securityScenario struct {
	name string
	run  func(t *testing.T, roles Roles)
}

// Paths of the deployment the scenarios build.
const (
	apiURL    = "https://api.example.com/api/data"    // bffToken → phantomToken → the API
	directURL = "https://api.example.com/direct/data" // bffToken alone → the API
)

// deployment is one provider, the three roles stacked as a user deploys them, a browser on the
// SPA's origin and a log of every answer the browser received.
type deployment struct {
	t        *testing.T
	p        *fakeas.Provider
	host     http.Handler // the api.example.com host: the agent, and the APIs behind it
	browser  *browser.Browser
	api      *apiRecorder // behind bffToken and phantomToken
	direct   *apiRecorder // behind bffToken alone
	answers  *answerLog
	agentCfg map[string]interface{}
}

// apiRecorder stands for the API: it records the Authorization and Cookie headers it receives.
type apiRecorder struct {
	mu            sync.Mutex
	calls         int
	authorization []string
	cookies       []string
}

func (a *apiRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	a.mu.Lock()
	a.calls++
	a.authorization = append(a.authorization, r.Header.Get("Authorization"))
	a.cookies = append(a.cookies, r.Header.Get("Cookie"))
	a.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprint(w, `{"data":"from the API"}`)
}

func (a *apiRecorder) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.calls
}

func (a *apiRecorder) lastAuthorization() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.authorization) == 0 {
		return ""
	}
	return a.authorization[len(a.authorization)-1]
}

// answer is one response as the browser received it.
type answer struct {
	method, path string
	status       int
	header       http.Header
	body         string
}

// answerLog records every answer of the host; the deployment's invariants are checked on it.
type answerLog struct {
	mu      sync.Mutex
	answers []answer
}

// recording serves h and records its answer.
func (l *answerLog) recording(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
		l.mu.Lock()
		l.answers = append(l.answers, answer{method: r.Method, path: r.URL.Path, status: rec.Code, header: rec.Header().Clone(), body: rec.Body.String()})
		l.mu.Unlock()
	})
}

func (l *answerLog) all() []answer {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]answer(nil), l.answers...)
}

// deploymentOptions tunes a deployment; the zero value is the demo's setup.
type deploymentOptions struct {
	provider fakeas.ProviderOptions
	agent    map[string]interface{} // merged over AgentConfig
	bff      map[string]interface{}
	phantom  map[string]interface{}
}

func newDeployment(t *testing.T, roles Roles, o deploymentOptions) *deployment {
	t.Helper()
	p := fakeas.NewProvider(t, o.provider)
	d := &deployment{t: t, p: p, api: &apiRecorder{}, direct: &apiRecorder{}, answers: &answerLog{}}
	bffCfg := map[string]interface{}{
		"cookieNamePrefix": "example", "encryptionKey": agentKey, "trustedWebOrigins": SPAOrigin,
	}
	for k, v := range o.bff {
		bffCfg[k] = v
	}
	phantomCfg := map[string]interface{}{
		"introspectionEndpoint": p.IntrospectionURL(), "clientId": fakeas.IntrospectionClientID,
		"clientSecret": fakeas.IntrospectionClientSecret, "timeoutSeconds": "2",
	}
	for k, v := range o.phantom {
		phantomCfg[k] = v
	}
	phantom, err := roles("phantomToken")(phantomCfg, d.api)
	if err != nil {
		t.Fatal(err)
	}
	bff, err := roles("bffToken")(bffCfg, phantom)
	if err != nil {
		t.Fatal(err)
	}
	bffDirect, err := roles("bffToken")(bffCfg, d.direct)
	if err != nil {
		t.Fatal(err)
	}
	apis := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, "/api/"):
			bff.ServeHTTP(w, r)
		case strings.HasPrefix(r.URL.Path, "/direct/"):
			bffDirect.ServeHTTP(w, r)
		default:
			http.NotFound(w, r)
		}
	})
	d.agentCfg = AgentConfig(p, o.agent)
	agent, err := roles("oauthAgent")(d.agentCfg, apis)
	if err != nil {
		t.Fatal(err)
	}
	d.host = d.answers.recording(agent)
	d.browser = browser.New(SPAOrigin, d.host)
	return d
}

func (d *deployment) post(path, body string, headers map[string]string) *browser.Response {
	d.t.Helper()
	return d.browser.Do(d.t, http.MethodPost, AgentBase+path, body, headers)
}

func (d *deployment) get(path string) *browser.Response {
	d.t.Helper()
	return d.browser.Do(d.t, http.MethodGet, AgentBase+path, "", nil)
}

// startLogin posts /login/start and returns the authorization request URL.
func (d *deployment) startLogin() string {
	d.t.Helper()
	resp := d.post("/login/start", "", nil)
	u, _ := resp.JSON(d.t)["authorizationRequestUrl"].(string)
	if resp.Status != http.StatusOK || u == "" {
		d.t.Fatalf("/login/start: %d %s", resp.Status, resp.Body)
	}
	return u
}

// authorize plays the authorization server's login for an authorization request URL.
func (d *deployment) authorize(authorizationURL string) string {
	d.t.Helper()
	callback, err := d.p.Authorize(authorizationURL)
	if err != nil {
		d.t.Fatal(err)
	}
	return callback
}

// endLogin posts /login/end with pageUrl, JSON-encoded.
func (d *deployment) endLogin(pageURL string) *browser.Response {
	d.t.Helper()
	body, _ := json.Marshal(map[string]string{"pageUrl": pageURL})
	return d.post("/login/end", string(body), nil)
}

// login signs in and returns the CSRF token.
func (d *deployment) login() string {
	d.t.Helper()
	resp := d.endLogin(d.authorize(d.startLogin()))
	body := resp.JSON(d.t)
	csrf, _ := body["csrf"].(string)
	if resp.Status != http.StatusOK || body["isLoggedIn"] != true || csrf == "" {
		d.t.Fatalf("/login/end: %d %s", resp.Status, resp.Body)
	}
	return csrf
}

func csrfHeader(csrf string) map[string]string { return map[string]string{"X-Example-Csrf": csrf} }

// cookie returns the value the browser holds for one of the agent's cookies.
func (d *deployment) cookie(name string) string {
	d.t.Helper()
	where := map[string]string{
		"example-at": "/", "example-csrf": "/", "example-login": "/",
		"example-auth": "/oauth-agent", "example-id": "/oauth-agent",
	}
	v := d.browser.Cookie("https://api.example.com"+where[name], name)
	if v == "" {
		d.t.Fatalf("the browser holds no %s cookie", name)
	}
	return v
}

// send sends one request with exactly the given cookies (not the browser's), as a user who edits
// their cookies, or an attacker who plants some, would.
func send(t *testing.T, h http.Handler, method, rawURL, origin string, cookies [][2]string, headers map[string]string) *browser.Response {
	t.Helper()
	req := httptest.NewRequest(method, rawURL, nil)
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	for _, c := range cookies {
		req.AddCookie(&http.Cookie{Name: c[0], Value: c[1]})
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return &browser.Response{Status: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes(), SetCookies: rec.Header().Values("Set-Cookie")}
}

// tokens returns the access, refresh and ID tokens of the provider's last token response.
func tokensOf(p *fakeas.Provider) []string {
	var out []string
	for _, name := range []string{"access_token", "refresh_token", "id_token"} {
		if v, _ := p.LastTokenResponse()[name].(string); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// notServerError fails when an answer is a 5xx: every swapped or planted cookie must end in a
// defined client error.
func notServerError(t *testing.T, what string, resp *browser.Response) {
	t.Helper()
	if resp.Status >= 500 {
		t.Fatalf("%s: %d %s", what, resp.Status, resp.Body)
	}
}

// wholeSession runs a session's every step through the deployment, failures included: a page
// load, a login, user info and claims, API reads and writes, refreshes, an expired access token,
// a forged state, a wrong CSRF header, a logout, and a session that the authorization server
// ends. It returns every access, refresh and ID token issued.
func (d *deployment) wholeSession() []string {
	t := d.t
	t.Helper()
	var tokens []string
	expect(t, "page load", d.endLogin(SPAOrigin+"/"), http.StatusOK, "")
	d.startLogin() // a login that is never finished
	csrf := d.login()
	tokens = append(tokens, tokensOf(d.p)...)
	expect(t, "page load, signed in", d.endLogin(SPAOrigin+"/deep/link"), http.StatusOK, "")
	expect(t, "userInfo", d.get("/userInfo"), http.StatusOK, "")
	expect(t, "claims", d.get("/claims"), http.StatusOK, "")
	expect(t, "API GET", d.browser.Do(t, http.MethodGet, apiURL, "", nil), http.StatusOK, "")
	expect(t, "API POST", d.browser.Do(t, http.MethodPost, apiURL, `{}`, csrfHeader(csrf)), http.StatusOK, "")
	expect(t, "API POST, wrong CSRF", d.browser.Do(t, http.MethodPost, apiURL, `{}`, csrfHeader("wrong")), http.StatusUnauthorized, "unauthorized")
	expect(t, "forged state", d.endLogin(SPAOrigin+"/?code=abc&state=forged"), http.StatusBadRequest, "invalid_request")
	expect(t, "refresh, wrong CSRF", d.post("/refresh", "", csrfHeader("wrong")), http.StatusUnauthorized, "unauthorized_request")
	expect(t, "refresh", d.post("/refresh", "", csrfHeader(csrf)), http.StatusNoContent, "")
	tokens = append(tokens, tokensOf(d.p)...)
	d.p.ExpireAccessTokens()
	expect(t, "userInfo, expired", d.get("/userInfo"), http.StatusUnauthorized, "token_expired")
	expect(t, "API GET, expired", d.browser.Do(t, http.MethodGet, apiURL, "", nil), http.StatusUnauthorized, "unauthorized")
	expect(t, "refresh again", d.post("/refresh", "", csrfHeader(csrf)), http.StatusNoContent, "")
	tokens = append(tokens, tokensOf(d.p)...)
	expect(t, "logout", d.post("/logout", "", csrfHeader(csrf)), http.StatusOK, "")
	csrf = d.login()
	tokens = append(tokens, tokensOf(d.p)...)
	d.p.RevokeRefreshTokens()
	expect(t, "refresh, session over", d.post("/refresh", "", csrfHeader(csrf)), http.StatusUnauthorized, "session_expired")
	return tokens
}

// cookiePaths are the paths each cookie must be set and cleared with (the default pathPrefix and
// cookieBasePath).
var cookiePaths = map[string]string{
	"example-at": "/", "example-csrf": "/", "example-login": "/",
	"example-auth": "/oauth-agent", "example-id": "/oauth-agent", "example-idhint": "/oauth-agent/logout",
}

// legacyCookiePaths are the paths -auth, -id and -idhint had before contract §6.5: they are only
// ever cleared there now.
var legacyCookiePaths = map[string]string{
	"example-auth": "/oauth-agent/refresh", "example-id": "/oauth-agent/claims",
}

var securityScenarios = []securityScenario{
	// Every Set-Cookie of a whole session (login, refresh, logout, session end) is HttpOnly, Secure,
	// SameSite=Strict, host-only (no Domain), a session cookie, and on its own Path; cleared
	// cookies expire with the same attributes.
	{"cookie attributes on every Set-Cookie", func(t *testing.T, roles Roles) {
		d := newDeployment(t, roles, deploymentOptions{})
		d.wholeSession()
		seen := map[string]bool{}
		for _, a := range d.answers.all() {
			for _, c := range a.header.Values("Set-Cookie") {
				name := c[:strings.Index(c, "=")]
				path, ok := cookiePaths[name]
				if i := strings.LastIndex(name, "-"); !ok && i > 0 {
					// A chunk (contract §6.1) has the Path of the cookie it is part of.
					if _, err := strconv.Atoi(name[i+1:]); err == nil {
						path, ok = cookiePaths[name[:i]]
					}
				}
				if !ok {
					t.Errorf("%s %s set an unknown cookie: %q", a.method, a.path, c)
					continue
				}
				seen[name] = true
				attrs := strings.Split(c, "; ")[1:]
				has := map[string]bool{}
				for _, attr := range attrs {
					has[strings.SplitN(attr, "=", 2)[0]] = true
				}
				cleared := strings.HasPrefix(c, name+"=;")
				if legacy, ok := legacyCookiePaths[name]; ok && cleared && contains(attrs, "Path="+legacy) {
					path = legacy
				}
				if !has["HttpOnly"] || !has["Secure"] || !contains(attrs, "SameSite=Strict") || has["Domain"] ||
					!contains(attrs, "Path="+path) {
					t.Errorf("%s %s: %q lacks HttpOnly, Secure, SameSite=Strict or Path=%s, or has a Domain", a.method, a.path, c, path)
				}
				if cleared && (!contains(attrs, "Max-Age=0") || !contains(attrs, "Expires=Thu, 01 Jan 1970 00:00:00 GMT")) {
					t.Errorf("%s %s: a cleared cookie that does not expire: %q", a.method, a.path, c)
				}
				if !cleared && (has["Max-Age"] || has["Expires"]) {
					t.Errorf("%s %s: %q is not a session cookie", a.method, a.path, c)
				}
			}
		}
		for name := range cookiePaths {
			if !seen[name] {
				t.Errorf("the session never set or cleared %s", name)
			}
		}
	}},
	// No answer of a whole session carries an access, refresh or ID token outside an encrypted
	// cookie, except the logout URL's id_token_hint; every agent answer with a body is no-store;
	// the API never receives the Cookie header.
	{"no token in any answer", func(t *testing.T, roles Roles) {
		d := newDeployment(t, roles, deploymentOptions{})
		tokens := d.wholeSession()
		if len(tokens) < 9 {
			t.Fatalf("the session issued %d tokens, want at least 9", len(tokens))
		}
		for _, a := range d.answers.all() {
			if strings.HasPrefix(a.path, "/oauth-agent/") && a.body != "" && a.header.Get("Cache-Control") != "no-store" {
				t.Errorf("the answer to %s %s (%d) may be cached: Cache-Control %q", a.method, a.path, a.status, a.header.Get("Cache-Control"))
			}
			body := a.body
			if a.path == "/oauth-agent/logout" && a.status == http.StatusOK {
				// The one exception, by design: the logout URL carries the ID token as its
				// id_token_hint (OpenID Connect RP-Initiated Logout), for the browser to take to the
				// end-session endpoint. It is removed before the check.
				var answer struct{ URL string }
				_ = json.Unmarshal([]byte(body), &answer)
				u, err := url.Parse(answer.URL)
				if err != nil || u.Query().Get("id_token_hint") == "" {
					t.Fatalf("logout answer %s", body)
				}
				q := u.Query()
				q.Del("id_token_hint")
				u.RawQuery = q.Encode()
				body = u.String()
			}
			for _, token := range tokens {
				if strings.Contains(body, token) {
					t.Errorf("the answer to %s %s (%d) contains a token in its body", a.method, a.path, a.status)
				}
				for name, values := range a.header {
					for _, v := range values {
						if strings.Contains(v, token) {
							t.Errorf("the answer to %s %s carries a token in its %s header", a.method, a.path, name)
						}
					}
				}
			}
		}
		d.api.mu.Lock()
		defer d.api.mu.Unlock()
		for i, c := range d.api.cookies {
			if c != "" {
				t.Errorf("API call %d received the Cookie header %q", i, c)
			}
		}
	}},
	// No answer of a whole session is a 3xx or carries a Location header.
	{"the agent never redirects", func(t *testing.T, roles Roles) {
		d := newDeployment(t, roles, deploymentOptions{})
		d.wholeSession()
		for _, a := range d.answers.all() {
			if (a.status >= 300 && a.status < 400) || a.header.Get("Location") != "" {
				t.Errorf("%s %s answered %d with Location %q", a.method, a.path, a.status, a.header.Get("Location"))
			}
		}
	}},
	// /login/end reads only the query of pageUrl: a pageUrl on another origin gets JSON, never a
	// redirect, and the code is exchanged with the configured redirect_uri.
	{"open redirect via pageUrl", func(t *testing.T, roles Roles) {
		d := newDeployment(t, roles, deploymentOptions{})
		callback, _ := url.Parse(d.authorize(d.startLogin()))
		for _, page := range []string{
			"https://evil.example/?x=1",
			"//evil.example/",
			"javascript:alert(document.cookie)",
			"https://evil.example/?error=access_denied&state=abc",
			// Last: the real code and state, on another origin, complete the login.
			"https://evil.example/landing?" + callback.RawQuery,
		} {
			resp := d.endLogin(page)
			if resp.Status >= 300 && resp.Status < 400 || resp.Header.Get("Location") != "" ||
				!strings.HasPrefix(resp.Header.Get("Content-Type"), jsonContentType) || strings.Contains(string(resp.Body), "evil") {
				t.Fatalf("pageUrl %s: %d, Location %q, Content-Type %q, body %s", page, resp.Status, resp.Header.Get("Location"), resp.Header.Get("Content-Type"), resp.Body)
			}
			notServerError(t, page, resp)
			if strings.Contains(page, "landing") {
				if body := resp.JSON(t); resp.Status != http.StatusOK || body["handled"] != true {
					t.Fatalf("the real code and state: %d %s", resp.Status, resp.Body)
				}
			}
		}
		form, _ := d.p.LastTokenRequest()
		if got := form.Get("redirect_uri"); got != d.p.Options().RedirectURI {
			t.Fatalf("the code was exchanged with redirect_uri %q, want the configured %q", got, d.p.Options().RedirectURI)
		}
	}},
	// The authorization request's redirect_uri is the configured one whatever /login/start's query
	// or body carry; extraParams cannot set it (or response_mode, request, request_uri).
	{"open redirect via redirect_uri", func(t *testing.T, roles Roles) {
		d := newDeployment(t, roles, deploymentOptions{})
		resp := d.browser.Do(t, http.MethodPost, AgentBase+"/login/start?redirect_uri=https%3A%2F%2Fevil.example%2F&redirectUri=https%3A%2F%2Fevil.example%2F",
			`{"redirect_uri":"https://evil.example/","redirectUri":"https://evil.example/","extraParams":[{"key":"prompt","value":"login"}]}`, nil)
		expect(t, "/login/start", resp, http.StatusOK, "")
		u, err := url.Parse(resp.JSON(t)["authorizationRequestUrl"].(string))
		if err != nil {
			t.Fatal(err)
		}
		if q := u.Query(); len(q["redirect_uri"]) != 1 || q.Get("redirect_uri") != d.p.Options().RedirectURI || strings.Contains(u.String(), "evil") {
			t.Fatalf("authorization request %s", u)
		}
		for _, key := range []string{"redirect_uri", "REDIRECT_URI", "response_mode", "request_uri", "request"} {
			expect(t, "extraParams "+key, d.post("/login/start", `{"extraParams":[{"key":"`+key+`","value":"https://evil.example/"}]}`, nil), http.StatusBadRequest, "invalid_request")
		}
	}},
	// The logout URL's post_logout_redirect_uri is the configured one whatever /logout's query, body
	// or Referer carry; without an end-session endpoint the URL is the configured one itself.
	{"open redirect via post_logout_redirect_uri", func(t *testing.T, roles Roles) {
		for _, endSession := range []bool{true, false} {
			d := newDeployment(t, roles, deploymentOptions{})
			if !endSession {
				// Without an end-session endpoint the answer is the configured URI itself.
				cfg := AgentConfig(d.p, map[string]interface{}{"authorizationEndpoint": d.p.AuthorizationURL(), "tokenEndpoint": d.p.TokenURL(),
					"userInfoEndpoint": d.p.UserinfoURL(), "jwksUri": d.p.JWKSURL()})
				d.p.TamperDiscovery(func(doc map[string]interface{}) { delete(doc, "end_session_endpoint") })
				agent, err := roles("oauthAgent")(cfg, http.NotFoundHandler())
				if err != nil {
					t.Fatal(err)
				}
				d.browser.Handler = agent
			}
			csrf := d.login()
			resp := d.browser.Do(t, http.MethodPost,
				AgentBase+"/logout?post_logout_redirect_uri=https%3A%2F%2Fevil.example%2F&postLogoutRedirectUri=https%3A%2F%2Fevil.example%2F",
				`{"post_logout_redirect_uri":"https://evil.example/","postLogoutRedirectUri":"https://evil.example/","url":"https://evil.example/"}`,
				map[string]string{"X-Example-Csrf": csrf, "Referer": "https://evil.example/"})
			expect(t, "logout", resp, http.StatusOK, "")
			if resp.Header.Get("Location") != "" {
				t.Fatalf("logout answered with Location %q", resp.Header.Get("Location"))
			}
			logoutURL, _ := resp.JSON(t)["url"].(string)
			u, err := url.Parse(logoutURL)
			if err != nil || strings.Contains(logoutURL, "evil") {
				t.Fatalf("end-session endpoint %v: logout URL %q", endSession, logoutURL)
			}
			if endSession {
				if q := u.Query(); len(q["post_logout_redirect_uri"]) != 1 || q.Get("post_logout_redirect_uri") != SPAOrigin+"/" ||
					u.Scheme+"://"+u.Host+u.Path != d.p.EndSessionURL() {
					t.Fatalf("logout URL %s", u)
				}
			} else if logoutURL != SPAOrigin+"/" {
				t.Fatalf("without an end-session endpoint the logout URL is %q, want the configured %q", logoutURL, SPAOrigin+"/")
			}
		}
	}},
	// With a valid session, pending login and CSRF header, a missing, null, untrusted, sibling,
	// plain-HTTP, explicit-port, upper-case or slash-suffixed Origin is 401 on every agent endpoint,
	// without CORS headers or cookies, and reaches no authorization server endpoint.
	{"bad Origin on every agent endpoint", func(t *testing.T, roles Roles) {
		d := newDeployment(t, roles, deploymentOptions{})
		csrf := d.login()
		d.startLogin() // a pending login too
		cookies := [][2]string{}
		for _, name := range []string{"example-at", "example-csrf", "example-login", "example-auth", "example-id"} {
			cookies = append(cookies, [2]string{name, d.cookie(name)})
		}
		endpoints := []struct{ method, path string }{
			{http.MethodPost, "/login/start"}, {http.MethodPost, "/login/end"}, {http.MethodPost, "/refresh"},
			{http.MethodPost, "/logout"}, {http.MethodGet, "/userInfo"}, {http.MethodGet, "/claims"},
		}
		for _, origin := range badOrigins {
			for _, e := range endpoints {
				resp := send(t, d.host, e.method, AgentBase+e.path, origin, cookies, map[string]string{"X-Example-Csrf": csrf, "Content-Type": "application/json"})
				what := fmt.Sprintf("%s %s with Origin %q", e.method, e.path, origin)
				expect(t, what, resp, http.StatusUnauthorized, "unauthorized_request")
				if resp.Header.Get("Access-Control-Allow-Origin") != "" || len(resp.SetCookies) != 0 {
					t.Fatalf("%s: Access-Control-Allow-Origin %q, Set-Cookie %q", what, resp.Header.Get("Access-Control-Allow-Origin"), resp.SetCookies)
				}
			}
			pre := send(t, d.host, http.MethodOptions, AgentBase+"/refresh", origin, nil, map[string]string{
				"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "x-example-csrf"})
			if pre.Header.Get("Access-Control-Allow-Origin") != "" || pre.Header.Get("Access-Control-Allow-Credentials") != "" {
				t.Fatalf("preflight with Origin %q got CORS headers %v", origin, pre.Header)
			}
		}
		if d.p.Calls(fakeas.EndpointRefresh) != 0 || d.p.Calls(fakeas.EndpointUserinfo) != 0 {
			t.Fatal("a refused request reached the authorization server")
		}
		// The session is untouched: logout did not happen.
		expect(t, "userInfo from the SPA", d.get("/userInfo"), http.StatusOK, "")
	}},
	// The same Origins are 401 at bffToken for GET, HEAD, POST, PUT, PATCH and DELETE with valid
	// cookies and CSRF header (and, with CORS disabled, for the data-changing methods).
	{"bad Origin on every bffToken method", func(t *testing.T, roles Roles) {
		d := newDeployment(t, roles, deploymentOptions{})
		csrf := d.login()
		cookies := [][2]string{{"example-at", d.cookie("example-at")}, {"example-csrf", d.cookie("example-csrf")}}
		for _, origin := range badOrigins {
			for _, method := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
				resp := send(t, d.host, method, apiURL, origin, cookies, csrfHeader(csrf))
				what := fmt.Sprintf("%s with Origin %q", method, origin)
				if resp.Status != http.StatusUnauthorized || resp.Header.Get("Access-Control-Allow-Origin") != "" {
					t.Fatalf("%s: %d, Access-Control-Allow-Origin %q", what, resp.Status, resp.Header.Get("Access-Control-Allow-Origin"))
				}
			}
			pre := send(t, d.host, http.MethodOptions, apiURL, origin, nil, map[string]string{"Access-Control-Request-Method": "POST"})
			if pre.Status != http.StatusNoContent || pre.Header.Get("Access-Control-Allow-Origin") != "" {
				t.Fatalf("preflight with Origin %q: %d %v", origin, pre.Status, pre.Header)
			}
		}
		if d.api.count() != 0 {
			t.Fatalf("%d refused requests reached the API", d.api.count())
		}
		// With CORS disabled (same-origin deployments) data-changing methods still need the Origin.
		same := newDeployment(t, roles, deploymentOptions{bff: map[string]interface{}{"corsEnabled": "false"}})
		csrf = same.login()
		cookies = [][2]string{{"example-at", same.cookie("example-at")}, {"example-csrf", same.cookie("example-csrf")}}
		for _, origin := range badOrigins {
			for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
				if resp := send(t, same.host, method, apiURL, origin, cookies, csrfHeader(csrf)); resp.Status != http.StatusUnauthorized {
					t.Fatalf("CORS disabled, %s with Origin %q: %d", method, origin, resp.Status)
				}
			}
		}
		if same.api.count() != 0 {
			t.Fatalf("%d refused requests reached the API", same.api.count())
		}
	}},
	// The -at cookie's value under the -csrf name: the real CSRF token no longer matches, at bffToken
	// and at /refresh and /logout.
	{"swap -at into -csrf", func(t *testing.T, roles Roles) {
		d := newDeployment(t, roles, deploymentOptions{})
		csrf := d.login()
		at := d.cookie("example-at")
		swapped := [][2]string{{"example-at", at}, {"example-csrf", at}, {"example-auth", d.cookie("example-auth")}}
		for _, header := range []string{csrf, ""} {
			for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodDelete} {
				resp := send(t, d.host, method, apiURL, SPAOrigin, swapped, csrfHeader(header))
				expect(t, method+" to the API", resp, http.StatusUnauthorized, "unauthorized")
			}
			expect(t, "refresh", send(t, d.host, http.MethodPost, AgentBase+"/refresh", SPAOrigin, swapped, csrfHeader(header)), http.StatusUnauthorized, "unauthorized_request")
			expect(t, "logout", send(t, d.host, http.MethodPost, AgentBase+"/logout", SPAOrigin, swapped, csrfHeader(header)), http.StatusUnauthorized, "unauthorized_request")
		}
		if d.api.count() != 0 || d.p.Calls(fakeas.EndpointRefresh) != 0 {
			t.Fatal("a request with the -at value as -csrf got through")
		}
	}},
	// The -csrf cookie's value under the -at name: bffToken sends the CSRF token as the bearer token;
	// introspection finds it inactive (401), and userinfo refuses it (token_expired).
	{"swap -csrf into -at", func(t *testing.T, roles Roles) {
		d := newDeployment(t, roles, deploymentOptions{})
		csrf := d.login()
		swapped := [][2]string{{"example-at", d.cookie("example-csrf")}, {"example-csrf", d.cookie("example-csrf")}}
		for _, method := range []string{http.MethodGet, http.MethodPost} {
			resp := send(t, d.host, method, apiURL, SPAOrigin, swapped, csrfHeader(csrf))
			if resp.Status != http.StatusUnauthorized || !strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
				t.Fatalf("%s through phantomToken: %d %q %s", method, resp.Status, resp.Header.Get("WWW-Authenticate"), resp.Body)
			}
		}
		if d.api.count() != 0 {
			t.Fatal("the API was reached with the CSRF token as its access token")
		}
		// bffToken alone hands the API the CSRF token, a random value that is no access token.
		expect(t, "bffToken alone", send(t, d.host, http.MethodGet, directURL, SPAOrigin, swapped, nil), http.StatusOK, "")
		if got := d.direct.lastAuthorization(); got != "Bearer "+csrf {
			t.Fatalf("the API behind bffToken alone received %q", got)
		}
		resp := send(t, d.host, http.MethodGet, AgentBase+"/userInfo", SPAOrigin, swapped, nil)
		expect(t, "userInfo", resp, http.StatusUnauthorized, "token_expired")
	}},
	// The -login cookie's value under the -at name: its JSON plaintext is not a bearer token; 401
	// without an introspection call.
	{"swap -login into -at", func(t *testing.T, roles Roles) {
		d := newDeployment(t, roles, deploymentOptions{})
		d.login()
		d.startLogin()
		swapped := [][2]string{{"example-at", d.cookie("example-login")}}
		resp := send(t, d.host, http.MethodGet, apiURL, SPAOrigin, swapped, nil)
		if resp.Status != http.StatusUnauthorized || !strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
			t.Fatalf("through phantomToken: %d %q %s", resp.Status, resp.Header.Get("WWW-Authenticate"), resp.Body)
		}
		if d.api.count() != 0 || d.p.Calls(fakeas.EndpointIntrospection) != 0 {
			t.Fatal("the -login value was introspected or reached the API")
		}
		resp = send(t, d.host, http.MethodGet, AgentBase+"/userInfo", SPAOrigin, swapped, nil)
		notServerError(t, "userInfo", resp)
		expect(t, "userInfo", resp, http.StatusUnauthorized, "token_expired")
	}},
	// The refresh token and ID token cookies under the -at name: introspection finds them inactive.
	{"swap -auth -id into -at", func(t *testing.T, roles Roles) {
		d := newDeployment(t, roles, deploymentOptions{})
		d.login()
		for _, name := range []string{"example-auth", "example-id"} {
			swapped := [][2]string{{"example-at", d.cookie(name)}}
			resp := send(t, d.host, http.MethodGet, apiURL, SPAOrigin, swapped, nil)
			if resp.Status != http.StatusUnauthorized || !strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
				t.Fatalf("%s as -at: %d %q %s", name, resp.Status, resp.Header.Get("WWW-Authenticate"), resp.Body)
			}
			notServerError(t, name+" as -at at userInfo", send(t, d.host, http.MethodGet, AgentBase+"/userInfo", SPAOrigin, swapped, nil))
		}
		if d.api.count() != 0 {
			t.Fatal("the API was reached with a refresh or ID token")
		}
	}},
	// Another cookie's value under the -auth name: the refresh fails with session_expired and the
	// session cookies are cleared.
	{"swap -id -at -csrf into -auth", func(t *testing.T, roles Roles) {
		for _, name := range []string{"example-id", "example-at", "example-csrf"} {
			d := newDeployment(t, roles, deploymentOptions{})
			csrf := d.login()
			swapped := [][2]string{{"example-at", d.cookie("example-at")}, {"example-csrf", d.cookie("example-csrf")}, {"example-auth", d.cookie(name)}}
			resp := send(t, d.host, http.MethodPost, AgentBase+"/refresh", SPAOrigin, swapped, csrfHeader(csrf))
			expect(t, name+" as -auth", resp, http.StatusUnauthorized, "session_expired")
			if got := clearedNames(resp); got != sessionCookieSet {
				t.Fatalf("%s as -auth cleared %q, want %q", name, got, sessionCookieSet)
			}
			if form, _ := d.p.LastTokenRequest(); form.Get("grant_type") != "refresh_token" {
				t.Fatalf("last token request %v", form)
			}
		}
	}},
	// Another cookie's value under the -id name: /claims answers 400 invalid_request.
	{"swap -at -csrf -auth into -id", func(t *testing.T, roles Roles) {
		d := newDeployment(t, roles, deploymentOptions{})
		d.login()
		for _, name := range []string{"example-at", "example-csrf", "example-auth"} {
			resp := send(t, d.host, http.MethodGet, AgentBase+"/claims", SPAOrigin, [][2]string{{"example-id", d.cookie(name)}}, nil)
			expect(t, name+" as -id", resp, http.StatusBadRequest, "invalid_request")
		}
	}},
	// A token cookie's value under the -csrf name must not come back as /login/end's csrf member.
	{"swap a token into -csrf at login end", func(t *testing.T, roles Roles) {
		d := newDeployment(t, roles, deploymentOptions{})
		d.login()
		tokens := tokensOf(d.p)
		for _, name := range []string{"example-at", "example-auth", "example-id"} {
			swapped := [][2]string{{"example-at", d.cookie("example-at")}, {"example-csrf", d.cookie(name)}}
			resp := send(t, d.host, http.MethodPost, AgentBase+"/login/end", SPAOrigin, swapped, nil)
			notServerError(t, name+" as -csrf", resp)
			for _, token := range tokens {
				if strings.Contains(string(resp.Body), token) {
					t.Fatalf("POST /login/end with the %s value in the -csrf cookie answers %d with that cookie's "+
						"plaintext (a token) as \"csrf\"", name, resp.Status)
				}
			}
		}
	}},
	// A state used by a /login/end that failed (the token endpoint refused the code) must not complete
	// a login afterwards (RFC 9700 §4.2.4).
	{"state consumed by a failed completion", func(t *testing.T, roles Roles) {
		d := newDeployment(t, roles, deploymentOptions{})
		d.startLogin() // a second pending login, so that the -login cookie is not simply cleared
		callback, _ := url.Parse(d.authorize(d.startLogin()))
		q := callback.Query()
		code := q.Get("code")
		q.Set("code", "not-the-code")
		callback.RawQuery = q.Encode()
		expect(t, "a wrong code", d.endLogin(callback.String()), http.StatusBadRequest, "authorization_error")
		q.Set("code", code)
		callback.RawQuery = q.Encode()
		resp := d.endLogin(callback.String())
		expect(t, "the state again", resp, http.StatusBadRequest, "invalid_request")
	}},
	// A pending login in the -login cookie that is 11 minutes old is not a pending login any more.
	{"pending login expires after 10 minutes", func(t *testing.T, roles Roles) {
		d := newDeployment(t, roles, deploymentOptions{})
		cipher, err := cookiecrypt.NewCipher(agentKey, nil)
		if err != nil {
			t.Fatal(err)
		}
		loginCookie := func(created time.Time) string {
			plain, _ := json.Marshal(map[string]interface{}{"logins": []map[string]interface{}{{
				"state": "state-planted-by-the-test-0123456789abcdef", "codeVerifier": "verifier-0123456789abcdef0123456789abcdef0123",
				"nonce": "nonce-0123456789abcdef", "created": created.Unix()}}})
			sealed, err := cipher.Encrypt(string(plain))
			if err != nil {
				t.Fatal(err)
			}
			return sealed
		}
		body := `{"pageUrl":"https://www.example.com/?code=some-code&state=state-planted-by-the-test-0123456789abcdef"}`
		post := func(created time.Time) *browser.Response {
			req := httptest.NewRequest(http.MethodPost, AgentBase+"/login/end", strings.NewReader(body))
			req.Header.Set("Origin", SPAOrigin)
			req.Header.Set("Content-Type", "application/json")
			req.AddCookie(&http.Cookie{Name: "example-login", Value: loginCookie(created)})
			rec := httptest.NewRecorder()
			d.host.ServeHTTP(rec, req)
			return &browser.Response{Status: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
		}
		// A fresh pending login goes on to the token endpoint (which refuses the made-up code)...
		expect(t, "9 minutes old", post(time.Now().Add(-9*time.Minute)), http.StatusBadRequest, "authorization_error")
		calls := d.p.Calls(fakeas.EndpointToken)
		// ...an expired one is not a pending login any more.
		resp := post(time.Now().Add(-11 * time.Minute))
		expect(t, "11 minutes old", resp, http.StatusBadRequest, "invalid_request")
		if d.p.Calls(fakeas.EndpointToken) != calls {
			t.Fatal("an expired pending login reached the token endpoint")
		}
	}},
	// The -login cookie keeps the 5 newest pending logins: the sixth login drops the first.
	{"at most 5 pending logins", func(t *testing.T, roles Roles) {
		d := newDeployment(t, roles, deploymentOptions{})
		var callbacks []string
		for i := 0; i < 6; i++ {
			callbacks = append(callbacks, d.authorize(d.startLogin()))
		}
		if n := len(d.cookie("example-login")); n > 2048 {
			t.Fatalf("the -login cookie holding 5 logins is %d bytes", n)
		}
		expect(t, "the oldest login", d.endLogin(callbacks[0]), http.StatusBadRequest, "invalid_request")
		expect(t, "the newest login", d.endLogin(callbacks[5]), http.StatusOK, "")
	}},
	// ID tokens with one unknown kid cause one JWKS fetch in 30 seconds, however many arrive.
	{"unknown kid refetch rate limit", func(t *testing.T, roles Roles) {
		d := newDeployment(t, roles, deploymentOptions{})
		d.p.SignWithUnpublishedKey(true)
		for i := 0; i < 3; i++ {
			expect(t, "ID token with an unknown kid", d.endLogin(d.authorize(d.startLogin())), http.StatusBadRequest, "invalid_request")
		}
		if calls := d.p.Calls(fakeas.EndpointJWKS); calls != 1 {
			t.Fatalf("3 ID tokens with one unknown kid made %d JWKS fetches, want 1", calls)
		}
	}},
	// An ID token from a refresh with a wrong iss or aud, expired or unsigned is refused with 400
	// and no cookie is rewritten.
	{"invalid ID token on refresh", func(t *testing.T, roles Roles) {
		tampers := map[string]func(c, h map[string]interface{}){
			"wrong iss": func(c, h map[string]interface{}) { c["iss"] = "https://evil.example" },
			"wrong aud": func(c, h map[string]interface{}) { c["aud"] = "another-client" },
			"expired":   func(c, h map[string]interface{}) { c["exp"] = time.Now().Add(-time.Hour).Unix() },
			"alg none":  func(c, h map[string]interface{}) { h["alg"] = "none" },
		}
		names := make([]string, 0, len(tampers))
		for name := range tampers {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			d := newDeployment(t, roles, deploymentOptions{})
			csrf := d.login()
			d.p.TamperIDToken(tampers[name])
			resp := d.post("/refresh", "", csrfHeader(csrf))
			expect(t, name, resp, http.StatusBadRequest, "invalid_request")
			if len(resp.SetCookies) != 0 {
				t.Fatalf("%s: the refresh still set %q", name, resp.SetCookies)
			}
		}
	}},
	// The agent and phantomToken refuse an authorization server whose certificate they cannot
	// verify; insecureSkipVerify (phantomToken) turns the check off.
	{"back-channel TLS verified by default", func(t *testing.T, roles Roles) {
		p := fakeas.NewProvider(t, fakeas.ProviderOptions{TLS: true})
		agent, err := roles("oauthAgent")(AgentConfig(p, nil), http.NotFoundHandler())
		if err != nil {
			t.Fatal(err)
		}
		b := browser.New(SPAOrigin, agent)
		expect(t, "agent, self-signed authorization server", b.Do(t, http.MethodPost, AgentBase+"/login/start", "", nil),
			http.StatusBadGateway, "authorization_server_error")
		if p.Calls(fakeas.EndpointDiscovery) != 0 {
			t.Fatal("the discovery request was answered over an unverified connection")
		}
		cfg := map[string]interface{}{"introspectionEndpoint": p.IntrospectionURL(), "clientId": fakeas.IntrospectionClientID,
			"clientSecret": fakeas.IntrospectionClientSecret, "timeoutSeconds": "2"}
		phantom, err := roles("phantomToken")(cfg, http.NotFoundHandler())
		if err != nil {
			t.Fatal(err)
		}
		if rec := callWithToken(phantom, "tls-default-token"); rec.Code != http.StatusBadGateway {
			t.Fatalf("phantomToken, self-signed introspection endpoint: %d", rec.Code)
		}
		if p.Calls(fakeas.EndpointIntrospection) != 0 {
			t.Fatal("the token was sent over an unverified connection")
		}
		cfg["insecureSkipVerify"] = "true"
		insecure, err := roles("phantomToken")(cfg, http.NotFoundHandler())
		if err != nil {
			t.Fatal(err)
		}
		if rec := callWithToken(insecure, "tls-insecure-token"); rec.Code != http.StatusUnauthorized {
			t.Fatalf("phantomToken with insecureSkipVerify: %d, want 401 (the endpoint reached, the token inactive)", rec.Code)
		}
	}},
	// The agent does not start without a client secret, or with another client authentication.
	{"confidential client only", func(t *testing.T, roles Roles) {
		p := fakeas.NewProvider(t, fakeas.ProviderOptions{})
		for _, tc := range []struct {
			extra map[string]interface{}
			want  string
		}{
			{map[string]interface{}{"clientSecret": nil}, "clientSecret"},
			{map[string]interface{}{"clientSecret": "  "}, "clientSecret"},
			{map[string]interface{}{"clientAuthMethod": "none"}, "clientAuthMethod"},
			{map[string]interface{}{"clientAuthMethod": "private_key_jwt"}, "clientAuthMethod"},
		} {
			_, err := roles("oauthAgent")(AgentConfig(p, tc.extra), http.NotFoundHandler())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%v: New error %v, want one naming %s", tc.extra, err, tc.want)
			}
		}
	}},
	// A token response or JWKS over 256 KiB is refused with 502.
	{"back-channel answers bounded to 256 KiB", func(t *testing.T, roles Roles) {
		huge := `{"access_token":"` + strings.Repeat("a", 300*1024) + `","token_type":"Bearer"}`
		for _, endpoint := range []string{fakeas.EndpointToken, fakeas.EndpointJWKS} {
			d := newDeployment(t, roles, deploymentOptions{})
			d.p.Fail(endpoint, fakeas.Fault{Garbage: true, Body: huge, ContentType: "application/json"})
			expect(t, endpoint, d.endLogin(d.authorize(d.startLogin())), http.StatusBadGateway, "authorization_server_error")
		}
	}},
	// Configuration errors name the key, never the secret or key value given.
	{"configuration errors hide secrets", func(t *testing.T, roles Roles) {
		p := fakeas.NewProvider(t, fakeas.ProviderOptions{})
		const secret = "s3cret-Value-that-must-not-be-echoed"
		badKey := "zz" + agentKey[2:]
		for _, tc := range []struct {
			role string
			cfg  map[string]interface{}
			not  string
		}{
			{"bffToken", map[string]interface{}{"cookieNamePrefix": "example", "encryptionKey": badKey, "trustedWebOrigins": SPAOrigin}, badKey},
			{"bffToken", map[string]interface{}{"cookieNamePrefix": "example", "encryptionKey": agentKey + "00", "trustedWebOrigins": SPAOrigin}, agentKey},
			{"bffToken", map[string]interface{}{"cookieNamePrefix": "example", "encryptionKey": agentKey, "previousEncryptionKeys": badKey, "trustedWebOrigins": SPAOrigin}, badKey},
			{"bffToken", map[string]interface{}{"cookieNamePrefix": "example", "encryptionKey": agentKey, "encryptionKeyy": agentKey, "trustedWebOrigins": SPAOrigin}, agentKey},
			{"oauthAgent", AgentConfig(p, map[string]interface{}{"clientSecret": secret, "clientSecretFile": "/nonexistent"}), secret},
			{"oauthAgent", AgentConfig(p, map[string]interface{}{"clientSecrett": secret}), secret},
			{"oauthAgent", AgentConfig(p, map[string]interface{}{"encryptionKey": badKey}), badKey},
			{"phantomToken", map[string]interface{}{"introspectionEndpoint": "not a url", "clientId": "c", "clientSecret": secret}, secret},
			{"phantomToken", map[string]interface{}{"introspectionEndpoint": p.IntrospectionURL(), "clientId": "c", "clientSecret": secret, "clientSecretFile": "/nonexistent"}, secret},
		} {
			_, err := roles(tc.role)(tc.cfg, http.NotFoundHandler())
			if err == nil {
				t.Errorf("%s %v: New succeeded", tc.role, tc.cfg)
				continue
			}
			if strings.Contains(err.Error(), tc.not) || strings.Contains(err.Error(), tc.not[:16]) {
				t.Errorf("%s: the configuration error repeats a secret: %v", tc.role, err)
			}
		}
	}},
}

// badOrigins are Origin values that must never pass: none, the opaque origin of sandboxed frames
// and file: pages, other sites, a sibling that only shares the site, the trusted host over plain
// HTTP or with an explicit port, and look-alikes.
var badOrigins = []string{
	"", "null", UntrustedOrigin, "https://evil.www.example.com", "https://www.example.com.evil.example",
	"http://www.example.com", "https://www.example.com:443", "https://WWW.EXAMPLE.COM", "https://www.example.com/",
	"https://www.example.com, https://malicious-site.com",
}

func contains(list []string, s string) bool {
	for _, item := range list {
		if item == s {
			return true
		}
	}
	return false
}

// SecretsNeverLogged runs the three roles at logLevel debug through a session's every step and
// through their failures (a wrong client secret, an invalid ID token, a session the authorization
// server ended, forged and replayed states, an injected code, rejected API calls, introspection
// that is refused, down or inactive, authorization server faults), and checks that no log line
// holds any secret of the run: the client secrets and their Basic credentials, the cookie key, a
// cookie value, an access, refresh or ID token, the phantom JWT, the CSRF token, a code, a
// code_verifier, a state or a nonce. capture starts capturing the roles' log lines; only the
// compiled roles can be captured (interpreted roles write to the process's standard output).
func SecretsNeverLogged(t *testing.T, roles Roles, capture requestcases.LogCapture) {
	const agentSecret = "agent-client-secret-Zq8Xw3vN"
	const wrongSecret = "wrong-client-secret-Kp2Lm9Qr"
	const wrongIntrospectionSecret = "wrong-introspection-secret-7Hd"
	debug := map[string]interface{}{"logLevel": "debug"}
	secrets := map[string]bool{
		agentSecret: true, wrongSecret: true, fakeas.IntrospectionClientSecret: true, wrongIntrospectionSecret: true, agentKey: true,
	}
	for _, pair := range [][2]string{
		{"spa-client", agentSecret}, {"spa-client", wrongSecret},
		{fakeas.IntrospectionClientID, fakeas.IntrospectionClientSecret}, {fakeas.IntrospectionClientID, wrongIntrospectionSecret},
	} {
		basic := base64.StdEncoding.EncodeToString([]byte(pair[0] + ":" + pair[1]))
		secrets[basic] = true
	}
	addLogin := func(authorizationURL, callback string) {
		for _, u := range []string{authorizationURL, callback} {
			parsed, _ := url.Parse(u)
			for _, name := range []string{"state", "nonce", "code"} {
				if v := parsed.Query().Get(name); v != "" {
					secrets[v] = true
				}
			}
		}
	}

	stop := capture()
	logs := ""
	stopped := false
	finish := func() string {
		if !stopped {
			stopped = true
			logs = stop()
		}
		return logs
	}
	defer finish()

	d := newDeployment(t, roles, deploymentOptions{
		provider: fakeas.ProviderOptions{ClientSecret: agentSecret},
		agent:    debug, bff: debug, phantom: debug,
	})
	p := d.p
	afterTokens := func() {
		for _, token := range tokensOf(p) {
			secrets[token] = true
		}
		if form, _ := p.LastTokenRequest(); form != nil {
			for _, name := range []string{"code", "code_verifier", "refresh_token", "client_secret"} {
				if v := form.Get(name); v != "" {
					secrets[v] = true
				}
			}
		}
	}
	loginAndRecord := func(d *deployment) *browser.Response {
		authorizationURL := d.startLogin()
		callback := d.authorize(authorizationURL)
		addLogin(authorizationURL, callback)
		resp := d.endLogin(callback)
		afterTokens()
		if csrf, _ := resp.JSON(t)["csrf"].(string); csrf != "" {
			secrets[csrf] = true
		}
		return resp
	}

	// A whole session.
	loginAndRecord(d)
	csrf, _ := d.endLogin(SPAOrigin + "/").JSON(t)["csrf"].(string)
	d.get("/userInfo")
	d.get("/claims")
	d.browser.Do(t, http.MethodGet, apiURL, "", nil)
	d.browser.Do(t, http.MethodPost, apiURL, `{}`, csrfHeader(csrf))
	if jwt := strings.TrimPrefix(d.api.lastAuthorization(), "Bearer "); jwt != "" {
		secrets[jwt] = true
	} else {
		t.Fatal("the API received no JWT")
	}
	d.post("/refresh", "", csrfHeader(csrf))
	afterTokens()

	// Rejections by the agent, bffToken and phantomToken.
	d.post("/refresh", "", csrfHeader("wrong"))
	d.post("/logout", "", nil)
	d.browser.Do(t, http.MethodPost, apiURL, `{}`, csrfHeader("wrong"))
	d.browser.Do(t, http.MethodPost, apiURL, `{}`, nil)
	send(t, d.host, http.MethodGet, apiURL, UntrustedOrigin, [][2]string{{"example-at", d.cookie("example-at")}}, nil)
	send(t, d.host, http.MethodGet, apiURL, SPAOrigin, [][2]string{{"example-at", d.cookie("example-at")[:40] + "AAAA" + d.cookie("example-at")[44:]}}, nil)
	send(t, d.host, http.MethodGet, apiURL, SPAOrigin, [][2]string{{"example-at", d.cookie("example-csrf")}}, nil)
	send(t, d.host, http.MethodGet, apiURL, SPAOrigin, [][2]string{{"example-at", d.cookie("example-auth")}}, nil)
	d.endLogin(SPAOrigin + "/?code=forged-code-0123456789&state=forged-state-0123456789")
	d.endLogin(SPAOrigin + "/?error=access_denied&error_description=denied&state=whatever-state-0123")

	// A replayed state and an injected code.
	d.startLogin()
	authorizationURL := d.startLogin()
	callback := d.authorize(authorizationURL)
	addLogin(authorizationURL, callback)
	d.endLogin(callback)
	afterTokens()
	d.endLogin(callback)
	attacker := browser.New(SPAOrigin, d.host)
	attackerURL := attacker.Do(t, http.MethodPost, AgentBase+"/login/start", "", nil).JSON(t)["authorizationRequestUrl"].(string)
	attackerCallback := d.authorize(attackerURL)
	addLogin(attackerURL, attackerCallback)
	victimURL := d.startLogin()
	victimCallback := d.authorize(victimURL)
	addLogin(victimURL, victimCallback)
	injected, _ := url.Parse(victimCallback)
	q := injected.Query()
	q.Set("code", mustQuery(t, attackerCallback, "code"))
	injected.RawQuery = q.Encode()
	d.endLogin(injected.String())
	afterTokens()

	// An expired access token, at the agent and at the API (introspection: inactive).
	csrf, _ = d.endLogin(SPAOrigin + "/").JSON(t)["csrf"].(string)
	p.ExpireAccessTokens()
	d.get("/userInfo")
	d.browser.Do(t, http.MethodGet, apiURL, "", nil)
	d.post("/refresh", "", csrfHeader(csrf))
	afterTokens()

	// Introspection refused (wrong secret), unreachable and answering 503, with a live token.
	liveToken := tokensOf(p)[0]
	for _, cfg := range []map[string]interface{}{
		{"clientSecret": wrongIntrospectionSecret},
		{"introspectionEndpoint": fakeas.ClosedURL() + "/introspect"},
	} {
		full := map[string]interface{}{"introspectionEndpoint": p.IntrospectionURL(), "clientId": fakeas.IntrospectionClientID,
			"clientSecret": fakeas.IntrospectionClientSecret, "timeoutSeconds": "1", "logLevel": "debug"}
		for k, v := range cfg {
			full[k] = v
		}
		phantom, err := roles("phantomToken")(full, http.NotFoundHandler())
		if err != nil {
			t.Fatal(err)
		}
		callWithToken(phantom, liveToken)
	}
	p.Fail(fakeas.EndpointIntrospection, fakeas.Fault{Status: http.StatusServiceUnavailable})
	d.browser.Do(t, http.MethodGet, apiURL, "", nil)
	p.Heal(fakeas.EndpointIntrospection)

	// Authorization server faults.
	p.Fail(fakeas.EndpointUserinfo, fakeas.Fault{Down: true})
	d.get("/userInfo")
	p.Heal(fakeas.EndpointUserinfo)
	p.Fail(fakeas.EndpointRefresh, fakeas.Fault{Status: http.StatusInternalServerError})
	d.post("/refresh", "", csrfHeader(csrf))
	p.Heal(fakeas.EndpointRefresh)

	// The session ends at the authorization server, then a logout.
	p.RevokeRefreshTokens()
	d.post("/refresh", "", csrfHeader(csrf))
	loginAndRecord(d)
	csrf, _ = d.endLogin(SPAOrigin + "/").JSON(t)["csrf"].(string)
	secrets[csrf] = true
	d.post("/logout", "", csrfHeader(csrf))

	// An invalid ID token.
	p.TamperIDToken(func(c, h map[string]interface{}) { c["nonce"] = "another-nonce-0123456789" })
	loginAndRecord(d)
	p.TamperIDToken(nil)

	// A token endpoint fault during the code exchange.
	p.Fail(fakeas.EndpointToken, fakeas.Fault{Status: http.StatusInternalServerError, Body: `{"error":"server_error"}`})
	authorizationURL = d.startLogin()
	callback = d.authorize(authorizationURL)
	addLogin(authorizationURL, callback)
	d.endLogin(callback)
	p.Heal(fakeas.EndpointToken)
	afterTokens()

	// A wrong client secret at the token endpoint.
	wrong, err := roles("oauthAgent")(AgentConfig(p, map[string]interface{}{"clientSecret": wrongSecret, "logLevel": "debug"}), http.NotFoundHandler())
	if err != nil {
		t.Fatal(err)
	}
	w := &deployment{t: t, p: p, host: d.answers.recording(wrong)}
	w.browser = browser.New(SPAOrigin, w.host)
	loginAndRecord(w)

	// Every cookie value that the roles set during the run.
	for _, a := range d.answers.all() {
		for _, c := range a.header.Values("Set-Cookie") {
			value := strings.SplitN(strings.SplitN(c, ";", 2)[0], "=", 2)[1]
			if value != "" {
				secrets[value] = true
			}
		}
	}

	logs = finish()
	for _, want := range []string{"role=oauthAgent", "role=bffToken", "role=phantomToken", " INF ", " WRN ", " ERR "} {
		if !strings.Contains(logs, want) {
			t.Errorf("the run logged no line with %q: it did not exercise what it checks", want)
		}
	}
	if len(secrets) < 40 {
		t.Errorf("the run collected only %d secrets", len(secrets))
	}
	for secret := range secrets {
		if len(secret) < 8 {
			continue
		}
		for _, part := range secretParts(secret) {
			if strings.Contains(logs, part) {
				t.Errorf("a log line contains a secret (%d characters, starting %.6q...)", len(secret), secret)
				break
			}
		}
	}
	if t.Failed() {
		t.Log(logs)
	}
}

// secretParts returns a secret and, for a long one, its first and last 16 characters, so that a
// truncated secret in a log is found too. A JWT's first characters are its common header, so for
// a JWT the start of its payload and its signature are taken instead.
func secretParts(s string) []string {
	parts := []string{s}
	if len(s) <= 32 {
		return parts
	}
	if segments := strings.Split(s, "."); len(segments) == 3 && strings.HasPrefix(s, "eyJ") {
		for _, seg := range segments[1:] {
			if len(seg) > 16 {
				parts = append(parts, seg[:16], seg[len(seg)-16:])
			}
		}
		return parts
	}
	return append(parts, s[:16], s[len(s)-16:])
}
