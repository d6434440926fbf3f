package store

import (
	"context"
	"fmt"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/tidysupport/tidyhooks/models"
)

// SaveEvents stores events that are not stored yet, all or none. An event
// id is the idempotency key within its workspace: an event whose
// (workspace, id) is already stored with the same type and payload is left
// as it was (the first emission wins); one stored with a different type or
// payload fails the whole call with an error wrapping models.ErrConflict
// that names the id. Two workspaces may use the same id.
func (s *Store) SaveEvents(ctx context.Context, events []models.Event) error {
	if len(events) == 0 {
		return nil
	}
	rows := make([]eventRow, len(events))
	for i, e := range events {
		rows[i] = eventToRow(e)
	}
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Clauses(clause.OnConflict{DoNothing: true}).CreateInBatches(rows, 200)
		if res.Error != nil {
			return translate(res.Error)
		}
		if res.RowsAffected == int64(len(rows)) {
			return nil
		}
		return sameAsStored(tx, rows)
	})
	if err != nil {
		return fmt.Errorf("save events: %w", translate(err))
	}
	return nil
}

// sameAsStored checks that every row already stored under its (workspace,
// id) holds the same event.
func sameAsStored(tx *gorm.DB, rows []eventRow) error {
	byWorkspace := map[string][]string{}
	for _, r := range rows {
		byWorkspace[r.WorkspaceID] = append(byWorkspace[r.WorkspaceID], r.ID)
	}
	stored := map[[2]string]eventRow{}
	for ws, ids := range byWorkspace {
		var found []eventRow
		if err := tx.Where("workspace_id = ? AND id IN ?", ws, ids).Find(&found).Error; err != nil {
			return translate(err)
		}
		for _, f := range found {
			stored[[2]string{f.WorkspaceID, f.ID}] = f
		}
	}
	for _, r := range rows {
		f, ok := stored[[2]string{r.WorkspaceID, r.ID}]
		if !ok {
			continue
		}
		if f.Type != r.Type || f.Payload != r.Payload {
			return &models.ConflictError{Message: fmt.Sprintf("event %s was already accepted with a different event or payload; an id is the idempotency key, so use a new id for a new event", r.ID)}
		}
	}
	return nil
}

// Event returns one stored event of a workspace.
func (s *Store) Event(ctx context.Context, workspaceID, id string) (models.Event, error) {
	var row eventRow
	if err := s.db.WithContext(ctx).Take(&row, "workspace_id = ? AND id = ?", workspaceID, id).Error; err != nil {
		return models.Event{}, fmt.Errorf("load event %s: %w", id, translate(err))
	}
	return row.model()
}
