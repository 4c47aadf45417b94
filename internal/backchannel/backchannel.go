// Package backchannel holds what the roles share for calls to the authorization server: HTTP
// transports, client authentication and bounded reading of answers.
package backchannel

import (
	"crypto/tls"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/url"
	"sync"
)

// MaxBodyBytes bounds every answer read from the authorization server: a JWT, a token response,
// a JWKS or a discovery document is far smaller, and a larger answer is refused, not truncated.
const MaxBodyBytes = 256 * 1024

// ErrBodyTooLarge is returned when an answer exceeds MaxBodyBytes.
var ErrBodyTooLarge = errors.New("the answer is larger than 256 KiB")

var (
	transportsOnce sync.Once
	verifying      *http.Transport
	insecure       *http.Transport
)

// Transport returns the transport for back-channel calls. One transport per TLS mode is shared
// by every middleware instance, so that the instances Traefik rebuilds on each configuration
// reload reuse connections instead of leaving idle pools behind.
//
// Callers use its RoundTrip directly, with a context deadline as the timeout, rather than an
// http.Client: RoundTrip never follows a redirect (an authorization server endpoint that
// redirects is misconfigured), and an interpreted CheckRedirect function crashes Yaegi v0.16.1
// when the standard library calls it.
func Transport(insecureSkipVerify bool) *http.Transport {
	transportsOnce.Do(func() {
		verifying = http.DefaultTransport.(*http.Transport).Clone()
		verifying.MaxIdleConnsPerHost = 64
		insecure = verifying.Clone()
		insecure.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // opted into by the user
	})
	if insecureSkipVerify {
		return insecure
	}
	return verifying
}

// BasicAuth returns the Authorization value of client_secret_basic: RFC 6749 §2.3.1 has the id
// and secret form-encoded before they are joined and base64-encoded.
func BasicAuth(clientID, clientSecret string) string {
	pair := url.QueryEscape(clientID) + ":" + url.QueryEscape(clientSecret)
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(pair))
}

// ReadBody reads an answer body up to MaxBodyBytes and closes it.
func ReadBody(resp *http.Response) ([]byte, error) {
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxBodyBytes+1))
	if err != nil {
		return nil, err
	}
	if len(body) > MaxBodyBytes {
		return nil, ErrBodyTooLarge
	}
	return body, nil
}
