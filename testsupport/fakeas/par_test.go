package fakeas

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// pushParams returns the authorization parameters of a request as the agent would push them.
func pushParams(p *Provider, challenge, state, nonce string) url.Values {
	u, _ := url.Parse(authRequest(p, challenge, state, nonce))
	return u.Query()
}

// push POSTs params to the PAR endpoint with HTTP Basic and returns the status and the body.
func push(t *testing.T, p *Provider, params url.Values) (*http.Response, map[string]interface{}) {
	t.Helper()
	resp, body := postForm(t, p, p.PARURL(), params, p.Options().ClientID, p.Options().ClientSecret)
	var m map[string]interface{}
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatalf("PAR: %d %q is not JSON", resp.StatusCode, body)
	}
	return resp, m
}

// byReference is the authorization request URL that carries only client_id and request_uri.
func byReference(p *Provider, requestURI string) string {
	return p.AuthorizationURL() + "?" + url.Values{"client_id": {p.Options().ClientID}, "request_uri": {requestURI}}.Encode()
}

func TestPAR(t *testing.T) {
	p := NewProvider(t, ProviderOptions{})
	_, doc := getJSON(t, p.Server.Client(), p.DiscoveryURL())
	if doc["pushed_authorization_request_endpoint"] != p.PARURL() || doc["require_pushed_authorization_requests"] != nil {
		t.Errorf("discovery: %v %v", doc["pushed_authorization_request_endpoint"], doc["require_pushed_authorization_requests"])
	}

	// Happy path: push, authorize by reference, redeem the code.
	verifier, challenge := pkce(t)
	params := pushParams(p, challenge, "st-1", "nonce-1")
	resp, par := push(t, p, params)
	uri, _ := par["request_uri"].(string)
	if resp.StatusCode != http.StatusCreated || !strings.HasPrefix(uri, PARRequestURIPrefix) || len(uri) < len(PARRequestURIPrefix)+20 ||
		par["expires_in"] != float64(60) || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("PAR: %d %v %v", resp.StatusCode, par, resp.Header)
	}
	if form, header := p.LastPushedAuthorizationRequest(); form.Get("code_challenge") != challenge || header.Get("Authorization") == "" {
		t.Errorf("LastPushedAuthorizationRequest %v %v", form, header)
	}
	callback, err := p.Authorize(byReference(p, uri))
	if err != nil {
		t.Fatal(err)
	}
	if got := p.LastAuthorizationRequest(); len(got) != 2 || got.Get("request_uri") != uri {
		t.Errorf("LastAuthorizationRequest %v", got)
	}
	cb, _ := url.Parse(callback)
	if cb.Query().Get("state") != "st-1" || cb.Query().Get("code") == "" || cb.Query().Has("iss") {
		t.Fatalf("callback %s", callback)
	}
	status, tokens := postToken(t, p, url.Values{"grant_type": {"authorization_code"}, "code": {cb.Query().Get("code")},
		"redirect_uri": {p.Options().RedirectURI}, "code_verifier": {verifier}}, p.Options().ClientID, p.Options().ClientSecret)
	if status != 200 {
		t.Fatalf("token: %d %v", status, tokens)
	}
	if _, claims, _ := jwtParts(t, tokens["id_token"].(string)); claims["nonce"] != "nonce-1" {
		t.Errorf("nonce %v", claims["nonce"])
	}

	// A request_uri works once, whatever the outcome.
	if _, err := p.Authorize(byReference(p, uri)); err == nil || !strings.Contains(err.Error(), "unknown or used") {
		t.Errorf("second use: %v", err)
	}

	// The authorization request by reference.
	fresh := func() string {
		_, par := push(t, p, pushParams(p, challenge, "s", "n"))
		return par["request_uri"].(string)
	}
	refCases := map[string]func() (string, string){ // URL, error text
		"unknown": func() (string, string) { return byReference(p, PARRequestURIPrefix+"nope"), "unknown or used" },
		"expired": func() (string, string) {
			u := fresh()
			p.ExpirePushedRequests()
			return byReference(p, u), "expired"
		},
		"other client": func() (string, string) {
			return strings.Replace(byReference(p, fresh()), "spa-client", "other", 1), "client_id"
		},
		"no client_id": func() (string, string) {
			return p.AuthorizationURL() + "?" + url.Values{"request_uri": {fresh()}}.Encode(), "client_id"
		},
		"extra parameter": func() (string, string) { return byReference(p, fresh()) + "&state=other", "another parameter" },
		"twice":           func() (string, string) { return byReference(p, fresh()) + "&client_id=spa-client", "2 client_id" },
	}
	for name, mk := range refCases {
		u, want := mk()
		if _, err := p.Authorize(u); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error with %q", name, err, want)
		}
	}

	// The PAR endpoint's checks.
	parCases := []struct {
		name   string
		mutate func(f url.Values)
		id     string
		want   int
		errStr string
	}{
		{"no client_id", func(f url.Values) { f.Del("client_id") }, "spa-client", 201, ""},
		{"no client authentication", nil, "", 401, "invalid_client"},
		{"wrong secret", nil, "other", 401, "invalid_client"},
		{"other client_id", func(f url.Values) { f.Set("client_id", "other") }, "spa-client", 401, "invalid_client"},
		{"redirect_uri", func(f url.Values) { f.Set("redirect_uri", "https://evil.example/") }, "spa-client", 400, "invalid_request"},
		{"no code_challenge", func(f url.Values) { f.Del("code_challenge") }, "spa-client", 400, "invalid_request"},
		{"no nonce", func(f url.Values) { f.Del("nonce") }, "spa-client", 400, "invalid_request"},
		{"request_uri", func(f url.Values) { f.Set("request_uri", PARRequestURIPrefix+"x") }, "spa-client", 400, "invalid_request"},
		{"twice", func(f url.Values) { f.Add("scope", "openid") }, "spa-client", 400, "invalid_request"},
	}
	for _, tc := range parCases {
		f := pushParams(p, challenge, "s", "n")
		if tc.mutate != nil {
			tc.mutate(f)
		}
		secret := p.Options().ClientSecret
		if tc.id == "other" {
			tc.id, secret = "spa-client", "wrong"
		}
		resp, body := postForm(t, p, p.PARURL(), f, tc.id, secret)
		if resp.StatusCode != tc.want || !strings.Contains(body, tc.errStr) {
			t.Errorf("%s: %d %s", tc.name, resp.StatusCode, body)
		}
	}
	if resp, _ := p.Server.Client().Get(p.PARURL()); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET /par: %d", resp.StatusCode)
	}

	// AuthorizeError and GET /authorize resolve a request_uri too.
	callback, err = p.AuthorizeError(byReference(p, fresh()), "access_denied", "")
	if cb, _ := url.Parse(callback); err != nil || cb.Query().Get("error") != "access_denied" || cb.Query().Get("state") != "s" {
		t.Errorf("AuthorizeError by reference: %s %v", callback, err)
	}
	c := p.Server.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err = c.Get(byReference(p, fresh()))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc, _ := url.Parse(resp.Header.Get("Location")); resp.StatusCode != http.StatusFound || loc.Query().Get("code") == "" {
		t.Errorf("GET /authorize by reference: %d %s", resp.StatusCode, loc)
	}

	// Faults.
	calls := p.Calls(EndpointPAR)
	p.Fail(EndpointPAR, Fault{Status: 503, Body: `{"error":"temporarily_unavailable"}`})
	if resp, body := postForm(t, p, p.PARURL(), pushParams(p, challenge, "s", "n"), "spa-client", "Password1"); resp.StatusCode != 503 || !strings.Contains(body, "temporarily_unavailable") {
		t.Errorf("PAR fault: %d %s", resp.StatusCode, body)
	}
	p.Fail(EndpointPAR, Fault{Garbage: true, Status: 201})
	if resp, body := postForm(t, p, p.PARURL(), pushParams(p, challenge, "s", "n"), "spa-client", "Password1"); resp.StatusCode != 201 || body != "<html>garbage</html>" {
		t.Errorf("PAR garbage: %d %s", resp.StatusCode, body)
	}
	p.Heal(EndpointPAR)
	if got := p.Calls(EndpointPAR) - calls; got != 2 {
		t.Errorf("PAR calls %d", got)
	}
}

