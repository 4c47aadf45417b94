package jwt_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/tokenhandler/traefik-token-handler/internal/jwt"
	"github.com/tokenhandler/traefik-token-handler/testsupport/fuzzcheck"
)

// Fixed test keys, so that the tokens in the committed corpus (testdata/fuzz/FuzzVerifySignature)
// verify in every fuzzing process. They sign nothing but these tests.
const (
	fuzzRSAKeyPEM = `-----BEGIN RSA PRIVATE KEY-----
MIIEpAIBAAKCAQEAtielFsmaOoW7ayZkyWy9TR41rcyr4NJNc4UVfTDMTESxwwSA
twgWMq4RTqcgDivMcN9/jeo2ZX83MH5oWkTPdgBwHmrE1YAxNaDM9dzn4WU9R9o1
8b+V9f1UodbUJwm3tskg96SV3RLhvv4/BWvm629ggOiB8tcMapb4vc1QZg5IiXyp
E0NF+Qt7pqEtrt18CURS6h2hXADn2VRTJTucgOweZl/+xJaqUPUyU0YpffjsEomB
W75P1mjPkU8zwHj9LTemnEnAgUCGoEfCow3x/AaawKqbotjmxHC+qgYODy/gidlw
1kUFJYTbTYF3hfIUdQfTT4jQRtrkxL/DwoWYtQIDAQABAoIBACyEPtf1WDBiO34B
yZLidNcSgXrisMTGkLAhP7GzSdJ/3VO0V4Kjws0K9mba+D4OXS3eqS01Jqsibon2
8qjQ9US48a21WTp2VFBvZnfVz4OputLDFPjqYgtWqKbOulV6DgBpYhmziv6W3T3Q
o/U+vBYgx5xpdkyzWrD4CX1VXoc6HolNePu3QB/Ns2HZoaTqO35XYuvwyVacnI3R
gRm5Kh7Fi8OB6OmHJJc7mzDVU3cE81M74lnwZKgo2+7k99+NoevewXhncZg/dkXr
/SrB9Wu2A3qwzeSGic39uQLcMceHxqOCSt8XxO9jx6N7YFwl2+VzVDvkB0mBcQQt
nOxvS0cCgYEA/NmgfLVqV6JGSgppfbIX+5T0L9AzErj64VK6dY67qnLkgCl1mo+b
pBS9dHsJPGyqaGDf4dmWNtIoV67Hz+YJs6Ttw2xKseweCa/qIyK6kOaA6pITCP9D
hYAeH/xYesYLlKTFLka5AYGqFwsDGzdYHG2+EGD36WJX85995zLrIncCgYEAuGyP
shLdbtRfHr2prpaNBoXdZznKwvHKhjH7ve/X6c7uoqP7huyVFF/n4ZOpEuELutOB
HIrU7xdLwlkYnrhfrgNBRl7ipXKqVOTipwaLlyVGaAuNOuqLHwnpGLw4QQwDDliD
YRtoj/TxiOKBHL192Fw0d+z8ya6ktPETtyy73TMCgYEA1HScSA07ZJUikHX9O7OY
OTlokIBVWcb6brfPmpWrFEZjv1iWy58dPRp8MlJraU05RmkX1TK56Chf44UluYdl
4X+UlJ76iFOIzcT1bD5zGuvDqNXCjs3F03faWC/1vHuKIYTtdbvRGfX0kFYdbxHq
xEBl8mc4B+8tTbRW2xxKvHMCgYEAk4jle4Nz+VGTtrfromt17h3w/L9S4Zkkdy5N
Qak5hSWx6hJdCZcBvAbtLZw+yYeXJqJEy1yU86AjTxqPg4njoQWhlnYZwll0we1J
FG08BnIfXOTA2rz/BpmbC9qm9gJx/2v3zhtrDp7ZCrSIrUE6B3fb0YSYxY8c3FNv
fj4fG9kCgYAXv9Vy3qWb4/ehXUER1cBh1fX1XuEtNOxSjerQ2ldA94ioMNwk9zLO
pS0T7+aTlMCEF1PN0MADrzRHbeDzLLZZDVL7DsKTjecgoK2usniGsrkbfDHT2Fpy
hkhsiJa+4j/bXRy46sz7ua8QrsRTOp8au+w4ed+XpeKaQgtKQQYbJg==
-----END RSA PRIVATE KEY-----`
	fuzzECKeyPEM = `-----BEGIN EC PRIVATE KEY-----
MHcCAQEEIOzLjTasLPy+nBNGk54PIl9MrBTMo5rnbdQN60J05QAAoAoGCCqGSM49
AwEHoUQDQgAECFhbqv/qebczgMq8nG9vvpPDfScHx1EblClGFJ+oEETv25Cbuirz
Rd3O58w8Q6xRmzSiHzqimbVSQzTkdzvqTA==
-----END EC PRIVATE KEY-----`
)

