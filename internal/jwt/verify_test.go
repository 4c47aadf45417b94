package jwt_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"math/big"
	"testing"

	"github.com/tokenhandler/traefik-token-handler/internal/jwt"
)

// TestParseJWKSChecksECPoints checks which P-256 coordinates ParseJWKS accepts: the point must be
// on the curve with each coordinate below the field prime, whatever the length of its base64url
// big-endian encoding (leading zero bytes may be left out or added).
func TestParseJWKSChecksECPoints(t *testing.T) {
	p := elliptic.P256().Params().P
	parse := func(x, y []byte) bool {
		doc, _ := json.Marshal(map[string]interface{}{"keys": []map[string]string{
			{"kty": "EC", "crv": "P-256", "x": b64(x), "y": b64(y)},
		}})
		keys, err := jwt.ParseJWKS(doc)
		if err != nil {
			t.Fatal(err)
		}
		return len(keys) == 1
	}
	for i := 0; i < 32; i++ {
		priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		x, y := priv.X, priv.Y
		padded := func(n *big.Int, size int) []byte { return n.FillBytes(make([]byte, size)) }
		if !parse(x.Bytes(), y.Bytes()) || !parse(padded(x, 32), padded(y, 32)) || !parse(padded(x, 33), padded(y, 40)) {
			t.Fatalf("key %d: a point on the curve is refused", i)
		}
		if parse(x.Bytes(), new(big.Int).Add(y, big.NewInt(1)).Bytes()) {
			t.Fatalf("key %d: a point off the curve is accepted", i)
		}
		if parse(new(big.Int).Add(x, p).Bytes(), y.Bytes()) || parse(x.Bytes(), new(big.Int).Add(y, p).Bytes()) {
			t.Fatalf("key %d: a coordinate at or above the field prime is accepted", i)
		}
		if !parse(x.Bytes(), new(big.Int).Sub(p, y).Bytes()) {
			t.Fatalf("key %d: the point's negation is refused", i)
		}
	}
	if parse([]byte{0}, []byte{0}) {
		t.Fatal("(0, 0) is accepted")
	}
}
