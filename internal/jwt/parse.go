// Package jwt reads JSON Web Tokens (RFC 7519) in their compact serialization, with the standard
// library only, so that it runs under Yaegi. Signature verification lives in verify.go.
package jwt

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
)

// The reasons a string is not a readable JWT.
var (
	ErrNotCompact = errors.New("the token is not a JWT: it does not have three dot-separated parts")
	ErrEncoding   = errors.New("a part of the JWT is not base64url")
	ErrJSON       = errors.New("the JWT header or payload is not a JSON object")
)

// Parsed is a JWT split into its parts, with the header and payload decoded.
type Parsed struct {
	// SigningInput is "<header>.<payload>" as received: what the signature covers.
	SigningInput string
	Header       Header
	// Payload is the decoded claims JSON.
	Payload   []byte
	Signature []byte
}

// Header holds the JOSE header members we use.
type Header struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
	Typ string `json:"typ"`
}

// Parse splits a compact JWT and decodes its header and payload; it does not verify anything.
func Parse(token string) (*Parsed, error) {
	first := strings.IndexByte(token, '.')
	last := strings.LastIndexByte(token, '.')
	if first <= 0 || last == first || last == len(token)-1 || strings.Count(token, ".") != 2 {
		return nil, ErrNotCompact
	}
	headerJSON, err := decodePart(token[:first])
	if err != nil {
		return nil, err
	}
	payload, err := decodePart(token[first+1 : last])
	if err != nil {
		return nil, err
	}
	signature, err := decodePart(token[last+1:])
	if err != nil {
		return nil, err
	}
	p := &Parsed{SigningInput: token[:last], Payload: payload, Signature: signature}
	if err := json.Unmarshal(headerJSON, &p.Header); err != nil {
		return nil, ErrJSON
	}
	if !isObject(payload) {
		return nil, ErrJSON
	}
	return p, nil
}

// Claims decodes the payload of a compact JWT into v without verifying the signature: for tokens
// that came straight from the authorization server over a back channel.
func Claims(token string, v interface{}) error {
	p, err := Parse(token)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(p.Payload, v); err != nil {
		return ErrJSON
	}
	return nil
}

func decodePart(part string) ([]byte, error) {
	// The base64 decoder skips '\r' and '\n'; a compact JWT has neither, and one that passed
	// with them would go on to an upstream Authorization header with a line break in it.
	if strings.ContainsAny(part, "\r\n") {
		return nil, ErrEncoding
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(part, "="))
	if err != nil {
		return nil, ErrEncoding
	}
	return b, nil
}

func isObject(b []byte) bool {
	s := strings.TrimSpace(string(b))
	return strings.HasPrefix(s, "{") && json.Valid(b)
}