// The headers and payloads the fixed keys sign: the only signing inputs a token may be accepted
// for.
var (
	fuzzHeaders = map[string]string{
		"RS256": `{"alg":"RS256","kid":"rsa-1","typ":"JWT"}`,
		"PS256": `{"alg":"PS256","kid":"rsa-1","typ":"JWT"}`,
		"ES256": `{"alg":"ES256","kid":"ec-1","typ":"JWT"}`,
	}
	fuzzPayloads = []string{
		`{"iss":"https://login.example.com","sub":"demouser","aud":"spa-client","exp":4102444800,"iat":1700000000,"nonce":"n-0S6_WzA2Mj"}`,
		`{"sub":"admin","scope":"read write"}`,
	}
)

// b64 is base64url without padding, the JWS encoding.
func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

type signer struct {
	rsa *rsa.PrivateKey
	ec  *ecdsa.PrivateKey
	// signed holds every signing input the keys signed, for the algorithm in its header.
	signed map[string]bool
	// rs256 holds the RS256 signatures, which are deterministic.
	rs256 map[string][]byte
}

func newSigner(t testing.TB) *signer {
	t.Helper()
	block, _ := pem.Decode([]byte(fuzzRSAKeyPEM))
	rsaKey, err := x509.ParsePKCS1PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	block, _ = pem.Decode([]byte(fuzzECKeyPEM))
	ecKey, err := x509.ParseECPrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	s := &signer{rsa: rsaKey, ec: ecKey, signed: map[string]bool{}, rs256: map[string][]byte{}}
	for alg, header := range fuzzHeaders {
		for _, payload := range fuzzPayloads {
			input := b64([]byte(header)) + "." + b64([]byte(payload))
			s.signed[input] = true
			if alg == "RS256" {
				s.rs256[input] = s.sign(t, alg, input)
			}
		}
	}
	return s
}

