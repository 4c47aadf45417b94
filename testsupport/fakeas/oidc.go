package fakeas

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	_ "crypto/sha512" // SHA-384 and SHA-512 for the *384 and *512 algorithms
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Identity of the provider's only user.
const (
	// DemoUserSub is the sub claim of every ID token and userinfo answer of a Provider.
	DemoUserSub = "demouser-sub"
	// TokenLifetime is the lifetime of the Provider's access tokens and ID tokens (expires_in 300).
	TokenLifetime = 300 * time.Second
)

// Endpoint names for Fail, Heal and Calls.
const (
	EndpointDiscovery  = "discovery"   // GET  /.well-known/openid-configuration
	EndpointJWKS       = "jwks"        // GET  /jwks
	EndpointAuthorize  = "authorize"   // GET  /authorize (HTTP only; not the Authorize method)
	EndpointToken      = "token"       // POST /token with any grant_type other than refresh_token
	EndpointRefresh    = "refresh"     // POST /token with grant_type=refresh_token
	EndpointUserinfo   = "userinfo"    // GET or POST /userinfo
	EndpointEndSession = "end_session" // GET or POST /session/end
	// EndpointIntrospection is POST /introspect, Curity-style: HTTP Basic with the
	// IntrospectionClientID and IntrospectionClientSecret (or as IntrospectionClientAuth says);
	// an active access token answers 200 application/jwt with a JWT signed by the current key
	// (sub, scope, client_id, iss, exp, iat, aud "api.example.com"), anything else 204. With
	// IntrospectionJSON: plain RFC 7662 JSON instead.
	EndpointIntrospection = "introspection"
	// EndpointRevocation is POST /revoke (RFC 7009), see RevocationURL.
	EndpointRevocation = "revoke"
	// EndpointPAR is POST /par, the pushed authorization request endpoint (RFC 9126), see PARURL.
	EndpointPAR = "par"
)

var endpointNames = map[string]bool{
	EndpointDiscovery: true, EndpointJWKS: true, EndpointAuthorize: true, EndpointToken: true,
	EndpointRefresh: true, EndpointUserinfo: true, EndpointEndSession: true, EndpointIntrospection: true,
	EndpointRevocation: true, EndpointPAR: true,
}

// ProviderOptions configures a Provider. The zero value is a usable configuration.
type ProviderOptions struct {
	// Alg is the ID token signing algorithm: "RS256" (default), "PS256" or "ES256"; "RS384",
	// "RS512", "PS384", "PS512", "ES384" and "ES512" also work.
	Alg string
	// ClientID and ClientSecret are the only client credentials accepted (default "spa-client",
	// "Password1").
	ClientID, ClientSecret string
	// ClientAuth is the only accepted client authentication at the token, revocation and PAR
	// endpoints: "client_secret_basic" (default), "client_secret_post" or "private_key_jwt"
	// (RFC 7523, OpenID Connect Core §9: a client assertion signed with one of ClientPublicKeys,
	// see the /token endpoint below).
	ClientAuth string
	// ClientPublicKeys are the client's registered public keys for private_key_jwt, bound to no
	// kid (SetClientKeys replaces them, with kids if wanted). *rsa.PublicKey or *ecdsa.PublicKey
	// on P-256 or P-384, for RS256, PS256, ES256 and ES384 (ClientAssertionAlgs).
	ClientPublicKeys []crypto.PublicKey
	// RequirePAR makes discovery say require_pushed_authorization_requests: true and the
	// authorization endpoint (Authorize, GET /authorize) refuse a request that has no
	// request_uri from the PAR endpoint (RFC 9126 §5). The PAR endpoint answers either way.
	RequirePAR bool
	// AuthorizationResponseIss (RFC 9207) adds iss = Issuer() to every authorization response,
	// success and error (Authorize, AuthorizeError, GET /authorize), and makes discovery say
	// authorization_response_iss_parameter_supported: true. See SetNextAuthorizationResponseIss
	// for a mix-up, and TamperDiscovery to advertise one without the other.
	AuthorizationResponseIss bool
	// IntrospectionClientAuth is the client authentication of /introspect, for the client
	// IntrospectionClientID: "client_secret_basic" (default, with IntrospectionClientSecret),
	// "client_secret_post" or "private_key_jwt" with IntrospectionClientPublicKeys (aud
	// IntrospectionURL() or Issuer()).
	IntrospectionClientAuth string
	// IntrospectionClientPublicKeys are the introspection client's keys for private_key_jwt.
	IntrospectionClientPublicKeys []crypto.PublicKey
	// IntrospectionJSON makes /introspect answer plain RFC 7662 JSON, as Ory Hydra does: 200
	// application/json {"active":true,"sub","scope","client_id","iss","aud","exp","iat",
	// "token_type":"Bearer"} with no jwt member and no Cache-Control, and 200 {"active":false}
	// for anything else (instead of application/jwt and 204).
	IntrospectionJSON bool
	// RedirectURI is the only accepted redirect_uri (default "https://www.example.com/").
	RedirectURI string
	// KeepRefreshTokens turns refresh token rotation off: the refresh_token grant then answers
	// without a refresh_token and the one used stays valid. By default refresh tokens rotate:
	// each is accepted once, like Ory Hydra, Auth0, Okta or oidc-provider with
	// rotateRefreshToken, and presenting it again is 400 invalid_grant (see RefreshReuses).
	KeepRefreshTokens bool
	// RevokeOnRefreshReuse makes a rotated refresh token presented again revoke its whole login
	// (every refresh and access token issued from the same authorization code, including those
	// the refresh that rotated it returned, even while that refresh is still being answered), as
	// Ory Hydra and oidc-provider do on refresh token reuse. The reuse itself is 400 invalid_grant
	// either way.
	RevokeOnRefreshReuse bool
	// Revocation advertises RevocationURL in discovery as revocation_endpoint. The endpoint
	// itself answers whatever this says, so a test can also configure it explicitly with
	// discovery silent about it.
	Revocation bool
	// PadTokens makes every access token, refresh token and ID token issued at least PadTokens
	// bytes long (0: their natural sizes, 43 characters for access and refresh tokens, about
	// 800 for an RS256 ID token). See SetTokenSizes, which changes it while running and per kind.
	PadTokens int
	// TLS serves HTTPS with httptest's certificate; use Server.Client() or Server.Certificate().
	TLS bool
}

// Fault replaces an endpoint's answer (see Provider.Fail). Delay applies first, then Down, then
// Status or Garbage; a Fault with only a Delay answers normally after the delay.
type Fault struct {
	// Status is answered, with Body and ContentType, instead of the normal answer.
	Status int
	// Body is the body for Status or Garbage.
	Body string
	// ContentType defaults to text/html with Garbage and to application/json otherwise.
	ContentType string
	// Garbage answers Body (default "<html>garbage</html>") with status 200 (or Status if set)
	// and ContentType (default text/html).
	Garbage bool
	// Delay is waited before answering; if the client gives up first, nothing is answered.
	Delay time.Duration
	// Down hijacks and closes the connection without answering. Go's client retries an
	// idempotent request (GET) once when a reused connection closes, so Calls may count two.
	Down bool
}

