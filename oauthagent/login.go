package oauthagent

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tokenhandler/traefik-token-handler/internal/apierror"
	"github.com/tokenhandler/traefik-token-handler/internal/backchannel"
	"github.com/tokenhandler/traefik-token-handler/internal/cookies"
	"github.com/tokenhandler/traefik-token-handler/internal/logger"
)

// pendingLogin is what /login/start remembers for /login/end, in the -login cookie.
type pendingLogin struct {
	State        string `json:"state"`
	CodeVerifier string `json:"codeVerifier"`
	Nonce        string `json:"nonce"`
	Created      int64  `json:"created"`
}

// loginState is the -login cookie's plaintext: the logins in progress in this browser, so that
// two tabs that start a login at the same time can both finish (a single slot would let the
// second overwrite the first). The set is small and each entry expires.
type loginState struct {
	Logins []pendingLogin `json:"logins"`
}

const (
	maxPendingLogins = 5
	loginLifetime    = 10 * time.Minute
	maxPageURLLength = 8192
)

// protectedParams are the authorization request parameters the agent sets itself; extraParams
// may not set them (they would weaken PKCE, state or nonce, or redirect the code elsewhere).
var protectedParams = map[string]bool{
	"client_id": true, "redirect_uri": true, "response_type": true, "response_mode": true, "scope": true,
	"state": true, "nonce": true, "code_challenge": true, "code_challenge_method": true,
	"request": true, "request_uri": true,
}

// startLogin answers POST /login/start with the authorization request URL and remembers the
// login in the -login cookie.
func (a *Agent) startLogin(w http.ResponseWriter, r *http.Request) *failure {
	var body struct {
		ExtraParams []struct {
			Key   string `json:"key"`
			Value string `json:"value"`
		} `json:"extraParams"`
	}
	if f := readJSON(r, &body); f != nil {
		return f
	}
	extra := url.Values{}
	for _, p := range body.ExtraParams {
		extra.Add(p.Key, p.Value)
	}
	authorizationURL, f := a.beginLogin(w, r, extra, protectedParams)
	if f != nil {
		return f
	}
	writeJSON(w, map[string]string{"authorizationRequestUrl": authorizationURL})
	return nil
}

// beginLogin makes the authorization request URL (code flow, PKCE S256, state, nonce, pushed
// when PAR is on) with the SPA's extra parameters, which may set none of protected, and
// remembers the login in the -login cookie.
func (a *Agent) beginLogin(w http.ResponseWriter, r *http.Request, extraParams url.Values, protected map[string]bool) (string, *failure) {
	extra := url.Values{}
	for key, values := range extraParams {
		for _, value := range values {
			if key == "" || value == "" {
				continue // as Curity's agent does
			}
			if protected[strings.ToLower(key)] {
				return "", rejected(apierror.AgentProtectedParam, "the extra parameters try to set "+key)
			}
			extra.Add(key, value)
		}
	}
	e, err := a.provider.endpoints()
	if err != nil {
		return "", serverFailure(err.Error())
	}

	login := pendingLogin{Created: time.Now().Unix()}
	for _, target := range []*string{&login.State, &login.CodeVerifier, &login.Nonce} {
		value, err := randomToken()
		if err != nil {
			return "", &failure{answer: apierror.AgentServerError, level: logger.Error, problem: "reading random bytes: " + err.Error()}
		}
		*target = value
	}
	challenge := sha256.Sum256([]byte(login.CodeVerifier))

	q := url.Values{}
	q.Set("client_id", a.clientID)
	q.Set("redirect_uri", a.redirectURI)
	q.Set("response_type", "code")
	q.Set("scope", a.scope)
	q.Set("state", login.State)
	q.Set("nonce", login.Nonce)
	q.Set("code_challenge", base64.RawURLEncoding.EncodeToString(challenge[:]))
	q.Set("code_challenge_method", "S256")
	for k, v := range extra {
		q[k] = v
	}
	if a.usePAR(e) {
		// RFC 9126: the parameters go to the server on the back channel, and the browser carries
		// only a reference to them.
		requestURI, f := a.pushAuthorizationRequest(e, q)
		if f != nil {
			return "", f
		}
		q = url.Values{"client_id": {a.clientID}, "request_uri": {requestURI}}
	}
	separator := "?"
	if strings.Contains(e.authorization, "?") {
		separator = "&"
	}

	state := a.pendingLogins(r)
	state.Logins = append(state.Logins, login)
	if len(state.Logins) > maxPendingLogins {
		state.Logins = state.Logins[len(state.Logins)-maxPendingLogins:]
	}
	if f := a.writeLoginState(w.Header(), state); f != nil {
		return "", f
	}
	return e.authorization + separator + q.Encode(), nil
}

