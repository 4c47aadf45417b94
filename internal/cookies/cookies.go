// Package cookies owns the token handler's cookie contract, for the OAuth Agent that writes the
// cookies and the OAuth Proxy that reads them, so that both read a cookie by the same rules:
//
//   - the names, derived from cookieNamePrefix and the profile: <prefix>-login, -at, -auth, -id,
//     -idhint, -csrf (with the host profile each starts with __Host-), and the CSRF header
//     x-<prefix>-csrf;
//   - the attributes and Path each cookie is written with, and clearing with the same Path and
//     Domain (Curity's Node agent clears -auth and -id on the wrong path, so browsers keep them);
//   - chunking: a value whose Set-Cookie header would exceed the 4096 bytes a browser keeps is
//     written as several cookies (chunks.go);
//   - reading: when a browser sends a name more than once (a stale cookie with another Path or
//     Domain), the first value that decrypts wins;
//   - the CSRF defences: the double-submit check (compared in constant time), or, with Curity's v2
//     API, the token-handler-version custom header.
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

// The cookie profiles (contract §6.2).
const (
	// ProfileCurity is Curity's v1 cookies: <prefix>-<suffix>, each on its own Path, with a
	// Domain when one is configured.
	ProfileCurity = "curity"
	// ProfileHost is RFC 10017 §6.1.3.2: __Host-<prefix>-<suffix>, Path=/, no Domain, Secure, so
	// that no sibling host of the same site can plant a cookie that is read.
	ProfileHost = "host"
)

// Profiles are the values of the cookieProfile key, the default first.
var Profiles = []string{ProfileCurity, ProfileHost}

// Options are the settings the cookies derive from. A reader (bffToken) needs only Prefix,
// Profile and Cipher; a writer (the agent) sets the rest.
type Options struct {
	// Prefix is cookieNamePrefix, which config.CookieNamePrefix has checked.
	Prefix string
	// Profile is ProfileCurity (also when empty) or ProfileHost.
	Profile string
	// Cipher encrypts and decrypts the values.
	Cipher *cookiecrypt.Cipher
	// BasePath is the Path of -at, -csrf and -login (cookieBasePath, default /).
	BasePath string
	// AgentPath is the agent's pathPrefix, the Path of -auth and -id (contract §6.5: the agent
	// needs the refresh token at /logout to revoke it). Before, -auth was on <AgentPath>/refresh,
	// -id on <AgentPath>/claims and a copy of the ID token, -idhint, on <AgentPath>/logout: those
	// legacy cookies are still read where the browser sends them, and cleared.
	AgentPath string
	// Domain is the Domain attribute; empty writes host-only cookies.
	Domain string
	// Secure sets the Secure attribute.
	Secure bool
	// MaxChunks is the most chunks one value is written as (maxCookieChunks, default 4).
	MaxChunks int
	// AccessTokenExpiry makes the session include the -exp cookie (the agent's v2 API, which
	// reports the access token's lifetime on every page load).
	AccessTokenExpiry bool
}

// Cookie is one cookie's name and the attributes written after its value.
type Cookie struct {
	Name       string
	attributes string // "; Path=...; Domain=...; HttpOnly; Secure; SameSite=Strict"
	// legacy is the attributes of the same name on the Path an earlier version wrote it on:
	// writing the cookie clears that one (else the browser would keep sending a stale value
	// first, its Path being longer), and clearing clears both.
	legacy string
}

// Jar is the cookie family of one configuration.
type Jar struct {
	cipher    *cookiecrypt.Cipher
	maxChunks int

	Login, AccessToken, RefreshToken, IDToken, CSRF Cookie
	// AccessTokenExpiry, on <AgentPath>, holds when the access token expires (Unix seconds), for
	// the agent's v2 API; only the agent reads it, and only a jar with Options.AccessTokenExpiry
	// writes and clears it.
	AccessTokenExpiry Cookie
	withExpiry        bool
	// IDTokenHint is the legacy copy of the ID token on <AgentPath>/logout: no longer written,
	// read for the id_token_hint of sessions that still have it, and cleared.
	IDTokenHint Cookie
	// CSRFHeader is the CSRF request header in canonical form, for direct header map access.
	CSRFHeader string
}

