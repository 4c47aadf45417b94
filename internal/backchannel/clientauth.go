package backchannel

import (
	"encoding/base64"
	"net/http"
	"net/url"
)

// The client authentication methods (RFC 6749 §2.3.1, OpenID Connect Core §9).
const (
	ClientSecretBasic = "client_secret_basic"
	ClientSecretPost  = "client_secret_post"
)

// ClientAuth is how a client authenticates its back-channel calls: the agent's token calls and
// phantomToken's introspection use the same one.
type ClientAuth struct {
	method       string
	clientID     string
	clientSecret string
	basic        string // the Authorization value of client_secret_basic, built once
}

// NewClientAuth returns the authentication of clientID with method, which CheckClientAuthMethod
// has accepted.
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

// ClientAuthMethods are the values a clientAuthMethod key accepts, the default first.
var ClientAuthMethods = []string{ClientSecretBasic, ClientSecretPost}

func (a *ClientAuth) addToForm(form url.Values) {
	if a.method == ClientSecretPost {
		form.Set("client_id", a.clientID)
		form.Set("client_secret", a.clientSecret)
	}
}

func (a *ClientAuth) addToHeader(h http.Header) {
	if a.basic != "" {
		h.Set("Authorization", a.basic)
	}
}