// usePAR reports whether a login pushes its authorization request (pushedAuthorizationRequests):
// always, never, or (auto) when discovery says the server requires it.
func (a *Agent) usePAR(e endpoints) bool {
	switch a.pushedAuthorizationRequests {
	case parAlways:
		return true
	case parNever:
		return false
	}
	return e.requirePAR
}

// pushAuthorizationRequest posts the authorization parameters to the PAR endpoint with the
// client's authentication and returns the request_uri it answers with (RFC 9126 §2).
func (a *Agent) pushAuthorizationRequest(e endpoints, params url.Values) (string, *failure) {
	if e.par == "" {
		return "", serverFailure("PAR: the authorization server has no pushed_authorization_request_endpoint (configure pushedAuthorizationRequestEndpoint, or pushedAuthorizationRequests: never)")
	}
	form := url.Values{}
	for k, v := range params {
		form[k] = v
	}
	resp, err := a.provider.client.Do(backchannel.Request{
		Method: http.MethodPost, URL: e.par, Form: form, Accept: "application/json",
		ClientAuth: a.clientAuth, AssertionAudience: a.assertionAudienceFor(e),
	})
	if err != nil {
		return "", serverFailure("PAR: the pushed authorization request endpoint " + err.Error())
	}
	if resp.Status != http.StatusCreated && resp.Status != http.StatusOK {
		return "", serverFailure("PAR: the pushed authorization request endpoint answered " + strconv.Itoa(resp.Status) + " " + oauthErrorCode(resp.Body))
	}
	var answer struct {
		RequestURI string `json:"request_uri"`
	}
	if json.Unmarshal(resp.Body, &answer) != nil || answer.RequestURI == "" || len(answer.RequestURI) > 1024 {
		return "", serverFailure("PAR: the answer has no usable request_uri")
	}
	return answer.RequestURI, nil
}

// pendingLogins reads the -login cookie, keeping the logins that have not expired. A cookie that
// does not decrypt (a rotated key) counts as no pending login.
func (a *Agent) pendingLogins(r *http.Request) loginState {
	var state loginState
	plain, err := a.cookies.Read(r, a.cookies.Login)
	if err != nil || json.Unmarshal([]byte(plain), &state) != nil {
		return loginState{}
	}
	now := time.Now()
	kept := state.Logins[:0]
	for _, l := range state.Logins {
		if created := time.Unix(l.Created, 0); now.Sub(created) < loginLifetime && l.State != "" {
			kept = append(kept, l)
		}
	}
	state.Logins = kept
	return state
}

// writeLoginState stores the pending logins, or clears the cookie when there are none.
func (a *Agent) writeLoginState(h http.Header, state loginState) *failure {
	if len(state.Logins) == 0 {
		cookies.Clear(h, a.cookies.Login)
		return nil
	}
	plain, _ := json.Marshal(state)
	return a.setCookie(h, nil, a.cookies.Login, string(plain))
}

