// Package oauthagent is the OAuth Agent role of the token handler: it runs the OpenID Connect
// code flow for an SPA over a small JSON API, Curity's v1 OAuth Agent API (or, with agentApi: v2,
// Curity's v2 API: see v2.go), and keeps the tokens in encrypted HttpOnly cookies, so that the
// SPA never sees a token.
//
// It answers every request under pathPrefix (default /oauth-agent) itself and passes nothing on
// (route it to Traefik's noop@internal service):
//
//	POST /login/start   origin                → {"authorizationRequestUrl"}; sets -login
//	POST /login/end     origin                → {"handled","isLoggedIn","csrf"}; on a code response
//	                                            exchanges the code, validates the ID token and sets
//	                                            -at, -csrf, -auth, -id; on a page load reports the
//	                                            session
//	GET  /userInfo      origin if CORS        → the authorization server's userinfo JSON
//	GET  /claims        origin if CORS        → the ID token's claims
//	POST /refresh       origin, CSRF          → 204; rewrites -at (and -auth, -id if new)
//	POST /logout        origin, CSRF, -at     → {"url": end-session URL}; clears the session cookies
//	                                            and revokes the refresh and access tokens
//
// That is the v1 API; its errors are {"code","message"} with Curity's codes and statuses. With
// CORS enabled, preflights from a trusted origin answer 204, and every answer to a trusted origin
// carries the CORS headers.
package oauthagent

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/tokenhandler/traefik-token-handler/internal/apierror"
	"github.com/tokenhandler/traefik-token-handler/internal/backchannel"
	"github.com/tokenhandler/traefik-token-handler/internal/config"
	"github.com/tokenhandler/traefik-token-handler/internal/cookies"
	"github.com/tokenhandler/traefik-token-handler/internal/cors"
	"github.com/tokenhandler/traefik-token-handler/internal/logger"
)

// Agent is a configured oauthAgent instance.
type Agent struct {
	next                  http.Handler
	log                   *logger.Logger
	pathPrefix            string
	issuer                string
	clientID              string
	clientAuth            *backchannel.ClientAuth
	redirectURI           string
	postLogoutRedirectURI string
	scope                 string
	cookies               *cookies.Jar
	cors                  *cors.Policy // nil when CORS is disabled
	origins               map[string]bool
	provider              *provider
	keys                  *keySet
	usedStates            *usedStates
	refreshes             *refreshes
	revokeOnLogout        bool
	// pushedAuthorizationRequests is parAuto, parAlways or parNever.
	pushedAuthorizationRequests string
	// assertionAudience is clientAssertionAudience: endpoint, token or issuer.
	assertionAudience string
	// v2 is agentApi: v2 (v2.go); false is Curity's v1 API.
	v2 bool
}

// New checks the configuration and builds the agent. It never touches the network.
func New(ctx context.Context, next http.Handler, cfg *Config, name string) (http.Handler, error) {
	s, err := checkConfig(cfg)
	if err != nil {
		return nil, err
	}
	client := backchannel.NewClient(false, s.timeout)
	p, keys := sharedProvider(s.issuer, s.endpoints, client)
	a := &Agent{
		next:                        config.Next(next),
		log:                         logger.New("oauthAgent", name, s.level),
		pathPrefix:                  s.pathPrefix,
		issuer:                      s.issuer,
		clientID:                    s.clientID,
		clientAuth:                  s.clientAuth,
		redirectURI:                 s.redirectURI,
		postLogoutRedirectURI:       s.postLogoutRedirectURI,
		scope:                       s.scope,
		cookies:                     cookies.NewJar(s.cookies),
		cors:                        s.cors,
		origins:                     s.origins,
		provider:                    p,
		keys:                        keys,
		usedStates:                  sharedUsedStates(s.issuer + "|" + s.clientID),
		refreshes:                   sharedRefreshes(s.issuer+"|"+s.clientID+"|"+s.refreshReuse.String(), s.refreshReuse),
		revokeOnLogout:              s.revokeOnLogout,
		pushedAuthorizationRequests: s.pushedAuthorizationRequests,
		assertionAudience:           s.assertionAudience,
		v2:                          s.agentAPI == config.AgentAPIV2,
	}
	return a, nil
}

var (
	providersMu sync.Mutex
	providers   = map[string]*provider{}
	keySets     = map[string]*keySet{}
)

