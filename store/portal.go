package store

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/tidysupport/tidyhooks/models"
)

// PortalCodeTTL is how long a portal link's code may be exchanged for a
// session: long enough to open the page the platform just rendered.
const PortalCodeTTL = 5 * time.Minute

type portalCodeRow struct {
	Hash        []byte `gorm:"primaryKey"`
	WorkspaceID string
	ReadOnly    bool
	TTLSeconds  int `gorm:"column:ttl_seconds"`
	ReturnURL   string
	KeyID       *string
	CreatedAt   time.Time
	ExpiresAt   time.Time
	UsedAt      *time.Time
}

func (portalCodeRow) TableName() string { return "portal_codes" }

type portalSessionRow struct {
	ID          string `gorm:"primaryKey"`
	Hash        []byte
	CSRFHash    []byte `gorm:"column:csrf_hash"`
	WorkspaceID string
	ReadOnly    bool
	ReturnURL   string
	KeyID       *string
	CreatedAt   time.Time
	ExpiresAt   time.Time
	EndedAt     *time.Time
}

func (portalSessionRow) TableName() string { return "portal_sessions" }

func (r portalSessionRow) model() models.PortalSession {
	return models.PortalSession{ID: r.ID, WorkspaceID: r.WorkspaceID, ReadOnly: r.ReadOnly, ReturnURL: r.ReturnURL,
		ExpiresAt: r.ExpiresAt.UTC(), CSRFHash: r.CSRFHash}
}

// portalSecret is a code, session token or CSRF token: 32 random bytes.
func portalSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("read random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// CreatePortalCode stores a one-time code that opens a session on the
// workspace for ttl, and returns the code (only its hash is kept) and
// when it stops being accepted.
func (s *Store) CreatePortalCode(ctx context.Context, g models.PortalGrant) (code string, expiresAt time.Time, err error) {
	if code, err = portalSecret(); err != nil {
		return "", time.Time{}, err
	}
	now := s.now()
	row := portalCodeRow{
		Hash: hashKey(code), WorkspaceID: g.WorkspaceID, ReadOnly: g.ReadOnly, TTLSeconds: int(g.TTL / time.Second),
		ReturnURL: g.ReturnURL, KeyID: keyRef(g.KeyID), CreatedAt: now, ExpiresAt: now.Add(PortalCodeTTL),
	}
	if err := s.db.WithContext(ctx).Create(&row).Error; err != nil {
		return "", time.Time{}, fmt.Errorf("create portal code: %w", translate(err))
	}
	return code, row.ExpiresAt, nil
}

// ExchangePortalCode spends a code, once, for a new session: it returns
// the session with its token and CSRF token (only their hashes are kept).
// A code used before, expired or unknown is refused with the reason.
func (s *Store) ExchangePortalCode(ctx context.Context, code string) (sess models.PortalSession, token, csrf string, err error) {
	if token, err = portalSecret(); err != nil {
		return sess, "", "", err
	}
	if csrf, err = portalSecret(); err != nil {
		return sess, "", "", err
	}
	now := s.now()
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var c portalCodeRow
		if err := tx.Take(&c, "hash = ?", hashKey(code)).Error; err != nil {
			if errors.Is(err, gorm.ErrRecordNotFound) {
				return models.ErrPortalCodeUnknown
			}
			return err
		}
		switch {
		case c.UsedAt != nil:
			return models.ErrPortalCodeUsed
		case !now.Before(c.ExpiresAt):
			return models.ErrPortalCodeExpired
		}
		if err := s.keyUnrevoked(tx, c.KeyID); err != nil {
			return err
		}
		// Spent in the same statement that checks it is unspent, so that
		// two exchanges racing get one session between them.
		res := tx.Model(&portalCodeRow{}).Where("hash = ? AND used_at IS NULL", c.Hash).Update("used_at", now)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return models.ErrPortalCodeUsed
		}
		row := portalSessionRow{
			ID: models.NewID("pss", now), Hash: hashKey(token), CSRFHash: hashKey(csrf), WorkspaceID: c.WorkspaceID,
			ReadOnly: c.ReadOnly, ReturnURL: c.ReturnURL, KeyID: c.KeyID, CreatedAt: now, ExpiresAt: now.Add(time.Duration(c.TTLSeconds) * time.Second),
		}
		if err := tx.Create(&row).Error; err != nil {
			return err
		}
		sess = row.model()
		return nil
	})
	if err != nil {
		if errors.Is(err, models.ErrPortalCode) {
			return sess, "", "", err
		}
		return sess, "", "", fmt.Errorf("exchange portal code: %w", translate(err))
	}
	return sess, token, csrf, nil
}

