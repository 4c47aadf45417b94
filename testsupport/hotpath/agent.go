package hotpath

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tokenhandler/traefik-token-handler/testsupport/browser"
	"github.com/tokenhandler/traefik-token-handler/testsupport/fakeas"
	"github.com/tokenhandler/traefik-token-handler/testsupport/scenarios"
)

// AgentBenchmarks measures the OAuth Agent's own cost per request, the authorization server's
// time excluded: the in-process provider counts the time it spends handling the agent's calls,
// and each benchmark reports ns/op minus that time as "agent-ns/op".
func AgentBenchmarks(b *testing.B, build func(raw map[string]interface{}, next http.Handler) (http.Handler, error)) {
	newAgent := func(b *testing.B) (*fakeas.Provider, http.Handler, *browser.Browser) {
		p := fakeas.NewProvider(b, fakeas.ProviderOptions{})
		h, err := build(scenarios.AgentConfig(p, nil), http.NotFoundHandler())
		if err != nil {
			b.Fatal(err)
		}
		return p, h, browser.New(scenarios.SPAOrigin, h)
	}
	login := func(b *testing.B, p *fakeas.Provider, br *browser.Browser) string {
		resp := br.Do(b, http.MethodPost, scenarios.AgentBase+"/login/start", "", nil)
		callback, err := p.Authorize(resp.JSON(b)["authorizationRequestUrl"].(string))
		if err != nil {
			b.Fatal(err)
		}
		resp = br.Do(b, http.MethodPost, scenarios.AgentBase+"/login/end", `{"pageUrl":"`+callback+`"}`, nil)
		if resp.Status != http.StatusOK {
			b.Fatalf("/login/end: %d %s", resp.Status, resp.Body)
		}
		return resp.JSON(b)["csrf"].(string)
	}
	// serve sends one request to h with the browser's cookies, without the browser's bookkeeping.
	serve := func(b *testing.B, h http.Handler, br *browser.Browser, method, path, body string, header map[string]string) int {
		req := httptest.NewRequest(method, scenarios.AgentBase+path, strings.NewReader(body))
		req.Header.Set("Origin", scenarios.SPAOrigin)
		req.Header.Set("Content-Type", "application/json")
		for k, v := range header {
			req.Header.Set(k, v)
		}
		for _, c := range br.Jar.Cookies(req.URL) {
			req.AddCookie(c)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	report := func(b *testing.B, started time.Time, asTime time.Duration) {
		total := time.Since(started)
		b.ReportMetric(float64((total-asTime).Nanoseconds())/float64(b.N), "agent-ns/op")
	}

	b.Run("LoginEndPageLoad", func(b *testing.B) {
		p, h, br := newAgent(b)
		login(b, p, br)
		b.ReportAllocs()
		b.ResetTimer()
		started, as := time.Now(), p.ServerTime()
		for i := 0; i < b.N; i++ {
			if code := serve(b, h, br, http.MethodPost, "/login/end", `{"pageUrl":"https://www.example.com/"}`, nil); code != http.StatusOK {
				b.Fatalf("status %d", code)
			}
		}
		report(b, started, p.ServerTime()-as)
	})
	b.Run("LoginEndCode", func(b *testing.B) {
		p, h, br := newAgent(b)
		login(b, p, br) // discovery and JWKS are cached from here on
		b.ReportAllocs()
		b.ResetTimer()
		var measured, asTime time.Duration
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			resp := br.Do(b, http.MethodPost, scenarios.AgentBase+"/login/start", "", nil)
			callback, err := p.Authorize(resp.JSON(b)["authorizationRequestUrl"].(string))
			if err != nil {
				b.Fatal(err)
			}
			as := p.ServerTime()
			b.StartTimer()
			started := time.Now()
			if code := serve(b, h, br, http.MethodPost, "/login/end", `{"pageUrl":"`+callback+`"}`, nil); code != http.StatusOK {
				b.Fatalf("status %d", code)
			}
			measured += time.Since(started)
			asTime += p.ServerTime() - as
		}
		b.ReportMetric(float64((measured-asTime).Nanoseconds())/float64(b.N), "agent-ns/op")
	})
	b.Run("Refresh", func(b *testing.B) {
		p, _, br := newAgent(b)
		csrf := login(b, p, br)
		b.ReportAllocs()
		b.ResetTimer()
		var measured, asTime time.Duration
		for i := 0; i < b.N; i++ {
			as := p.ServerTime()
			started := time.Now()
			// Through the browser, so that the rotated refresh token is kept for the next round.
			resp := br.Do(b, http.MethodPost, scenarios.AgentBase+"/refresh", "", map[string]string{"X-Example-Csrf": csrf})
			measured += time.Since(started)
			asTime += p.ServerTime() - as
			if resp.Status != http.StatusNoContent {
				b.Fatalf("status %d %s", resp.Status, resp.Body)
			}
		}
		b.ReportMetric(float64((measured-asTime).Nanoseconds())/float64(b.N), "agent-ns/op")
	})
}