// Provider is an in-process OpenID Connect provider for tests, with one confidential client and
// one user, which signs real ID tokens and can be told to fail or to misbehave on each call.
//
// Endpoints, relative to Issuer():
//
//	/.well-known/openid-configuration  discovery: issuer (see SetDiscoveryIssuer), the endpoints
//	                  below (pushed_authorization_request_endpoint always; revocation_endpoint
//	                  with Revocation), response_types_supported ["code"],
//	                  subject_types_supported ["public"], id_token_signing_alg_values_supported
//	                  [Alg], code_challenge_methods_supported ["S256"],
//	                  token_endpoint_auth_methods_supported [ClientAuth] (with private_key_jwt
//	                  also token_endpoint_auth_signing_alg_values_supported ClientAssertionAlgs),
//	                  require_pushed_authorization_requests: true with RequirePAR,
//	                  authorization_response_iss_parameter_supported: true with
//	                  AuthorizationResponseIss, ...
//	/authorize        GET: the same checks as the Authorize method (request_uri and RequirePAR
//	                  included), then 302 to the callback (400 text/plain when the request is
//	                  invalid). Tests normally call Authorize. With AuthorizationResponseIss the
//	                  callback carries iss (RFC 9207), as do AuthorizeError's.
//	/par              RFC 9126 pushed authorization requests (PARURL, EndpointPAR): POST form with
//	                  the token endpoint's client authentication and checks, and the
//	                  authorization parameters (client_id optional), checked as Authorize does
//	                  (else 400 invalid_request; a request_uri among them too). 201
//	                  {"request_uri":"urn:ietf:params:oauth:request_uri:<random>",
//	                  "expires_in":60} with Cache-Control: no-store; the authorization request
//	                  then carries only client_id and that request_uri, which works once (see
//	                  LastPushedAuthorizationRequest, ExpirePushedRequests).
//	/token            POST form. Client authentication is exactly ClientAuth: client_secret_basic
//	                  is HTTP Basic with the form-url-encoded id and secret, and no client_secret
//	                  or client_assertion in the body (a client_id in the body must match);
//	                  client_secret_post is client_id and client_secret in the body and no
//	                  Authorization header; private_key_jwt (RFC 7523 §2.2, OpenID Connect Core
//	                  §9) is client_assertion_type
//	                  urn:ietf:params:oauth:client-assertion-type:jwt-bearer and a
//	                  client_assertion, with no Authorization header and no client_secret (a
//	                  client_id must match): a JWS with alg RS256, PS256, ES256 or ES384 that
//	                  verifies with a registered key (ClientPublicKeys, SetClientKeys; the kid is
//	                  optional), iss = sub = ClientID, aud (a string, or an array containing
//	                  one) = the URL of the endpoint called or the issuer, a numeric exp in the
//	                  future and at most 5 minutes ahead, iat and nbf (if any) not in the future,
//	                  and a jti never seen before by any endpoint (see LastClientAssertion). A
//	                  bad client gets 401 {"error":"invalid_client","error_description":<why>}
//	                  (LastClientAuthError). A parameter given twice or a body that is not
//	                  form-urlencoded gets 400 invalid_request.
//	                  grant_type=authorization_code needs a code from Authorize (each code works
//	                  once: any attempt with it by an authenticated client uses it up), the same
//	                  redirect_uri and a code_verifier whose S256 matches the code_challenge;
//	                  otherwise 400 invalid_grant.
//	                  grant_type=refresh_token needs a live refresh token (else 400 invalid_grant)
//	                  and rotates it unless KeepRefreshTokens: each refresh token works once
//	                  (RefreshGrants, RefreshReuses, RevokeOnRefreshReuse).
//	                  Success is 200 {"access_token","token_type":"Bearer","expires_in":300,
//	                  "refresh_token","id_token","scope"} with opaque random tokens (43
//	                  characters, or longer with PadTokens or SetTokenSizes) and
//	                  Cache-Control: no-store. Other grant types get 400 unsupported_grant_type.
//	/userinfo         GET or POST with Authorization: Bearer <access token>: 200 {"sub":
//	                  "demouser-sub","given_name":"Demo","family_name":"User","preferred_username":
//	                  "demouser","name":"Demo User"}; a missing, unknown, expired (300 s) or
//	                  ExpireAccessTokens'd token gets 401 {"error":"invalid_token"} with
//	                  WWW-Authenticate: Bearer error="invalid_token".
//	/jwks             the published public keys, current key first, each with kid, alg and
//	                  use "sig" (RSA n and e; EC crv, x and y).
//	/session/end      GET or POST: records the query (or form) for LastEndSession, answers 200
//	                  text/html "signed out".
//	/revoke           RFC 7009 revocation (RevocationURL; in discovery with Revocation): POST
//	                  form with the token endpoint's client authentication and checks (401
//	                  invalid_client, 400 invalid_request, also for a missing token), token and
//	                  an optional token_type_hint; records the request (Revocations) and revokes
//	                  that token alone, a refresh token or an access token alike; 200 with an
//	                  empty body, for an unknown token too.
//	/introspect       Curity-style introspection for phantomToken (see EndpointIntrospection),
//	                  or plain RFC 7662 JSON with IntrospectionJSON; client authentication as
//	                  IntrospectionClientAuth says (the same rules as /token, for the client
//	                  IntrospectionClientID, aud IntrospectionURL() or the issuer).
//
// ID tokens carry iss (Issuer()), sub (DemoUserSub), aud (ClientID, as a string), exp (now+300),
// iat (now), auth_time (the time of Authorize), nonce (from the authorization request; absent in
// tokens from the refresh_token grant), sid (one per login), at_hash, and with PadTokens or
// SetTokenSizes a "pad" claim; the header has alg, kid and typ "JWT". TamperIDToken,
// CorruptSignatures, SignWithUnpublishedKey, RotateKey and RetireOldKeys change what is issued;
// Fail makes an endpoint fail. Every method is safe for concurrent use.
type Provider struct {
	Server *httptest.Server
	opts   ProviderOptions

	mu              sync.Mutex
	keySeq          int
	keys            []*signingKey // published, current first
	unpublished     *signingKey
	useUnpublished  bool
	corrupt         bool
	tamperIDToken   func(claims, header map[string]interface{})
	tamperDiscovery func(doc map[string]interface{})
	tamperToken     func(grantType string, resp map[string]interface{})
	discoveryIssuer string
	faults          map[string]Fault
	calls           map[string]int
	codes           map[string]*authorization
	accessTokens    map[string]accessToken
	refreshTokens   map[string]*session
	usedRefresh     map[string]*session // rotated refresh tokens
	refreshGrants   int
	refreshReuses   int
	revocations     []Revocation
	sizes           TokenSizes
	lastAuthz       url.Values
	lastTokenForm   url.Values
	lastTokenHeader http.Header
	lastTokenResp   []byte // JSON
	lastEndSession  url.Values
	serverTime      time.Duration
	introspections  map[string]int // access token -> introspection calls
	client          *clientAuth    // the OAuth client (ClientAuth)
	introspector    *clientAuth    // the introspection client (IntrospectionClientAuth)
	pushed          map[string]*pushedRequest
	lastPAR         url.Values
	lastPARHeader   http.Header
	nextIss         *string // SetNextAuthorizationResponseIss
}

// pushedRequest is an authorization request pushed to the PAR endpoint.
type pushedRequest struct {
	params url.Values
	expiry time.Time
}

// PARLifetime is the expires_in of the PAR endpoint's request_uri values.
const PARLifetime = 60 * time.Second

// PARRequestURIPrefix starts every request_uri of the PAR endpoint (RFC 9126 §2.2).
const PARRequestURIPrefix = "urn:ietf:params:oauth:request_uri:"

// signingKey is one of the provider's key pairs.
type signingKey struct {
	kid    string
	alg    string
	signer crypto.Signer
}

// authorization is what Authorize recorded against a code.
type authorization struct {
	redirectURI string
	challenge   string
	nonce       string
	session     *session
}

// session is one login: what refresh tokens carry over.
type session struct {
	sid      string
	scope    string
	authTime int64
	revoked  bool // by RevokeOnRefreshReuse: no token of this login is valid any more
}

// accessToken is a live access token.
type accessToken struct {
	expiry  time.Time
	session *session
}

// TokenSizes are minimum token sizes in bytes; 0 (or a size below the natural one) leaves a
// token as it is. Access and refresh tokens are random base64url strings: a size above 43 makes
// them exactly that long. An ID token gets a "pad" claim (a run of 'A', added after
// TamperIDToken's changes and before signing) long enough that the signed compact JWT is at
// least IDToken bytes and at most 3 more: it stays a valid signed JWT.
type TokenSizes struct {
	AccessToken, RefreshToken, IDToken int
}

