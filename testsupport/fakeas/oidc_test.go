package fakeas

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	_ "crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"
)

// ---- Client side of the tests, written with net/http and crypto only ----

// pkce returns a fresh RFC 7636 verifier and its S256 challenge.
func pkce(t *testing.T) (verifier, challenge string) {
	t.Helper()
	b := make([]byte, 48)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	verifier = base64.RawURLEncoding.EncodeToString(b) // 64 characters
	sum := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(sum[:])
}

// authRequest builds an authorization request URL the way the OAuth Agent does.
func authRequest(p *Provider, challenge, state, nonce string) string {
	q := url.Values{
		"client_id":             {p.Options().ClientID},
		"redirect_uri":          {p.Options().RedirectURI},
		"response_type":         {"code"},
		"scope":                 {"openid profile"},
		"state":                 {state},
		"nonce":                 {nonce},
		"code_challenge":        {challenge},
		"code_challenge_method": {"S256"},
		"prompt":                {"login"},
	}
	return p.AuthorizationURL() + "?" + q.Encode()
}

// getJSON GETs url and decodes a JSON object.
func getJSON(t *testing.T, c *http.Client, rawURL string) (int, map[string]interface{}) {
	t.Helper()
	resp, err := c.Get(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	return decode(t, resp)
}

func decode(t *testing.T, resp *http.Response) (int, map[string]interface{}) {
	t.Helper()
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]interface{}
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("status %d, body %q is not a JSON object: %v", resp.StatusCode, body, err)
	}
	return resp.StatusCode, m
}

// postToken POSTs form to the token endpoint, with HTTP Basic id:secret (form-url-encoded as
// RFC 6749 §2.3.1 asks) unless id is empty.
func postToken(t *testing.T, p *Provider, form url.Values, id, secret string) (int, map[string]interface{}) {
	t.Helper()
	resp, body := postForm(t, p, p.TokenURL(), form, id, secret)
	var m map[string]interface{}
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatalf("status %d, body %q is not a JSON object: %v", resp.StatusCode, body, err)
	}
	return resp.StatusCode, m
}

// userinfo calls the userinfo endpoint with a bearer token.
func userinfo(t *testing.T, p *Provider, method, at string) (*http.Response, map[string]interface{}) {
	t.Helper()
	req, _ := http.NewRequest(method, p.UserinfoURL(), nil)
	req.Header.Set("Authorization", "Bearer "+at)
	resp, err := p.Server.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, m := decode(t, resp)
	return resp, m
}

// login runs the code flow up to the token response; it returns the response and the nonce.
func login(t *testing.T, p *Provider) (map[string]interface{}, string) {
	t.Helper()
	verifier, challenge := pkce(t)
	state, nonce := "state-"+randomString(8), "nonce-"+randomString(8)
	callback, err := p.Authorize(authRequest(p, challenge, state, nonce))
	if err != nil {
		t.Fatal(err)
	}
	cb, err := url.Parse(callback)
	if err != nil {
		t.Fatal(err)
	}
	if got := cb.Query().Get("state"); got != state {
		t.Fatalf("callback state %q, want %q", got, state)
	}
	status, tokens := postToken(t, p, url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {cb.Query().Get("code")},
		"redirect_uri":  {p.Options().RedirectURI},
		"code_verifier": {verifier},
	}, p.Options().ClientID, p.Options().ClientSecret)
	if status != http.StatusOK {
		t.Fatalf("token endpoint: %d %v", status, tokens)
	}
	return tokens, nonce
}

func refresh(t *testing.T, p *Provider, rt string) (int, map[string]interface{}) {
	t.Helper()
	return postToken(t, p, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, p.Options().ClientID, p.Options().ClientSecret)
}

// jwtParts decodes a compact JWS's header and claims.
func jwtParts(t *testing.T, token string) (header, claims map[string]interface{}, sig []byte) {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("%q is not a compact JWS", token)
	}
	for i, dst := range []*map[string]interface{}{&header, &claims} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, dst); err != nil {
			t.Fatal(err)
		}
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		t.Fatal(err)
	}
	return header, claims, sig
}

// verifyJWT checks token's signature against the provider's JWKS, fetched now, the way a relying
// party does: by kid, with the JWK's alg. It returns the claims.
func verifyJWT(t *testing.T, p *Provider, token string) (map[string]interface{}, error) {
	t.Helper()
	header, claims, sig := jwtParts(t, token)
	var jwks struct {
		Keys []map[string]string `json:"keys"`
	}
	resp, err := p.Server.Client().Get(p.JWKSURL())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&jwks); err != nil {
		t.Fatal(err)
	}
	var jwk map[string]string
	for _, k := range jwks.Keys {
		if k["kid"] == header["kid"] {
			jwk = k
		}
	}
	if jwk == nil {
		return nil, fmt.Errorf("kid %v not in the JWKS", header["kid"])
	}
	if jwk["use"] != "sig" || header["alg"] != jwk["alg"] {
		return nil, fmt.Errorf("header alg %v, JWK %v", header["alg"], jwk)
	}
	b64 := func(s string) []byte {
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil {
			t.Fatalf("JWK member %q: %v", s, err)
		}
		return b
	}
	input := token[:strings.LastIndexByte(token, '.')]
	alg := jwk["alg"]
	hash := map[string]crypto.Hash{"256": crypto.SHA256, "384": crypto.SHA384, "512": crypto.SHA512}[alg[2:]]
	h := hash.New()
	h.Write([]byte(input))
	digest := h.Sum(nil)
	switch alg[:2] {
	case "RS", "PS":
		if jwk["kty"] != "RSA" {
			t.Fatalf("JWK %v", jwk)
		}
		pub := &rsa.PublicKey{N: new(big.Int).SetBytes(b64(jwk["n"])), E: int(new(big.Int).SetBytes(b64(jwk["e"])).Int64())}
		if alg[:2] == "RS" {
			err = rsa.VerifyPKCS1v15(pub, hash, digest, sig)
		} else {
			err = rsa.VerifyPSS(pub, hash, digest, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		}
	case "ES":
		curve := map[string]elliptic.Curve{"P-256": elliptic.P256(), "P-384": elliptic.P384(), "P-521": elliptic.P521()}[jwk["crv"]]
		if jwk["kty"] != "EC" || curve == nil {
			t.Fatalf("JWK %v", jwk)
		}
		size := (curve.Params().BitSize + 7) / 8
		x, y := b64(jwk["x"]), b64(jwk["y"])
		if len(x) != size || len(y) != size || len(sig) != 2*size {
			return nil, fmt.Errorf("EC sizes x %d y %d sig %d", len(x), len(y), len(sig))
		}
		pub := &ecdsa.PublicKey{Curve: curve, X: new(big.Int).SetBytes(x), Y: new(big.Int).SetBytes(y)}
		if !ecdsa.Verify(pub, digest, new(big.Int).SetBytes(sig[:size]), new(big.Int).SetBytes(sig[size:])) {
			err = errors.New("ECDSA verification failed")
		}
	default:
		t.Fatalf("alg %q", alg)
	}
	if err != nil {
		return nil, err
	}
	return claims, nil
}

