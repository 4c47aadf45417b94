package bfftoken

import (
	"strings"

	"github.com/tokenhandler/traefik-token-handler/internal/config"
	"github.com/tokenhandler/traefik-token-handler/internal/cookiecrypt"
	"github.com/tokenhandler/traefik-token-handler/internal/cookies"
	"github.com/tokenhandler/traefik-token-handler/internal/cors"
	"github.com/tokenhandler/traefik-token-handler/internal/logger"
)

// Config is the bffToken role's configuration, under the `bffToken` key of the plugin. Traefik
// decodes it from labels and files, where every value arrives as a string: booleans and numbers
// are read from strings, and a list may be given as "a,b" or as an indexed or YAML list.
type Config struct {
	// CookieNamePrefix (required) names the cookies and the CSRF header: the access token is read
	// from the `<prefix>-at` cookie, the CSRF token from `<prefix>-csrf` and the header
	// `x-<prefix>-csrf`. It must match the OAuth Agent's cookieNamePrefix. At most 64 letters,
	// digits, '-', '_' or '.'.
	CookieNamePrefix string

	// AgentAPI (default v1) must be the OAuth Agent's agentApi. With v1, requests with an unsafe
	// method need the x-<prefix>-csrf header to match the <prefix>-csrf cookie (double submit);
	// with v2, which has no CSRF token, they need a non-empty token-handler-version header
	// instead, which a cross-site page cannot send without passing the CORS preflight. The Origin
	// checks and every answer are the same in both.
	AgentAPI string

	// CookieProfile (default curity) must be the OAuth Agent's cookieProfile: with host, only the
	// __Host-<prefix>-at and __Host-<prefix>-csrf cookies are read, which no other host of the
	// same site can plant.
	CookieProfile string

	// EncryptionKey (required, unless EncryptionKeyFile is given) is the AES-256 key that the
	// OAuth Agent encrypts the cookies with, as exactly 64 hex characters.
	EncryptionKey string

	// EncryptionKeyFile is the path of a file that holds EncryptionKey, so that the key need not
	// stand in labels or dynamic configuration. Surrounding white space is ignored.
	EncryptionKeyFile string

	// PreviousEncryptionKeys are keys (64 hex characters each) that cookies are still decrypted
	// with after a key rotation. Default: none.
	PreviousEncryptionKeys []string

	// PreviousEncryptionKeysFile is the path of a file with more previous keys, one per line.
	PreviousEncryptionKeysFile string

	// TrustedWebOrigins (required, at least one) are the origins of the SPAs allowed to call the
	// API with the cookies, as scheme://host[:port], for example https://www.example.com.
	TrustedWebOrigins []string

	// CorsEnabled (default true) makes the middleware answer CORS preflights, require a trusted
	// Origin on every request and add CORS headers to responses. Set it to false when the SPA and
	// the API share one origin: then OPTIONS passes through and only unsafe methods (all but GET
	// and HEAD) need a trusted Origin.
	CorsEnabled *bool

	// AllowTokens (default false) lets a request that already carries `Authorization: Bearer`
	// (a mobile app, say) pass through untouched, with no cookie, Origin or CSRF check.
	AllowTokens bool

	// RemoveCookieHeaders (default true) removes the Cookie header and the CSRF header from the
	// request sent upstream, so that the API never sees the encrypted cookies.
	RemoveCookieHeaders *bool

	// CorsAllowMethods are the methods allowed in preflight answers.
	// Default: OPTIONS,HEAD,GET,POST,PUT,PATCH,DELETE.
	CorsAllowMethods []string

	// CorsAllowHeaders are the request headers allowed in preflight answers. Default: echo the
	// headers that the preflight asks for.
	CorsAllowHeaders []string

	// CorsExposeHeaders are the response headers the SPA may read. Default: none.
	CorsExposeHeaders []string

	// CorsMaxAge (default 86400) is how many seconds a browser may cache a preflight answer;
	// 0 sends no Access-Control-Max-Age.
	CorsMaxAge *int

	// LogLevel (default info) is the lowest level of the lines this middleware writes: debug,
	// info (one line per rejected request, saying which check failed), warn or error.
	LogLevel string

	// Unknown collects keys that match no field, so that New can name a misspelt key.
	Unknown map[string]interface{} `mapstructure:",remain"`
}

// CreateConfig returns an empty configuration. Defaults are applied in New, because Traefik
// merges a user's lists into a default list instead of replacing it.
func CreateConfig() *Config {
	return &Config{}
}

var defaultAllowMethods = []string{"OPTIONS", "HEAD", "GET", "POST", "PUT", "PATCH", "DELETE"}

// settings is a configuration that checkConfig accepted, with its defaults applied.
type settings struct {
	prefix              string
	cipher              *cookiecrypt.Cipher
	profile             string
	origins             map[string]bool
	cors                *cors.Policy
	exposeHeaders       []string
	allowTokens         bool
	removeCookieHeaders bool
	v2                  bool
	level               logger.Level
}

// checkConfig checks every key, reporting all problems at once in a fixed order.
func checkConfig(cfg *Config) (settings, error) {
	if cfg == nil {
		cfg = CreateConfig()
	}
	errs := config.NewErrors("bffToken", cfg.Unknown)
	errs.CookieNamePrefix("cookieNamePrefix", cfg.CookieNamePrefix)
	s := settings{
		prefix:              cfg.CookieNamePrefix,
		profile:             errs.OneOf("cookieProfile", cfg.CookieProfile, cookies.Profiles),
		cipher:              errs.CookieCipher(cfg.EncryptionKey, cfg.EncryptionKeyFile, cfg.PreviousEncryptionKeys, cfg.PreviousEncryptionKeysFile),
		exposeHeaders:       config.List(cfg.CorsExposeHeaders),
		allowTokens:         cfg.AllowTokens,
		removeCookieHeaders: config.BoolOr(cfg.RemoveCookieHeaders, true),
		v2:                  errs.OneOf("agentApi", cfg.AgentAPI, config.AgentAPIs) == config.AgentAPIV2,
	}
	if allowHeaders := config.List(cfg.CorsAllowHeaders); s.v2 && len(allowHeaders) > 0 && !containsFold(allowHeaders, cookies.VersionHeader) {
		errs.Add("corsAllowHeaders", "must include token-handler-version with agentApi: v2, or the SPA's unsafe requests fail their preflight")
	}
	origins, policy := errs.TrustedWebOrigins(cfg.TrustedWebOrigins, config.BoolOr(cfg.CorsEnabled, true), cors.Options{
		AllowMethods:  config.ListOr(cfg.CorsAllowMethods, defaultAllowMethods),
		AllowHeaders:  config.List(cfg.CorsAllowHeaders),
		ExposeHeaders: s.exposeHeaders,
		MaxAgeSeconds: config.IntOr(cfg.CorsMaxAge, 86400),
	})
	s.origins = origins
	s.cors = policy
	s.level = errs.LogLevel(cfg.LogLevel)
	return s, errs.Err()
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}
