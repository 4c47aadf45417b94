package traefik_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tokenhandler/traefik-token-handler/testsupport/browser"
	"github.com/tokenhandler/traefik-token-handler/testsupport/fakeas"
	"github.com/tokenhandler/traefik-token-handler/traefik/stack"
)

// faultTimeout is timeoutSeconds of the agent and phantom middlewares in the fault tests.
const faultTimeout = 2 * time.Second

var faultKinds = []struct {
	name  string
	fault fakeas.Fault
}{
	{"down", fakeas.Fault{Down: true}},
	{"slow past the timeout", fakeas.Fault{Delay: faultTimeout + 2*time.Second}},
	{"5xx", fakeas.Fault{Status: http.StatusInternalServerError, Body: `{"error":"server_error"}`}},
	{"garbage", fakeas.Fault{Garbage: true}},
}

// faultStack is the real Traefik with the three roles, each discovery/JWKS fault on its own
// authorization server (discovery and keys are cached once fetched), and a plain route that must
// stay unaffected.
type faultStack struct {
	base      string
	traefik   *stack.Process
	debugURL  string
	main      *fakeas.Provider            // token, refresh, userinfo, introspection faults
	cached    map[string]*fakeas.Provider // "discovery/down", "jwks/5xx", ...
	agentHost map[string]string           // provider key -> Host of its agent router
}

func startFaultStack(t *testing.T) *faultStack {
	t.Helper()
	upstream := echoUpstream(t)
	fs := &faultStack{cached: map[string]*fakeas.Provider{}, agentHost: map[string]string{}}
	redirect := "http://www.example.localhost/"
	fs.main = fakeas.NewProvider(t, fakeas.ProviderOptions{RedirectURI: redirect})
	var routers, middlewares strings.Builder
	addAgent := func(key, host string, p *fakeas.Provider) {
		name := "agent-" + strings.NewReplacer("/", "-", " ", "-").Replace(key)
		fmt.Fprintf(&routers, "    %s:\n      rule: Host(`%s`) && PathPrefix(`/oauth-agent`)\n      middlewares: [%s]\n      service: noop@internal\n", name, host, name)
		fmt.Fprintf(&middlewares, `    %s:
      plugin:
        tokenhandler:
          oauthAgent:
            issuer: %s
            clientId: spa-client
            clientSecret: Password1
            redirectUri: %s
            cookieNamePrefix: example
            encryptionKey: 4e4636356d65563e4c73233847503e3b21436e6f7629724950526f4b5e2e4e50
            trustedWebOrigins: [http://www.example.localhost]
            cookieSecure: false
            timeoutSeconds: %d
`, name, p.Issuer(), redirect, int(faultTimeout.Seconds()))
		fs.agentHost[key] = host
	}
	addAgent("main", "api.example.localhost", fs.main)
	for _, endpoint := range []string{fakeas.EndpointDiscovery, fakeas.EndpointJWKS} {
		for i, kind := range faultKinds {
			key := endpoint + "/" + kind.name
			fs.cached[key] = fakeas.NewProvider(t, fakeas.ProviderOptions{RedirectURI: redirect})
			addAgent(key, fmt.Sprintf("%s%d.example.localhost", endpoint, i), fs.cached[key])
		}
	}
	dynamic := "http:\n  routers:\n" + routers.String() + `    api:
      rule: Host(` + "`api.example.localhost`" + `) && PathPrefix(` + "`/api`" + `)
      middlewares: [bff-token, phantom-token]
      service: echo
    plain:
      rule: Host(` + "`plain.example.localhost`" + `)
      service: echo
  middlewares:
` + middlewares.String() + `    bff-token:
      plugin:
        tokenhandler:
          bffToken:
            cookieNamePrefix: example
            encryptionKey: 4e4636356d65563e4c73233847503e3b21436e6f7629724950526f4b5e2e4e50
            trustedWebOrigins: [http://www.example.localhost]
    phantom-token:
      plugin:
        tokenhandler:
          phantomToken:
            introspectionEndpoint: ` + fs.main.IntrospectionURL() + `
            clientId: ` + fakeas.IntrospectionClientID + `
            clientSecret: ` + fakeas.IntrospectionClientSecret + `
            timeoutSeconds: ` + strconv.Itoa(int(faultTimeout.Seconds())) + `
  services:
    echo:
      loadBalancer:
        servers:
          - url: ` + upstream.URL + `
`
	work := t.TempDir()
	dynFile, err := stack.WriteDynamic(work, dynamic)
	if err != nil {
		t.Fatal(err)
	}
	dynDir := filepath.Dir(dynFile)
	addr, _ := stack.FreeAddr()
	debugAddr, _ := stack.FreeAddr()
	p, err := stack.StartTraefik(stack.TraefikOptions{Root: repoRoot, WorkDir: work, Addr: addr, DynamicDir: dynDir, DebugAddr: debugAddr})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.Stop()
		if t.Failed() {
			t.Logf("Traefik output:\n%s", p.Output())
		}
	})
	fs.base, fs.traefik, fs.debugURL = "http://"+addr, p, "http://"+debugAddr
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := stack.WaitHTTP(ctx, p, fs.base+"/", "plain.example.localhost", time.Minute, func(r *http.Response) bool { return r.StatusCode == 200 }); err != nil {
		t.Fatal(err)
	}
	for _, host := range fs.agentHost {
		if err := stack.WaitHTTP(ctx, p, fs.base+"/oauth-agent/claims", host, time.Minute, stack.NotNotFound); err != nil {
			t.Fatal(err)
		}
	}
	return fs
}

