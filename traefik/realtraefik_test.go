package traefik_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tokenhandler/traefik-token-handler/internal/cookiecrypt"
	"github.com/tokenhandler/traefik-token-handler/testsupport/browser"
	"github.com/tokenhandler/traefik-token-handler/testsupport/fakeas"
	"github.com/tokenhandler/traefik-token-handler/traefik/stack"
)

// echoUpstream answers with the request headers it received, as JSON.
func echoUpstream(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]interface{}{"path": r.URL.Path, "headers": r.Header})
	}))
	t.Cleanup(srv.Close)
	return srv
}

// realTraefik starts bin/traefik in local plugin mode with the given dynamic configuration and
// waits until the router answers at host/path.
func realTraefik(t *testing.T, dynamic, host, path string) (base string, traefik *stack.Process) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts the real Traefik")
	}
	work := t.TempDir()
	dynFile, err := stack.WriteDynamic(work, dynamic)
	if err != nil {
		t.Fatal(err)
	}
	dynDir := filepath.Dir(dynFile)
	addr, err := stack.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	p, err := stack.StartTraefik(stack.TraefikOptions{Root: repoRoot, WorkDir: work, Addr: addr, DynamicDir: dynDir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.Stop()
		if t.Failed() {
			t.Logf("Traefik output:\n%s", p.Output())
		}
	})
	base = "http://" + addr
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := stack.WaitHTTP(ctx, p, base+path, host, time.Minute, stack.NotNotFound); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(p.Output(), "Plugins are disabled") {
		t.Fatalf("Traefik could not load the plugin:\n%s", p.Output())
	}
	return base, p
}

func send(t *testing.T, method, url, host string, headers map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, body
}

const opaqueCookie4e46 = "AcYBf995tTBVsLtQLvOuLUZXHm2c-XqP8t7SKmhBiQtzy5CAw4h_RF6rXyg6kHrvhb8x4WaLQC6h3mw6a3O3Q9A"

// TestRealTraefikBFFToken runs Traefik v3.6.12 with the plugin in local mode and a bffToken
// router in front of an echo upstream, as a user would.
func TestRealTraefikBFFToken(t *testing.T) {
	upstream := echoUpstream(t)
	dynamic := `
http:
  routers:
    api:
      rule: Host(` + "`api.example.localhost`" + `) && PathPrefix(` + "`/api`" + `)
      middlewares: [bff-token]
      service: echo
  middlewares:
    bff-token:
      plugin:
        tokenhandler:
          bffToken:
            cookieNamePrefix: example
            encryptionKey: 4e4636356d65563e4c73233847503e3b21436e6f7629724950526f4b5e2e4e50
            trustedWebOrigins: [http://www.example.localhost:8080]
  services:
    echo:
      loadBalancer:
        servers:
          - url: ` + upstream.URL + `
`
	base, traefik := realTraefik(t, dynamic, "api.example.localhost", "/api/data")
	browser := map[string]string{
		"Origin":     "http://www.example.localhost:8080",
		"Cookie":     "example-at=" + opaqueCookie4e46 + "; theme=dark",
		"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/156.0",
		"Accept":     "application/json",
	}

	resp, body := send(t, http.MethodGet, base+"/api/data", "api.example.localhost", browser)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("valid cookie: status %d, body %s", resp.StatusCode, body)
	}
	var echoed struct {
		Headers http.Header `json:"headers"`
	}
	if err := json.Unmarshal(body, &echoed); err != nil {
		t.Fatalf("upstream answer %s: %v", body, err)
	}
	if got := echoed.Headers.Get("Authorization"); got != "Bearer 42665300-efe8-419d-be52-07b53e208f46" {
		t.Errorf("upstream Authorization = %q", got)
	}
	if got := echoed.Headers.Get("Cookie"); got != "" {
		t.Errorf("upstream received the Cookie header %q", got)
	}
	if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "http://www.example.localhost:8080" {
		t.Errorf("Access-Control-Allow-Origin = %q", got)
	}

	tampered := map[string]string{}
	for k, v := range browser {
		tampered[k] = v
	}
	tampered["Cookie"] = "example-at=" + opaqueCookie4e46[:40] + "A" + opaqueCookie4e46[41:]
	resp, body = send(t, http.MethodGet, base+"/api/data", "api.example.localhost", tampered)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("tampered cookie: status %d, body %s", resp.StatusCode, body)
	}
	if want := `{"code":"unauthorized","message":"Access denied due to missing or invalid credentials"}`; string(body) != want {
		t.Errorf("401 body = %s, want %s", body, want)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("401 Content-Type = %q", ct)
	}
	if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "http://www.example.localhost:8080" {
		t.Errorf("401 Access-Control-Allow-Origin = %q", got)
	}

	time.Sleep(200 * time.Millisecond) // let the log line reach the buffer
	logs := traefik.Output()
	if !strings.Contains(logs, "the example-at cookie is invalid") {
		t.Errorf("no log line names the failed check; Traefik output:\n%s", logs)
	}
	if strings.Contains(logs, opaqueCookie4e46[:30]) || strings.Contains(logs, "42665300-efe8") {
		t.Error("a cookie or token appears in Traefik's output")
	}
}

