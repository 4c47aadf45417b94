// Package bfftoken is the OAuth Proxy role of the token handler: it lets an SPA call an API with
// the encrypted cookies that the OAuth Agent wrote, and gives the API an ordinary bearer token.
//
// Per request, in this order (the semantics of Curity's OAuth Proxy):
//
//  1. OPTIONS: with CORS enabled, the preflight is answered here with 204, with CORS headers only
//     for a trusted origin; with CORS disabled it passes through.
//  2. With allowTokens, a request that carries `Authorization: Bearer ...` passes through with its
//     token untouched (and, with removeCookieHeaders, without its Cookie and CSRF headers).
//  3. When CORS is enabled, or the method is unsafe (any method but GET, HEAD and OPTIONS, compared
//     case-sensitively, so that `post` and `PROPFIND` are unsafe too), the Origin header must be
//     present and be one of trustedWebOrigins.
//  4. For an unsafe method, the `<prefix>-csrf` cookie must decrypt to the value of the
//     `x-<prefix>-csrf` header; with agentApi: v2, the `token-handler-version` header must be
//     there instead (Curity's v2 API has no CSRF token).
//  5. The `<prefix>-at` cookie must be present and decrypt. The Authorization value of a cookie
//     that decrypted with the current key is remembered (per instance, bounded), so that the next
//     GET with it is one map lookup; steps 1 to 4 still run on every request.
//  6. The request goes upstream with `Authorization: Bearer <access token>`, replacing any other,
//     and, with removeCookieHeaders, without its Cookie and CSRF headers.
//  7. With CORS enabled, the response carries Access-Control-Allow-Origin, -Allow-Credentials,
//     -Expose-Headers (when configured) and Vary: Origin.
//
// Every rejection is a 401 with {"code":"unauthorized",...} and, for a trusted origin with CORS
// enabled, the CORS headers, so that the SPA can read it. One log line says which check failed.
package bfftoken

import (
	"context"
	"crypto/cipher"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"strings"
	"sync"

	"github.com/tokenhandler/traefik-token-handler/internal/apierror"
	"github.com/tokenhandler/traefik-token-handler/internal/bearer"
	"github.com/tokenhandler/traefik-token-handler/internal/config"
	"github.com/tokenhandler/traefik-token-handler/internal/cookiecrypt"
	"github.com/tokenhandler/traefik-token-handler/internal/cookies"
	"github.com/tokenhandler/traefik-token-handler/internal/cors"
	"github.com/tokenhandler/traefik-token-handler/internal/logger"
)

// Middleware is a configured bffToken instance; everything that does not depend on the request
// is computed in New.
type Middleware struct {
	next    http.Handler
	log     *logger.Logger
	cookies *cookies.Jar
	cors    *cors.Policy // nil when CORS is disabled
	// The jar's cookie names, its CSRF header and the current key, copied for the fast paths,
	// where each field access is interpreted.
	accessTokenCookie string
	csrfHeader        string
	csrfCookie        string
	aead              cipher.AEAD
	// Response header values, built once and shared by every response: each slice has its
	// length as capacity, so an append by another handler copies it instead of writing into it.
	allowOrigin         map[string][]string // trusted origin -> its Access-Control-Allow-Origin value
	exposeValue         []string            // nil when no headers are exposed
	allowTokens         bool
	removeCookieHeaders bool
	// fastMethod is the method ServeHTTP serves from authorizations: GET, or none with
	// allowTokens, whose bearer requests pass through untouched.
	fastMethod string
	// authorizations maps an access token cookie value that decrypted to the request's
	// Authorization value ("Bearer <token>"), so that the common GET is one map lookup instead
	// of cookie decoding, AES-GCM and string building. It is bounded (remember) and per instance,
	// and it holds what the decrypted cookies hold.
	mu                 sync.RWMutex
	authorizations     map[string]string
	authorizationBytes int
	// v2 is agentApi: v2: unsafe methods need the token-handler-version header instead of the
	// CSRF double submit.
	v2 bool
}

// New checks the configuration and builds the middleware. It never touches the network.
func New(ctx context.Context, next http.Handler, cfg *Config, name string) (http.Handler, error) {
	s, err := checkConfig(cfg)
	if err != nil {
		return nil, err
	}
	jar := cookies.NewJar(cookies.Options{Prefix: s.prefix, Profile: s.profile, Cipher: s.cipher})
	m := &Middleware{
		next:                config.Next(next),
		log:                 logger.New("bffToken", name, s.level),
		cookies:             jar,
		accessTokenCookie:   jar.AccessToken.Name,
		csrfHeader:          jar.CSRFHeader,
		csrfCookie:          jar.CSRF.Name,
		aead:                s.cipher.Current(),
		cors:                s.cors,
		allowOrigin:         make(map[string][]string, len(s.origins)),
		allowTokens:         s.allowTokens,
		removeCookieHeaders: s.removeCookieHeaders,
		v2:                  s.v2,
		fastMethod:          http.MethodGet,
		authorizations:      make(map[string]string),
	}
	if s.allowTokens {
		m.fastMethod = ""
	}
	for origin := range s.origins {
		m.allowOrigin[origin] = []string{origin}
	}
	if expose := strings.Join(s.exposeHeaders, ","); expose != "" {
		m.exposeValue = []string{expose}
	}
	return m, nil
}

