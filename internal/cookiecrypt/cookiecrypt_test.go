package cookiecrypt

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
)

type vectorFile struct {
	Keys    map[string]string
	Vectors []struct {
		Name      string
		Key       string
		IV        string
		Cookie    string
		Plaintext string
	}
}

func loadVectors(t testing.TB) vectorFile {
	data, err := os.ReadFile("../../testdata/cookie-vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var v vectorFile
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func mustCipher(t testing.TB, current string, previous ...string) *Cipher {
	c, err := NewCipher(current, previous)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCurityVectorsDecrypt(t *testing.T) {
	v := loadVectors(t)
	for _, vec := range v.Vectors {
		t.Run(vec.Name, func(t *testing.T) {
			got, err := mustCipher(t, v.Keys[vec.Key]).Decrypt(vec.Cookie)
			if err != nil {
				t.Fatalf("Decrypt: %v", err)
			}
			if got != vec.Plaintext {
				t.Fatalf("plaintext = %q, want %q", got, vec.Plaintext)
			}
		})
	}
}

func TestFixedIVEncryptionMatchesCurity(t *testing.T) {
	v := loadVectors(t)
	checked := 0
	for _, vec := range v.Vectors {
		if vec.IV == "" {
			continue
		}
		iv, _ := hex.DecodeString(vec.IV)
		if got := mustCipher(t, v.Keys[vec.Key]).seal(iv, vec.Plaintext); got != vec.Cookie {
			t.Errorf("%s: seal = %s, want %s", vec.Name, got, vec.Cookie)
		}
		checked++
	}
	if checked == 0 {
		t.Fatal("no fixed-IV vectors")
	}
}

func TestTamperedCookiesFail(t *testing.T) {
	v := loadVectors(t)
	const cookie = "AUixxnN28w2MjVK7sMZ3GqErPlw15NwIng-V8amEv5eu43Wr1nzhif1hU2QpKbw_L55GVxD0Kz4gKVG539ywk6g"
	key7b99 := mustCipher(t, v.Keys["7b99"])
	replaceAt := func(i int) string {
		b := []byte(cookie)
		if b[i] == 'a' {
			b[i] = 'b'
		} else {
			b[i] = 'a'
		}
		return string(b)
	}
	cases := []struct {
		name   string
		value  string
		cipher *Cipher
		want   error
	}{
		{"IV tampered (5th character)", replaceAt(4), key7b99, ErrAuthFailed},
		{"ciphertext tampered (45th character)", replaceAt(44), key7b99, ErrAuthFailed},
		{"tag tampered (5th from the end)", replaceAt(len(cookie) - 5), key7b99, ErrAuthFailed},
		{"cookie of another key", "AcYBf995tTBVsLtQLvOuLUZXHm2c-XqP8t7SKmhBiQtzy5CAw4h_RF6rXyg6kHrvhb8x4WaLQC6h3mw6a3O3Q9A", key7b99, ErrAuthFailed},
		{"one character", "x", key7b99, ErrNotBase64},
		{"three characters", "xxx", key7b99, ErrTooShort},
		{"empty", "", key7b99, ErrEmpty},
		{"padded base64", cookie + "==", key7b99, ErrNotBase64},
		{"standard base64 alphabet", strings.NewReplacer("-", "+", "_", "/").Replace(cookie), key7b99, ErrNotBase64},
		{"truncated to 29 bytes", cookie[:39], key7b99, ErrTooShort},
		{"truncated tag", cookie[:len(cookie)-4], key7b99, ErrAuthFailed},
		{"version byte 2", "Akixx" + cookie[5:], key7b99, ErrVersion},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.cipher.Decrypt(tc.value)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Decrypt error = %v, want %v", err, tc.want)
			}
			if got != "" {
				t.Fatalf("Decrypt returned plaintext %q with an error", got)
			}
		})
	}
}

func TestRoundTrip(t *testing.T) {
	v := loadVectors(t)
	c := mustCipher(t, v.Keys["4e46"])
	for _, plain := range []string{"x", "42665300-efe8-419d-be52-07b53e208f46", strings.Repeat("j", 4000)} {
		sealed, err := c.Encrypt(plain)
		if err != nil {
			t.Fatal(err)
		}
		if strings.ContainsAny(sealed, "=+/") {
			t.Fatalf("not base64url without padding: %s", sealed)
		}
		again, _ := c.Encrypt(plain)
		if again == sealed {
			t.Fatal("two encryptions gave the same value: the IV is not random")
		}
		got, err := c.Decrypt(sealed)
		if err != nil || got != plain {
			t.Fatalf("Decrypt = %q, %v", got, err)
		}
	}
}

func TestPreviousKeysDecryptButNeverEncrypt(t *testing.T) {
	v := loadVectors(t)
	old := mustCipher(t, v.Keys["4e46"])
	sealedWithOld, _ := old.Encrypt("token-from-before-the-rotation")
	rotated := mustCipher(t, v.Keys["7b99"], v.Keys["4e46"])

	got, err := rotated.Decrypt(sealedWithOld)
	if err != nil || got != "token-from-before-the-rotation" {
		t.Fatalf("previous key: Decrypt = %q, %v", got, err)
	}
	sealedNew, _ := rotated.Encrypt("new")
	if _, err := old.Decrypt(sealedNew); err == nil {
		t.Fatal("a rotated cipher encrypted with a previous key")
	}
	if _, err := mustCipher(t, v.Keys["7b99"]).Decrypt(sealedWithOld); !errors.Is(err, ErrAuthFailed) {
		t.Fatalf("without the previous key: err = %v", err)
	}
	// A tampered value fails against every key, and a previous key does not mask the tamper.
	flipped := byte('A')
	if sealedWithOld[40] == 'A' {
		flipped = 'B'
	}
	if _, err := rotated.Decrypt(sealedWithOld[:40] + string(flipped) + sealedWithOld[41:]); !errors.Is(err, ErrAuthFailed) {
		t.Fatalf("tampered value: err = %v", err)
	}
}

func TestParseKey(t *testing.T) {
	good := "4e4636356d65563e4c73233847503e3b21436e6f7629724950526f4b5e2e4e50"
	cases := []struct {
		name, key, wantErr string
	}{
		{"valid lower case", good, ""},
		{"valid upper case", strings.ToUpper(good), ""},
		{"32 characters", good[:32], "must be exactly 64 hex characters (32 bytes), got 32 characters"},
		{"65 characters", good + "0", "got 65 characters"},
		{"empty", "", "got 0 characters"},
		{"not hex", ")-" + good[2:], "contains characters that are not hex digits"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseKey(tc.key)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("ParseKey: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.wantErr)
			}
			if tc.key != "" && strings.Contains(err.Error(), tc.key) {
				t.Fatal("the error repeats the key")
			}
		})
	}
	if _, err := NewCipher(good, []string{good, "abc"}); err == nil || !strings.Contains(err.Error(), "previous key 2") {
		t.Fatalf("NewCipher with a bad previous key: %v", err)
	}
}
