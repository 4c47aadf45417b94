package oauthagent

import (
	"net/http"
	"strings"
)

// cookieJar knows the agent's cookies: their names, their attributes, and how to write and clear
// them. Attributes are fixed per cookie, so that a cookie is always cleared with the Path and
// Domain it was set with (Curity's Node agent clears -auth and -id on the wrong path, so browsers
// keep them).
type cookieJar struct {
	login, accessToken, refreshToken, idToken, idTokenHint, csrf cookieSpec
}

// cookieSpec is one cookie's name and the attributes written after its value.
type cookieSpec struct {
	name       string
	attributes string // "; Path=...; Domain=...; HttpOnly; Secure; SameSite=Strict"
}

func newCookieJar(prefix, basePath, pathPrefix, domain string, secure bool) cookieJar {
	spec := func(suffix, path string) cookieSpec {
		attrs := "; Path=" + path
		if domain != "" {
			attrs += "; Domain=" + domain
		}
		attrs += "; HttpOnly"
		if secure {
			attrs += "; Secure"
		}
		attrs += "; SameSite=Strict"
		return cookieSpec{name: prefix + "-" + suffix, attributes: attrs}
	}
	return cookieJar{
		login:        spec("login", basePath),
		accessToken:  spec("at", basePath),
		csrf:         spec("csrf", basePath),
		refreshToken: spec("auth", pathPrefix+"/refresh"),
		idToken:      spec("id", pathPrefix+"/claims"),
		// The ID token again, for the id_token_hint of /logout, which the -id cookie's path
		// keeps it from reaching.
		idTokenHint: spec("idhint", pathPrefix+"/logout"),
	}
}

// set adds a Set-Cookie header that stores value (already encrypted) as a session cookie.
func (c cookieSpec) set(h http.Header, value string) {
	h.Add("Set-Cookie", c.name+"="+value+c.attributes)
}

// clear adds a Set-Cookie header that deletes the cookie: empty, expired, same Path and Domain.
func (c cookieSpec) clear(h http.Header) {
	h.Add("Set-Cookie", c.name+"="+c.attributes+"; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT")
}

// clearSession deletes the cookies of a signed-in session, in Curity's order.
func (j cookieJar) clearSession(h http.Header) {
	j.refreshToken.clear(h)
	j.accessToken.clear(h)
	j.idToken.clear(h)
	j.csrf.clear(h)
	j.idTokenHint.clear(h)
}

// cookieValues returns every value the request carries for name, in order: a browser may send
// one name more than once when cookies with other paths or domains exist.
func cookieValues(r *http.Request, name string) []string {
	var values []string
	for _, c := range r.Cookies() {
		if c.Name == name {
			values = append(values, c.Value)
		}
	}
	return values
}

// validPath reports whether p can be a cookie Path and a URL path prefix.
func validPath(p string) bool {
	return strings.HasPrefix(p, "/") && !strings.ContainsAny(p, ";, \t\r\n?#")
}