// TestRealTraefikStackedBFFAndPhantom stacks bffToken and phantomToken on one router: the
// browser's cookie becomes an opaque bearer token, which introspection turns into the JWT that
// the upstream receives; a second call is served from the cache.
func TestRealTraefikStackedBFFAndPhantom(t *testing.T) {
	upstream := echoUpstream(t)
	introspection := fakeas.NewIntrospector(t)
	cipher, err := cookiecrypt.NewCipher("4e4636356d65563e4c73233847503e3b21436e6f7629724950526f4b5e2e4e50", nil)
	if err != nil {
		t.Fatal(err)
	}
	const opaque = "active-stacked-7f3a"
	cookie, _ := cipher.Encrypt(opaque)
	dynamic := `
http:
  routers:
    api:
      rule: Host(` + "`api.example.localhost`" + `) && PathPrefix(` + "`/api`" + `)
      middlewares: [bff-token, phantom-token]
      service: echo
  middlewares:
    bff-token:
      plugin:
        tokenhandler:
          bffToken:
            cookieNamePrefix: example
            encryptionKey: 4e4636356d65563e4c73233847503e3b21436e6f7629724950526f4b5e2e4e50
            trustedWebOrigins: [http://www.example.localhost:8080]
    phantom-token:
      plugin:
        tokenhandler:
          phantomToken:
            introspectionEndpoint: ` + introspection.URL() + `
            clientId: ` + fakeas.IntrospectionClientID + `
            clientSecret: ` + fakeas.IntrospectionClientSecret + `
            requiredScopes: [read]
  services:
    echo:
      loadBalancer:
        servers:
          - url: ` + upstream.URL + `
`
	base, _ := realTraefik(t, dynamic, "api.example.localhost", "/api/data")
	headers := map[string]string{"Origin": "http://www.example.localhost:8080", "Cookie": "example-at=" + cookie}
	for i := 0; i < 3; i++ {
		resp, body := send(t, http.MethodGet, base+"/api/data", "api.example.localhost", headers)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("call %d: status %d, body %s", i, resp.StatusCode, body)
		}
		var echoed struct {
			Headers http.Header `json:"headers"`
		}
		_ = json.Unmarshal(body, &echoed)
		if got, want := echoed.Headers.Get("Authorization"), "Bearer "+fakeas.JWTFor(opaque); got != want {
			t.Fatalf("call %d: upstream Authorization = %q, want the JWT", i, got)
		}
		if echoed.Headers.Get("Accept") == "application/jwt" {
			t.Fatal("the introspection Accept header leaked upstream")
		}
	}
	if calls := introspection.Calls(opaque); calls != 1 {
		t.Fatalf("3 API calls made %d introspection calls, want 1", calls)
	}
	if got := introspection.LastHeaders().Get("Accept"); got != "application/jwt" {
		t.Errorf("introspection Accept = %q", got)
	}

	// An inactive token: the phantom role answers 401 with its challenge.
	inactive, _ := cipher.Encrypt("inactive-stacked")
	headers["Cookie"] = "example-at=" + inactive
	resp, body := send(t, http.MethodGet, base+"/api/data", "api.example.localhost", headers)
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Fatalf("inactive token: status %d, WWW-Authenticate %q, body %s", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), body)
	}
}

