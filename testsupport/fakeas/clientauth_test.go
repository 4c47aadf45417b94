package fakeas

import (
	"crypto"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// Keys shared by the tests of this package: RSA keys take a while to generate.
var (
	testKeysOnce                       sync.Once
	testRSA, testP256, testP384, other crypto.Signer
)

func testKeys() (rsaKey, p256, p384, unregistered crypto.Signer) {
	testKeysOnce.Do(func() {
		testRSA, testP256, testP384, other = NewKey(KeyRSA2048), NewKey(KeyP256), NewKey(KeyP384), NewKey(KeyP256)
	})
	return testRSA, testP256, testP384, other
}

// post POSTs form to rawURL with c, with the given headers, and returns the response (body
// closed) and the body.
func post(t *testing.T, c *http.Client, rawURL string, form url.Values, header http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, rawURL, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// assertionForm adds a private_key_jwt client assertion to form.
func assertionForm(form url.Values, assertion string) url.Values {
	form.Set("client_assertion_type", ClientAssertionType)
	form.Set("client_assertion", assertion)
	return form
}

func mustAssertion(t *testing.T, key crypto.Signer, alg, kid, clientID, aud string) string {
	t.Helper()
	a, err := SignClientAssertion(key, alg, kid, clientID, aud)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestPrivateKeyJWTToken: at the token endpoint, a refresh with an unknown refresh token is 400
// invalid_grant once the client is authenticated, 401 invalid_client otherwise.
func TestPrivateKeyJWTToken(t *testing.T) {
	rsaKey, p256, p384, unregistered := testKeys()
	p := NewProvider(t, ProviderOptions{
		ClientAuth:       PrivateKeyJWT,
		ClientPublicKeys: []crypto.PublicKey{rsaKey.Public(), p256.Public(), p384.Public()},
		Revocation:       true,
	})
	id := p.Options().ClientID
	now := time.Now().Unix()

	cases := []struct {
		name   string
		key    crypto.Signer
		alg    string
		kid    string
		claims func(c map[string]interface{}) // changes the claims
		form   func(f url.Values)             // changes the form
		header http.Header
		want   int
		why    string // in LastClientAuthError
	}{
		{name: "RS256", key: rsaKey, alg: "RS256", want: 400},
		{name: "PS256", key: rsaKey, alg: "PS256", want: 400},
		{name: "ES256", key: p256, alg: "ES256", want: 400},
		{name: "ES384", key: p384, alg: "ES384", want: 400},
		{name: "kid", key: p256, alg: "ES256", kid: "any-kid", want: 400},
		{name: "aud issuer", key: p256, alg: "ES256", claims: func(c map[string]interface{}) { c["aud"] = p.Issuer() }, want: 400},
		{name: "aud array", key: p256, alg: "ES256", claims: func(c map[string]interface{}) { c["aud"] = []string{"https://x.example", p.TokenURL()} }, want: 400},
		{name: "client_id", key: p256, alg: "ES256", form: func(f url.Values) { f.Set("client_id", id) }, want: 400},
		{name: "exp 5 minutes", key: p256, alg: "ES256", claims: func(c map[string]interface{}) { c["exp"] = now + 299 }, want: 400},
		{name: "no iat", key: p256, alg: "ES256", claims: func(c map[string]interface{}) { delete(c, "iat") }, want: 400},

		{name: "wrong key", key: unregistered, alg: "ES256", want: 401, why: "signature"},
		{name: "wrong alg for key", key: p384, alg: "ES384", claims: nil, kid: "", form: func(f url.Values) {
			// an ES384 signature relabelled ES256
			a := f.Get("client_assertion")
			h := b64JSON(t, map[string]interface{}{"alg": "ES256", "typ": "JWT"})
			f.Set("client_assertion", h+a[strings.IndexByte(a, '.'):])
		}, want: 401, why: "signature"},
		{name: "alg not allowed", key: rsaKey, alg: "RS512", want: 401, why: "alg"},
		{name: "alg none", key: nil, alg: "none", want: 401, why: "alg"},
		{name: "tampered signature", key: p256, alg: "ES256", form: func(f url.Values) {
			f.Set("client_assertion", corruptSignature(f.Get("client_assertion")))
		}, want: 401, why: "signature"},
		{name: "wrong aud", key: p256, alg: "ES256", claims: func(c map[string]interface{}) { c["aud"] = "https://other.example" }, want: 401, why: "aud"},
		{name: "aud of another endpoint", key: p256, alg: "ES256", claims: func(c map[string]interface{}) { c["aud"] = p.RevocationURL() }, want: 401, why: "aud"},
		{name: "expired", key: p256, alg: "ES256", claims: func(c map[string]interface{}) { c["exp"] = now - 10 }, want: 401, why: "expired"},
		{name: "exp too far", key: p256, alg: "ES256", claims: func(c map[string]interface{}) { c["exp"] = now + 3600 }, want: 401, why: "ahead"},
		{name: "no exp", key: p256, alg: "ES256", claims: func(c map[string]interface{}) { delete(c, "exp") }, want: 401, why: "exp"},
		{name: "exp string", key: p256, alg: "ES256", claims: func(c map[string]interface{}) { c["exp"] = "4102444800" }, want: 401, why: "exp"},
		{name: "iat future", key: p256, alg: "ES256", claims: func(c map[string]interface{}) { c["iat"] = now + 600 }, want: 401, why: "iat"},
		{name: "no jti", key: p256, alg: "ES256", claims: func(c map[string]interface{}) { delete(c, "jti") }, want: 401, why: "jti"},
		{name: "wrong iss", key: p256, alg: "ES256", claims: func(c map[string]interface{}) { c["iss"] = "other" }, want: 401, why: "iss"},
		{name: "wrong sub", key: p256, alg: "ES256", claims: func(c map[string]interface{}) { c["sub"] = "other" }, want: 401, why: "sub"},
		{name: "secret also sent", key: p256, alg: "ES256", form: func(f url.Values) { f.Set("client_secret", "Password1") }, want: 401, why: "client_secret"},
		{name: "basic also sent", key: p256, alg: "ES256", header: http.Header{"Authorization": {"Basic c3BhLWNsaWVudDpQYXNzd29yZDE="}}, want: 401, why: "Authorization"},
		{name: "wrong assertion type", key: p256, alg: "ES256", form: func(f url.Values) {
			f.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:saml2-bearer")
		}, want: 401, why: "client_assertion_type"},
		{name: "no assertion type", key: p256, alg: "ES256", form: func(f url.Values) { f.Del("client_assertion_type") }, want: 401, why: "client_assertion_type"},
		{name: "no assertion", key: p256, alg: "ES256", form: func(f url.Values) { f.Del("client_assertion") }, want: 401, why: "no client_assertion"},
		{name: "not a JWS", key: p256, alg: "ES256", form: func(f url.Values) { f.Set("client_assertion", "abc.def") }, want: 401, why: "compact"},
		{name: "other client_id", key: p256, alg: "ES256", form: func(f url.Values) { f.Set("client_id", "other") }, want: 401, why: "client_id"},
		{name: "basic only", key: p256, alg: "ES256", form: func(f url.Values) { f.Del("client_assertion"); f.Del("client_assertion_type") },
			header: http.Header{"Authorization": {"Basic c3BhLWNsaWVudDpQYXNzd29yZDE="}}, want: 401},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := time.Now().Unix()
			claims := map[string]interface{}{"iss": id, "sub": id, "aud": p.TokenURL(), "jti": randomString(16), "iat": n, "exp": n + 60}
			if tc.claims != nil {
				tc.claims(claims)
			}
			assertion, err := SignJWT(tc.alg, tc.key, tc.kid, claims)
			if err != nil {
				t.Fatal(err)
			}
			form := assertionForm(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"unknown"}}, assertion)
			if tc.form != nil {
				tc.form(form)
			}
			resp, body := post(t, p.Server.Client(), p.TokenURL(), form, tc.header)
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d: %s (%s)", resp.StatusCode, tc.want, body, p.LastClientAuthError())
			}
			var m map[string]interface{}
			_ = json.Unmarshal([]byte(body), &m)
			if tc.want == 401 {
				if m["error"] != "invalid_client" || !strings.Contains(p.LastClientAuthError(), tc.why) {
					t.Errorf("body %s, LastClientAuthError %q (want it to mention %q)", body, p.LastClientAuthError(), tc.why)
				}
				return
			}
			if m["error"] != "invalid_grant" || p.LastClientAuthError() != "" {
				t.Errorf("body %s, LastClientAuthError %q", body, p.LastClientAuthError())
			}
			header, got := p.LastClientAssertion()
			if header["alg"] != tc.alg || got["jti"] != claims["jti"] {
				t.Errorf("LastClientAssertion %v %v", header, got)
			}
		})
	}

	t.Run("replayed jti", func(t *testing.T) {
		assertion := mustAssertion(t, p256, "", "", id, p.TokenURL())
		form := assertionForm(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"unknown"}}, assertion)
		if resp, body := post(t, p.Server.Client(), p.TokenURL(), form, nil); resp.StatusCode != 400 {
			t.Fatalf("first use: %d %s", resp.StatusCode, body)
		}
		if resp, body := post(t, p.Server.Client(), p.TokenURL(), form, nil); resp.StatusCode != 401 || !strings.Contains(p.LastClientAuthError(), "replayed") {
			t.Fatalf("replay: %d %s %q", resp.StatusCode, body, p.LastClientAuthError())
		}
		// The same jti in a new assertion, at another endpoint, is refused too.
		_, claims := p.LastClientAssertion()
		n := time.Now().Unix()
		again, _ := SignJWT("ES256", p256, "", map[string]interface{}{"iss": id, "sub": id, "aud": p.RevocationURL(), "jti": claims["jti"], "exp": n + 60})
		if resp, _ := post(t, p.Server.Client(), p.RevocationURL(), assertionForm(url.Values{"token": {"x"}}, again), nil); resp.StatusCode != 401 {
			t.Errorf("jti replayed at /revoke: %d", resp.StatusCode)
		}
	})

	t.Run("discovery", func(t *testing.T) {
		_, doc := getJSON(t, p.Server.Client(), p.DiscoveryURL())
		for _, k := range []string{"token_endpoint_auth_methods_supported", "revocation_endpoint_auth_methods_supported"} {
			if got, _ := json.Marshal(doc[k]); string(got) != `["private_key_jwt"]` {
				t.Errorf("%s = %s", k, got)
			}
		}
		if got, _ := json.Marshal(doc["token_endpoint_auth_signing_alg_values_supported"]); string(got) != `["RS256","PS256","ES256","ES384"]` {
			t.Errorf("token_endpoint_auth_signing_alg_values_supported = %s", got)
		}
	})
}

