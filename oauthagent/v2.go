package oauthagent

import (
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tokenhandler/traefik-token-handler/internal/apierror"
	"github.com/tokenhandler/traefik-token-handler/internal/cookies"
	"github.com/tokenhandler/traefik-token-handler/internal/jwt"
)

// The v2 API (agentApi: v2, contract §6.8) is the API of Curity's current token handler, as its
// browser library @curity/token-handler-js-assistant speaks it:
//
//	POST /login/start  form: extra authorization parameters → {"authorization_url"}
//	POST /login/end    form: the callback page's query      → {"is_logged_in","id_token_claims",
//	                                                           "access_token_expires_in"}
//	GET  /session                                           → the same
//	POST /refresh                                           → {"access_token_expires_in"}
//	POST /logout                                            → {"logout_url"} (absent without an
//	                                                           end-session endpoint)
//
// Every request carries the token-handler-version header instead of a CSRF token, and errors are
// {"error_code","detailed_error"}. The handlers here only read v2's requests and write its
// answers: the login, the session cookies, refresh and logout are v1's code paths.

// routeV2 returns the handler and method of an endpoint of the v2 API (nil: no such endpoint).
func (a *Agent) routeV2(endpoint string) (func(http.ResponseWriter, *http.Request) *failure, string) {
	switch endpoint {
	case "/login/start":
		return a.startLoginV2, http.MethodPost
	case "/login/end":
		return a.endLoginV2, http.MethodPost
	case "/session":
		return a.session, http.MethodGet
	case "/refresh":
		return a.refreshV2, http.MethodPost
	case "/logout":
		return a.logoutV2, http.MethodPost
	}
	return nil, ""
}

// supportedVersion is the token-handler-version this agent speaks, the one the browser library
// sends.
const supportedVersion = "1"

// checkVersionHeader refuses a request without the token-handler-version header (v2's CSRF
// defence, 401 like v1's missing CSRF token) or with a version this agent does not speak.
func checkVersionHeader(r *http.Request) *failure {
	if err := cookies.CheckVersionHeader(r); err != nil {
		return rejected(apierror.AgentUnauthorized, err.Error())
	}
	if r.Header[cookies.VersionHeader][0] != supportedVersion {
		return rejected(apierror.AgentUnsupportedVersion, "the token-handler-version header is not "+supportedVersion)
	}
	return nil
}

// protectedParamsV2 are v1's protected parameters but scope, which a v2 SPA may set (it
// replaces the configured scope), as Curity's v2 token handler allows.
var protectedParamsV2 = withoutParam(protectedParams, "scope")

func withoutParam(params map[string]bool, name string) map[string]bool {
	kept := make(map[string]bool, len(params))
	for p := range params {
		if p != name {
			kept[p] = true
		}
	}
	return kept
}

// maxFormValueBytes bounds each parameter of a form body: an authorization response's values
// are far shorter, as v1's 8192-byte page URL bounds them.
const maxFormValueBytes = maxPageURLLength

