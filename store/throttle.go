package store

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/tidysupport/tidyhooks/models"
)

// inFlightFullWait is how long a delivery that found its webhook at
// maxInFlight is told to wait before asking again.
const inFlightFullWait = 500 * time.Millisecond

// ReserveDelivery gives one delivery of a throttled webhook its turn, in
// one transaction holding the webhook's throttle row, so that every worker
// sees the same schedule: deliveries are spaced 1/MaxPerSecond apart, each
// reserving the start after the last one reserved, and at most
// MaxInFlight hold a lease at once. A turn further than horizon away is
// not reserved (RetryAfter says when to ask again), so that waiting
// deliveries do not hold workers. A lease lasts until released, or
// leaseFor past its turn if its worker is lost. A webhook that is gone has
// no throttle.
func (s *Store) ReserveDelivery(ctx context.Context, webhookID string, t models.Throttle, now time.Time, horizon, leaseFor time.Duration) (models.Reservation, error) {
	var r models.Reservation
	nowUs := now.UnixMicro()
	err := s.logTx(ctx, func(tx *gorm.DB) error {
		r = models.Reservation{} // a group that failed runs this again
		if err := tx.Exec(`INSERT INTO webhook_throttle (webhook_id, next_at) SELECT id, ? FROM webhooks WHERE id = ?
			ON CONFLICT (webhook_id) DO NOTHING`, nowUs, webhookID).Error; err != nil {
			return err
		}
		q := "SELECT next_at FROM webhook_throttle WHERE webhook_id = ?"
		if s.dialect == "postgres" {
			q += " FOR UPDATE"
		}
		var next []int64
		if err := tx.Raw(q, webhookID).Scan(&next).Error; err != nil || len(next) == 0 {
			return err
		}
		if t.MaxInFlight > 0 {
			if err := tx.Exec("DELETE FROM webhook_leases WHERE webhook_id = ? AND expires_at <= ?", webhookID, nowUs).Error; err != nil {
				return err
			}
			var n int64
			if err := tx.Raw("SELECT COUNT(*) FROM webhook_leases WHERE webhook_id = ?", webhookID).Scan(&n).Error; err != nil {
				return err
			}
			if n >= int64(t.MaxInFlight) {
				r.RetryAfter = inFlightFullWait
				return nil
			}
		}
		if t.MaxPerSecond > 0 {
			start := max(next[0], nowUs)
			if ahead := start - nowUs; ahead > horizon.Microseconds() {
				r.RetryAfter = time.Duration(ahead)*time.Microsecond - horizon/2
				return nil
			}
			interval := int64(float64(time.Second/time.Microsecond) / t.MaxPerSecond)
			if err := tx.Exec("UPDATE webhook_throttle SET next_at = ? WHERE webhook_id = ?", start+interval, webhookID).Error; err != nil {
				return err
			}
			r.Wait = time.Duration(start-nowUs) * time.Microsecond
		}
		if t.MaxInFlight > 0 {
			r.Lease = models.NewID("lse", now)
			expires := nowUs + (r.Wait + leaseFor).Microseconds()
			return tx.Exec("INSERT INTO webhook_leases (id, webhook_id, expires_at) VALUES (?, ?, ?)", r.Lease, webhookID, expires).Error
		}
		return nil
	})
	if err != nil {
		return models.Reservation{}, fmt.Errorf("reserve a delivery of throttled webhook %s: %w", webhookID, translate(err))
	}
	return r, nil
}

// ReleaseLease ends a delivery's lease: it is no longer under way.
func (s *Store) ReleaseLease(ctx context.Context, lease string) error {
	if err := s.db.WithContext(ctx).Exec("DELETE FROM webhook_leases WHERE id = ?", lease).Error; err != nil {
		return fmt.Errorf("release lease %s: %w", lease, translate(err))
	}
	return nil
}
