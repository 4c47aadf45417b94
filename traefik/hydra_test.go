package traefik_test

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokenhandler/traefik-token-handler/internal/cookiecrypt"
	"github.com/tokenhandler/traefik-token-handler/testsupport/browser"
	"github.com/tokenhandler/traefik-token-handler/traefik/stack"
)

const (
	hydraKey    = "4e4636356d65563e4c73233847503e3b21436e6f7629724950526f4b5e2e4e50"
	hydraOrigin = "http://www.example.localhost:8080"
	hydraSPA    = hydraOrigin + "/"
)

// startHydra starts Hydra (bin/hydra, built first if missing) with its login and consent app.
func startHydra(t *testing.T) *stack.Hydra {
	t.Helper()
	if testing.Short() {
		t.Skip("starts Ory Hydra and the real Traefik")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	h, err := stack.StartHydra(ctx, stack.HydraOptions{Root: repoRoot, WorkDir: t.TempDir(), RedirectURI: hydraSPA})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		h.Stop()
		if t.Failed() {
			t.Logf("Hydra output:\n%s\nlogin app output:\n%s", h.Hydra.Output(), h.Login.Output())
		}
	})
	return h
}

// hydraChainYAML is the dynamic configuration of the agent for Hydra (spa-client with its secret)
// and of an API router with bffToken in front of upstream.
func hydraChainYAML(h *stack.Hydra, upstream string) string {
	return hydraYAML(h, hydraSetup{Upstream: upstream})
}

// hydraSetup is what hydraYAML configures. Values of the key maps are written into the YAML as
// they are (quote them where YAML needs it).
type hydraSetup struct {
	// ClientID is the agent's client (default stack.HydraClientID).
	ClientID string
	// ClientAuth are the agent's client authentication keys (default spa-client's secret).
	ClientAuth map[string]string
	// Phantom, when set, are phantomToken's keys: the API router then has [bff-token,
	// phantom-token], and when they name a jwksPath a router on that path alone (no Host, so that
	// a back-channel client on 127.0.0.1 reaches it) has phantom-token, which serves the JWKS.
	Phantom map[string]string
	// AllowTokens lets requests with a bearer token and no cookie through bffToken.
	AllowTokens bool
	// Upstream is the API's URL.
	Upstream string
}

// hydraYAML is the dynamic configuration of the agent for Hydra and of an API router in front of
// the upstream. The agent finds Hydra's endpoints (revocation included) by discovery on the
// issuer, which is on 127.0.0.1 so that the back channel resolves it.
func hydraYAML(h *stack.Hydra, s hydraSetup) string {
	if s.ClientID == "" {
		s.ClientID = stack.HydraClientID
	}
	if s.ClientAuth == nil {
		s.ClientAuth = map[string]string{"clientSecret": stack.HydraClientSecret}
	}
	var y strings.Builder
	rule := func(host, path string) string {
		if host == "" {
			return "Path(`" + path + "`)"
		}
		return "Host(`" + host + "`) && PathPrefix(`" + path + "`)"
	}
	router := func(name, rule, middlewares, service string) {
		fmt.Fprintf(&y, "    %s:\n      rule: %s\n      middlewares: [%s]\n      service: %s\n", name, rule, middlewares, service)
	}
	keys := func(m map[string]string) {
		names := make([]string, 0, len(m))
		for name := range m {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			fmt.Fprintf(&y, "            %s: %s\n", name, m[name])
		}
	}
	y.WriteString("http:\n  routers:\n")
	router("agent", rule("api.example.localhost", "/oauth-agent"), "oauth-agent", "noop@internal")
	if s.Phantom == nil {
		router("api", rule("api.example.localhost", "/api"), "bff-token", "upstream")
	} else {
		router("api", rule("api.example.localhost", "/api"), "bff-token, phantom-token", "upstream")
		if path := s.Phantom["jwksPath"]; path != "" {
			router("gateway-jwks", rule("", path), "phantom-token", "noop@internal")
		}
	}
	y.WriteString("  middlewares:\n    oauth-agent:\n      plugin:\n        tokenhandler:\n          oauthAgent:\n")
	keys(map[string]string{"issuer": h.Issuer, "clientId": s.ClientID, "scope": stack.HydraClientScope,
		"redirectUri": hydraSPA, "postLogoutRedirectUri": hydraSPA, "cookieNamePrefix": "example",
		"encryptionKey": hydraKey, "trustedWebOrigins": "[" + hydraOrigin + "]", "cookieSecure": "false"})
	keys(s.ClientAuth)
	y.WriteString("    bff-token:\n      plugin:\n        tokenhandler:\n          bffToken:\n")
	keys(map[string]string{"cookieNamePrefix": "example", "encryptionKey": hydraKey, "trustedWebOrigins": "[" + hydraOrigin + "]",
		"allowTokens": fmt.Sprint(s.AllowTokens)})
	if s.Phantom != nil {
		y.WriteString("    phantom-token:\n      plugin:\n        tokenhandler:\n          phantomToken:\n")
		keys(s.Phantom)
	}
	fmt.Fprintf(&y, "  services:\n    upstream:\n      loadBalancer:\n        servers:\n          - url: %s\n", s.Upstream)
	return y.String()
}

