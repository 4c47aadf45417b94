package scenarios

import (
	"crypto"
	"net/http"
	"net/http/httptest"
	"net/url"
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

// Agent test fixture values.
const (
	AgentBase       = "https://api.example.com/oauth-agent"
	SPAOrigin       = "https://www.example.com"
	UntrustedOrigin = "https://malicious-site.com"
	agentKey        = "4e4636356d65563e4c73233847503e3b21436e6f7629724950526f4b5e2e4e50"
	agentRotatedKey = "7b99279ab87533d3c238db874a842a91ee26a76027f3c03c317504963d2c9926"
	jsonContentType = "application/json"
)

// sessionCookieSet is what ending a session clears: the session cookies, -auth and -id on their
// current and old paths (contract §6.5) and the old -idhint, then every chunk name the token
// cookies may have been written as (contract §6.1, with the default maxCookieChunks of 4).
var sessionCookieSet = "example-auth=;example-auth=;example-at=;example-id=;example-id=;example-csrf=;example-idhint=;" +
	chunkNames(4, "example-auth", "example-at", "example-id")

// decryptCookie decrypts a cookie value written with agentKey, or "" when it does not decrypt.
func decryptCookie(t testing.TB, value string) string {
	c, err := cookiecrypt.NewCipher(agentKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := c.Decrypt(value)
	return plain
}

// refreshAnswer is what one /refresh answered: its status and the refresh token of the -auth
// cookie it wrote.
type refreshAnswer struct {
	status int
	auth   string
}

// cookieHeader is the Cookie header the browser sends to rawURL.
func (f *agentFixture) cookieHeader(rawURL string) string {
	u, _ := url.Parse(rawURL)
	var pairs []string
	for _, c := range f.browser.Jar.Cookies(u) {
		pairs = append(pairs, c.Name+"="+c.Value)
	}
	return strings.Join(pairs, "; ")
}

// refreshWith posts /refresh with a Cookie header as one tab holds it, outside the browser's jar.
func (f *agentFixture) refreshWith(cookieHeader, csrf string) refreshAnswer {
	req := httptest.NewRequest(http.MethodPost, AgentBase+"/refresh", nil)
	req.Header.Set("Origin", SPAOrigin)
	req.Header.Set("Cookie", cookieHeader)
	req.Header.Set("X-Example-Csrf", csrf)
	rec := httptest.NewRecorder()
	f.agent.ServeHTTP(rec, req)
	answer := refreshAnswer{status: rec.Code}
	for _, c := range (&http.Response{Header: rec.Header()}).Cookies() {
		if c.Name == "example-auth" && c.Value != "" && answer.auth == "" {
			answer.auth = decryptCookie(f.t, c.Value)
		}
	}
	return answer
}

// refreshTogether sends n /refresh requests of the browser's session at the same moment.
func (f *agentFixture) refreshTogether(n int, csrf string) []refreshAnswer {
	cookies := f.cookieHeader(AgentBase + "/refresh")
	answers := make([]refreshAnswer, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			answers[i] = f.refreshWith(cookies, csrf)
		}(i)
	}
	close(start)
	wg.Wait()
	return answers
}

// withProfileHost is cookieProfile host plus extra.
func withProfileHost(extra map[string]interface{}) map[string]interface{} {
	out := map[string]interface{}{"cookieProfile": "host"}
	for k, v := range extra {
		out[k] = v
	}
	return out
}

// chunkNames lists "<name>-1=;" to "<name>-<n>=;" for each name, in order.
func chunkNames(n int, names ...string) string {
	var b strings.Builder
	for _, name := range names {
		for i := 1; i <= n; i++ {
			b.WriteString(name + "-" + strconv.Itoa(i) + "=;")
		}
	}
	return b.String()
}

// AgentConfig is an oauthAgent configuration for the fake provider p; extra overrides keys, and
// a nil value removes one.
func AgentConfig(p *fakeas.Provider, extra map[string]interface{}) map[string]interface{} {
	cfg := map[string]interface{}{
		"issuer":                p.Issuer(),
		"clientId":              p.Options().ClientID,
		"clientSecret":          p.Options().ClientSecret,
		"redirectUri":           p.Options().RedirectURI,
		"postLogoutRedirectUri": SPAOrigin + "/",
		"cookieNamePrefix":      "example",
		"encryptionKey":         agentKey,
		"trustedWebOrigins":     SPAOrigin,
		"timeoutSeconds":        "2",
	}
	if p.Options().ClientAuth == "client_secret_post" {
		cfg["clientAuthMethod"] = "client_secret_post"
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

// agentFixture is a provider, an agent built from it, and a browser on the SPA's origin.
type agentFixture struct {
	t       *testing.T
	build   requestcases.Builder
	p       *fakeas.Provider
	agent   http.Handler
	browser *browser.Browser
	next    *nextRecorder
}

type nextRecorder struct {
	mu    sync.Mutex
	calls int
}

func (n *nextRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n.mu.Lock()
	n.calls++
	n.mu.Unlock()
	w.WriteHeader(http.StatusTeapot)
}

func newAgentFixture(t *testing.T, build requestcases.Builder, opts fakeas.ProviderOptions, extra map[string]interface{}) *agentFixture {
	t.Helper()
	p := fakeas.NewProvider(t, opts)
	next := &nextRecorder{}
	h, err := build(AgentConfig(p, extra), next)
	if err != nil {
		t.Fatal(err)
	}
	return &agentFixture{t: t, build: build, p: p, agent: h, browser: browser.New(SPAOrigin, h), next: next}
}

func (f *agentFixture) post(path, body string, headers map[string]string) *browser.Response {
	f.t.Helper()
	return f.browser.Do(f.t, http.MethodPost, AgentBase+path, body, headers)
}

func (f *agentFixture) get(path string, headers map[string]string) *browser.Response {
	f.t.Helper()
	return f.browser.Do(f.t, http.MethodGet, AgentBase+path, "", headers)
}

// startLogin posts /login/start and returns the authorization request URL.
func (f *agentFixture) startLogin(body string) string {
	f.t.Helper()
	resp := f.post("/login/start", body, nil)
	if resp.Status != http.StatusOK {
		f.t.Fatalf("/login/start: %d %s", resp.Status, resp.Body)
	}
	u, _ := resp.JSON(f.t)["authorizationRequestUrl"].(string)
	if u == "" {
		f.t.Fatalf("/login/start: no authorizationRequestUrl in %s", resp.Body)
	}
	return u
}

// endLogin posts /login/end with pageUrl.
func (f *agentFixture) endLogin(pageURL string) *browser.Response {
	f.t.Helper()
	return f.post("/login/end", `{"pageUrl":"`+pageURL+`"}`, nil)
}

// login runs a whole login and returns the CSRF token.
func (f *agentFixture) login() string {
	f.t.Helper()
	callback, err := f.p.Authorize(f.startLogin(""))
	if err != nil {
		f.t.Fatal(err)
	}
	resp := f.endLogin(callback)
	body := resp.JSON(f.t)
	if resp.Status != http.StatusOK || body["handled"] != true || body["isLoggedIn"] != true {
		f.t.Fatalf("/login/end: %d %s", resp.Status, resp.Body)
	}
	csrf, _ := body["csrf"].(string)
	if csrf == "" {
		f.t.Fatal("/login/end gave no csrf")
	}
	return csrf
}

func (f *agentFixture) csrfHeader(csrf string) map[string]string {
	return map[string]string{"X-Example-Csrf": csrf}
}

func expect(t *testing.T, what string, resp *browser.Response, status int, code string) {
	t.Helper()
	if resp.Status != status || (code != "" && resp.Code() != code) {
		t.Fatalf("%s: %d %s, want %d %s", what, resp.Status, resp.Body, status, code)
	}
	if code != "" && !strings.HasPrefix(resp.Header.Get("Content-Type"), jsonContentType) {
		t.Fatalf("%s: Content-Type %q", what, resp.Header.Get("Content-Type"))
	}
}

// clearedNames returns "name=;" for every Set-Cookie that clears a cookie, in order.
func clearedNames(resp *browser.Response) string {
	var b strings.Builder
	for _, c := range resp.SetCookies {
		if strings.Contains(c, "=;") && strings.Contains(c, "Max-Age=0") {
			b.WriteString(c[:strings.Index(c, "=")+1] + ";")
		}
	}
	return b.String()
}

// AgentAll runs every OAuth Agent scenario as a subtest: Curity's mocha matrix, the steps of its
// end-to-end script, and the cases the contract adds.
func AgentAll(t *testing.T, build requestcases.Builder) {
	for _, s := range agentScenarios {
		s := s
		t.Run(s.name, func(t *testing.T) { s.run(t, build) })
	}
}

type agentScenario struct {
	name string
	run  func(t *testing.T, build requestcases.Builder)
}

var agentScenarios = []agentScenario{
	{"Curity's end-to-end script, steps 1 to 26", curityEndToEndScript},
	{"preflight from an untrusted origin gets no CORS headers", func(t *testing.T, build requestcases.Builder) {
		f := newAgentFixture(t, build, fakeas.ProviderOptions{}, nil)
		f.browser.Origin = UntrustedOrigin
		resp := f.browser.Do(t, http.MethodOptions, AgentBase+"/login/start", "", map[string]string{"Access-Control-Request-Method": "POST"})
		if resp.Status != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Fatalf("%d, ACAO %q", resp.Status, resp.Header.Get("Access-Control-Allow-Origin"))
		}
	}},
	{"preflight from the trusted origin allows the methods and requested headers", func(t *testing.T, build requestcases.Builder) {
		f := newAgentFixture(t, build, fakeas.ProviderOptions{}, nil)
		resp := f.browser.Do(t, http.MethodOptions, AgentBase+"/refresh", "", map[string]string{
			"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type, x-example-csrf"})
		h := resp.Header
		if resp.Status != http.StatusNoContent || h.Get("Access-Control-Allow-Origin") != SPAOrigin ||
			h.Get("Access-Control-Allow-Credentials") != "true" || !strings.Contains(h.Get("Access-Control-Allow-Methods"), "POST") ||
			h.Get("Access-Control-Allow-Headers") != "content-type,x-example-csrf" {
			t.Fatalf("%d %v", resp.Status, h)
		}
	}},
	{"requests from an untrusted origin are rejected without CORS headers", func(t *testing.T, build requestcases.Builder) {
		f := newAgentFixture(t, build, fakeas.ProviderOptions{}, nil)
		f.browser.Origin = UntrustedOrigin
		for _, path := range []string{"/login/start", "/login/end", "/refresh", "/logout"} {
			resp := f.post(path, `{"pageUrl":"https://www.example.com/"}`, nil)
			expect(t, path, resp, http.StatusUnauthorized, "unauthorized_request")
			if resp.Header.Get("Access-Control-Allow-Origin") != "" {
				t.Fatalf("%s: an untrusted origin got Access-Control-Allow-Origin", path)
			}
		}
		for _, path := range []string{"/userInfo", "/claims"} {
			expect(t, path, f.get(path, nil), http.StatusUnauthorized, "unauthorized_request")
		}
		f.browser.Origin = ""
		expect(t, "no Origin", f.post("/login/start", "", nil), http.StatusUnauthorized, "unauthorized_request")
		f.browser.Origin = "null"
		expect(t, "Origin null", f.post("/login/start", "", nil), http.StatusUnauthorized, "unauthorized_request")
	}},
	{"an unauthenticated page load reports logged out", func(t *testing.T, build requestcases.Builder) {
		f := newAgentFixture(t, build, fakeas.ProviderOptions{}, nil)
		resp := f.endLogin("https://www.example.com/")
		expect(t, "/login/end", resp, http.StatusOK, "")
		if body := resp.JSON(t); body["handled"] != false || body["isLoggedIn"] != false || body["csrf"] != nil {
			t.Fatalf("%s", resp.Body)
		}
		if resp.Header.Get("Access-Control-Allow-Origin") != SPAOrigin || resp.Header.Get("Access-Control-Allow-Credentials") != "true" {
			t.Fatalf("CORS headers missing: %v", resp.Header)
		}
	}},
	{"login start builds a code flow request with PKCE, state and nonce", func(t *testing.T, build requestcases.Builder) {
		f := newAgentFixture(t, build, fakeas.ProviderOptions{}, nil)
		u, err := url.Parse(f.startLogin(""))
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		if u.Scheme+"://"+u.Host+u.Path != f.p.AuthorizationURL() || q.Get("client_id") != "spa-client" ||
			q.Get("redirect_uri") != "https://www.example.com/" || q.Get("response_type") != "code" ||
			q.Get("scope") != "openid profile" || q.Get("code_challenge_method") != "S256" ||
			len(q.Get("code_challenge")) != 43 || len(q.Get("state")) < 43 || len(q.Get("nonce")) < 43 {
			t.Fatalf("authorization request %s", u)
		}
		if f.browser.Cookie(AgentBase+"/login/end", "example-login") == "" {
			t.Fatal("no -login cookie")
		}
	}},
	{"extra parameters are added, URL-encoded", func(t *testing.T, build requestcases.Builder) {
		f := newAgentFixture(t, build, fakeas.ProviderOptions{}, nil)
		claims := `{"id_token":{"acr":{"essential":true}}}`
		u, _ := url.Parse(f.startLogin(`{"extraParams":[{"key":"prompt","value":"login"},{"key":"ui_locales","value":"fr de"},{"key":"claims","value":"` + strings.ReplaceAll(claims, `"`, `\"`) + `"},{"key":"","value":"skipped"}]}`))
		q := u.Query()
		if q.Get("prompt") != "login" || q.Get("ui_locales") != "fr de" || q.Get("claims") != claims || strings.Contains(u.RawQuery, " ") {
			t.Fatalf("authorization request %s", u)
		}
	}},
	{"extra parameters that the agent sets itself are refused", func(t *testing.T, build requestcases.Builder) {
		f := newAgentFixture(t, build, fakeas.ProviderOptions{}, nil)
		for _, key := range []string{"client_id", "redirect_uri", "state", "nonce", "code_challenge", "code_challenge_method", "response_type", "scope", "Redirect_URI"} {
			resp := f.post("/login/start", `{"extraParams":[{"key":"`+key+`","value":"x"}]}`, nil)
			expect(t, key, resp, http.StatusBadRequest, "invalid_request")
		}
	}},
	{"the code flow signs in and sets the cookies with their attributes", func(t *testing.T, build requestcases.Builder) {
		f := newAgentFixture(t, build, fakeas.ProviderOptions{}, nil)
		callback, err := f.p.Authorize(f.startLogin(""))
		if err != nil {
			t.Fatal(err)
		}
		resp := f.endLogin(callback)
		body := resp.JSON(t)
		if resp.Status != http.StatusOK || body["handled"] != true || body["isLoggedIn"] != true || body["csrf"] == "" {
			t.Fatalf("%d %s", resp.Status, resp.Body)
		}
		want := map[string]string{
			"example-at":    "; Path=/; HttpOnly; Secure; SameSite=Strict",
			"example-csrf":  "; Path=/; HttpOnly; Secure; SameSite=Strict",
			"example-auth":  "; Path=/oauth-agent; HttpOnly; Secure; SameSite=Strict",
			"example-id":    "; Path=/oauth-agent; HttpOnly; Secure; SameSite=Strict",
			"example-login": "=; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
		}
		// Contract §6.5: -auth and -id moved to the agent's path; writing them clears the same
		// names on their old paths, where a browser may still hold them.
		legacy := map[string]string{
			"example-auth=": "=; Path=/oauth-agent/refresh; HttpOnly; Secure; SameSite=Strict; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
			"example-id=":   "=; Path=/oauth-agent/claims; HttpOnly; Secure; SameSite=Strict; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
		}
		for _, c := range resp.SetCookies {
			name := c[:strings.Index(c, "=")]
			if clear, ok := legacy[name+"="]; ok && strings.HasPrefix(c, name+"=;") {
				if c != name+clear {
					t.Errorf("legacy %s cleared as %q", name, c)
				}
				delete(legacy, name+"=")
				continue
			}
			attrs, ok := want[name]
			if !ok {
				t.Errorf("unexpected cookie %s", name)
				continue
			}
			if name == "example-login" {
				if c != name+attrs {
					t.Errorf("cleared -login = %q", c)
				}
			} else if !strings.HasSuffix(c, attrs) || len(c) < len(name)+len(attrs)+40 {
				t.Errorf("%s = %q, want an encrypted value and %q", name, c, attrs)
			}
			delete(want, name)
		}
		for name := range want {
			t.Errorf("no Set-Cookie for %s", name)
		}
		for name := range legacy {
			t.Errorf("no Set-Cookie clearing %s on its old path", name)
		}
	}},
	{"cookie domain, base path and Secure are configurable", func(t *testing.T, build requestcases.Builder) {
		f := newAgentFixture(t, build, fakeas.ProviderOptions{}, map[string]interface{}{
			"cookieDomain": "example.com", "cookieBasePath": "/app", "cookieSecure": "false", "pathPrefix": "/app/bff"})
		callback, _ := f.p.Authorize(f.browser.Do(t, http.MethodPost, "https://api.example.com/app/bff/login/start", "", nil).JSON(t)["authorizationRequestUrl"].(string))
		resp := f.browser.Do(t, http.MethodPost, "https://api.example.com/app/bff/login/end", `{"pageUrl":"`+callback+`"}`, nil)
		found := 0
		for _, c := range resp.SetCookies {
			switch {
			case strings.Contains(c, "Max-Age=0"):
				// a cleared cookie: the -login cookie, or -auth and -id on their old paths
			case strings.HasPrefix(c, "example-at="):
				found++
				if !strings.HasSuffix(c, "; Path=/app; Domain=example.com; HttpOnly; SameSite=Strict") {
					t.Errorf("-at = %q", c)
				}
			case strings.HasPrefix(c, "example-auth="):
				found++
				if !strings.HasSuffix(c, "; Path=/app/bff; Domain=example.com; HttpOnly; SameSite=Strict") {
					t.Errorf("-auth = %q", c)
				}
			}
		}
		if found != 2 {
			t.Fatalf("cookies: %q", resp.SetCookies)
		}
	}},
	// Contract §6.2: with cookieProfile host every cookie is __Host-<prefix>-<suffix>, Path=/, no
	// Domain, Secure; the session works; and cookies a sibling host plants for the whole site
	// (Domain=example.com, no prefix, the same valid values) are never read.
	{"the host cookie profile ignores cookies a sibling host plants", func(t *testing.T, build requestcases.Builder) {
		f := newAgentFixture(t, build, fakeas.ProviderOptions{}, map[string]interface{}{"cookieProfile": "host"})
		callback, _ := f.p.Authorize(f.startLogin(""))
		resp := f.endLogin(callback)
		body := resp.JSON(t)
		if resp.Status != http.StatusOK || body["isLoggedIn"] != true {
			t.Fatalf("%d %s", resp.Status, resp.Body)
		}
		csrf, _ := body["csrf"].(string)
		for _, c := range resp.SetCookies {
			if !strings.HasPrefix(c, "__Host-example-") || !strings.Contains(c, "; Path=/; HttpOnly; Secure; SameSite=Strict") || strings.Contains(c, "Domain") {
				t.Errorf("Set-Cookie %q is not a __Host- cookie on Path=/", c)
			}
		}
		expect(t, "claims", f.get("/claims", nil), http.StatusOK, "")
		expect(t, "refresh", f.post("/refresh", "", f.csrfHeader(csrf)), http.StatusNoContent, "")

		// A sibling host plants the same (valid) values under the plain names for the whole site.
		sibling := browser.New(SPAOrigin, f.agent)
		site, _ := url.Parse("https://api.example.com/")
		var planted []*http.Cookie
		for _, name := range []string{"at", "csrf", "auth", "id"} {
			value := f.browser.Cookie("https://api.example.com"+AgentBase+"/refresh", "__Host-example-"+name)
			if name == "id" {
				value = f.browser.Cookie("https://api.example.com"+AgentBase+"/claims", "__Host-example-id")
			}
			planted = append(planted, &http.Cookie{Name: "example-" + name, Value: value, Domain: "example.com", Path: "/"})
		}
		sibling.Jar.SetCookies(site, planted)
		resp = sibling.Do(t, http.MethodPost, AgentBase+"/login/end", `{"pageUrl":"https://www.example.com/"}`, nil)
		if resp.Status != http.StatusOK || resp.JSON(t)["isLoggedIn"] != false {
			t.Fatalf("planted cookies were read: %d %s", resp.Status, resp.Body)
		}
		expect(t, "claims with planted cookies", sibling.Do(t, http.MethodGet, AgentBase+"/claims", "", nil), http.StatusUnauthorized, "unauthorized_request")
		expect(t, "refresh with planted cookies", sibling.Do(t, http.MethodPost, AgentBase+"/refresh", "", f.csrfHeader(csrf)), http.StatusUnauthorized, "unauthorized_request")

		for _, extra := range []map[string]interface{}{{"cookieDomain": "example.com"}, {"cookieSecure": "false"}} {
			if _, err := build(AgentConfig(f.p, withProfileHost(extra)), http.NotFoundHandler()); err == nil {
				t.Errorf("cookieProfile host with %v was accepted", extra)
			}
		}
	}},
	// Contract §6.1: tokens whose cookies exceed 4096 bytes are written as chunks, every
	// Set-Cookie within 4096 bytes, and the session works: claims, userinfo, refresh, logout.
	{"tokens larger than a cookie are chunked", func(t *testing.T, build requestcases.Builder) {
		f := newAgentFixture(t, build, fakeas.ProviderOptions{}, nil)
		f.p.TamperTokenResponse(func(grantType string, resp map[string]interface{}) {
			if at, ok := resp["access_token"].(string); ok {
				resp["access_token"] = at + "." + strings.Repeat("a", 5000)
			}
		})
		csrf := f.login()
		for _, name := range []string{"example-at", "example-at-1", "example-at-2"} {
			if f.browser.Cookie("https://api.example.com/", name) == "" {
				t.Fatalf("no %s cookie; cookies %q", name, f.browser.CookieNames("https://api.example.com/"))
			}
		}
		expect(t, "refresh", f.post("/refresh", "", f.csrfHeader(csrf)), http.StatusNoContent, "")
		resp := f.post("/logout", "", f.csrfHeader(csrf))
		expect(t, "logout", resp, http.StatusOK, "")
		if names := f.browser.CookieNames("https://api.example.com/"); len(names) != 0 {
			t.Fatalf("cookies left after logout: %q", names)
		}
		for _, c := range resp.SetCookies {
			if len(c) > 4096 {
				t.Errorf("a Set-Cookie of %d bytes", len(c))
			}
		}

		// Too large for maxCookieChunks: 500 server_error and no session cookie.
		small := newAgentFixture(t, build, fakeas.ProviderOptions{}, map[string]interface{}{"maxCookieChunks": "1"})
		small.p.TamperTokenResponse(func(grantType string, resp map[string]interface{}) {
			resp["access_token"] = strings.Repeat("a", 5000)
		})
		callback, _ := small.p.Authorize(small.startLogin(""))
		resp = small.endLogin(callback)
		expect(t, "a token too large", resp, http.StatusInternalServerError, "server_error")
		for _, c := range resp.SetCookies {
			if !strings.Contains(c, "Max-Age=0") {
				t.Errorf("a partial session was set: %.60q", c)
			}
		}

		// A refresh whose (rotated) tokens no longer fit: 500, and the session is over.
		grown := newAgentFixture(t, build, fakeas.ProviderOptions{}, map[string]interface{}{"maxCookieChunks": "1"})
		csrf = grown.login()
		grown.p.SetTokenSizes(fakeas.TokenSizes{RefreshToken: 5000})
		resp = grown.post("/refresh", "", grown.csrfHeader(csrf))
		expect(t, "a refresh token too large", resp, http.StatusInternalServerError, "server_error")
		if got := clearedNames(resp); got != "example-auth=;example-auth=;example-at=;example-id=;example-id=;example-csrf=;example-idhint=;"+chunkNames(1, "example-auth", "example-at", "example-id") {
			t.Fatalf("a refresh too large cleared %q, want the session", got)
		}
	}},
	// A state is used once per instance, even when the client sends the -login cookie that held it
	// again after a failed completion (the answer's -login cookie no longer holds it).
	{"a replayed login cookie cannot complete a login twice", func(t *testing.T, build requestcases.Builder) {
		f := newAgentFixture(t, build, fakeas.ProviderOptions{}, nil)
		callback, _ := f.p.Authorize(f.startLogin(""))
		loginCookie := f.browser.Cookie("https://api.example.com/", "example-login")
		f.p.Fail(fakeas.EndpointToken, fakeas.Fault{Status: http.StatusServiceUnavailable})
		expect(t, "completion while the token endpoint fails", f.endLogin(callback), http.StatusBadGateway, "authorization_server_error")
		f.p.Heal(fakeas.EndpointToken)
		replay := browser.New(SPAOrigin, f.agent)
		site, _ := url.Parse("https://api.example.com/")
		replay.Jar.SetCookies(site, []*http.Cookie{{Name: "example-login", Value: loginCookie, Path: "/"}})
		resp := replay.Do(t, http.MethodPost, AgentBase+"/login/end", `{"pageUrl":"`+callback+`"}`, nil)
		expect(t, "the same state again", resp, http.StatusBadRequest, "invalid_request")
		if f.p.Calls(fakeas.EndpointToken) != 1 {
			t.Fatalf("%d token calls, want 1", f.p.Calls(fakeas.EndpointToken))
		}
	}},
	// The authorization server's error_description reaches the SPA only with this browser's
	// state: anyone can make a page URL with an error and a description of their choosing.
	{"an error description is reflected only with a matching state", func(t *testing.T, build requestcases.Builder) {
		f := newAgentFixture(t, build, fakeas.ProviderOptions{}, nil)
		callback, _ := f.p.AuthorizeError(f.startLogin(""), "access_denied", "The user said no")
		resp := f.endLogin(callback)
		if resp.Status != http.StatusBadRequest || resp.Code() != "access_denied" || !strings.Contains(string(resp.Body), "The user said no") {
			t.Fatalf("matching state: %d %s", resp.Status, resp.Body)
		}
		forged := f.endLogin("https://www.example.com/?error=access_denied&error_description=Call+0800+to+unlock&state=forged")
		if forged.Status != http.StatusBadRequest || forged.Code() != "access_denied" || strings.Contains(string(forged.Body), "0800") {
			t.Fatalf("forged state: %d %s", forged.Status, forged.Body)
		}
	}},
	// Contract §6.4: with a server that rotates refresh tokens, concurrent refreshes of one session
	// (two tabs, or a storm of 200) make one token call, and every one answers 204 with cookies
	// holding the same new tokens.
	{"concurrent refreshes of a session make one token call", func(t *testing.T, build requestcases.Builder) {
		f := newAgentFixture(t, build, fakeas.ProviderOptions{}, nil)
		csrf := f.login()
		answers := f.refreshTogether(200, csrf)
		if n := f.p.RefreshGrants(); n != 1 {
			t.Fatalf("%d refresh grants for 200 concurrent refreshes, want 1", n)
		}
		first := ""
		for i, a := range answers {
			if a.status != http.StatusNoContent || a.auth == "" {
				t.Fatalf("refresh %d: %d, -auth %q", i, a.status, a.auth)
			}
			if first == "" {
				first = a.auth
			} else if a.auth != first {
				t.Fatalf("refresh %d wrote another refresh token than refresh 0", i)
			}
		}
	}},
	// Contract §6.4: a tab that comes back with the refresh token of two refreshes ago gets the
	// newest tokens, never rolling the browser back to a token that the server has since rotated.
	{"a late tab gets the newest refresh token", func(t *testing.T, build requestcases.Builder) {
		f := newAgentFixture(t, build, fakeas.ProviderOptions{}, nil)
		csrf := f.login()
		oldest := f.cookieHeader(AgentBase + "/refresh")
		expect(t, "first refresh", f.post("/refresh", "", f.csrfHeader(csrf)), http.StatusNoContent, "")
		expect(t, "second refresh", f.post("/refresh", "", f.csrfHeader(csrf)), http.StatusNoContent, "")
		newest := decryptCookie(t, f.browser.Cookie(AgentBase+"/refresh", "example-auth"))
		if late := f.refreshWith(oldest, csrf); late.status != http.StatusNoContent || late.auth != newest {
			t.Fatalf("the late tab got %d with another refresh token than the newest", late.status)
		}
		if n := f.p.RefreshGrants(); n != 2 {
			t.Fatalf("%d refresh grants, want 2", n)
		}
	}},
	// Contract §6.4: a tab whose refresh arrives just after another tab's (with the refresh token
	// that one rotated) gets the tokens of that refresh for refreshReuseSeconds, and is not signed
	// out; with the window off it is (session_expired).
	{"a tab that lost the refresh race is not signed out", func(t *testing.T, build requestcases.Builder) {
		for _, tc := range []struct {
			reuse      interface{}
			wantStatus int
			wantGrants int
		}{{nil, http.StatusNoContent, 1}, {"0", http.StatusUnauthorized, 1}} {
			f := newAgentFixture(t, build, fakeas.ProviderOptions{}, map[string]interface{}{"refreshReuseSeconds": tc.reuse})
			csrf := f.login()
			oldCookies := f.cookieHeader(AgentBase + "/refresh")
			expect(t, "the first tab's refresh", f.post("/refresh", "", f.csrfHeader(csrf)), http.StatusNoContent, "")
			late := f.refreshWith(oldCookies, csrf)
			if late.status != tc.wantStatus || f.p.RefreshGrants() != tc.wantGrants {
				t.Fatalf("refreshReuseSeconds %v: the second tab got %d after %d grants, want %d after %d",
					tc.reuse, late.status, f.p.RefreshGrants(), tc.wantStatus, tc.wantGrants)
			}
			if tc.wantStatus == http.StatusNoContent && late.auth != decryptCookie(t, f.browser.Cookie(AgentBase+"/refresh", "example-auth")) {
				t.Fatal("the second tab did not get the first tab's new refresh token")
			}
		}
	}},
	// Contract §6.5: /logout revokes the refresh token, then the access token (RFC 7009), with the
	// client's authentication; the old refresh token is then refused by the authorization server.
	{"logout revokes the refresh token and then the access token", func(t *testing.T, build requestcases.Builder) {
		f := newAgentFixture(t, build, fakeas.ProviderOptions{Revocation: true}, nil)
		csrf := f.login()
		oldCookies := f.cookieHeader(AgentBase + "/refresh")
		expect(t, "logout", f.post("/logout", "", f.csrfHeader(csrf)), http.StatusOK, "")
		revocations := f.p.Revocations()
		if len(revocations) != 2 || revocations[0].TokenTypeHint != "refresh_token" || revocations[0].Kind != "refresh_token" ||
			revocations[1].TokenTypeHint != "access_token" || revocations[1].Kind != "access_token" {
			t.Fatalf("revocations %+v, want the refresh token, then the access token", revocations)
		}
		if late := f.refreshWith(oldCookies, csrf); late.status != http.StatusUnauthorized {
			t.Fatalf("a refresh with the revoked refresh token answered %d, want 401", late.status)
		}
	}},
	// Contract §6.5: a revocation endpoint that hangs past timeoutSeconds, fails or answers garbage
	// does not fail the logout; revokeOnLogout false makes no revocation call.
	{"a failing revocation does not fail the logout", func(t *testing.T, build requestcases.Builder) {
		for _, tc := range []struct {
			name  string
			fault fakeas.Fault
			extra map[string]interface{}
			calls int
		}{
			{"hangs", fakeas.Fault{Delay: 3 * time.Second}, map[string]interface{}{"timeoutSeconds": "1"}, 2},
			{"answers 503", fakeas.Fault{Status: http.StatusServiceUnavailable}, nil, 2},
			{"answers garbage", fakeas.Fault{Garbage: true}, nil, 2},
			{"revokeOnLogout false", fakeas.Fault{}, map[string]interface{}{"revokeOnLogout": "false"}, 0},
		} {
			f := newAgentFixture(t, build, fakeas.ProviderOptions{Revocation: true}, tc.extra)
			csrf := f.login()
			if tc.fault != (fakeas.Fault{}) {
				f.p.Fail(fakeas.EndpointRevocation, tc.fault)
			}
			resp := f.post("/logout", "", f.csrfHeader(csrf))
			expect(t, tc.name+": logout", resp, http.StatusOK, "")
			if got := clearedNames(resp); got != sessionCookieSet {
				t.Fatalf("%s: cleared %q", tc.name, got)
			}
			if n := f.p.Calls(fakeas.EndpointRevocation); n != tc.calls {
				t.Fatalf("%s: %d revocation calls, want %d", tc.name, n, tc.calls)
			}
		}
	}},
	// Contract §6.5: a session from before -auth and -id moved to the agent's path (-auth on
	// /refresh, -id on /claims, the ID token again in -idhint on /logout) keeps working: refresh
	// reads the old -auth and clears it, and logout puts the old -idhint on the logout URL.
	{"a session with the cookie paths of before keeps working", func(t *testing.T, build requestcases.Builder) {
		f := newAgentFixture(t, build, fakeas.ProviderOptions{}, nil)
		csrf := f.login()
		site, _ := url.Parse("https://api.example.com/")
		auth := f.browser.Cookie(AgentBase+"/refresh", "example-auth")
		id := f.browser.Cookie(AgentBase+"/claims", "example-id")
		f.browser.Jar.SetCookies(site, []*http.Cookie{
			{Name: "example-auth", Path: "/oauth-agent", MaxAge: -1},
			{Name: "example-id", Path: "/oauth-agent", MaxAge: -1},
			{Name: "example-auth", Value: auth, Path: "/oauth-agent/refresh", HttpOnly: true, Secure: true},
			{Name: "example-id", Value: id, Path: "/oauth-agent/claims", HttpOnly: true, Secure: true},
			{Name: "example-idhint", Value: id, Path: "/oauth-agent/logout", HttpOnly: true, Secure: true},
		})
		expect(t, "claims with the old -id", f.get("/claims", nil), http.StatusOK, "")
		resp := f.post("/refresh", "", f.csrfHeader(csrf))
		expect(t, "refresh with the old -auth", resp, http.StatusNoContent, "")
		if names := f.browser.CookieNames(AgentBase + "/refresh"); strings.Count(strings.Join(names, " "), "example-auth") != 1 {
			t.Fatalf("after the refresh the browser sends %v to /refresh, want one -auth", names)
		}
		resp = f.post("/logout", "", f.csrfHeader(csrf))
		expect(t, "logout", resp, http.StatusOK, "")
		logoutURL, _ := url.Parse(resp.JSON(t)["url"].(string))
		if logoutURL.Query().Get("id_token_hint") == "" {
			t.Fatalf("logout URL %s has no id_token_hint", logoutURL)
		}
		for _, path := range []string{"/", "/oauth-agent", "/oauth-agent/refresh", "/oauth-agent/claims", "/oauth-agent/logout"} {
			if names := f.browser.CookieNames("https://api.example.com" + path); len(names) != 0 {
				t.Fatalf("after logout the browser still sends %v to %s", names, path)
			}
		}
	}},
	// Contract §6.6, RFC 9207: an authorization response whose iss is another issuer (a mix-up)
	// is refused before anything else, the server's own error included, and completes nothing;
	// when discovery says the server always sends iss, a response without it is refused too.
	{"an authorization response from another issuer is refused", func(t *testing.T, build requestcases.Builder) {
		f := newAgentFixture(t, build, fakeas.ProviderOptions{}, nil)
		withIss := func(callback, iss string) string {
			u, _ := url.Parse(callback)
			q := u.Query()
			q.Set("iss", iss)
			u.RawQuery = q.Encode()
			return u.String()
		}
		callback, _ := f.p.Authorize(f.startLogin(""))
		expect(t, "a code from another issuer", f.endLogin(withIss(callback, "https://evil.example.com")), http.StatusBadRequest, "invalid_request")
		errorCallback, _ := f.p.AuthorizeError(f.startLogin(""), "login_required", "")
		expect(t, "an error from another issuer", f.endLogin(withIss(errorCallback, "https://evil.example.com")), http.StatusBadRequest, "invalid_request")
		if n := f.p.Calls(fakeas.EndpointToken); n != 0 {
			t.Fatalf("%d token calls for responses from another issuer", n)
		}
		expect(t, "the code with the right iss", f.endLogin(withIss(callback, f.p.Issuer())), http.StatusOK, "")

		strict := newAgentFixture(t, build, fakeas.ProviderOptions{}, nil)
		strict.p.TamperDiscovery(func(doc map[string]interface{}) { doc["authorization_response_iss_parameter_supported"] = true })
		callback, _ = strict.p.Authorize(strict.startLogin(""))
		expect(t, "no iss where the server always sends it", strict.endLogin(callback), http.StatusBadRequest, "invalid_request")
		callback, _ = strict.p.Authorize(strict.startLogin(""))
		expect(t, "iss where the server always sends it", strict.endLogin(withIss(callback, strict.p.Issuer())), http.StatusOK, "")
	}},
	// Contract §6.6: private_key_jwt for the token, refresh and revocation calls, with RSA and EC
	// keys, a new assertion per call (iss = sub = client_id, aud = the endpoint, or the issuer
	// with clientAssertionAudience: issuer), and no secret sent.
	{"private_key_jwt authenticates every back-channel call", func(t *testing.T, build requestcases.Builder) {
		for _, tc := range []struct {
			kind, format, alg, audience string
		}{
			{fakeas.KeyRSA2048, fakeas.PEMPKCS8, "", ""},
			{fakeas.KeyRSA2048, fakeas.PEMPKCS1, "PS256", "issuer"},
			{fakeas.KeyP256, fakeas.PEMSEC1, "", ""},
			{fakeas.KeyP384, fakeas.PEMPKCS8, "", "issuer"},
			{fakeas.KeyP256, fakeas.PEMPKCS8, "", "token"},
		} {
			key := fakeas.NewKey(tc.kind)
			f := newAgentFixture(t, build, fakeas.ProviderOptions{Revocation: true, ClientAuth: "private_key_jwt", ClientPublicKeys: []crypto.PublicKey{key.Public()}},
				map[string]interface{}{"clientAuthMethod": "private_key_jwt", "clientSecret": nil, "clientKeyId": "key-1",
					"clientPrivateKeyFile": fakeas.WritePEM(t, key, tc.format), "clientAssertionAlg": tc.alg, "clientAssertionAudience": tc.audience})
			what := tc.kind + " " + tc.format + " " + tc.alg + " " + tc.audience
			csrf := f.login()
			header, claims := f.p.LastClientAssertion()
			wantAlg, wantAud := tc.alg, f.p.TokenURL()
			if wantAlg == "" {
				wantAlg = fakeas.DefaultAlg(key.Public())
			}
			if tc.audience == "issuer" {
				wantAud = f.p.Issuer()
			}
			if tc.audience == "token" {
				// Checked at logout below: the revocation calls' assertions carry the token
				// endpoint's URL too.
				defer func(f *agentFixture, what string) {
					if _, claims := f.p.LastClientAssertion(); claims["aud"] != f.p.TokenURL() {
						t.Errorf("%s: the revocation assertion's aud is %v, want the token endpoint", what, claims["aud"])
					}
				}(f, what)
			}
			if header["alg"] != wantAlg || header["kid"] != "key-1" || claims["iss"] != "spa-client" || claims["sub"] != "spa-client" || claims["aud"] != wantAud {
				t.Fatalf("%s: assertion header %v, claims %v", what, header, claims)
			}
			first := claims["jti"]
			expect(t, what+": refresh", f.post("/refresh", "", f.csrfHeader(csrf)), http.StatusNoContent, "")
			if _, claims := f.p.LastClientAssertion(); claims["jti"] == first {
				t.Fatalf("%s: the refresh reused the login's assertion", what)
			}
			expect(t, what+": logout", f.post("/logout", "", f.csrfHeader(csrf)), http.StatusOK, "")
			if revocations := f.p.Revocations(); len(revocations) != 2 {
				t.Fatalf("%s: %d revocations accepted, want 2", what, len(revocations))
			}
			if form, _ := f.p.LastTokenRequest(); form.Get("client_secret") != "" {
				t.Fatalf("%s: a client secret was sent", what)
			}
		}
	}},
	// Contract §6.6, RFC 9126: with pushedAuthorizationRequests auto (and the server requiring
	// PAR) or always, /login/start pushes the parameters with the client's authentication and the
	// browser's URL carries only client_id and request_uri; the login completes. never sends
	// them in the URL. A PAR endpoint that fails or answers garbage is 502.
	{"pushed authorization requests", func(t *testing.T, build requestcases.Builder) {
		for _, tc := range []struct {
			name     string
			required bool
			setting  interface{}
			wantPAR  bool
		}{
			{"auto, required by the server", true, nil, true},
			{"auto, not required", false, nil, false},
			{"always", false, "always", true},
			{"never, not required", false, "never", false},
		} {
			f := newAgentFixture(t, build, fakeas.ProviderOptions{RequirePAR: tc.required}, map[string]interface{}{"pushedAuthorizationRequests": tc.setting})
			authURL, _ := url.Parse(f.startLogin(""))
			q := authURL.Query()
			if gotPAR := q.Get("request_uri") != ""; gotPAR != tc.wantPAR || (gotPAR && len(q) != 2) {
				t.Fatalf("%s: authorization request URL %s", tc.name, authURL)
			}
			if tc.wantPAR {
				if form, _ := f.p.LastPushedAuthorizationRequest(); form.Get("code_challenge") == "" || form.Get("state") == "" {
					t.Fatalf("%s: pushed parameters %v", tc.name, form)
				}
			}
			callback, err := f.p.Authorize(authURL.String())
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			expect(t, tc.name+": login", f.endLogin(callback), http.StatusOK, "")
		}
		for _, fault := range []fakeas.Fault{{Status: http.StatusServiceUnavailable}, {Garbage: true}, {Status: http.StatusBadRequest, Body: `{"error":"invalid_request"}`}} {
			f := newAgentFixture(t, build, fakeas.ProviderOptions{RequirePAR: true}, nil)
			f.p.Fail(fakeas.EndpointPAR, fault)
			expect(t, "a failing PAR endpoint", f.post("/login/start", "", nil), http.StatusBadGateway, "authorization_server_error")
		}
	}},
	{"a forged state is refused", func(t *testing.T, build requestcases.Builder) {
		f := newAgentFixture(t, build, fakeas.ProviderOptions{}, nil)
		callback, _ := f.p.Authorize(f.startLogin(""))
		u, _ := url.Parse(callback)
		q := u.Query()
		q.Set("state", "ad0316c6-b4e8-11ec-b909-0242ac120002")
		u.RawQuery = q.Encode()
		expect(t, "forged state", f.endLogin(u.String()), http.StatusBadRequest, "invalid_request")
	}},
	{"a replayed state is refused", func(t *testing.T, build requestcases.Builder) {
		f := newAgentFixture(t, build, fakeas.ProviderOptions{}, nil)
		f.startLogin("") // a second pending login keeps the -login cookie alive
		callback, _ := f.p.Authorize(f.startLogin(""))
		expect(t, "first use", f.endLogin(callback), http.StatusOK, "")
		expect(t, "replay", f.endLogin(callback), http.StatusBadRequest, "invalid_request")
	}},
	{"a code response without a login cookie is refused", func(t *testing.T, build requestcases.Builder) {
		f := newAgentFixture(t, build, fakeas.ProviderOptions{}, nil)
		expect(t, "no -login", f.endLogin("https://www.example.com/?code=hi0f1340y843thy3480&state=nu2febouwefbjfewbj"), http.StatusBadRequest, "invalid_request")
	}},
	{"code injection: a code issued for another login is refused by PKCE", func(t *testing.T, build requestcases.Builder) {
		f := newAgentFixture(t, build, fakeas.ProviderOptions{}, nil)
		attacker := browser.New(SPAOrigin, f.agent)
		attackerURL := attacker.Do(t, http.MethodPost, AgentBase+"/login/start", "", nil).JSON(t)["authorizationRequestUrl"].(string)
		attackerCallback, _ := f.p.Authorize(attackerURL)
		victimCallback, _ := f.p.Authorize(f.startLogin(""))
		injected, _ := url.Parse(victimCallback)
		q := injected.Query()
		q.Set("code", mustQuery(t, attackerCallback, "code"))
		injected.RawQuery = q.Encode()
		expect(t, "injected code", f.endLogin(injected.String()), http.StatusBadRequest, "authorization_error")
	}},
	{"the token endpoint refusing the client is authorization_error", func(t *testing.T, build requestcases.Builder) {
		f := newAgentFixture(t, build, fakeas.ProviderOptions{}, map[string]interface{}{"clientSecret": "wrong"})
		callback, _ := f.p.Authorize(f.startLogin(""))
		expect(t, "wrong secret", f.endLogin(callback), http.StatusBadRequest, "authorization_error")
	}},
	{"front-channel errors are reported with their code", func(t *testing.T, build requestcases.Builder) {
		f := newAgentFixture(t, build, fakeas.ProviderOptions{}, nil)
		state := mustQuery(t, f.startLogin(""), "state")
		expect(t, "invalid_scope", f.endLogin("https://www.example.com/?error=invalid_scope&state="+state), http.StatusBadRequest, "invalid_scope")
		expect(t, "login_required", f.endLogin("https://www.example.com/?error=login_required&state="+state), http.StatusUnauthorized, "login_required")
		expect(t, "odd error code", f.endLogin("https://www.example.com/?error=%3Cscript%3E&state="+state), http.StatusBadRequest, "authorization_error")
	}},
	{"a signed-in page load reports the session and its CSRF token", func(t *testing.T, build requestcases.Builder) {
		f := newAgentFixture(t, build, fakeas.ProviderOptions{}, nil)
		csrf := f.login()
		resp := f.endLogin("https://www.example.com/deep/link?x=1")
		if body := resp.JSON(t); resp.Status != http.StatusOK || body["handled"] != false || body["isLoggedIn"] != true || body["csrf"] != csrf {
			t.Fatalf("%d %s", resp.Status, resp.Body)
		}
	}},
	{"userinfo and claims", func(t *testing.T, build requestcases.Builder) {
		f := newAgentFixture(t, build, fakeas.ProviderOptions{}, nil)
		expect(t, "userinfo without cookies", f.get("/userInfo", nil), http.StatusUnauthorized, "unauthorized_request")
		expect(t, "claims without cookies", f.get("/claims", nil), http.StatusUnauthorized, "unauthorized_request")
		f.login()
		resp := f.get("/userInfo", nil)
		if body := resp.JSON(t); resp.Status != http.StatusOK || body["given_name"] != "Demo" || body["family_name"] != "User" {
			t.Fatalf("userinfo: %d %s", resp.Status, resp.Body)
		}
		resp = f.get("/claims", nil)
		if body := resp.JSON(t); resp.Status != http.StatusOK || body["auth_time"] == nil || body["sub"] != fakeas.DemoUserSub {
			t.Fatalf("claims: %d %s", resp.Status, resp.Body)
		}
		f.p.ExpireAccessTokens()
		expect(t, "expired access token", f.get("/userInfo", nil), http.StatusUnauthorized, "token_expired")
	}},
	{"refresh rotates the tokens and needs the CSRF header", func(t *testing.T, build requestcases.Builder) {
		f := newAgentFixture(t, build, fakeas.ProviderOptions{}, nil)
		expect(t, "refresh without cookies", f.post("/refresh", "", f.csrfHeader("abc")), http.StatusUnauthorized, "unauthorized_request")
		csrf := f.login()
		expect(t, "no CSRF header", f.post("/refresh", "", nil), http.StatusUnauthorized, "unauthorized_request")
		expect(t, "wrong CSRF header", f.post("/refresh", "", f.csrfHeader("abc123")), http.StatusUnauthorized, "unauthorized_request")
		expect(t, "CSRF header as a prefix", f.post("/refresh", "", f.csrfHeader(csrf[:len(csrf)-1])), http.StatusUnauthorized, "unauthorized_request")
		before := f.browser.Cookie(AgentBase+"/refresh", "example-at")
		resp := f.post("/refresh", "", f.csrfHeader(csrf))
		if resp.Status != http.StatusNoContent {
			t.Fatalf("refresh: %d %s", resp.Status, resp.Body)
		}
		if after := f.browser.Cookie(AgentBase+"/refresh", "example-at"); after == before || after == "" {
			t.Fatal("refresh did not rewrite -at")
		}
		if r := f.post("/refresh", "", f.csrfHeader(csrf)); r.Status != http.StatusNoContent {
			t.Fatalf("refresh with the rotated refresh token: %d %s", r.Status, r.Body)
		}
		if r := f.get("/userInfo", nil); r.Status != http.StatusOK {
			t.Fatalf("userinfo after refresh: %d", r.Status)
		}
	}},
	{"an expired refresh token ends the session and clears its cookies on their paths", func(t *testing.T, build requestcases.Builder) {
		f := newAgentFixture(t, build, fakeas.ProviderOptions{}, nil)
		csrf := f.login()
		f.p.RevokeRefreshTokens()
		resp := f.post("/refresh", "", f.csrfHeader(csrf))
		expect(t, "refresh", resp, http.StatusUnauthorized, "session_expired")
		if got := clearedNames(resp); got != sessionCookieSet {
			t.Fatalf("cleared cookies %q, want %q", got, sessionCookieSet)
		}
		for _, c := range resp.SetCookies {
			if strings.HasPrefix(c, "example-auth=") && !strings.Contains(c, "Path=/oauth-agent;") && !strings.Contains(c, "Path=/oauth-agent/refresh;") {
				t.Errorf("-auth cleared on the wrong path: %q", c)
			}
			if strings.HasPrefix(c, "example-id=") && !strings.Contains(c, "Path=/oauth-agent;") && !strings.Contains(c, "Path=/oauth-agent/claims;") {
				t.Errorf("-id cleared on the wrong path: %q", c)
			}
		}
		if names := f.browser.CookieNames(AgentBase + "/refresh"); len(names) != 0 {
			t.Fatalf("the browser still holds %v", names)
		}
		body := f.endLogin("https://www.example.com/").JSON(t)
		if body["isLoggedIn"] != false {
			t.Fatal("still logged in after session_expired")
		}
	}},
	{"the token endpoint refusing a refresh otherwise is authorization_error", func(t *testing.T, build requestcases.Builder) {
		f := newAgentFixture(t, build, fakeas.ProviderOptions{}, nil)
		csrf := f.login()
		f.p.Fail(fakeas.EndpointRefresh, fakeas.Fault{Status: http.StatusBadRequest, Body: `{"error":"invalid_client"}`})
		expect(t, "refresh", f.post("/refresh", "", f.csrfHeader(csrf)), http.StatusBadRequest, "authorization_error")
	}},
	{"logout returns the end-session URL and clears the session cookies", func(t *testing.T, build requestcases.Builder) {
		f := newAgentFixture(t, build, fakeas.ProviderOptions{}, nil)
		expect(t, "logout without cookies", f.post("/logout", "", f.csrfHeader("abc")), http.StatusUnauthorized, "unauthorized_request")
		csrf := f.login()
		idToken := ""
		expect(t, "wrong CSRF", f.post("/logout", "", f.csrfHeader("abc123")), http.StatusUnauthorized, "unauthorized_request")
		resp := f.post("/logout", "", f.csrfHeader(csrf))
		expect(t, "logout", resp, http.StatusOK, "")
		u, err := url.Parse(resp.JSON(t)["url"].(string))
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		idToken = q.Get("id_token_hint")
		if u.Scheme+"://"+u.Host+u.Path != f.p.EndSessionURL() || q.Get("client_id") != "spa-client" ||
			q.Get("post_logout_redirect_uri") != SPAOrigin+"/" || strings.Count(idToken, ".") != 2 {
			t.Fatalf("logout URL %s", u)
		}
		if got := clearedNames(resp); got != sessionCookieSet {
			t.Fatalf("cleared cookies %q, want %q", got, sessionCookieSet)
		}
		for _, path := range []string{"/", "/oauth-agent", "/oauth-agent/refresh", "/oauth-agent/claims", "/oauth-agent/logout"} {
			if names := f.browser.CookieNames("https://api.example.com" + path); len(names) != 0 {
				t.Fatalf("after logout the browser still sends %v to %s", names, path)
			}
		}
	}},
	{"a malformed body is 400, not 500", func(t *testing.T, build requestcases.Builder) {
		f := newAgentFixture(t, build, fakeas.ProviderOptions{}, nil)
		expect(t, "XXX", f.post("/login/end", "XXX", nil), http.StatusBadRequest, "invalid_request")
		expect(t, "wrong shape", f.post("/login/start", `{"extraParams":"prompt"}`, nil), http.StatusBadRequest, "invalid_request")
		expect(t, "1 MB body", f.post("/login/end", `{"pageUrl":"`+strings.Repeat("a", 1<<20)+`"}`, nil), http.StatusBadRequest, "invalid_request")
	}},
	{"a bad pageUrl is 400", func(t *testing.T, build requestcases.Builder) {
		f := newAgentFixture(t, build, fakeas.ProviderOptions{}, nil)
		expect(t, "not a URL", f.endLogin("http://[::1"), http.StatusBadRequest, "invalid_request")
		expect(t, "duplicate code", f.endLogin("https://www.example.com/?code=a&code=b&state=c"), http.StatusBadRequest, "invalid_request")
		expect(t, "duplicate state", f.endLogin("https://www.example.com/?code=a&state=b&state=c"), http.StatusBadRequest, "invalid_request")
		expect(t, "huge", f.endLogin("https://www.example.com/?x="+strings.Repeat("a", 9000)), http.StatusBadRequest, "invalid_request")
		expect(t, "bad escape", f.endLogin("https://www.example.com/?code=%zz&state=1"), http.StatusBadRequest, "invalid_request")
	}},
	{"paths and methods", func(t *testing.T, build requestcases.Builder) {
		f := newAgentFixture(t, build, fakeas.ProviderOptions{}, nil)
		expect(t, "unknown path", f.post("/nothing", "", nil), http.StatusNotFound, "not_found")
		expect(t, "GET /login/start", f.get("/login/start", nil), http.StatusMethodNotAllowed, "method_not_allowed")
		f.browser.Do(t, http.MethodGet, "https://api.example.com/api/data", "", nil)
		f.browser.Do(t, http.MethodGet, "https://api.example.com/oauth-agentx", "", nil)
		if f.next.calls != 2 {
			t.Fatalf("requests outside the prefix reached next %d times, want 2", f.next.calls)
		}
	}},
	{"two tabs that start a login at the same time both finish", func(t *testing.T, build requestcases.Builder) {
		f := newAgentFixture(t, build, fakeas.ProviderOptions{}, nil)
		first, _ := f.p.Authorize(f.startLogin(""))
		second, _ := f.p.Authorize(f.startLogin(""))
		r2 := f.endLogin(second)
		r1 := f.endLogin(first)
		expect(t, "second tab", r2, http.StatusOK, "")
		expect(t, "first tab", r1, http.StatusOK, "")
		if r1.JSON(t)["csrf"] != r2.JSON(t)["csrf"] {
			t.Fatal("the two tabs got different CSRF values: the first tab's would stop working")
		}
	}},
	{"ID tokens signed with PS256 and ES256", func(t *testing.T, build requestcases.Builder) {
		for _, alg := range []string{"PS256", "ES256"} {
			f := newAgentFixture(t, build, fakeas.ProviderOptions{Alg: alg}, nil)
			f.login()
		}
	}},
	{"client_secret_post", func(t *testing.T, build requestcases.Builder) {
		f := newAgentFixture(t, build, fakeas.ProviderOptions{ClientAuth: "client_secret_post"}, nil)
		f.login()
		form, header := f.p.LastTokenRequest()
		if form.Get("client_secret") != "Password1" || header.Get("Authorization") != "" {
			t.Fatalf("token request %v %v", form, header)
		}
	}},
	{"client_secret_basic URL-encodes the credentials", func(t *testing.T, build requestcases.Builder) {
		f := newAgentFixture(t, build, fakeas.ProviderOptions{ClientSecret: "p@ss word:/+"}, nil)
		f.login()
		form, header := f.p.LastTokenRequest()
		if form.Get("client_secret") != "" || !strings.HasPrefix(header.Get("Authorization"), "Basic ") {
			t.Fatalf("token request %v %v", form, header)
		}
	}},
	{"invalid ID tokens are refused", func(t *testing.T, build requestcases.Builder) {
		cases := []struct {
			name   string
			tamper func(p *fakeas.Provider)
		}{
			{"bad nonce", func(p *fakeas.Provider) {
				p.TamperIDToken(func(c, h map[string]interface{}) { c["nonce"] = "another" })
			}},
			{"no nonce", func(p *fakeas.Provider) { p.TamperIDToken(func(c, h map[string]interface{}) { delete(c, "nonce") }) }},
			{"wrong aud", func(p *fakeas.Provider) {
				p.TamperIDToken(func(c, h map[string]interface{}) { c["aud"] = "another-client" })
			}},
			{"two audiences without azp", func(p *fakeas.Provider) {
				p.TamperIDToken(func(c, h map[string]interface{}) { c["aud"] = []interface{}{"spa-client", "other"} })
			}},
			{"wrong iss", func(p *fakeas.Provider) {
				p.TamperIDToken(func(c, h map[string]interface{}) { c["iss"] = "https://evil.example" })
			}},
			{"expired", func(p *fakeas.Provider) {
				p.TamperIDToken(func(c, h map[string]interface{}) { c["exp"] = time.Now().Add(-2 * time.Minute).Unix() })
			}},
			{"issued in the future", func(p *fakeas.Provider) {
				p.TamperIDToken(func(c, h map[string]interface{}) { c["iat"] = time.Now().Add(10 * time.Minute).Unix() })
			}},
			{"alg none", func(p *fakeas.Provider) { p.TamperIDToken(func(c, h map[string]interface{}) { h["alg"] = "none" }) }},
			{"HS256", func(p *fakeas.Provider) { p.TamperIDToken(func(c, h map[string]interface{}) { h["alg"] = "HS256" }) }},
			{"bad signature", func(p *fakeas.Provider) { p.CorruptSignatures(true) }},
			{"unknown kid", func(p *fakeas.Provider) { p.SignWithUnpublishedKey(true) }},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				f := newAgentFixture(t, build, fakeas.ProviderOptions{}, nil)
				tc.tamper(f.p)
				callback, _ := f.p.Authorize(f.startLogin(""))
				resp := f.endLogin(callback)
				expect(t, tc.name, resp, http.StatusBadRequest, "invalid_request")
				for _, c := range resp.SetCookies {
					if strings.HasPrefix(c, "example-at=") {
						t.Fatal("an invalid ID token still set the access token cookie")
					}
				}
			})
		}
	}},
	{"a key rotation at the authorization server is followed by a JWKS refetch", func(t *testing.T, build requestcases.Builder) {
		f := newAgentFixture(t, build, fakeas.ProviderOptions{}, nil)
		f.login()
		f.p.RotateKey()
		f.p.RetireOldKeys()
		f.login()
		if calls := f.p.Calls(fakeas.EndpointJWKS); calls != 2 {
			t.Fatalf("JWKS fetched %d times, want 2 (once, then once for the new kid)", calls)
		}
	}},
	{"a rotated cookie key keeps sessions with the previous key and reports others logged out", func(t *testing.T, build requestcases.Builder) {
		f := newAgentFixture(t, build, fakeas.ProviderOptions{}, nil)
		csrf := f.login()
		rotated, err := build(AgentConfig(f.p, map[string]interface{}{"encryptionKey": agentRotatedKey, "previousEncryptionKeys": agentKey}), f.next)
		if err != nil {
			t.Fatal(err)
		}
		f.browser.Handler = rotated
		if body := f.endLogin("https://www.example.com/").JSON(t); body["isLoggedIn"] != true || body["csrf"] != csrf {
			t.Fatalf("with the previous key kept: %v", body)
		}
		if r := f.post("/refresh", "", f.csrfHeader(csrf)); r.Status != http.StatusNoContent {
			t.Fatalf("refresh with the previous key kept: %d %s", r.Status, r.Body)
		}
		dropped, _ := build(AgentConfig(f.p, map[string]interface{}{"encryptionKey": agentRotatedKey}), f.next)
		other := newAgentFixture(t, build, fakeas.ProviderOptions{}, nil)
		other.login()
		other.browser.Handler = dropped
		resp := other.endLogin("https://www.example.com/")
		if body := resp.JSON(t); resp.Status != http.StatusOK || body["isLoggedIn"] != false {
			t.Fatalf("without the old key: %d %s", resp.Status, resp.Body)
		}
		if got := clearedNames(resp); got != sessionCookieSet {
			t.Fatalf("cleared %q", got)
		}
	}},
	{"discovery is lazy, retried after a failure, and checked against the issuer", func(t *testing.T, build requestcases.Builder) {
		p := fakeas.NewProvider(t, fakeas.ProviderOptions{})
		p.Fail(fakeas.EndpointDiscovery, fakeas.Fault{Status: http.StatusServiceUnavailable})
		h, err := build(AgentConfig(p, nil), http.NotFoundHandler())
		if err != nil {
			t.Fatal(err)
		}
		if p.Calls(fakeas.EndpointDiscovery) != 0 {
			t.Fatal("New fetched the discovery document")
		}
		b := browser.New(SPAOrigin, h)
		expect(t, "discovery down", b.Do(t, http.MethodPost, AgentBase+"/login/start", "", nil), http.StatusBadGateway, "authorization_server_error")
		p.Heal(fakeas.EndpointDiscovery)
		time.Sleep(2100 * time.Millisecond) // the retry interval
		expect(t, "discovery back", b.Do(t, http.MethodPost, AgentBase+"/login/start", "", nil), http.StatusOK, "")

		other := fakeas.NewProvider(t, fakeas.ProviderOptions{})
		other.SetDiscoveryIssuer("https://another-issuer.example")
		h2, _ := build(AgentConfig(other, nil), http.NotFoundHandler())
		b2 := browser.New(SPAOrigin, h2)
		expect(t, "discovery for another issuer", b2.Do(t, http.MethodPost, AgentBase+"/login/start", "", nil), http.StatusBadGateway, "authorization_server_error")
	}},
	{"configured endpoints need no discovery", func(t *testing.T, build requestcases.Builder) {
		p := fakeas.NewProvider(t, fakeas.ProviderOptions{})
		f := newAgentFixture(t, build, fakeas.ProviderOptions{}, nil)
		_ = p
		f.agent, _ = build(AgentConfig(f.p, map[string]interface{}{
			"authorizationEndpoint": f.p.AuthorizationURL(), "tokenEndpoint": f.p.TokenURL(), "userInfoEndpoint": f.p.UserinfoURL(),
			"endSessionEndpoint": f.p.EndSessionURL(), "jwksUri": f.p.JWKSURL()}), f.next)
		f.browser.Handler = f.agent
		f.login()
		if calls := f.p.Calls(fakeas.EndpointDiscovery); calls != 0 {
			t.Fatalf("discovery fetched %d times", calls)
		}
	}},
	{"authorization server failures are 502, and service resumes when it is back", func(t *testing.T, build requestcases.Builder) {
		for _, fault := range []fakeas.Fault{
			{Status: http.StatusInternalServerError},
			{Garbage: true},
			{Down: true},
			{Delay: 3 * time.Second},
		} {
			f := newAgentFixture(t, build, fakeas.ProviderOptions{}, nil)
			f.p.Fail(fakeas.EndpointToken, fault)
			callback, _ := f.p.Authorize(f.startLogin(""))
			started := time.Now()
			expect(t, "token endpoint fault", f.endLogin(callback), http.StatusBadGateway, "authorization_server_error")
			if elapsed := time.Since(started); elapsed > 3*time.Second {
				t.Errorf("the failure took %v, beyond timeoutSeconds", elapsed)
			}
			f.p.Heal(fakeas.EndpointToken)
			f.login()
			csrf := f.login()
			f.p.Fail(fakeas.EndpointUserinfo, fault)
			expect(t, "userinfo fault", f.get("/userInfo", nil), http.StatusBadGateway, "authorization_server_error")
			f.p.Fail(fakeas.EndpointRefresh, fault)
			expect(t, "refresh fault", f.post("/refresh", "", f.csrfHeader(csrf)), http.StatusBadGateway, "authorization_server_error")
		}
	}},
	{"a JWKS that is garbage is 502", func(t *testing.T, build requestcases.Builder) {
		f := newAgentFixture(t, build, fakeas.ProviderOptions{}, nil)
		f.p.Fail(fakeas.EndpointJWKS, fakeas.Fault{Garbage: true})
		callback, _ := f.p.Authorize(f.startLogin(""))
		expect(t, "garbage JWKS", f.endLogin(callback), http.StatusBadGateway, "authorization_server_error")
	}},
	{"CORS disabled: GETs need no Origin, POSTs still do", func(t *testing.T, build requestcases.Builder) {
		f := newAgentFixture(t, build, fakeas.ProviderOptions{}, map[string]interface{}{"corsEnabled": "false"})
		f.login()
		f.browser.Origin = ""
		if r := f.get("/userInfo", nil); r.Status != http.StatusOK || r.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Fatalf("same-site GET: %d %v", r.Status, r.Header)
		}
		expect(t, "same-site POST without Origin", f.post("/login/start", "", nil), http.StatusUnauthorized, "unauthorized_request")
	}},
}