// TestRealTraefikWholeChain runs the three roles in the real Traefik as a user deploys them: the
// agent on a router to noop@internal, and an API router with bffToken then phantomToken. A login
// against the in-process OpenID Connect provider, then API calls that arrive with the JWT.
func TestRealTraefikWholeChain(t *testing.T) {
	upstream := echoUpstream(t)
	p := fakeas.NewProvider(t, fakeas.ProviderOptions{RedirectURI: "http://www.example.localhost:8080/"})
	const key = "4e4636356d65563e4c73233847503e3b21436e6f7629724950526f4b5e2e4e50"
	dynamic := stack.Chain{
		Issuer: p.Issuer(), IntrospectionURL: p.IntrospectionURL(), ClientID: fakeas.IntrospectionClientID,
		ClientSecret: fakeas.IntrospectionClientSecret, Upstream: upstream.URL, RedirectURI: "http://www.example.localhost:8080/",
		Origin: "http://www.example.localhost:8080", Key: key, RequiredScope: "read",
	}.YAML()
	base, traefik := realTraefik(t, dynamic, "api.example.localhost", "/oauth-agent/claims")
	b := browser.New("http://www.example.localhost:8080", nil)
	b.Host = "api.example.localhost"

	resp := b.Do(t, http.MethodPost, base+"/oauth-agent/login/start", "", nil)
	if resp.Status != http.StatusOK {
		t.Fatalf("/login/start: %d %s", resp.Status, resp.Body)
	}
	callback, err := p.Authorize(resp.JSON(t)["authorizationRequestUrl"].(string))
	if err != nil {
		t.Fatal(err)
	}
	resp = b.Do(t, http.MethodPost, base+"/oauth-agent/login/end", `{"pageUrl":"`+callback+`"}`, nil)
	login := resp.JSON(t)
	if resp.Status != http.StatusOK || login["isLoggedIn"] != true {
		t.Fatalf("/login/end: %d %s", resp.Status, resp.Body)
	}
	for i := 0; i < 3; i++ {
		resp = b.Do(t, http.MethodGet, base+"/api/data", "", nil)
		if resp.Status != http.StatusOK {
			t.Fatalf("API call %d: %d %s", i, resp.Status, resp.Body)
		}
		var echoed struct {
			Headers http.Header `json:"headers"`
		}
		_ = json.Unmarshal(resp.Body, &echoed)
		authz := echoed.Headers.Get("Authorization")
		if !strings.HasPrefix(authz, "Bearer ey") || strings.Count(authz, ".") != 2 || echoed.Headers.Get("Cookie") != "" {
			t.Fatalf("the API received Authorization %q, Cookie %q", authz, echoed.Headers.Get("Cookie"))
		}
	}
	if calls := p.Calls(fakeas.EndpointIntrospection); calls != 1 {
		t.Errorf("3 API calls made %d introspection calls, want 1", calls)
	}
	resp = b.Do(t, http.MethodGet, base+"/oauth-agent/userInfo", "", nil)
	if resp.Status != http.StatusOK || resp.JSON(t)["given_name"] != "Demo" {
		t.Fatalf("/userInfo: %d %s", resp.Status, resp.Body)
	}
	csrf := login["csrf"].(string)
	resp = b.Do(t, http.MethodPost, base+"/oauth-agent/logout", "", map[string]string{"X-Example-Csrf": csrf})
	if resp.Status != http.StatusOK || !strings.Contains(resp.JSON(t)["url"].(string), "id_token_hint=") {
		t.Fatalf("/logout: %d %s", resp.Status, resp.Body)
	}
	resp = b.Do(t, http.MethodGet, base+"/api/data", "", nil)
	if resp.Status != http.StatusUnauthorized {
		t.Fatalf("API call after logout: %d", resp.Status)
	}
	if strings.Contains(traefik.Output(), csrf) {
		t.Error("the CSRF token appears in Traefik's output")
	}
}