// hydraLoginForm starts a login at the agent and follows its authorization URL through Hydra to
// the login app's form.
func hydraLoginForm(t *testing.T, h *stack.Hydra, b *browser.Browser, agent string) visited {
	t.Helper()
	resp := b.Do(t, http.MethodPost, agent+"/login/start", "", nil)
	if resp.Status != http.StatusOK {
		t.Fatalf("/login/start: %d %s", resp.Status, resp.Body)
	}
	authURL := resp.JSON(t)["authorizationRequestUrl"].(string)
	if !strings.HasPrefix(authURL, h.AuthorizationEndpoint()+"?") {
		t.Fatalf("authorization URL %s is not at Hydra's %s", authURL, h.AuthorizationEndpoint())
	}
	page := navigate(t, b.Jar, http.MethodGet, authURL, nil, "")
	if page.status != http.StatusOK || !strings.HasPrefix(page.url, h.Options.LoginURL+"/login?") {
		t.Fatalf("the authorization request led to %s (%d), not the login form", page.url, page.status)
	}
	return page
}

// hydraSubmitLogin posts the login form with demouser's right password and follows the redirects
// (consent included) back to the SPA, whose URL carries an authorization code.
func hydraSubmitLogin(t *testing.T, b *browser.Browser, form visited) visited {
	t.Helper()
	action, fields := loginForm(t, form)
	fields.Set("username", "demouser")
	fields.Set("password", "Password1")
	page := navigate(t, b.Jar, http.MethodPost, action, fields, hydraSPA)
	callback, err := url.Parse(page.url)
	if err != nil || !strings.HasPrefix(page.url, hydraSPA+"?") || !strings.HasPrefix(callback.Query().Get("code"), "ory_ac_") {
		t.Fatalf("the sign-in ended at %s (%d): %s", page.url, page.status, page.body)
	}
	return page
}

// hydraLoginEnd ends the login at the agent with the SPA's callback URL and returns /login/end's
// answer and the CSRF header to send with data-changing requests.
func hydraLoginEnd(t *testing.T, b *browser.Browser, agent string, callback visited) (*browser.Response, map[string]string) {
	t.Helper()
	resp := b.Do(t, http.MethodPost, agent+"/login/end", `{"pageUrl":"`+callback.url+`"}`, nil)
	login := resp.JSON(t)
	if resp.Status != http.StatusOK || login["isLoggedIn"] != true || login["handled"] != true {
		t.Fatalf("/login/end: %d %s", resp.Status, resp.Body)
	}
	return resp, map[string]string{"X-Example-Csrf": login["csrf"].(string)}
}