// sign signs input with the key of alg.
func (s *signer) sign(t testing.TB, alg, input string) []byte {
	t.Helper()
	digest := sha256.Sum256([]byte(input))
	var sig []byte
	var err error
	switch alg {
	case "RS256":
		sig, err = rsa.SignPKCS1v15(nil, s.rsa, crypto.SHA256, digest[:])
	case "PS256":
		sig, err = rsa.SignPSS(rand.Reader, s.rsa, crypto.SHA256, digest[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	case "ES256":
		var r, ss *big.Int
		r, ss, err = ecdsa.Sign(rand.Reader, s.ec, digest[:])
		if err == nil {
			sig = make([]byte, 64)
			r.FillBytes(sig[:32])
			ss.FillBytes(sig[32:])
		}
	default:
		t.Fatalf("no key for %s", alg)
	}
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

// token returns a signed compact JWT for one of the fixed headers and payloads.
func (s *signer) token(t testing.TB, alg, payload string) string {
	input := b64([]byte(fuzzHeaders[alg])) + "." + b64([]byte(payload))
	return input + "." + b64(s.sign(t, alg, input))
}

// jwks is the JWKS document that publishes the fixed public keys.
func (s *signer) jwks() []byte {
	pub := s.ec.PublicKey
	x, y := make([]byte, 32), make([]byte, 32)
	pub.X.FillBytes(x)
	pub.Y.FillBytes(y)
	doc := map[string]interface{}{"keys": []map[string]string{
		{"kty": "RSA", "kid": "rsa-1", "use": "sig", "alg": "RS256", "n": b64(s.rsa.N.Bytes()), "e": b64(big.NewInt(int64(s.rsa.E)).Bytes())},
		{"kty": "EC", "kid": "ec-1", "use": "sig", "crv": "P-256", "x": b64(x), "y": b64(y)},
	}}
	data, _ := json.Marshal(doc)
	return data
}

// seedTokens are valid and near-valid tokens: real signatures, and the classic forgeries.
func (s *signer) seedTokens(t testing.TB) []string {
	good := s.token(t, "RS256", fuzzPayloads[0])
	parts := strings.Split(good, ".")
	mac := hmac.New(sha256.New, x509.MarshalPKCS1PublicKey(&s.rsa.PublicKey))
	hsInput := b64([]byte(`{"alg":"HS256","kid":"rsa-1"}`)) + "." + parts[1]
	mac.Write([]byte(hsInput))
	return []string{
		good,
		s.token(t, "PS256", fuzzPayloads[0]),
		s.token(t, "ES256", fuzzPayloads[0]),
		s.token(t, "RS256", fuzzPayloads[1]),
		s.token(t, "ES256", fuzzPayloads[1]),
		good + "=", // padding after the signature
		parts[0] + "." + b64([]byte(`{"sub":"admin"}`)) + "." + parts[2], // another payload, the same signature
		b64([]byte(`{"alg":"none"}`)) + "." + parts[1] + ".",             // alg none
		hsInput + "." + b64(mac.Sum(nil)),                                // HS256 keyed with the RSA public key
		b64([]byte(`{"alg":"ES256","kid":"rsa-1"}`)) + "." + parts[1] + "." + parts[2],
		"", ".", "..", "a.b.c", "e30.e30.", "e30.e30.e30", "e30.e30.e30.e30",
		"e30.e30.e\n30", "e30.e30.AAAA\r\nX-Injected", "\x00.\x00.\x00", "ü.ü.ü",
		b64([]byte(`{"alg":"RS256","alg":"none"}`)) + "." + parts[1] + "." + parts[2],
		b64([]byte(`{"alg":"RS256"}`)) + "." + b64([]byte(strings.Repeat(`{"a":`, 1000))) + "." + parts[2],
	}
}

// jwtChars are the characters of a compact JWS: base64url, the two dots, and the padding that
// Parse tolerates at the end of a part.
const jwtChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.="

// FuzzParse feeds arbitrary strings to Parse and Claims: no panic, one of the package's errors,
// and an accepted token has three parts of base64url characters (no white space, which the base64
// decoder would otherwise skip), a signing input that is its first two parts as received, a JSON
// object payload, and Claims agrees with Parse.
func FuzzParse(f *testing.F) {
	for _, seed := range newSigner(f).seedTokens(f) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, token string) {
		defer fuzzcheck.Bound(t, 10*time.Second, 8<<20)()
		if len(token) > 32*1024 {
			token = token[:32*1024]
		}
		p, err := jwt.Parse(token)
		// Raw members: a number out of float64's range is valid JSON, which a map of interface{}
		// values would refuse.
		var claims map[string]json.RawMessage
		claimsErr := jwt.Claims(token, &claims)
		if err != nil {
			if p != nil {
				t.Fatal("a parsed token came back with an error")
			}
			if err != jwt.ErrNotCompact && err != jwt.ErrEncoding && err != jwt.ErrJSON {
				t.Fatalf("unexpected error %v", err)
			}
			if claimsErr != err {
				t.Fatalf("Claims says %v where Parse says %v", claimsErr, err)
			}
			return
		}
		if strings.Count(token, ".") != 2 {
			t.Fatalf("accepted %q, which does not have three parts", token)
		}
		if rest := strings.Trim(token, jwtChars); rest != "" {
			t.Fatalf("accepted %q, which has characters a compact JWT cannot have", token)
		}
		parts := strings.Split(token, ".")
		if p.SigningInput != parts[0]+"."+parts[1] {
			t.Fatalf("signing input %q is not the token's first two parts", p.SigningInput)
		}
		if s := strings.TrimSpace(string(p.Payload)); !strings.HasPrefix(s, "{") || !json.Valid(p.Payload) {
			t.Fatalf("accepted payload %q, which is not a JSON object", p.Payload)
		}
		if claimsErr != nil {
			t.Fatalf("Parse accepts %q but Claims says %v", token, claimsErr)
		}
		if _, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[2], "=")); err != nil {
			t.Fatalf("signature part %q is not base64url", parts[2])
		}
	})
}