func mustQuery(t *testing.T, rawURL, name string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	v := u.Query().Get(name)
	if v == "" {
		t.Fatalf("%s has no %s", rawURL, name)
	}
	return v
}

// curityEndToEndScript is Curity's curl script for its OAuth Agent
// (test/end-to-end/test-oauth-agent.sh), step by step, with the in-process provider standing in
// for the Curity Identity Server. Step 26 differs on purpose: a malformed body is 400, not 500.
func curityEndToEndScript(t *testing.T, build requestcases.Builder) {
	f := newAgentFixture(t, build, fakeas.ProviderOptions{}, nil)
	untrusted := browser.New(UntrustedOrigin, f.agent)
	anonymous := browser.New(SPAOrigin, f.agent)
	step := func(n int, what string, resp *browser.Response, status int, code string) {
		t.Helper()
		expect(t, "step "+strconv.Itoa(n)+": "+what, resp, status, code)
	}
	// 1, 2: preflights.
	resp := untrusted.Do(t, http.MethodOptions, AgentBase+"/login/start", "", nil)
	if resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatal("step 1: an untrusted preflight got Access-Control-Allow-Origin")
	}
	resp = f.browser.Do(t, http.MethodOptions, AgentBase+"/login/start", "", nil)
	if resp.Status != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != SPAOrigin {
		t.Fatalf("step 2: %d %v", resp.Status, resp.Header)
	}
	step(3, "login end from an invalid origin", untrusted.Do(t, http.MethodPost, AgentBase+"/login/end", `{"pageUrl":"https://www.example.com/"}`, nil), http.StatusUnauthorized, "unauthorized_request")
	resp = f.endLogin("https://www.example.com/")
	step(4, "unauthenticated page load", resp, http.StatusOK, "")
	if b := resp.JSON(t); b["isLoggedIn"] != false || b["handled"] != false {
		t.Fatalf("step 4: %s", resp.Body)
	}
	step(5, "login start from an invalid origin", untrusted.Do(t, http.MethodPost, AgentBase+"/login/start", "", nil), http.StatusUnauthorized, "unauthorized_request")
	authorizationURL := f.startLogin("") // 6
	callback, err := f.p.Authorize(authorizationURL)
	if err != nil {
		t.Fatal(err)
	}
	resp = f.endLogin(callback)
	step(7, "the login", resp, http.StatusOK, "")
	if b := resp.JSON(t); b["isLoggedIn"] != true || b["handled"] != true {
		t.Fatalf("step 7: %s", resp.Body)
	}
	f.startLogin("") // a pending login, so that step 8 reaches the state check
	step(8, "a malicious code and state", f.endLogin("https://www.example.com/?code=hi0f1340y843thy3480&state=nu2febouwefbjfewbj"), http.StatusBadRequest, "invalid_request")
	resp = f.endLogin("https://www.example.com/")
	step(9, "an authenticated page load", resp, http.StatusOK, "")
	csrf, _ := resp.JSON(t)["csrf"].(string)
	if resp.JSON(t)["isLoggedIn"] != true || csrf == "" {
		t.Fatalf("step 9: %s", resp.Body)
	}
	step(10, "userinfo from an untrusted origin", untrusted.Do(t, http.MethodGet, AgentBase+"/userInfo", "", nil), http.StatusUnauthorized, "unauthorized_request")
	step(11, "userinfo without cookies", anonymous.Do(t, http.MethodGet, AgentBase+"/userInfo", "", nil), http.StatusUnauthorized, "unauthorized_request")
	step(12, "userinfo", f.get("/userInfo", nil), http.StatusOK, "")
	step(13, "claims without cookies", anonymous.Do(t, http.MethodGet, AgentBase+"/claims", "", nil), http.StatusUnauthorized, "unauthorized_request")
	step(14, "claims", f.get("/claims", nil), http.StatusOK, "")
	step(15, "refresh from an untrusted origin", untrusted.Do(t, http.MethodPost, AgentBase+"/refresh", "", f.csrfHeader(csrf)), http.StatusUnauthorized, "unauthorized_request")
	step(16, "refresh without cookies", anonymous.Do(t, http.MethodPost, AgentBase+"/refresh", "", f.csrfHeader(csrf)), http.StatusUnauthorized, "unauthorized_request")
	step(17, "refresh without the CSRF header", f.post("/refresh", "", nil), http.StatusUnauthorized, "unauthorized_request")
	step(18, "refresh with a wrong CSRF value", f.post("/refresh", "", f.csrfHeader("x"+csrf)), http.StatusUnauthorized, "unauthorized_request")
	step(19, "refresh", f.post("/refresh", "", f.csrfHeader(csrf)), http.StatusNoContent, "")
	step(20, "refresh again with the rotated refresh token", f.post("/refresh", "", f.csrfHeader(csrf)), http.StatusNoContent, "")
	step(21, "logout from an invalid origin", untrusted.Do(t, http.MethodPost, AgentBase+"/logout", "", f.csrfHeader(csrf)), http.StatusUnauthorized, "unauthorized_request")
	step(22, "logout without cookies", anonymous.Do(t, http.MethodPost, AgentBase+"/logout", "", f.csrfHeader(csrf)), http.StatusUnauthorized, "unauthorized_request")
	step(23, "logout with a wrong CSRF value", f.post("/logout", "", f.csrfHeader("x"+csrf)), http.StatusUnauthorized, "unauthorized_request")
	resp = f.post("/logout", "", f.csrfHeader(csrf))
	step(24, "logout", resp, http.StatusOK, "")
	endSession, _ := resp.JSON(t)["url"].(string)
	// 25: the browser goes to the end-session URL (Curity answers 303; the fake records the call).
	r, err := http.Get(endSession)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if got := f.p.LastEndSession(); got.Get("client_id") != "spa-client" || got.Get("id_token_hint") == "" {
		t.Fatalf("step 25: the end-session endpoint got %v", got)
	}
	step(26, "a malformed JSON body", f.post("/login/end", "XXX", nil), http.StatusBadRequest, "invalid_request")
}
