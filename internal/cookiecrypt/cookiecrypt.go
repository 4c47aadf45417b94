// Package cookiecrypt encrypts and decrypts cookie values in the format of Curity's v1 token
// handler, so that cookies written by a Curity OAuth Agent are read by our OAuth Proxy and the
// other way round:
//
//	value = base64url_nopad(0x01 || 12-byte IV || AES-256-GCM ciphertext || 16-byte tag)
//
// There is no additional authenticated data; the key is 32 bytes given as 64 hex characters.
package cookiecrypt

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
)

const (
	formatVersion = 1
	ivSize        = 12
	tagSize       = 16
	// MinBlobSize is the version byte, the IV, at least one byte of ciphertext and the tag,
	// the same lower bound that Curity's decryptors enforce. Exported for the hot paths that
	// inline the common case of Decrypt.
	MinBlobSize = 1 + ivSize + 1 + tagSize
	// keyHexLength is the only accepted length of a key: 32 bytes, hex-encoded.
	keyHexLength = 64
)

// The reasons a cookie value does not decrypt. They say what failed and never contain the value.
var (
	ErrEmpty      = errors.New("the cookie value is empty")
	ErrNotBase64  = errors.New("the cookie value is not base64url without padding")
	ErrTooShort   = errors.New("the cookie value is too short to be an encrypted cookie")
	ErrVersion    = errors.New("the cookie value has an unknown format version")
	ErrAuthFailed = errors.New("the cookie value does not decrypt with any configured key")
)

// ParseKey decodes a key given as exactly 64 hex characters. The error never repeats the key.
func ParseKey(hexKey string) ([]byte, error) {
	if len(hexKey) != keyHexLength {
		return nil, fmt.Errorf("must be exactly %d hex characters (32 bytes), got %d characters", keyHexLength, len(hexKey))
	}
	key, err := hex.DecodeString(hexKey)
	if err != nil {
		return nil, errors.New("contains characters that are not hex digits")
	}
	return key, nil
}

// Cipher seals with the current key and opens with the current key or any previous one, so that
// cookies written before a key rotation stay readable while the old key is still configured.
type Cipher struct {
	current  cipher.AEAD
	previous []cipher.AEAD
}

// NewCipher builds a Cipher from the current key and the previous keys, all as 64 hex characters.
func NewCipher(currentHex string, previousHex []string) (*Cipher, error) {
	current, err := newAEAD(currentHex)
	if err != nil {
		return nil, err
	}
	c := &Cipher{current: current}
	for i, p := range previousHex {
		aead, err := newAEAD(p)
		if err != nil {
			return nil, fmt.Errorf("previous key %d: %w", i+1, err)
		}
		c.previous = append(c.previous, aead)
	}
	return c, nil
}

func newAEAD(hexKey string) (cipher.AEAD, error) {
	key, err := ParseKey(hexKey)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// Current returns the AEAD of the current key, for a hot path that inlines the common case of
// Decrypt and falls back to Decrypt for everything else.
func (c *Cipher) Current() cipher.AEAD { return c.current }

// Encrypt seals plaintext with the current key and a fresh random IV.
func (c *Cipher) Encrypt(plaintext string) (string, error) {
	iv := make([]byte, ivSize)
	if _, err := rand.Read(iv); err != nil {
		return "", fmt.Errorf("reading random IV: %w", err)
	}
	return c.seal(iv, plaintext), nil
}

func (c *Cipher) seal(iv []byte, plaintext string) string {
	blob := make([]byte, 0, 1+ivSize+len(plaintext)+tagSize)
	blob = append(blob, formatVersion)
	blob = append(blob, iv...)
	blob = c.current.Seal(blob, iv, []byte(plaintext), nil)
	return base64.RawURLEncoding.EncodeToString(blob)
}

// Decrypt opens a cookie value. It returns one of the package's errors, which say what failed.
func (c *Cipher) Decrypt(value string) (string, error) {
	if value == "" {
		return "", ErrEmpty
	}
	blob, err := base64.RawURLEncoding.DecodeString(value)
	if err != nil {
		return "", ErrNotBase64
	}
	if len(blob) < MinBlobSize {
		return "", ErrTooShort
	}
	if blob[0] != formatVersion {
		return "", ErrVersion
	}
	iv := blob[1 : 1+ivSize]
	sealed := blob[1+ivSize:]
	// Opening in place into a copy-free buffer keeps the hot path to one allocation for the
	// decoded bytes and one for the returned string.
	plain, err := c.current.Open(sealed[:0], iv, sealed, nil)
	if err == nil {
		return string(plain), nil
	}
	if len(c.previous) == 0 {
		return "", ErrAuthFailed
	}
	// A failed Open may have overwritten the buffer, so previous keys start from a fresh decode.
	for _, aead := range c.previous {
		blob, _ = base64.RawURLEncoding.DecodeString(value)
		sealed = blob[1+ivSize:]
		plain, err = aead.Open(sealed[:0], blob[1:1+ivSize], sealed, nil)
		if err == nil {
			return string(plain), nil
		}
	}
	return "", ErrAuthFailed
}
