// Package bfftoken is the OAuth Proxy role of the token handler: it lets an SPA call an API with
// the encrypted cookies that the OAuth Agent wrote, and gives the API an ordinary bearer token.
//
// Per request, in this order (the semantics of Curity's OAuth Proxy):
//
//  1. OPTIONS: with CORS enabled, the preflight is answered here with 204, with CORS headers only
//     for a trusted origin; with CORS disabled it passes through.
//  2. With allowTokens, a request that carries `Authorization: Bearer ...` passes through untouched.
//  3. When CORS is enabled, or the method is POST, PUT, PATCH or DELETE, the Origin header must be
//     present and be one of trustedWebOrigins.
//  4. For POST, PUT, PATCH and DELETE, the `<prefix>-csrf` cookie must decrypt to the value of the
//     `x-<prefix>-csrf` header.
//  5. The `<prefix>-at` cookie must be present and decrypt.
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
	"net/textproto"
	"strings"

	"github.com/tokenhandler/traefik-token-handler/internal/apierror"
	"github.com/tokenhandler/traefik-token-handler/internal/bearer"
	"github.com/tokenhandler/traefik-token-handler/internal/config"
	"github.com/tokenhandler/traefik-token-handler/internal/cookiecrypt"
	"github.com/tokenhandler/traefik-token-handler/internal/cors"
	"github.com/tokenhandler/traefik-token-handler/internal/logger"
)

// Middleware is a configured bffToken instance; everything that does not depend on the request
// is computed in New.
type Middleware struct {
	next              http.Handler
	log               *logger.Logger
	cipher            *cookiecrypt.Cipher
	aead              cipher.AEAD  // the current key, for the inlined fast path
	cors              *cors.Policy // nil when CORS is disabled
	accessTokenCookie string
	csrfCookie        string
	csrfHeader        string // canonical form, for direct header map access
	// Response header values, built once and shared by every response: each slice has its
	// length as capacity, so an append by another handler copies it instead of writing into it.
	allowOrigin         map[string][]string // trusted origin -> its Access-Control-Allow-Origin value
	exposeValue         []string            // nil when no headers are exposed
	allowTokens         bool
	removeCookieHeaders bool
}

// New validates the configuration and builds the middleware. It never touches the network.
func New(ctx context.Context, next http.Handler, cfg *Config, name string) (http.Handler, error) {
	errs := config.NewErrors("bffToken")
	if cfg == nil {
		cfg = CreateConfig()
	}
	errs.Unknown(cfg.Unknown)
	errs.CookieNamePrefix("cookieNamePrefix", cfg.CookieNamePrefix)

	cookieCipher := errs.CookieCipher(cfg.EncryptionKey, cfg.EncryptionKeyFile, cfg.PreviousEncryptionKeys, cfg.PreviousEncryptionKeysFile)

	origins, err := cors.ParseOrigins(config.List(cfg.TrustedWebOrigins))
	errs.AddErr("trustedWebOrigins", err)

	var policy *cors.Policy
	if config.BoolOr(cfg.CorsEnabled, true) {
		p, err := cors.NewPolicy(cors.Options{
			TrustedOrigins: config.List(cfg.TrustedWebOrigins),
			AllowMethods:   config.ListOr(cfg.CorsAllowMethods, defaultAllowMethods),
			AllowHeaders:   config.List(cfg.CorsAllowHeaders),
			ExposeHeaders:  config.List(cfg.CorsExposeHeaders),
			MaxAgeSeconds:  config.IntOr(cfg.CorsMaxAge, 86400),
		})
		if err != nil && origins != nil {
			errs.AddErr("corsMaxAge", err)
		}
		policy = p
	}

	level, err := logger.ParseLevel(cfg.LogLevel)
	errs.AddErr("logLevel", err)

	if err := errs.Err(); err != nil {
		return nil, err
	}
	if next == nil {
		next = http.NotFoundHandler()
	}
	prefix := cfg.CookieNamePrefix
	m := &Middleware{
		next:                next,
		log:                 logger.New("bffToken", name, level),
		cipher:              cookieCipher,
		aead:                cookieCipher.Current(),
		cors:                policy,
		accessTokenCookie:   prefix + "-at",
		csrfCookie:          prefix + "-csrf",
		csrfHeader:          textproto.CanonicalMIMEHeaderKey("x-" + prefix + "-csrf"),
		allowTokens:         cfg.AllowTokens,
		removeCookieHeaders: config.BoolOr(cfg.RemoveCookieHeaders, true),
	}
	m.allowOrigin = make(map[string][]string, len(origins))
	for origin := range origins {
		m.allowOrigin[origin] = []string{origin}
	}
	if expose := strings.Join(config.List(cfg.CorsExposeHeaders), ","); expose != "" {
		m.exposeValue = []string{expose}
	}
	return m, nil
}

