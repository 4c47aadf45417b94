package fakeas

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Client authentication methods of ProviderOptions.ClientAuth,
// ProviderOptions.IntrospectionClientAuth and Introspector.SetClientAuth.
const (
	ClientSecretBasic = "client_secret_basic"
	ClientSecretPost  = "client_secret_post"
	PrivateKeyJWT     = "private_key_jwt"
)

// ClientAssertionType is the client_assertion_type of private_key_jwt (RFC 7523 §2.2).
const ClientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// MaxClientAssertionLifetime is how far in the future a client assertion's exp may be (a few
// seconds more are tolerated for clock skew).
const MaxClientAssertionLifetime = 5 * time.Minute

// ClientAssertionAlgs are the JWS algorithms a client assertion may use (discovery's
// token_endpoint_auth_signing_alg_values_supported): those of contract §6.6.
var ClientAssertionAlgs = []string{"RS256", "PS256", "ES256", "ES384"}

// ClientKey is a public key registered for a client's private_key_jwt authentication.
type ClientKey struct {
	// KeyID binds the key to a JWS kid: an assertion with a kid is verified only with the keys
	// whose KeyID is that kid or empty. An assertion without a kid is verified with every key.
	KeyID string
	// Public is an *rsa.PublicKey or an *ecdsa.PublicKey (P-256 or P-384).
	Public crypto.PublicKey
}

// SignClientAssertion makes a private_key_jwt client assertion as contract §6.6 asks: header
// {"alg","typ":"JWT"} (and kid when not empty), claims iss = sub = clientID, aud = audience, a
// random jti, iat now and exp 60 s later. alg "" is DefaultAlg of the key.
func SignClientAssertion(key crypto.Signer, alg, kid, clientID, audience string) (string, error) {
	if key == nil {
		return "", errors.New("fakeas: no key")
	}
	if alg == "" {
		alg = DefaultAlg(key.Public())
	}
	now := time.Now().Unix()
	return SignJWT(alg, key, kid, map[string]interface{}{
		"iss": clientID, "sub": clientID, "aud": audience, "jti": randomString(16), "iat": now, "exp": now + 60,
	})
}

// clientAuth checks one client's authentication with one method, and remembers the
// private_key_jwt assertions it has seen.
type clientAuth struct {
	method, clientID, secret string

	mu         sync.Mutex
	keys       []ClientKey
	jtis       map[string]bool
	lastHeader map[string]interface{}
	lastClaims map[string]interface{}
	lastErr    string
}

func newClientAuth(method, clientID, secret string, keys []ClientKey) *clientAuth {
	return &clientAuth{method: method, clientID: clientID, secret: secret, keys: keys, jtis: map[string]bool{}}
}

func keysWithoutIDs(pubs []crypto.PublicKey) []ClientKey {
	keys := make([]ClientKey, len(pubs))
	for i, pub := range pubs {
		keys[i] = ClientKey{Public: pub}
	}
	return keys
}

func (c *clientAuth) setMethod(method string, keys []ClientKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.method = method
	c.keys = append([]ClientKey(nil), keys...)
}

func (c *clientAuth) setKeys(keys []ClientKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.keys = append([]ClientKey(nil), keys...)
}

func (c *clientAuth) getMethod() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.method
}

// lastAssertion returns copies of the header and claims of the last client assertion that could
// be decoded, accepted or not.
func (c *clientAuth) lastAssertion() (header, claims map[string]interface{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return cloneMap(c.lastHeader), cloneMap(c.lastClaims)
}

func (c *clientAuth) lastError() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lastErr
}

// authenticate checks the request's client authentication with the configured method only.
// audiences are the aud values a client assertion may carry. form is the POST form.
func (c *clientAuth) authenticate(r *http.Request, form url.Values, audiences ...string) error {
	err := c.check(r, form, audiences)
	c.mu.Lock()
	c.lastErr = ""
	if err != nil {
		c.lastErr = err.Error()
	}
	c.mu.Unlock()
	return err
}

