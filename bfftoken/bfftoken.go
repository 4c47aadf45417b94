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
	"crypto/subtle"
	"net/http"
	"net/textproto"

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
	next                http.Handler
	log                 *logger.Logger
	cipher              *cookiecrypt.Cipher
	cors                *cors.Policy // nil when CORS is disabled
	origins             map[string]bool
	accessTokenCookie   string
	csrfCookie          string
	csrfHeader          string // canonical form, for direct header map access
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

	key := errs.Secret("encryptionKey", cfg.EncryptionKey, cfg.EncryptionKeyFile, true)
	previous := errs.SecretList("previousEncryptionKeys", cfg.PreviousEncryptionKeys, cfg.PreviousEncryptionKeysFile)
	var cipher *cookiecrypt.Cipher
	if key != "" {
		c, err := cookiecrypt.NewCipher(key, previous)
		errs.AddErr("encryptionKey", err)
		cipher = c
	}

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
		cipher:              cipher,
		cors:                policy,
		origins:             origins,
		accessTokenCookie:   prefix + "-at",
		csrfCookie:          prefix + "-csrf",
		csrfHeader:          textproto.CanonicalMIMEHeaderKey("x-" + prefix + "-csrf"),
		allowTokens:         cfg.AllowTokens,
		removeCookieHeaders: config.BoolOr(cfg.RemoveCookieHeaders, true),
	}
	return m, nil
}

func (m *Middleware) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodOptions {
		if m.cors != nil {
			m.cors.AnswerPreflight(w, r)
			return
		}
		m.next.ServeHTTP(w, r)
		return
	}

	if m.allowTokens && bearer.Present(r.Header.Get("Authorization")) {
		m.next.ServeHTTP(w, r)
		return
	}

	origin := r.Header.Get("Origin")
	dataChanging := isDataChanging(r.Method)
	if m.cors != nil || dataChanging {
		if origin == "" {
			m.reject(w, r, origin, "the request has no Origin header")
			return
		}
		if !m.origins[origin] {
			m.reject(w, r, origin, "the Origin header is not a trusted web origin")
			return
		}
	}

	if dataChanging {
		csrf, problem := m.decryptCookie(r, m.csrfCookie)
		if problem != "" {
			m.reject(w, r, origin, problem)
			return
		}
		header := r.Header[m.csrfHeader]
		if len(header) == 0 || header[0] == "" {
			m.reject(w, r, origin, "the request has no "+m.csrfHeader+" header")
			return
		}
		if len(header) > 1 || subtle.ConstantTimeCompare([]byte(header[0]), []byte(csrf)) != 1 {
			m.reject(w, r, origin, "the "+m.csrfHeader+" header does not match the CSRF cookie")
			return
		}
	}

	accessToken, problem := m.decryptCookie(r, m.accessTokenCookie)
	if problem != "" {
		m.reject(w, r, origin, problem)
		return
	}

	r.Header.Set("Authorization", "Bearer "+accessToken)
	if m.removeCookieHeaders {
		r.Header.Del("Cookie")
		delete(r.Header, m.csrfHeader)
	}
	if m.cors != nil {
		m.cors.AddResponseHeaders(w.Header(), origin)
	}
	m.next.ServeHTTP(w, r)
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
	m.log.Printf(logger.Info, "rejected %s %s: %s", r.Method, r.URL.Path, problem)
	if m.cors != nil && m.origins[origin] {
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
