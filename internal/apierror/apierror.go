// Package apierror holds every error status and JSON body that the three roles answer with, so
// that a body is written in one place and an SPA sees the same shape from each of them.
package apierror

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// Error is one error answer: an HTTP status and the {"code","message"} body.
type Error struct {
	Status  int
	Code    string
	Message string
	body    []byte
	length  string
}

type wireError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// New builds an Error and renders its body once.
func New(status int, code, message string) *Error {
	body, _ := json.Marshal(wireError{Code: code, Message: message})
	return &Error{Status: status, Code: code, Message: message, body: body, length: strconv.Itoa(len(body))}
}

// Body returns the rendered JSON body.
func (e *Error) Body() []byte { return e.body }

// Write answers the request with this error. Headers already set on w (CORS, WWW-Authenticate,
// Set-Cookie) are kept. A HEAD request gets the headers without a body.
func (e *Error) Write(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", e.length)
	w.WriteHeader(e.Status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(e.body)
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
)

// InternalError is the answer to a panic caught in a role's ServeHTTP.
var InternalError = New(http.StatusInternalServerError, "server_error", "Problem encountered processing the request")
