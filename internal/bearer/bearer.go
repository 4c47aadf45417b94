// Package bearer reads an access token from an Authorization header (RFC 6750 §2.1).
package bearer

import (
	"errors"
	"strings"
)

// MaxTokenLength bounds the tokens that are looked up or sent for introspection. Opaque tokens
// are short; this leaves room for the largest JWTs seen in practice.
const MaxTokenLength = 16 * 1024

// tokenChars are RFC 6750's b64token characters, except the trailing '=' padding.
const tokenChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/"

// The reasons an Authorization header yields no token.
var (
	ErrMissing     = errors.New("the request has no Authorization header")
	ErrNotBearer   = errors.New("the Authorization header does not use the Bearer scheme")
	ErrEmpty       = errors.New("the Authorization header has no token")
	ErrMalformed   = errors.New("the bearer token contains characters that a token cannot have")
	ErrTooLong     = errors.New("the bearer token is longer than 16384 bytes")
	ErrSeveralAuth = errors.New("the request has more than one Authorization header")
)

// Token returns the token of `Bearer <token>`: the scheme in any case, spaces around the token
// tolerated, the token made of b64token characters only.
func Token(values []string) (string, error) {
	if len(values) == 0 {
		return "", ErrMissing
	}
	if len(values) > 1 {
		return "", ErrSeveralAuth
	}
	return parse(values[0])
}

func parse(header string) (string, error) {
	if header == "" {
		return "", ErrMissing
	}
	const scheme = "bearer"
	if len(header) < len(scheme) || !strings.EqualFold(header[:len(scheme)], scheme) {
		return "", ErrNotBearer
	}
	rest := header[len(scheme):]
	if rest != "" && rest[0] != ' ' && rest[0] != '\t' {
		return "", ErrNotBearer // "Bearerxyz"
	}
	token := strings.Trim(rest, " \t")
	if token == "" {
		return "", ErrEmpty
	}
	if len(token) > MaxTokenLength {
		return "", ErrTooLong
	}
	// Trimming the allowed characters, then the padding, must leave nothing: one compiled call
	// instead of a loop over the bytes, which Yaegi would interpret. At least one character must
	// come before the padding: "==" alone is no b64token.
	padding := strings.TrimLeft(token, tokenChars)
	if len(padding) == len(token) || strings.TrimRight(padding, "=") != "" {
		return "", ErrMalformed
	}
	return token, nil
}

// Present reports whether an Authorization value uses the Bearer scheme with a non-empty token.
func Present(header string) bool {
	token, err := parse(header)
	return err == nil && token != ""
}
