package fakeas

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"os"
	"testing"
)

func TestKeysPEM(t *testing.T) {
	rsaKey, p256, p384, _ := testKeys()
	cases := []struct {
		name      string
		key       crypto.Signer
		format    string
		blockType string
		parse     func(der []byte) (interface{}, error)
		wantErr   bool
	}{
		{"RSA PKCS8", rsaKey, PEMPKCS8, "PRIVATE KEY", func(b []byte) (interface{}, error) { return x509.ParsePKCS8PrivateKey(b) }, false},
		{"RSA PKCS1", rsaKey, PEMPKCS1, "RSA PRIVATE KEY", func(b []byte) (interface{}, error) { return x509.ParsePKCS1PrivateKey(b) }, false},
		{"P-256 PKCS8", p256, PEMPKCS8, "PRIVATE KEY", func(b []byte) (interface{}, error) { return x509.ParsePKCS8PrivateKey(b) }, false},
		{"P-256 SEC1", p256, PEMSEC1, "EC PRIVATE KEY", func(b []byte) (interface{}, error) { return x509.ParseECPrivateKey(b) }, false},
		{"P-384 PKCS8", p384, PEMPKCS8, "PRIVATE KEY", func(b []byte) (interface{}, error) { return x509.ParsePKCS8PrivateKey(b) }, false},
		{"P-384 SEC1", p384, PEMSEC1, "EC PRIVATE KEY", func(b []byte) (interface{}, error) { return x509.ParseECPrivateKey(b) }, false},
		{"P-256 public", p256, PEMPublic, "PUBLIC KEY", nil, false},
		{"RSA SEC1", rsaKey, PEMSEC1, "", nil, true},
		{"P-256 PKCS1", p256, PEMPKCS1, "", nil, true},
		{"unknown format", p256, "DER", "", nil, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b, err := EncodePEM(tc.key, tc.format)
			if tc.wantErr {
				if err == nil {
					t.Fatal("no error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			path := WritePEM(t, tc.key, tc.format)
			st, err := os.Stat(path)
			if err != nil || st.Mode().Perm() != 0o600 {
				t.Fatalf("%s: %v %v", path, st, err)
			}
			file, _ := os.ReadFile(path)
			block, rest := pem.Decode(file)
			if block == nil || block.Type != tc.blockType || len(rest) != 0 {
				t.Fatalf("PEM %q", file)
			}
			if b2, _ := pem.Decode(b); b2 == nil || b2.Type != tc.blockType {
				t.Fatalf("EncodePEM %q", b)
			}
			if tc.parse == nil {
				pub, err := x509.ParsePKIXPublicKey(block.Bytes)
				if err != nil || !tc.key.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(pub) {
					t.Fatalf("public key: %v", err)
				}
				return
			}
			parsed, err := tc.parse(block.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			if !parsed.(crypto.Signer).Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(tc.key.Public()) {
				t.Fatal("another key")
			}
		})
	}
}

func TestNewKey(t *testing.T) {
	cases := []struct {
		kind string
		alg  string
		ok   func(k crypto.Signer) bool
	}{
		{KeyP256, "ES256", func(k crypto.Signer) bool { return k.(*ecdsa.PrivateKey).Curve.Params().Name == "P-256" }},
		{KeyP384, "ES384", func(k crypto.Signer) bool { return k.(*ecdsa.PrivateKey).Curve.Params().Name == "P-384" }},
		{KeyP521, "", func(k crypto.Signer) bool { return k.(*ecdsa.PrivateKey).Curve.Params().Name == "P-521" }},
		{KeyRSA1024, "RS256", func(k crypto.Signer) bool { return k.(*rsa.PrivateKey).N.BitLen() == 1024 }},
		{KeyEd25519, "", func(k crypto.Signer) bool { _, ok := k.(ed25519.PrivateKey); return ok }},
	}
	for _, tc := range cases {
		k := NewKey(tc.kind)
		if !tc.ok(k) || DefaultAlg(k.Public()) != tc.alg {
			t.Errorf("%s: %T, DefaultAlg %q", tc.kind, k, DefaultAlg(k.Public()))
		}
		if _, err := JWK(k.Public(), "", ""); err != nil {
			t.Errorf("%s: JWK: %v", tc.kind, err)
		}
	}
	if rsaKey, _, _, _ := testKeys(); rsaKey.(*rsa.PrivateKey).N.BitLen() != 2048 || DefaultAlg(rsaKey.Public()) != "RS256" {
		t.Error("RSA-2048")
	}
	defer func() {
		if recover() == nil {
			t.Error("NewKey accepted an unknown kind")
		}
	}()
	NewKey("RSA-512")
}

// TestThumbprint uses the example of RFC 7638 §3.1.
func TestThumbprint(t *testing.T) {
	const n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
	jwk := map[string]string{"kty": "RSA", "n": n, "e": "AQAB"}
	pub := jwkToRSA(t, jwk)
	got, err := Thumbprint(pub)
	if err != nil || got != "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs" {
		t.Errorf("Thumbprint %q %v", got, err)
	}
	j, _ := JWK(pub, "k", "RS256")
	if j["n"] != n || j["e"] != "AQAB" || j["kid"] != "k" || j["alg"] != "RS256" || j["use"] != "sig" {
		t.Errorf("JWK %v", j)
	}
}

func jwkToRSA(t *testing.T, jwk map[string]string) *rsa.PublicKey {
	t.Helper()
	n, err1 := base64.RawURLEncoding.DecodeString(jwk["n"])
	e, err2 := base64.RawURLEncoding.DecodeString(jwk["e"])
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	return &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
}
