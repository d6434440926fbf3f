package store

import (
	"context"
	"fmt"

	"gorm.io/gorm/clause"

	"github.com/tidysupport/tidyhooks/models"
)

// SaveEvents stores events that are not stored yet. An event whose id is
// already stored is left as it was: the id is the idempotency key, and the
// first emission wins.
func (s *Store) SaveEvents(ctx context.Context, events []models.Event) error {
	if len(events) == 0 {
		return nil
	}
	rows := make([]eventRow, len(events))
	for i, e := range events {
		rows[i] = eventToRow(e)
	}
	err := s.db.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).CreateInBatches(rows, 200).Error
	if err != nil {
		return fmt.Errorf("save events: %w", translate(err))
	}
	return nil
}

// Event returns one stored event.
func (s *Store) Event(ctx context.Context, id string) (models.Event, error) {
	var row eventRow
	if err := s.db.WithContext(ctx).Take(&row, "id = ?", id).Error; err != nil {
		return models.Event{}, fmt.Errorf("load event %s: %w", id, translate(err))
	}
	return row.model()
}