// hydraSignIn signs demouser in through the agent and Hydra and returns the CSRF header.
func hydraSignIn(t *testing.T, h *stack.Hydra, b *browser.Browser, agent string) map[string]string {
	t.Helper()
	_, csrf := hydraLoginEnd(t, b, agent, hydraSubmitLogin(t, b, hydraLoginForm(t, h, b, agent)))
	return csrf
}

// hydraCipher decrypts the agent's cookies.
func hydraCipher(t *testing.T) *cookiecrypt.Cipher {
	t.Helper()
	cipher, err := cookiecrypt.NewCipher(hydraKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	return cipher
}

// hydraBrowser is a browser of the SPA's origin whose requests go to Traefik with the API's Host.
func hydraBrowser() *browser.Browser {
	b := browser.New(hydraOrigin, nil)
	b.Host = "api.example.localhost"
	return b
}

// TestHydraWholeChainThroughTraefik runs the agent and bffToken in the real Traefik against Ory
// Hydra v2.3.0: sign-in through the login app's form, userinfo and claims, API calls with Hydra's
// opaque access token, refreshes with rotating refresh tokens (in a row, and from two tabs at
// once), and logout with revocation.
func TestHydraWholeChainThroughTraefik(t *testing.T) {
	began := time.Now()
	h := startHydra(t)
	hydraUp := time.Since(began)
	upstream := echoUpstream(t)
	base, traefik := realTraefik(t, hydraChainYAML(h, upstream.URL), "api.example.localhost", "/oauth-agent/claims")
	t.Logf("Hydra and the login app answered after %v, Traefik after %v", hydraUp.Round(time.Millisecond), time.Since(began).Round(time.Millisecond))
	agent := base + "/oauth-agent"
	cipher := hydraCipher(t)
	b := hydraBrowser()

	// Sign in: the agent's authorization URL, Hydra's redirect to the login app, a wrong password,
	// the right one, consent, and back to the SPA with a code.
	page := hydraLoginForm(t, h, b, agent)
	action, fields := loginForm(t, page)
	fields.Set("username", "demouser")
	fields.Set("password", "Password2")
	page = navigate(t, b.Jar, http.MethodPost, action, fields, "")
	if page.status != http.StatusUnauthorized || !strings.Contains(page.body, "Invalid username or password") {
		t.Fatalf("a wrong password: %d %s", page.status, page.body)
	}
	if _, fields = loginForm(t, page); fields.Get("username") != "demouser" {
		t.Errorf("the form shown again lost the username: %v", fields)
	}
	page = hydraSubmitLogin(t, b, page)
	var params []string
	for name := range mustParse(t, page.url).Query() {
		params = append(params, name)
	}
	sort.Strings(params)
	t.Logf("sign-in: %d redirects from the form to the SPA, which gets %v", page.hops, params)

	resp, csrf := hydraLoginEnd(t, b, agent, page)
	accessToken, refreshToken, idToken := cookieToken(t, b, cipher, agent, "example-at"), cookieToken(t, b, cipher, agent, "example-auth"), cookieToken(t, b, cipher, agent, "example-id")
	if !strings.HasPrefix(accessToken, "ory_at_") || !strings.HasPrefix(refreshToken, "ory_rt_") || strings.Count(idToken, ".") != 2 {
		t.Fatalf("tokens: access %.12q, refresh %.12q, ID %.12q", accessToken, refreshToken, idToken)
	}
	t.Logf("token sizes: access %d, refresh %d, ID %d bytes; Set-Cookie headers of /login/end: %d bytes", len(accessToken), len(refreshToken), len(idToken), headerBytes(resp.SetCookies))

	// What the agent serves from Hydra: userinfo (back channel) and the ID token's claims.
	resp = b.Do(t, http.MethodGet, agent+"/userInfo", "", nil)
	if info := resp.JSON(t); resp.Status != http.StatusOK || info["sub"] != "demouser" || info["given_name"] != "Demo" || info["family_name"] != "User" {
		t.Fatalf("/userInfo: %d %s", resp.Status, resp.Body)
	}
	resp = b.Do(t, http.MethodGet, agent+"/claims", "", nil)
	claims := resp.JSON(t)
	if resp.Status != http.StatusOK || claims["iss"] != h.Issuer || claims["sub"] != "demouser" || claims["name"] != "Demo User" || claims["preferred_username"] != "demouser" {
		t.Fatalf("/claims: %d %s", resp.Status, resp.Body)
	}

	// The API receives Hydra's opaque access token from bffToken; Hydra knows it as active.
	if got := apiToken(t, b, base); got != accessToken {
		t.Fatalf("the API received %.20q, not the access token of the -at cookie", got)
	}
	active := introspect(t, h, accessToken)
	if active["active"] != true || active["sub"] != "demouser" || active["client_id"] != stack.HydraClientID || !strings.Contains(fmt.Sprint(active["scope"]), "read") {
		t.Fatalf("introspection of the access token: %v", active)
	}

	// Two refreshes in a row: Hydra rotates the refresh token each time and retires the access
	// token it replaces.
	for i := 1; i <= 2; i++ {
		resp = b.Do(t, http.MethodPost, agent+"/refresh", "", csrf)
		if resp.Status != http.StatusNoContent {
			t.Fatalf("refresh %d: %d %s", i, resp.Status, resp.Body)
		}
		newAccess, newRefresh := cookieToken(t, b, cipher, agent, "example-at"), cookieToken(t, b, cipher, agent, "example-auth")
		if newAccess == accessToken || newRefresh == refreshToken {
			t.Fatalf("refresh %d: the tokens did not change", i)
		}
		if introspect(t, h, accessToken)["active"] != false {
			t.Errorf("refresh %d: Hydra still knows the replaced access token as active", i)
		}
		accessToken, refreshToken = newAccess, newRefresh
	}
	if got := apiToken(t, b, base); got != accessToken {
		t.Fatalf("after the refreshes the API received %.20q, not the new access token", got)
	}

	// Two tabs refresh the same session at once: both get 204 and the same new refresh token
	// (the agent makes one call to Hydra; a second call with the used refresh token would have made
	// Hydra revoke the whole chain).
	tokenCalls := hydraCalls(h, "POST", "/oauth2/token")
	tabs := refreshInTabs(t, b, agent, csrf["X-Example-Csrf"], 2)
	var tabRefresh []string
	for i, tab := range tabs {
		if tab.StatusCode != http.StatusNoContent {
			t.Fatalf("tab %d's refresh: %d", i+1, tab.StatusCode)
		}
		tabRefresh = append(tabRefresh, setCookieToken(t, cipher, tab.Header, "example-auth"))
		b.Jar.SetCookies(mustParse(t, agent+"/refresh"), tab.Cookies())
	}
	if tabRefresh[0] != tabRefresh[1] || tabRefresh[0] == refreshToken || tabRefresh[0] == "" {
		t.Fatalf("the two tabs got different or unchanged refresh tokens")
	}
	if calls := hydraCalls(h, "POST", "/oauth2/token") - tokenCalls; calls != 1 {
		t.Errorf("the two tabs' refreshes made %d calls to Hydra's token endpoint, want 1", calls)
	}
	// The refresh token both tabs got is the live one at Hydra.
	resp = b.Do(t, http.MethodPost, agent+"/refresh", "", csrf)
	if resp.Status != http.StatusNoContent {
		t.Fatalf("the refresh after the two tabs': %d %s", resp.Status, resp.Body)
	}
	refreshToken, accessToken = cookieToken(t, b, cipher, agent, "example-auth"), cookieToken(t, b, cipher, agent, "example-at")
	if refreshToken == tabRefresh[0] {
		t.Fatal("the refresh after the two tabs' did not rotate the refresh token")
	}
	if resp = b.Do(t, http.MethodGet, agent+"/userInfo", "", nil); resp.Status != http.StatusOK {
		t.Fatalf("/userInfo after the refreshes: %d %s", resp.Status, resp.Body)
	}

	// Logout: the agent revokes at Hydra before it answers, and hands back Hydra's end-session URL,
	// which goes through the logout app back to the SPA.
	revocations := hydraCalls(h, "POST", "/oauth2/revoke")
	resp = b.Do(t, http.MethodPost, agent+"/logout", "", csrf)
	if resp.Status != http.StatusOK {
		t.Fatalf("/logout: %d %s", resp.Status, resp.Body)
	}
	logoutURL := resp.JSON(t)["url"].(string)
	if !strings.HasPrefix(logoutURL, h.EndSessionEndpoint()+"?") || !strings.Contains(logoutURL, "id_token_hint=") {
		t.Fatalf("logout URL %s", logoutURL)
	}
	if calls := hydraCalls(h, "POST", "/oauth2/revoke") - revocations; calls != 2 {
		t.Errorf("logout made %d calls to Hydra's revocation endpoint, want 2 (refresh token, access token)", calls)
	}
	if introspect(t, h, accessToken)["active"] != false {
		t.Error("after logout Hydra still knows the access token as active")
	}
	status, body := hydraRefresh(t, h, refreshToken)
	var refused struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	_ = json.Unmarshal(body, &refused)
	if status != http.StatusBadRequest || refused.Error != "invalid_grant" {
		t.Fatalf("Hydra's token endpoint answered the revoked refresh token with %d %s", status, body)
	}
	t.Logf("the revoked refresh token: %d %s", status, body)
	page = navigate(t, b.Jar, http.MethodGet, logoutURL, nil, hydraSPA)
	if !strings.HasPrefix(page.url, hydraSPA) {
		t.Fatalf("the end-session URL led to %s (%d): %s", page.url, page.status, page.body)
	}
	if resp = b.Do(t, http.MethodGet, base+"/api/data", "", nil); resp.Status != http.StatusUnauthorized {
		t.Errorf("API call after logout: %d", resp.Status)
	}
	if resp = b.Do(t, http.MethodGet, agent+"/userInfo", "", nil); resp.Status != http.StatusUnauthorized {
		t.Errorf("/userInfo after logout: %d", resp.Status)
	}
	for _, secret := range []string{accessToken, refreshToken, csrf["X-Example-Csrf"]} {
		if strings.Contains(traefik.Output(), secret) {
			t.Errorf("Traefik's output contains a token or the CSRF value")
		}
	}
	t.Logf("the whole test took %v", time.Since(began).Round(time.Millisecond))
}

// hydraCalls counts the requests Hydra has logged for method and path. Hydra logs a request
// before it answers, so the count is complete for every request that has been answered, give or
// take the moment the log line takes through the pipe.
func hydraCalls(h *stack.Hydra, method, path string) int {
	time.Sleep(100 * time.Millisecond)
	n := 0
	for _, line := range strings.Split(h.Hydra.Output(), "\n") {
		if strings.Contains(line, "msg=started handling request") && strings.Contains(line, " method:"+method+" path:"+path+" ") {
			n++
		}
	}
	return n
}

// visited is where a top-level navigation ended.
type visited struct {
	url    string
	status int
	body   string
	hops   int
}

// navigate is a browser's top-level navigation: it sends a GET (or a form POST) and follows
// redirects with the browser's cookies until an answer is not a redirect, or the next URL starts
// with stopAt (the SPA, which *.localhost makes unreachable from Go).
func navigate(t *testing.T, jar *cookiejar.Jar, method, rawURL string, form url.Values, stopAt string) visited {
	t.Helper()
	client := &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for hops := 0; hops < 20; hops++ {
		if stopAt != "" && strings.HasPrefix(rawURL, stopAt) {
			return visited{url: rawURL, hops: hops}
		}
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req, err := http.NewRequest(method, rawURL, body)
		if err != nil {
			t.Fatal(err)
		}
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			origin := mustParse(t, rawURL)
			req.Header.Set("Origin", origin.Scheme+"://"+origin.Host)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, rawURL, err)
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		location := resp.Header.Get("Location")
		if resp.StatusCode < 300 || resp.StatusCode > 399 || location == "" {
			return visited{url: rawURL, status: resp.StatusCode, body: string(data), hops: hops}
		}
		next, err := req.URL.Parse(location)
		if err != nil {
			t.Fatalf("%s redirects to %q: %v", rawURL, location, err)
		}
		rawURL, method, form = next.String(), http.MethodGet, nil
	}
	t.Fatalf("more than 20 redirects, the last to %s", rawURL)
	return visited{}
}