func (c *clientAuth) check(r *http.Request, form url.Values, audiences []string) error {
	method := c.getMethod()
	switch method {
	case ClientSecretPost:
		if r.Header.Get("Authorization") != "" {
			return errors.New("client_secret_post with an Authorization header")
		}
		if form.Get("client_id") != c.clientID || form.Get("client_secret") != c.secret {
			return errors.New("wrong client_id or client_secret")
		}
		if _, ok := form["client_assertion"]; ok {
			return errors.New("client_secret_post with a client_assertion")
		}
		return nil
	case PrivateKeyJWT:
		if r.Header.Get("Authorization") != "" {
			return errors.New("private_key_jwt with an Authorization header")
		}
		if _, ok := form["client_secret"]; ok {
			return errors.New("private_key_jwt with a client_secret")
		}
		if cid, ok := form["client_id"]; ok && cid[0] != c.clientID {
			return fmt.Errorf("client_id %q, want %q", cid[0], c.clientID)
		}
		if got := form.Get("client_assertion_type"); got != ClientAssertionType {
			return fmt.Errorf("client_assertion_type %q, want %q", got, ClientAssertionType)
		}
		assertion := form.Get("client_assertion")
		if assertion == "" {
			return errors.New("no client_assertion")
		}
		return c.verifyAssertion(assertion, audiences, time.Now())
	default: // client_secret_basic
		id, secret, ok := r.BasicAuth()
		if !ok {
			return errors.New("no HTTP Basic credentials")
		}
		id, errID := url.QueryUnescape(id)
		secret, errSecret := url.QueryUnescape(secret)
		if errID != nil || errSecret != nil || id != c.clientID || secret != c.secret {
			return errors.New("wrong HTTP Basic credentials")
		}
		if _, ok := form["client_secret"]; ok {
			return errors.New("HTTP Basic and a client_secret") // two authentication methods
		}
		if _, ok := form["client_assertion"]; ok {
			return errors.New("HTTP Basic and a client_assertion")
		}
		if cid, ok := form["client_id"]; ok && cid[0] != c.clientID {
			return fmt.Errorf("client_id %q, want %q", cid[0], c.clientID)
		}
		return nil
	}
}

