// Package apierror holds every error status and JSON body that the three roles answer with, so
// that a body is written in one place and an SPA sees the same shape from each of them.
package apierror

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/tokenhandler/traefik-token-handler/internal/logger"
)

// Error is one error answer: an HTTP status and the {"code","message"} body, or, for the OAuth
// Agent's v2 API, the same code and message as {"error_code","detailed_error"}.
type Error struct {
	Status  int
	Code    string
	Message string
	body    []byte
	bodyV2  []byte
	// The bodies' lengths, rendered once: Write is on the rejection path of every role.
	length, lengthV2 string
}

type wireError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// wireErrorV2 is the error body of Curity's v2 token handler API, as its browser library
// (@curity/token-handler-js-assistant) reads it.
type wireErrorV2 struct {
	Code    string `json:"error_code"`
	Message string `json:"detailed_error"`
}

// New builds an Error and renders its bodies once.
func New(status int, code, message string) *Error {
	body, _ := json.Marshal(wireError{Code: code, Message: message})
	bodyV2, _ := json.Marshal(wireErrorV2{Code: code, Message: message})
	return &Error{Status: status, Code: code, Message: message, body: body, bodyV2: bodyV2,
		length: strconv.Itoa(len(body)), lengthV2: strconv.Itoa(len(bodyV2))}
}

// Write answers the request with this error. Headers already set on w (CORS, WWW-Authenticate,
// Set-Cookie) are kept. A HEAD request gets the headers without a body.
func (e *Error) Write(w http.ResponseWriter, r *http.Request) {
	writeBody(w, r, e.Status, e.body, e.length)
}

// WriteV2 answers like Write with the v2 body. Its Content-Type is exactly application/json,
// which the v2 browser library compares literally before it reads error_code.
func (e *Error) WriteV2(w http.ResponseWriter, r *http.Request) {
	writeBody(w, r, e.Status, e.bodyV2, e.lengthV2)
}

func writeBody(w http.ResponseWriter, r *http.Request, status int, body []byte, length string) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", length)
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// The OAuth Proxy (bffToken) answers every rejection with this, as Curity's proxies do.
var ProxyUnauthorized = New(http.StatusUnauthorized, "unauthorized", "Access denied due to missing or invalid credentials")

// The phantom token role's answers.
var (
	PhantomUnauthorized = New(http.StatusUnauthorized, "unauthorized", "Missing, invalid or expired access token")
	PhantomForbidden    = New(http.StatusForbidden, "forbidden", "The token does not contain the required scope")
	PhantomBadGateway   = New(http.StatusBadGateway, "server_error", "Problem encountered authorizing the HTTP request")
	PhantomUnavailable  = New(http.StatusServiceUnavailable, "server_error", "Problem encountered authorizing the HTTP request")
	PhantomJWKSMethod   = New(http.StatusMethodNotAllowed, "method_not_allowed", "The JWKS answers GET and HEAD only")
)

// InternalError is the answer to a panic caught in a role's ServeHTTP.
var InternalError = New(http.StatusInternalServerError, "server_error", "Problem encountered processing the request")