// loginEndAnswer is /login/end's answer; csrf is omitted when empty, as Curity's agent does.
type loginEndAnswer struct {
	Handled    bool   `json:"handled"`
	IsLoggedIn bool   `json:"isLoggedIn"`
	CSRF       string `json:"csrf,omitempty"`
}

// endLogin answers POST /login/end, which the SPA calls on every page load with its URL: a code
// response completes the login, an error response reports the authorization server's error, and
// anything else reports whether the session cookies are there.
func (a *Agent) endLogin(w http.ResponseWriter, r *http.Request) *failure {
	var body struct {
		PageURL string `json:"pageUrl"`
	}
	if f := readJSON(r, &body); f != nil {
		return f
	}
	if body.PageURL == "" {
		return a.reportSession(w, r)
	}
	if len(body.PageURL) > maxPageURLLength {
		return rejected(apierror.AgentInvalidPageURL, "pageUrl is longer than 8192 characters")
	}
	page, err := url.Parse(body.PageURL)
	if err != nil {
		return rejected(apierror.AgentInvalidPageURL, "pageUrl is not a URL")
	}
	query, err := url.ParseQuery(page.RawQuery)
	if err != nil {
		return rejected(apierror.AgentInvalidPageURL, "pageUrl has a malformed query")
	}
	for _, name := range []string{"code", "state", "error", "error_description", "iss"} {
		if len(query[name]) > 1 {
			return rejected(apierror.AgentInvalidPageURL, "pageUrl has more than one "+name+" parameter")
		}
	}
	if (query.Get("code") == "" && query.Get("error") == "") || query.Get("state") == "" {
		return a.reportSession(w, r)
	}
	login, f := a.handleAuthorizationResponse(w, r, query)
	if f != nil {
		return f
	}
	writeJSON(w, loginEndAnswer{Handled: true, IsLoggedIn: true, CSRF: login.csrf})
	return nil
}

// handleAuthorizationResponse completes a login with the authorization response in query, which
// has a state and a code or an error, each at most once: the issuer is checked (RFC 9207), a
// code is exchanged, and an error becomes the failure the SPA is answered with.
func (a *Agent) handleAuthorizationResponse(w http.ResponseWriter, r *http.Request, query url.Values) (completedLogin, *failure) {
	if f := a.checkResponseIssuer(query); f != nil {
		return completedLogin{}, f
	}
	state := query.Get("state")
	if code := query.Get("code"); code != "" {
		return a.completeLogin(w, r, code, state)
	}
	// The description is the authorization server's only when the state is this browser's:
	// anyone can make a page URL with an error and a description of their choosing.
	description := ""
	if _, f := a.takePendingLogin(w, r, state); f == nil {
		description = query.Get("error_description")
	}
	answer := apierror.FrontChannel(query.Get("error"), description)
	return completedLogin{}, rejected(answer, "the authorization server answered the login with "+answer.Code)
}

// checkResponseIssuer is RFC 9207's defence against mix-up attacks: an authorization response
// (success or error) that carries iss must carry the configured issuer, and must carry it when
// discovery says the server always sends it. It comes before anything else is done with the
// response, the server's own error included.
func (a *Agent) checkResponseIssuer(query url.Values) *failure {
	iss, present := query["iss"]
	if present && iss[0] != a.issuer {
		return rejected(apierror.AgentIssuerMismatch, "the authorization response's iss is not the configured issuer (a mix-up?)")
	}
	if present {
		return nil
	}
	e, err := a.provider.endpoints()
	if err != nil {
		return serverFailure(err.Error())
	}
	if e.issInResponses {
		return rejected(apierror.AgentIssuerMismatch, "the authorization response has no iss, which the authorization server says it always sends")
	}
	return nil
}

// reportSession answers a v1 page load: logged in when the access token and CSRF cookies are
// there and decrypt.
func (a *Agent) reportSession(w http.ResponseWriter, r *http.Request) *failure {
	csrf, _ := a.readSession(w, r)
	writeJSON(w, loginEndAnswer{IsLoggedIn: csrf != "", CSRF: csrf})
	return nil
}