// Revocation is one RFC 7009 revocation request that the provider accepted (its client
// authenticated, a token present), in the order received.
type Revocation struct {
	// TokenTypeHint is the token_type_hint sent ("" without one). It is recorded as sent and
	// ignored for the lookup, as RFC 7009 §2.1 allows.
	TokenTypeHint string
	// Token is the token sent.
	Token string
	// Kind is what the token was when the request arrived: "refresh_token" or "access_token"
	// for a live token of this provider (now revoked), "" for anything else (unknown, used,
	// expired, or revoked already).
	Kind string
}

// NewProvider starts a Provider; it stops when the test ends. It panics on an unsupported Alg or
// ClientAuth.
func NewProvider(t interface{ Cleanup(func()) }, opts ProviderOptions) *Provider {
	if opts.Alg == "" {
		opts.Alg = "RS256"
	}
	if opts.ClientID == "" {
		opts.ClientID = "spa-client"
	}
	if opts.ClientSecret == "" {
		opts.ClientSecret = "Password1"
	}
	if opts.ClientAuth == "" {
		opts.ClientAuth = "client_secret_basic"
	}
	if opts.RedirectURI == "" {
		opts.RedirectURI = "https://www.example.com/"
	}
	if _, ok := algorithms[opts.Alg]; !ok {
		panic("fakeas: unsupported Alg " + opts.Alg)
	}
	if opts.IntrospectionClientAuth == "" {
		opts.IntrospectionClientAuth = ClientSecretBasic
	}
	for _, m := range []string{opts.ClientAuth, opts.IntrospectionClientAuth} {
		if m != ClientSecretBasic && m != ClientSecretPost && m != PrivateKeyJWT {
			panic("fakeas: unsupported client authentication " + m)
		}
	}
	p := &Provider{
		opts:           opts,
		faults:         map[string]Fault{},
		calls:          map[string]int{},
		codes:          map[string]*authorization{},
		accessTokens:   map[string]accessToken{},
		refreshTokens:  map[string]*session{},
		usedRefresh:    map[string]*session{},
		introspections: map[string]int{},
		client:         newClientAuth(opts.ClientAuth, opts.ClientID, opts.ClientSecret, keysWithoutIDs(opts.ClientPublicKeys)),
		introspector:   newClientAuth(opts.IntrospectionClientAuth, IntrospectionClientID, IntrospectionClientSecret, keysWithoutIDs(opts.IntrospectionClientPublicKeys)),
		pushed:         map[string]*pushedRequest{},
		sizes:          TokenSizes{AccessToken: opts.PadTokens, RefreshToken: opts.PadTokens, IDToken: opts.PadTokens},
	}
	p.keys = []*signingKey{p.newKey("key")}
	if opts.TLS {
		p.Server = httptest.NewTLSServer(http.HandlerFunc(p.serve))
	} else {
		p.Server = httptest.NewServer(http.HandlerFunc(p.serve))
	}
	t.Cleanup(p.Server.Close)
	return p
}

// Issuer is the issuer identifier, the server's URL.
func (p *Provider) Issuer() string { return p.Server.URL }

// DiscoveryURL is Issuer() + "/.well-known/openid-configuration".
func (p *Provider) DiscoveryURL() string { return p.Issuer() + "/.well-known/openid-configuration" }

// AuthorizationURL is the authorization endpoint, Issuer() + "/authorize".
func (p *Provider) AuthorizationURL() string { return p.Issuer() + "/authorize" }

// TokenURL is the token endpoint, Issuer() + "/token".
func (p *Provider) TokenURL() string { return p.Issuer() + "/token" }

// UserinfoURL is the userinfo endpoint, Issuer() + "/userinfo".
func (p *Provider) UserinfoURL() string { return p.Issuer() + "/userinfo" }

// JWKSURL is the jwks_uri, Issuer() + "/jwks".
func (p *Provider) JWKSURL() string { return p.Issuer() + "/jwks" }

// EndSessionURL is the end_session_endpoint, Issuer() + "/session/end".
func (p *Provider) EndSessionURL() string { return p.Issuer() + "/session/end" }

// RevocationURL is the RFC 7009 revocation endpoint, Issuer() + "/revoke". It always answers;
// discovery lists it as revocation_endpoint only with ProviderOptions.Revocation.
func (p *Provider) RevocationURL() string { return p.Issuer() + "/revoke" }

// PARURL is the pushed authorization request endpoint (RFC 9126), Issuer() + "/par". Discovery
// always lists it as pushed_authorization_request_endpoint.
func (p *Provider) PARURL() string { return p.Issuer() + "/par" }

// Options returns the options with their defaults filled in.
func (p *Provider) Options() ProviderOptions { return p.opts }

// newKey generates a key pair for the configured algorithm. Callers hold p.mu or own p.
func (p *Provider) newKey(prefix string) *signingKey {
	p.keySeq++
	signer, err := generateKey(p.opts.Alg)
	if err != nil {
		panic("fakeas: " + err.Error())
	}
	return &signingKey{kid: fmt.Sprintf("%s-%d-%s", prefix, p.keySeq, randomString(4)), alg: p.opts.Alg, signer: signer}
}

// ---- Controls ----

// Fail makes the named endpoint (Endpoint* constants: "discovery", "jwks", "authorize", "token",
// "refresh", "userinfo", "end_session", "introspection", "revoke", "par") answer with f until
// Heal.
// "token" is the token endpoint for the authorization_code grant, "refresh" for the
// refresh_token grant. It panics on an unknown name.
func (p *Provider) Fail(endpoint string, f Fault) {
	mustEndpoint(endpoint)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults[endpoint] = f
}

// Heal removes the endpoint's Fault.
func (p *Provider) Heal(endpoint string) {
	mustEndpoint(endpoint)
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.faults, endpoint)
}

// Calls returns how many HTTP requests the named endpoint received, faulted ones included. It
// panics on an unknown name.
func (p *Provider) Calls(endpoint string) int {
	mustEndpoint(endpoint)
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls[endpoint]
}

// TamperIDToken applies f to the claims and header of every ID token issued from now on, until
// called with nil. f gets fresh maps and may change or delete anything: aud, exp, nonce, iss, kid,
// alg... The signature is then computed over the tampered token: with header alg "none" the
// signature is empty; with another algorithm that the signing key can do (RS256 → PS256 on an
// RSA key) the token is really signed with it; otherwise (HS256, an EC algorithm on an RSA key,
// a missing alg) it is signed with the key's own algorithm, so it will not verify.
func (p *Provider) TamperIDToken(f func(claims map[string]interface{}, header map[string]interface{})) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.tamperIDToken = f
}

// TamperTokenResponse applies f to every successful token endpoint answer from now on (after the
// tokens are registered, so deleting refresh_token only hides it), until called with nil.
// grantType is "authorization_code" or "refresh_token".
func (p *Provider) TamperTokenResponse(f func(grantType string, resp map[string]interface{})) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.tamperToken = f
}

// TamperDiscovery applies f to the discovery document served from now on (for example to delete
// jwks_uri or point token_endpoint elsewhere), until called with nil.
func (p *Provider) TamperDiscovery(f func(doc map[string]interface{})) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.tamperDiscovery = f
}

// SetDiscoveryIssuer makes discovery advertise iss as its issuer; "" restores Issuer(). ID tokens
// keep iss = Issuer().
func (p *Provider) SetDiscoveryIssuer(iss string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.discoveryIssuer = iss
}

// CorruptSignatures flips a bit in the middle of the signature of the ID tokens issued while on.
func (p *Provider) CorruptSignatures(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.corrupt = on
}

// SignWithUnpublishedKey signs the ID tokens issued while on with a key of the configured
// algorithm whose kid is never in the JWKS (the same key each time).
func (p *Provider) SignWithUnpublishedKey(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if on && p.unpublished == nil {
		p.unpublished = p.newKey("unpublished")
	}
	p.useUnpublished = on
}

// RotateKey generates a new signing key with a new kid. ID tokens are signed with it from now on,
// and the JWKS publishes it first, followed by every key published before (the previous keys are
// kept until RetireOldKeys). It returns the new kid.
func (p *Provider) RotateKey() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	k := p.newKey("key")
	p.keys = append([]*signingKey{k}, p.keys...)
	return k.kid
}

