package phantomtoken

import (
	"strconv"
	"strings"
	"time"

	"github.com/tokenhandler/traefik-token-handler/internal/backchannel"
	"github.com/tokenhandler/traefik-token-handler/internal/config"
	"github.com/tokenhandler/traefik-token-handler/internal/jwt"
	"github.com/tokenhandler/traefik-token-handler/internal/logger"
)

// Config is the phantomToken role's configuration, under the `phantomToken` key of the plugin.
// Every value may arrive as a string (labels, files); lists may be given as "a,b".
type Config struct {
	// IntrospectionEndpoint (required) is the authorization server's token introspection URL
	// (RFC 7662), http or https. Tokens are posted to it form-encoded, with
	// `Accept: application/jwt`.
	IntrospectionEndpoint string

	// ClientID (required) is the client that authenticates to the introspection endpoint.
	ClientID string

	// ClientAuthMethod (default client_secret_basic) is how it authenticates:
	// client_secret_basic, client_secret_post or private_key_jwt (the assertion's aud is the
	// introspection endpoint's URL).
	ClientAuthMethod string

	// ClientSecret (required, unless ClientSecretFile is given or clientAuthMethod is
	// private_key_jwt) is that client's secret.
	ClientSecret string

	// ClientSecretFile is the path of a file that holds ClientSecret. Surrounding white space is
	// ignored.
	ClientSecretFile string

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

	// SigningKey turns on minted phantom tokens (contract §6.7): a 200 JSON introspection answer
	// with "active": true and no jwt member (plain RFC 7662, as Ory Hydra and most servers answer)
	// becomes a JWT signed here with this PEM private key (RSA of 2048 bits or more, EC P-256 or
	// P-384), header typ at+jwt, whose claims are the answer's members but active, with iss =
	// mintedIssuer, aud = mintedAudience when set, exp = the answer's exp (now +
	// tokenCacheSeconds without one) and iat now. Default: none (such an answer is a 502).
	SigningKey string

	// SigningKeyFile is the path of a PEM file holding SigningKey.
	SigningKeyFile string

	// SigningAlg is the minted tokens' algorithm: RS256 (default for RSA) or PS256, ES256
	// (P-256), ES384 (P-384).
	SigningAlg string

	// SigningKeyID is the minted tokens' kid. Default: the key's RFC 7638 thumbprint.
	SigningKeyID string

	// PreviousSigningKeys are PEM private keys published in the JWKS but never used to sign, so
	// that tokens minted before a key rotation stay valid until they expire.
	PreviousSigningKeys []string

	// PreviousSigningKeysFile is the path of a file with more previous keys, PEM blocks one after
	// the other.
	PreviousSigningKeysFile string

	// MintedIssuer (required with signingKey) is the iss of minted tokens: the issuer the API is
	// configured to trust for them.
	MintedIssuer string

	// MintedAudience, when set, replaces the aud of minted tokens. Default: the answer's own aud.
	MintedAudience string

	// JwksPath, when set, is the path at which GET answers the public keys of the minted tokens as
	// a JWKS ({"keys":[...]}, Cache-Control: max-age=300), before any token check, so that the API
	// can fetch them through the same router. Needs signingKey.
	JwksPath string

	// TokenCacheSeconds (default 300) is the longest time an introspection result is cached; a
	// shorter `Cache-Control: max-age` from the server, or the JWT's expiry, wins. 0 turns the
	// cache off (concurrent requests with one token still share one introspection call).
	TokenCacheSeconds *int

	// InactiveCacheSeconds (default 10, 0 turns it off, at most 86400) is how long a token the
	// authorization server called inactive is answered 401 without asking again. Inactive tokens
	// are kept apart from active ones, at most maxCacheEntries of them, so that a flood of random
	// tokens costs one introspection each at most once per period and never evicts active
	// entries.
	InactiveCacheSeconds *int

	// MaxConcurrentIntrospections (default 64, at most 10000) bounds the introspection calls in
	// flight for this setup (the instances that share a cache). A miss beyond it waits up to
	// timeoutSeconds for a slot, then answers 503; cache hits never wait.
	MaxConcurrentIntrospections int

	// RequiredScopes are scopes that the JWT's scope claim must all contain, checked on every
	// request, cached or not; a token without them gets 403. Default: none, no scope check.
	RequiredScopes []string

	// Realm (default "api") is the realm of the WWW-Authenticate header on 401 and 403 answers.
	Realm string

	// TimeoutSeconds (default 5) bounds each introspection call, connection included.
	TimeoutSeconds int

	// MaxCacheEntries (default 10000) bounds the cache; the oldest entries are evicted first.
	MaxCacheEntries int

	// InsecureSkipVerify (default false) skips the TLS certificate check of the introspection
	// endpoint. For development only.
	InsecureSkipVerify bool

	// LogLevel (default info): debug, info (one line per rejected request), warn or error (one
	// line per failed introspection).
	LogLevel string

	// Unknown collects keys that match no field, so that New can name a misspelt key.
	Unknown map[string]interface{} `mapstructure:",remain"`
}

// CreateConfig returns an empty configuration; defaults are applied in New.
func CreateConfig() *Config {
	return &Config{}
}

const (
	defaultTokenCacheSeconds = 300
	defaultRealm             = "api"
	defaultTimeoutSeconds    = 5
	defaultMaxCacheEntries   = 10000

	defaultInactiveCacheSeconds        = 10
	defaultMaxConcurrentIntrospections = 64
	maxConcurrentIntrospectionsLimit   = 10000

	// Upper bounds, so that a typo cannot overflow a duration or ask for unbounded memory.
	maxTokenCacheSeconds = 86400
	maxCacheEntriesLimit = 10000000
)

