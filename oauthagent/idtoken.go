package oauthagent

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"time"

	"github.com/tokenhandler/traefik-token-handler/internal/jwt"
)

// clockSkew is the leeway on exp and iat, for clocks that disagree a little.
const clockSkew = 60 * time.Second

// idTokenClaims are the claims an ID token is checked on.
type idTokenClaims struct {
	Iss   string      `json:"iss"`
	Aud   interface{} `json:"aud"` // a string or a list of strings
	Azp   string      `json:"azp"`
	Exp   *float64    `json:"exp"`
	Iat   *float64    `json:"iat"`
	Nonce string      `json:"nonce"`
}

// validateIDToken checks an ID token as OpenID Connect Core §3.1.3.7 says, each check with its own
// error: a readable JWT, an accepted algorithm, a signature by a key of the issuer's JWKS, the
// issuer, the audience, the authorized party, expiry and issue time, and the nonce of the login
// (none is expected on a refresh, whose ID token need not carry one).
func (a *Agent) validateIDToken(token, wantNonce string) error {
	parsed, err := jwt.Parse(token)
	if err != nil {
		return err
	}
	if !jwt.Algorithms[parsed.Header.Alg] {
		return jwt.ErrAlgorithm
	}
	key, err := a.keys.key(parsed.Header.Kid, parsed.Header.Alg)
	if err != nil {
		return err
	}
	if err := jwt.VerifySignature(parsed, key); err != nil {
		return err
	}
	var claims idTokenClaims
	if err := json.Unmarshal(parsed.Payload, &claims); err != nil {
		return errors.New("the ID token's claims are not of the expected types")
	}
	if claims.Iss != a.issuer {
		return errors.New("the ID token's iss is not the configured issuer")
	}
	audiences, ok := audienceList(claims.Aud)
	if !ok || !contains(audiences, a.clientID) {
		return errors.New("the ID token's aud does not contain the client id")
	}
	if (len(audiences) > 1 || claims.Azp != "") && claims.Azp != a.clientID {
		return errors.New("the ID token's azp is not the client id")
	}
	now := time.Now()
	if claims.Exp == nil || time.Unix(int64(*claims.Exp), 0).Add(clockSkew).Before(now) {
		return errors.New("the ID token has expired or has no exp")
	}
	if claims.Iat == nil || time.Unix(int64(*claims.Iat), 0).Add(-clockSkew).After(now) {
		return errors.New("the ID token's iat is in the future or missing")
	}
	if wantNonce != "" && subtle.ConstantTimeCompare([]byte(claims.Nonce), []byte(wantNonce)) != 1 {
		return errors.New("the ID token's nonce is not the one of the login")
	}
	return nil
}

func audienceList(aud interface{}) ([]string, bool) {
	switch v := aud.(type) {
	case string:
		return []string{v}, true
	case []interface{}:
		list := make([]string, 0, len(v))
		for _, item := range v {
			s, ok := item.(string)
			if !ok {
				return nil, false
			}
			list = append(list, s)
		}
		return list, true
	}
	return nil, false
}

func contains(list []string, s string) bool {
	for _, item := range list {
		if item == s {
			return true
		}
	}
	return false
}