// RetireOldKeys makes the JWKS publish only the current signing key.
func (p *Provider) RetireOldKeys() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.keys = p.keys[:1]
}

// KeyIDs returns the kids the JWKS publishes, current key first.
func (p *Provider) KeyIDs() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	kids := make([]string, len(p.keys))
	for i, k := range p.keys {
		kids[i] = k.kid
	}
	return kids
}

// ExpireAccessTokens makes every access token issued so far invalid at userinfo.
func (p *Provider) ExpireAccessTokens() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.accessTokens = map[string]accessToken{}
}

// SetTokenSizes sets the minimum sizes of the tokens issued from now on (ProviderOptions.PadTokens
// sets all three at start); TokenSizes{} restores the natural sizes.
func (p *Provider) SetTokenSizes(s TokenSizes) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sizes = s
}

// Revocations returns the revocation requests accepted so far, oldest first (requests answered
// by a Fault, or refused for their client authentication or form, are not in it; Calls("revoke")
// counts every request).
func (p *Provider) Revocations() []Revocation {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Revocation(nil), p.revocations...)
}

// RefreshGrants returns how many refresh_token grants succeeded (issued tokens). Calls("refresh")
// counts every request with grant_type=refresh_token, faulted and refused ones included.
func (p *Provider) RefreshGrants() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.refreshGrants
}

// RefreshReuses returns how many refresh_token grant requests by the authenticated client
// presented a refresh token that had already been rotated out (each answered 400 invalid_grant).
// A client that copes with rotation never does this.
func (p *Provider) RefreshReuses() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.refreshReuses
}

// RevokeRefreshTokens makes every refresh token issued so far invalid: refresh gets 400
// invalid_grant.
func (p *Provider) RevokeRefreshTokens() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.refreshTokens = map[string]*session{}
}

// LastAuthorizationRequest returns the query of the last authorization request given to Authorize,
// AuthorizeError or GET /authorize (valid or not), or nil. With PAR that is client_id and
// request_uri: LastPushedAuthorizationRequest has the pushed parameters.
func (p *Provider) LastAuthorizationRequest() url.Values {
	p.mu.Lock()
	defer p.mu.Unlock()
	return cloneValues(p.lastAuthz)
}

// LastTokenRequest returns the decoded form and the headers of the last token endpoint request
// (of either grant, faulted or rejected ones included), or nils.
func (p *Provider) LastTokenRequest() (form url.Values, header http.Header) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return cloneValues(p.lastTokenForm), p.lastTokenHeader.Clone()
}

// LastTokenResponse returns the last successful token endpoint answer (after
// TamperTokenResponse) decoded from JSON as a client would (numbers are float64), or nil: its
// access_token, refresh_token and id_token are what the agent should have stored.
func (p *Provider) LastTokenResponse() map[string]interface{} {
	p.mu.Lock()
	body := p.lastTokenResp
	p.mu.Unlock()
	var resp map[string]interface{}
	if body != nil {
		_ = json.Unmarshal(body, &resp)
	}
	return resp
}

// SetClientKeys replaces the client's registered private_key_jwt keys (ProviderOptions.
// ClientPublicKeys at start), for key rotation or kid tests. The jti values already seen stay
// refused.
func (p *Provider) SetClientKeys(keys ...ClientKey) {
	p.client.setKeys(keys)
}

// LastClientAssertion returns the JWS header and claims of the last private_key_jwt client
// assertion that the token, revocation or PAR endpoint received and could decode, accepted or
// not (nils before the first). Numbers are float64.
func (p *Provider) LastClientAssertion() (header, claims map[string]interface{}) {
	return p.client.lastAssertion()
}

// LastClientAuthError returns why the last client authentication at the token, revocation or
// PAR endpoint failed ("" when it succeeded, or before the first): the error_description of the
// 401 invalid_client answer, for a test to say why a client was refused.
func (p *Provider) LastClientAuthError() string {
	return p.client.lastError()
}

// LastIntrospectionClientAssertion is LastClientAssertion for /introspect (with
// IntrospectionClientAuth "private_key_jwt").
func (p *Provider) LastIntrospectionClientAssertion() (header, claims map[string]interface{}) {
	return p.introspector.lastAssertion()
}

// LastPushedAuthorizationRequest returns the decoded form and the headers of the last PAR
// endpoint request (faulted or rejected ones included), or nils.
func (p *Provider) LastPushedAuthorizationRequest() (form url.Values, header http.Header) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return cloneValues(p.lastPAR), p.lastPARHeader.Clone()
}

// ExpirePushedRequests makes every request_uri issued so far by the PAR endpoint expired: an
// authorization request with one is refused.
func (p *Provider) ExpirePushedRequests() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, pr := range p.pushed {
		pr.expiry = time.Now().Add(-time.Second)
	}
}

// SetNextAuthorizationResponseIss makes the next authorization response (of Authorize,
// AuthorizeError or GET /authorize; a refused request does not count) carry iss instead of what
// AuthorizationResponseIss says: another issuer for a mix-up attack (RFC 9207), or "" for a
// response without iss. Later responses are normal again.
func (p *Provider) SetNextAuthorizationResponseIss(iss string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.nextIss = &iss
}

// LastEndSession returns the query (or POST form) of the last /session/end request, or nil.
func (p *Provider) LastEndSession() url.Values {
	p.mu.Lock()
	defer p.mu.Unlock()
	return cloneValues(p.lastEndSession)
}

// ---- Front channel ----

// Authorize plays the browser and a successful login for authorizationRequestURL (only its query
// is read, so the agent may be configured with any authorization endpoint). It checks that no
// parameter appears twice, client_id, redirect_uri (exactly), response_type=code, a scope
// including openid, code_challenge_method=S256 with a well-formed code_challenge, and that state
// and nonce are present; it then records them against a new one-time code and returns
// redirect_uri with code and state (and iss, see AuthorizationResponseIss) appended to its query.
//
// A request with a request_uri (RFC 9126 §4) must carry client_id and request_uri and nothing
// else; the request_uri must come from the PAR endpoint, unused (each works once, whatever the
// outcome) and unexpired; the pushed parameters are then used (they were checked when pushed).
// With RequirePAR a request without request_uri is refused.
func (p *Provider) Authorize(authorizationRequestURL string) (callbackURL string, err error) {
	q, err := p.parseAuthorizationRequest(authorizationRequestURL)
	if err != nil {
		return "", err
	}
	if q, err = p.resolveAuthorizationRequest(q, p.opts.RequirePAR); err != nil {
		return "", err
	}
	return p.authorize(q)
}

// AuthorizeError plays an authorization server that refuses the request: after checking
// client_id and redirect_uri (an authorization server redirects errors only to a valid client's
// redirect_uri) it returns redirect_uri with error=errCode, error_description (if not empty),
// state (if the request had one) and iss (see AuthorizationResponseIss) appended to its query.
// A request_uri is resolved as Authorize does (and used up); RequirePAR is not enforced.
func (p *Provider) AuthorizeError(authorizationRequestURL, errCode, description string) (callbackURL string, err error) {
	if errCode == "" {
		return "", errors.New("fakeas: AuthorizeError needs an error code")
	}
	q, err := p.parseAuthorizationRequest(authorizationRequestURL)
	if err != nil {
		return "", err
	}
	if q, err = p.resolveAuthorizationRequest(q, false); err != nil {
		return "", err
	}
	if err := p.checkClient(q); err != nil {
		return "", err
	}
	resp := url.Values{"error": {errCode}}
	if description != "" {
		resp.Set("error_description", description)
	}
	if state := q.Get("state"); state != "" {
		resp.Set("state", state)
	}
	p.addResponseIss(resp)
	return appendQuery(p.opts.RedirectURI, resp)
}

func (p *Provider) parseAuthorizationRequest(rawURL string) (url.Values, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("fakeas: authorization request URL: %w", err)
	}
	q, err := url.ParseQuery(u.RawQuery)
	p.mu.Lock()
	p.lastAuthz = q
	p.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("fakeas: authorization request query: %w", err)
	}
	return q, nil
}

