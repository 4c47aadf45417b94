// Package phantomtoken is the phantom token role of the token handler: APIs behind it receive a
// JWT while clients hold opaque access tokens (Curity's phantom token pattern).
//
// Per request, in this order:
//
//  1. OPTIONS passes through untouched.
//  2. The Authorization header must be `Bearer <token>` (scheme in any case, spaces tolerated),
//     else 401.
//  3. The Authorization header is looked up in the cache (active results are kept under
//     "Bearer <token>", inactive ones under the token's SHA-256). On a miss, the token is posted
//     to the introspection endpoint with HTTP Basic client credentials and
//     `Accept: application/jwt`; concurrent misses for one token make one call and share its
//     answer.
//  4. 200 with a JWT body, or JSON with "active":true and a "jwt" member: the token is active.
//     204, or JSON with "active":false: 401. JSON "active":true without "jwt": 502 (the server is
//     not set up for phantom tokens). 401, 403, any other 4xx or 5xx, no answer within
//     timeoutSeconds, or an unusable answer: 502. 503: 503.
//  5. Active results are cached for min(tokenCacheSeconds, Cache-Control max-age, JWT exp - now);
//     inactive ones apart, for inactiveCacheSeconds. At most maxConcurrentIntrospections calls
//     are in flight; a miss beyond waits up to timeoutSeconds for a slot, then gets 503.
//  6. requiredScopes must all be in the JWT's scope claim, on every request: else 403.
//  7. The request goes upstream with `Authorization: Bearer <JWT>` and nothing else changed.
//
// 401 and 403 answers carry WWW-Authenticate with the realm. One log line per rejection says why;
// no line ever contains a token.
package phantomtoken

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/tokenhandler/traefik-token-handler/internal/apierror"
	"github.com/tokenhandler/traefik-token-handler/internal/backchannel"
	"github.com/tokenhandler/traefik-token-handler/internal/bearer"
	"github.com/tokenhandler/traefik-token-handler/internal/config"
	"github.com/tokenhandler/traefik-token-handler/internal/logger"
)

// Middleware is a configured phantomToken instance.
type Middleware struct {
	next           http.Handler
	log            *logger.Logger
	cache          *cache
	client         *backchannel.Client
	clientAuth     *backchannel.ClientAuth
	endpoint       string
	cacheTTL       time.Duration
	requiredScopes []string
	// hitScope is what ServeHTTP checks a cache hit's scopes with: the one required scope
	// (padded), "" (always there) when none is required, and a value no scope list holds when
	// several are, so that those hits take serveSlow's loop.
	hitScope string
	minter   *minter // nil unless signingKey is set

	// The WWW-Authenticate values, built once from the realm.
	challengeNoToken      string
	challengeInvalidToken string
	challengeScope        string
}

// New checks the configuration and builds the middleware. It never touches the network.
func New(ctx context.Context, next http.Handler, cfg *Config, name string) (http.Handler, error) {
	s, err := checkConfig(cfg)
	if err != nil {
		return nil, err
	}
	m := &Middleware{
		next:                  config.Next(next),
		log:                   logger.New("phantomToken", name, s.level),
		cache:                 sharedCache(s),
		client:                backchannel.NewClient(s.insecureSkipVerify, s.timeout),
		clientAuth:            s.clientAuth,
		endpoint:              s.endpoint,
		cacheTTL:              time.Duration(s.cacheSeconds) * time.Second,
		requiredScopes:        paddedScopes(s.requiredScopes),
		hitScope:              hitScope(paddedScopes(s.requiredScopes)),
		minter:                s.minter,
		challengeNoToken:      fmt.Sprintf("Bearer realm=%q", s.realm),
		challengeInvalidToken: fmt.Sprintf("Bearer realm=%q, error=\"invalid_token\"", s.realm),
		challengeScope:        fmt.Sprintf("Bearer realm=%q, error=\"insufficient_scope\"", s.realm),
	}
	if s.jwksPath != "" {
		h := &jwksRouter{path: s.jwksPath, m: m}
		return h, nil
	}
	return m, nil
}

// hitScope is Middleware.hitScope for the padded required scopes.
func hitScope(padded []string) string {
	switch len(padded) {
	case 0:
		return ""
	case 1:
		return padded[0]
	}
	return "\x00several"
}

// paddedScopes turns each scope into " scope ", the form looked up in an entry's scope list.
func paddedScopes(scopes []string) []string {
	padded := make([]string, len(scopes))
	for i, s := range scopes {
		padded[i] = " " + s + " "
	}
	return padded
}

var (
	cachesMu sync.Mutex
	caches   = map[string]*cache{}
)