// b64JSON is base64url(JSON(v)).
func b64JSON(t *testing.T, v interface{}) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// TestPrivateKeyJWTFlow runs PAR, the code grant, refresh and revocation with private_key_jwt,
// each with its own endpoint as aud.
func TestPrivateKeyJWTFlow(t *testing.T) {
	rsaKey, _, _, _ := testKeys()
	p := NewProvider(t, ProviderOptions{ClientAuth: PrivateKeyJWT, ClientPublicKeys: []crypto.PublicKey{rsaKey.Public()}, RequirePAR: true})
	id := p.Options().ClientID
	c := p.Server.Client()
	assert := func(aud string) string { return mustAssertion(t, rsaKey, "", "kid-1", id, aud) }

	verifier, challenge := pkce(t)
	pushed, _ := url.Parse(authRequest(p, challenge, "st", "nonce-1"))
	params := pushed.Query()
	params.Del("client_id")
	if resp, _ := post(t, c, p.PARURL(), assertionForm(cloneValues(params), assert(p.UserinfoURL())), nil); resp.StatusCode != 401 {
		t.Errorf("PAR with another endpoint as aud: %d", resp.StatusCode)
	}
	resp, body := post(t, c, p.PARURL(), assertionForm(cloneValues(params), assert(p.PARURL())), nil)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("PAR: %d %s (%s)", resp.StatusCode, body, p.LastClientAuthError())
	}
	var par struct {
		RequestURI string `json:"request_uri"`
	}
	_ = json.Unmarshal([]byte(body), &par)
	callback, err := p.Authorize(p.AuthorizationURL() + "?" + url.Values{"client_id": {id}, "request_uri": {par.RequestURI}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	cb, _ := url.Parse(callback)
	form := url.Values{"grant_type": {"authorization_code"}, "code": {cb.Query().Get("code")}, "redirect_uri": {p.Options().RedirectURI}, "code_verifier": {verifier}}
	resp, body = post(t, c, p.TokenURL(), assertionForm(form, assert(p.TokenURL())), nil)
	if resp.StatusCode != 200 {
		t.Fatalf("code grant: %d %s (%s)", resp.StatusCode, body, p.LastClientAuthError())
	}
	var tokens map[string]interface{}
	_ = json.Unmarshal([]byte(body), &tokens)
	if _, claims, _ := jwtParts(t, tokens["id_token"].(string)); claims["nonce"] != "nonce-1" {
		t.Errorf("id_token nonce %v", claims["nonce"])
	}
	form = url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tokens["refresh_token"].(string)}}
	resp, body = post(t, c, p.TokenURL(), assertionForm(form, assert(p.Issuer())), nil)
	if resp.StatusCode != 200 {
		t.Fatalf("refresh: %d %s (%s)", resp.StatusCode, body, p.LastClientAuthError())
	}
	_ = json.Unmarshal([]byte(body), &tokens)
	if resp, _ := post(t, c, p.RevocationURL(), assertionForm(url.Values{"token": {"x"}}, assert(p.UserinfoURL())), nil); resp.StatusCode != 401 {
		t.Errorf("revocation with another endpoint as aud: %d", resp.StatusCode)
	}
	resp, body = post(t, c, p.RevocationURL(), assertionForm(url.Values{"token": {tokens["refresh_token"].(string)}}, assert(p.RevocationURL())), nil)
	if resp.StatusCode != 200 {
		t.Fatalf("revocation: %d %s (%s)", resp.StatusCode, body, p.LastClientAuthError())
	}
	if revs := p.Revocations(); len(revs) != 1 || revs[0].Kind != "refresh_token" {
		t.Errorf("Revocations %v", revs)
	}
	if header, _ := p.LastClientAssertion(); header["kid"] != "kid-1" || header["alg"] != "RS256" {
		t.Errorf("LastClientAssertion header %v", header)
	}
}