// resolveAuthorizationRequest replaces a request by reference (client_id and request_uri) with
// the pushed parameters, using the request_uri up. A request by value passes unless requirePAR.
func (p *Provider) resolveAuthorizationRequest(q url.Values, requirePAR bool) (url.Values, error) {
	if _, ok := q["request_uri"]; !ok {
		if requirePAR {
			return nil, errors.New("fakeas: the provider requires pushed authorization requests (RequirePAR): no request_uri")
		}
		return q, nil
	}
	for k, v := range q {
		if len(v) > 1 {
			return nil, fmt.Errorf("fakeas: authorization request has %d %s parameters", len(v), k)
		}
		if k != "client_id" && k != "request_uri" {
			return nil, fmt.Errorf("fakeas: authorization request with a request_uri has another parameter, %s", k)
		}
	}
	if got := q.Get("client_id"); got != p.opts.ClientID {
		return nil, fmt.Errorf("fakeas: client_id %q, want %q", got, p.opts.ClientID)
	}
	uri := q.Get("request_uri")
	p.mu.Lock()
	pr := p.pushed[uri]
	delete(p.pushed, uri)
	p.mu.Unlock()
	switch {
	case pr == nil:
		return nil, fmt.Errorf("fakeas: request_uri %q unknown or used", uri)
	case !time.Now().Before(pr.expiry):
		return nil, fmt.Errorf("fakeas: request_uri %q expired", uri)
	}
	return cloneValues(pr.params), nil
}

func (p *Provider) checkClient(q url.Values) error {
	for k, v := range q {
		if len(v) > 1 {
			return fmt.Errorf("fakeas: authorization request has %d %s parameters", len(v), k)
		}
	}
	if got := q.Get("client_id"); got != p.opts.ClientID {
		return fmt.Errorf("fakeas: client_id %q, want %q", got, p.opts.ClientID)
	}
	if got := q.Get("redirect_uri"); got != p.opts.RedirectURI {
		return fmt.Errorf("fakeas: redirect_uri %q, want %q", got, p.opts.RedirectURI)
	}
	return nil
}

// checkAuthorizationRequest checks the parameters of an authorization request by value (or of
// a pushed one).
func (p *Provider) checkAuthorizationRequest(q url.Values) error {
	if err := p.checkClient(q); err != nil {
		return err
	}
	if got := q.Get("response_type"); got != "code" {
		return fmt.Errorf("fakeas: response_type %q, want code", got)
	}
	if !hasScope(q.Get("scope"), "openid") {
		return fmt.Errorf("fakeas: scope %q lacks openid", q.Get("scope"))
	}
	if got := q.Get("code_challenge_method"); got != "S256" {
		return fmt.Errorf("fakeas: code_challenge_method %q, want S256", got)
	}
	challenge := q.Get("code_challenge")
	if b, err := base64.RawURLEncoding.DecodeString(challenge); err != nil || len(b) != sha256.Size {
		return fmt.Errorf("fakeas: code_challenge %q is not a base64url SHA-256", challenge)
	}
	if q.Get("state") == "" {
		return errors.New("fakeas: no state")
	}
	if q.Get("nonce") == "" {
		return errors.New("fakeas: no nonce")
	}
	return nil
}

func (p *Provider) authorize(q url.Values) (string, error) {
	if err := p.checkAuthorizationRequest(q); err != nil {
		return "", err
	}
	code := randomString(32)
	a := &authorization{
		redirectURI: q.Get("redirect_uri"),
		challenge:   q.Get("code_challenge"),
		nonce:       q.Get("nonce"),
		session:     &session{sid: randomString(16), scope: q.Get("scope"), authTime: time.Now().Unix()},
	}
	p.mu.Lock()
	p.codes[code] = a
	p.mu.Unlock()
	resp := url.Values{"code": {code}, "state": {q.Get("state")}}
	p.addResponseIss(resp)
	return appendQuery(a.redirectURI, resp)
}

// addResponseIss adds the RFC 9207 iss to an authorization response, as
// AuthorizationResponseIss and SetNextAuthorizationResponseIss say.
func (p *Provider) addResponseIss(resp url.Values) {
	p.mu.Lock()
	next := p.nextIss
	p.nextIss = nil
	p.mu.Unlock()
	switch {
	case next != nil && *next != "":
		resp.Set("iss", *next)
	case next == nil && p.opts.AuthorizationResponseIss:
		resp.Set("iss", p.Issuer())
	}
}

// appendQuery adds params to the query of rawURL, keeping the query it has.
func appendQuery(rawURL string, params url.Values) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", fmt.Errorf("fakeas: redirect_uri: %w", err)
	}
	if u.RawQuery != "" {
		u.RawQuery += "&" + params.Encode()
	} else {
		u.RawQuery = params.Encode()
	}
	return u.String(), nil
}

// ---- HTTP ----

func (p *Provider) serve(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	defer func() {
		p.mu.Lock()
		p.serverTime += time.Since(start)
		p.mu.Unlock()
	}()
	switch r.URL.Path {
	case "/.well-known/openid-configuration":
		p.endpoint(EndpointDiscovery, w, r, p.serveDiscovery)
	case "/jwks":
		p.endpoint(EndpointJWKS, w, r, p.serveJWKS)
	case "/authorize":
		p.endpoint(EndpointAuthorize, w, r, p.serveAuthorize)
	case "/token":
		p.serveToken(w, r)
	case "/userinfo":
		p.endpoint(EndpointUserinfo, w, r, p.serveUserinfo)
	case "/session/end":
		p.endpoint(EndpointEndSession, w, r, p.serveEndSession)
	case "/introspect":
		p.endpoint(EndpointIntrospection, w, r, p.serveIntrospection)
	case "/revoke":
		p.endpoint(EndpointRevocation, w, r, p.serveRevocation)
	case "/par":
		p.servePAR(w, r)
	default:
		http.NotFound(w, r)
	}
}

// endpoint counts the call, applies the endpoint's fault and otherwise calls h.
func (p *Provider) endpoint(name string, w http.ResponseWriter, r *http.Request, h http.HandlerFunc) {
	p.mu.Lock()
	p.calls[name]++
	p.mu.Unlock()
	if p.applyFault(name, w, r) {
		return
	}
	h(w, r)
}

// applyFault applies the endpoint's fault and reports whether it answered (or must not answer).
func (p *Provider) applyFault(name string, w http.ResponseWriter, r *http.Request) bool {
	p.mu.Lock()
	f, ok := p.faults[name]
	p.mu.Unlock()
	if !ok {
		return false
	}
	if f.Delay > 0 {
		// The server notices a client that gives up only once the body is read: read it now
		// (the handler reads the copy after the delay).
		if r.Body != nil && r.Body != http.NoBody {
			body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		timer := time.NewTimer(f.Delay)
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-r.Context().Done():
			return true
		}
	}
	if f.Down {
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return true
			}
		}
		panic(http.ErrAbortHandler) // closes the connection too, without logging
	}
	status := f.Status
	if status == 0 && f.Garbage {
		status = http.StatusOK
	}
	if status == 0 {
		return false
	}
	body, contentType := f.Body, f.ContentType
	if body == "" && f.Garbage {
		body = "<html>garbage</html>"
	}
	if contentType == "" {
		contentType = "application/json"
		if f.Garbage {
			contentType = "text/html"
		}
	}
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	fmt.Fprint(w, body)
	return true
}