// FuzzParseJWKS feeds arbitrary documents to ParseJWKS: no panic; every key it returns is an RSA
// key of at least 2048 bits with a sane exponent or a P-256 key on the curve; it returns no more
// keys than the document lists; and a usable key added after the document's keys is always
// returned, whatever the others are (an unusable key must not hide a usable one).
func FuzzParseJWKS(f *testing.F) {
	s := newSigner(f)
	good := s.jwks()
	f.Add(good)
	for _, seed := range []string{
		``, `null`, `[]`, `{}`, `{"keys":null}`, `{"keys":[]}`, `{"keys":{}}`, `{"keys":[null]}`, `{"keys":[1]}`,
		`{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"}]}`,
		`{"keys":[{"kty":"RSA","n":"` + strings.Repeat("_w", 2048) + `","e":"` + strings.Repeat("_w", 64) + `"}]}`,
		`{"keys":[{"kty":"EC","crv":"P-256","x":"AQ","y":"AQ"}]}`,
		`{"keys":[{"kty":"EC","crv":"P-384","x":"AQ","y":"AQ"}]}`,
		`{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}`,
		`{"keys":[{"kty":"RSA","use":"enc","n":"AQAB","e":"AQAB"}]}`,
		`{"keys":[{"kty":"RSA"}],"keys":[]}`,
		`{"KEYS":[{"KTY":"EC"}]}`,
		"{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"\u00e9\u0000\ufffd\"}]}",
	} {
		f.Add([]byte(seed))
	}
	var goodKey json.RawMessage
	{
		var doc struct{ Keys []json.RawMessage }
		if err := json.Unmarshal(good, &doc); err != nil {
			f.Fatal(err)
		}
		goodKey = doc.Keys[0]
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		defer fuzzcheck.Bound(t, 10*time.Second, 8<<20)()
		if len(data) > 64*1024 {
			data = data[:64*1024]
		}
		keys, err := jwt.ParseJWKS(data)
		if err != nil {
			if keys != nil {
				t.Fatal("keys came back with an error")
			}
			return
		}
		for i, k := range keys {
			switch pub := k.Public.(type) {
			case *rsa.PublicKey:
				if pub.N.BitLen() < 2048 || pub.E < 3 {
					t.Fatalf("key %d: RSA key of %d bits, e=%d", i, pub.N.BitLen(), pub.E)
				}
			case *ecdsa.PublicKey:
				if pub.Curve == nil || pub.Curve.Params().Name != "P-256" || !onP256(pub.X, pub.Y) {
					t.Fatalf("key %d: EC key not on P-256", i)
				}
			default:
				t.Fatalf("key %d: unexpected key type %T", i, k.Public)
			}
		}
		var doc struct {
			Keys []json.RawMessage `json:"keys"`
		}
		if err := json.Unmarshal(data, &doc); err != nil {
			t.Fatalf("ParseJWKS accepts a document that is not JSON of the JWKS shape: %v", err)
		}
		if len(keys) > len(doc.Keys) {
			t.Fatalf("%d keys from a document that lists %d", len(keys), len(doc.Keys))
		}
		more, _ := json.Marshal(map[string]interface{}{"keys": append(doc.Keys, goodKey)})
		withGood, err := jwt.ParseJWKS(more)
		if err != nil || len(withGood) != len(keys)+1 || withGood[len(keys)].Kid != "rsa-1" {
			t.Fatalf("a usable key after the document's %d keys is not returned: %d keys, %v", len(keys), len(withGood), err)
		}
	})
}

