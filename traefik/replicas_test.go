package traefik_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokenhandler/traefik-token-handler/internal/cookiecrypt"
	"github.com/tokenhandler/traefik-token-handler/testsupport/browser"
	"github.com/tokenhandler/traefik-token-handler/testsupport/fakeas"
	"github.com/tokenhandler/traefik-token-handler/traefik/stack"
)

const (
	replicaKeyOld = "4e4636356d65563e4c73233847503e3b21436e6f7629724950526f4b5e2e4e50"
	replicaKeyNew = "7b99279ab87533d3c238db874a842a91ee26a76027f3c03c317504963d2c9926"
)

// replica is one Traefik instance with its own dynamic configuration file.
type replica struct {
	base    string
	dynFile string
	process *stack.Process
}

func replicaConfig(p *fakeas.Provider, upstream, key, previous string) string {
	return stack.Chain{
		Issuer: p.Issuer(), IntrospectionURL: p.IntrospectionURL(), ClientID: fakeas.IntrospectionClientID,
		ClientSecret: fakeas.IntrospectionClientSecret, Upstream: upstream, RedirectURI: "http://www.example.localhost/",
		Origin: "http://www.example.localhost", Key: key, PreviousKey: previous,
	}.YAML()
}

func startReplica(t *testing.T, config string) *replica {
	t.Helper()
	work := t.TempDir()
	dynFile, err := stack.WriteDynamic(work, config)
	if err != nil {
		t.Fatal(err)
	}
	r := &replica{dynFile: dynFile}
	dynDir := filepath.Dir(dynFile)
	addr, _ := stack.FreeAddr()
	p, err := stack.StartTraefik(stack.TraefikOptions{Root: repoRoot, WorkDir: work, Addr: addr, DynamicDir: dynDir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.Stop()
		if t.Failed() {
			t.Logf("replica output:\n%s", p.Output())
		}
	})
	r.base, r.process = "http://"+addr, p
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := stack.WaitHTTP(ctx, p, r.base+"/oauth-agent/claims", "api.example.localhost", time.Minute, stack.NotNotFound); err != nil {
		t.Fatal(err)
	}
	return r
}

