package store

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
)

// An OAuth2 configuration (client secret included) is kept as a keyed
// hash: it was a plain SHA-256, which anyone holding the database could
// test guessed secrets against.
func TestSettingsDigestIsKeyed(t *testing.T) {
	a, err := newSealer([]byte(strings.Repeat("a", KeySize)))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := newSealer([]byte(strings.Repeat("b", KeySize)))
	settings := "https://auth.example.com/token\x00client\x00secret\x00\x00"
	plain := sha256.Sum256([]byte(settings))
	if d := a.digest(settings); d != a.digest(settings) || d == hex.EncodeToString(plain[:]) || d == b.digest(settings) || strings.Contains(d, "secret") {
		t.Errorf("digest %q: want stable, keyed and unlike a plain hash", d)
	}
}
