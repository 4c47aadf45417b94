package phantomtoken

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/tokenhandler/traefik-token-handler/internal/apierror"
	"github.com/tokenhandler/traefik-token-handler/internal/jwt"
)

// minter makes phantom tokens itself (contract §6.7), for authorization servers that answer
// introspection with plain RFC 7662 JSON and cannot return a JWT (Ory Hydra, and most others):
// the answer's members become the claims of a JWT signed by the gateway, typ at+jwt, and the
// public keys are served as a JWKS so that the API can validate it.
type minter struct {
	key      *jwt.SigningKey
	issuer   string
	audience string // "" sends no aud
	// jwks is the JWKS document of the signing key and the previous keys, built once.
	jwks []byte
}

func newMinter(key *jwt.SigningKey, previous []*jwt.SigningKey, issuer, audience string) (*minter, error) {
	var keys []map[string]string
	for _, k := range append([]*jwt.SigningKey{key}, previous...) {
		jwk, err := jwt.PublicJWK(k)
		if err != nil {
			return nil, err
		}
		keys = append(keys, jwk)
	}
	doc, err := json.Marshal(map[string]interface{}{"keys": keys})
	if err != nil {
		return nil, err
	}
	return &minter{key: key, issuer: issuer, audience: audience, jwks: doc}, nil
}

// mint signs the JWT for an active introspection answer: every member but active, with iss the
// minted issuer, aud the minted audience when set (else the answer's own), exp the answer's exp
// (or now + ttl when it has none) and iat now.
func (m *minter) mint(body []byte, now time.Time, ttl time.Duration) (string, error) {
	decoder := json.NewDecoder(bytes.NewReader(body))
	decoder.UseNumber() // keeps numeric claims exactly as the server sent them
	var claims map[string]interface{}
	if err := decoder.Decode(&claims); err != nil {
		return "", errors.New("the introspection answer is not a JSON object")
	}
	delete(claims, "active")
	switch exp := claims["exp"].(type) {
	case nil:
		claims["exp"] = now.Add(ttl).Unix()
	case json.Number:
		if _, err := exp.Int64(); err != nil {
			return "", errors.New("the introspection answer's exp is not a whole number")
		}
	default:
		return "", errors.New("the introspection answer's exp is not a number")
	}
	claims["iss"] = m.issuer
	if m.audience != "" {
		claims["aud"] = m.audience
	}
	claims["iat"] = now.Unix()
	return m.key.Sign("at+jwt", claims)
}

// jwksRouter answers jwksPath itself, before any token check, and passes every other request to
// the middleware. It is a handler of its own, so that the path check costs the cache hit of
// setups without a JWKS nothing (under Yaegi every expression of ServeHTTP is an allocation).
type jwksRouter struct {
	path string
	m    *Middleware
}

func (h *jwksRouter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == h.path {
		h.m.serveJWKS(w, r)
		return
	}
	h.m.ServeHTTP(w, r)
}

// serveJWKS answers GET or HEAD of jwksPath with the public keys. A query or a body is ignored:
// the document is the same for every request.
func (m *Middleware) serveJWKS(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD")
		apierror.PhantomJWKSMethod.Write(w, r)
		return
	}
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "max-age=300")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write(m.minter.jwks)
	}
}