var (
	formTag     = regexp.MustCompile(`<form[^>]*\baction="([^"]*)"`)
	inputTag    = regexp.MustCompile(`<input[^>]*>`)
	inputName   = regexp.MustCompile(`\bname="([^"]*)"`)
	inputValue  = regexp.MustCompile(`\bvalue="([^"]*)"`)
	loginNeeded = []string{"login_challenge", "username", "password"}
)

// loginForm reads the login page's form: where it posts, and its fields with their values.
func loginForm(t *testing.T, page visited) (string, url.Values) {
	t.Helper()
	action := formTag.FindStringSubmatch(page.body)
	if action == nil {
		t.Fatalf("no form on %s: %s", page.url, page.body)
	}
	fields := url.Values{}
	for _, input := range inputTag.FindAllString(page.body, -1) {
		name := inputName.FindStringSubmatch(input)
		if name == nil {
			continue
		}
		value := ""
		if v := inputValue.FindStringSubmatch(input); v != nil {
			value = html.UnescapeString(v[1])
		}
		fields.Set(html.UnescapeString(name[1]), value)
	}
	for _, name := range loginNeeded {
		if _, ok := fields[name]; !ok {
			t.Fatalf("the login form has no %s field: %s", name, page.body)
		}
	}
	target, err := mustParse(t, page.url).Parse(html.UnescapeString(action[1]))
	if err != nil {
		t.Fatal(err)
	}
	return target.String(), fields
}