// verifyAssertion checks a private_key_jwt client assertion (RFC 7523 §3, OpenID Connect Core
// §9) and records its jti.
func (c *clientAuth) verifyAssertion(assertion string, audiences []string, now time.Time) error {
	parts := strings.Split(assertion, ".")
	if len(parts) != 3 {
		return errors.New("client_assertion is not a compact JWS")
	}
	var header, claims map[string]interface{}
	for i, dst := range []*map[string]interface{}{&header, &claims} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			return fmt.Errorf("client_assertion part %d is not base64url: %v", i+1, err)
		}
		if err := json.Unmarshal(b, dst); err != nil || *dst == nil {
			return fmt.Errorf("client_assertion part %d is not a JSON object", i+1)
		}
	}
	c.mu.Lock()
	c.lastHeader, c.lastClaims = header, claims
	keys := c.keys
	c.mu.Unlock()

	alg, _ := header["alg"].(string)
	if !contains(ClientAssertionAlgs, alg) {
		return fmt.Errorf("client_assertion alg %q is not one of %v", alg, ClientAssertionAlgs)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return errors.New("client_assertion signature is not base64url")
	}
	kid, hasKid := header["kid"].(string)
	if _, present := header["kid"]; present && !hasKid {
		return errors.New("client_assertion kid is not a string")
	}
	verified, candidates := false, 0
	for _, k := range keys {
		if hasKid && k.KeyID != "" && k.KeyID != kid {
			continue
		}
		candidates++
		if verifyJWS(alg, k.Public, parts[0]+"."+parts[1], sig) == nil {
			verified = true
			break
		}
	}
	switch {
	case candidates == 0 && hasKid:
		return fmt.Errorf("client_assertion kid %q is not registered", kid)
	case candidates == 0:
		return errors.New("no client key registered")
	case !verified:
		return errors.New("client_assertion signature does not verify with a registered key")
	}

	if iss, _ := claims["iss"].(string); iss != c.clientID {
		return fmt.Errorf("client_assertion iss %v, want %q", claims["iss"], c.clientID)
	}
	if sub, _ := claims["sub"].(string); sub != c.clientID {
		return fmt.Errorf("client_assertion sub %v, want %q", claims["sub"], c.clientID)
	}
	if !audienceMatches(claims["aud"], audiences) {
		return fmt.Errorf("client_assertion aud %v is none of %v", claims["aud"], audiences)
	}
	const skew = 5 // seconds
	exp, ok := claims["exp"].(float64)
	switch {
	case !ok:
		return errors.New("client_assertion has no numeric exp")
	case exp <= float64(now.Unix()):
		return errors.New("client_assertion expired")
	case exp > float64(now.Add(MaxClientAssertionLifetime).Unix()+skew):
		return fmt.Errorf("client_assertion exp is more than %v ahead", MaxClientAssertionLifetime)
	}
	for _, name := range []string{"iat", "nbf"} {
		if v, present := claims[name]; present {
			t, ok := v.(float64)
			if !ok {
				return fmt.Errorf("client_assertion %s is not a number", name)
			}
			if t > float64(now.Unix()+skew) {
				return fmt.Errorf("client_assertion %s is in the future", name)
			}
		}
	}
	jti, _ := claims["jti"].(string)
	if jti == "" {
		return errors.New("client_assertion has no jti")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.jtis[jti] {
		return fmt.Errorf("client_assertion jti %q replayed", jti)
	}
	c.jtis[jti] = true
	return nil
}

// audienceMatches reports whether aud (a string or an array of strings) is or contains one of
// audiences.
func audienceMatches(aud interface{}, audiences []string) bool {
	switch a := aud.(type) {
	case string:
		return contains(audiences, a)
	case []interface{}:
		for _, v := range a {
			if s, ok := v.(string); ok && contains(audiences, s) {
				return true
			}
		}
	}
	return false
}

// verifyJWS checks a JWS signature over input with alg (RS*, PS* or ES*) and pub.
func verifyJWS(alg string, pub crypto.PublicKey, input string, sig []byte) error {
	a, ok := algorithms[alg]
	if !ok {
		return fmt.Errorf("unsupported alg %q", alg)
	}
	h := a.hash.New()
	h.Write([]byte(input))
	digest := h.Sum(nil)
	switch a.kind {
	case "RSA", "PSS":
		k, ok := pub.(*rsa.PublicKey)
		if !ok {
			return fmt.Errorf("%s needs an RSA key, not %T", alg, pub)
		}
		if a.kind == "RSA" {
			return rsa.VerifyPKCS1v15(k, a.hash, digest, sig)
		}
		return rsa.VerifyPSS(k, a.hash, digest, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: a.hash})
	default: // EC
		k, ok := pub.(*ecdsa.PublicKey)
		if !ok || k.Curve != a.curve {
			return fmt.Errorf("%s needs an EC %s key", alg, a.curve.Params().Name)
		}
		size := (a.curve.Params().BitSize + 7) / 8
		if len(sig) != 2*size {
			return errors.New("ECDSA signature of the wrong size")
		}
		if !ecdsa.Verify(k, digest, new(big.Int).SetBytes(sig[:size]), new(big.Int).SetBytes(sig[size:])) {
			return errors.New("ECDSA verification failed")
		}
		return nil
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// cloneMap copies a decoded JSON object (deeply enough for tests: nested values are shared).
func cloneMap(m map[string]interface{}) map[string]interface{} {
	if m == nil {
		return nil
	}
	c := make(map[string]interface{}, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}