// sharedCache returns the cache for one introspection setup. Traefik builds one instance per
// router and rebuilds them all on every configuration reload; sharing the cache between
// instances with the same setup keeps a token to one introspection per cache period instead of
// one per router and per reload, and the bound on calls in flight per setup.
func sharedCache(s settings) *cache {
	// The key identifies the setup without holding its secret.
	secretHash := sha256.Sum256([]byte(s.credentials))
	key := fmt.Sprintf("%s|%s|%x|%d|%d|%d|%d|%s|%s", s.endpoint, s.clientID, secretHash[:8], s.cacheSeconds,
		s.maxEntries, s.inactiveSeconds, s.maxConcurrent, s.timeout, s.minted)
	cachesMu.Lock()
	defer cachesMu.Unlock()
	c, ok := caches[key]
	if !ok {
		maxActive := s.maxEntries
		if s.cacheSeconds == 0 {
			maxActive = 0 // no caching; flights still coalesce concurrent calls
		}
		c = newCache(maxActive)
		if s.inactiveSeconds > 0 {
			c.inactive = newCache(s.maxEntries)
			c.inactiveTTL = time.Duration(s.inactiveSeconds) * time.Second
		}
		c.slots = newSlots(s.maxConcurrent, s.timeout)
		caches[key] = c
	}
	return c
}

// ServeHTTP serves a cache hit, with the fewest expressions that do it: under Yaegi every slot of
// this function's frame is allocated on each request, whether its branch runs or not, and a call
// to another interpreted function costs more than the lookup itself. The Authorization header is
// looked up as it came (the active key is "Bearer <token>"); a router with one required scope
// checks it with one compiled strings.Contains; the expiry is checked against the real clock
// (time.Since costs fewer slots than the cache's own clock, which only the cache's tests set).
// Everything else (OPTIONS, a miss, a malformed header, several required scopes, a rejection)
// goes to serveSlow. Only tokens that passed serveSlow's checks are ever cached, so a hit needs no
// further parsing.
func (m *Middleware) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if values := r.Header["Authorization"]; len(values) == 1 {
		c := m.cache
		c.mu.RLock()
		e := c.entries[values[0]]
		c.mu.RUnlock()
		if e != nil && time.Since(e.expires) < 0 && strings.Contains(e.scopes, m.hitScope) && r.Method != http.MethodOptions {
			values[0] = e.authorization
			m.next.ServeHTTP(w, r)
			return
		}
	}
	m.serveSlow(w, r)
}

// serveSlow handles everything but a cache hit: OPTIONS, a malformed header, a miss, a rejection.
// It recovers panics into a 500 JSON answer; the cache hit does not, because a deferred call
// costs it half its time under Yaegi (a panic there would still be caught by Traefik's own
// recovery, which answers 500 and keeps Traefik running).
func (m *Middleware) serveSlow(w http.ResponseWriter, r *http.Request) {
	defer apierror.Recover(w, r, m.log)
	if r.Method == http.MethodOptions {
		m.next.ServeHTTP(w, r)
		return
	}
	token, err := bearer.Token(r.Header["Authorization"])
	if err != nil {
		challenge := m.challengeInvalidToken
		if err == bearer.ErrMissing {
			challenge = m.challengeNoToken
		}
		m.reject(w, r, apierror.PhantomUnauthorized, challenge, err.Error())
		return
	}

	key := activeKey(token)
	e := m.cache.get(key)
	if e == nil {
		res := m.cache.resolve(key, hashedKey(token), func() result { return m.introspect(token) })
		switch res.outcome {
		case active:
			e = res.entry
		case inactive:
			m.reject(w, r, apierror.PhantomUnauthorized, m.challengeInvalidToken, res.problem)
			return
		case unavailable:
			m.fail(w, r, apierror.PhantomUnavailable, res.problem)
			return
		default:
			m.fail(w, r, apierror.PhantomBadGateway, res.problem)
			return
		}
	}

	for _, scope := range m.requiredScopes {
		if !strings.Contains(e.scopes, scope) {
			m.reject(w, r, apierror.PhantomForbidden, m.challengeScope, "the token does not have the required scope:"+strings.TrimRight(scope, " "))
			return
		}
	}
	r.Header["Authorization"] = []string{e.authorization}
	m.next.ServeHTTP(w, r)
}

// reject answers a client error (401 or 403) with its WWW-Authenticate challenge.
func (m *Middleware) reject(w http.ResponseWriter, r *http.Request, e *apierror.Error, challenge, problem string) {
	m.log.Printf(logger.Info, "rejected %s %s: %s", r.Method, r.URL.Path, problem)
	w.Header().Set("WWW-Authenticate", challenge)
	e.Write(w, r)
}

// fail answers a server-side problem (502 or 503).
func (m *Middleware) fail(w http.ResponseWriter, r *http.Request, e *apierror.Error, problem string) {
	m.log.Printf(logger.Error, "cannot authorize %s %s: %s", r.Method, r.URL.Path, problem)
	e.Write(w, r)
}