// ---- Tests ----

func TestDiscovery(t *testing.T) {
	p := NewProvider(t, ProviderOptions{Alg: "ES256", ClientAuth: "client_secret_post"})
	status, doc := getJSON(t, p.Server.Client(), p.Issuer()+"/.well-known/openid-configuration")
	if status != http.StatusOK {
		t.Fatal(status)
	}
	want := map[string]interface{}{
		"issuer":                                p.Issuer(),
		"authorization_endpoint":                p.Issuer() + "/authorize",
		"token_endpoint":                        p.Issuer() + "/token",
		"userinfo_endpoint":                     p.Issuer() + "/userinfo",
		"jwks_uri":                              p.Issuer() + "/jwks",
		"end_session_endpoint":                  p.Issuer() + "/session/end",
		"response_types_supported":              []interface{}{"code"},
		"subject_types_supported":               []interface{}{"public"},
		"id_token_signing_alg_values_supported": []interface{}{"ES256"},
		"code_challenge_methods_supported":      []interface{}{"S256"},
		"token_endpoint_auth_methods_supported": []interface{}{"client_secret_post"},
	}
	for k, v := range want {
		if !reflect.DeepEqual(doc[k], v) {
			t.Errorf("%s = %v, want %v", k, doc[k], v)
		}
	}

	p.SetDiscoveryIssuer("https://other.example")
	p.TamperDiscovery(func(doc map[string]interface{}) { delete(doc, "jwks_uri") })
	_, doc = getJSON(t, p.Server.Client(), p.DiscoveryURL())
	if doc["issuer"] != "https://other.example" || doc["jwks_uri"] != nil {
		t.Errorf("tampered discovery: %v", doc)
	}
	p.SetDiscoveryIssuer("")
	p.TamperDiscovery(nil)
	_, doc = getJSON(t, p.Server.Client(), p.DiscoveryURL())
	if doc["issuer"] != p.Issuer() || doc["jwks_uri"] != p.JWKSURL() {
		t.Errorf("restored discovery: %v", doc)
	}
	if got := p.Calls(EndpointDiscovery); got != 3 {
		t.Errorf("discovery calls %d, want 3", got)
	}
}

func TestCodeFlow(t *testing.T) {
	for _, alg := range []string{"RS256", "PS256", "ES256", "RS512", "PS384", "ES384", "ES512"} {
		t.Run(alg, func(t *testing.T) {
			t.Parallel()
			p := NewProvider(t, ProviderOptions{Alg: alg})
			c := p.Server.Client()

			// Discovery, then a request built by hand from it.
			_, doc := getJSON(t, c, p.DiscoveryURL())
			verifier, challenge := pkce(t)
			q := url.Values{
				"client_id": {"spa-client"}, "redirect_uri": {"https://www.example.com/"}, "response_type": {"code"},
				"scope": {"openid profile"}, "state": {"st"}, "nonce": {"n-0S6_WzA2Mj"},
				"code_challenge": {challenge}, "code_challenge_method": {"S256"}, "ui_locales": {"fr"},
			}
			callback, err := p.Authorize(doc["authorization_endpoint"].(string) + "?" + q.Encode())
			if err != nil {
				t.Fatal(err)
			}
			if got := p.LastAuthorizationRequest().Get("ui_locales"); got != "fr" {
				t.Errorf("LastAuthorizationRequest ui_locales %q", got)
			}
			cb, _ := url.Parse(callback)
			if cb.Scheme+"://"+cb.Host+cb.Path != "https://www.example.com/" || cb.Query().Get("state") != "st" || cb.Query().Get("code") == "" {
				t.Fatalf("callback %s", callback)
			}

			form := url.Values{
				"grant_type": {"authorization_code"}, "code": {cb.Query().Get("code")},
				"redirect_uri": {"https://www.example.com/"}, "code_verifier": {verifier},
			}
			before := time.Now().Unix()
			status, tokens := postToken(t, p, form, "spa-client", "Password1")
			if status != http.StatusOK {
				t.Fatalf("token: %d %v", status, tokens)
			}
			if tokens["token_type"] != "Bearer" || tokens["expires_in"] != float64(300) || tokens["scope"] != "openid profile" ||
				tokens["access_token"] == "" || tokens["refresh_token"] == "" {
				t.Errorf("token response %v", tokens)
			}
			if !reflect.DeepEqual(p.LastTokenResponse(), tokens) {
				t.Errorf("LastTokenResponse %v", p.LastTokenResponse())
			}
			sentForm, sentHeader := p.LastTokenRequest()
			if sentForm.Get("code_verifier") != verifier || !strings.HasPrefix(sentHeader.Get("Authorization"), "Basic ") {
				t.Errorf("LastTokenRequest %v %v", sentForm, sentHeader)
			}

			idToken := tokens["id_token"].(string)
			header, _, _ := jwtParts(t, idToken)
			if header["alg"] != alg || header["typ"] != "JWT" || header["kid"] != p.KeyIDs()[0] {
				t.Errorf("header %v", header)
			}
			claims, err := verifyJWT(t, p, idToken)
			if err != nil {
				t.Fatal(err)
			}
			iat, _ := claims["iat"].(float64)
			if claims["iss"] != p.Issuer() || claims["sub"] != "demouser-sub" || claims["aud"] != "spa-client" ||
				claims["nonce"] != "n-0S6_WzA2Mj" || claims["sid"] == nil || claims["azp"] != nil ||
				int64(iat) < before || claims["exp"] != iat+300 || claims["auth_time"] == nil {
				t.Errorf("claims %v", claims)
			}

			for _, method := range []string{http.MethodGet, http.MethodPost} {
				resp, info := userinfo(t, p, method, tokens["access_token"].(string))
				want := map[string]interface{}{"sub": "demouser-sub", "given_name": "Demo", "family_name": "User", "preferred_username": "demouser", "name": "Demo User"}
				if resp.StatusCode != http.StatusOK || !reflect.DeepEqual(info, want) {
					t.Errorf("userinfo %s: %d %v", method, resp.StatusCode, info)
				}
			}

			// The code works once.
			status, body := postToken(t, p, form, "spa-client", "Password1")
			if status != http.StatusBadRequest || body["error"] != "invalid_grant" {
				t.Errorf("code replay: %d %v", status, body)
			}
			if got := p.Calls(EndpointToken); got != 2 {
				t.Errorf("token calls %d", got)
			}
		})
	}
}

