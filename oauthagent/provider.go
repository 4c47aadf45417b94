package oauthagent

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tokenhandler/traefik-token-handler/internal/backchannel"
	"github.com/tokenhandler/traefik-token-handler/internal/config"
)

// endpoints are the authorization server's URLs the agent uses, and what its discovery document
// says about how to use them.
type endpoints struct {
	authorization, token, userInfo, endSession, jwks, revocation, par string
	// requirePAR is require_pushed_authorization_requests (RFC 9126 §5).
	requirePAR bool
	// issInResponses is authorization_response_iss_parameter_supported (RFC 9207): every
	// authorization response must then carry iss.
	issInResponses bool
}

// provider resolves the endpoints: those configured are used as given, the others come from the
// discovery document, fetched on first use rather than in New (New must work offline, and the
// authorization server may start after Traefik). A failed fetch is not cached: a later request
// tries again, at most once per retryInterval, so that a server that is down is not hammered.
type provider struct {
	issuer     string
	configured endpoints
	client     *backchannel.Client

	mu          sync.Mutex
	discovered  *endpoints // the configured endpoints and, where none is configured, discovery's
	lastFailure time.Time
	lastErr     error
}

// retryInterval is the shortest time between two discovery attempts after a failure.
const retryInterval = 2 * time.Second

// needsDiscovery reports whether some endpoint has to come from the discovery document.
func (p *provider) needsDiscovery() bool {
	c := p.configured
	// The revocation endpoint alone does not make the agent fetch discovery: a setup that
	// configures every other endpoint may have no discovery document at all.
	return c.authorization == "" || c.token == "" || c.userInfo == "" || c.endSession == "" || c.jwks == ""
}

// endpoints returns the endpoints, discovering the missing ones if needed.
func (p *provider) endpoints() (endpoints, error) {
	if !p.needsDiscovery() {
		return p.configured, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.discovered == nil {
		if !p.lastFailure.IsZero() && time.Since(p.lastFailure) < retryInterval {
			return endpoints{}, p.lastErr
		}
		d, err := p.discover()
		if err != nil {
			p.lastFailure = time.Now()
			p.lastErr = err
			return endpoints{}, err
		}
		merged := p.configured.overriding(*d)
		p.discovered = &merged
	}
	return *p.discovered, nil
}

// overriding returns the endpoints of c, with those of d where c has none: the configured ones
// win over discovered ones.
func (c endpoints) overriding(d endpoints) endpoints {
	return endpoints{
		authorization:  firstOf(c.authorization, d.authorization),
		token:          firstOf(c.token, d.token),
		userInfo:       firstOf(c.userInfo, d.userInfo),
		endSession:     firstOf(c.endSession, d.endSession),
		jwks:           firstOf(c.jwks, d.jwks),
		revocation:     firstOf(c.revocation, d.revocation),
		par:            firstOf(c.par, d.par),
		issInResponses: d.issInResponses,
		requirePAR:     d.requirePAR,
	}
}

func firstOf(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// discover fetches and checks the discovery document (OpenID Connect Discovery 1.0 §4).
func (p *provider) discover() (*endpoints, error) {
	url := strings.TrimSuffix(p.issuer, "/") + "/.well-known/openid-configuration"
	body, err := p.get(url)
	if err != nil {
		return nil, fmt.Errorf("discovery: %w", err)
	}
	var doc struct {
		Issuer                string `json:"issuer"`
		AuthorizationEndpoint string `json:"authorization_endpoint"`
		TokenEndpoint         string `json:"token_endpoint"`
		UserinfoEndpoint      string `json:"userinfo_endpoint"`
		EndSessionEndpoint    string `json:"end_session_endpoint"`
		JwksURI               string `json:"jwks_uri"`
		RevocationEndpoint    string `json:"revocation_endpoint"`
		IssInResponses        bool   `json:"authorization_response_iss_parameter_supported"`
		PAREndpoint           string `json:"pushed_authorization_request_endpoint"`
		RequirePAR            bool   `json:"require_pushed_authorization_requests"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, errors.New("discovery: the document is not valid JSON")
	}
	// The issuer in the document must be the one configured, or ID tokens would be checked
	// against keys of another server (OpenID Connect Discovery §4.3).
	if strings.TrimSuffix(doc.Issuer, "/") != strings.TrimSuffix(p.issuer, "/") {
		return nil, errors.New("discovery: the document is for another issuer (" + strconv.Quote(doc.Issuer) + ")")
	}
	if doc.AuthorizationEndpoint == "" || doc.TokenEndpoint == "" || doc.JwksURI == "" {
		return nil, errors.New("discovery: the document lacks authorization_endpoint, token_endpoint or jwks_uri")
	}
	// Checked as configured endpoints are: the authorization and end-session URLs go to the
	// browser, and a javascript: URL there would run in the SPA's origin.
	for _, endpoint := range []string{doc.AuthorizationEndpoint, doc.TokenEndpoint, doc.UserinfoEndpoint, doc.EndSessionEndpoint, doc.JwksURI, doc.RevocationEndpoint, doc.PAREndpoint} {
		if endpoint != "" && !config.IsHTTPURL(endpoint) {
			return nil, errors.New("discovery: the document has an endpoint that is not an http or https URL")
		}
	}
	return &endpoints{
		authorization:  doc.AuthorizationEndpoint,
		token:          doc.TokenEndpoint,
		userInfo:       doc.UserinfoEndpoint,
		endSession:     doc.EndSessionEndpoint,
		jwks:           doc.JwksURI,
		revocation:     doc.RevocationEndpoint,
		issInResponses: doc.IssInResponses,
		par:            doc.PAREndpoint,
		requirePAR:     doc.RequirePAR,
	}, nil
}

// get fetches a JSON document from the authorization server.
func (p *provider) get(url string) ([]byte, error) {
	resp, err := p.client.Do(backchannel.Request{Method: http.MethodGet, URL: url, Accept: "application/json"})
	if err != nil {
		return nil, fmt.Errorf("the authorization server %w", err)
	}
	if resp.Status != http.StatusOK {
		return nil, errors.New("the authorization server answered " + strconv.Itoa(resp.Status))
	}
	return resp.Body, nil
}