// TestReplicasBehindABalancer runs two Traefik instances behind a round-robin balancer, as
// replicas run in a Kubernetes deployment: a login through one and API calls through the other
// work; a key rotation on both, the old key kept as a previous key, keeps the session; and each
// instance introspects a token at most once per cache period.
func TestReplicasBehindABalancer(t *testing.T) {
	p := fakeas.NewProvider(t, fakeas.ProviderOptions{RedirectURI: "http://www.example.localhost/"})
	upstream := echoUpstream(t)
	config := replicaConfig(p, upstream.URL, replicaKeyOld, "")
	a, b := startReplica(t, config), startReplica(t, config)

	var turn int64
	targets := []*url.URL{mustURL(t, a.base), mustURL(t, b.base)}
	balancer := httptest.NewServer(&httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(targets[atomic.AddInt64(&turn, 1)%2])
		r.Out.Host = r.In.Host
	}})
	t.Cleanup(balancer.Close)

	br := browser.New("http://www.example.localhost", nil)
	br.Host = "api.example.localhost"
	// The jar is keyed by URL; the replicas and the balancer listen on different ports of
	// 127.0.0.1, and cookies ignore ports, so one jar serves all three, as one browser would.
	resp := br.Do(t, http.MethodPost, a.base+"/oauth-agent/login/start", "", nil)
	callback, err := p.Authorize(resp.JSON(t)["authorizationRequestUrl"].(string))
	if err != nil {
		t.Fatal(err)
	}
	resp = br.Do(t, http.MethodPost, b.base+"/oauth-agent/login/end", `{"pageUrl":"`+callback+`"}`, nil)
	if resp.Status != http.StatusOK || resp.JSON(t)["isLoggedIn"] != true {
		t.Fatalf("a login started on one replica did not end on the other: %d %s", resp.Status, resp.Body)
	}
	csrf := resp.JSON(t)["csrf"].(string)
	accessToken := p.LastTokenResponse()["access_token"].(string)

	apiCall := func(what, base string) {
		t.Helper()
		if r := br.Do(t, http.MethodGet, base+"/api/data", "", nil); r.Status != http.StatusOK {
			t.Fatalf("%s: %d %s", what, r.Status, r.Body)
		}
	}
	apiCall("API through the other replica", a.base)
	for i := 0; i < 6; i++ {
		apiCall("API through the balancer", balancer.URL)
	}
	if n := p.IntrospectionsPerToken()[accessToken]; n != 2 {
		t.Fatalf("the token was introspected %d times by two replicas in one cache period, want 2 (once each)", n)
	}

	// Rotation, in the order that is safe with replicas: first every replica learns the new key
	// as a previous key, then every replica makes it current and keeps the old one as previous.
	for _, step := range []string{replicaConfig(p, upstream.URL, replicaKeyOld, replicaKeyNew), replicaConfig(p, upstream.URL, replicaKeyNew, replicaKeyOld)} {
		for _, r := range []*replica{a, b} {
			if err := os.WriteFile(r.dynFile, []byte(step), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		waitForKey(t, a, b, accessToken)
	}
	waitForCurrentKey(t, br, a, b)
	for i := 0; i < 4; i++ {
		apiCall("API with a cookie from before the rotation", balancer.URL)
	}
	resp = br.Do(t, http.MethodPost, balancer.URL+"/oauth-agent/login/end", `{"pageUrl":"http://www.example.localhost/"}`, nil)
	if resp.JSON(t)["isLoggedIn"] != true {
		t.Fatalf("after the rotation the session is gone: %s", resp.Body)
	}
	if r := br.Do(t, http.MethodPost, balancer.URL+"/oauth-agent/refresh", "", map[string]string{"X-Example-Csrf": csrf}); r.Status != http.StatusNoContent {
		t.Fatalf("refresh after the rotation: %d %s", r.Status, r.Body)
	}
	for i := 0; i < 4; i++ {
		apiCall("API with a cookie written with the new key", balancer.URL)
	}
	newToken := p.LastTokenResponse()["access_token"].(string)
	if n := p.IntrospectionsPerToken()[newToken]; n > 2 {
		t.Fatalf("the refreshed token was introspected %d times by two replicas in one cache period", n)
	}
}

// waitForKey waits until both replicas accept a cookie encrypted with the new key (as current or
// previous), that is, until both reloaded the configuration.
func waitForKey(t *testing.T, a, b *replica, accessToken string) {
	t.Helper()
	c, _ := cookiecrypt.NewCipher(replicaKeyNew, nil)
	cookie, _ := c.Encrypt(accessToken)
	for _, r := range []*replica{a, b} {
		deadline := time.Now().Add(30 * time.Second)
		for {
			req, _ := http.NewRequest(http.MethodGet, r.base+"/api/data", nil)
			req.Host = "api.example.localhost"
			req.Header.Set("Origin", "http://www.example.localhost")
			req.Header.Set("Cookie", "example-at="+cookie)
			resp, err := http.DefaultClient.Do(req)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("a replica did not take the new key within 30 s")
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
}

// waitForCurrentKey waits until the agents of both replicas write cookies with the new key.
func waitForCurrentKey(t *testing.T, br *browser.Browser, a, b *replica) {
	t.Helper()
	old, _ := cookiecrypt.NewCipher(replicaKeyOld, nil)
	for _, r := range []*replica{a, b} {
		deadline := time.Now().Add(30 * time.Second)
		for {
			probe := browser.New("http://www.example.localhost", nil)
			probe.Host = "api.example.localhost"
			resp := probe.Do(t, http.MethodPost, r.base+"/oauth-agent/login/start", "", nil)
			if v := probe.Cookie(r.base+"/", "example-login"); v != "" {
				if _, err := old.Decrypt(v); err != nil && resp.Status == http.StatusOK {
					break // written with the new key
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("a replica's agent still writes cookies with the old key after 30 s")
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
