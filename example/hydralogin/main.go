// Command hydralogin is the login, consent and logout app of the Ory Hydra test set-up: Hydra
// sends the browser here with a challenge, and this app accepts the challenge through Hydra's
// admin API, which answers with the URL to send the browser back to.
//
// Environment (defaults in brackets): HOST [127.0.0.1], PORT [3010], HYDRA_ADMIN_URL
// [http://127.0.0.1:4445].
//
// Routes:
//   - GET /login?login_challenge=...: the sign-in form (or, when Hydra remembers the user, an
//     immediate accept); POST /login checks the password (demouser / Password1) and accepts the
//     login, or shows the form again with an error.
//   - GET /consent?consent_challenge=...: accepts, granting the requested scopes and audience,
//     with the user's profile claims in the ID token (and so in userinfo). A first-party app: no
//     consent screen.
//   - GET /logout?logout_challenge=...: accepts the logout.
//   - GET /health: 200.
package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// user is an account of this app: its password and the claims it gets in the ID token.
type user struct {
	password string
	claims   map[string]string
}

var users = map[string]user{
	"demouser": {password: "Password1", claims: map[string]string{
		"name": "Demo User", "given_name": "Demo", "family_name": "User", "preferred_username": "demouser",
	}},
}

func main() {
	log.SetFlags(log.LstdFlags | log.LUTC)
	log.SetPrefix("hydralogin: ")
	app := &app{admin: strings.TrimRight(env("HYDRA_ADMIN_URL", "http://127.0.0.1:4445"), "/"),
		client: &http.Client{Timeout: 10 * time.Second}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login", app.loginForm)
	mux.HandleFunc("POST /login", app.login)
	mux.HandleFunc("GET /consent", app.consent)
	mux.HandleFunc("GET /logout", app.logout)
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })

	srv := &http.Server{Addr: net.JoinHostPort(env("HOST", "127.0.0.1"), env("PORT", "3010")), Handler: mux,
		ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 20 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	log.Printf("listening on http://%s, Hydra's admin API at %s", srv.Addr, app.admin)
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}

type app struct {
	admin  string
	client *http.Client
}

// loginForm shows the sign-in form, unless Hydra already knows the user (skip).
func (a *app) loginForm(w http.ResponseWriter, r *http.Request) {
	challenge := r.URL.Query().Get("login_challenge")
	var req struct {
		Skip    bool   `json:"skip"`
		Subject string `json:"subject"`
	}
	if !a.call(w, http.MethodGet, "login", challenge, nil, &req) {
		return
	}
	if req.Skip {
		a.accept(w, r, "login", challenge, map[string]any{"subject": req.Subject})
		return
	}
	showForm(w, challenge, "", "")
}

// login checks the password and accepts the login. The form needs no CSRF token of its own: the
// accepted login only completes in the browser that holds Hydra's CSRF cookie for the challenge.
func (a *app) login(w http.ResponseWriter, r *http.Request) {
	challenge, username := r.PostFormValue("login_challenge"), r.PostFormValue("username")
	if !checkPassword(username, r.PostFormValue("password")) {
		log.Printf("wrong username or password for %q", username)
		showForm(w, challenge, username, "Invalid username or password")
		return
	}
	a.accept(w, r, "login", challenge, map[string]any{"subject": username, "remember": true, "remember_for": 3600})
}

// consent grants what the client asked for, with the user's claims in the ID token.
func (a *app) consent(w http.ResponseWriter, r *http.Request) {
	challenge := r.URL.Query().Get("consent_challenge")
	var req struct {
		Subject  string   `json:"subject"`
		Scope    []string `json:"requested_scope"`
		Audience []string `json:"requested_access_token_audience"`
	}
	if !a.call(w, http.MethodGet, "consent", challenge, nil, &req) {
		return
	}
	a.accept(w, r, "consent", challenge, map[string]any{
		"grant_scope":                 req.Scope,
		"grant_access_token_audience": req.Audience,
		"remember":                    false,
		"session":                     map[string]any{"id_token": users[req.Subject].claims},
	})
}

