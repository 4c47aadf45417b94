package oauthagent_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/tokenhandler/traefik-token-handler/testsupport/fuzzcheck"
	"github.com/tokenhandler/traefik-token-handler/testsupport/requestcases"
	"github.com/tokenhandler/traefik-token-handler/testsupport/scenarios"
)

// v2Endpoints are the v2 API's endpoints, which FuzzV2 picks from by index.
var v2Endpoints = []struct{ method, path string }{
	{http.MethodPost, "/login/start"},
	{http.MethodPost, "/login/end"},
	{http.MethodGet, "/session"},
	{http.MethodPost, "/refresh"},
	{http.MethodPost, "/logout"},
}

// FuzzV2 sends the v2 API (agentApi: v2) arbitrary requests: any endpoint, Content-Type,
// token-handler-version and body ({{CODE}} and {{STATE}} stand for a real code and the state of
// a pending login), with or without that login's -login cookie and a session's cookies. Every
// answer is one of the defined statuses, never a 500, with Content-Type exactly
// application/json (the browser library compares it literally) and the CORS headers for the SPA;
// an error is {"error_code","detailed_error"}; a 200 of login/end or session is the session
// shape; and no log line holds a secret or a recovered panic.
func FuzzV2(f *testing.F) {
	const form = "application/x-www-form-urlencoded;charset=UTF-8"
	for _, seed := range []struct {
		endpoint                   uint8
		contentType, version, body string
		withLogin, withSession     bool
	}{
		{0, "", "1", "", false, false},
		{0, form, "1", "scope=openid+email&ui_locales=fr", false, false},
		{0, form, "1", "state=forged", false, false},
		{0, "application/json", "1", `{"extraParams":[]}`, false, false},
		{1, form, "1", "code={{CODE}}&state={{STATE}}", true, false},
		{1, form, "1", "code={{CODE}}&state={{STATE}}&iss=https%3A%2F%2Fevil.example", true, false},
		{1, form, "1", "code={{CODE}}&state={{STATE}}&state={{STATE}}", true, false},
		{1, form, "1", "error=access_denied&error_description=no&state={{STATE}}", true, false},
		{1, form, "1", "error=login_required&state={{STATE}}", false, false},
		{1, form, "1", "error=access_denied", true, false},
		{1, form, "1", "response=eyJhbGciOiJub25lIn0.e30.", true, false},
		{1, form, "1", "", false, true},
		{1, form, "1", "code=%zz&state=%", true, false},
		{1, "application/json", "1", `{"pageUrl":"https://www.example.com/?code={{CODE}}&state={{STATE}}"}`, true, false},
		{1, "", "1", "code={{CODE}}&state={{STATE}}", true, false},
		{1, "text/plain; charset=\xff", "1", "a=b", false, false},
		{1, form, "1", "x=" + strings.Repeat("y", 9000), false, false},
		{2, "", "1", "", false, true},
		{2, "", "1", "", false, false},
		{2, "", "", "", false, true},
		{2, "", "2", "", false, true},
		{2, "", "1\r\n", "", false, true},
		{3, form, "1", "", false, true},
		{3, form, "1", "scope=read", false, true},
		{3, "", "1", "", false, false},
		{4, "", "1", "", false, true},
		{4, "", "1", "", false, false},
	} {
		f.Add(seed.endpoint, seed.contentType, seed.version, seed.body, seed.withLogin, seed.withSession)
	}
	a := newAgentFuzz(f, true)
	agent := buildAgent(f, agentConfig(a.p, map[string]interface{}{"agentApi": "v2"}))
	f.Fuzz(func(t *testing.T, endpoint uint8, contentType, version, body string, withLogin, withSession bool) {
		defer fuzzcheck.Bound(t, fuzzInputTime, fuzzInputAlloc)()
		e := v2Endpoints[int(endpoint)%len(v2Endpoints)]
		contentType = fuzzcheck.Cap(contentType, 256)
		version = fuzzcheck.Cap(version, 256)
		body = fuzzcheck.Cap(body, 80*1024)
		loginCookie, state := a.freshLogin(t)
		body = strings.ReplaceAll(body, "{{STATE}}", state)
		if strings.Contains(body, "{{CODE}}") {
			u, _ := url.Parse(a.callback(t))
			body = strings.ReplaceAll(body, "{{CODE}}", u.Query().Get("code"))
		}
		var cookie []string
		if withLogin {
			cookie = append(cookie, loginCookie)
		}
		if withSession {
			cookie = append(cookie, a.sessionCookies)
		}

		r := httptest.NewRequest(e.method, scenarios.AgentBase+e.path, strings.NewReader(body))
		r.Header.Set("Origin", scenarios.SPAOrigin)
		if fuzzcheck.WellFormedHeaderValue(contentType) && contentType != "" {
			r.Header.Set("Content-Type", contentType)
		}
		if fuzzcheck.WellFormedHeaderValue(version) {
			r.Header.Set("Token-Handler-Version", version)
		}
		if len(cookie) > 0 {
			r.Header.Set("Cookie", strings.Join(cookie, "; "))
		}
		stop := requestcases.CaptureLogs()
		rec := httptest.NewRecorder()
		agent.ServeHTTP(rec, r)
		fuzzcheck.Logs(t, stop(), a.secrets()...)

		fuzzcheck.StatusIn(t, rec, http.StatusOK, http.StatusBadRequest, http.StatusUnauthorized, http.StatusBadGateway)
		if rec.Header().Get("Content-Type") != "application/json" || rec.Header().Get("Access-Control-Allow-Origin") != scenarios.SPAOrigin {
			t.Fatalf("%d with Content-Type %q, ACAO %q", rec.Code, rec.Header().Get("Content-Type"), rec.Header().Get("Access-Control-Allow-Origin"))
		}
		var answer map[string]interface{}
		if err := json.Unmarshal(rec.Body.Bytes(), &answer); err != nil || answer == nil {
			t.Fatalf("%d %q is not a JSON object", rec.Code, rec.Body)
		}
		if rec.Code != http.StatusOK {
			code, _ := answer["error_code"].(string)
			detail, _ := answer["detailed_error"].(string)
			if code == "" || detail == "" || len(answer) != 2 {
				t.Fatalf("%d %s is not a v2 error", rec.Code, rec.Body)
			}
			return
		}
		if e.path == "/login/end" || e.path == "/session" {
			_, isBool := answer["is_logged_in"].(bool)
			claims, hasClaims := answer["id_token_claims"]
			expires, hasExpires := answer["access_token_expires_in"]
			_, claimsObject := claims.(map[string]interface{})
			_, expiresNumber := expires.(float64)
			if !isBool || !hasClaims || !hasExpires || len(answer) != 3 || (claims != nil && !claimsObject) || (expires != nil && !expiresNumber) {
				t.Fatalf("200 %s is not the session shape", rec.Body)
			}
		}
	})
}
