// Package backchannel sends the calls the roles make to the authorization server: discovery,
// JWKS, token, userinfo and introspection. A role builds a Request (what to send and how the
// client authenticates); Client.Do sends it once, within the timeout, and reads a bounded answer,
// the way golang/oauth2 separates building a token request from sending it. Nothing here knows
// what a role does with the answer.
package backchannel

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// MaxBodyBytes bounds every answer read from the authorization server: a JWT, a token response,
// a JWKS or a discovery document is far smaller, and a larger answer is refused, not truncated.
const MaxBodyBytes = 256 * 1024

var (
	transportsOnce sync.Once
	verifying      *http.Transport
	insecure       *http.Transport
)

// transport returns the transport for one TLS mode. One transport per mode is shared by every
// middleware instance, so that the instances Traefik rebuilds on each configuration reload reuse
// connections instead of leaving idle pools behind.
func transport(insecureSkipVerify bool) *http.Transport {
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

// Client sends back-channel calls, each bounded by one timeout that covers connecting, sending
// and reading the answer.
//
// It calls RoundTrip directly, with a context deadline as the timeout, rather than using an
// http.Client: RoundTrip never follows a redirect (an authorization server endpoint that
// redirects is misconfigured), and an interpreted CheckRedirect function crashes Yaegi v0.16.1
// when the standard library calls it.
type Client struct {
	transport http.RoundTripper
	timeout   time.Duration
}

// NewClient returns a client on the shared transport of the TLS mode.
func NewClient(insecureSkipVerify bool, timeout time.Duration) *Client {
	return &Client{transport: transport(insecureSkipVerify), timeout: timeout}
}

// Timeout is the bound on each call.
func (c *Client) Timeout() time.Duration { return c.timeout }

// Request is one call, as a role builds it.
type Request struct {
	// Method is GET or POST.
	Method string
	// URL is the endpoint.
	URL string
	// Form, when not nil, is sent form-encoded as the body. ClientAuth may add to it.
	Form url.Values
	// Accept is the Accept header; empty sends none.
	Accept string
	// Bearer, when set, is sent as `Authorization: Bearer <Bearer>` (a userinfo call).
	Bearer string
	// ClientAuth, when not nil, authenticates the client (token and introspection calls).
	ClientAuth *ClientAuth
	// AssertionAudience, when set, is the aud of a private_key_jwt assertion instead of URL (the
	// issuer, or the token endpoint's URL at every endpoint, as Ory Hydra wants).
	AssertionAudience string
}

// Response is an answer of any status, with its whole body.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Do sends req and reads the answer. Its error completes a sentence about the endpoint ("the
// token endpoint " + err.Error()) and never holds the request's URL, body or credentials.
func (c *Client) Do(req Request) (*Response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	var body io.Reader
	if req.Form != nil {
		if req.ClientAuth != nil {
			audience := req.AssertionAudience
			if audience == "" {
				audience = req.URL
			}
			if err := req.ClientAuth.addToForm(req.Form, audience); err != nil {
				return nil, errors.New("could not be called: the client assertion could not be made: " + err.Error())
			}
		}
		body = strings.NewReader(req.Form.Encode())
	}
	httpReq, err := http.NewRequestWithContext(ctx, req.Method, req.URL, body)
	if err != nil {
		return nil, errors.New("could not be called: " + describe(err, c.timeout))
	}
	if req.Form != nil {
		httpReq.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if req.Accept != "" {
		httpReq.Header.Set("Accept", req.Accept)
	}
	if req.Bearer != "" {
		httpReq.Header.Set("Authorization", "Bearer "+req.Bearer)
	}
	if req.ClientAuth != nil {
		req.ClientAuth.addToHeader(httpReq.Header)
	}
	resp, err := c.transport.RoundTrip(httpReq)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, errors.New("did not answer within " + c.timeout.String())
		}
		return nil, errors.New("could not be reached: " + describe(err, c.timeout))
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, MaxBodyBytes+1))
	if err != nil {
		return nil, errors.New("sent an answer that could not be read: " + describe(err, c.timeout))
	}
	if len(answer) > MaxBodyBytes {
		return nil, errors.New("sent an answer larger than 256 KiB")
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: answer}, nil
}

// describe says why a call failed: a timeout as such, anything else by its cause without the
// method and URL that *url.Error repeats.
func describe(err error, timeout time.Duration) string {
	if errors.Is(err, context.DeadlineExceeded) {
		return "no answer within " + timeout.String()
	}
	if e, ok := err.(*url.Error); ok {
		return e.Err.Error()
	}
	return err.Error()
}