func TestClientKeyIDs(t *testing.T) {
	_, p256, p384, _ := testKeys()
	p := NewProvider(t, ProviderOptions{ClientAuth: PrivateKeyJWT})
	id := p.Options().ClientID
	try := func(key crypto.Signer, kid string) int {
		form := assertionForm(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"unknown"}}, mustAssertion(t, key, "", kid, id, p.TokenURL()))
		resp, _ := post(t, p.Server.Client(), p.TokenURL(), form, nil)
		return resp.StatusCode
	}
	if got := try(p256, ""); got != 401 || !strings.Contains(p.LastClientAuthError(), "no client key") {
		t.Errorf("no key registered: %d %q", got, p.LastClientAuthError())
	}
	p.SetClientKeys(ClientKey{KeyID: "k1", Public: p256.Public()}, ClientKey{Public: p384.Public()})
	cases := []struct {
		key  crypto.Signer
		kid  string
		want int
	}{
		{p256, "k1", 400}, {p256, "", 400}, {p256, "k2", 401}, {p384, "k2", 400}, {p384, "", 400},
	}
	for _, tc := range cases {
		if got := try(tc.key, tc.kid); got != tc.want {
			t.Errorf("%s kid %q: %d, want %d (%s)", DefaultAlg(tc.key.Public()), tc.kid, got, tc.want, p.LastClientAuthError())
		}
	}
	p.SetClientKeys(ClientKey{KeyID: "k1", Public: p256.Public()})
	if got := try(p256, "k3"); got != 401 || !strings.Contains(p.LastClientAuthError(), `kid "k3"`) {
		t.Errorf("unknown kid: %d %q", got, p.LastClientAuthError())
	}
}