// browserFor returns a browser that talks to the agent router of the provider key.
func (fs *faultStack) browserFor(key string) *browser.Browser {
	b := browser.New("http://www.example.localhost", nil)
	b.Host = fs.agentHost[key]
	return b
}

// login signs a browser in through the agent of key with provider p.
func (fs *faultStack) login(t *testing.T, b *browser.Browser, p *fakeas.Provider) string {
	t.Helper()
	resp := b.Do(t, http.MethodPost, fs.base+"/oauth-agent/login/start", "", nil)
	if resp.Status != http.StatusOK {
		t.Fatalf("/login/start: %d %s", resp.Status, resp.Body)
	}
	callback, err := p.Authorize(resp.JSON(t)["authorizationRequestUrl"].(string))
	if err != nil {
		t.Fatal(err)
	}
	resp = b.Do(t, http.MethodPost, fs.base+"/oauth-agent/login/end", `{"pageUrl":"`+callback+`"}`, nil)
	if resp.Status != http.StatusOK {
		t.Fatalf("/login/end: %d %s", resp.Status, resp.Body)
	}
	return resp.JSON(t)["csrf"].(string)
}

// plainRouteAnswers checks that a route without the plugin answers at once. It runs beside the
// faulted call, so it reports with Errorf.
func (fs *faultStack) plainRouteAnswers(t *testing.T) {
	req, _ := http.NewRequest(http.MethodGet, fs.base+"/", nil)
	req.Host = "plain.example.localhost"
	started := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Errorf("the plain route failed during a fault: %v", err)
		return
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || time.Since(started) > 500*time.Millisecond {
		t.Errorf("the plain route answered %d after %v during a fault", resp.StatusCode, time.Since(started))
	}
}

var goroutineTotal = regexp.MustCompile(`goroutine profile: total (\d+)`)