// cookieToken decrypts the token the browser holds in the agent's cookie name.
func cookieToken(t *testing.T, b *browser.Browser, cipher *cookiecrypt.Cipher, agent, name string) string {
	t.Helper()
	value := b.Cookie(agent+"/refresh", name)
	if strings.HasPrefix(value, "chunks-") {
		t.Fatalf("the %s cookie is chunked: this test reads single cookies only", name)
	}
	plain, err := cipher.Decrypt(value)
	if err != nil {
		t.Fatalf("the %s cookie %.20q: %v", name, value, err)
	}
	return plain
}

// setCookieToken decrypts the token an answer sets in the cookie name ("" when it sets none).
func setCookieToken(t *testing.T, cipher *cookiecrypt.Cipher, header http.Header, name string) string {
	t.Helper()
	for _, c := range (&http.Response{Header: header}).Cookies() {
		if c.Name == name && c.Value != "" {
			plain, err := cipher.Decrypt(c.Value)
			if err != nil {
				t.Fatalf("the %s cookie: %v", name, err)
			}
			return plain
		}
	}
	return ""
}

// apiToken calls the API through bffToken and returns the bearer token the upstream received.
func apiToken(t *testing.T, b *browser.Browser, base string) string {
	t.Helper()
	resp := b.Do(t, http.MethodGet, base+"/api/data", "", nil)
	if resp.Status != http.StatusOK {
		t.Fatalf("API call: %d %s", resp.Status, resp.Body)
	}
	var echoed struct {
		Headers http.Header `json:"headers"`
	}
	if err := json.Unmarshal(resp.Body, &echoed); err != nil {
		t.Fatal(err)
	}
	if echoed.Headers.Get("Cookie") != "" {
		t.Error("the API received the Cookie header")
	}
	return strings.TrimPrefix(echoed.Headers.Get("Authorization"), "Bearer ")
}