// TestProviderIntrospection: the provider's /introspect with private_key_jwt, client_secret_post
// and plain JSON answers.
func TestProviderIntrospection(t *testing.T) {
	_, p256, _, unregistered := testKeys()
	p := NewProvider(t, ProviderOptions{
		IntrospectionClientAuth:       PrivateKeyJWT,
		IntrospectionClientPublicKeys: []crypto.PublicKey{p256.Public()},
		IntrospectionJSON:             true,
	})
	tokens, _ := login(t, p)
	at := tokens["access_token"].(string)
	c := p.Server.Client()

	cases := []struct {
		name  string
		form  url.Values
		want  int
		check func(m map[string]interface{}) bool
	}{
		{"active", assertionForm(url.Values{"token": {at}}, mustAssertion(t, p256, "", "", IntrospectionClientID, p.IntrospectionURL())), 200,
			func(m map[string]interface{}) bool {
				return m["active"] == true && m["sub"] == DemoUserSub && m["scope"] == "openid profile read" && m["client_id"] == "spa-client" && m["exp"] != nil && m["jwt"] == nil
			}},
		{"aud issuer, unknown token", assertionForm(url.Values{"token": {"unknown"}}, mustAssertion(t, p256, "", "", IntrospectionClientID, p.Issuer())), 200,
			func(m map[string]interface{}) bool { return len(m) == 1 && m["active"] == false }},
		{"wrong key", assertionForm(url.Values{"token": {at}}, mustAssertion(t, unregistered, "", "", IntrospectionClientID, p.IntrospectionURL())), 401, nil},
		{"OAuth client's id", assertionForm(url.Values{"token": {at}}, mustAssertion(t, p256, "", "", "spa-client", p.IntrospectionURL())), 401, nil},
		{"secret", url.Values{"token": {at}, "client_id": {IntrospectionClientID}, "client_secret": {IntrospectionClientSecret}}, 401, nil},
	}
	for _, tc := range cases {
		resp, body := post(t, c, p.IntrospectionURL(), tc.form, nil)
		if resp.StatusCode != tc.want {
			t.Errorf("%s: %d %s", tc.name, resp.StatusCode, body)
			continue
		}
		var m map[string]interface{}
		if err := json.Unmarshal([]byte(body), &m); err != nil || resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s: %s %q", tc.name, resp.Header.Get("Content-Type"), body)
		}
		if tc.check != nil && !tc.check(m) {
			t.Errorf("%s: %s", tc.name, body)
		}
	}
	if _, claims := p.LastIntrospectionClientAssertion(); claims["sub"] != "spa-client" {
		t.Errorf("LastIntrospectionClientAssertion %v", claims)
	}

	// client_secret_post, Curity-style answers.
	p = NewProvider(t, ProviderOptions{IntrospectionClientAuth: ClientSecretPost})
	tokens, _ = login(t, p)
	form := url.Values{"token": {tokens["access_token"].(string)}, "client_id": {IntrospectionClientID}, "client_secret": {IntrospectionClientSecret}}
	if resp, body := post(t, p.Server.Client(), p.IntrospectionURL(), form, nil); resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/jwt" {
		t.Errorf("client_secret_post: %d %s", resp.StatusCode, body)
	}
	if got := introspect(t, p, tokens["access_token"].(string)); got != 401 {
		t.Errorf("HTTP Basic with client_secret_post configured: %d", got)
	}
}
