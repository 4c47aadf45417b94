// Package browser is a minimal browser for tests of the OAuth Agent: it keeps cookies the way a
// browser does (Path, Domain, expiry and Secure, through net/http/cookiejar), sends the Origin of
// the SPA, and serves requests either in process, through an http.Handler, or over HTTP.
package browser

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// Browser is one browser profile: its cookies are shared by every tab.
type Browser struct {
	Jar *cookiejar.Jar
	// Origin is sent on every request, as the SPA's fetch would.
	Origin string
	// Handler serves requests in process; when nil, Client sends them over HTTP.
	Handler http.Handler
	Client  *http.Client
	// Host, when set, is sent as the Host header of HTTP requests (to reach *.localhost routers
	// of a Traefik listening on 127.0.0.1).
	Host string
}

// New returns a browser with an empty cookie jar.
func New(origin string, handler http.Handler) *Browser {
	jar, _ := cookiejar.New(nil)
	return &Browser{Jar: jar, Origin: origin, Handler: handler, Client: &http.Client{
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// Response is an answer, read.
type Response struct {
	Status     int
	Header     http.Header
	Body       []byte
	SetCookies []string
}

// JSON decodes the body as an object.
func (r *Response) JSON(t testing.TB) map[string]interface{} {
	t.Helper()
	var v map[string]interface{}
	if err := json.Unmarshal(r.Body, &v); err != nil {
		t.Fatalf("status %d, body %q is not a JSON object: %v", r.Status, r.Body, err)
	}
	return v
}

// Code returns the "code" member of an error body.
func (r *Response) Code() string {
	var v struct {
		Code string `json:"code"`
	}
	_ = json.Unmarshal(r.Body, &v)
	return v.Code
}

// Do sends a request to rawURL with the browser's cookies and Origin plus headers, and stores
// the cookies of the answer.
func (b *Browser) Do(t testing.TB, method, rawURL, body string, headers map[string]string) *Response {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	var reader io.Reader
	if body != "" {
		reader = strings.NewReader(body)
	}
	var req *http.Request
	if b.Handler != nil {
		req = httptest.NewRequest(method, rawURL, reader)
	} else {
		req, err = http.NewRequest(method, rawURL, reader)
		if err != nil {
			t.Fatal(err)
		}
		if b.Host != "" {
			req.Host = b.Host
		}
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if b.Origin != "" {
		req.Header.Set("Origin", b.Origin)
	}
	for k, v := range headers {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	for _, c := range b.Jar.Cookies(u) {
		req.AddCookie(c)
	}

	var resp *Response
	if b.Handler != nil {
		rec := httptest.NewRecorder()
		b.Handler.ServeHTTP(rec, req)
		resp = &Response{Status: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
	} else {
		httpResp, err := b.Client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(httpResp.Body)
		httpResp.Body.Close()
		resp = &Response{Status: httpResp.StatusCode, Header: httpResp.Header, Body: data}
	}
	resp.SetCookies = resp.Header.Values("Set-Cookie")
	b.Jar.SetCookies(u, (&http.Response{Header: resp.Header}).Cookies())
	return resp
}

// CookieNames returns the names of the cookies the browser would send to rawURL.
func (b *Browser) CookieNames(rawURL string) []string {
	u, _ := url.Parse(rawURL)
	var names []string
	for _, c := range b.Jar.Cookies(u) {
		names = append(names, c.Name)
	}
	return names
}

// Cookie returns the value the browser would send for name to rawURL, or "".
func (b *Browser) Cookie(rawURL, name string) string {
	u, _ := url.Parse(rawURL)
	for _, c := range b.Jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}
