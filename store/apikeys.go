package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/tidysupport/tidyhooks/models"
)

// KeyPrefix starts every API key's value.
const KeyPrefix = "tsk_"

// NewKeyValue returns a fresh random API key value.
func NewKeyValue() (string, error) {
	b := make([]byte, 30)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("read random: %w", err)
	}
	return KeyPrefix + base64.RawURLEncoding.EncodeToString(b), nil
}

func hashKey(value string) []byte {
	h := sha256.Sum256([]byte(value))
	return h[:]
}

// CreateAPIKey stores the hash of value as a key with k's workspace and
// scopes, and returns the key with its id.
func (s *Store) CreateAPIKey(ctx context.Context, k models.APIKey, value, name string) (models.APIKey, error) {
	k.ID = models.NewID("key", s.now())
	row := apiKeyRow{
		ID:          k.ID,
		Hash:        hashKey(value),
		Prefix:      value[:min(len(value), len(KeyPrefix)+6)],
		WorkspaceID: k.WorkspaceID,
		Scopes:      strings.Join(k.Scopes, " "),
		Name:        name,
		CreatedAt:   s.now(),
	}
	if err := s.db.WithContext(ctx).Create(&row).Error; err != nil {
		return models.APIKey{}, fmt.Errorf("create API key: %w", translate(err))
	}
	return k, nil
}

// APIKeyByValue returns the unrevoked key whose value is value.
func (s *Store) APIKeyByValue(ctx context.Context, value string) (models.APIKey, error) {
	var row apiKeyRow
	err := s.db.WithContext(ctx).Take(&row, "hash = ? AND revoked_at IS NULL", hashKey(value)).Error
	if err != nil {
		return models.APIKey{}, fmt.Errorf("look up API key: %w", translate(err))
	}
	return models.APIKey{ID: row.ID, WorkspaceID: row.WorkspaceID, Scopes: strings.Fields(row.Scopes)}, nil
}

// APIKeyInfo is what listing keys shows: never the value or its hash.
type APIKeyInfo struct {
	models.APIKey
	Prefix    string
	Name      string
	CreatedAt time.Time
	RevokedAt *time.Time
}

// ListAPIKeys returns every key, oldest first.
func (s *Store) ListAPIKeys(ctx context.Context) ([]APIKeyInfo, error) {
	var rows []apiKeyRow
	if err := s.db.WithContext(ctx).Order("id").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("list API keys: %w", translate(err))
	}
	out := make([]APIKeyInfo, len(rows))
	for i, r := range rows {
		out[i] = APIKeyInfo{
			APIKey:    models.APIKey{ID: r.ID, WorkspaceID: r.WorkspaceID, Scopes: strings.Fields(r.Scopes)},
			Prefix:    r.Prefix,
			Name:      r.Name,
			CreatedAt: r.CreatedAt.UTC(),
			RevokedAt: utcPtr(r.RevokedAt),
		}
	}
	return out, nil
}

// Revoked is what revoking a key ended beside it.
type Revoked struct {
	PortalSessions int64 // live sessions its portal links opened
	PortalLinks    int64 // its portal links not yet spent
}

// RevokeAPIKey revokes a key by id; it fails from the next request on, and
// so do the portal sessions it opened and the links it made.
func (s *Store) RevokeAPIKey(ctx context.Context, id string) (Revoked, error) {
	var out Revoked
	now := s.now()
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&apiKeyRow{}).Where("id = ? AND revoked_at IS NULL", id).Update("revoked_at", now)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return models.ErrNotFound
		}
		var err error
		out.PortalSessions, out.PortalLinks, err = endKeysPortal(tx, id, now)
		return err
	})
	if err != nil {
		if errors.Is(err, models.ErrNotFound) {
			return out, fmt.Errorf("revoke API key %s: %w", id, models.ErrNotFound)
		}
		return out, fmt.Errorf("revoke API key %s: %w", id, translate(err))
	}
	return out, nil
}
