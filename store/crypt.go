package store

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// sealedPrefix marks a value encrypted with AES-256-GCM.
const sealedPrefix = "v1:"

// KeySize is the length of the encryption key.
const KeySize = 32

// sealer encrypts signing secrets at rest.
type sealer struct{ aead cipher.AEAD }

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
	return &sealer{aead: aead}, nil
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
