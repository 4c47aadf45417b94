package fakeas

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
)

// Key kinds for NewKey. RSA-2048, P-256 and P-384 are the keys that contract §6.6 allows for
// private_key_jwt and minted phantom tokens; the others are there to test their refusal.
const (
	KeyRSA2048 = "RSA-2048"
	KeyP256    = "P-256"
	KeyP384    = "P-384"
	KeyRSA1024 = "RSA-1024" // too small for §6.6
	KeyP521    = "P-521"    // a curve §6.6 does not allow
	KeyEd25519 = "Ed25519"  // a key type §6.6 does not allow
)

// PEM formats for EncodePEM and WritePEM.
const (
	PEMPKCS8 = "PKCS8" // "PRIVATE KEY" (PKCS #8): any key
	PEMPKCS1 = "PKCS1" // "RSA PRIVATE KEY" (PKCS #1): RSA keys only
	PEMSEC1  = "SEC1"  // "EC PRIVATE KEY" (SEC 1): ECDSA keys only
	// PEMPublic is "PUBLIC KEY" (PKIX) with the public half only: what a private key setting must
	// refuse.
	PEMPublic = "PKIX"
)

// NewKey generates a new private key of kind (Key* constants). It panics on an unknown kind.
// RSA keys take a moment to generate (about 0.1 s for 2048 bits): reuse them within a test.
func NewKey(kind string) crypto.Signer {
	var (
		key crypto.Signer
		err error
	)
	switch kind {
	case KeyRSA2048:
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	case KeyRSA1024:
		key, err = rsa.GenerateKey(rand.Reader, 1024)
	case KeyP256:
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case KeyP384:
		key, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case KeyP521:
		key, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	case KeyEd25519:
		_, key, err = ed25519.GenerateKey(rand.Reader)
	default:
		panic("fakeas: unknown key kind " + kind)
	}
	if err != nil {
		panic("fakeas: " + err.Error())
	}
	return key
}

// EncodePEM encodes key as one PEM block in format (PEM* constants). PKCS1 needs an RSA key and
// SEC1 an ECDSA key.
func EncodePEM(key crypto.Signer, format string) ([]byte, error) {
	var (
		block = &pem.Block{}
		err   error
	)
	switch format {
	case PEMPKCS8:
		block.Type = "PRIVATE KEY"
		block.Bytes, err = x509.MarshalPKCS8PrivateKey(key)
	case PEMPKCS1:
		k, ok := key.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("fakeas: PKCS #1 needs an RSA key, not %T", key)
		}
		block.Type = "RSA PRIVATE KEY"
		block.Bytes = x509.MarshalPKCS1PrivateKey(k)
	case PEMSEC1:
		k, ok := key.(*ecdsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("fakeas: SEC 1 needs an ECDSA key, not %T", key)
		}
		block.Type = "EC PRIVATE KEY"
		block.Bytes, err = x509.MarshalECPrivateKey(k)
	case PEMPublic:
		block.Type = "PUBLIC KEY"
		block.Bytes, err = x509.MarshalPKIXPublicKey(key.Public())
	default:
		return nil, fmt.Errorf("fakeas: unknown PEM format %q", format)
	}
	if err != nil {
		return nil, fmt.Errorf("fakeas: encoding %s: %w", format, err)
	}
	return pem.EncodeToMemory(block), nil
}

// WritePEM writes key in format (PEM* constants) to a new file (mode 0600) in t.TempDir() and
// returns its path: a clientPrivateKeyFile or signingKeyFile for a test. It calls t.Fatal when
// the format does not suit the key.
func WritePEM(t interface {
	TempDir() string
	Fatal(...interface{})
}, key crypto.Signer, format string) string {
	b, err := EncodePEM(key, format)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "key-"+randomString(6)+".pem")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// DefaultAlg is the JWS algorithm that contract §6.6 uses by default for a key: RS256 for RSA,
// ES256 for P-256, ES384 for P-384 ("" for any other key).
func DefaultAlg(pub crypto.PublicKey) string {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return "RS256"
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return "ES256"
		case elliptic.P384():
			return "ES384"
		}
	}
	return ""
}

// JWK returns the public JWK of pub (RSA: kty, n, e; EC: kty, crv, x, y; Ed25519: kty OKP, crv,
// x) with kid, alg and use "sig" added when kid or alg is not empty: what an authorization
// server's client registration (a "jwks" with private_key_jwt) or a JWKS endpoint publishes.
func JWK(pub crypto.PublicKey, kid, alg string) (map[string]interface{}, error) {
	b64 := base64.RawURLEncoding.EncodeToString
	jwk := map[string]interface{}{}
	switch k := pub.(type) {
	case *rsa.PublicKey:
		jwk["kty"] = "RSA"
		jwk["n"] = b64(k.N.Bytes())
		jwk["e"] = b64(big.NewInt(int64(k.E)).Bytes())
	case *ecdsa.PublicKey:
		ecdhKey, err := k.ECDH()
		if err != nil {
			return nil, fmt.Errorf("fakeas: %w", err)
		}
		point := ecdhKey.Bytes() // 0x04 || X || Y
		size := (len(point) - 1) / 2
		jwk["kty"] = "EC"
		jwk["crv"] = k.Curve.Params().Name
		jwk["x"] = b64(point[1 : 1+size])
		jwk["y"] = b64(point[1+size:])
	case ed25519.PublicKey:
		jwk["kty"] = "OKP"
		jwk["crv"] = "Ed25519"
		jwk["x"] = b64(k)
	default:
		return nil, fmt.Errorf("fakeas: unsupported key type %T", pub)
	}
	if kid != "" {
		jwk["kid"] = kid
	}
	if alg != "" {
		jwk["alg"] = alg
	}
	if kid != "" || alg != "" {
		jwk["use"] = "sig"
	}
	return jwk, nil
}

// Thumbprint is the RFC 7638 JWK thumbprint of pub (SHA-256, base64url without padding).
func Thumbprint(pub crypto.PublicKey) (string, error) {
	jwk, err := JWK(pub, "", "")
	if err != nil {
		return "", err
	}
	required := map[string][]string{"RSA": {"e", "kty", "n"}, "EC": {"crv", "kty", "x", "y"}, "OKP": {"crv", "kty", "x"}}
	members := map[string]interface{}{}
	for _, name := range required[jwk["kty"].(string)] {
		members[name] = jwk[name]
	}
	b, err := json.Marshal(members) // sorted keys, no whitespace: RFC 7638's form for these members
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return base64.RawURLEncoding.EncodeToString(sum[:]), nil
}