func (a *app) logout(w http.ResponseWriter, r *http.Request) {
	a.accept(w, r, "logout", r.URL.Query().Get("logout_challenge"), nil)
}

// accept accepts a challenge and sends the browser where Hydra says.
func (a *app) accept(w http.ResponseWriter, r *http.Request, flow, challenge string, body any) {
	var accepted struct {
		RedirectTo string `json:"redirect_to"`
	}
	if a.call(w, http.MethodPut, flow+"/accept", challenge, body, &accepted) {
		http.Redirect(w, r, accepted.RedirectTo, http.StatusFound)
	}
}

// call sends one request to Hydra's admin API about a login, consent or logout challenge and
// decodes its JSON answer into out. On failure it answers the browser and returns false.
func (a *app) call(w http.ResponseWriter, method, path, challenge string, body, out any) bool {
	flow, _, _ := strings.Cut(path, "/")
	if challenge == "" {
		http.Error(w, "missing "+flow+"_challenge", http.StatusBadRequest)
		return false
	}
	var data []byte
	if body != nil {
		data, _ = json.Marshal(body)
	}
	u := a.admin + "/admin/oauth2/auth/requests/" + path + "?" + url.Values{flow + "_challenge": {challenge}}.Encode()
	req, _ := http.NewRequest(method, u, bytes.NewReader(data))
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.client.Do(req)
	if err != nil {
		log.Printf("%s %s: %v", method, path, err)
		http.Error(w, "the authorization server cannot be reached", http.StatusBadGateway)
		return false
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&e)
		log.Printf("%s %s: %s %s %s", method, path, resp.Status, e.Error, e.Description)
		http.Error(w, fmt.Sprintf("the %s request was refused: %s", flow, e.Error), http.StatusBadRequest)
		return false
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		log.Printf("%s %s: %v", method, path, err)
		http.Error(w, "the authorization server's answer is not JSON", http.StatusBadGateway)
		return false
	}
	return true
}

// checkPassword compares SHA-256 digests in constant time, for known and unknown users alike.
func checkPassword(username, password string) bool {
	u, known := users[username]
	want, got := sha256.Sum256([]byte(u.password)), sha256.Sum256([]byte(password))
	return subtle.ConstantTimeCompare(want[:], got[:]) == 1 && known
}

var form = template.Must(template.New("login").Parse(`<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Sign in</title>
<style>body{font-family:system-ui,sans-serif;background:#f4f5f7;margin:0}
main{max-width:22rem;margin:4rem auto;padding:1.5rem 2rem;background:#fff;border-radius:8px;box-shadow:0 1px 4px rgba(0,0,0,.15)}
label{display:block;margin-top:.8rem}input{box-sizing:border-box;width:100%;padding:.5rem;margin-top:.25rem;font-size:1rem}
button{margin-top:1.2rem;padding:.55rem 1rem;font-size:1rem;background:#2457c5;color:#fff;border:0;border-radius:4px}
#login-error{color:#b00020}.note{color:#666;font-size:.85rem}</style></head>
<body><main><h1>Sign in</h1>
<form method="post" action="/login" autocomplete="off">
<input type="hidden" name="login_challenge" value="{{.Challenge}}">
<label for="username">Username</label>
<input id="username" name="username" autocomplete="username" autofocus value="{{.Username}}">
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password">
{{if .Error}}<p id="login-error" role="alert">{{.Error}}</p>{{end}}
<button id="login" type="submit">Sign in</button>
</form>
<p class="note">Ory Hydra test set-up: demouser / Password1</p></main></body>
</html>
`))

func showForm(w http.ResponseWriter, challenge, username, message string) {
	if challenge == "" {
		http.Error(w, "missing login_challenge", http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
	if message != "" {
		w.WriteHeader(http.StatusUnauthorized)
	}
	_ = form.Execute(w, map[string]string{"Challenge": challenge, "Username": username, "Error": message})
}

func env(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}
