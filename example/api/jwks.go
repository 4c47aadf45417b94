package main

import (
	"context"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"sync"
	"time"
)

// Fetches are rate-limited so that a stream of tokens with made-up kids cannot turn the API into a
// load generator against the authorization server. Keys are rotated rarely and announced in the
// JWKS ahead of use, so one refetch per interval is enough to pick up a new key.
const (
	refetchInterval      = 30 * time.Second
	failureRetryInterval = 5 * time.Second
	maxJWKSBytes         = 1 << 20
)

var (
	errUnknownKID        = errors.New("no key in the JWKS matches the token's kid")
	errJWKSUnavailable   = errors.New("the JWKS could not be fetched")
	errKeyAlgUnsupported = errors.New("the key does not fit the token's algorithm")
)

// publicKey is one usable verification key from the JWKS.
type publicKey struct {
	alg string // the JWK's "alg", empty when the JWK does not restrict it
	key crypto.PublicKey
}

// keySet is a cached view of the authorization server's JWKS, keyed by kid.
type keySet struct {
	uri    string
	client *http.Client
	now    func() time.Time

	mu   sync.RWMutex
	keys map[string]publicKey

	// fetchMu serialises fetches: requests that miss the cache while a fetch is running wait for
	// it and then look again, instead of each starting their own (no stampede).
	fetchMu   sync.Mutex
	nextFetch time.Time // guarded by fetchMu
	fetches   int       // guarded by fetchMu; read by tests
}

func newKeySet(uri string, timeout time.Duration) *keySet {
	return &keySet{
		uri:    uri,
		client: &http.Client{Timeout: timeout},
		now:    time.Now,
	}
}

// lookup returns the key with the given kid, fetching the JWKS when the kid is not cached and the
// rate limit allows it.
func (s *keySet) lookup(ctx context.Context, kid string) (publicKey, error) {
	if k, ok := s.cached(kid); ok {
		return k, nil
	}

	s.fetchMu.Lock()
	defer s.fetchMu.Unlock()
	// Another request may have refreshed the set while this one waited for the lock.
	if k, ok := s.cached(kid); ok {
		return k, nil
	}
	now := s.now()
	if now.Before(s.nextFetch) {
		return publicKey{}, errUnknownKID
	}

	s.fetches++
	keys, err := s.fetch(ctx)
	if err != nil {
		// Keep the keys we have; retry sooner than after a success, since the server may just
		// be starting.
		s.nextFetch = now.Add(failureRetryInterval)
		return publicKey{}, fmt.Errorf("%w: %w", errJWKSUnavailable, err)
	}
	s.nextFetch = now.Add(refetchInterval)
	s.mu.Lock()
	s.keys = keys
	s.mu.Unlock()

	if k, ok := keys[kid]; ok {
		return k, nil
	}
	return publicKey{}, errUnknownKID
}

func (s *keySet) cached(kid string) (publicKey, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	k, ok := s.keys[kid]
	return k, ok
}

func (s *keySet) fetch(ctx context.Context) (map[string]publicKey, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.uri, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: status %d", s.uri, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes))
	if err != nil {
		return nil, err
	}
	return parseJWKS(body)
}

type jwk struct {
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

// parseJWKS keeps the signing keys that have a kid and a key type this API accepts (RSA, and EC
// on P-256); other keys (encryption keys, other curves) are skipped, not errors.
func parseJWKS(body []byte) (map[string]publicKey, error) {
	var set struct {
		Keys []jwk `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, fmt.Errorf("parsing the JWKS: %w", err)
	}
	keys := make(map[string]publicKey, len(set.Keys))
	for _, k := range set.Keys {
		if k.Kid == "" || (k.Use != "" && k.Use != "sig") {
			continue
		}
		var key crypto.PublicKey
		var err error
		switch k.Kty {
		case "RSA":
			key, err = rsaKey(k)
		case "EC":
			key, err = ecKey(k)
		default:
			continue
		}
		if err != nil {
			continue
		}
		keys[k.Kid] = publicKey{alg: k.Alg, key: key}
	}
	return keys, nil
}

func rsaKey(k jwk) (*rsa.PublicKey, error) {
	n, err := base64.RawURLEncoding.DecodeString(k.N)
	if err != nil {
		return nil, err
	}
	e, err := base64.RawURLEncoding.DecodeString(k.E)
	if err != nil {
		return nil, err
	}
	if len(e) == 0 || len(e) > 4 {
		return nil, errors.New("bad RSA exponent")
	}
	exp := int(new(big.Int).SetBytes(e).Int64())
	return &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: exp}, nil
}

func ecKey(k jwk) (*ecdsa.PublicKey, error) {
	if k.Crv != "P-256" {
		return nil, errors.New("unsupported curve")
	}
	x, err := base64.RawURLEncoding.DecodeString(k.X)
	if err != nil {
		return nil, err
	}
	y, err := base64.RawURLEncoding.DecodeString(k.Y)
	if err != nil {
		return nil, err
	}
	if len(x) != 32 || len(y) != 32 {
		return nil, errors.New("bad P-256 coordinates")
	}
	// Let crypto/ecdh check that the point is on the curve.
	uncompressed := append(append([]byte{4}, x...), y...)
	if _, err := ecdh.P256().NewPublicKey(uncompressed); err != nil {
		return nil, err
	}
	return &ecdsa.PublicKey{Curve: elliptic.P256(), X: new(big.Int).SetBytes(x), Y: new(big.Int).SetBytes(y)}, nil
}
