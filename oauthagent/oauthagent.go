// Package oauthagent is the OAuth Agent role of the token handler: it runs the OpenID Connect
// code flow for an SPA over a small JSON API, Curity's v1 OAuth Agent API, and keeps the tokens
// in encrypted HttpOnly cookies, so that the SPA never sees a token.
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
//
// Errors are {"code","message"} with Curity's codes and statuses. With CORS enabled, preflights
// from a trusted origin answer 204, and every answer to a trusted origin carries the CORS headers.
package oauthagent

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/tokenhandler/traefik-token-handler/internal/apierror"
	"github.com/tokenhandler/traefik-token-handler/internal/backchannel"
	"github.com/tokenhandler/traefik-token-handler/internal/config"
	"github.com/tokenhandler/traefik-token-handler/internal/cookiecrypt"
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
	clientSecret          string
	authMethod            string
	basicAuth             string
	redirectURI           string
	postLogoutRedirectURI string
	scope                 string
	cipher                *cookiecrypt.Cipher
	cookies               cookieJar
	csrfHeader            string
	cors                  *cors.Policy // nil when CORS is disabled
	origins               map[string]bool
	provider              *provider
	keys                  *keySet
	transport             http.RoundTripper
	timeout               time.Duration
}

// New validates the configuration and builds the agent. It never touches the network.
func New(ctx context.Context, next http.Handler, cfg *Config, name string) (http.Handler, error) {
	errs := config.NewErrors("oauthAgent")
	if cfg == nil {
		cfg = CreateConfig()
	}
	errs.Unknown(cfg.Unknown)

	issuer := strings.TrimSpace(cfg.Issuer)
	errs.Required("issuer", issuer)
	if issuer != "" && !isHTTPURL(issuer) {
		errs.Add("issuer", "must be an http or https URL without a fragment, got %q", issuer)
	}
	configured := endpoints{
		authorization: strings.TrimSpace(cfg.AuthorizationEndpoint),
		token:         strings.TrimSpace(cfg.TokenEndpoint),
		userInfo:      strings.TrimSpace(cfg.UserInfoEndpoint),
		endSession:    strings.TrimSpace(cfg.EndSessionEndpoint),
		jwks:          strings.TrimSpace(cfg.JwksURI),
	}
	for key, value := range map[string]string{
		"authorizationEndpoint": configured.authorization, "tokenEndpoint": configured.token,
		"userInfoEndpoint": configured.userInfo, "endSessionEndpoint": configured.endSession, "jwksUri": configured.jwks,
	} {
		if value != "" && !isHTTPURL(value) {
			errs.Add(key, "must be an http or https URL without a fragment, got %q", value)
		}
	}

	errs.Required("clientId", cfg.ClientID)
	secret := errs.Secret("clientSecret", cfg.ClientSecret, cfg.ClientSecretFile, true)
	authMethod := cfg.ClientAuthMethod
	if authMethod == "" {
		authMethod = clientSecretBasic
	}
	if authMethod != clientSecretBasic && authMethod != clientSecretPost {
		errs.Add("clientAuthMethod", "must be client_secret_basic or client_secret_post, got %q", authMethod)
	}
	errs.Required("redirectUri", cfg.RedirectURI)
	if cfg.RedirectURI != "" && !isHTTPURL(cfg.RedirectURI) {
		errs.Add("redirectUri", "must be an http or https URL without a fragment, got %q", cfg.RedirectURI)
	}
	if cfg.PostLogoutRedirectURI != "" && !isHTTPURL(cfg.PostLogoutRedirectURI) {
		errs.Add("postLogoutRedirectUri", "must be an http or https URL without a fragment, got %q", cfg.PostLogoutRedirectURI)
	}
	scope := strings.Join(strings.Fields(cfg.Scope), " ")
	if scope == "" {
		scope = defaultScope
	}
	pathPrefix := strings.TrimSuffix(cfg.PathPrefix, "/")
	if cfg.PathPrefix == "" {
		pathPrefix = defaultPathPrefix
	}
	if !validPath(pathPrefix) {
		errs.Add("pathPrefix", "must be a path starting with / (without ; , spaces, ? or #), got %q", cfg.PathPrefix)
	}
	basePath := cfg.CookieBasePath
	if basePath == "" {
		basePath = "/"
	}
	if !validPath(basePath) {
		errs.Add("cookieBasePath", "must be a path starting with /, got %q", basePath)
	}
	if cfg.CookieDomain != "" && strings.ContainsAny(cfg.CookieDomain, ";, \t/:") {
		errs.Add("cookieDomain", "must be a domain name, got %q", cfg.CookieDomain)
	}
	errs.CookieNamePrefix("cookieNamePrefix", cfg.CookieNamePrefix)
	cookieCipher := errs.CookieCipher(cfg.EncryptionKey, cfg.EncryptionKeyFile, cfg.PreviousEncryptionKeys, cfg.PreviousEncryptionKeysFile)
	origins, err := cors.ParseOrigins(config.List(cfg.TrustedWebOrigins))
	errs.AddErr("trustedWebOrigins", err)
	var policy *cors.Policy
	if config.BoolOr(cfg.CorsEnabled, true) && origins != nil {
		policy, err = cors.NewPolicy(cors.Options{
			TrustedOrigins: config.List(cfg.TrustedWebOrigins),
			AllowMethods:   []string{http.MethodGet, http.MethodPost, http.MethodOptions},
			MaxAgeSeconds:  86400,
		})
		errs.AddErr("trustedWebOrigins", err)
	}
	timeoutSeconds := cfg.TimeoutSeconds
	if timeoutSeconds == 0 {
		timeoutSeconds = defaultTimeoutSeconds
	}
	if timeoutSeconds < 0 || timeoutSeconds > config.MaxTimeoutSeconds {
		errs.Add("timeoutSeconds", "must be from 1 to %d, got %d", config.MaxTimeoutSeconds, timeoutSeconds)
	}
	level, err := logger.ParseLevel(cfg.LogLevel)
	errs.AddErr("logLevel", err)
	if err := errs.Err(); err != nil {
		return nil, err
	}

	if next == nil {
		next = http.NotFoundHandler()
	}
	timeout := time.Duration(timeoutSeconds) * time.Second
	transport := backchannel.Transport(false)
	p, keys := sharedProvider(issuer, configured, transport, timeout)
	a := &Agent{
		next:                  next,
		log:                   logger.New("oauthAgent", name, level),
		pathPrefix:            pathPrefix,
		issuer:                issuer,
		clientID:              cfg.ClientID,
		clientSecret:          secret,
		authMethod:            authMethod,
		basicAuth:             backchannel.BasicAuth(cfg.ClientID, secret),
		redirectURI:           cfg.RedirectURI,
		postLogoutRedirectURI: cfg.PostLogoutRedirectURI,
		scope:                 scope,
		cipher:                cookieCipher,
		cookies:               newCookieJar(cfg.CookieNamePrefix, basePath, pathPrefix, cfg.CookieDomain, config.BoolOr(cfg.CookieSecure, true)),
		csrfHeader:            textproto.CanonicalMIMEHeaderKey("x-" + cfg.CookieNamePrefix + "-csrf"),
		cors:                  policy,
		origins:               origins,
		provider:              p,
		keys:                  keys,
		transport:             transport,
		timeout:               timeout,
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
func sharedProvider(issuer string, configured endpoints, transport http.RoundTripper, timeout time.Duration) (*provider, *keySet) {
	key := strings.Join([]string{issuer, configured.authorization, configured.token, configured.userInfo,
		configured.endSession, configured.jwks, timeout.String()}, "|")
	providersMu.Lock()
	defer providersMu.Unlock()
	p, ok := providers[key]
	if !ok {
		p = &provider{issuer: issuer, configured: configured, transport: transport, timeout: timeout}
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

// isHTTPURL reports whether s is an absolute http or https URL without a fragment (a fragment
// would swallow the query the agent appends).
func isHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && u.Fragment == "" && !strings.Contains(s, "#")
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
	method := http.MethodPost
	switch path[len(a.pathPrefix):] {
	case "/login/start":
		handle = a.startLogin
	case "/login/end":
		handle = a.endLogin
	case "/userInfo":
		handle = a.userInfo
		method = http.MethodGet
	case "/claims":
		handle = a.claims
		method = http.MethodGet
	case "/refresh":
		handle = a.refresh
	case "/logout":
		handle = a.logout
	default:
		apierror.AgentNotFound.Write(w, r)
		return
	}
	if r.Method != method {
		w.Header().Set("Allow", method+", OPTIONS")
		apierror.AgentMethodNotAllowed.Write(w, r)
		return
	}
	// POSTs always need a trusted Origin; GETs only with CORS, since browsers send no Origin on a
	// same-origin GET.
	if (method == http.MethodPost || a.cors != nil) && !a.origins[origin] {
		a.fail(w, r, rejected(apierror.AgentUnauthorized, "the Origin header is missing or not a trusted web origin"))
		return
	}
	if f := handle(w, r); f != nil {
		a.fail(w, r, f)
	}
}

// fail logs why a request failed and answers with the failure's error.
func (a *Agent) fail(w http.ResponseWriter, r *http.Request, f *failure) {
	verb := "rejected"
	if f.level >= logger.Warn {
		verb = "failed"
	}
	a.log.Printf(f.level, "%s %s %s: %s", verb, r.Method, r.URL.Path, f.problem)
	f.answer.Write(w, r)
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

// decryptCookie returns the plaintext of the first cookie called name that decrypts, or "".
func (a *Agent) decryptCookie(r *http.Request, name string) string {
	for _, value := range cookieValues(r, name) {
		if plain, err := a.cipher.Decrypt(value); err == nil {
			return plain
		}
	}
	return ""
}

// checkCSRF compares the CSRF header with the decrypted CSRF cookie, in constant time.
func (a *Agent) checkCSRF(r *http.Request) *failure {
	csrf := a.decryptCookie(r, a.cookies.csrf.name)
	if csrf == "" {
		return rejected(apierror.AgentUnauthorized, "the "+a.cookies.csrf.name+" cookie is missing or does not decrypt")
	}
	header := r.Header[a.csrfHeader]
	if len(header) != 1 || subtle.ConstantTimeCompare([]byte(header[0]), []byte(csrf)) != 1 {
		return rejected(apierror.AgentUnauthorized, "the "+a.csrfHeader+" header is missing or does not match the CSRF cookie")
	}
	return nil
}

// encrypt encrypts a cookie value; it fails only if the system's random source does.
func (a *Agent) encrypt(plain string) (string, *failure) {
	sealed, err := a.cipher.Encrypt(plain)
	if err != nil {
		return "", &failure{answer: apierror.AgentServerError, level: logger.Error, problem: "encrypting a cookie: " + err.Error()}
	}
	return sealed, nil
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
