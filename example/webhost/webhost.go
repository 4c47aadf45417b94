package main

import (
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strings"
)

// defaultHost stands in for a Host header that is missing or not a plain host name.
const defaultHost = "www.example.localhost:8080"

// The OAuth Agent APIs the SPA speaks (config.json's agentApi): Curity's v1 token handler API, or
// its v2 API, which has no CSRF token and whose SPAs read userinfo through the OAuth Proxy.
const (
	agentAPIV1 = "v1"
	agentAPIV2 = "v2"
)

// webHost serves the SPA. files is the SPA directory; oauthAgentURL, apiURL and userInfoURL
// override the per-request derivation when set; agentAPI is agentAPIV1 or agentAPIV2 ("" is v1).
type webHost struct {
	files         fs.FS
	oauthAgentURL string
	apiURL        string
	userInfoURL   string
	agentAPI      string
}

func (h *webHost) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	agentURL, apiURL, userInfoURL := h.endpoints(r)
	setSecurityHeaders(w.Header(), agentURL, apiURL, userInfoURL)

	switch r.URL.Path {
	case "/config.json":
		agentAPI := h.agentAPI
		if agentAPI == "" {
			agentAPI = agentAPIV1
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-cache")
		_ = json.NewEncoder(w).Encode(map[string]string{
			"oauthAgentUrl": agentURL, "apiUrl": apiURL, "userInfoUrl": userInfoURL, "agentApi": agentAPI,
		})
	case "/health":
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "ok\n")
	default:
		h.serveFile(w, r)
	}
}

// endpoints returns the OAuth Agent's and the API's base URLs and the userinfo URL (the OAuth
// Proxy's route to the authorization server's userinfo endpoint) for this request.
func (h *webHost) endpoints(r *http.Request) (agentURL, apiURL, userInfoURL string) {
	agentURL, apiURL, userInfoURL = h.oauthAgentURL, h.apiURL, h.userInfoURL
	if agentURL == "" || apiURL == "" || userInfoURL == "" {
		base := apiBaseURL(r)
		if agentURL == "" {
			agentURL = base + "/oauth-agent"
		}
		if apiURL == "" {
			apiURL = base + "/api"
		}
		if userInfoURL == "" {
			userInfoURL = base + "/oauth-userinfo"
		}
	}
	return agentURL, apiURL, userInfoURL
}

// apiBaseURL derives the API host's URL from the web host's: www.example.localhost:8080 becomes
// http://api.example.localhost:8080. A host without "www." is kept as it is (the agent and API
// are then expected on the web origin). The scheme is the one the browser used, as reported by
// Traefik in X-Forwarded-Proto.
func apiBaseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if p := r.Header.Get("X-Forwarded-Proto"); p == "http" || p == "https" {
		scheme = p
	}
	host := strings.ToLower(r.Host)
	if !plainHost(host) {
		host = defaultHost
	}
	if rest, ok := strings.CutPrefix(host, "www."); ok {
		host = "api." + rest
	}
	return scheme + "://" + host
}

// plainHost accepts host names and host:port, nothing that could inject into a header or a URL.
func plainHost(host string) bool {
	if host == "" || len(host) > 255 {
		return false
	}
	for _, c := range host {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == ':') {
			return false
		}
	}
	return true
}

// setSecurityHeaders: the SPA loads only its own scripts and styles (no inline code, no CDN) and
// talks only to this origin (config.json) and the OAuth Agent, API and userinfo origins.
func setSecurityHeaders(hdr http.Header, agentURL, apiURL, userInfoURL string) {
	connect := []string{"'self'"}
	for _, u := range []string{agentURL, apiURL, userInfoURL} {
		if o := origin(u); o != "" && !contains(connect, o) {
			connect = append(connect, o)
		}
	}
	hdr.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; "+
		"img-src 'self' data:; connect-src "+strings.Join(connect, " ")+"; "+
		"base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "no-referrer")
}

func origin(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.Host == "" || !plainHost(strings.ToLower(u.Host)) {
		return ""
	}
	return u.Scheme + "://" + strings.ToLower(u.Host)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// serveFile serves a file from the SPA directory. A path without an extension that is not a file
// is one of the SPA's own routes, so it gets index.html.
func (h *webHost) serveFile(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
	if name == "" {
		name = "index.html"
	}
	f, err := h.open(name)
	if err != nil && path.Ext(name) == "" {
		name = "index.html"
		f, err = h.open(name)
	}
	if err != nil {
		http.NotFound(w, r)
		return
	}
	defer f.Close()
	st, err := f.Stat()
	rs, ok := f.(io.ReadSeeker)
	if err != nil || !ok {
		http.Error(w, "cannot read file", http.StatusInternalServerError)
		return
	}
	// The files are not fingerprinted (there is no build step), so the browser revalidates every
	// file, and an edited app.js is picked up on the next reload.
	w.Header().Set("Cache-Control", "no-cache")
	http.ServeContent(w, r, name, st.ModTime(), rs)
}

// open opens a regular file. Directories and dot-files count as missing; os.DirFS already refuses
// names that climb out of the directory.
func (h *webHost) open(name string) (fs.File, error) {
	for _, part := range strings.Split(name, "/") {
		if strings.HasPrefix(part, ".") {
			return nil, fs.ErrNotExist
		}
	}
	f, err := h.files.Open(name)
	if err != nil {
		return nil, err
	}
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		f.Close()
		return nil, fs.ErrNotExist
	}
	return f, nil
}