func TestPARClientSecretPost(t *testing.T) {
	p := NewProvider(t, ProviderOptions{ClientAuth: ClientSecretPost})
	_, challenge := pkce(t)
	f := pushParams(p, challenge, "s", "n")
	f.Set("client_secret", p.Options().ClientSecret)
	resp, body := postForm(t, p, p.PARURL(), f, "", "")
	if resp.StatusCode != 201 {
		t.Fatalf("PAR: %d %s", resp.StatusCode, body)
	}
	var par map[string]interface{}
	_ = json.Unmarshal([]byte(body), &par)
	if _, err := p.Authorize(byReference(p, par["request_uri"].(string))); err != nil {
		t.Fatal(err)
	}
}

func TestRequirePAR(t *testing.T) {
	p := NewProvider(t, ProviderOptions{RequirePAR: true})
	_, doc := getJSON(t, p.Server.Client(), p.DiscoveryURL())
	if doc["require_pushed_authorization_requests"] != true || doc["pushed_authorization_request_endpoint"] != p.PARURL() {
		t.Errorf("discovery: %v", doc)
	}
	_, challenge := pkce(t)
	plain := authRequest(p, challenge, "s", "n")
	if _, err := p.Authorize(plain); err == nil || !strings.Contains(err.Error(), "RequirePAR") {
		t.Errorf("plain request: %v", err)
	}
	c := p.Server.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Get(plain)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("GET /authorize plain: %d", resp.StatusCode)
	}
	_, par := push(t, p, pushParams(p, challenge, "s", "n"))
	if _, err := p.Authorize(byReference(p, par["request_uri"].(string))); err != nil {
		t.Errorf("by reference: %v", err)
	}
}

