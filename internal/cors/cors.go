// Package cors decides which web origins are trusted and writes the CORS headers for them. The
// rules are those of Curity's OAuth Proxy: CORS headers go only to a trusted origin, a preflight is
// answered with 204 whatever the origin, and without a configured allow-list the requested
// headers are echoed back.
package cors

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Policy is everything needed per request, computed once in New.
type Policy struct {
	origins       map[string]bool
	allowMethods  string
	allowHeaders  string // empty: echo Access-Control-Request-Headers
	exposeHeaders string
	maxAge        string // empty: no Access-Control-Max-Age
}

// Options are the configured values a Policy is built from.
type Options struct {
	TrustedOrigins []string
	AllowMethods   []string
	AllowHeaders   []string
	ExposeHeaders  []string
	MaxAgeSeconds  int
}

// NewPolicy validates the trusted origins and precomputes the header values.
func NewPolicy(o Options) (*Policy, error) {
	origins, err := ParseOrigins(o.TrustedOrigins)
	if err != nil {
		return nil, err
	}
	p := &Policy{
		origins:       origins,
		allowMethods:  strings.Join(o.AllowMethods, ","),
		allowHeaders:  strings.Join(o.AllowHeaders, ","),
		exposeHeaders: strings.Join(o.ExposeHeaders, ","),
	}
	if o.MaxAgeSeconds < 0 {
		return nil, fmt.Errorf("must not be negative, got %d", o.MaxAgeSeconds)
	}
	if o.MaxAgeSeconds > 0 {
		p.maxAge = strconv.Itoa(o.MaxAgeSeconds)
	}
	return p, nil
}

// ParseOrigins validates web origins and returns them as a set. An origin is a scheme, a host and
// an optional port, as a browser serializes it in the Origin header: "null", wildcards, paths and
// queries are refused, because a request's Origin is compared to them byte for byte.
func ParseOrigins(list []string) (map[string]bool, error) {
	if len(list) == 0 {
		return nil, errors.New("at least one origin is required")
	}
	set := make(map[string]bool, len(list))
	for _, raw := range list {
		origin, err := parseOrigin(raw)
		if err != nil {
			return nil, err
		}
		set[origin] = true
	}
	return set, nil
}

func parseOrigin(raw string) (string, error) {
	s := strings.TrimSuffix(strings.TrimSpace(raw), "/")
	if s == "" || s == "null" || strings.Contains(s, "*") {
		return "", fmt.Errorf("%q is not a web origin: give scheme://host[:port]", raw)
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", fmt.Errorf("%q is not a web origin: give scheme://host[:port]", raw)
	}
	// Browsers send the scheme and host in lower case.
	return strings.ToLower(u.Scheme + "://" + u.Host), nil
}

// AddResponseHeaders adds the headers of a non-preflight response to a trusted origin.
func (p *Policy) AddResponseHeaders(h http.Header, origin string) {
	h.Set("Access-Control-Allow-Origin", origin)
	h.Set("Access-Control-Allow-Credentials", "true")
	if p.exposeHeaders != "" {
		h.Set("Access-Control-Expose-Headers", p.exposeHeaders)
	}
	h.Add("Vary", "Origin")
}

// AnswerPreflight answers an OPTIONS request with 204, with the CORS headers only when the origin
// is trusted, so that the browser refuses the real request from any other origin.
func (p *Policy) AnswerPreflight(w http.ResponseWriter, r *http.Request) {
	origin := r.Header.Get("Origin")
	if p.origins[origin] {
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Allow-Credentials", "true")
		h.Set("Access-Control-Allow-Methods", p.allowMethods)
		if p.allowHeaders != "" {
			h.Set("Access-Control-Allow-Headers", p.allowHeaders)
			h.Add("Vary", "Origin")
		} else {
			if requested := normalizeHeaderList(r.Header.Get("Access-Control-Request-Headers")); requested != "" {
				h.Set("Access-Control-Allow-Headers", requested)
			}
			h.Add("Vary", "Origin, Access-Control-Request-Headers")
		}
		if p.exposeHeaders != "" {
			h.Set("Access-Control-Expose-Headers", p.exposeHeaders)
		}
		if p.maxAge != "" {
			h.Set("Access-Control-Max-Age", p.maxAge)
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

// normalizeHeaderList turns "a, b ,c" into "a,b,c", the form Curity's Lua proxy echoes.
func normalizeHeaderList(list string) string {
	if list == "" {
		return ""
	}
	parts := strings.Split(list, ",")
	kept := parts[:0]
	for _, part := range parts {
		if part = strings.TrimSpace(part); part != "" {
			kept = append(kept, part)
		}
	}
	return strings.Join(kept, ",")
}
