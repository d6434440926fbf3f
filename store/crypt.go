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

// Sealed values are AES-256-GCM: "v2:<key id>:" + base64(nonce ||
// ciphertext), the key id naming the key that sealed it (KeyID); "v1:" +
// the same is how values were sealed before keys had ids (any of the keys
// is tried).
const (
	sealedPrefix   = "v2:"
	sealedPrefixV1 = "v1:"
)

// KeySize is the length of the encryption key.
const KeySize = 32

// KeyID names an encryption key in the values it seals: the first eight
// hex digits of a SHA-256 of the key (the key cannot be had from them).
func KeyID(key []byte) string {
	sum := sha256.Sum256(append([]byte("tidyhooks key id\x00"), key...))
	return hex.EncodeToString(sum[:4])
}

// sealer encrypts signing secrets at rest with the first of its keys and
// opens what any of them sealed; it hashes values that must be looked up
// without being kept (an OAuth2 configuration, client secret and all)
// with a key of its own derived from the first key.
type sealer struct {
	keys      []sealKey // the first seals
	digestKey []byte
}

type sealKey struct {
	id   string
	aead cipher.AEAD
}

func newSealer(keys ...[]byte) (*sealer, error) {
	if len(keys) == 0 {
		return nil, errors.New("no encryption key")
	}
	s := &sealer{}
	for i, key := range keys {
		if len(key) != KeySize {
			return nil, fmt.Errorf("encryption key %d must be %d bytes, got %d", i+1, KeySize, len(key))
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		id := KeyID(key)
		for _, k := range s.keys {
			if k.id == id {
				return nil, fmt.Errorf("encryption key %d is given twice", i+1)
			}
		}
		s.keys = append(s.keys, sealKey{id: id, aead: aead})
	}
	derive := hmac.New(sha256.New, keys[0])
	derive.Write([]byte("tidyhooks digest key"))
	s.digestKey = derive.Sum(nil)
	return s, nil
}

// digest is an HMAC-SHA256 of v: the same for the same v under the same
// encryption key, and no help to anyone guessing v without the key.
func (s *sealer) digest(v string) string {
	m := hmac.New(sha256.New, s.digestKey)
	m.Write([]byte(v))
	return hex.EncodeToString(m.Sum(nil))
}

// sealingID is the id of the key values are sealed with.
func (s *sealer) sealingID() string { return s.keys[0].id }

// seal returns plain sealed with the first key. The webhook id is the
// additional data, so a secret copied to another row does not open.
func (s *sealer) seal(plain, webhookID string) (string, error) {
	k := s.keys[0]
	nonce := make([]byte, k.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	out := k.aead.Seal(nonce, nonce, []byte(plain), []byte(webhookID))
	return sealedPrefix + k.id + ":" + base64.StdEncoding.EncodeToString(out), nil
}

var errSealed = errors.New("stored secret cannot be decrypted with the configured keys")

// sealedBy returns the id of the key that sealed stored ("" for a value
// sealed before keys had ids) and whether stored is a sealed value.
func sealedBy(stored string) (id string, ok bool) {
	if strings.HasPrefix(stored, sealedPrefixV1) {
		return "", true
	}
	rest, ok := strings.CutPrefix(stored, sealedPrefix)
	if !ok {
		return "", false
	}
	id, _, ok = strings.Cut(rest, ":")
	return id, ok
}

func (s *sealer) open(stored, webhookID string) (string, error) {
	var raw string
	candidates := s.keys
	if rest, ok := strings.CutPrefix(stored, sealedPrefixV1); ok {
		raw = rest
	} else if rest, ok := strings.CutPrefix(stored, sealedPrefix); ok {
		id, body, ok := strings.Cut(rest, ":")
		if !ok {
			return "", errSealed
		}
		raw, candidates = body, nil
		for _, k := range s.keys {
			if k.id == id {
				candidates = []sealKey{k}
			}
		}
		if candidates == nil {
			return "", fmt.Errorf("%w: it was sealed with key %s, which is not configured", errSealed, id)
		}
	} else {
		return "", errSealed
	}
	b, err := base64.StdEncoding.DecodeString(raw)
	if err != nil {
		return "", errSealed
	}
	for _, k := range candidates {
		if len(b) < k.aead.NonceSize() {
			return "", errSealed
		}
		if plain, err := k.aead.Open(nil, b[:k.aead.NonceSize()], b[k.aead.NonceSize():], []byte(webhookID)); err == nil {
			return string(plain), nil
		}
	}
	return "", errSealed
}