// The OAuth Agent's answers: Curity's v1 error catalogue, codes, statuses and messages.
var (
	AgentUnauthorized         = New(http.StatusUnauthorized, "unauthorized_request", "Access denied due to invalid request details")
	AgentMissingVerifier      = New(http.StatusBadRequest, "invalid_request", "Missing code verifier when completing a login")
	AgentStateMismatch        = New(http.StatusBadRequest, "invalid_request", "State parameter mismatch when completing a login")
	AgentInvalidIDToken       = New(http.StatusBadRequest, "invalid_request", "ID Token missing or invalid")
	AgentMalformedBody        = New(http.StatusBadRequest, "invalid_request", "The request body is not valid JSON of the expected shape")
	AgentBodyTooLarge         = New(http.StatusBadRequest, "invalid_request", "The request body is too large")
	AgentInvalidPageURL       = New(http.StatusBadRequest, "invalid_request", "The pageUrl is not a valid URL or has duplicate or oversized parameters")
	AgentIssuerMismatch       = New(http.StatusBadRequest, "invalid_request", "The authorization response is not from the configured issuer")
	AgentProtectedParam       = New(http.StatusBadRequest, "invalid_request", "An extra parameter tries to set a parameter the OAuth Agent sets itself")
	AgentClaimsInvalid        = New(http.StatusBadRequest, "invalid_request", "The ID token in the cookie is not a readable JWT")
	AgentAuthorizationError   = New(http.StatusBadRequest, "authorization_error", "A request sent to the Authorization Server was rejected")
	AgentTokenExpired         = New(http.StatusUnauthorized, "token_expired", "A request sent to the Authorization Server was rejected")
	AgentSessionExpired       = New(http.StatusUnauthorized, "session_expired", "A request sent to the Authorization Server was rejected")
	AgentServerUnavailable    = New(http.StatusBadGateway, "authorization_server_error", "A problem occurred with a request to the Authorization Server")
	AgentServerError          = New(http.StatusInternalServerError, "server_error", "A technical problem occurred in the OAuth Agent")
	AgentNotFound             = New(http.StatusNotFound, "not_found", "The OAuth Agent has no such endpoint")
	AgentMethodNotAllowed     = New(http.StatusMethodNotAllowed, "method_not_allowed", "The OAuth Agent endpoint does not accept this method")
	agentFrontChannelFallback = "Login failed at the Authorization Server"
)

// The OAuth Agent's answers that only its v2 API gives (contract §6.8): v1 has no form bodies,
// no version header, and takes the whole page URL.
var (
	AgentMalformedForm      = New(http.StatusBadRequest, "invalid_request", "The request body is not a form of the expected shape: application/x-www-form-urlencoded, each parameter at most once and at most 8192 bytes")
	AgentUnsupportedVersion = New(http.StatusBadRequest, "invalid_request", "The token-handler-version is not one this OAuth Agent speaks (1)")
	AgentJARMResponse       = New(http.StatusBadRequest, "invalid_request", "JWT-secured authorization responses (JARM) are not supported")
	AgentIncompleteResponse = New(http.StatusBadRequest, "invalid_request", "The authorization response needs a state and either a code or an error")
	AgentRefreshParams      = New(http.StatusBadRequest, "invalid_request", "Extra refresh parameters are not supported: one refresh serves every tab of a session")
)

// FrontChannel is the answer to an error that the authorization server sent back to the SPA's
// page: its own code, with 401 for login_required (a prompt=none login that found no session) and
// 400 otherwise. Codes that are not plain tokens become authorization_error, and descriptions are
// bounded, since both come from the page's URL.
func FrontChannel(code, description string) *Error {
	if code == "" || len(code) > 64 || strings.Trim(code, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") != "" {
		code = "authorization_error"
	}
	if description == "" {
		description = agentFrontChannelFallback
	}
	if len(description) > 256 {
		description = description[:256]
	}
	status := http.StatusBadRequest
	if code == "login_required" {
		status = http.StatusUnauthorized
	}
	return New(status, code, description)
}

// Recover, deferred at the top of a handler, turns a panic into a 500 JSON answer and a log line,
// so that a fault answers like every other error. http.ErrAbortHandler, with which a handler
// deliberately aborts a response, is passed on.
func Recover(w http.ResponseWriter, r *http.Request, log *logger.Logger) {
	if v := recover(); v != nil {
		Recovered(w, r, log, v)
	}
}

// Recovered answers for a panic value that a deferred function recovered itself.
func Recovered(w http.ResponseWriter, r *http.Request, log *logger.Logger, v interface{}) {
	if v == http.ErrAbortHandler {
		panic(v)
	}
	log.Printf(logger.Error, "recovered from a panic serving %s %s: %v", r.Method, r.URL.Path, v)
	InternalError.Write(w, r)
}