// readSession reports whether the request carries a session: an access token cookie that
// decrypts and, in v1, a CSRF cookie that holds a CSRF token (returned; "" in v2). Cookies that do
// not decrypt (the key was rotated without keeping the old one) are cleared and count as no
// session, so that the SPA simply offers to sign in again.
func (a *Agent) readSession(w http.ResponseWriter, r *http.Request) (csrf string, ok bool) {
	if !cookies.Present(r, a.cookies.AccessToken) {
		return "", false
	}
	if !a.v2 {
		csrf = a.csrfToken(r)
	}
	if _, err := a.cookies.Read(r, a.cookies.AccessToken); err != nil || (csrf == "" && !a.v2) {
		a.log.Printf(logger.Info, "session cookies that do not decrypt were cleared on %s", r.URL.Path)
		a.cookies.ClearSession(w.Header())
		return "", false
	}
	return csrf, true
}

// takePendingLogin finds this browser's pending login for state and uses it up, whatever happens
// next, so that a failed completion cannot be retried with it (RFC 9700 §4.2.4): the -login
// cookie of the answer no longer holds it (other tabs' pending logins stay), and this instance
// refuses it even if the old cookie is sent again.
func (a *Agent) takePendingLogin(w http.ResponseWriter, r *http.Request, state string) (pendingLogin, *failure) {
	pending := a.pendingLogins(r)
	if len(pending.Logins) == 0 {
		return pendingLogin{}, rejected(apierror.AgentMissingVerifier, "no login is pending in the "+a.cookies.Login.Name+" cookie")
	}
	match := -1
	for i, l := range pending.Logins {
		if subtle.ConstantTimeCompare([]byte(l.State), []byte(state)) == 1 {
			match = i
		}
	}
	if match < 0 {
		return pendingLogin{}, rejected(apierror.AgentStateMismatch, "the state is not one of a pending login (forged, replayed or expired)")
	}
	login := pending.Logins[match]
	pending.Logins = append(pending.Logins[:match], pending.Logins[match+1:]...)
	if f := a.writeLoginState(w.Header(), pending); f != nil {
		return pendingLogin{}, f
	}
	if !a.usedStates.use(login.State, time.Now()) {
		return pendingLogin{}, rejected(apierror.AgentStateMismatch, "the state was already used at this instance (a replayed -login cookie)")
	}
	return login, nil
}

// completedLogin is what a completed login stored: its tokens and, in v1, the session's CSRF
// token.
type completedLogin struct {
	tokens tokenResponse
	csrf   string
}

// completeLogin finishes a login: the state must be one of this browser's pending logins, the
// code is exchanged with its PKCE verifier, the ID token must be valid for its nonce, and the
// session cookies are written.
func (a *Agent) completeLogin(w http.ResponseWriter, r *http.Request, code, state string) (completedLogin, *failure) {
	login, f := a.takePendingLogin(w, r, state)
	if f != nil {
		return completedLogin{}, f
	}

	e, err := a.provider.endpoints()
	if err != nil {
		return completedLogin{}, serverFailure(err.Error())
	}
	form := url.Values{}
	form.Set("grant_type", "authorization_code")
	form.Set("code", code)
	form.Set("redirect_uri", a.redirectURI)
	form.Set("code_verifier", login.CodeVerifier)
	tokens, f := a.callTokenEndpoint(e, form, "code exchange")
	if f != nil {
		return completedLogin{}, f
	}
	if tokens.IDToken == "" && strings.Contains(" "+a.scope+" ", " openid ") {
		return completedLogin{}, rejected(apierror.AgentInvalidIDToken, "the token response has no id_token")
	}
	if tokens.IDToken != "" {
		if err := a.validateIDToken(tokens.IDToken, login.Nonce); err != nil {
			return completedLogin{}, idTokenFailure(err)
		}
	}

	// v1: another tab may already be signed in: keep its CSRF value, which that tab holds in
	// memory. v2 has no CSRF token.
	csrf := ""
	if !a.v2 {
		csrf = a.csrfToken(r)
	}
	if csrf == "" && !a.v2 {
		if csrf, err = newCSRFToken(); err != nil {
			return completedLogin{}, &failure{answer: apierror.AgentServerError, level: logger.Error, problem: "reading random bytes: " + err.Error()}
		}
	}
	if f := a.writeSession(w, r, tokens, csrf); f != nil {
		return completedLogin{}, f
	}
	return completedLogin{tokens: tokens, csrf: csrf}, nil
}

