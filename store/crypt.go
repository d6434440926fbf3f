package store

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// sealedPrefix marks a value encrypted with AES-256-GCM.
const sealedPrefix = "v1:"

// KeySize is the length of the encryption key.
const KeySize = 32

// sealer encrypts signing secrets at rest, and hashes values that must be
// looked up without being kept (an OAuth2 configuration, client secret
// and all) with a key of its own derived from the encryption key.
type sealer struct {
	aead      cipher.AEAD
	digestKey []byte
}

func newSealer(key []byte) (*sealer, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("encryption key must be %d bytes, got %d", KeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	derive := hmac.New(sha256.New, key)
	derive.Write([]byte("tidyhooks digest key"))
	return &sealer{aead: aead, digestKey: derive.Sum(nil)}, nil
}

// digest is an HMAC-SHA256 of v: the same for the same v under the same
// encryption key, and no help to anyone guessing v without the key.
func (s *sealer) digest(v string) string {
	m := hmac.New(sha256.New, s.digestKey)
	m.Write([]byte(v))
	return hex.EncodeToString(m.Sum(nil))
}

// seal returns "v1:" + base64(nonce || ciphertext). The webhook id is the
// additional data, so a secret copied to another row does not open.
func (s *sealer) seal(plain, webhookID string) (string, error) {
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	out := s.aead.Seal(nonce, nonce, []byte(plain), []byte(webhookID))
	return sealedPrefix + base64.StdEncoding.EncodeToString(out), nil
}

var errSealed = errors.New("stored secret cannot be decrypted with the configured key")

func (s *sealer) open(stored, webhookID string) (string, error) {
	raw, ok := strings.CutPrefix(stored, sealedPrefix)
	if !ok {
		return "", errSealed
	}
	b, err := base64.StdEncoding.DecodeString(raw)
	if err != nil || len(b) < s.aead.NonceSize() {
		return "", errSealed
	}
	plain, err := s.aead.Open(nil, b[:s.aead.NonceSize()], b[s.aead.NonceSize():], []byte(webhookID))
	if err != nil {
		return "", errSealed
	}
	return string(plain), nil
}