// refreshInTabs sends n /refresh requests with the browser's current cookies at the same moment,
// as n tabs of one browser would.
func refreshInTabs(t *testing.T, b *browser.Browser, agent, csrf string, n int) []*http.Response {
	t.Helper()
	target := agent + "/refresh"
	cookies := b.Jar.Cookies(mustParse(t, target))
	answers := make([]*http.Response, n)
	failures := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodPost, target, nil)
			req.Host = b.Host
			req.Header.Set("Origin", b.Origin)
			req.Header.Set("X-Example-Csrf", csrf)
			for _, c := range cookies {
				req.AddCookie(c)
			}
			<-start
			resp, err := b.Client.Do(req)
			if err != nil {
				failures[i] = err
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			answers[i] = resp
		}()
	}
	close(start)
	wg.Wait()
	for i, err := range failures {
		if err != nil {
			t.Fatalf("tab %d: %v", i+1, err)
		}
	}
	return answers
}

// introspect asks Hydra's admin API about a token. Hydra's introspection takes no client
// authentication (the admin port must not be reachable from outside).
func introspect(t *testing.T, h *stack.Hydra, token string) map[string]any {
	t.Helper()
	resp, err := http.PostForm(h.IntrospectionEndpoint(), url.Values{"token": {token}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var answer map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&answer); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("introspection: %d, %v", resp.StatusCode, err)
	}
	return answer
}