// NewJar derives the names and attributes of every cookie from o.
func NewJar(o Options) *Jar {
	namePrefix := o.Prefix + "-"
	if o.Profile == ProfileHost {
		namePrefix = "__Host-" + namePrefix
	}
	attributes := func(path string) string {
		attrs := "; Path=" + path
		if o.Domain != "" {
			attrs += "; Domain=" + o.Domain
		}
		attrs += "; HttpOnly"
		if o.Secure {
			attrs += "; Secure"
		}
		return attrs + "; SameSite=Strict"
	}
	cookie := func(suffix, path, legacyPath string) Cookie {
		if o.Profile == ProfileHost {
			// A new profile: no cookie of it was ever written on another Path.
			return Cookie{Name: namePrefix + suffix, attributes: "; Path=/; HttpOnly; Secure; SameSite=Strict"}
		}
		c := Cookie{Name: namePrefix + suffix, attributes: attributes(path)}
		if legacyPath != "" {
			c.legacy = attributes(legacyPath)
		}
		return c
	}
	base := o.BasePath
	if base == "" {
		base = "/"
	}
	maxChunks := o.MaxChunks
	if maxChunks == 0 {
		maxChunks = DefaultMaxChunks
	}
	return &Jar{
		cipher:       o.Cipher,
		maxChunks:    maxChunks,
		Login:        cookie("login", base, ""),
		AccessToken:  cookie("at", base, ""),
		CSRF:         cookie("csrf", base, ""),
		RefreshToken: cookie("auth", o.AgentPath, o.AgentPath+"/refresh"),
		IDToken:      cookie("id", o.AgentPath, o.AgentPath+"/claims"),
		IDTokenHint:  cookie("idhint", o.AgentPath+"/logout", ""),
		CSRFHeader:   textproto.CanonicalMIMEHeaderKey("x-" + o.Prefix + "-csrf"),

		AccessTokenExpiry: cookie("exp", o.AgentPath, ""),
		withExpiry:        o.AccessTokenExpiry,
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
// previous key, a duplicate cookie, a chunked value) is left to Read, which is slower and says
// what is wrong. It is a function rather than a method of Jar because under Yaegi the method
// call allocates about 25 more objects.
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

// maxCandidates bounds how many values of one name Read tries to decrypt: a browser sends a name
// more than once only for a few Path and Domain variants, and a forged header with a thousand
// copies must not cost a thousand decryptions.
const maxCandidates = 8

// Read returns the plaintext of the first cookie called c.Name that decrypts, reassembling a
// chunked value. Its error says what is wrong, naming the cookie, never its value.
func (j *Jar) Read(r *http.Request, c Cookie) (string, error) {
	sent := r.Cookies()
	var first error
	tried := 0
	for _, s := range sent {
		if s.Name != c.Name {
			continue
		}
		if tried == maxCandidates {
			break
		}
		tried++
		value := s.Value
		var err error
		if isChunked(value) {
			value, err = joinChunks(sent, c.Name, value)
		}
		if err == nil {
			plain, decryptErr := j.cipher.Decrypt(value)
			if decryptErr == nil {
				return plain, nil
			}
			err = decryptErr
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

// VersionHeader is the custom request header of Curity's v2 API, in canonical form. It is v2's
// CSRF defence instead of the double-submit cookie: a cross-site page cannot send a custom
// header without a CORS preflight, which only trusted origins pass.
const VersionHeader = "Token-Handler-Version"

// CheckVersionHeader checks that the request carries a non-empty VersionHeader (contract §6.8).
func CheckVersionHeader(r *http.Request) error {
	if values := r.Header[VersionHeader]; len(values) == 0 || values[0] == "" {
		return errors.New("the request has no token-handler-version header")
	}
	return nil
}

// Write encrypts plain and adds the Set-Cookie headers that store it as a session cookie: one
// when it fits in MaxSetCookieBytes (exactly Curity's cookie), else chunks, clearing the stale
// chunks of an earlier, larger value that r carries (r may be nil for a cookie that is never
// chunked). It fails when the value needs more than
// MaxChunks chunks (ErrTooLarge, adding nothing to h) or the system's random source fails.
func (j *Jar) Write(h http.Header, r *http.Request, c Cookie, plain string) error {
	sealed, err := j.cipher.Encrypt(plain)
	if err != nil {
		return fmt.Errorf("encrypting the %s cookie: %w", c.Name, err)
	}
	return j.writeSealed(h, r, c, sealed)
}

// Clear adds a Set-Cookie header that deletes the cookie: empty, expired, same Path and Domain;
// and another for its legacy Path, if it has one.
func Clear(h http.Header, c Cookie) {
	h.Add("Set-Cookie", c.Name+"="+c.attributes+expired)
	if c.legacy != "" {
		h.Add("Set-Cookie", c.Name+"="+c.legacy+expired)
	}
}

const expired = "; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT"

// ClearSession deletes the cookies of a signed-in session, in Curity's order, -auth and -id on
// their legacy paths too, and every chunk the token cookies may have been written as (contract
// §6.1: the request may not carry them all).
func (j *Jar) ClearSession(h http.Header) {
	for _, c := range []Cookie{j.RefreshToken, j.AccessToken, j.IDToken, j.CSRF, j.IDTokenHint} {
		Clear(h, c)
	}
	if j.withExpiry {
		Clear(h, j.AccessTokenExpiry)
	}
	for _, c := range []Cookie{j.RefreshToken, j.AccessToken, j.IDToken} {
		j.clearChunks(h, nil, c, 0)
	}
}