func keyRef(id string) *string {
	if id == "" {
		return nil
	}
	return &id
}

// keyUnrevoked refuses a code whose key was revoked. On PostgreSQL the
// key's row is locked for share until the exchange commits, so that a
// revocation running meanwhile waits for it and then ends the new
// session too (SQLite runs one writer at a time).
func (s *Store) keyUnrevoked(tx *gorm.DB, keyID *string) error {
	if keyID == nil {
		return nil // made before links kept their key
	}
	lock := s.forShare()
	var keys []struct{ RevokedAt *time.Time }
	if err := tx.Raw("SELECT revoked_at FROM api_keys WHERE id = ?"+lock, *keyID).Scan(&keys).Error; err != nil {
		return err
	}
	if len(keys) == 1 && keys[0].RevokedAt == nil {
		return nil
	}
	return models.ErrPortalCodeRevoked
}

// PortalSession returns the live session a token opened; an unknown,
// ended or expired one is not found.
func (s *Store) PortalSession(ctx context.Context, token string) (models.PortalSession, error) {
	var row portalSessionRow
	err := s.db.WithContext(ctx).Take(&row, "hash = ? AND ended_at IS NULL AND expires_at > ?", hashKey(token), s.now()).Error
	if err != nil {
		return models.PortalSession{}, fmt.Errorf("look up portal session: %w", translate(err))
	}
	return row.model(), nil
}

// EndPortalSession signs a session out; its token opens nothing after.
func (s *Store) EndPortalSession(ctx context.Context, id string) error {
	err := s.db.WithContext(ctx).Model(&portalSessionRow{}).Where("id = ? AND ended_at IS NULL", id).Update("ended_at", s.now()).Error
	if err != nil {
		return fmt.Errorf("end portal session %s: %w", id, translate(err))
	}
	return nil
}

// PortalSessions lists a workspace's live sessions, newest first.
func (s *Store) PortalSessions(ctx context.Context, workspaceID string) ([]models.PortalSessionInfo, error) {
	var rows []portalSessionRow
	err := s.db.WithContext(ctx).Where("workspace_id = ? AND ended_at IS NULL AND expires_at > ?", workspaceID, s.now()).
		Order("created_at DESC, id DESC").Find(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("list portal sessions of %s: %w", workspaceID, translate(err))
	}
	out := make([]models.PortalSessionInfo, len(rows))
	for i, r := range rows {
		out[i] = models.PortalSessionInfo{ID: r.ID, WorkspaceID: r.WorkspaceID, ReadOnly: r.ReadOnly,
			CreatedAt: r.CreatedAt.UTC(), ExpiresAt: r.ExpiresAt.UTC()}
		if r.KeyID != nil {
			out[i].KeyID = *r.KeyID
		}
	}
	return out, nil
}

// EndPortalSessions ends a workspace's live sessions: the one named by
// id, or every one when id is "". It returns how many it ended; naming a
// session the workspace has not got (or not live) is not found.
func (s *Store) EndPortalSessions(ctx context.Context, workspaceID, id string) (int64, error) {
	q := s.db.WithContext(ctx).Model(&portalSessionRow{}).Where("workspace_id = ? AND ended_at IS NULL AND expires_at > ?", workspaceID, s.now())
	if id != "" {
		q = q.Where("id = ?", id)
	}
	res := q.Update("ended_at", s.now())
	if res.Error != nil {
		return 0, fmt.Errorf("end portal sessions of %s: %w", workspaceID, translate(res.Error))
	}
	if id != "" && res.RowsAffected == 0 {
		return 0, &models.NotFoundError{Kind: "portal session", ID: id}
	}
	return res.RowsAffected, nil
}

// endKeysPortal ends the live sessions a key's links opened and deletes
// its unspent links: what revoking it revokes beside it.
func endKeysPortal(tx *gorm.DB, keyID string, now time.Time) (sessions, links int64, err error) {
	res := tx.Model(&portalSessionRow{}).Where("key_id = ? AND ended_at IS NULL", keyID).Update("ended_at", now)
	if res.Error != nil {
		return 0, 0, res.Error
	}
	sessions = res.RowsAffected
	res = tx.Where("key_id = ? AND used_at IS NULL", keyID).Delete(&portalCodeRow{})
	if res.Error != nil {
		return 0, 0, res.Error
	}
	return sessions, res.RowsAffected, nil
}

// prunePortal removes codes and sessions that expired before before.
func prunePortal(tx *gorm.DB, before time.Time) error {
	if err := tx.Where("expires_at < ?", before).Delete(&portalCodeRow{}).Error; err != nil {
		return err
	}
	return tx.Where("expires_at < ?", before).Delete(&portalSessionRow{}).Error
}