func (p *Provider) serveDiscovery(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		methodNotAllowed(w, "GET, HEAD")
		return
	}
	p.mu.Lock()
	issuer, tamper := p.discoveryIssuer, p.tamperDiscovery
	p.mu.Unlock()
	if issuer == "" {
		issuer = p.Issuer()
	}
	doc := map[string]interface{}{
		"issuer":                                issuer,
		"authorization_endpoint":                p.AuthorizationURL(),
		"token_endpoint":                        p.TokenURL(),
		"userinfo_endpoint":                     p.UserinfoURL(),
		"jwks_uri":                              p.JWKSURL(),
		"end_session_endpoint":                  p.EndSessionURL(),
		"scopes_supported":                      []string{"openid", "profile"},
		"response_types_supported":              []string{"code"},
		"response_modes_supported":              []string{"query"},
		"grant_types_supported":                 []string{"authorization_code", "refresh_token"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{p.opts.Alg},
		"code_challenge_methods_supported":      []string{"S256"},
		"token_endpoint_auth_methods_supported": []string{p.opts.ClientAuth},
		"pushed_authorization_request_endpoint": p.PARURL(),
		"claims_supported":                      []string{"sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "sid", "name", "given_name", "family_name", "preferred_username"},
	}
	if p.opts.ClientAuth == PrivateKeyJWT {
		doc["token_endpoint_auth_signing_alg_values_supported"] = ClientAssertionAlgs
	}
	if p.opts.Revocation {
		doc["revocation_endpoint"] = p.RevocationURL()
		doc["revocation_endpoint_auth_methods_supported"] = []string{p.opts.ClientAuth}
		if p.opts.ClientAuth == PrivateKeyJWT {
			doc["revocation_endpoint_auth_signing_alg_values_supported"] = ClientAssertionAlgs
		}
	}
	if p.opts.RequirePAR {
		doc["require_pushed_authorization_requests"] = true
	}
	if p.opts.AuthorizationResponseIss {
		doc["authorization_response_iss_parameter_supported"] = true
	}
	if tamper != nil {
		tamper(doc)
	}
	writeJSON(w, http.StatusOK, doc)
}

func (p *Provider) serveJWKS(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		methodNotAllowed(w, "GET, HEAD")
		return
	}
	p.mu.Lock()
	keys := append([]*signingKey(nil), p.keys...)
	p.mu.Unlock()
	jwks := make([]map[string]interface{}, 0, len(keys))
	for _, k := range keys {
		jwk, err := publicJWK(k)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		jwks = append(jwks, jwk)
	}
	writeJSON(w, http.StatusOK, map[string]interface{}{"keys": jwks})
}

func (p *Provider) serveAuthorize(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		methodNotAllowed(w, "GET")
		return
	}
	q, err := p.parseAuthorizationRequest(r.URL.String())
	if err == nil {
		q, err = p.resolveAuthorizationRequest(q, p.opts.RequirePAR)
	}
	if err == nil {
		var callback string
		if callback, err = p.authorize(q); err == nil {
			http.Redirect(w, r, callback, http.StatusFound)
			return
		}
	}
	http.Error(w, err.Error(), http.StatusBadRequest)
}

func (p *Provider) serveToken(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		p.mu.Lock()
		p.calls[EndpointToken]++
		p.mu.Unlock()
		methodNotAllowed(w, "POST")
		return
	}
	formErr := r.ParseForm()
	form := r.PostForm
	name := EndpointToken
	if form.Get("grant_type") == "refresh_token" {
		name = EndpointRefresh
	}
	p.mu.Lock()
	p.calls[name]++
	p.lastTokenForm = cloneValues(form)
	p.lastTokenHeader = r.Header.Clone()
	p.mu.Unlock()
	if p.applyFault(name, w, r) {
		return
	}

	if !p.formAndClientOK(w, r, formErr, form, p.TokenURL()) {
		return
	}

	grantType := form.Get("grant_type")
	var s *session
	var nonce string
	switch grantType {
	case "authorization_code":
		code := form.Get("code")
		p.mu.Lock()
		a := p.codes[code]
		delete(p.codes, code)
		p.mu.Unlock()
		switch {
		case a == nil:
			oauthError(w, http.StatusBadRequest, "invalid_grant", "unknown or used authorization code")
			return
		case form.Get("redirect_uri") != a.redirectURI:
			oauthError(w, http.StatusBadRequest, "invalid_grant", "redirect_uri differs from the authorization request")
			return
		case !pkceMatches(form.Get("code_verifier"), a.challenge):
			oauthError(w, http.StatusBadRequest, "invalid_grant", "code_verifier does not match code_challenge")
			return
		}
		s, nonce = a.session, a.nonce
	case "refresh_token":
		rt := form.Get("refresh_token")
		p.mu.Lock()
		s = p.refreshTokens[rt]
		if s != nil && s.revoked {
			s = nil
		}
		if s != nil && !p.opts.KeepRefreshTokens {
			delete(p.refreshTokens, rt)
			p.usedRefresh[rt] = s
		}
		if used := p.usedRefresh[rt]; s == nil && used != nil {
			p.refreshReuses++
			if p.opts.RevokeOnRefreshReuse {
				p.revokeSessionLocked(used)
			}
		}
		p.mu.Unlock()
		if s == nil {
			oauthError(w, http.StatusBadRequest, "invalid_grant", "unknown, used or revoked refresh token")
			return
		}
	default:
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "grant_type must be authorization_code or refresh_token")
		return
	}

	resp, err := p.issueTokens(grantType, s, nonce)
	if err != nil {
		oauthError(w, http.StatusInternalServerError, "server_error", err.Error())
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, http.StatusOK, resp)
}

// formAndClientOK checks a back-channel POST as the token, revocation and PAR endpoints do: a
// form-urlencoded body with no parameter twice (else 400 invalid_request), then the client
// authentication (else 401 invalid_client), where a client assertion's aud must be endpointURL
// or the issuer. It answers and returns false when one fails.
func (p *Provider) formAndClientOK(w http.ResponseWriter, r *http.Request, formErr error, form url.Values, endpointURL string) bool {
	mediaType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if formErr != nil || mediaType != "application/x-www-form-urlencoded" {
		oauthError(w, http.StatusBadRequest, "invalid_request", "the body must be application/x-www-form-urlencoded")
		return false
	}
	for k, v := range form {
		if len(v) > 1 {
			oauthError(w, http.StatusBadRequest, "invalid_request", "parameter "+k+" given more than once")
			return false
		}
	}
	if err := p.client.authenticate(r, form, p.audiences(endpointURL)...); err != nil {
		if r.Header.Get("Authorization") != "" || p.opts.ClientAuth == ClientSecretBasic {
			w.Header().Set("WWW-Authenticate", `Basic realm="fakeas"`)
		}
		oauthError(w, http.StatusUnauthorized, "invalid_client", "client authentication failed: "+err.Error())
		return false
	}
	return true
}

// audiences are the aud values accepted in a client assertion sent to endpointURL: that URL and
// the issuer (also the one SetDiscoveryIssuer advertises).
func (p *Provider) audiences(endpointURL string) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	// RFC 7523 §3: the token endpoint's URL may be the aud at any endpoint (Ory Hydra wants it
	// everywhere), besides the endpoint's own URL and the issuer.
	auds := []string{endpointURL, p.TokenURL(), p.Issuer()}
	if p.discoveryIssuer != "" {
		auds = append(auds, p.discoveryIssuer)
	}
	return auds
}

// servePAR is RFC 9126: the token endpoint's form and client authentication checks, then the
// authorization parameters (those of the form other than the client authentication's) are
// checked as Authorize does (client_id may be left out: it is the authenticated client's) and
// stored against a new request_uri: 201 {"request_uri","expires_in":60}. A bad request is 400
// invalid_request, a request_uri in it too.
func (p *Provider) servePAR(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	p.calls[EndpointPAR]++
	p.mu.Unlock()
	if r.Method != http.MethodPost {
		methodNotAllowed(w, "POST")
		return
	}
	formErr := r.ParseForm()
	form := r.PostForm
	p.mu.Lock()
	p.lastPAR = cloneValues(form)
	p.lastPARHeader = r.Header.Clone()
	p.mu.Unlock()
	if p.applyFault(EndpointPAR, w, r) {
		return
	}
	if !p.formAndClientOK(w, r, formErr, form, p.PARURL()) {
		return
	}
	if _, ok := form["request_uri"]; ok {
		oauthError(w, http.StatusBadRequest, "invalid_request", "request_uri is not allowed in a pushed authorization request")
		return
	}
	params := cloneValues(form)
	for _, k := range []string{"client_secret", "client_assertion", "client_assertion_type"} {
		delete(params, k)
	}
	if params.Get("client_id") == "" {
		params.Set("client_id", p.opts.ClientID)
	}
	if err := p.checkAuthorizationRequest(params); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", strings.TrimPrefix(err.Error(), "fakeas: "))
		return
	}
	uri := PARRequestURIPrefix + randomString(24)
	p.mu.Lock()
	p.pushed[uri] = &pushedRequest{params: params, expiry: time.Now().Add(PARLifetime)}
	p.mu.Unlock()
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, map[string]interface{}{"request_uri": uri, "expires_in": int(PARLifetime / time.Second)})
}

