package oauthagent

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tokenhandler/traefik-token-handler/internal/apierror"
	"github.com/tokenhandler/traefik-token-handler/internal/backchannel"
	"github.com/tokenhandler/traefik-token-handler/internal/logger"
)

// failure is why a request cannot be answered normally: the answer for the SPA and what went
// wrong, for the log. It is a plain struct, not an error type, because errors.As with types
// defined in interpreted code panics under Yaegi.
type failure struct {
	answer  *apierror.Error
	problem string
	level   logger.Level
}

func rejected(answer *apierror.Error, problem string) *failure {
	return &failure{answer: answer, problem: problem, level: logger.Info}
}

func serverFailure(problem string) *failure {
	return &failure{answer: apierror.AgentServerUnavailable, problem: problem, level: logger.Error}
}

// tokenResponse is the token endpoint's answer (RFC 6749 §5.1, OpenID Connect Core §3.1.3.3).
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	IDToken      string `json:"id_token"`
	TokenType    string `json:"token_type"`
	// ExpiresIn is the access token's lifetime in seconds, a number or, from some servers, a
	// numeric string (read by accessTokenExpiry).
	ExpiresIn json.RawMessage `json:"expires_in"`
	// received is when the answer arrived, from which ExpiresIn counts.
	received time.Time
}

// callTokenEndpoint posts a grant to the token endpoint with the client's credentials. A 4xx
// answer with invalid_grant to a refresh means the session is over; any other 4xx is the
// server refusing us (400 authorization_error); a 5xx, a network failure, a timeout or an answer
// that is not a token response is the server failing (502).
func (a *Agent) callTokenEndpoint(e endpoints, form url.Values, grant string) (tokenResponse, *failure) {
	var tokens tokenResponse
	resp, err := a.provider.client.Do(backchannel.Request{
		Method: http.MethodPost, URL: e.token, Form: form, Accept: "application/json",
		ClientAuth: a.clientAuth, AssertionAudience: a.assertionAudienceFor(e),
	})
	if err != nil {
		return tokens, serverFailure(grant + ": the token endpoint " + err.Error())
	}
	if resp.Status >= 400 && resp.Status < 500 {
		code := oauthErrorCode(resp.Body)
		if grant == "refresh" && code == "invalid_grant" {
			return tokens, rejected(apierror.AgentSessionExpired, "refresh: the refresh token is no longer valid (invalid_grant)")
		}
		return tokens, &failure{answer: apierror.AgentAuthorizationError, level: logger.Warn,
			problem: grant + ": the token endpoint answered " + strconv.Itoa(resp.Status) + " " + code}
	}
	if resp.Status != http.StatusOK {
		return tokens, serverFailure(grant + ": the token endpoint answered " + strconv.Itoa(resp.Status))
	}
	if err := json.Unmarshal(resp.Body, &tokens); err != nil {
		return tokens, serverFailure(grant + ": the token endpoint answered something that is not JSON")
	}
	if tokens.AccessToken == "" {
		return tokens, serverFailure(grant + ": the token response has no access_token")
	}
	tokens.received = time.Now()
	return tokens, nil
}

// oauthErrorCode returns the error member of an OAuth error answer, if it is a plain token.
func oauthErrorCode(body []byte) string {
	var answer struct {
		Error string `json:"error"`
	}
	_ = json.Unmarshal(body, &answer)
	if len(answer.Error) > 64 || strings.Trim(answer.Error, "abcdefghijklmnopqrstuvwxyz_") != "" {
		return ""
	}
	return answer.Error
}

// callUserInfo gets the user's claims with the access token. A 401 means the access token has
// expired (the SPA should refresh and retry).
func (a *Agent) callUserInfo(userInfoEndpoint, accessToken string) ([]byte, *failure) {
	if userInfoEndpoint == "" {
		return nil, serverFailure("userinfo: the authorization server has no userinfo endpoint")
	}
	resp, err := a.provider.client.Do(backchannel.Request{
		Method: http.MethodGet, URL: userInfoEndpoint, Accept: "application/json", Bearer: accessToken,
	})
	if err != nil {
		return nil, serverFailure("userinfo: the endpoint " + err.Error())
	}
	switch {
	case resp.Status == http.StatusUnauthorized:
		return nil, rejected(apierror.AgentTokenExpired, "userinfo: the access token was rejected (401)")
	case resp.Status >= 400 && resp.Status < 500:
		return nil, &failure{answer: apierror.AgentAuthorizationError, level: logger.Warn, problem: "userinfo: the endpoint answered " + strconv.Itoa(resp.Status)}
	case resp.Status != http.StatusOK:
		return nil, serverFailure("userinfo: the endpoint answered " + strconv.Itoa(resp.Status))
	}
	if !isJSONObject(resp.Body) {
		return nil, serverFailure("userinfo: the answer is not a JSON object")
	}
	return resp.Body, nil
}

func isJSONObject(b []byte) bool {
	var v map[string]interface{}
	return json.Unmarshal(b, &v) == nil && v != nil
}

var errNoEndSession = errors.New("the authorization server has no end-session endpoint")
