package oauthagent

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

	// ClientID (required) is the agent's client at the authorization server.
	ClientID string

	// ClientSecret (required, unless ClientSecretFile is given) is that client's secret.
	ClientSecret string

	// ClientSecretFile is the path of a file holding ClientSecret; surrounding white space is
	// ignored.
	ClientSecretFile string

	// ClientAuthMethod (default client_secret_basic) is how the agent authenticates at the token
	// endpoint: client_secret_basic or client_secret_post.
	ClientAuthMethod string

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

	// CookieDomain sets the cookies' Domain attribute; by default there is none (host-only).
	CookieDomain string

	// CookieBasePath (default /) is the Path of the -at, -csrf and -login cookies. The -auth
	// cookie is on <pathPrefix>/refresh and the -id cookie on <pathPrefix>/claims.
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
	clientSecretBasic     = "client_secret_basic"
	clientSecretPost      = "client_secret_post"
)