// ServeHTTP is written for Yaegi, which interprets it on every request and allocates every
// slot of its frame on each call, whether a branch runs or not: it holds only the common case,
// a GET whose access token cookie was seen before (authorizations), with the fewest expressions
// that serve it, and leaves everything else (a first request, an unsafe method, a preflight,
// pass-through, every rejection) to serveSlow.
func (m *Middleware) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == m.fastMethod {
		if c, err := r.Cookie(m.accessTokenCookie); err == nil {
			m.mu.RLock()
			authorization := m.authorizations[c.Value]
			m.mu.RUnlock()
			allowOrigin := m.allowOrigin[r.Header.Get("Origin")]
			if authorization != "" && (allowOrigin != nil || m.cors == nil) {
				// A new slice: a handler after this one may write into it (phantomToken does).
				r.Header["Authorization"] = []string{authorization}
				if m.removeCookieHeaders {
					delete(r.Header, "Cookie")
					delete(r.Header, m.csrfHeader)
				}
				if m.cors != nil {
					// addCORS, inlined: a call would cost this GET the callee's frame.
					h := w.Header()
					h["Access-Control-Allow-Origin"] = allowOrigin
					h["Access-Control-Allow-Credentials"] = allowCredentials
					if m.exposeValue != nil {
						h["Access-Control-Expose-Headers"] = m.exposeValue
					}
					h["Vary"] = append(h["Vary"], "Origin")
				}
				m.next.ServeHTTP(w, r)
				return
			}
		}
	}
	m.serveSlow(w, r)
}

// serveSlow is every request but the common GET: the checks in the package comment's order.
func (m *Middleware) serveSlow(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodOptions || m.allowTokens {
		if m.serveSpecial(w, r) {
			return
		}
	}
	header := r.Header
	// Go's server canonicalizes incoming header names, so the maps are read with canonical keys.
	origin := ""
	if values := header["Origin"]; len(values) > 0 {
		origin = values[0]
	}
	allowOrigin := m.allowOrigin[origin]
	if safeMethods[r.Method] {
		if allowOrigin == nil && m.cors != nil {
			m.reject(w, r, origin, originProblem(origin))
			return
		}
	} else if m.refusedUnsafe(w, r, origin, allowOrigin) {
		return
	}

	// The first access token cookie, remembered or sealed with the current key: the only case
	// kept in authorizations, whose key is that cookie's value.
	authorization := ""
	if c, err := r.Cookie(m.accessTokenCookie); err == nil {
		m.mu.RLock()
		authorization = m.authorizations[c.Value]
		m.mu.RUnlock()
		if authorization == "" {
			authorization = m.openAndRemember(c.Value)
		}
	}
	if authorization == "" {
		accessToken := m.accessTokenSlowly(w, r, origin)
		if accessToken == "" {
			return
		}
		authorization = "Bearer " + accessToken
	}

	header["Authorization"] = []string{authorization}
	if m.removeCookieHeaders {
		delete(header, "Cookie")
		delete(header, m.csrfHeader)
	}
	if m.cors != nil {
		addCORS(w.Header(), allowOrigin, m.exposeValue)
	}
	m.next.ServeHTTP(w, r)
}

// addCORS adds the CORS headers of an answer to a trusted origin, whose
// Access-Control-Allow-Origin value is allowOrigin.
func addCORS(h http.Header, allowOrigin, exposeValue []string) {
	h["Access-Control-Allow-Origin"] = allowOrigin
	h["Access-Control-Allow-Credentials"] = allowCredentials
	if exposeValue != nil {
		h["Access-Control-Expose-Headers"] = exposeValue
	}
	h["Vary"] = append(h["Vary"], "Origin")
}

// openAndRemember decrypts an access token cookie value sealed with the current key (cookies.Open's
// common case, inlined) and remembers its Authorization value; "" when it does not decrypt so.
func (m *Middleware) openAndRemember(cookieValue string) string {
	blob, err := base64.RawURLEncoding.DecodeString(cookieValue)
	if err != nil || len(blob) < minCookieBytes || blob[0] != 1 {
		return ""
	}
	plain, err := m.aead.Open(blob[13:13], blob[1:13], blob[13:], nil)
	if err != nil {
		return ""
	}
	authorization := "Bearer " + string(plain)
	m.remember(cookieValue, authorization)
	return authorization
}

// The bounds of authorizations, per instance: past either, it starts over empty (and refills
// from the requests that follow, one decryption each).
const (
	maxAuthorizations     = 10000
	maxAuthorizationBytes = 16 << 20
)

// remember keeps the Authorization value that the access token cookie value decrypted to, for
// the next GETs with the same cookie. Only values that decrypted are kept, so a forged or
// tampered cookie never is; the value is the request's first cookie of the name, not a chunk
// count, so it alone determines the access token.
func (m *Middleware) remember(cookieValue, authorization string) {
	size := len(cookieValue) + len(authorization)
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.authorizations) >= maxAuthorizations || m.authorizationBytes+size > maxAuthorizationBytes {
		m.authorizations = make(map[string]string)
		m.authorizationBytes = 0
	}
	m.authorizations[cookieValue] = authorization
	m.authorizationBytes += size
}