// hydraRefresh uses a refresh token at Hydra's token endpoint as the agent's client would.
func hydraRefresh(t *testing.T, h *stack.Hydra, refreshToken string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, h.TokenEndpoint(), strings.NewReader(url.Values{
		"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(stack.HydraClientID, stack.HydraClientSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, body
}

func headerBytes(values []string) int {
	n := 0
	for _, v := range values {
		n += len("Set-Cookie: ") + len(v) + 2
	}
	return n
}

func mustParse(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestHydraBuiltWithItsOwnDependencies checks that the hydra/ module selects exactly the versions
// of Hydra v2.3.0's direct requirements and carries Hydra's pop replacement, so that bin/hydra is
// the Hydra its maintainers release. (Hydra's replacement of its own client library by a nested
// directory cannot apply outside Hydra's repository; the released client is used instead.)
func TestHydraBuiltWithItsOwnDependencies(t *testing.T) {
	goList := func(args ...string) string {
		cmd := exec.Command("go", append([]string{"list", "-m"}, args...)...)
		cmd.Dir = filepath.Join(repoRoot, "hydra")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go list -m %v in hydra/: %v", args, err)
		}
		return strings.TrimSpace(string(out))
	}
	data, err := os.ReadFile(filepath.Join(goList("-f", "{{.Dir}}", "github.com/ory/hydra/v2"), "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	if version := goList("-f", "{{.Version}}", "github.com/ory/hydra/v2"); version != stack.HydraVersion {
		t.Fatalf("hydra/ selects Hydra %s, want %s", version, stack.HydraVersion)
	}
	selected := map[string]string{}
	for _, line := range strings.Split(goList("-f", "{{.Path}} {{.Version}}{{with .Replace}} => {{.Path}} {{.Version}}{{end}}", "all"), "\n") {
		if path, version, ok := strings.Cut(line, " "); ok {
			selected[path] = version
		}
	}
	requires, replaced := parseRequires(string(data))
	if len(requires) < 50 {
		t.Fatalf("read only %d requirements from Hydra's go.mod", len(requires))
	}
	for path, version := range requires {
		if replaced[path] {
			continue
		}
		if got := selected[path]; got != version {
			t.Errorf("%s: selected %s, Hydra %s requires %s", path, got, stack.HydraVersion, version)
		}
	}
	const pop = "github.com/gobuffalo/pop/v6"
	want := regexp.MustCompile(`(?m)^replace ` + regexp.QuoteMeta(pop) + ` => (\S+ \S+)$`).FindStringSubmatch(string(data))
	if want == nil || !strings.HasSuffix(selected[pop], " => "+want[1]) {
		t.Errorf("%s: selected %q, Hydra replaces it by %v", pop, selected[pop], want)
	}
}