func TestTokenEndpointRejects(t *testing.T) {
	p := NewProvider(t, ProviderOptions{})
	code := func(challenge string) string {
		callback, err := p.Authorize(authRequest(p, challenge, "s", "n"))
		if err != nil {
			t.Fatal(err)
		}
		cb, _ := url.Parse(callback)
		return cb.Query().Get("code")
	}
	verifier, challenge := pkce(t)
	other, _ := pkce(t)
	good := func(c string) url.Values {
		return url.Values{"grant_type": {"authorization_code"}, "code": {c}, "redirect_uri": {p.Options().RedirectURI}, "code_verifier": {verifier}}
	}

	c := code(challenge)
	form := good(c)
	form.Set("code_verifier", other)
	if status, body := postToken(t, p, form, "spa-client", "Password1"); status != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Errorf("PKCE mismatch: %d %v", status, body)
	}
	if status, body := postToken(t, p, good(c), "spa-client", "Password1"); status != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Errorf("code used by the failed attempt: %d %v", status, body)
	}

	form = good(code(challenge))
	form.Del("code_verifier")
	if status, body := postToken(t, p, form, "spa-client", "Password1"); status != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Errorf("no verifier: %d %v", status, body)
	}

	form = good(code(challenge))
	form.Set("redirect_uri", "https://www.example.com/other")
	if status, body := postToken(t, p, form, "spa-client", "Password1"); status != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Errorf("redirect_uri mismatch: %d %v", status, body)
	}

	c = code(challenge)
	if status, body := postToken(t, p, good(c), "spa-client", "wrong"); status != http.StatusUnauthorized || body["error"] != "invalid_client" {
		t.Errorf("wrong secret: %d %v", status, body)
	}
	if status, body := postToken(t, p, good(c), "", ""); status != http.StatusUnauthorized || body["error"] != "invalid_client" {
		t.Errorf("no client auth: %d %v", status, body)
	}
	form = good(c)
	form.Set("client_secret", "Password1")
	if status, body := postToken(t, p, form, "spa-client", "Password1"); status != http.StatusUnauthorized || body["error"] != "invalid_client" {
		t.Errorf("two client auth methods: %d %v", status, body)
	}
	if status, body := postToken(t, p, good(c), "spa-client", "Password1"); status != http.StatusOK {
		t.Errorf("a rejected client does not use the code up: %d %v", status, body)
	}

	if status, body := postToken(t, p, url.Values{"grant_type": {"password"}}, "spa-client", "Password1"); status != http.StatusBadRequest || body["error"] != "unsupported_grant_type" {
		t.Errorf("password grant: %d %v", status, body)
	}
	resp, err := p.Server.Client().Post(p.TokenURL(), "application/json", strings.NewReader(`{"grant_type":"authorization_code"}`))
	if err != nil {
		t.Fatal(err)
	}
	if status, body := decode(t, resp); status != http.StatusBadRequest || body["error"] != "invalid_request" {
		t.Errorf("JSON body: %d %v", status, body)
	}
}

// TestClientSecretBasicEncoding: the Basic credentials are form-url-encoded (RFC 6749 §2.3.1).
func TestClientSecretBasicEncoding(t *testing.T) {
	p := NewProvider(t, ProviderOptions{ClientID: "spa client", ClientSecret: "s3cr&t:+%/é"})
	verifier, challenge := pkce(t)
	codeFor := func() string {
		callback, err := p.Authorize(authRequest(p, challenge, "s", "n"))
		if err != nil {
			t.Fatal(err)
		}
		cb, _ := url.Parse(callback)
		return cb.Query().Get("code")
	}
	form := url.Values{"grant_type": {"authorization_code"}, "code": {codeFor()}, "redirect_uri": {p.Options().RedirectURI}, "code_verifier": {verifier}}

	req, _ := http.NewRequest(http.MethodPost, p.TokenURL(), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("spa client", "s3cr&t:+%/é") // not encoded
	resp, err := p.Server.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if status, body := decode(t, resp); status != http.StatusUnauthorized || body["error"] != "invalid_client" || resp.Header.Get("WWW-Authenticate") == "" {
		t.Errorf("unencoded credentials: %d %v", status, body)
	}
	if status, body := postToken(t, p, form, "spa client", "s3cr&t:+%/é"); status != http.StatusOK {
		t.Errorf("encoded credentials: %d %v", status, body)
	}
}

func TestClientSecretPost(t *testing.T) {
	p := NewProvider(t, ProviderOptions{ClientAuth: "client_secret_post", RedirectURI: "https://app.example/cb?tenant=a%20b"})
	verifier, challenge := pkce(t)
	callback, err := p.Authorize(authRequest(p, challenge, "s", "n"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(callback, "https://app.example/cb?tenant=a%20b&") {
		t.Errorf("callback %s does not keep the redirect_uri's query", callback)
	}
	cb, _ := url.Parse(callback)
	form := url.Values{"grant_type": {"authorization_code"}, "code": {cb.Query().Get("code")}, "redirect_uri": {p.Options().RedirectURI}, "code_verifier": {verifier}}
	if status, body := postToken(t, p, form, "spa-client", "Password1"); status != http.StatusUnauthorized || body["error"] != "invalid_client" {
		t.Errorf("basic in post mode: %d %v", status, body)
	}
	form.Set("client_id", "spa-client")
	form.Set("client_secret", "Password1")
	if status, body := postToken(t, p, form, "spa-client", "Password1"); status != http.StatusUnauthorized || body["error"] != "invalid_client" {
		t.Errorf("post and basic: %d %v", status, body)
	}
	if status, body := postToken(t, p, form, "", ""); status != http.StatusOK {
		t.Errorf("post: %d %v", status, body)
	}
}

func TestRefresh(t *testing.T) {
	p := NewProvider(t, ProviderOptions{})
	tokens, _ := login(t, p)
	_, first, _ := jwtParts(t, tokens["id_token"].(string))

	status, refreshed := refresh(t, p, tokens["refresh_token"].(string))
	if status != http.StatusOK || refreshed["access_token"] == tokens["access_token"] || refreshed["refresh_token"] == tokens["refresh_token"] ||
		refreshed["refresh_token"] == nil || refreshed["id_token"] == nil {
		t.Fatalf("refresh: %d %v", status, refreshed)
	}
	claims, err := verifyJWT(t, p, refreshed["id_token"].(string))
	if err != nil {
		t.Fatal(err)
	}
	if claims["sub"] != "demouser-sub" || claims["nonce"] != nil || claims["sid"] != first["sid"] || claims["auth_time"] != first["auth_time"] {
		t.Errorf("refreshed ID token claims %v (first %v)", claims, first)
	}
	if resp, _ := userinfo(t, p, http.MethodGet, refreshed["access_token"].(string)); resp.StatusCode != http.StatusOK {
		t.Errorf("userinfo with the new access token: %d", resp.StatusCode)
	}

	// Rotation: the old refresh token is gone.
	if status, body := refresh(t, p, tokens["refresh_token"].(string)); status != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Errorf("old refresh token: %d %v", status, body)
	}
	status, again := refresh(t, p, refreshed["refresh_token"].(string))
	if status != http.StatusOK {
		t.Fatalf("new refresh token: %d %v", status, again)
	}
	if got := p.Calls(EndpointRefresh); got != 3 {
		t.Errorf("refresh calls %d", got)
	}

	p.RevokeRefreshTokens()
	if status, body := refresh(t, p, again["refresh_token"].(string)); status != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Errorf("revoked: %d %v", status, body)
	}

	// The refresh grant may change the answer without touching the code flow.
	p.TamperTokenResponse(func(grantType string, resp map[string]interface{}) {
		if grantType == "refresh_token" {
			delete(resp, "id_token")
		}
	})
	tokens, _ = login(t, p)
	if tokens["id_token"] == nil {
		t.Error("TamperTokenResponse for refresh_token changed the code flow")
	}
	if _, resp := refresh(t, p, tokens["refresh_token"].(string)); resp["id_token"] != nil || resp["access_token"] == nil {
		t.Errorf("tampered refresh answer %v", resp)
	}
}

func TestKeepRefreshTokens(t *testing.T) {
	p := NewProvider(t, ProviderOptions{KeepRefreshTokens: true})
	tokens, _ := login(t, p)
	for i := 0; i < 2; i++ {
		status, resp := refresh(t, p, tokens["refresh_token"].(string))
		if status != http.StatusOK || resp["refresh_token"] != nil {
			t.Errorf("refresh %d: %d %v", i, status, resp)
		}
	}
}

func TestUserinfoRejects(t *testing.T) {
	p := NewProvider(t, ProviderOptions{})
	tokens, _ := login(t, p)
	at := tokens["access_token"].(string)
	if resp, _ := userinfo(t, p, http.MethodGet, "unknown"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("unknown token: %d", resp.StatusCode)
	}
	p.ExpireAccessTokens()
	resp, body := userinfo(t, p, http.MethodGet, at)
	if resp.StatusCode != http.StatusUnauthorized || body["error"] != "invalid_token" || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
		t.Errorf("expired token: %d %v %v", resp.StatusCode, body, resp.Header)
	}
	resp, err := p.Server.Client().Get(p.UserinfoURL())
	if err != nil {
		t.Fatal(err)
	}
	if status, body := decode(t, resp); status != http.StatusUnauthorized || body["error"] != "invalid_token" {
		t.Errorf("no token: %d %v", status, body)
	}
}