func TestAuthorizationResponseIss(t *testing.T) {
	_, challenge := pkce(t)
	issOf := func(callback string, err error) (string, bool) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		cb, _ := url.Parse(callback)
		return cb.Query().Get("iss"), cb.Query().Has("iss")
	}

	plain := NewProvider(t, ProviderOptions{})
	_, doc := getJSON(t, plain.Server.Client(), plain.DiscoveryURL())
	if _, ok := doc["authorization_response_iss_parameter_supported"]; ok {
		t.Errorf("discovery without AuthorizationResponseIss: %v", doc)
	}
	if _, has := issOf(plain.Authorize(authRequest(plain, challenge, "s", "n"))); has {
		t.Error("iss without AuthorizationResponseIss")
	}
	plain.SetNextAuthorizationResponseIss("https://evil.example")
	if iss, _ := issOf(plain.Authorize(authRequest(plain, challenge, "s", "n"))); iss != "https://evil.example" {
		t.Errorf("SetNextAuthorizationResponseIss without the option: %q", iss)
	}

	p := NewProvider(t, ProviderOptions{AuthorizationResponseIss: true})
	_, doc = getJSON(t, p.Server.Client(), p.DiscoveryURL())
	if doc["authorization_response_iss_parameter_supported"] != true {
		t.Errorf("discovery: %v", doc)
	}
	req := authRequest(p, challenge, "s", "n")
	steps := []struct {
		name    string
		next    *string // SetNextAuthorizationResponseIss before the step
		do      func() (string, error)
		wantIss string
		wantHas bool
	}{
		{"success", nil, func() (string, error) { return p.Authorize(req) }, p.Issuer(), true},
		{"error", nil, func() (string, error) { return p.AuthorizeError(req, "access_denied", "") }, p.Issuer(), true},
		{"mix-up", ptr("https://evil.example"), func() (string, error) { return p.Authorize(req) }, "https://evil.example", true},
		{"after the mix-up", nil, func() (string, error) { return p.Authorize(req) }, p.Issuer(), true},
		{"mix-up on an error", ptr("https://evil.example"), func() (string, error) { return p.AuthorizeError(req, "login_required", "") }, "https://evil.example", true},
		{"missing", ptr(""), func() (string, error) { return p.Authorize(req) }, "", false},
		{"back", nil, func() (string, error) { return p.Authorize(req) }, p.Issuer(), true},
	}
	for _, s := range steps {
		if s.next != nil {
			p.SetNextAuthorizationResponseIss(*s.next)
		}
		if iss, has := issOf(s.do()); iss != s.wantIss || has != s.wantHas {
			t.Errorf("%s: iss %q (present %v), want %q (%v)", s.name, iss, has, s.wantIss, s.wantHas)
		}
	}

	// A refused request does not use the wrong iss up; GET /authorize carries iss too.
	p.SetNextAuthorizationResponseIss("https://evil.example")
	if _, err := p.Authorize(strings.Replace(req, "spa-client", "other", 1)); err == nil {
		t.Fatal("accepted another client")
	}
	c := p.Server.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Get(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if iss, _ := issOf(resp.Header.Get("Location"), nil); iss != "https://evil.example" {
		t.Errorf("GET /authorize after a refused request: iss %q", iss)
	}
	if resp, err = c.Get(req); err == nil {
		resp.Body.Close()
	}
	if iss, _ := issOf(resp.Header.Get("Location"), err); iss != p.Issuer() {
		t.Errorf("GET /authorize: iss %q", iss)
	}
}

func ptr(s string) *string { return &s }
