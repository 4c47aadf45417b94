package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// allowedAlgs are the asymmetric algorithms the API accepts. "none" and the HMAC algorithms are
// refused: with a public JWKS, accepting HS256 would let anyone sign with the public key.
var allowedAlgs = []string{"RS256", "PS256", "ES256"}

var errMissingKID = errors.New("the token has no kid header")

// accessClaims are the claims the API reads from the JWT the phantom-token middleware delivers.
type accessClaims struct {
	jwt.RegisteredClaims
	Scope scopeClaim `json:"scope"`
}

// scopeClaim is the space-separated "scope" claim. Some servers send a JSON array instead; both
// are accepted.
type scopeClaim []string

func (s *scopeClaim) UnmarshalJSON(data []byte) error {
	var str string
	if err := json.Unmarshal(data, &str); err == nil {
		*s = strings.Fields(str)
		return nil
	}
	var list []string
	if err := json.Unmarshal(data, &list); err != nil {
		return errors.New("scope is neither a string nor a list of strings")
	}
	*s = list
	return nil
}

func (s scopeClaim) String() string { return strings.Join(s, " ") }

// authError is a failed authorization, ready to be written as an HTTP response. cause is for the
// log only.
type authError struct {
	status      int
	code        string // the JSON body's "code"
	bearerError string // the WWW-Authenticate "error" attribute; empty when no token was sent
	message     string
	cause       error
}

func (e *authError) Error() string {
	if e.cause != nil {
		return e.message + ": " + e.cause.Error()
	}
	return e.message
}

// validator checks access tokens, in this order: a Bearer token is present; it is a JWT signed
// with an allowed algorithm by a key from the JWKS (by kid); iss, aud and exp (with a small leeway)
// are right; the scope claim holds the required scope.
type validator struct {
	keys          *keySet
	issuer        string
	audience      string
	requiredScope string
	leeway        time.Duration
	now           func() time.Time
}

func (v *validator) validate(ctx context.Context, authorization string) (*accessClaims, *authError) {
	raw, ok := bearerToken(authorization)
	if !ok {
		return nil, &authError{status: http.StatusUnauthorized, code: "unauthorized",
			message: "Missing access token"}
	}

	parser := jwt.NewParser(
		jwt.WithValidMethods(allowedAlgs),
		jwt.WithIssuer(v.issuer),
		jwt.WithAudience(v.audience),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(v.leeway),
		jwt.WithTimeFunc(v.now),
	)
	claims := &accessClaims{}
	token, err := parser.ParseWithClaims(raw, claims, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		if kid == "" {
			return nil, errMissingKID
		}
		k, err := v.keys.lookup(ctx, kid)
		if err != nil {
			return nil, err
		}
		// A key of the wrong type for the algorithm is refused by the library itself; a key
		// whose JWK names another algorithm is refused here.
		if k.alg != "" && k.alg != t.Method.Alg() {
			return nil, errKeyAlgUnsupported
		}
		return k.key, nil
	})
	if err != nil {
		return nil, invalidToken(token, err)
	}

	if !slices.Contains(claims.Scope, v.requiredScope) {
		return nil, &authError{status: http.StatusForbidden, code: "forbidden", bearerError: "insufficient_scope",
			message: "The token does not contain the required scope"}
	}
	return claims, nil
}

// invalidToken turns a parse error into a response, with one description per failed check.
func invalidToken(token *jwt.Token, err error) *authError {
	if errors.Is(err, errJWKSUnavailable) {
		// Not the token's fault: answering 401 would make the SPA sign the user out.
		return &authError{status: http.StatusServiceUnavailable, code: "server_error",
			message: "The API could not get the keys to validate the access token", cause: err}
	}
	msg := "The access token is invalid"
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		msg = "The access token is malformed"
	case token != nil && token.Method != nil && !slices.Contains(allowedAlgs, token.Method.Alg()):
		msg = "The access token's signing algorithm is not allowed"
	case errors.Is(err, errMissingKID):
		msg = "The access token has no key identifier"
	case errors.Is(err, errUnknownKID):
		msg = "The access token was signed with an unknown key"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, errKeyAlgUnsupported):
		msg = "The access token signature is invalid"
	case errors.Is(err, jwt.ErrTokenExpired):
		msg = "The access token has expired"
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		msg = "The access token is not valid yet"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		msg = "The access token has an unexpected issuer"
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		msg = "The access token has an unexpected audience"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		msg = "The access token lacks a required claim"
	}
	return &authError{status: http.StatusUnauthorized, code: "unauthorized", bearerError: "invalid_token",
		message: msg, cause: err}
}

// bearerToken extracts the token from "Bearer <token>" (scheme case-insensitive, RFC 6750 §2.1).
func bearerToken(header string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}