// refusedUnsafe checks a request with an unsafe method: a trusted Origin, with CORS or without,
// and the CSRF header against the CSRF cookie (with agentApi: v2, the token-handler-version
// header instead). It answers a rejection itself and reports whether
// it did. It is its own function because Yaegi allocates every slot of a function on each call:
// kept out of ServeHTTP, its variables cost GETs nothing (and it is written without negations,
// each of which is a slot). It tries cookies.Open first and leaves every other case, and the
// description of what is wrong, to csrfRefused.
func (m *Middleware) refusedUnsafe(w http.ResponseWriter, r *http.Request, origin string, allowOrigin []string) bool {
	if allowOrigin == nil {
		m.reject(w, r, origin, originProblem(origin))
		return true
	}
	if m.v2 {
		return m.versionHeaderRefused(w, r, origin)
	}
	header := r.Header[m.csrfHeader]
	if len(header) == 1 && header[0] != "" &&
		subtle.ConstantTimeCompare([]byte(header[0]), []byte(cookies.Open(m.aead, r, m.csrfCookie))) == 1 {
		return false
	}
	return m.csrfRefused(w, r, origin)
}

// csrfRefused is the CSRF check's slow path: previous keys, duplicate cookies, and the rejection
// that says what is wrong.
func (m *Middleware) csrfRefused(w http.ResponseWriter, r *http.Request, origin string) bool {
	if err := m.cookies.CheckCSRF(r); err != nil {
		m.reject(w, r, origin, err.Error())
		return true
	}
	return false
}

// versionHeaderRefused is v2's CSRF check: the custom header that only a preflighted request
// can carry.
func (m *Middleware) versionHeaderRefused(w http.ResponseWriter, r *http.Request, origin string) bool {
	if err := cookies.CheckVersionHeader(r); err != nil {
		m.reject(w, r, origin, err.Error())
		return true
	}
	return false
}

// accessTokenSlowly is the access token cookie's slow path: previous keys, duplicate cookies,
// and the rejection that says what is wrong. It returns "" after answering.
func (m *Middleware) accessTokenSlowly(w http.ResponseWriter, r *http.Request, origin string) string {
	token, err := m.cookies.Read(r, m.cookies.AccessToken)
	if err != nil {
		m.reject(w, r, origin, err.Error())
		return ""
	}
	return token
}

// minCookieBytes is cookiecrypt.MinBlobSize, as a constant of this package: Yaegi folds it into
// ServeHTTP, where a constant of another package costs an allocation per request.
const minCookieBytes = cookiecrypt.MinBlobSize

// Shared response header values (see Middleware.allowOrigin).
var (
	allowCredentials = []string{"true"}
)

// safeMethods are the methods that need no CSRF check (contract §6.3): every other method, in
// any case, changes data. OPTIONS is answered or passed on before the check.
var safeMethods = map[string]bool{http.MethodGet: true, http.MethodHead: true, http.MethodOptions: true}

// serveSpecial handles OPTIONS and allowTokens pass-through; it reports whether it answered.
// It, reject and the slow cookie path recover panics into a 500 JSON answer; the common path
// does not, because a deferred call costs it a third of its time under Yaegi (a panic there
// would still be caught by Traefik's own recovery, which answers 500 and keeps Traefik running).
func (m *Middleware) serveSpecial(w http.ResponseWriter, r *http.Request) (answered bool) {
	defer func() {
		if v := recover(); v != nil {
			apierror.Recovered(w, r, m.log, v)
			answered = true
		}
	}()
	if r.Method == http.MethodOptions {
		if m.cors != nil {
			m.cors.AnswerPreflight(w, r)
		} else {
			m.next.ServeHTTP(w, r)
		}
		return true
	}
	if m.allowTokens && bearer.Present(r.Header.Get("Authorization")) {
		// The token passes untouched, but cookies the browser added (a mobile app's webview, a
		// page that also holds a session) still must not reach the API.
		if m.removeCookieHeaders {
			r.Header.Del("Cookie")
			r.Header.Del(m.csrfHeader)
		}
		m.next.ServeHTTP(w, r)
		return true
	}
	return false
}

func originProblem(origin string) string {
	if origin == "" {
		return "the request has no Origin header"
	}
	return "the Origin header is not a trusted web origin"
}

// reject answers 401, with CORS headers for a trusted origin so that the SPA can read the answer.
func (m *Middleware) reject(w http.ResponseWriter, r *http.Request, origin, problem string) {
	defer apierror.Recover(w, r, m.log)
	m.log.Printf(logger.Info, "rejected %s %s: %s", r.Method, r.URL.Path, problem)
	if m.cors != nil && m.allowOrigin[origin] != nil {
		m.cors.AddResponseHeaders(w.Header(), origin)
	}
	apierror.ProxyUnauthorized.Write(w, r)
}
