package jwt

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
)

// PublicJWK returns the public key of k as a JWK (RFC 7517) for a JWKS: kty and the key's
// members, kid, use "sig" and alg.
func PublicJWK(k *SigningKey) (map[string]string, error) {
	jwk, err := publicMembers(k.Public())
	if err != nil {
		return nil, err
	}
	jwk["kid"] = k.Kid
	jwk["use"] = "sig"
	jwk["alg"] = k.Alg
	return jwk, nil
}

// Thumbprint is the RFC 7638 thumbprint of a public key: the base64url SHA-256 of its required
// members in lexicographic order, a kid that every party can compute.
func Thumbprint(pub crypto.PublicKey) (string, error) {
	members, err := publicMembers(pub)
	if err != nil {
		return "", err
	}
	// encoding/json writes map keys in lexicographic order and no white space: RFC 7638 §3.
	data, err := json.Marshal(members)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(data)
	return base64.RawURLEncoding.EncodeToString(sum[:]), nil
}

// publicMembers returns the required members of a public key's JWK (RFC 7638 §3.2).
func publicMembers(pub crypto.PublicKey) (map[string]string, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return map[string]string{"kty": "RSA", "n": encodeBigInt(k.N, 0), "e": encodeBigInt(big.NewInt(int64(k.E)), 0)}, nil
	case *ecdsa.PublicKey:
		size := (k.Curve.Params().BitSize + 7) / 8
		return map[string]string{"kty": "EC", "crv": k.Curve.Params().Name, "x": encodeBigInt(k.X, size), "y": encodeBigInt(k.Y, size)}, nil
	}
	return nil, errors.New("neither an RSA nor an EC key")
}

// encodeBigInt is base64url of n big-endian, left-padded to size bytes (0: no padding).
func encodeBigInt(n *big.Int, size int) string {
	b := n.Bytes()
	if len(b) < size {
		b = append(make([]byte, size-len(b)), b...)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}