// pkceMatches checks an RFC 7636 verifier against an S256 challenge.
func pkceMatches(verifier, challenge string) bool {
	if len(verifier) < 43 || len(verifier) > 128 {
		return false
	}
	for _, c := range verifier {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.ContainsRune("-._~", c)) {
			return false
		}
	}
	return S256(verifier) == challenge
}

// S256 is the PKCE S256 code challenge of verifier: base64url(sha256(verifier)).
func S256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// revokeSessionLocked revokes every token of a login. Callers hold p.mu.
func (p *Provider) revokeSessionLocked(s *session) {
	s.revoked = true
	for rt, rs := range p.refreshTokens {
		if rs == s {
			delete(p.refreshTokens, rt)
		}
	}
	for at, a := range p.accessTokens {
		if a.session == s {
			delete(p.accessTokens, at)
		}
	}
}

// opaqueToken returns a random base64url token of 43 characters, or of size characters if
// larger.
func opaqueToken(size int) string {
	if size <= 43 {
		return randomString(32)
	}
	return randomString(size*3/4 + 3)[:size]
}

// issueTokens registers new tokens for the session and builds the token endpoint answer.
func (p *Provider) issueTokens(grantType string, s *session, nonce string) (map[string]interface{}, error) {
	p.mu.Lock()
	sizes := p.sizes
	p.mu.Unlock()
	at := opaqueToken(sizes.AccessToken)
	idToken, err := p.idToken(s, nonce, at, sizes.IDToken)
	if err != nil {
		return nil, err
	}
	resp := map[string]interface{}{
		"access_token": at,
		"token_type":   "Bearer",
		"expires_in":   int(TokenLifetime / time.Second),
		"id_token":     idToken,
		"scope":        s.scope,
	}
	p.mu.Lock()
	if !s.revoked { // else the login was revoked while these were made: they are born dead
		p.accessTokens[at] = accessToken{expiry: time.Now().Add(TokenLifetime), session: s}
	}
	if grantType == "authorization_code" || !p.opts.KeepRefreshTokens {
		rt := opaqueToken(sizes.RefreshToken)
		if !s.revoked {
			p.refreshTokens[rt] = s
		}
		resp["refresh_token"] = rt
	}
	if grantType == "refresh_token" {
		p.refreshGrants++
	}
	tamper := p.tamperToken
	p.mu.Unlock()
	if tamper != nil {
		tamper(grantType, resp)
	}
	body, err := json.Marshal(resp)
	if err != nil {
		return nil, fmt.Errorf("fakeas: token response: %w", err)
	}
	p.mu.Lock()
	p.lastTokenResp = body
	p.mu.Unlock()
	return resp, nil
}

// idToken builds and signs an ID token, applying the tamper controls, padded to at least size
// bytes.
func (p *Provider) idToken(s *session, nonce, accessToken string, size int) (string, error) {
	p.mu.Lock()
	key := p.keys[0]
	if p.useUnpublished {
		key = p.unpublished
	}
	tamper, corrupt := p.tamperIDToken, p.corrupt
	p.mu.Unlock()

	now := time.Now().Unix()
	claims := map[string]interface{}{
		"iss":       p.Issuer(),
		"sub":       DemoUserSub,
		"aud":       p.opts.ClientID,
		"exp":       now + int64(TokenLifetime/time.Second),
		"iat":       now,
		"auth_time": s.authTime,
		"sid":       s.sid,
		"at_hash":   halfHash(algorithms[key.alg].hash, accessToken),
	}
	if nonce != "" {
		claims["nonce"] = nonce
	}
	header := map[string]interface{}{"alg": key.alg, "kid": key.kid, "typ": "JWT"}
	if tamper != nil {
		tamper(claims, header)
	}

	alg, _ := header["alg"].(string)
	if alg != "none" && keyCanSign(alg, key.signer) != nil {
		alg = key.alg
	}
	token, err := signJWS(alg, key.signer, header, claims)
	if err != nil {
		return "", err
	}
	// Padding: a JSON byte is 4/3 of a base64url character; `,"pad":""` is 9 bytes. A few rounds
	// absorb the rounding (and an ECDSA signature's fixed size keeps the length stable).
	for pad := 0; len(token) < size; {
		missing := (size-len(token))*3/4 + 1
		if pad == 0 {
			missing -= 9
		}
		pad += max(missing, 1)
		claims["pad"] = strings.Repeat("A", pad)
		if token, err = signJWS(alg, key.signer, header, claims); err != nil {
			return "", err
		}
	}
	if corrupt {
		token = corruptSignature(token)
	}
	return token, nil
}

// halfHash is the at_hash of an access token: the left half of its hash, base64url.
func halfHash(h crypto.Hash, token string) string {
	hh := h.New()
	hh.Write([]byte(token))
	sum := hh.Sum(nil)
	return base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2])
}

// corruptSignature flips a bit in the middle of a JWS signature.
func corruptSignature(token string) string {
	i := strings.LastIndexByte(token, '.')
	sig, err := base64.RawURLEncoding.DecodeString(token[i+1:])
	if err != nil || len(sig) == 0 {
		return token + "AA"
	}
	sig[len(sig)/2] ^= 0x01
	return token[:i+1] + base64.RawURLEncoding.EncodeToString(sig)
}

func (p *Provider) serveUserinfo(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		methodNotAllowed(w, "GET, POST")
		return
	}
	scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	valid := false
	if strings.EqualFold(scheme, "Bearer") && token != "" {
		p.mu.Lock()
		a, ok := p.accessTokens[token]
		p.mu.Unlock()
		valid = ok && time.Now().Before(a.expiry)
	}
	if !valid {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		oauthError(w, http.StatusUnauthorized, "invalid_token", "the access token is missing, unknown or expired")
		return
	}
	writeJSON(w, http.StatusOK, map[string]interface{}{
		"sub":                DemoUserSub,
		"given_name":         "Demo",
		"family_name":        "User",
		"preferred_username": "demouser",
		"name":               "Demo User",
	})
}

// serveRevocation is RFC 7009: the token endpoint's client authentication and form checks, then
// the token presented (whatever token_type_hint says) stops working: a refresh token at the
// token endpoint (400 invalid_grant), an access token at userinfo (401) and introspection
// (204). Only that token: oidc-provider and Hydra revoke the whole grant, which would hide
// whether a client revoked both. Success is 200 with an empty body, for an unknown token too.
func (p *Provider) serveRevocation(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		methodNotAllowed(w, "POST")
		return
	}
	formErr := r.ParseForm()
	form := r.PostForm
	if !p.formAndClientOK(w, r, formErr, form, p.RevocationURL()) {
		return
	}
	token := form.Get("token")
	if token == "" {
		oauthError(w, http.StatusBadRequest, "invalid_request", "no token")
		return
	}
	rec := Revocation{TokenTypeHint: form.Get("token_type_hint"), Token: token}
	p.mu.Lock()
	if s, ok := p.refreshTokens[token]; ok && !s.revoked {
		rec.Kind = "refresh_token"
	} else if a, ok := p.accessTokens[token]; ok && time.Now().Before(a.expiry) {
		rec.Kind = "access_token"
	}
	delete(p.refreshTokens, token)
	delete(p.accessTokens, token)
	p.revocations = append(p.revocations, rec)
	p.mu.Unlock()
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}

func (p *Provider) serveEndSession(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		methodNotAllowed(w, "GET, POST")
		return
	}
	_ = r.ParseForm()
	p.mu.Lock()
	p.lastEndSession = cloneValues(r.Form)
	p.mu.Unlock()
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprint(w, "<html><body>signed out</body></html>")
}