// goroutines returns Traefik's goroutine count, from its pprof endpoint.
func (fs *faultStack) goroutines(t *testing.T) int {
	t.Helper()
	resp, err := http.Get(fs.debugURL + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	m := goroutineTotal.FindSubmatch(body)
	if m == nil {
		t.Fatalf("no goroutine count in %q", body[:min(len(body), 200)])
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

// openFiles returns Traefik's count of open file descriptors (sockets included).
func (fs *faultStack) openFiles(t *testing.T) int {
	entries, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", fs.traefik.Pid()))
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}

// expectFault runs call during a fault: it must answer status within timeoutSeconds + 1 s while
// the plain route keeps answering.
func expectFault(t *testing.T, fs *faultStack, what string, status int, call func() *browser.Response) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		time.Sleep(300 * time.Millisecond)
		fs.plainRouteAnswers(t)
	}()
	started := time.Now()
	resp := call()
	elapsed := time.Since(started)
	<-done
	if resp.Status != status || resp.Code() == "" {
		t.Errorf("%s: %d %s, want %d with a JSON error", what, resp.Status, resp.Body, status)
	}
	if elapsed > faultTimeout+time.Second {
		t.Errorf("%s: answered after %v, more than timeoutSeconds + 1 s", what, elapsed)
	}
}

// TestFaultInjectionThroughTraefik makes each back-channel call fail in each way, through the real
// Traefik: the defined status within timeoutSeconds + 1 s, other routes unaffected, normal
// service once the server is back, and no leaked goroutines or connections.
func TestFaultInjectionThroughTraefik(t *testing.T) {
	fs := startFaultStack(t)
	main := fs.browserFor("main")
	csrf := fs.login(t, main, fs.main)
	api := func() *browser.Response {
		b := browser.New("http://www.example.localhost", nil)
		b.Host = "api.example.localhost"
		b.Jar = main.Jar
		return b.Do(t, http.MethodGet, fs.base+"/api/data", "", nil)
	}
	if r := api(); r.Status != http.StatusOK {
		t.Fatalf("API before the faults: %d %s", r.Status, r.Body)
	}
	goroutinesBefore, filesBefore := fs.goroutines(t), fs.openFiles(t)

	for _, kind := range faultKinds {
		t.Run(kind.name, func(t *testing.T) {
			// Discovery: /login/start needs it.
			p := fs.cached["discovery/"+kind.name]
			b := fs.browserFor("discovery/" + kind.name)
			p.Fail(fakeas.EndpointDiscovery, kind.fault)
			expectFault(t, fs, "discovery", http.StatusBadGateway, func() *browser.Response {
				return b.Do(t, http.MethodPost, fs.base+"/oauth-agent/login/start", "", nil)
			})
			p.Heal(fakeas.EndpointDiscovery)
			time.Sleep(2100 * time.Millisecond) // the agent waits 2 s before fetching again
			fs.login(t, b, p)

			// JWKS: the first ID token needs it.
			p = fs.cached["jwks/"+kind.name]
			b = fs.browserFor("jwks/" + kind.name)
			p.Fail(fakeas.EndpointJWKS, kind.fault)
			resp := b.Do(t, http.MethodPost, fs.base+"/oauth-agent/login/start", "", nil)
			callback, err := p.Authorize(resp.JSON(t)["authorizationRequestUrl"].(string))
			if err != nil {
				t.Fatal(err)
			}
			expectFault(t, fs, "JWKS", http.StatusBadGateway, func() *browser.Response {
				return b.Do(t, http.MethodPost, fs.base+"/oauth-agent/login/end", `{"pageUrl":"`+callback+`"}`, nil)
			})
			p.Heal(fakeas.EndpointJWKS)
			time.Sleep(2100 * time.Millisecond)
			fs.login(t, b, p)

			// Token endpoint: the code exchange.
			other := fs.browserFor("main")
			fs.main.Fail(fakeas.EndpointToken, kind.fault)
			resp = other.Do(t, http.MethodPost, fs.base+"/oauth-agent/login/start", "", nil)
			callback, _ = fs.main.Authorize(resp.JSON(t)["authorizationRequestUrl"].(string))
			expectFault(t, fs, "token", http.StatusBadGateway, func() *browser.Response {
				return other.Do(t, http.MethodPost, fs.base+"/oauth-agent/login/end", `{"pageUrl":"`+callback+`"}`, nil)
			})
			fs.main.Heal(fakeas.EndpointToken)
			fs.login(t, other, fs.main)

			// Refresh.
			fs.main.Fail(fakeas.EndpointRefresh, kind.fault)
			expectFault(t, fs, "refresh", http.StatusBadGateway, func() *browser.Response {
				return main.Do(t, http.MethodPost, fs.base+"/oauth-agent/refresh", "", map[string]string{"X-Example-Csrf": csrf})
			})
			fs.main.Heal(fakeas.EndpointRefresh)
			if r := main.Do(t, http.MethodPost, fs.base+"/oauth-agent/refresh", "", map[string]string{"X-Example-Csrf": csrf}); r.Status != http.StatusNoContent {
				t.Fatalf("refresh after healing: %d %s", r.Status, r.Body)
			}

			// Userinfo.
			fs.main.Fail(fakeas.EndpointUserinfo, kind.fault)
			expectFault(t, fs, "userinfo", http.StatusBadGateway, func() *browser.Response {
				return main.Do(t, http.MethodGet, fs.base+"/oauth-agent/userInfo", "", nil)
			})
			fs.main.Heal(fakeas.EndpointUserinfo)
			if r := main.Do(t, http.MethodGet, fs.base+"/oauth-agent/userInfo", "", nil); r.Status != http.StatusOK {
				t.Fatalf("userinfo after healing: %d %s", r.Status, r.Body)
			}

			// Introspection: the refresh above gave a new access token, so the API call misses.
			if r := main.Do(t, http.MethodPost, fs.base+"/oauth-agent/refresh", "", map[string]string{"X-Example-Csrf": csrf}); r.Status != http.StatusNoContent {
				t.Fatalf("refresh: %d", r.Status)
			}
			fs.main.Fail(fakeas.EndpointIntrospection, kind.fault)
			expectFault(t, fs, "introspection", http.StatusBadGateway, api)
			fs.main.Heal(fakeas.EndpointIntrospection)
			if r := api(); r.Status != http.StatusOK {
				t.Fatalf("API after healing: %d %s", r.Status, r.Body)
			}
		})
	}

	// Timed-out calls end their connections; what is left settles within a few seconds. The slack
	// is the keep-alive connections to the ten authorization servers (two goroutines and one file
	// each), which are reused, not leaked.
	deadline := time.Now().Add(10 * time.Second)
	for {
		g, f := fs.goroutines(t), fs.openFiles(t)
		if g <= goroutinesBefore+25 && f <= filesBefore+25 {
			t.Logf("goroutines %d -> %d, open files %d -> %d", goroutinesBefore, g, filesBefore, f)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the faults Traefik has %d goroutines (was %d) and %d open files (was %d)", g, goroutinesBefore, f, filesBefore)
		}
		time.Sleep(500 * time.Millisecond)
	}
}
