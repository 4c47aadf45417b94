package backchannel

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/tokenhandler/traefik-token-handler/internal/jwt"
)

// The client authentication methods (RFC 6749 §2.3.1, OpenID Connect Core §9, RFC 7523).
const (
	ClientSecretBasic = "client_secret_basic"
	ClientSecretPost  = "client_secret_post"
	PrivateKeyJWT     = "private_key_jwt"
)

// ClientAuthMethods are the values a clientAuthMethod key accepts, the default first.
var ClientAuthMethods = []string{ClientSecretBasic, ClientSecretPost, PrivateKeyJWT}

// clientAssertionType is the client_assertion_type of private_key_jwt (RFC 7523 §2.2).
const clientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// assertionLifetime is how long a client assertion is valid: each call gets a new one, so it
// only has to outlive the call.
const assertionLifetime = 60 * time.Second

// ClientAuth is how a client authenticates its back-channel calls: the agent's token,
// revocation and PAR calls and phantomToken's introspection use the same one.
type ClientAuth struct {
	method       string
	clientID     string
	clientSecret string
	basic        string // the Authorization value of client_secret_basic, built once
	key          *jwt.SigningKey
}

// NewClientAuth returns a client secret authentication (client_secret_basic or
// client_secret_post) of clientID.
func NewClientAuth(method, clientID, clientSecret string) *ClientAuth {
	a := &ClientAuth{method: method, clientID: clientID, clientSecret: clientSecret}
	if method == ClientSecretBasic {
		// RFC 6749 §2.3.1 has the id and secret form-encoded before they are joined and
		// base64-encoded.
		pair := url.QueryEscape(clientID) + ":" + url.QueryEscape(clientSecret)
		a.basic = "Basic " + base64.StdEncoding.EncodeToString([]byte(pair))
	}
	return a
}

// NewPrivateKeyAuth returns the private_key_jwt authentication of clientID (RFC 7523, OpenID
// Connect Core §9): every call gets a new assertion signed with key, with iss = sub = clientID,
// aud = the call's Request.AssertionAudience or URL, a random jti, iat now and exp 60 s later.
// No secret is sent.
func NewPrivateKeyAuth(clientID string, key *jwt.SigningKey) *ClientAuth {
	return &ClientAuth{method: PrivateKeyJWT, clientID: clientID, key: key}
}

// addToForm adds what the method puts in the body of a call; audience is the aud of an assertion.
func (a *ClientAuth) addToForm(form url.Values, audience string) error {
	switch a.method {
	case ClientSecretPost:
		form.Set("client_id", a.clientID)
		form.Set("client_secret", a.clientSecret)
	case PrivateKeyJWT:
		assertion, err := a.assertion(audience)
		if err != nil {
			return err
		}
		form.Set("client_id", a.clientID)
		form.Set("client_assertion_type", clientAssertionType)
		form.Set("client_assertion", assertion)
	}
	return nil
}

func (a *ClientAuth) addToHeader(h http.Header) {
	if a.basic != "" {
		h.Set("Authorization", a.basic)
	}
}

// assertion makes a new client assertion with aud audience.
func (a *ClientAuth) assertion(audience string) (string, error) {
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		return "", fmt.Errorf("reading random bytes: %w", err)
	}
	now := time.Now()
	return a.key.Sign("JWT", map[string]interface{}{
		"iss": a.clientID,
		"sub": a.clientID,
		"aud": audience,
		"jti": base64.RawURLEncoding.EncodeToString(jti),
		"iat": now.Unix(),
		"exp": now.Add(assertionLifetime).Unix(),
	})
}