// TestRealTraefikWholeChainV2 runs the v2 API (agentApi: v2 on the agent and bffToken) through
// Traefik, requested as @curity/token-handler-js-assistant requests it.
func TestRealTraefikWholeChainV2(t *testing.T) {
	upstream := echoUpstream(t)
	p := fakeas.NewProvider(t, fakeas.ProviderOptions{RedirectURI: "http://www.example.localhost:8080/"})
	dynamic := stack.Chain{
		Issuer: p.Issuer(), IntrospectionURL: p.IntrospectionURL(), ClientID: fakeas.IntrospectionClientID,
		ClientSecret: fakeas.IntrospectionClientSecret, Upstream: upstream.URL, RedirectURI: "http://www.example.localhost:8080/",
		Origin: "http://www.example.localhost:8080", Key: "4e4636356d65563e4c73233847503e3b21436e6f7629724950526f4b5e2e4e50",
		RequiredScope: "read", AgentAPI: "v2",
	}.YAML()
	base, _ := realTraefik(t, dynamic, "api.example.localhost", "/oauth-agent/session")
	b := browser.New("http://www.example.localhost:8080", nil)
	b.Host = "api.example.localhost"
	v2 := map[string]string{"Token-Handler-Version": "1", "Accept": "application/json"}
	form := map[string]string{"Token-Handler-Version": "1", "Content-Type": "application/x-www-form-urlencoded;charset=UTF-8"}
	call := func(method, path, body string, headers map[string]string, status int) map[string]interface{} {
		t.Helper()
		resp := b.Do(t, method, base+path, body, headers)
		if resp.Status != status || resp.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("%s %s: %d %q %s, want %d", method, path, resp.Status, resp.Header.Get("Content-Type"), resp.Body, status)
		}
		return resp.JSON(t)
	}

	if got := call(http.MethodGet, "/oauth-agent/session", "", v2, http.StatusOK); got["is_logged_in"] != false {
		t.Fatalf("session before login: %v", got)
	}
	if got := call(http.MethodGet, "/oauth-agent/session", "", nil, http.StatusUnauthorized); got["error_code"] != "unauthorized_request" {
		t.Fatalf("session without the header: %v", got)
	}
	start := call(http.MethodPost, "/oauth-agent/login/start", "", form, http.StatusOK)
	callback, err := p.Authorize(start["authorization_url"].(string))
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(callback)
	login := call(http.MethodPost, "/oauth-agent/login/end", u.RawQuery, form, http.StatusOK)
	if login["is_logged_in"] != true || login["id_token_claims"] == nil || login["access_token_expires_in"] == nil {
		t.Fatalf("login/end: %v", login)
	}
	if session := call(http.MethodGet, "/oauth-agent/session", "", v2, http.StatusOK); session["access_token_expires_in"] == nil {
		t.Fatalf("session: %v", session)
	}

	for _, c := range []struct {
		method  string
		headers map[string]string
		status  int
	}{
		{http.MethodGet, nil, http.StatusOK},
		{http.MethodPost, v2, http.StatusOK},
		{http.MethodPost, nil, http.StatusUnauthorized},
		{http.MethodDelete, nil, http.StatusUnauthorized},
	} {
		resp := b.Do(t, c.method, base+"/api/data", "", c.headers)
		if resp.Status != c.status {
			t.Fatalf("%s /api/data with %v: %d %s, want %d", c.method, c.headers, resp.Status, resp.Body, c.status)
		}
	}

	if refreshed := call(http.MethodPost, "/oauth-agent/refresh", "", form, http.StatusOK); refreshed["access_token_expires_in"] == nil {
		t.Fatalf("refresh: %v", refreshed)
	}
	logout := call(http.MethodPost, "/oauth-agent/logout", "", v2, http.StatusOK)
	if !strings.Contains(logout["logout_url"].(string), "id_token_hint=") {
		t.Fatalf("logout: %v", logout)
	}
	if resp := b.Do(t, http.MethodGet, base+"/api/data", "", nil); resp.Status != http.StatusUnauthorized {
		t.Fatalf("API call after logout: %d", resp.Status)
	}
}
