package jwt

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
)

// SigningAlgorithms are the algorithms a private key of ours may sign with (contract §6.6):
// RSA PKCS#1 v1.5 and RSA-PSS with SHA-256, ECDSA P-256 with SHA-256 and P-384 with SHA-384.
var SigningAlgorithms = []string{"RS256", "PS256", "ES256", "ES384"}

// SigningKey is a private key that signs JWTs: client assertions (private_key_jwt) and minted
// phantom tokens.
type SigningKey struct {
	// Alg is the JWS algorithm it signs with.
	Alg string
	// Kid is the JWS kid; empty sends none.
	Kid    string
	signer crypto.Signer
}

// ParseSigningKey reads a PEM private key (PKCS#8, PKCS#1 or SEC 1): RSA of at least 2048 bits,
// or EC P-256 or P-384. alg, when not empty, must fit the key; when empty, the key's default is
// used: RS256 for RSA, ES256 for P-256, ES384 for P-384. Errors say what is wrong, never the key.
func ParseSigningKey(pemData []byte, alg, kid string) (*SigningKey, error) {
	block, _ := pem.Decode(pemData)
	if block == nil {
		return nil, errors.New("is not a PEM private key")
	}
	signer, err := parsePrivateKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	defaultAlg := ""
	switch k := signer.(type) {
	case *rsa.PrivateKey:
		if k.N.BitLen() < 2048 {
			return nil, fmt.Errorf("is an RSA key of %d bits: at least 2048 are needed", k.N.BitLen())
		}
		defaultAlg = "RS256"
		if alg != "" && alg != "RS256" && alg != "PS256" {
			return nil, fmt.Errorf("is an RSA key, which cannot sign %s (RS256 or PS256)", alg)
		}
	case *ecdsa.PrivateKey:
		switch k.Curve {
		case elliptic.P256():
			defaultAlg = "ES256"
		case elliptic.P384():
			defaultAlg = "ES384"
		default:
			return nil, errors.New("is an EC key on a curve other than P-256 and P-384")
		}
		if alg != "" && alg != defaultAlg {
			return nil, fmt.Errorf("is an EC %s key, which signs %s, not %s", k.Curve.Params().Name, defaultAlg, alg)
		}
	default:
		return nil, errors.New("is neither an RSA nor an EC key")
	}
	if alg == "" {
		alg = defaultAlg
	}
	return &SigningKey{Alg: alg, Kid: kid, signer: signer}, nil
}

func parsePrivateKey(der []byte) (crypto.Signer, error) {
	if key, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		if signer, ok := key.(crypto.Signer); ok {
			return signer, nil
		}
		return nil, errors.New("is a PKCS#8 key of a kind that cannot sign")
	}
	if key, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return key, nil
	}
	if key, err := x509.ParseECPrivateKey(der); err == nil {
		return key, nil
	}
	return nil, errors.New("is not a PKCS#8, PKCS#1 or SEC 1 private key")
}

// Public returns the public key.
func (k *SigningKey) Public() crypto.PublicKey { return k.signer.Public() }

// Sign returns the compact JWS of claims, with header typ (and kid when set).
func (k *SigningKey) Sign(typ string, claims map[string]interface{}) (string, error) {
	header := map[string]string{"alg": k.Alg, "typ": typ}
	if k.Kid != "" {
		header["kid"] = k.Kid
	}
	headerJSON, err := json.Marshal(header)
	if err != nil {
		return "", err
	}
	claimsJSON, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	input := base64.RawURLEncoding.EncodeToString(headerJSON) + "." + base64.RawURLEncoding.EncodeToString(claimsJSON)
	signature, err := k.signature([]byte(input))
	if err != nil {
		return "", fmt.Errorf("signing: %w", err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(signature), nil
}

func (k *SigningKey) signature(input []byte) ([]byte, error) {
	switch k.Alg {
	case "RS256":
		digest := sha256.Sum256(input)
		return k.signer.Sign(rand.Reader, digest[:], crypto.SHA256)
	case "PS256":
		digest := sha256.Sum256(input)
		return k.signer.Sign(rand.Reader, digest[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256})
	case "ES256":
		digest := sha256.Sum256(input)
		return ecdsaJWS(k.signer, digest[:], 32)
	case "ES384":
		digest := sha512.Sum384(input)
		return ecdsaJWS(k.signer, digest[:], 48)
	}
	return nil, fmt.Errorf("unsupported algorithm %q", k.Alg)
}

// ecdsaJWS signs digest and returns r || s, each left-padded to size bytes (RFC 7518 §3.4), not
// the ASN.1 form crypto.Signer returns.
func ecdsaJWS(signer crypto.Signer, digest []byte, size int) ([]byte, error) {
	key, ok := signer.(*ecdsa.PrivateKey)
	if !ok {
		return nil, errors.New("not an EC key")
	}
	r, s, err := ecdsa.Sign(rand.Reader, key, digest)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 2*size)
	r.FillBytes(out[:size])
	s.FillBytes(out[size:])
	return out, nil
}