// ServeHTTP is written for Yaegi, which interprets it on every request: the common path makes no
// call to another interpreted function (each costs about a microsecond there, most of it in
// allocating the callee's frame), reads and writes headers through the header maps rather than
// their methods, and leaves every rare branch (preflight, pass-through, rejection, a cookie that
// needs a previous key) to helper functions.
func (m *Middleware) ServeHTTP(w http.ResponseWriter, r *http.Request) {
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
	if allowOrigin == nil && (m.cors != nil || dataChangingMethods[r.Method]) {
		m.reject(w, r, origin, originProblem(origin))
		return
	}
	if dataChangingMethods[r.Method] && !m.csrfMatches(w, r, origin) {
		return
	}

	// openCookie, inlined: GET is most of an API's traffic, and a call costs more under Yaegi
	// than the work it does.
	accessToken := ""
	if c, err := r.Cookie(m.accessTokenCookie); err == nil {
		if blob, err := base64.RawURLEncoding.DecodeString(c.Value); err == nil && len(blob) >= minCookieBytes && blob[0] == 1 {
			if plain, err := m.aead.Open(blob[13:13], blob[1:13], blob[13:], nil); err == nil {
				accessToken = string(plain)
			}
		}
	}
	if accessToken == "" {
		if accessToken = m.accessTokenSlowly(w, r, origin); accessToken == "" {
			return
		}
	}

	header["Authorization"] = []string{"Bearer " + accessToken}
	if m.removeCookieHeaders {
		delete(header, "Cookie")
		delete(header, m.csrfHeader)
	}
	if m.cors != nil {
		responseHeader := w.Header()
		responseHeader["Access-Control-Allow-Origin"] = allowOrigin
		responseHeader["Access-Control-Allow-Credentials"] = allowCredentials
		if m.exposeValue != nil {
			responseHeader["Access-Control-Expose-Headers"] = m.exposeValue
		}
		if vary := responseHeader["Vary"]; len(vary) == 0 {
			responseHeader["Vary"] = varyOrigin
		} else {
			responseHeader["Vary"] = append(vary, "Origin")
		}
	}
	m.next.ServeHTTP(w, r)
}

// csrfMatches checks the CSRF header against the CSRF cookie, answering the rejection itself. It
// is its own function because Yaegi allocates every variable of a function on each call: kept out
// of ServeHTTP, its variables cost GETs nothing.
func (m *Middleware) csrfMatches(w http.ResponseWriter, r *http.Request, origin string) bool {
	header := r.Header[m.csrfHeader]
	if len(header) == 1 && header[0] != "" &&
		subtle.ConstantTimeCompare([]byte(header[0]), []byte(openCookie(m.aead, r, m.csrfCookie))) == 1 {
		return true
	}
	if problem := m.checkCSRF(r); problem != "" {
		m.reject(w, r, origin, problem)
		return false
	}
	return true
}

// accessTokenSlowly is the access token cookie's slow path: previous keys, duplicate cookies,
// and the rejection that says what is wrong. It returns "" after answering.
func (m *Middleware) accessTokenSlowly(w http.ResponseWriter, r *http.Request, origin string) string {
	token, problem := m.decryptCookie(r, m.accessTokenCookie)
	if problem != "" {
		m.reject(w, r, origin, problem)
		return ""
	}
	return token
}

// openCookie decrypts the named cookie with the current key, or returns "". Anything it cannot
// open (no cookie, a bad value, a previous key, a duplicate cookie) is left to decryptCookie,
// which is slower and says what is wrong.
func openCookie(aead cipher.AEAD, r *http.Request, name string) string {
	c, err := r.Cookie(name)
	if err != nil {
		return ""
	}
	blob, err := base64.RawURLEncoding.DecodeString(c.Value)
	if err != nil || len(blob) < minCookieBytes || blob[0] != 1 {
		return ""
	}
	plain, err := aead.Open(blob[13:13], blob[1:13], blob[13:], nil)
	if err != nil {
		return ""
	}
	return string(plain)
}

// minCookieBytes is the smallest decoded cookie: version, IV, one byte, tag (cookiecrypt's rule,
// repeated for the inlined fast path).
const minCookieBytes = 1 + 12 + 1 + 16

// Shared response header values (see Middleware.allowOrigin).
var (
	allowCredentials = []string{"true"}
	varyOrigin       = []string{"Origin"}
)

var dataChangingMethods = map[string]bool{
	http.MethodPost: true, http.MethodPut: true, http.MethodPatch: true, http.MethodDelete: true,
}

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

// checkCSRF compares the x-<prefix>-csrf header with the decrypted CSRF cookie in constant time.
func (m *Middleware) checkCSRF(r *http.Request) string {
	csrf, problem := m.decryptCookie(r, m.csrfCookie)
	if problem != "" {
		return problem
	}
	header := r.Header[m.csrfHeader]
	if len(header) == 0 || header[0] == "" {
		return "the request has no " + m.csrfHeader + " header"
	}
	if len(header) > 1 || subtle.ConstantTimeCompare([]byte(header[0]), []byte(csrf)) != 1 {
		return "the " + m.csrfHeader + " header does not match the CSRF cookie"
	}
	return ""
}

// decryptCookie returns the plaintext of the named cookie, or a description of what is wrong with
// it. When the browser sends the name more than once (a stale cookie with another Path or
// Domain), the first one that decrypts is used.
func (m *Middleware) decryptCookie(r *http.Request, name string) (string, string) {
	c, err := r.Cookie(name)
	if err != nil {
		return "", "the request has no " + name + " cookie"
	}
	plain, err := m.cipher.Decrypt(c.Value)
	if err == nil {
		return plain, ""
	}
	first := err
	seen := false
	for _, other := range r.Cookies() {
		if other.Name != name {
			continue
		}
		if !seen {
			seen = true // the one already tried
			continue
		}
		if plain, err := m.cipher.Decrypt(other.Value); err == nil {
			return plain, ""
		}
	}
	return "", "the " + name + " cookie is invalid: " + first.Error()
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

func isDataChanging(method string) bool {
	switch method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		return true
	}
	return false
}
