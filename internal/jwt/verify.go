package jwt

import (
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
)

// Algorithms are the signature algorithms accepted: RSA PKCS#1 v1.5, RSA-PSS and ECDSA P-256,
// each with SHA-256. "none" and the HMAC algorithms are never accepted.
var Algorithms = map[string]bool{"RS256": true, "PS256": true, "ES256": true}

// The reasons a signature is not accepted.
var (
	ErrAlgorithm    = errors.New("the JWT's signature algorithm is not one of RS256, PS256, ES256")
	ErrKeyMismatch  = errors.New("the key does not fit the JWT's signature algorithm")
	ErrBadSignature = errors.New("the JWT's signature is invalid")
)

// JWK is a public JSON Web Key (RFC 7517) as published in a JWKS.
type JWK struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	N   string `json:"n"`
	E   string `json:"e"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
}

// Key is a parsed public key with its identifier.
type Key struct {
	Kid    string
	Alg    string // from the JWK, may be empty
	Public crypto.PublicKey
}

// ParseJWKS reads a JWKS document and returns its signature keys. Keys of other types or uses are
// skipped; a document that is not a JWKS is an error.
func ParseJWKS(data []byte) ([]Key, error) {
	var doc struct {
		Keys []JWK `json:"keys"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, errors.New("the JWKS is not valid JSON")
	}
	if doc.Keys == nil {
		return nil, errors.New("the JWKS has no keys member")
	}
	var keys []Key
	for _, jwk := range doc.Keys {
		if jwk.Use != "" && jwk.Use != "sig" {
			continue
		}
		public, err := jwk.publicKey()
		if err != nil {
			continue // an unusable key must not make the usable ones unavailable
		}
		keys = append(keys, Key{Kid: jwk.Kid, Alg: jwk.Alg, Public: public})
	}
	return keys, nil
}

func (k JWK) publicKey() (crypto.PublicKey, error) {
	switch k.Kty {
	case "RSA":
		n, err1 := decodeBigInt(k.N)
		e, err2 := decodeBigInt(k.E)
		if err1 != nil || err2 != nil || n.BitLen() < 2048 || !e.IsInt64() || e.Int64() < 3 || e.Int64() > 1<<31 {
			return nil, errors.New("unusable RSA key")
		}
		return &rsa.PublicKey{N: n, E: int(e.Int64())}, nil
	case "EC":
		if k.Crv != "P-256" {
			return nil, errors.New("unsupported curve")
		}
		x, err1 := decodeBigInt(k.X)
		y, err2 := decodeBigInt(k.Y)
		if err1 != nil || err2 != nil || !onP256(x, y) {
			return nil, errors.New("unusable EC key")
		}
		key := &ecdsa.PublicKey{X: x, Y: y}
		key.Curve = elliptic.P256()
		return key, nil
	}
	return nil, fmt.Errorf("unsupported key type %q", k.Kty)
}

// onP256 reports whether (x, y) is a point of P-256. crypto/ecdh checks that, and that each
// coordinate is below the field prime, when it reads the point's uncompressed encoding
// 0x04 || X || Y with X and Y big-endian in 32 bytes each.
func onP256(x, y *big.Int) bool {
	if x.BitLen() > 256 || y.BitLen() > 256 {
		return false
	}
	point := make([]byte, 65)
	point[0] = 4
	x.FillBytes(point[1:33])
	y.FillBytes(point[33:])
	_, err := ecdh.P256().NewPublicKey(point)
	return err == nil
}

func decodeBigInt(s string) (*big.Int, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) == 0 {
		return nil, errors.New("not base64url")
	}
	return new(big.Int).SetBytes(b), nil
}

// VerifySignature checks p's signature with key, for p's algorithm.
func VerifySignature(p *Parsed, key Key) error {
	if !Algorithms[p.Header.Alg] {
		return ErrAlgorithm
	}
	if key.Alg != "" && key.Alg != p.Header.Alg {
		return ErrKeyMismatch
	}
	digest := sha256.Sum256([]byte(p.SigningInput))
	switch p.Header.Alg {
	case "RS256", "PS256":
		pub, ok := key.Public.(*rsa.PublicKey)
		if !ok {
			return ErrKeyMismatch
		}
		var err error
		if p.Header.Alg == "RS256" {
			err = rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], p.Signature)
		} else {
			err = rsa.VerifyPSS(pub, crypto.SHA256, digest[:], p.Signature, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		}
		if err != nil {
			return ErrBadSignature
		}
	case "ES256":
		pub, ok := key.Public.(*ecdsa.PublicKey)
		if !ok {
			return ErrKeyMismatch
		}
		if len(p.Signature) != 64 {
			return ErrBadSignature
		}
		r := new(big.Int).SetBytes(p.Signature[:32])
		s := new(big.Int).SetBytes(p.Signature[32:])
		if !ecdsa.Verify(pub, digest[:], r, s) {
			return ErrBadSignature
		}
	}
	return nil
}

// Fits reports whether key can verify signatures of alg.
func Fits(key Key, alg string) bool {
	if key.Alg != "" && key.Alg != alg {
		return false
	}
	switch key.Public.(type) {
	case *rsa.PublicKey:
		return alg == "RS256" || alg == "PS256"
	case *ecdsa.PublicKey:
		return alg == "ES256"
	}
	return false
}
