package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// sealedColumn is a column holding sealed values: its table, the key of
// its rows, the column the additional data is made from, and how.
type sealedColumn struct {
	what, table, key, column, aadColumn string
	aad                                 func(string) string
	// intKey: the key is an integer, matched as one (a cast of the column
	// would keep PostgreSQL off its primary key index).
	intKey bool
}

// keyIs is the condition matching a row's key, given as text.
func (c sealedColumn) keyIs() string {
	if c.intKey {
		return c.key + " = CAST(? AS BIGINT)"
	}
	return c.key + " = ?"
}

// sealedColumns are every column holding a sealed value.
var sealedColumns = []sealedColumn{
	{what: "webhook signing secrets", table: "webhook_secrets", key: "id", column: "secret", aadColumn: "webhook_id", aad: func(id string) string { return id }, intKey: true},
	{what: "webhook endpoint settings (headers and credentials)", table: "webhooks", key: "id", column: "endpoint", aadColumn: "id", aad: endpointAAD},
	{what: "OAuth2 tokens", table: "oauth_tokens", key: "webhook_id", column: "token", aadColumn: "webhook_id", aad: oauthAAD},
}

// RekeyResult counts what Rekey re-sealed, by what it was.
type RekeyResult struct {
	Resealed map[string]int
}

// Rekey re-seals, with the first encryption key, every stored value
// sealed with another (or before keys had ids), batch rows at a time. It
// is safe while deliveries run: each row is replaced only if it still
// holds what was read (a secret rotated meanwhile is left, sealed anew
// already), and it can be stopped and run again: what is done drops out.
// A value no configured key opens stops it, naming the column.
func (s *Store) Rekey(ctx context.Context, batch int, progress func(what string, n int)) (RekeyResult, error) {
	if s.sealer == nil {
		return RekeyResult{}, ErrNoEncryptionKey
	}
	if batch < 1 {
		return RekeyResult{}, errors.New("rekey: batch must be at least 1")
	}
	res := RekeyResult{Resealed: map[string]int{}}
	current := sealedPrefix + s.sealer.sealingID() + ":%"
	for _, c := range sealedColumns {
		// What is re-sealed drops out of the query, so each batch is the
		// next; a batch of rows all changed meanwhile is read again.
		for idle := 0; ; {
			var rows []struct{ Key, Value, AAD string }
			err := s.db.WithContext(ctx).Raw(fmt.Sprintf(
				"SELECT CAST(%s AS TEXT) AS key, %s AS value, %s AS aad FROM %s WHERE %s IS NOT NULL AND %s NOT LIKE ? ORDER BY %s LIMIT ?",
				c.key, c.column, c.aadColumn, c.table, c.column, c.column, c.key), current, batch).Scan(&rows).Error
			if err != nil {
				return res, fmt.Errorf("rekey %s: %w", c.what, translate(err))
			}
			if len(rows) == 0 {
				break
			}
			done := 0
			for _, r := range rows {
				plain, err := s.sealer.open(r.Value, c.aad(r.AAD))
				if err != nil {
					return res, fmt.Errorf("rekey %s: row %s: %w", c.what, r.Key, err)
				}
				sealed, err := s.sealer.seal(plain, c.aad(r.AAD))
				if err != nil {
					return res, err
				}
				upd := s.db.WithContext(ctx).Exec(fmt.Sprintf("UPDATE %s SET %s = ? WHERE %s AND %s = ?", c.table, c.column, c.keyIs(), c.column),
					sealed, r.Key, r.Value)
				if upd.Error != nil {
					return res, fmt.Errorf("rekey %s: row %s: %w", c.what, r.Key, translate(upd.Error))
				}
				done += int(upd.RowsAffected)
			}
			res.Resealed[c.what] += done
			if progress != nil {
				progress(c.what, res.Resealed[c.what])
			}
			if done > 0 {
				idle = 0
			} else if idle++; idle == 3 {
				return res, fmt.Errorf("rekey %s: the rows keep changing under it (a process still sealing with another key?); run it again", c.what)
			}
		}
	}
	return res, nil
}

// CheckKeys reports, before anything is delivered, every sealed value the
// configured keys cannot open: the keys values name that are not
// configured, and values sealed before keys had ids that none opens (one
// of each column is tried). It returns nil when all open.
func (s *Store) CheckKeys(ctx context.Context) error {
	if s.sealer == nil {
		return nil
	}
	known := map[string]bool{}
	for _, k := range s.sealer.keys {
		known[k.id] = true
	}
	var problems []string
	for _, c := range sealedColumns {
		var ids []struct {
			Prefix string
			N      int
		}
		err := s.db.WithContext(ctx).Raw(fmt.Sprintf("SELECT substr(%s, 1, 12) AS prefix, COUNT(*) AS n FROM %s WHERE %s IS NOT NULL GROUP BY substr(%s, 1, 12)",
			c.column, c.table, c.column, c.column)).Scan(&ids).Error
		if err != nil {
			return fmt.Errorf("check encryption keys on %s: %w", c.what, translate(err))
		}
		for _, p := range ids {
			id, ok := sealedBy(p.Prefix)
			switch {
			case !ok:
				problems = append(problems, fmt.Sprintf("%d %s are not sealed values", p.N, c.what))
			case id == "":
				var sample []struct{ Value, AAD string }
				if err := s.db.WithContext(ctx).Raw(fmt.Sprintf("SELECT %s AS value, %s AS aad FROM %s WHERE %s LIKE 'v1:%%' LIMIT 1", c.column, c.aadColumn, c.table, c.column)).Scan(&sample).Error; err != nil {
					return fmt.Errorf("check encryption keys on %s: %w", c.what, translate(err))
				}
				if len(sample) == 1 {
					if _, err := s.sealer.open(sample[0].Value, c.aad(sample[0].AAD)); err != nil {
						problems = append(problems, fmt.Sprintf("%d %s sealed before keys had ids, which no configured key opens", p.N, c.what))
					}
				}
			case !known[id]:
				problems = append(problems, fmt.Sprintf("%d %s sealed with key %s, which is not configured", p.N, c.what, id))
			}
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: %s (configured: %s; TIDYHOOKS_ENCRYPTION_KEYS lists every key still in use, the sealing one first)",
			ErrKeysMissing, strings.Join(problems, "; "), strings.Join(s.KeyIDs(), ", "))
	}
	return nil
}

// ErrKeysMissing is CheckKeys' error: stored values need a key that is not
// configured.
var ErrKeysMissing = errors.New("encryption keys missing")

// KeyIDs are the ids of the configured keys, the sealing one first.
func (s *Store) KeyIDs() []string {
	if s.sealer == nil {
		return nil
	}
	out := make([]string, len(s.sealer.keys))
	for i, k := range s.sealer.keys {
		out[i] = k.id
	}
	return out
}