// readForm reads an optional application/x-www-form-urlencoded body (with any parameters, such
// as the charset browsers add), each parameter at most once and at most maxFormValueBytes long.
// An empty body is an empty form, whatever its Content-Type.
func readForm(r *http.Request) (url.Values, *failure) {
	form := url.Values{}
	if r.Body == nil {
		return form, nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
	if err != nil {
		return nil, rejected(apierror.AgentMalformedForm, "reading the request body: "+err.Error())
	}
	if len(body) > maxBodyBytes {
		return nil, rejected(apierror.AgentBodyTooLarge, "the request body is larger than 64 KiB")
	}
	if len(body) == 0 {
		return form, nil
	}
	if mediaType, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mediaType != "application/x-www-form-urlencoded" {
		return nil, rejected(apierror.AgentMalformedForm, "the request body is not application/x-www-form-urlencoded")
	}
	form, err = url.ParseQuery(string(body))
	if err != nil {
		return nil, rejected(apierror.AgentMalformedForm, "the request body is not a well-formed form")
	}
	for name, values := range form {
		if len(values) > 1 {
			return nil, rejected(apierror.AgentMalformedForm, "the form has more than one "+boundedName(name)+" parameter")
		}
		if len(values[0]) > maxFormValueBytes || len(name) > maxFormValueBytes {
			return nil, rejected(apierror.AgentMalformedForm, "the form's "+boundedName(name)+" parameter is longer than 8192 bytes")
		}
	}
	return form, nil
}

// boundedName quotes a parameter name for a log line, cut to 64 bytes: it comes from the request.
func boundedName(name string) string {
	if len(name) > 64 {
		name = name[:64] + "..."
	}
	return strconv.Quote(name)
}

// startLoginV2 answers POST /login/start: the form's parameters are extra authorization
// parameters.
func (a *Agent) startLoginV2(w http.ResponseWriter, r *http.Request) *failure {
	form, f := readForm(r)
	if f != nil {
		return f
	}
	authorizationURL, f := a.beginLogin(w, r, form, protectedParamsV2)
	if f != nil {
		return f
	}
	writeJSON(w, map[string]string{"authorization_url": authorizationURL})
	return nil
}

// endLoginV2 answers POST /login/end, whose form is the callback page's query: a code or error
// response completes the login as v1 does. A form without any response parameter reports the
// session, as v1's page load does.
func (a *Agent) endLoginV2(w http.ResponseWriter, r *http.Request) *failure {
	form, f := readForm(r)
	if f != nil {
		return f
	}
	if _, jarm := form["response"]; jarm {
		return rejected(apierror.AgentJARMResponse, "the authorization response is a JARM response, which this agent does not request")
	}
	code, state, oauthError := form.Get("code"), form.Get("state"), form.Get("error")
	if code == "" && state == "" && oauthError == "" {
		return a.session(w, r)
	}
	if state == "" || (code == "" && oauthError == "") {
		return rejected(apierror.AgentIncompleteResponse, "the authorization response lacks a state, or both code and error")
	}
	login, f := a.handleAuthorizationResponse(w, r, form)
	if f != nil {
		return f
	}
	writeJSON(w, sessionAnswer{
		IsLoggedIn:           true,
		IDTokenClaims:        idTokenClaimsJSON(login.tokens.IDToken),
		AccessTokenExpiresIn: secondsLeft(login.tokens.accessTokenExpiry()),
	})
	return nil
}

// sessionAnswer is the answer of /session and /login/end. Nil members are JSON null.
type sessionAnswer struct {
	IsLoggedIn           bool            `json:"is_logged_in"`
	IDTokenClaims        json.RawMessage `json:"id_token_claims"`
	AccessTokenExpiresIn *int64          `json:"access_token_expires_in"`
}

// session answers GET /session from the cookies: whether they hold a session, the ID token's
// claims and how long the access token has left.
func (a *Agent) session(w http.ResponseWriter, r *http.Request) *failure {
	if _, ok := a.readSession(w, r); !ok {
		writeJSON(w, sessionAnswer{})
		return nil
	}
	answer := sessionAnswer{IsLoggedIn: true}
	if idToken, err := a.cookies.Read(r, a.cookies.IDToken); err == nil {
		answer.IDTokenClaims = idTokenClaimsJSON(idToken)
	}
	if plain, err := a.cookies.Read(r, a.cookies.AccessTokenExpiry); err == nil {
		if unix, err := strconv.ParseInt(plain, 10, 64); err == nil {
			answer.AccessTokenExpiresIn = secondsLeft(time.Unix(unix, 0), true)
		}
	}
	writeJSON(w, answer)
	return nil
}

// refreshV2 answers POST /refresh with the new access token's lifetime. Extra refresh parameters
// are refused: concurrent refreshes of a session share one token call (refreshes), so one tab's
// parameters would apply to another's refresh.
func (a *Agent) refreshV2(w http.ResponseWriter, r *http.Request) *failure {
	form, f := readForm(r)
	if f != nil {
		return f
	}
	if len(form) > 0 {
		return rejected(apierror.AgentRefreshParams, "the refresh request has extra parameters")
	}
	tokens, f := a.refreshSession(w, r)
	if f != nil {
		return f
	}
	writeJSON(w, map[string]*int64{"access_token_expires_in": secondsLeft(tokens.accessTokenExpiry())})
	return nil
}

// logoutV2 answers POST /logout with the end-session URL, or {} when the authorization server
// has none.
func (a *Agent) logoutV2(w http.ResponseWriter, r *http.Request) *failure {
	logoutURL, f := a.endSession(w, r)
	if f != nil {
		return f
	}
	answer := map[string]string{}
	if logoutURL != "" {
		answer["logout_url"] = logoutURL
	}
	writeJSON(w, answer)
	return nil
}

// idTokenClaimsJSON returns an ID token's claims, or nil (JSON null) when there is no readable
// ID token. The token came from the token endpoint and was validated then.
func idTokenClaimsJSON(idToken string) json.RawMessage {
	if idToken == "" {
		return nil
	}
	parsed, err := jwt.Parse(idToken)
	if err != nil {
		return nil
	}
	return json.RawMessage(parsed.Payload)
}

// maxExpiresIn bounds the expires_in values taken as they are: a larger value is no lifetime a
// server means (and would overflow a duration).
const maxExpiresIn = 10 * 365 * 24 * 3600

// accessTokenExpiry returns when the access token expires, from expires_in counted from when the
// answer arrived; false when the server sent none, or one that is not a positive number of
// seconds (a numeric string is accepted, as some servers send one).
func (t tokenResponse) accessTokenExpiry() (time.Time, bool) {
	seconds, err := strconv.ParseFloat(strings.Trim(string(t.ExpiresIn), `"`), 64)
	if err != nil || !(seconds > 0 && seconds <= maxExpiresIn) {
		return time.Time{}, false
	}
	return t.received.Add(time.Duration(seconds * float64(time.Second))), true
}

// secondsLeft is the whole seconds until expiry (0 once past), or nil when it is not known.
func secondsLeft(expiry time.Time, known bool) *int64 {
	if !known {
		return nil
	}
	left := int64(time.Until(expiry) / time.Second)
	if left < 0 {
		left = 0
	}
	return &left
}

// writeAccessTokenExpiry stores when the access token of tokens expires, in the -exp cookie, so
// that /session can say it after a reload; without an expires_in it clears a stale one.
func (a *Agent) writeAccessTokenExpiry(h http.Header, tokens tokenResponse) *failure {
	expiry, known := tokens.accessTokenExpiry()
	if !known {
		cookies.Clear(h, a.cookies.AccessTokenExpiry)
		return nil
	}
	return a.setCookie(h, nil, a.cookies.AccessTokenExpiry, strconv.FormatInt(expiry.Unix(), 10))
}
