// Package cookies owns the token handler's cookie contract, for the OAuth Agent that writes the
// cookies and the OAuth Proxy that reads them, so that both read a cookie by the same rules:
//
//   - the names, derived from cookieNamePrefix: <prefix>-login, -at, -auth, -id, -idhint, -csrf,
//     and the CSRF header x-<prefix>-csrf;
//   - the attributes and Path each cookie is written with, and clearing with the same Path and
//     Domain (Curity's Node agent clears -auth and -id on the wrong path, so browsers keep them);
//   - reading: when a browser sends a name more than once (a stale cookie with another Path or
//     Domain), the first value that decrypts wins;
//   - the CSRF double-submit check, compared in constant time.
package cookies

import (
	"crypto/cipher"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/textproto"

	"github.com/tokenhandler/traefik-token-handler/internal/cookiecrypt"
)

// Options are the settings the cookies derive from. A reader (bffToken) needs only Prefix and
// Cipher; a writer (the agent) sets the rest.
type Options struct {
	// Prefix is cookieNamePrefix, which config.CookieNamePrefix has checked.
	Prefix string
	// Cipher encrypts and decrypts the values.
	Cipher *cookiecrypt.Cipher
	// BasePath is the Path of -at, -csrf and -login (cookieBasePath, default /).
	BasePath string
	// AgentPath is the agent's pathPrefix: -auth is on <AgentPath>/refresh, -id on
	// <AgentPath>/claims and -idhint on <AgentPath>/logout.
	AgentPath string
	// Domain is the Domain attribute; empty writes host-only cookies.
	Domain string
	// Secure sets the Secure attribute.
	Secure bool
}

// Cookie is one cookie's name and the attributes written after its value.
type Cookie struct {
	Name       string
	attributes string // "; Path=...; Domain=...; HttpOnly; Secure; SameSite=Strict"
}

// Jar is the cookie family of one configuration.
type Jar struct {
	cipher *cookiecrypt.Cipher

	Login, AccessToken, RefreshToken, IDToken, CSRF Cookie
	// IDTokenHint holds the ID token again, for the id_token_hint of /logout, which the -id
	// cookie's path keeps it from reaching.
	IDTokenHint Cookie
	// CSRFHeader is the CSRF request header in canonical form, for direct header map access.
	CSRFHeader string
}

// NewJar derives the names and attributes of every cookie from o.
func NewJar(o Options) *Jar {
	cookie := func(suffix, path string) Cookie {
		attrs := "; Path=" + path
		if o.Domain != "" {
			attrs += "; Domain=" + o.Domain
		}
		attrs += "; HttpOnly"
		if o.Secure {
			attrs += "; Secure"
		}
		attrs += "; SameSite=Strict"
		return Cookie{Name: o.Prefix + "-" + suffix, attributes: attrs}
	}
	base := o.BasePath
	if base == "" {
		base = "/"
	}
	return &Jar{
		cipher:       o.Cipher,
		Login:        cookie("login", base),
		AccessToken:  cookie("at", base),
		CSRF:         cookie("csrf", base),
		RefreshToken: cookie("auth", o.AgentPath+"/refresh"),
		IDToken:      cookie("id", o.AgentPath+"/claims"),
		IDTokenHint:  cookie("idhint", o.AgentPath+"/logout"),
		CSRFHeader:   textproto.CanonicalMIMEHeaderKey("x-" + o.Prefix + "-csrf"),
	}
}

// minBlobSize is cookiecrypt.MinBlobSize as a constant of this package, which Yaegi folds into
// Open (a constant of another package costs an allocation per call).
const minBlobSize = cookiecrypt.MinBlobSize

// Present reports whether the request carries the cookie at all, decryptable or not.
func Present(r *http.Request, c Cookie) bool {
	_, err := r.Cookie(c.Name)
	return err == nil
}

// Open is Read's fast first try, for a hot path: the first cookie called name, sealed with the
// current key (aead, the cipher's Current). Anything else ("" here: no cookie, a bad value, a
// previous key, a duplicate cookie) is left to Read, which is slower and says what is wrong. It
// is a function rather than a method of Jar because under Yaegi the method call allocates about
// 25 more objects.
func Open(aead cipher.AEAD, r *http.Request, name string) string {
	sent, err := r.Cookie(name)
	if err != nil {
		return ""
	}
	// Decrypt's common case, inlined: under Yaegi a call costs more than the work it does. The
	// layout is cookiecrypt's: version 1, a 12-byte IV, the sealed bytes.
	blob, err := base64.RawURLEncoding.DecodeString(sent.Value)
	if err != nil || len(blob) < minBlobSize || blob[0] != 1 {
		return ""
	}
	plain, err := aead.Open(blob[13:13], blob[1:13], blob[13:], nil)
	if err != nil {
		return ""
	}
	return string(plain)
}

// Read returns the plaintext of the first cookie called c.Name that decrypts. Its error says
// what is wrong, naming the cookie, never its value.
func (j *Jar) Read(r *http.Request, c Cookie) (string, error) {
	var first error
	for _, sent := range r.Cookies() {
		if sent.Name != c.Name {
			continue
		}
		plain, err := j.cipher.Decrypt(sent.Value)
		if err == nil {
			return plain, nil
		}
		if first == nil {
			first = err
		}
	}
	if first == nil {
		return "", errors.New("the request has no " + c.Name + " cookie")
	}
	return "", fmt.Errorf("the %s cookie is invalid: %w", c.Name, first)
}

// CheckCSRF compares the CSRF header with the decrypted CSRF cookie in constant time: the
// double-submit check of every data-changing request.
func (j *Jar) CheckCSRF(r *http.Request) error {
	csrf, err := j.Read(r, j.CSRF)
	if err != nil {
		return err
	}
	header := r.Header[j.CSRFHeader]
	if len(header) == 0 || header[0] == "" {
		return errors.New("the request has no " + j.CSRFHeader + " header")
	}
	if len(header) > 1 || subtle.ConstantTimeCompare([]byte(header[0]), []byte(csrf)) != 1 {
		return errors.New("the " + j.CSRFHeader + " header does not match the CSRF cookie")
	}
	return nil
}

// Write encrypts plain and adds a Set-Cookie header that stores it as a session cookie. It fails
// only if the system's random source does.
func (j *Jar) Write(h http.Header, c Cookie, plain string) error {
	sealed, err := j.cipher.Encrypt(plain)
	if err != nil {
		return fmt.Errorf("encrypting the %s cookie: %w", c.Name, err)
	}
	h.Add("Set-Cookie", c.Name+"="+sealed+c.attributes)
	return nil
}

// Clear adds a Set-Cookie header that deletes the cookie: empty, expired, same Path and Domain.
func Clear(h http.Header, c Cookie) {
	h.Add("Set-Cookie", c.Name+"="+c.attributes+"; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT")
}

// ClearSession deletes the cookies of a signed-in session, in Curity's order.
func (j *Jar) ClearSession(h http.Header) {
	Clear(h, j.RefreshToken)
	Clear(h, j.AccessToken)
	Clear(h, j.IDToken)
	Clear(h, j.CSRF)
	Clear(h, j.IDTokenHint)
}
