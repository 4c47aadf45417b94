package oauthagent

import (
	"net/http"
	"strings"
	"time"

	"github.com/tokenhandler/traefik-token-handler/internal/backchannel"
	"github.com/tokenhandler/traefik-token-handler/internal/config"
	"github.com/tokenhandler/traefik-token-handler/internal/cookies"
	"github.com/tokenhandler/traefik-token-handler/internal/cors"
	"github.com/tokenhandler/traefik-token-handler/internal/logger"
)

// Config is the oauthAgent role's configuration, under the `oauthAgent` key of the plugin. Every
// value may arrive as a string (labels, files); lists may be given as "a,b".
type Config struct {
	// Issuer (required) is the authorization server's issuer URL. ID tokens must carry it as iss,
	// and, for every endpoint not given below, OpenID Connect discovery is fetched from
	// <issuer>/.well-known/openid-configuration on first use (never in New), cached, and fetched
	// again on a later request if it failed.
	Issuer string

	// AuthorizationEndpoint overrides the discovered authorization endpoint (browser-facing).
	AuthorizationEndpoint string

	// TokenEndpoint overrides the discovered token endpoint (back channel).
	TokenEndpoint string

	// UserInfoEndpoint overrides the discovered userinfo endpoint (back channel).
	UserInfoEndpoint string

	// EndSessionEndpoint overrides the discovered end-session endpoint (browser-facing).
	EndSessionEndpoint string

	// JwksURI overrides the discovered JWKS URL (back channel), used to verify ID tokens.
	JwksURI string

	// RevocationEndpoint overrides the discovered revocation_endpoint (RFC 7009, back channel),
	// where /logout revokes the refresh token and then the access token. When every other
	// endpoint is configured, discovery is not fetched: give this one too.
	RevocationEndpoint string

	// PushedAuthorizationRequestEndpoint overrides the discovered
	// pushed_authorization_request_endpoint (RFC 9126, back channel).
	PushedAuthorizationRequestEndpoint string

	// PushedAuthorizationRequests (default auto) is when /login/start pushes the authorization
	// parameters to that endpoint (PAR, as FAPI 2.0 asks) and gives the browser a URL with only
	// client_id and request_uri: auto when discovery says
	// require_pushed_authorization_requests: true, always, or never. A PAR failure is 502.
	PushedAuthorizationRequests string

	// RevokeOnLogout (default true; it does something only when a revocation endpoint is
	// configured or discovered) makes /logout revoke the refresh token, then the access token,
	// with the client's authentication, each call within timeoutSeconds, before it answers. A
	// failed or slow revocation is logged and the logout still succeeds.
	RevokeOnLogout *bool

	// ClientID (required) is the agent's client at the authorization server.
	ClientID string

	// ClientSecret (required, unless ClientSecretFile is given or clientAuthMethod is
	// private_key_jwt) is that client's secret.
	ClientSecret string

	// ClientSecretFile is the path of a file holding ClientSecret; surrounding white space is
	// ignored.
	ClientSecretFile string

	// ClientAuthMethod (default client_secret_basic) is how the agent authenticates at the token
	// and revocation endpoints: client_secret_basic, client_secret_post or private_key_jwt.
	ClientAuthMethod string

	// ClientPrivateKey (required with private_key_jwt, unless ClientPrivateKeyFile is given) is
	// the client's private key in PEM (PKCS#8, PKCS#1 or SEC 1): RSA of at least 2048 bits, or EC
	// P-256 or P-384. Each call gets a new assertion signed with it (RFC 7523): iss = sub =
	// clientId, a random jti, exp 60 s ahead.
	ClientPrivateKey string

	// ClientPrivateKeyFile is the path of a PEM file holding ClientPrivateKey.
	ClientPrivateKeyFile string

	// ClientKeyID is the kid of the assertions' JWS header (the key's id at the authorization
	// server); default: none.
	ClientKeyID string

	// ClientAssertionAlg is the assertions' algorithm: RS256 (default for RSA) or PS256, ES256
	// (P-256), ES384 (P-384).
	ClientAssertionAlg string

	// ClientAssertionAudience (default endpoint) is the aud of the assertions: endpoint sends the
	// URL of the endpoint called, token the token endpoint's URL at every endpoint (Ory Hydra
	// wants that for revocation and PAR too), issuer the issuer.
	ClientAssertionAudience string

	// RedirectURI (required) is the SPA URL the authorization server sends the browser back to;
	// the SPA then posts that URL to /login/end.
	RedirectURI string

	// PostLogoutRedirectURI is where the authorization server sends the browser after logout.
	PostLogoutRedirectURI string

	// Scope (default "openid profile") is the scope requested at login.
	Scope string

	// PathPrefix (default /oauth-agent) is the path the agent answers under; requests outside it
	// go to the next handler.
	PathPrefix string

	// AgentAPI (default v1) is the API the agent speaks to the SPA: v1 is Curity's v1 OAuth Agent
	// API (JSON bodies, camelCase answers, a CSRF token); v2 is the API of Curity's current token
	// handler, which its browser library @curity/token-handler-js-assistant speaks (form bodies,
	// snake_case answers, GET /session, the token-handler-version header instead of a CSRF token,
	// no /userInfo or /claims). bffToken must be set to the same API. The cookies are the same.
	AgentAPI string

	// CookieNamePrefix (required) names the cookies (<prefix>-at, -auth, -id, -csrf, -login) and
	// the CSRF header x-<prefix>-csrf. bffToken must use the same prefix.
	CookieNamePrefix string

	// EncryptionKey (required, unless EncryptionKeyFile is given) is the AES-256 key of the
	// cookies, as exactly 64 hex characters. bffToken must use the same key.
	EncryptionKey string

	// EncryptionKeyFile is the path of a file holding EncryptionKey.
	EncryptionKeyFile string

	// PreviousEncryptionKeys are older keys that cookies are still decrypted with after a
	// rotation; new cookies always use EncryptionKey.
	PreviousEncryptionKeys []string

	// PreviousEncryptionKeysFile is the path of a file with more previous keys, one per line.
	PreviousEncryptionKeysFile string

	// CookieProfile (default curity) is how the cookies are named and scoped: curity writes
	// Curity's v1 cookies (<prefix>-<suffix>, each on its own Path, with cookieDomain when set);
	// host writes __Host-<prefix>-<suffix> cookies with Path=/, no Domain and Secure (RFC 10017
	// §6.1.3.2), which no other host of the same site can plant or overwrite. The recommended
	// profile when the agent and the API are on the same host; bffToken must use the same one.
	// host cannot be combined with cookieDomain or cookieSecure: false.
	CookieProfile string

	// MaxCookieChunks (default 4, at most 10) is how many cookies of 4096 bytes one token may be
	// written as: a token whose encrypted cookie is larger is split into <name>-1 ... <name>-<n>,
	// with <name> holding the count. A token that needs more fails the login with 500.
	MaxCookieChunks int

	// CookieDomain sets the cookies' Domain attribute; by default there is none (host-only).
	CookieDomain string

	// CookieBasePath (default /) is the Path of the -at, -csrf and -login cookies. The -auth and
	// -id cookies are on pathPrefix (every agent endpoint, never the API); the same names on
	// their earlier paths, <pathPrefix>/refresh and <pathPrefix>/claims, are still read where
	// the browser sends them and cleared whenever -auth or -id is written.
	CookieBasePath string

	// CookieSecure (default true) sets the Secure attribute. Browsers keep Secure cookies on
	// http://*.localhost; turn it off only for plain-HTTP development under another name.
	CookieSecure *bool

	// TrustedWebOrigins (required, at least one) are the SPA origins allowed to call the agent.
	TrustedWebOrigins []string

	// CorsEnabled (default true) makes the agent answer CORS preflights and add CORS headers for
	// trusted origins. Set it to false when the SPA and the agent share an origin; GET endpoints
	// then skip the Origin check, which browsers do not send on same-origin GETs.
	CorsEnabled *bool

	// RefreshReuseSeconds (default 10, 0 turns it off, at most 300) is how long after a refresh
	// a /refresh that carries the same refresh token gets the tokens of that refresh instead of a
	// new call: with an authorization server that rotates refresh tokens, the tab that lost a
	// race is not signed out. Concurrent refreshes of one session always make one call. The
	// window also lets a stolen old refresh token cookie be replayed for that long. Per instance.
	RefreshReuseSeconds *int

	// TimeoutSeconds (default 10) bounds each call to the authorization server.
	TimeoutSeconds int

	// LogLevel (default info): debug, info (one line per rejected request), warn or error (one
	// line per failed call to the authorization server).
	LogLevel string

	// Unknown collects keys that match no field, so that New can name a misspelt key.
	Unknown map[string]interface{} `mapstructure:",remain"`
}

