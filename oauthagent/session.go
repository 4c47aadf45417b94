package oauthagent

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/tokenhandler/traefik-token-handler/internal/apierror"
	"github.com/tokenhandler/traefik-token-handler/internal/backchannel"
	"github.com/tokenhandler/traefik-token-handler/internal/cookies"
	"github.com/tokenhandler/traefik-token-handler/internal/jwt"
	"github.com/tokenhandler/traefik-token-handler/internal/logger"
)

// userInfo answers GET /userInfo with the authorization server's userinfo for the access token.
func (a *Agent) userInfo(w http.ResponseWriter, r *http.Request) *failure {
	accessToken, err := a.cookies.Read(r, a.cookies.AccessToken)
	if err != nil {
		return rejected(apierror.AgentUnauthorized, err.Error())
	}
	e, err := a.provider.endpoints()
	if err != nil {
		return serverFailure(err.Error())
	}
	body, f := a.callUserInfo(e.userInfo, accessToken)
	if f != nil {
		return f
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
	return nil
}

// claims answers GET /claims with the ID token's claims. The token came straight from the token
// endpoint and was validated then, so its signature is not checked again.
func (a *Agent) claims(w http.ResponseWriter, r *http.Request) *failure {
	idToken, err := a.cookies.Read(r, a.cookies.IDToken)
	if err != nil {
		return rejected(apierror.AgentUnauthorized, err.Error())
	}
	parsed, err := jwt.Parse(idToken)
	if err != nil {
		return rejected(apierror.AgentClaimsInvalid, "the ID token cookie holds no readable JWT: "+err.Error())
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(parsed.Payload)
	return nil
}

// refresh answers POST /refresh (v1): 204 once the token cookies are rewritten.
func (a *Agent) refresh(w http.ResponseWriter, r *http.Request) *failure {
	if err := a.cookies.CheckCSRF(r); err != nil {
		return rejected(apierror.AgentUnauthorized, err.Error())
	}
	if _, f := a.refreshSession(w, r); f != nil {
		return f
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// refreshSession makes a refresh token grant that rewrites the token cookies, shared by
// concurrent and closely following refreshes of one session (refreshes). When the authorization
// server says invalid_grant the session is over, and its cookies are cleared so that the next
// page load reports logged out.
func (a *Agent) refreshSession(w http.ResponseWriter, r *http.Request) (tokenResponse, *failure) {
	refreshToken, err := a.cookies.Read(r, a.cookies.RefreshToken)
	if err != nil {
		return tokenResponse{}, rejected(apierror.AgentUnauthorized, err.Error())
	}
	tokens, f := a.refreshes.exchange(refreshToken, func() (tokenResponse, *failure) {
		return a.exchangeRefreshToken(refreshToken)
	})
	if f != nil {
		if f.answer == apierror.AgentSessionExpired {
			a.cookies.ClearSession(w.Header())
		}
		return tokenResponse{}, f
	}
	if f := a.writeSession(w, r, tokens, ""); f != nil {
		// The authorization server may have rotated the refresh token, which could not be kept:
		// the session is over.
		a.cookies.ClearSession(w.Header())
		return tokenResponse{}, f
	}
	return tokens, nil
}

// exchangeRefreshToken makes the refresh token grant and validates the ID token that comes back.
func (a *Agent) exchangeRefreshToken(refreshToken string) (tokenResponse, *failure) {
	e, err := a.provider.endpoints()
	if err != nil {
		return tokenResponse{}, serverFailure(err.Error())
	}
	form := url.Values{}
	form.Set("grant_type", "refresh_token")
	form.Set("refresh_token", refreshToken)
	tokens, f := a.callTokenEndpoint(e, form, "refresh")
	if f != nil {
		return tokens, f
	}
	if tokens.IDToken != "" {
		if err := a.validateIDToken(tokens.IDToken, ""); err != nil {
			return tokens, idTokenFailure(err)
		}
	}
	return tokens, nil
}

// logout answers POST /logout (v1) with the end-session URL, or without one the post-logout
// redirect URI.
func (a *Agent) logout(w http.ResponseWriter, r *http.Request) *failure {
	if err := a.cookies.CheckCSRF(r); err != nil {
		return rejected(apierror.AgentUnauthorized, err.Error())
	}
	logoutURL, f := a.endSession(w, r)
	if f != nil {
		return f
	}
	if logoutURL == "" {
		logoutURL = a.postLogoutRedirectURI
	}
	writeJSON(w, map[string]string{"url": logoutURL})
	return nil
}

// endSession ends the session of a request that has one: it clears the session cookies, each
// with its own Path so that the browser really drops them, revokes the refresh and access tokens
// and returns the end-session URL (RP-initiated logout, with client_id, post_logout_redirect_uri
// and id_token_hint), or "" when the authorization server has no end-session endpoint.
func (a *Agent) endSession(w http.ResponseWriter, r *http.Request) (string, *failure) {
	if !cookies.Present(r, a.cookies.AccessToken) {
		return "", rejected(apierror.AgentUnauthorized, "the request has no "+a.cookies.AccessToken.Name+" cookie")
	}
	a.cookies.ClearSession(w.Header())
	e, err := a.provider.endpoints()
	if err != nil {
		return "", serverFailure("logout (the session cookies were cleared): " + err.Error())
	}
	if a.revokeOnLogout && e.revocation != "" {
		// The refresh token first: it is the long-lived one, and revoking it revokes the access
		// tokens issued from it at most servers (RFC 7009 §2.1).
		a.revoke(r, e, a.cookies.RefreshToken, "refresh_token")
		a.revoke(r, e, a.cookies.AccessToken, "access_token")
	}
	if e.endSession == "" {
		a.log.Printf(logger.Info, "logout: %s", errNoEndSession.Error())
		return "", nil
	}
	q := url.Values{}
	q.Set("client_id", a.clientID)
	if a.postLogoutRedirectURI != "" {
		q.Set("post_logout_redirect_uri", a.postLogoutRedirectURI)
	}
	// The -id cookie reaches /logout since contract §6.5; a session from before has -idhint.
	hint, err := a.cookies.Read(r, a.cookies.IDToken)
	if err != nil {
		hint, err = a.cookies.Read(r, a.cookies.IDTokenHint)
	}
	if err == nil {
		q.Set("id_token_hint", hint)
	}
	separator := "?"
	if strings.Contains(e.endSession, "?") {
		separator = "&"
	}
	return e.endSession + separator + q.Encode(), nil
}

// assertionAudienceFor is the aud of the client assertions of a call to e's endpoints, as
// clientAssertionAudience says: the token endpoint's URL, the issuer, or "" for the URL of the
// endpoint called.
func (a *Agent) assertionAudienceFor(e endpoints) string {
	switch a.assertionAudience {
	case "token":
		return e.token
	case "issuer":
		return a.issuer
	}
	return ""
}

// revoke revokes the token of cookie c at the revocation endpoint (RFC 7009), best effort: the
// session cookies are cleared whatever happens, so a failure is only logged.
func (a *Agent) revoke(r *http.Request, e endpoints, c cookies.Cookie, hint string) {
	token, err := a.cookies.Read(r, c)
	if err != nil {
		return // nothing to revoke (no refresh token was issued, or the cookie is gone)
	}
	resp, err := a.provider.client.Do(backchannel.Request{
		Method:            http.MethodPost,
		URL:               e.revocation,
		Form:              url.Values{"token": {token}, "token_type_hint": {hint}},
		ClientAuth:        a.clientAuth,
		AssertionAudience: a.assertionAudienceFor(e),
	})
	switch {
	case err != nil:
		a.log.Printf(logger.Warn, "logout: revoking the %s: the revocation endpoint %s (the logout goes on)", hint, err.Error())
	case resp.Status != http.StatusOK:
		a.log.Printf(logger.Warn, "logout: revoking the %s: the revocation endpoint answered %d %s (the logout goes on)", hint, resp.Status, oauthErrorCode(resp.Body))
	}
}