// setCookie encrypts value and sets it as cookie c (the -login cookie, which is small); it fails
// only if the system's random source does.
func (a *Agent) setCookie(h http.Header, r *http.Request, c cookies.Cookie, value string) *failure {
	if err := a.cookies.Write(h, r, c, value); err != nil {
		return &failure{answer: apierror.AgentServerError, level: logger.Error, problem: err.Error()}
	}
	return nil
}

// writeSession sets the cookies of the tokens that came back (and of the CSRF token, when csrf is
// set, and in v2 of the access token's expiry), all or none: they are written aside first, so
// that a token too large for maxCookieChunks leaves no partial session (contract §6.1).
func (a *Agent) writeSession(w http.ResponseWriter, r *http.Request, tokens tokenResponse, csrf string) *failure {
	session := http.Header{}
	if a.v2 {
		if f := a.writeAccessTokenExpiry(session, tokens); f != nil {
			return f
		}
	}
	values := []struct {
		cookie cookies.Cookie
		value  string
	}{
		{a.cookies.AccessToken, tokens.AccessToken},
		{a.cookies.CSRF, csrf},
		{a.cookies.RefreshToken, tokens.RefreshToken},
		{a.cookies.IDToken, tokens.IDToken},
	}
	for _, v := range values {
		if v.value == "" {
			continue
		}
		if f := a.setCookie(session, r, v.cookie, v.value); f != nil {
			return f
		}
	}
	h := w.Header()
	for _, line := range session["Set-Cookie"] {
		h.Add("Set-Cookie", line)
	}
	return nil
}

// idTokenFailure answers an ID token that failed validation: 502 when the keys could not be had
// (the authorization server's fault), 400 invalid_request otherwise.
func idTokenFailure(err error) *failure {
	if errors.Is(err, errKeysUnavailable) {
		return serverFailure("ID token: " + err.Error())
	}
	return &failure{answer: apierror.AgentInvalidIDToken, level: logger.Warn, problem: "ID token: " + err.Error()}
}

// csrfTokenPrefix starts the CSRF tokens this agent makes. The cookie format has no associated
// data, so a cookie's ciphertext could be moved under another cookie's name; a -csrf plaintext
// must look like a CSRF token before /login/end hands it to JavaScript, so that a token moved
// there never is.
const csrfTokenPrefix = "csrf1_"

// newCSRFToken returns a fresh CSRF token.
func newCSRFToken() (string, error) {
	random, err := randomToken()
	if err != nil {
		return "", err
	}
	return csrfTokenPrefix + random, nil
}

// csrfToken returns the -csrf cookie's plaintext if it is a CSRF token: ours, or the 64
// alphanumeric characters of Curity's agents (so that sessions survive a move from theirs to ours).
func (a *Agent) csrfToken(r *http.Request) string {
	csrf, _ := a.cookies.Read(r, a.cookies.CSRF)
	switch {
	case strings.HasPrefix(csrf, csrfTokenPrefix) && len(csrf) == len(csrfTokenPrefix)+43:
		return csrf
	case len(csrf) == 64 && strings.Trim(csrf, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") == "":
		return csrf
	}
	return ""
}