// FuzzVerifySignature parses arbitrary tokens and verifies them with the fixed keys (given
// directly, with and without an alg, and as read from their JWKS). A token may be accepted only
// when its signing input is one the keys signed, for the algorithm of its header, with an RS256
// signature identical to the one the key makes; and an accepted token fails as soon as one bit of
// its signature or one byte of its signing input changes.
// onP256 is the fuzz test's own check that (x, y) is a point of P-256, independent of the
// crypto/ecdh check ParseJWKS makes: both coordinates in [0, p) and y² = x³ − 3x + b (mod p).
func onP256(x, y *big.Int) bool {
	params := elliptic.P256().Params()
	if x.Sign() < 0 || y.Sign() < 0 || x.Cmp(params.P) >= 0 || y.Cmp(params.P) >= 0 {
		return false
	}
	y2 := new(big.Int).Mul(y, y)
	y2.Mod(y2, params.P)
	rhs := new(big.Int).Mul(x, x)
	rhs.Mul(rhs, x)
	threeX := new(big.Int).Lsh(x, 1)
	threeX.Add(threeX, x)
	rhs.Sub(rhs, threeX)
	rhs.Add(rhs, params.B)
	rhs.Mod(rhs, params.P)
	return rhs.Cmp(y2) == 0
}

func FuzzVerifySignature(f *testing.F) {
	s := newSigner(f)
	for i, seed := range s.seedTokens(f) {
		f.Add(seed, uint8(i))
	}
	jwksKeys, err := jwt.ParseJWKS(s.jwks())
	if err != nil || len(jwksKeys) != 2 {
		f.Fatalf("the fixed JWKS: %d keys, %v", len(jwksKeys), err)
	}
	keys := []jwt.Key{
		{Kid: "rsa-1", Public: &s.rsa.PublicKey},
		{Kid: "rsa-1", Alg: "RS256", Public: &s.rsa.PublicKey},
		{Kid: "rsa-1", Alg: "PS256", Public: &s.rsa.PublicKey},
		{Kid: "ec-1", Public: &s.ec.PublicKey},
		{Kid: "ec-1", Alg: "ES256", Public: &s.ec.PublicKey},
		jwksKeys[0],
		jwksKeys[1],
	}
	f.Fuzz(func(t *testing.T, token string, choice uint8) {
		defer fuzzcheck.Bound(t, 10*time.Second, 8<<20)()
		if len(token) > 32*1024 {
			token = token[:32*1024]
		}
		p, err := jwt.Parse(token)
		if err != nil {
			return
		}
		key := keys[int(choice)%len(keys)]
		if err := jwt.VerifySignature(p, key); err != nil {
			switch err {
			case jwt.ErrAlgorithm, jwt.ErrKeyMismatch, jwt.ErrBadSignature:
			default:
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		alg := p.Header.Alg
		if !jwt.Algorithms[alg] || !jwt.Fits(key, alg) {
			t.Fatalf("accepted alg %q with a key that does not fit it", alg)
		}
		if !s.signed[p.SigningInput] {
			t.Fatalf("FORGERY: accepted %q, whose signing input the key never signed", token)
		}
		if header, _ := base64.RawURLEncoding.DecodeString(strings.Split(p.SigningInput, ".")[0]); string(header) != fuzzHeaders[alg] {
			t.Fatalf("accepted %q for alg %s with the header %q", token, alg, header)
		}
		if want, ok := s.rs256[p.SigningInput]; alg == "RS256" && (!ok || string(want) != string(p.Signature)) {
			t.Fatalf("accepted an RS256 signature that is not the key's: %q", token)
		}
		flipped := *p
		flipped.Signature = append([]byte(nil), p.Signature...)
		flipped.Signature[len(flipped.Signature)/2] ^= 0x10
		if jwt.VerifySignature(&flipped, key) == nil {
			t.Fatalf("a flipped signature bit still verifies: %q", token)
		}
		changed := *p
		changed.SigningInput = p.SigningInput + "A"
		if jwt.VerifySignature(&changed, key) == nil {
			t.Fatalf("a changed signing input still verifies: %q", token)
		}
	})
}