func TestAuthorizeChecks(t *testing.T) {
	p := NewProvider(t, ProviderOptions{})
	_, challenge := pkce(t)
	good := authRequest(p, challenge, "s", "n")
	if _, err := p.Authorize(good); err != nil {
		t.Fatal(err)
	}
	cases := map[string]func(q url.Values){
		"client_id":             func(q url.Values) { q.Set("client_id", "other") },
		"redirect_uri":          func(q url.Values) { q.Set("redirect_uri", "https://www.example.com") },
		"response_type":         func(q url.Values) { q.Set("response_type", "token") },
		"scope":                 func(q url.Values) { q.Set("scope", "profile") },
		"code_challenge_method": func(q url.Values) { q.Set("code_challenge_method", "plain") },
		"code_challenge":        func(q url.Values) { q.Set("code_challenge", "short") },
		"no code_challenge":     func(q url.Values) { q.Del("code_challenge") },
		"state":                 func(q url.Values) { q.Del("state") },
		"nonce":                 func(q url.Values) { q.Del("nonce") },
		"duplicate":             func(q url.Values) { q.Add("scope", "openid") },
	}
	for name, mutate := range cases {
		u, _ := url.Parse(good)
		q := u.Query()
		mutate(q)
		u.RawQuery = q.Encode()
		if callback, err := p.Authorize(u.String()); err == nil {
			t.Errorf("%s: accepted, callback %s", name, callback)
		}
	}

	callback, err := p.AuthorizeError(good, "login_required", "prompt=none & no session")
	if err != nil {
		t.Fatal(err)
	}
	cb, _ := url.Parse(callback)
	if q := cb.Query(); q.Get("error") != "login_required" || q.Get("error_description") != "prompt=none & no session" || q.Get("state") != "s" || q.Get("code") != "" {
		t.Errorf("AuthorizeError callback %s", callback)
	}
	if _, err := p.AuthorizeError(strings.Replace(good, "spa-client", "other", 1), "access_denied", ""); err == nil {
		t.Error("AuthorizeError accepted another client")
	}

	// GET /authorize redirects like a browser login would.
	c := p.Server.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Get(good)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || loc.Query().Get("code") == "" || loc.Query().Get("state") != "s" {
		t.Errorf("GET /authorize: %d %s", resp.StatusCode, loc)
	}
	if p.Calls(EndpointAuthorize) != 1 {
		t.Errorf("authorize calls %d", p.Calls(EndpointAuthorize))
	}
}