// sharedProvider returns the discovery state and key set for one authorization server setup,
// shared by every instance: Traefik builds one instance per router and rebuilds them on every
// configuration reload, and sharing keeps discovery and JWKS fetches (and their rate limits) per
// server rather than per instance.
func sharedProvider(issuer string, configured endpoints, client *backchannel.Client) (*provider, *keySet) {
	key := strings.Join([]string{issuer, configured.authorization, configured.token, configured.userInfo,
		configured.endSession, configured.jwks, configured.revocation, configured.par, client.Timeout().String()}, "|")
	providersMu.Lock()
	defer providersMu.Unlock()
	p, ok := providers[key]
	if !ok {
		p = &provider{issuer: issuer, configured: configured, client: client}
		providers[key] = p
		ks := &keySet{}
		ks.fetch = func() ([]byte, error) {
			e, err := p.endpoints()
			if err != nil {
				return nil, err
			}
			return p.get(e.jwks)
		}
		keySets[key] = ks
	}
	return p, keySets[key]
}

func (a *Agent) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer apierror.Recover(w, r, a.log)
	path := r.URL.Path
	if path != a.pathPrefix && !strings.HasPrefix(path, a.pathPrefix+"/") {
		a.next.ServeHTTP(w, r)
		return
	}

	origin := r.Header.Get("Origin")
	if r.Method == http.MethodOptions {
		if a.cors != nil {
			a.cors.AnswerPreflight(w, r)
		} else {
			w.WriteHeader(http.StatusNoContent)
		}
		return
	}
	if a.cors != nil && a.origins[origin] {
		a.cors.AddResponseHeaders(w.Header(), origin)
	}

	var handle func(http.ResponseWriter, *http.Request) *failure
	var method string
	if a.v2 {
		handle, method = a.routeV2(path[len(a.pathPrefix):])
	} else {
		handle, method = a.routeV1(path[len(a.pathPrefix):])
	}
	if handle == nil {
		a.writeError(w, r, apierror.AgentNotFound)
		return
	}
	if r.Method != method {
		w.Header().Set("Allow", method+", OPTIONS")
		a.writeError(w, r, apierror.AgentMethodNotAllowed)
		return
	}
	// POSTs always need a trusted Origin; GETs only with CORS, since browsers send no Origin on a
	// same-origin GET.
	if (method == http.MethodPost || a.cors != nil) && !a.origins[origin] {
		a.fail(w, r, rejected(apierror.AgentUnauthorized, "the Origin header is missing or not a trusted web origin"))
		return
	}
	if a.v2 {
		if f := checkVersionHeader(r); f != nil {
			a.fail(w, r, f)
			return
		}
	}
	if f := handle(w, r); f != nil {
		a.fail(w, r, f)
	}
}

// routeV1 returns the handler and method of an endpoint of the v1 API (nil: no such endpoint).
func (a *Agent) routeV1(endpoint string) (func(http.ResponseWriter, *http.Request) *failure, string) {
	switch endpoint {
	case "/login/start":
		return a.startLogin, http.MethodPost
	case "/login/end":
		return a.endLogin, http.MethodPost
	case "/userInfo":
		return a.userInfo, http.MethodGet
	case "/claims":
		return a.claims, http.MethodGet
	case "/refresh":
		return a.refresh, http.MethodPost
	case "/logout":
		return a.logout, http.MethodPost
	}
	return nil, ""
}

// fail logs why a request failed and answers with the failure's error.
func (a *Agent) fail(w http.ResponseWriter, r *http.Request, f *failure) {
	verb := "rejected"
	if f.level >= logger.Warn {
		verb = "failed"
	}
	a.log.Printf(f.level, "%s %s %s: %s", verb, r.Method, r.URL.Path, f.problem)
	a.writeError(w, r, f.answer)
}

// writeError answers with e in the body shape of the agent's API.
func (a *Agent) writeError(w http.ResponseWriter, r *http.Request, e *apierror.Error) {
	if a.v2 {
		e.WriteV2(w, r)
	} else {
		e.Write(w, r)
	}
}

// writeJSON answers 200 with v as JSON.
func writeJSON(w http.ResponseWriter, v interface{}) {
	body, _ := json.Marshal(v)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// maxBodyBytes bounds the JSON bodies the agent reads; its requests are a few hundred bytes.
const maxBodyBytes = 64 * 1024

// readJSON decodes an optional JSON body into v. An empty body leaves v as it is.
func readJSON(r *http.Request, v interface{}) *failure {
	if r.Body == nil {
		return nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
	if err != nil {
		return rejected(apierror.AgentMalformedBody, "reading the request body: "+err.Error())
	}
	if len(body) > maxBodyBytes {
		return rejected(apierror.AgentBodyTooLarge, "the request body is larger than 64 KiB")
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		return nil
	}
	if err := json.Unmarshal(body, v); err != nil {
		return rejected(apierror.AgentMalformedBody, "the request body is not JSON of the expected shape")
	}
	return nil
}

// randomToken returns 32 random bytes, base64url-encoded (43 characters): for state, nonce, the
// PKCE verifier and the CSRF token.
func randomToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
