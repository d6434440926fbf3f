// Package signing implements the Standard Webhooks signature scheme used on
// every delivery: secrets of the form whsec_<base64>, and the
// webhook-signature header value. It imports only the standard library.
package signing

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// SecretPrefix starts every secret.
const SecretPrefix = "whsec_"

// secretBytes is how much randomness a new secret carries (SPEC §3: 24-64).
const secretBytes = 32

// ErrBadSecret is returned for a secret that is not whsec_<base64 of 24-64 bytes>.
var ErrBadSecret = errors.New("secret must be whsec_ followed by base64 of 24 to 64 bytes")

// NewSecret returns a fresh random secret.
func NewSecret() (string, error) {
	b := make([]byte, secretBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("read random: %w", err)
	}
	return SecretPrefix + base64.StdEncoding.EncodeToString(b), nil
}

// decodeSecret returns the HMAC key of a secret.
func decodeSecret(secret string) ([]byte, error) {
	raw, ok := strings.CutPrefix(secret, SecretPrefix)
	if !ok {
		return nil, ErrBadSecret
	}
	key, err := base64.StdEncoding.DecodeString(raw)
	if err != nil || len(key) < 24 || len(key) > 64 {
		return nil, ErrBadSecret
	}
	return key, nil
}

// ValidateSecret reports whether secret has the right form.
func ValidateSecret(secret string) error {
	_, err := decodeSecret(secret)
	return err
}

// Signature returns one "v1,<base64>" entry for secret.
func Signature(secret, msgID string, ts time.Time, body []byte) (string, error) {
	key, err := decodeSecret(secret)
	if err != nil {
		return "", err
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(msgID))
	mac.Write([]byte{'.'})
	mac.Write([]byte(strconv.FormatInt(ts.Unix(), 10)))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil)), nil
}

// Header returns the webhook-signature header value: one entry per secret,
// space-separated, in the order given.
func Header(secrets []string, msgID string, ts time.Time, body []byte) (string, error) {
	if len(secrets) == 0 {
		return "", errors.New("no signing secret")
	}
	parts := make([]string, 0, len(secrets))
	for _, s := range secrets {
		sig, err := Signature(s, msgID, ts, body)
		if err != nil {
			return "", err
		}
		parts = append(parts, sig)
	}
	return strings.Join(parts, " "), nil
}