// CreateConfig returns an empty configuration; defaults are applied in New.
func CreateConfig() *Config {
	return &Config{}
}

const (
	defaultScope          = "openid profile"
	defaultPathPrefix     = "/oauth-agent"
	defaultTimeoutSeconds = 10

	parAuto   = "auto"
	parAlways = "always"
	parNever  = "never"

	defaultRefreshReuseSeconds = 10
	maxRefreshReuseSeconds     = 300
)

// settings is a configuration that checkConfig accepted, with its defaults applied.
type settings struct {
	issuer     string
	endpoints  endpoints // the configured ones; discovery fills in the others
	clientID   string
	clientAuth *backchannel.ClientAuth
	// assertionAudience is clientAssertionAudience: endpoint, token or issuer.
	assertionAudience           string
	redirectURI                 string
	postLogoutRedirectURI       string
	scope                       string
	pathPrefix                  string
	agentAPI                    string
	cookies                     cookies.Options
	origins                     map[string]bool
	cors                        *cors.Policy
	refreshReuse                time.Duration
	revokeOnLogout              bool
	pushedAuthorizationRequests string
	timeout                     time.Duration
	level                       logger.Level
}

// checkConfig checks every key, reporting all problems at once in a fixed order.
func checkConfig(cfg *Config) (settings, error) {
	if cfg == nil {
		cfg = CreateConfig()
	}
	errs := config.NewErrors("oauthAgent", cfg.Unknown)
	s := settings{issuer: errs.URL("issuer", cfg.Issuer, true)}
	s.endpoints = endpoints{
		authorization: errs.URL("authorizationEndpoint", cfg.AuthorizationEndpoint, false),
		token:         errs.URL("tokenEndpoint", cfg.TokenEndpoint, false),
		userInfo:      errs.URL("userInfoEndpoint", cfg.UserInfoEndpoint, false),
		endSession:    errs.URL("endSessionEndpoint", cfg.EndSessionEndpoint, false),
		jwks:          errs.URL("jwksUri", cfg.JwksURI, false),
		revocation:    errs.URL("revocationEndpoint", cfg.RevocationEndpoint, false),
		par:           errs.URL("pushedAuthorizationRequestEndpoint", cfg.PushedAuthorizationRequestEndpoint, false),
	}
	s.clientID = cfg.ClientID
	s.assertionAudience = errs.OneOf("clientAssertionAudience", cfg.ClientAssertionAudience, []string{"endpoint", "token", "issuer"})
	clientAuth, _ := errs.ClientAuth(config.ClientCredentials{
		ClientID: cfg.ClientID, Method: cfg.ClientAuthMethod,
		Secret: cfg.ClientSecret, SecretFile: cfg.ClientSecretFile,
		PrivateKey: cfg.ClientPrivateKey, PrivateKeyFile: cfg.ClientPrivateKeyFile,
		KeyID: cfg.ClientKeyID, AssertionAlg: cfg.ClientAssertionAlg,
	})
	s.clientAuth = clientAuth
	s.redirectURI = errs.URL("redirectUri", cfg.RedirectURI, true)
	s.postLogoutRedirectURI = errs.URL("postLogoutRedirectUri", cfg.PostLogoutRedirectURI, false)
	s.scope = strings.Join(strings.Fields(cfg.Scope), " ")
	if s.scope == "" {
		s.scope = defaultScope
	}
	s.pathPrefix = strings.TrimSuffix(cfg.PathPrefix, "/")
	if cfg.PathPrefix == "" {
		s.pathPrefix = defaultPathPrefix
	}
	if !validPath(s.pathPrefix) {
		errs.Add("pathPrefix", "must be a path starting with / (without ; , spaces, ? or #), got %q", cfg.PathPrefix)
	}
	s.agentAPI = errs.OneOf("agentApi", cfg.AgentAPI, config.AgentAPIs)
	s.cookies = cookies.Options{
		Prefix:    cfg.CookieNamePrefix,
		Profile:   errs.OneOf("cookieProfile", cfg.CookieProfile, cookies.Profiles),
		BasePath:  cfg.CookieBasePath,
		AgentPath: s.pathPrefix,
		Domain:    cfg.CookieDomain,
		Secure:    config.BoolOr(cfg.CookieSecure, true),
		MaxChunks: errs.Int("maxCookieChunks", cfg.MaxCookieChunks, cookies.DefaultMaxChunks, 1, cookies.MaxReadChunks),

		AccessTokenExpiry: s.agentAPI == config.AgentAPIV2,
	}
	if s.cookies.Profile == cookies.ProfileHost && s.cookies.Domain != "" {
		errs.Add("cookieDomain", "must not be set with cookieProfile: host, whose cookies are host-only")
	}
	if s.cookies.Profile == cookies.ProfileHost && !s.cookies.Secure {
		errs.Add("cookieSecure", "must not be false with cookieProfile: host, whose cookies are always Secure")
	}
	if s.cookies.BasePath == "" {
		s.cookies.BasePath = "/"
	}
	if !validPath(s.cookies.BasePath) {
		errs.Add("cookieBasePath", "must be a path starting with /, got %q", s.cookies.BasePath)
	}
	if s.cookies.Domain != "" && strings.ContainsAny(s.cookies.Domain, ";, \t/:") {
		errs.Add("cookieDomain", "must be a domain name, got %q", s.cookies.Domain)
	}
	errs.CookieNamePrefix("cookieNamePrefix", cfg.CookieNamePrefix)
	s.cookies.Cipher = errs.CookieCipher(cfg.EncryptionKey, cfg.EncryptionKeyFile, cfg.PreviousEncryptionKeys, cfg.PreviousEncryptionKeysFile)
	origins, policy := errs.TrustedWebOrigins(cfg.TrustedWebOrigins, config.BoolOr(cfg.CorsEnabled, true), cors.Options{
		AllowMethods:  []string{http.MethodGet, http.MethodPost, http.MethodOptions},
		MaxAgeSeconds: 86400,
	})
	s.origins = origins
	s.cors = policy
	reuseSeconds := errs.Range("refreshReuseSeconds", config.IntOr(cfg.RefreshReuseSeconds, defaultRefreshReuseSeconds), 0, maxRefreshReuseSeconds)
	s.refreshReuse = time.Duration(reuseSeconds) * time.Second
	s.revokeOnLogout = config.BoolOr(cfg.RevokeOnLogout, true)
	s.pushedAuthorizationRequests = errs.OneOf("pushedAuthorizationRequests", cfg.PushedAuthorizationRequests, []string{parAuto, parAlways, parNever})
	s.timeout = errs.Timeout("timeoutSeconds", cfg.TimeoutSeconds, defaultTimeoutSeconds)
	s.level = errs.LogLevel(cfg.LogLevel)
	return s, errs.Err()
}

// validPath reports whether p can be a cookie Path and a URL path prefix.
func validPath(p string) bool {
	return strings.HasPrefix(p, "/") && !strings.ContainsAny(p, ";, \t\r\n?#")
}