func TestFaults(t *testing.T) {
	p := NewProvider(t, ProviderOptions{})
	get := func(c *http.Client) (*http.Response, string, error) {
		resp, err := c.Get(p.JWKSURL())
		if err != nil {
			return nil, "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp, string(b), err
	}

	p.Fail(EndpointJWKS, Fault{Status: 503, Body: `{"error":"unavailable"}`})
	if resp, body, err := get(p.Server.Client()); err != nil || resp.StatusCode != 503 || body != `{"error":"unavailable"}` || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("Status: %v %q %v", resp, body, err)
	}

	p.Fail(EndpointJWKS, Fault{Garbage: true})
	if resp, body, err := get(p.Server.Client()); err != nil || resp.StatusCode != 200 || body != "<html>garbage</html>" || resp.Header.Get("Content-Type") != "text/html" {
		t.Errorf("Garbage: %v %q %v", resp, body, err)
	}
	p.Fail(EndpointJWKS, Fault{Garbage: true, Body: `{"keys":`, ContentType: "application/json"})
	if resp, body, err := get(p.Server.Client()); err != nil || resp.StatusCode != 200 || body != `{"keys":` || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("Garbage with body: %v %q %v", resp, body, err)
	}

	p.Fail(EndpointJWKS, Fault{Delay: 200 * time.Millisecond})
	start := time.Now()
	if resp, body, err := get(p.Server.Client()); err != nil || resp.StatusCode != 200 || !strings.Contains(body, `"keys"`) || time.Since(start) < 200*time.Millisecond {
		t.Errorf("Delay: %v %q %v after %v", resp, body, err, time.Since(start))
	}

	// The handler must stop waiting when the client gives up: the cleanup's Server.Close waits
	// for every handler, so the test would hang for an hour otherwise.
	p.Fail(EndpointJWKS, Fault{Delay: time.Hour})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.JWKSURL(), nil)
	if _, err := p.Server.Client().Do(req); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Delay past the client's deadline: %v", err)
	}
	cancel()

	p.Fail(EndpointJWKS, Fault{Down: true})
	if resp, _, err := get(p.Server.Client()); err == nil {
		t.Errorf("Down: answered %d", resp.StatusCode)
	}

	p.Heal(EndpointJWKS)
	if resp, body, err := get(p.Server.Client()); err != nil || resp.StatusCode != 200 || !strings.Contains(body, `"keys"`) {
		t.Errorf("healed: %v %q %v", resp, body, err)
	}
	if got := p.Calls(EndpointJWKS); got < 7 {
		t.Errorf("jwks calls %d", got)
	}

	// "token" and "refresh" are the two grants of one endpoint.
	tokens, _ := login(t, p)
	p.Fail(EndpointToken, Fault{Status: 500})
	if status, _ := refresh(t, p, tokens["refresh_token"].(string)); status != http.StatusOK {
		t.Errorf("a token fault changed refresh: %d", status)
	}
	p.Heal(EndpointToken)
	p.Fail(EndpointRefresh, Fault{Status: 400, Body: `{"error":"invalid_grant"}`})
	if status, body := refresh(t, p, "anything"); status != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Errorf("refresh fault: %d %v", status, body)
	}
	if form, _ := p.LastTokenRequest(); form.Get("refresh_token") != "anything" {
		t.Errorf("LastTokenRequest of a faulted request: %v", form)
	}
	login(t, p)

	// Down on a POST: the client gets an error, not a retry.
	p.Fail(EndpointToken, Fault{Down: true})
	before := p.Calls(EndpointToken)
	req, _ = http.NewRequest(http.MethodPost, p.TokenURL(), strings.NewReader("grant_type=authorization_code"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if resp, err := p.Server.Client().Do(req); err == nil {
		t.Errorf("token Down: answered %d", resp.StatusCode)
	}
	if got := p.Calls(EndpointToken) - before; got != 1 {
		t.Errorf("token Down: %d calls", got)
	}

	func() {
		defer func() {
			if recover() == nil {
				t.Error("Fail accepted an unknown endpoint name")
			}
		}()
		p.Fail("tokens", Fault{Status: 500})
	}()
}

func TestKeyRotation(t *testing.T) {
	p := NewProvider(t, ProviderOptions{})
	first := p.KeyIDs()
	if len(first) != 1 {
		t.Fatalf("initial kids %v", first)
	}
	oldToken, _ := login(t, p)

	kid := p.RotateKey()
	if kids := p.KeyIDs(); len(kids) != 2 || kids[0] != kid || kids[1] != first[0] {
		t.Fatalf("kids after RotateKey %v", kids)
	}
	_, jwks := getJSON(t, p.Server.Client(), p.JWKSURL())
	keys := jwks["keys"].([]interface{})
	if len(keys) != 2 || keys[0].(map[string]interface{})["kid"] != kid || keys[1].(map[string]interface{})["kid"] != first[0] {
		t.Fatalf("JWKS after RotateKey %v", jwks)
	}
	newToken, _ := login(t, p)
	if header, _, _ := jwtParts(t, newToken["id_token"].(string)); header["kid"] != kid {
		t.Errorf("new ID token kid %v, want %s", header["kid"], kid)
	}
	for _, tok := range []map[string]interface{}{oldToken, newToken} {
		if _, err := verifyJWT(t, p, tok["id_token"].(string)); err != nil {
			t.Errorf("with both keys published: %v", err)
		}
	}

	p.RetireOldKeys()
	if kids := p.KeyIDs(); len(kids) != 1 || kids[0] != kid {
		t.Errorf("kids after RetireOldKeys %v", kids)
	}
	if _, err := verifyJWT(t, p, oldToken["id_token"].(string)); err == nil {
		t.Error("a token of a retired key still verifies")
	}
	if _, err := verifyJWT(t, p, newToken["id_token"].(string)); err != nil {
		t.Error(err)
	}
}

func TestIDTokenTampering(t *testing.T) {
	p := NewProvider(t, ProviderOptions{})

	p.CorruptSignatures(true)
	tokens, _ := login(t, p)
	if _, err := verifyJWT(t, p, tokens["id_token"].(string)); err == nil {
		t.Error("CorruptSignatures: the signature verifies")
	}
	p.CorruptSignatures(false)

	p.SignWithUnpublishedKey(true)
	tokens, _ = login(t, p)
	header, _, _ := jwtParts(t, tokens["id_token"].(string))
	for _, kid := range p.KeyIDs() {
		if header["kid"] == kid {
			t.Errorf("SignWithUnpublishedKey: kid %v is published", kid)
		}
	}
	if _, err := verifyJWT(t, p, tokens["id_token"].(string)); err == nil {
		t.Error("SignWithUnpublishedKey: verifies")
	}
	p.SignWithUnpublishedKey(false)

	p.TamperIDToken(func(claims, header map[string]interface{}) {
		claims["aud"] = []string{"spa-client", "api"}
		claims["azp"] = "spa-client"
		claims["exp"] = time.Now().Add(-time.Minute).Unix()
		delete(claims, "nonce")
		header["typ"] = "at+jwt"
	})
	tokens, _ = login(t, p)
	claims, err := verifyJWT(t, p, tokens["id_token"].(string))
	if err != nil {
		t.Fatal(err)
	}
	header, _, _ = jwtParts(t, tokens["id_token"].(string))
	if !reflect.DeepEqual(claims["aud"], []interface{}{"spa-client", "api"}) || claims["azp"] != "spa-client" || claims["nonce"] != nil ||
		claims["exp"].(float64) > float64(time.Now().Unix()) || header["typ"] != "at+jwt" {
		t.Errorf("tampered token %v %v", header, claims)
	}

	p.TamperIDToken(func(_, header map[string]interface{}) { header["alg"] = "none" })
	tokens, _ = login(t, p)
	if parts := strings.Split(tokens["id_token"].(string), "."); len(parts) != 3 || parts[2] != "" {
		t.Errorf("alg none: %s", tokens["id_token"])
	}

	// An algorithm the key can do is really used: PS256 with the RS256 key.
	p.TamperIDToken(func(_, header map[string]interface{}) { header["alg"] = "PS256" })
	tokens, _ = login(t, p)
	p.TamperIDToken(nil)
	_, _, sig := jwtParts(t, tokens["id_token"].(string))
	token := tokens["id_token"].(string)
	digest := sha256.Sum256([]byte(token[:strings.LastIndexByte(token, '.')]))
	pub := p.keys[0].signer.Public().(*rsa.PublicKey)
	if err := rsa.VerifyPSS(pub, crypto.SHA256, digest[:], sig, nil); err != nil {
		t.Errorf("PS256 header on the RS256 key: %v", err)
	}
	if _, err := verifyJWT(t, p, token); err == nil {
		t.Error("PS256 header passes as the RS256 JWK")
	}

	tokens, _ = login(t, p)
	if _, err := verifyJWT(t, p, tokens["id_token"].(string)); err != nil {
		t.Errorf("after TamperIDToken(nil): %v", err)
	}
}

func TestEndSession(t *testing.T) {
	p := NewProvider(t, ProviderOptions{})
	q := url.Values{"client_id": {"spa-client"}, "post_logout_redirect_uri": {"https://www.example.com/"}, "id_token_hint": {"a.b.c"}}
	resp, err := p.Server.Client().Get(p.EndSessionURL() + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "signed out") {
		t.Errorf("%d %q", resp.StatusCode, body)
	}
	if got := p.LastEndSession(); !reflect.DeepEqual(got, q) {
		t.Errorf("LastEndSession %v", got)
	}
}

func TestTLS(t *testing.T) {
	p := NewProvider(t, ProviderOptions{TLS: true, Alg: "ES256"})
	if !strings.HasPrefix(p.Issuer(), "https://") {
		t.Fatal(p.Issuer())
	}
	tokens, _ := login(t, p)
	if _, err := verifyJWT(t, p, tokens["id_token"].(string)); err != nil {
		t.Error(err)
	}
}

func TestSignJWT(t *testing.T) {
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	token, err := SignJWT("ES256", ecKey, "k1", map[string]interface{}{"sub": "x"})
	if err != nil {
		t.Fatal(err)
	}
	header, claims, sig := jwtParts(t, token)
	if header["alg"] != "ES256" || header["kid"] != "k1" || header["typ"] != "JWT" || claims["sub"] != "x" || len(sig) != 64 {
		t.Errorf("%v %v %d", header, claims, len(sig))
	}
	digest := sha256.Sum256([]byte(token[:strings.LastIndexByte(token, '.')]))
	if !ecdsa.Verify(&ecKey.PublicKey, digest[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
		t.Error("ES256 signature does not verify")
	}
	if _, err := SignJWT("RS256", ecKey, "", nil); err == nil {
		t.Error("RS256 with an EC key")
	}
	if _, err := SignJWT("ES384", ecKey, "", nil); err == nil {
		t.Error("ES384 with a P-256 key")
	}
	if _, err := SignJWT("HS256", ecKey, "", nil); err == nil {
		t.Error("HS256")
	}
	if token, err := SignJWT("none", nil, "", map[string]interface{}{}); err != nil || !strings.HasSuffix(token, ".") {
		t.Errorf("none: %q %v", token, err)
	}
}

// postForm POSTs form to rawURL with HTTP Basic id:secret (form-url-encoded) unless id is empty,
// and returns the status and the body.
func postForm(t *testing.T, p *Provider, rawURL string, form url.Values, id, secret string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, rawURL, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if id != "" {
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	}
	resp, err := p.Server.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

func revoke(t *testing.T, p *Provider, token, hint string) (*http.Response, string) {
	t.Helper()
	form := url.Values{"token": {token}}
	if hint != "" {
		form.Set("token_type_hint", hint)
	}
	return postForm(t, p, p.RevocationURL(), form, p.Options().ClientID, p.Options().ClientSecret)
}

// introspect calls the Curity-style introspection endpoint and returns its status.
func introspect(t *testing.T, p *Provider, at string) int {
	t.Helper()
	resp, _ := postForm(t, p, p.IntrospectionURL(), url.Values{"token": {at}}, IntrospectionClientID, IntrospectionClientSecret)
	return resp.StatusCode
}

func TestRefreshRotation(t *testing.T) {
	cases := []struct {
		name        string
		opts        ProviderOptions
		reuseStatus int  // of the reused refresh token
		newAlive    bool // the tokens of the refresh that rotated it, after the reuse
	}{
		{"rotate", ProviderOptions{}, http.StatusBadRequest, true},
		{"revoke on reuse", ProviderOptions{RevokeOnRefreshReuse: true}, http.StatusBadRequest, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := NewProvider(t, tc.opts)
			tokens, _ := login(t, p)
			other, _ := login(t, p) // another login, never touched by the reuse
			old := tokens["refresh_token"].(string)
			status, fresh := refresh(t, p, old)
			if status != http.StatusOK {
				t.Fatalf("refresh: %d %v", status, fresh)
			}
			status, body := refresh(t, p, old)
			if status != tc.reuseStatus || body["error"] != "invalid_grant" {
				t.Errorf("reuse: %d %v", status, body)
			}
			if got := p.RefreshReuses(); got != 1 {
				t.Errorf("RefreshReuses %d, want 1", got)
			}
			resp, _ := userinfo(t, p, http.MethodGet, fresh["access_token"].(string))
			if alive := resp.StatusCode == http.StatusOK; alive != tc.newAlive {
				t.Errorf("new access token alive %v, want %v", alive, tc.newAlive)
			}
			status, again := refresh(t, p, fresh["refresh_token"].(string))
			if alive := status == http.StatusOK; alive != tc.newAlive {
				t.Errorf("new refresh token alive %v (%d %v), want %v", alive, status, again, tc.newAlive)
			}
			if status, body := refresh(t, p, other["refresh_token"].(string)); status != http.StatusOK {
				t.Errorf("another login's refresh token: %d %v", status, body)
			}
			// An unknown token is not a reuse, nor is one presented with a bad client.
			refresh(t, p, "unknown")
			postToken(t, p, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {old}}, "spa-client", "wrong")
			if got := p.RefreshReuses(); got != 1 {
				t.Errorf("RefreshReuses %d after an unknown token and a bad client, want 1", got)
			}
			wantGrants := 2
			if tc.newAlive {
				wantGrants = 3
			}
			if got, calls := p.RefreshGrants(), p.Calls(EndpointRefresh); got != wantGrants || calls != 6 {
				t.Errorf("RefreshGrants %d (want %d), Calls(refresh) %d (want 6)", got, wantGrants, calls)
			}
		})
	}
}

// TestRefreshRace: of concurrent refreshes with one refresh token, exactly one succeeds.
func TestRefreshRace(t *testing.T) {
	p := NewProvider(t, ProviderOptions{RevokeOnRefreshReuse: true})
	tokens, _ := login(t, p)
	rt := tokens["refresh_token"].(string)
	const n = 20
	statuses := make(chan int, n)
	for i := 0; i < n; i++ {
		go func() {
			req, _ := http.NewRequest(http.MethodPost, p.TokenURL(), strings.NewReader(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth("spa-client", "Password1")
			resp, err := p.Server.Client().Do(req)
			if err != nil {
				statuses <- 0
				return
			}
			resp.Body.Close()
			statuses <- resp.StatusCode
		}()
	}
	ok := 0
	for i := 0; i < n; i++ {
		if <-statuses == http.StatusOK {
			ok++
		}
	}
	if ok != 1 || p.RefreshGrants() != 1 || p.RefreshReuses() != n-1 {
		t.Errorf("%d successes, RefreshGrants %d, RefreshReuses %d", ok, p.RefreshGrants(), p.RefreshReuses())
	}
	// The reuses revoked the login, the winner's new tokens included.
	if status, body := refresh(t, p, p.LastTokenResponse()["refresh_token"].(string)); status != http.StatusBadRequest {
		t.Errorf("the winner's refresh token after the reuses: %d %v", status, body)
	}
}

func TestRevocationDiscovery(t *testing.T) {
	for _, tc := range []struct {
		opts ProviderOptions
		want interface{}
	}{
		{ProviderOptions{}, nil},
		{ProviderOptions{Revocation: true}, "/revoke"},
	} {
		p := NewProvider(t, tc.opts)
		_, doc := getJSON(t, p.Server.Client(), p.DiscoveryURL())
		want := tc.want
		if want != nil {
			want = p.Issuer() + "/revoke"
			if p.RevocationURL() != want {
				t.Errorf("RevocationURL %s", p.RevocationURL())
			}
			if !reflect.DeepEqual(doc["revocation_endpoint_auth_methods_supported"], []interface{}{"client_secret_basic"}) {
				t.Errorf("revocation_endpoint_auth_methods_supported %v", doc["revocation_endpoint_auth_methods_supported"])
			}
		}
		if doc["revocation_endpoint"] != want {
			t.Errorf("Revocation %v: revocation_endpoint %v, want %v", tc.opts.Revocation, doc["revocation_endpoint"], want)
		}
		// The endpoint answers either way.
		if resp, body := revoke(t, p, "unknown", ""); resp.StatusCode != http.StatusOK || body != "" {
			t.Errorf("Revocation %v: unknown token: %d %q", tc.opts.Revocation, resp.StatusCode, body)
		}
	}
}

func TestRevocation(t *testing.T) {
	p := NewProvider(t, ProviderOptions{Revocation: true})
	tokens, _ := login(t, p)
	at, rt := tokens["access_token"].(string), tokens["refresh_token"].(string)
	other, _ := login(t, p)

	// The refresh token first, as the agent does at logout: only it stops working.
	if resp, body := revoke(t, p, rt, "refresh_token"); resp.StatusCode != http.StatusOK || body != "" || resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("revoke refresh token: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	if status, body := refresh(t, p, rt); status != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Errorf("revoked refresh token: %d %v", status, body)
	}
	if resp, _ := userinfo(t, p, http.MethodGet, at); resp.StatusCode != http.StatusOK {
		t.Errorf("the access token after revoking the refresh token: %d", resp.StatusCode)
	}
	// Then the access token, with a wrong hint: the hint is only a hint.
	if resp, _ := revoke(t, p, at, "refresh_token"); resp.StatusCode != http.StatusOK {
		t.Errorf("revoke access token: %d", resp.StatusCode)
	}
	if resp, body := userinfo(t, p, http.MethodGet, at); resp.StatusCode != http.StatusUnauthorized || body["error"] != "invalid_token" {
		t.Errorf("revoked access token at userinfo: %d %v", resp.StatusCode, body)
	}
	if got := introspect(t, p, at); got != http.StatusNoContent {
		t.Errorf("revoked access token at introspection: %d", got)
	}
	// Again, and an unknown token: 200, recorded with no kind.
	revoke(t, p, rt, "")
	revoke(t, p, "not-a-token", "access_token")
	if status, _ := refresh(t, p, other["refresh_token"].(string)); status != http.StatusOK {
		t.Errorf("another login's refresh token: %d", status)
	}

	want := []Revocation{
		{TokenTypeHint: "refresh_token", Token: rt, Kind: "refresh_token"},
		{TokenTypeHint: "refresh_token", Token: at, Kind: "access_token"},
		{Token: rt},
		{TokenTypeHint: "access_token", Token: "not-a-token"},
	}
	if got := p.Revocations(); !reflect.DeepEqual(got, want) {
		t.Errorf("Revocations\n got %+v\nwant %+v", got, want)
	}
	if got := p.Calls(EndpointRevocation); got != 4 {
		t.Errorf("Calls(revoke) %d", got)
	}
}

func TestRevocationRejects(t *testing.T) {
	type request struct {
		name       string
		change     func(form url.Values)
		id, secret string // HTTP Basic; "" for none
		status     int
		errCode    string
	}
	for _, mode := range []struct {
		clientAuth string
		basic      [2]string // HTTP Basic of a good request
		post       bool      // client_id and client_secret in the body of a good request
		cases      []request
	}{
		{"client_secret_basic", [2]string{"spa-client", "Password1"}, false, []request{
			{"wrong secret", nil, "spa-client", "wrong", http.StatusUnauthorized, "invalid_client"},
			{"no client authentication", nil, "", "", http.StatusUnauthorized, "invalid_client"},
			{"secret in the body too", func(f url.Values) { f.Set("client_secret", "Password1") }, "spa-client", "Password1", http.StatusUnauthorized, "invalid_client"},
			{"no token", func(f url.Values) { f.Del("token") }, "spa-client", "Password1", http.StatusBadRequest, "invalid_request"},
			{"token twice", func(f url.Values) { f.Add("token", "y") }, "spa-client", "Password1", http.StatusBadRequest, "invalid_request"},
		}},
		{"client_secret_post", [2]string{}, true, []request{
			{"wrong secret", func(f url.Values) { f.Set("client_secret", "wrong") }, "", "", http.StatusUnauthorized, "invalid_client"},
			{"HTTP Basic", func(f url.Values) { f.Del("client_id"); f.Del("client_secret") }, "spa-client", "Password1", http.StatusUnauthorized, "invalid_client"},
			{"no token", func(f url.Values) { f.Del("token") }, "", "", http.StatusBadRequest, "invalid_request"},
			{"token twice", func(f url.Values) { f.Add("token", "y") }, "", "", http.StatusBadRequest, "invalid_request"},
		}},
	} {
		t.Run(mode.clientAuth, func(t *testing.T) {
			p := NewProvider(t, ProviderOptions{ClientAuth: mode.clientAuth})
			// A live refresh token, issued directly: the login helper speaks client_secret_basic.
			tokens, err := p.issueTokens("authorization_code", &session{sid: "s", scope: "openid"}, "n")
			if err != nil {
				t.Fatal(err)
			}
			rt := tokens["refresh_token"].(string)
			good := func() url.Values {
				f := url.Values{"token": {rt}, "token_type_hint": {"refresh_token"}}
				if mode.post {
					f.Set("client_id", "spa-client")
					f.Set("client_secret", "Password1")
				}
				return f
			}
			for _, tc := range mode.cases {
				form := good()
				if tc.change != nil {
					tc.change(form)
				}
				resp, body := postForm(t, p, p.RevocationURL(), form, tc.id, tc.secret)
				var m map[string]string
				_ = json.Unmarshal([]byte(body), &m)
				if resp.StatusCode != tc.status || m["error"] != tc.errCode {
					t.Errorf("%s: %d %s", tc.name, resp.StatusCode, body)
				}
			}
			resp, err := p.Server.Client().Get(p.RevocationURL())
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusMethodNotAllowed {
				t.Errorf("GET: %d", resp.StatusCode)
			}
			resp, err = p.Server.Client().Post(p.RevocationURL(), "application/json", strings.NewReader(`{"token":"x"}`))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadRequest {
				t.Errorf("JSON body: %d", resp.StatusCode)
			}
			if got := p.Revocations(); len(got) != 0 {
				t.Errorf("refused requests recorded: %v", got)
			}
			p.mu.Lock()
			live := p.refreshTokens[rt] != nil
			p.mu.Unlock()
			if !live {
				t.Error("a refused request revoked the token")
			}
			if resp, body := postForm(t, p, p.RevocationURL(), good(), mode.basic[0], mode.basic[1]); resp.StatusCode != http.StatusOK {
				t.Errorf("good request: %d %s", resp.StatusCode, body)
			}
			if got := p.Revocations(); len(got) != 1 || got[0].Kind != "refresh_token" {
				t.Errorf("Revocations %v", got)
			}
		})
	}
}

// TestRevocationFaults: the revocation endpoint hangs, answers garbage or fails through Fail.
func TestRevocationFaults(t *testing.T) {
	p := NewProvider(t, ProviderOptions{Revocation: true})
	tokens, _ := login(t, p)
	rt := tokens["refresh_token"].(string)

	p.Fail(EndpointRevocation, Fault{Garbage: true})
	if resp, body := revoke(t, p, rt, "refresh_token"); resp.StatusCode != http.StatusOK || body != "<html>garbage</html>" {
		t.Errorf("Garbage: %d %q", resp.StatusCode, body)
	}
	p.Fail(EndpointRevocation, Fault{Status: http.StatusServiceUnavailable, Body: `{"error":"temporarily_unavailable"}`})
	if resp, _ := revoke(t, p, rt, "refresh_token"); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("Status: %d", resp.StatusCode)
	}
	p.Fail(EndpointRevocation, Fault{Delay: time.Hour})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, p.RevocationURL(), strings.NewReader("token="+rt))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("spa-client", "Password1")
	if _, err := p.Server.Client().Do(req); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("hang: %v", err)
	}
	p.Fail(EndpointRevocation, Fault{Down: true})
	req, _ = http.NewRequest(http.MethodPost, p.RevocationURL(), strings.NewReader("token="+rt))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if resp, err := p.Server.Client().Do(req); err == nil {
		t.Errorf("Down: answered %d", resp.StatusCode)
	}
	if got := p.Revocations(); len(got) != 0 {
		t.Errorf("faulted requests recorded: %v", got)
	}
	if status, _ := refresh(t, p, rt); status != http.StatusOK {
		t.Errorf("faulted revocations revoked the token: %d", status)
	}
	if got := p.Calls(EndpointRevocation); got != 4 {
		t.Errorf("Calls(revoke) %d, want 4", got)
	}
	p.Heal(EndpointRevocation)
	if resp, _ := revoke(t, p, p.LastTokenResponse()["refresh_token"].(string), "refresh_token"); resp.StatusCode != http.StatusOK || len(p.Revocations()) != 1 {
		t.Errorf("healed: %d %v", resp.StatusCode, p.Revocations())
	}
}

