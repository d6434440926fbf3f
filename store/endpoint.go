package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/tidysupport/tidyhooks/models"
)

// endpointConfig is what the webhooks.endpoint column holds, encrypted:
// the webhook's custom headers and endpoint authentication.
type endpointConfig struct {
	Headers map[string]string    `json:"headers,omitempty"`
	Auth    *models.EndpointAuth `json:"auth,omitempty"`
}

// endpointAAD is the additional data an endpoint is sealed with: the
// webhook's id, marked so that it differs from a signing secret's.
func endpointAAD(webhookID string) string { return "endpoint:" + webhookID }

// sealEndpoint returns the endpoint column's value for w: nil when it has
// neither headers nor auth.
func (s *Store) sealEndpoint(w models.Webhook) (*string, error) {
	if len(w.Headers) == 0 && w.Auth == nil {
		return nil, nil
	}
	if s.sealer == nil {
		return nil, ErrNoEncryptionKey
	}
	plain, err := json.Marshal(endpointConfig{Headers: w.Headers, Auth: w.Auth})
	if err != nil {
		return nil, err
	}
	sealed, err := s.sealer.seal(string(plain), endpointAAD(w.ID))
	if err != nil {
		return nil, err
	}
	return &sealed, nil
}

// openEndpoint sets w's headers and auth from the endpoint column.
func (s *Store) openEndpoint(w *models.Webhook, sealed *string) error {
	w.Headers, w.Auth = nil, nil
	if sealed == nil {
		return nil
	}
	if s.sealer == nil {
		return ErrNoEncryptionKey
	}
	plain, err := s.sealer.open(*sealed, endpointAAD(w.ID))
	if err != nil {
		return fmt.Errorf("endpoint settings of webhook %s: %w", w.ID, err)
	}
	var c endpointConfig
	if err := json.Unmarshal([]byte(plain), &c); err != nil {
		return fmt.Errorf("endpoint settings of webhook %s: %w", w.ID, err)
	}
	w.Headers, w.Auth = c.Headers, c.Auth
	return nil
}

// webhookModel is row's webhook with its endpoint settings decrypted.
func (s *Store) webhookModel(row webhookRow) (models.Webhook, error) {
	w := row.model()
	filters, err := readFilters(row.Filters)
	if err != nil {
		return models.Webhook{}, fmt.Errorf("webhook %s: %w", w.ID, err)
	}
	w.Filters = filters
	return w, s.openEndpoint(&w, row.Endpoint)
}

// oauthAAD is the additional data an OAuth2 token is sealed with.
func oauthAAD(webhookID string) string { return "oauth:" + webhookID }

// OAuthToken returns the webhook's shared OAuth2 token fetched with
// settings, if one is stored that has not expired at now. The settings
// (which hold the client secret) are kept as their digest only.
func (s *Store) OAuthToken(ctx context.Context, webhookID, settings string, now time.Time) (string, time.Time, bool, error) {
	if s.sealer == nil {
		return "", time.Time{}, false, ErrNoEncryptionKey
	}
	settings = s.sealer.digest(settings)
	var row struct {
		Token     string
		ExpiresAt time.Time
	}
	res := s.db.WithContext(ctx).Raw("SELECT token, expires_at FROM oauth_tokens WHERE webhook_id = ? AND settings = ? AND expires_at > ?",
		webhookID, settings, now.UTC()).Scan(&row)
	if res.Error != nil {
		return "", time.Time{}, false, fmt.Errorf("load OAuth2 token of webhook %s: %w", webhookID, translate(res.Error))
	}
	if res.RowsAffected == 0 {
		return "", time.Time{}, false, nil
	}
	token, err := s.sealer.open(row.Token, oauthAAD(webhookID))
	if err != nil {
		return "", time.Time{}, false, nil // sealed with another key: fetch anew
	}
	return token, row.ExpiresAt.UTC(), true, nil
}

// SaveOAuthToken stores the webhook's OAuth2 token, replacing any other.
func (s *Store) SaveOAuthToken(ctx context.Context, webhookID, settings, token string, expires time.Time) error {
	if s.sealer == nil {
		return ErrNoEncryptionKey
	}
	sealed, err := s.sealer.seal(token, oauthAAD(webhookID))
	if err != nil {
		return err
	}
	settings = s.sealer.digest(settings)
	err = s.db.WithContext(ctx).Exec(`INSERT INTO oauth_tokens (webhook_id, settings, token, expires_at)
		SELECT id, ?, ?, ? FROM webhooks WHERE id = ?
		ON CONFLICT (webhook_id) DO UPDATE SET settings = excluded.settings, token = excluded.token, expires_at = excluded.expires_at`,
		settings, sealed, expires.UTC(), webhookID).Error
	if err != nil {
		return fmt.Errorf("save OAuth2 token of webhook %s: %w", webhookID, translate(err))
	}
	return nil
}

// DropOAuthToken forgets the webhook's shared token if it is still token
// (the endpoint refused it): another worker may have replaced it already.
func (s *Store) DropOAuthToken(ctx context.Context, webhookID, settings, token string) error {
	current, _, ok, err := s.OAuthToken(ctx, webhookID, settings, time.Unix(0, 0))
	if err != nil || !ok || current != token {
		return err
	}
	if err := s.db.WithContext(ctx).Exec("DELETE FROM oauth_tokens WHERE webhook_id = ? AND settings = ?", webhookID, s.sealer.digest(settings)).Error; err != nil {
		return fmt.Errorf("drop OAuth2 token of webhook %s: %w", webhookID, translate(err))
	}
	return nil
}