// settings is a configuration that checkConfig accepted, with its defaults applied.
type settings struct {
	endpoint           string
	clientID           string
	clientAuth         *backchannel.ClientAuth
	credentials        string // the client secret or private key, to tell setups apart
	insecureSkipVerify bool
	requiredScopes     []string
	cacheSeconds       int
	inactiveSeconds    int
	maxConcurrent      int
	timeout            time.Duration
	maxEntries         int
	realm              string
	minter             *minter
	minted             string // the minting setup, to tell caches apart ("" without minting)
	jwksPath           string
	level              logger.Level
}

// checkConfig checks every key, reporting all problems at once in a fixed order.
func checkConfig(cfg *Config) (settings, error) {
	if cfg == nil {
		cfg = CreateConfig()
	}
	errs := config.NewErrors("phantomToken", cfg.Unknown)
	s := settings{endpoint: errs.URL("introspectionEndpoint", cfg.IntrospectionEndpoint, true)}
	s.clientID = cfg.ClientID
	s.insecureSkipVerify = cfg.InsecureSkipVerify
	s.requiredScopes = config.List(cfg.RequiredScopes)
	clientAuth, credentials := errs.ClientAuth(config.ClientCredentials{
		ClientID: cfg.ClientID, Method: cfg.ClientAuthMethod,
		Secret: cfg.ClientSecret, SecretFile: cfg.ClientSecretFile,
		PrivateKey: cfg.ClientPrivateKey, PrivateKeyFile: cfg.ClientPrivateKeyFile,
		KeyID: cfg.ClientKeyID, AssertionAlg: cfg.ClientAssertionAlg,
	})
	s.clientAuth = clientAuth
	s.credentials = credentials
	s.cacheSeconds = errs.Range("tokenCacheSeconds", config.IntOr(cfg.TokenCacheSeconds, defaultTokenCacheSeconds), 0, maxTokenCacheSeconds)
	s.inactiveSeconds = errs.Range("inactiveCacheSeconds", config.IntOr(cfg.InactiveCacheSeconds, defaultInactiveCacheSeconds), 0, maxTokenCacheSeconds)
	s.maxConcurrent = errs.Int("maxConcurrentIntrospections", cfg.MaxConcurrentIntrospections, defaultMaxConcurrentIntrospections, 1, maxConcurrentIntrospectionsLimit)
	s.timeout = errs.Timeout("timeoutSeconds", cfg.TimeoutSeconds, defaultTimeoutSeconds)
	s.maxEntries = errs.Int("maxCacheEntries", cfg.MaxCacheEntries, defaultMaxCacheEntries, 1, maxCacheEntriesLimit)
	s.realm = cfg.Realm
	if s.realm == "" {
		s.realm = defaultRealm
	}
	if strconv.Quote(s.realm) != `"`+s.realm+`"` {
		errs.Add("realm", "must be printable text without quotes or backslashes")
	}
	minter, minted := checkMinting(errs, cfg)
	s.minter = minter
	s.minted = minted
	s.jwksPath = strings.TrimSpace(cfg.JwksPath)
	switch {
	case s.jwksPath != "" && !strings.HasPrefix(s.jwksPath, "/"):
		errs.Add("jwksPath", "must be a path starting with /, got %q", s.jwksPath)
	case s.jwksPath != "" && s.minted == "":
		errs.Add("jwksPath", "needs signingKey: there are no minted tokens whose keys it would serve")
	}
	s.level = errs.LogLevel(cfg.LogLevel)
	return s, errs.Err()
}

// checkMinting reads the minted phantom token keys; it returns a nil minter when signingKey is
// not set (and then refuses the keys that need it).
func checkMinting(errs *config.Errors, cfg *Config) (*minter, string) {
	key, pemText := errs.SigningKey(config.SigningKeyKeys{Key: "signingKey", Alg: "signingAlg"},
		cfg.SigningKey, cfg.SigningKeyFile, cfg.SigningAlg, cfg.SigningKeyID, false)
	issuer := strings.TrimSpace(cfg.MintedIssuer)
	previousPEMs := errs.PEMList("previousSigningKeys", cfg.PreviousSigningKeys, cfg.PreviousSigningKeysFile)
	if pemText == "" {
		if issuer != "" || cfg.MintedAudience != "" || len(previousPEMs) > 0 {
			errs.Add("signingKey", "is required with mintedIssuer, mintedAudience or previousSigningKeys")
		}
		return nil, ""
	}
	if key == nil {
		return nil, ""
	}
	errs.Required("mintedIssuer", issuer)
	if key.Kid == "" {
		key.Kid = thumbprint(errs, key)
	}
	var previous []*jwt.SigningKey
	for i, text := range previousPEMs {
		k, err := jwt.ParseSigningKey([]byte(text), "", "")
		if err != nil {
			errs.Add("previousSigningKeys", "key %d %s", i+1, err.Error())
			continue
		}
		k.Kid = thumbprint(errs, k)
		previous = append(previous, k)
	}
	m, err := newMinter(key, previous, issuer, strings.TrimSpace(cfg.MintedAudience))
	if err != nil {
		errs.AddErr("signingKey", err)
		return nil, ""
	}
	// The thumbprint, not the kid, names the key: a key swapped under a configured kid must not
	// find the old key's tokens in the cache.
	return m, thumbprint(errs, key) + "|" + key.Kid + "|" + key.Alg + "|" + issuer + "|" + m.audience
}

func thumbprint(errs *config.Errors, k *jwt.SigningKey) string {
	t, err := jwt.Thumbprint(k.Public())
	errs.AddErr("signingKey", err)
	return t
}