// ---- Signing ----

// algorithm describes a JWS signing algorithm.
type algorithm struct {
	hash  crypto.Hash
	kind  string // "RSA" (PKCS #1 v1.5), "PSS" or "EC"
	curve elliptic.Curve
}

var algorithms = map[string]algorithm{
	"RS256": {hash: crypto.SHA256, kind: "RSA"},
	"RS384": {hash: crypto.SHA384, kind: "RSA"},
	"RS512": {hash: crypto.SHA512, kind: "RSA"},
	"PS256": {hash: crypto.SHA256, kind: "PSS"},
	"PS384": {hash: crypto.SHA384, kind: "PSS"},
	"PS512": {hash: crypto.SHA512, kind: "PSS"},
	"ES256": {hash: crypto.SHA256, kind: "EC", curve: elliptic.P256()},
	"ES384": {hash: crypto.SHA384, kind: "EC", curve: elliptic.P384()},
	"ES512": {hash: crypto.SHA512, kind: "EC", curve: elliptic.P521()},
}

func generateKey(alg string) (crypto.Signer, error) {
	a, ok := algorithms[alg]
	if !ok {
		return nil, fmt.Errorf("unsupported alg %q", alg)
	}
	if a.kind == "EC" {
		return ecdsa.GenerateKey(a.curve, rand.Reader)
	}
	return rsa.GenerateKey(rand.Reader, 2048)
}

// keyCanSign reports why key cannot sign with alg, or nil.
func keyCanSign(alg string, key crypto.Signer) error {
	a, ok := algorithms[alg]
	if !ok {
		return fmt.Errorf("fakeas: unsupported alg %q", alg)
	}
	switch pub := key.Public().(type) {
	case *rsa.PublicKey:
		if a.kind == "EC" {
			return fmt.Errorf("fakeas: %s needs an EC key, not RSA", alg)
		}
	case *ecdsa.PublicKey:
		if a.kind != "EC" || pub.Curve != a.curve {
			return fmt.Errorf("fakeas: %s cannot be signed with an EC %s key", alg, pub.Curve.Params().Name)
		}
	default:
		return fmt.Errorf("fakeas: unsupported key type %T", pub)
	}
	return nil
}

// SignJWT signs claims as a compact JWS with header {"alg":alg,"kid":kid,"typ":"JWT"} (no kid
// when kid is empty). alg is one of RS256, RS384, RS512, PS256, PS384, PS512 (RSA keys), ES256,
// ES384, ES512 (ECDSA keys on P-256, P-384, P-521), or "none" (empty signature, key unused).
func SignJWT(alg string, key crypto.Signer, kid string, claims map[string]interface{}) (string, error) {
	if alg != "none" {
		if key == nil {
			return "", errors.New("fakeas: no key")
		}
		if err := keyCanSign(alg, key); err != nil {
			return "", err
		}
	}
	header := map[string]interface{}{"alg": alg, "typ": "JWT"}
	if kid != "" {
		header["kid"] = kid
	}
	return signJWS(alg, key, header, claims)
}

// signJWS serialises header and claims and signs them with alg, which key must be able to do
// (whatever the header says); "none" gives an empty signature.
func signJWS(alg string, key crypto.Signer, header, claims map[string]interface{}) (string, error) {
	h, err := json.Marshal(header)
	if err != nil {
		return "", fmt.Errorf("fakeas: JWT header: %w", err)
	}
	c, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("fakeas: JWT claims: %w", err)
	}
	input := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c)
	if alg == "none" {
		return input + ".", nil
	}
	a := algorithms[alg]
	hh := a.hash.New()
	hh.Write([]byte(input))
	digest := hh.Sum(nil)
	var sig []byte
	switch a.kind {
	case "RSA":
		sig, err = key.Sign(rand.Reader, digest, a.hash)
	case "PSS":
		sig, err = key.Sign(rand.Reader, digest, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: a.hash})
	case "EC":
		sig, err = key.Sign(rand.Reader, digest, a.hash)
		if err == nil {
			sig, err = ecdsaRawSignature(sig, (a.curve.Params().BitSize+7)/8)
		}
	}
	if err != nil {
		return "", fmt.Errorf("fakeas: signing %s: %w", alg, err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

// ecdsaRawSignature converts an ASN.1 ECDSA signature to JWS's R || S, each size bytes.
func ecdsaRawSignature(der []byte, size int) ([]byte, error) {
	var rs struct{ R, S *big.Int }
	if rest, err := asn1.Unmarshal(der, &rs); err != nil || len(rest) != 0 {
		return nil, errors.New("malformed ECDSA signature")
	}
	raw := make([]byte, 2*size)
	rs.R.FillBytes(raw[:size])
	rs.S.FillBytes(raw[size:])
	return raw, nil
}

// publicJWK is the JWK of a key's public half.
func publicJWK(k *signingKey) (map[string]interface{}, error) {
	return JWK(k.signer.Public(), k.kid, k.alg)
}

// ---- Helpers ----

func mustEndpoint(name string) {
	if !endpointNames[name] {
		panic("fakeas: unknown endpoint name " + name)
	}
}

func writeJSON(w http.ResponseWriter, status int, v interface{}) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func oauthError(w http.ResponseWriter, status int, code, description string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": description})
}

func methodNotAllowed(w http.ResponseWriter, allow string) {
	w.Header().Set("Allow", allow)
	http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
}

func hasScope(scope, want string) bool {
	for _, s := range strings.Fields(scope) {
		if s == want {
			return true
		}
	}
	return false
}

// randomString returns n random bytes, base64url.
func randomString(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("fakeas: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func cloneValues(v url.Values) url.Values {
	if v == nil {
		return nil
	}
	c := make(url.Values, len(v))
	for k, vs := range v {
		c[k] = append([]string(nil), vs...)
	}
	return c
}

// IntrospectionURL is the Curity-style introspection endpoint, Issuer() + "/introspect".
func (p *Provider) IntrospectionURL() string { return p.Issuer() + "/introspect" }

func (p *Provider) serveIntrospection(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	if r.Method != http.MethodPost {
		oauthError(w, http.StatusUnauthorized, "invalid_client", "introspection needs the introspection client")
		return
	}
	if err := p.introspector.authenticate(r, r.PostForm, p.IntrospectionURL(), p.Issuer()); err != nil {
		oauthError(w, http.StatusUnauthorized, "invalid_client", "introspection needs the introspection client: "+err.Error())
		return
	}
	token := r.PostForm.Get("token")
	p.mu.Lock()
	a, active := p.accessTokens[token]
	expiry := a.expiry
	key := p.keys[0]
	p.introspections[token]++
	p.mu.Unlock()
	active = active && time.Now().Before(expiry)
	claims := map[string]interface{}{
		"sub": DemoUserSub, "scope": "openid profile read", "client_id": p.opts.ClientID, "iss": p.Issuer(),
		"aud": "api.example.com", "iat": time.Now().Unix(), "exp": expiry.Unix(),
	}
	if p.opts.IntrospectionJSON {
		if !active {
			writeJSON(w, http.StatusOK, map[string]interface{}{"active": false})
			return
		}
		claims["active"] = true
		claims["token_type"] = "Bearer"
		writeJSON(w, http.StatusOK, claims)
		return
	}
	if !active {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	jwt, err := SignJWT(key.alg, key.signer, key.kid, claims)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/jwt")
	w.Header().Set("Cache-Control", fmt.Sprintf("max-age=%d", int(time.Until(expiry).Seconds())))
	fmt.Fprint(w, jwt)
}

// ServerTime returns the time the provider spent handling requests, in all: benchmarks subtract
// it to tell the agent's own cost from the authorization server's.
func (p *Provider) ServerTime() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.serverTime
}

// IntrospectionsPerToken returns how many times each access token was introspected.
func (p *Provider) IntrospectionsPerToken() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]int, len(p.introspections))
	for k, v := range p.introspections {
		out[k] = v
	}
	return out
}
