package models

import "encoding/base64"

// Page is one page of a listing and the cursor of the next ("" at the end).
type Page[T any] struct {
	Items      []T
	NextCursor string
}

// EncodeCursor makes the opaque cursor that resumes a listing after lastID.
func EncodeCursor(lastID string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(lastID))
}

// DecodeCursor returns the id a cursor resumes after, or a validation error.
func DecodeCursor(cursor string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil || len(b) == 0 || len(b) > 128 {
		return "", Invalid("cursor", "is not a cursor this API returned")
	}
	return string(b), nil
}
