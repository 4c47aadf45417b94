package cookiecrypt

import (
	"testing"
)

// FuzzDecrypt feeds arbitrary cookie values to Decrypt: it must never panic, and a value it
// accepts must be one that Encrypt could have produced (it re-encrypts to a decryptable value).
func FuzzDecrypt(f *testing.F) {
	v := loadVectors(f)
	for _, vec := range v.Vectors {
		f.Add(vec.Cookie)
	}
	for _, seed := range []string{"", "x", "xxx", "AQ", "AQAB", "====", "AQABAgMEBQYHCAkKC", "\x00\xff", "Ag" + "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"} {
		f.Add(seed)
	}
	c := mustCipher(f, v.Keys["4e46"], v.Keys["7b99"])
	f.Fuzz(func(t *testing.T, value string) {
		plain, err := c.Decrypt(value)
		if err != nil {
			if plain != "" {
				t.Fatal("plaintext returned with an error")
			}
			return
		}
		sealed, err := c.Encrypt(plain)
		if err != nil {
			t.Fatal(err)
		}
		if again, err := c.Decrypt(sealed); err != nil || again != plain {
			t.Fatalf("round trip failed: %v", err)
		}
	})
}
