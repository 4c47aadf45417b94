package phantomtoken

import (
	"encoding/json"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tokenhandler/traefik-token-handler/internal/backchannel"
	"github.com/tokenhandler/traefik-token-handler/internal/jwt"
)

// outcome is what an introspection call concluded.
type outcome int

const (
	failed      outcome = iota // the call or its answer was unusable: 502
	active                     // the token is active and entry holds its JWT
	inactive                   // the token is not active: 401
	unavailable                // the server answered 503: 503
)

// result is an introspection outcome, with the cache entry when active and, otherwise, what
// went wrong, for the log.
type result struct {
	outcome outcome
	entry   *entry
	problem string
}

// introspect asks the authorization server about token and turns the answer into a result.
// Nothing of the token appears in a problem description.
func (m *Middleware) introspect(token string) result {
	resp, err := m.client.Do(backchannel.Request{
		Method:     http.MethodPost,
		URL:        m.endpoint,
		Form:       url.Values{"token": {token}},
		Accept:     "application/jwt",
		ClientAuth: m.clientAuth,
	})
	if err != nil {
		return result{outcome: failed, problem: "the introspection endpoint " + err.Error()}
	}

	switch {
	case resp.Status == http.StatusNoContent:
		return result{outcome: inactive, problem: "the token is not active (introspection answered 204)"}
	case resp.Status == http.StatusServiceUnavailable:
		return result{outcome: unavailable, problem: "the introspection endpoint answered 503"}
	case resp.Status == http.StatusUnauthorized || resp.Status == http.StatusForbidden:
		return result{outcome: failed, problem: "the introspection endpoint rejected our client credentials (" + strconv.Itoa(resp.Status) + "): check clientId and clientSecret"}
	case resp.Status != http.StatusOK:
		return result{outcome: failed, problem: "the introspection endpoint answered " + strconv.Itoa(resp.Status)}
	}

	mediaType, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	var jwtValue string
	switch {
	case mediaType == "application/token-introspection+jwt":
		return result{outcome: failed, problem: "the introspection endpoint answered an RFC 9701 JWT, not a phantom token JWT: configure it to answer application/jwt"}
	case mediaType == "application/json" || (mediaType != "application/jwt" && strings.HasPrefix(strings.TrimSpace(string(resp.Body)), "{")):
		var answer struct {
			Active interface{} `json:"active"`
			JWT    string      `json:"jwt"`
		}
		if err := json.Unmarshal(resp.Body, &answer); err != nil {
			return result{outcome: failed, problem: "the introspection answer is not valid JSON"}
		}
		if isActive, ok := answer.Active.(bool); !ok || !isActive {
			if ok {
				return result{outcome: inactive, problem: "the token is not active (introspection answered active:false)"}
			}
			return result{outcome: failed, problem: "the introspection answer has no boolean active member"}
		}
		switch {
		case answer.JWT != "":
			jwtValue = answer.JWT
		case m.minter != nil:
			minted, err := m.minter.mint(resp.Body, m.cache.now(), m.cacheTTL)
			if err != nil {
				return result{outcome: failed, problem: "minting the phantom token: " + err.Error()}
			}
			jwtValue = minted
		default:
			return result{outcome: failed, problem: "the introspection endpoint answered JSON without a jwt member: it is not set up for phantom tokens (answer application/jwt, include a jwt member, or configure signingKey to mint the JWT here)"}
		}
	default:
		jwtValue = strings.TrimSpace(string(resp.Body))
	}

	e, problem := m.newEntry(jwtValue, resp.Header.Get("Cache-Control"))
	if problem != "" {
		return result{outcome: failed, problem: problem}
	}
	return result{outcome: active, entry: e}
}

// newEntry checks the JWT and computes how long it may be cached: the configured time, bounded
// by the server's Cache-Control and by the JWT's expiry.
func (m *Middleware) newEntry(token string, cacheControl string) (*entry, string) {
	var claims struct {
		Exp   interface{} `json:"exp"`
		Scope interface{} `json:"scope"`
	}
	if err := jwt.Claims(token, &claims); err != nil {
		return nil, "the introspection answer is not a usable JWT: " + err.Error()
	}
	now := m.cache.now()
	ttl := m.cacheTTL
	if maxAge, ok := parseMaxAge(cacheControl); ok && maxAge < ttl {
		ttl = maxAge
	}
	if exp, ok := claims.Exp.(float64); ok {
		if untilExpiry := time.Unix(int64(exp), 0).Sub(now); untilExpiry < ttl {
			ttl = untilExpiry
		}
	}
	return &entry{
		authorization: "Bearer " + token,
		scopes:        scopeList(claims.Scope),
		expires:       now.Add(ttl),
	}, ""
}

// parseMaxAge reads max-age from a Cache-Control value; no-store and no-cache count as 0. A
// malformed value is ignored, leaving the configured time.
func parseMaxAge(cacheControl string) (time.Duration, bool) {
	if cacheControl == "" {
		return 0, false
	}
	for _, directive := range strings.Split(cacheControl, ",") {
		name, value, _ := strings.Cut(strings.TrimSpace(directive), "=")
		switch strings.ToLower(name) {
		case "no-store", "no-cache":
			return 0, true
		case "max-age":
			seconds, err := strconv.ParseInt(strings.Trim(value, `"`), 10, 64)
			if err != nil || seconds < 0 {
				return 0, false
			}
			if seconds > 1<<31 {
				seconds = 1 << 31
			}
			return time.Duration(seconds) * time.Second, true
		}
	}
	return 0, false
}

// scopeList reads a scope claim given as a space-separated string (RFC 8693) or as a list, and
// returns it as " a b c ".
func scopeList(claim interface{}) string {
	var scopes []string
	switch v := claim.(type) {
	case string:
		scopes = strings.Fields(v)
	case []interface{}:
		for _, item := range v {
			if s, ok := item.(string); ok && s != "" && !strings.ContainsAny(s, " \t") {
				scopes = append(scopes, s)
			}
		}
	}
	return " " + strings.Join(scopes, " ") + " "
}