func TestTokenPadding(t *testing.T) {
	natural := func(t *testing.T, tokens map[string]interface{}) {
		t.Helper()
		if len(tokens["access_token"].(string)) != 43 || len(tokens["refresh_token"].(string)) != 43 {
			t.Errorf("natural sizes: access %d refresh %d", len(tokens["access_token"].(string)), len(tokens["refresh_token"].(string)))
		}
		if _, claims, _ := jwtParts(t, tokens["id_token"].(string)); claims["pad"] != nil {
			t.Error("a pad claim without padding")
		}
	}
	t.Run("zero", func(t *testing.T) {
		p := NewProvider(t, ProviderOptions{})
		tokens, _ := login(t, p)
		natural(t, tokens)
	})
	for _, tc := range []struct {
		alg  string
		size int
	}{
		{"RS256", 5000}, {"ES256", 5000}, {"PS256", 4097}, {"RS256", 6001}, {"ES512", 3000}, {"RS256", 800}, {"RS256", 44},
	} {
		t.Run(fmt.Sprintf("%s-%d", tc.alg, tc.size), func(t *testing.T) {
			t.Parallel()
			p := NewProvider(t, ProviderOptions{Alg: tc.alg, PadTokens: tc.size})
			tokens, nonce := login(t, p)
			at, rt, idt := tokens["access_token"].(string), tokens["refresh_token"].(string), tokens["id_token"].(string)
			if len(at) != tc.size || len(rt) != tc.size {
				t.Errorf("access %d refresh %d, want %d", len(at), len(rt), tc.size)
			}
			for _, tok := range []string{at, rt} {
				if strings.Trim(tok, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
					t.Errorf("%q... is not a base64url string", tok[:20])
				}
			}
			_, unpadded, _ := jwtParts(t, idt)
			if len(idt) < tc.size || unpadded["pad"] != nil && len(idt) > tc.size+3 {
				t.Errorf("ID token %d bytes, want %d to %d", len(idt), tc.size, tc.size+3)
			}
			claims, err := verifyJWT(t, p, idt)
			if err != nil {
				t.Fatal(err)
			}
			if claims["nonce"] != nonce || claims["at_hash"] != halfHash(algorithms[tc.alg].hash, at) {
				t.Errorf("claims %v", claims)
			}
			// The padded tokens work.
			if resp, _ := userinfo(t, p, http.MethodGet, at); resp.StatusCode != http.StatusOK {
				t.Errorf("userinfo: %d", resp.StatusCode)
			}
			if got := introspect(t, p, at); got != http.StatusOK {
				t.Errorf("introspection: %d", got)
			}
			status, refreshed := refresh(t, p, rt)
			if status != http.StatusOK || len(refreshed["access_token"].(string)) != tc.size || len(refreshed["id_token"].(string)) < tc.size {
				t.Errorf("refresh: %d", status)
			}
		})
	}
	t.Run("every size", func(t *testing.T) {
		t.Parallel()
		p := NewProvider(t, ProviderOptions{Alg: "ES256"})
		for size := 1000; size < 1100; size++ {
			token, err := p.idToken(&session{sid: "s", scope: "openid"}, "n", "at", size)
			if err != nil {
				t.Fatal(err)
			}
			if len(token) < size || len(token) > size+3 {
				t.Errorf("size %d: %d bytes", size, len(token))
			}
		}
	})
	t.Run("SetTokenSizes", func(t *testing.T) {
		t.Parallel()
		p := NewProvider(t, ProviderOptions{PadTokens: 5000})
		p.SetTokenSizes(TokenSizes{IDToken: 4500})
		tokens, _ := login(t, p)
		if len(tokens["access_token"].(string)) != 43 || len(tokens["refresh_token"].(string)) != 43 || len(tokens["id_token"].(string)) < 4500 {
			t.Errorf("only the ID token padded: %d %d %d", len(tokens["access_token"].(string)), len(tokens["refresh_token"].(string)), len(tokens["id_token"].(string)))
		}
		p.SetTokenSizes(TokenSizes{})
		_, refreshed := refresh(t, p, tokens["refresh_token"].(string))
		natural(t, refreshed)
		// A tampered ID token is padded after the tampering.
		p.SetTokenSizes(TokenSizes{IDToken: 3000})
		p.TamperIDToken(func(claims, _ map[string]interface{}) { claims["groups"] = []string{"a", "b"} })
		tokens, _ = login(t, p)
		if claims, err := verifyJWT(t, p, tokens["id_token"].(string)); err != nil || claims["groups"] == nil || claims["pad"] == nil || len(tokens["id_token"].(string)) < 3000 {
			t.Errorf("tampered and padded: %v %v", claims, err)
		}
	})
}
