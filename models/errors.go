package models

import (
	"errors"
	"fmt"
)

// Sentinel errors shared by every package. The HTTP layer maps each to one
// status; storage translates driver errors into them.
var (
	ErrNotFound     = errors.New("not found")
	ErrConflict     = errors.New("conflict")
	ErrUnauthorized = errors.New("missing or invalid API key")
	ErrForbidden    = errors.New("forbidden") // always wrapped with the reason
	ErrTooLarge     = errors.New("too large")
	ErrUnavailable  = errors.New("dependency unavailable")
	ErrLimit        = errors.New("limit reached")
	ErrRateLimited  = errors.New("rate limited")
)

// ValidationError says which input field is wrong and why.
type ValidationError struct {
	Field   string
	Message string
}

func (e *ValidationError) Error() string {
	if e.Field == "" {
		return e.Message
	}
	return fmt.Sprintf("%s: %s", e.Field, e.Message)
}

// Invalid returns a *ValidationError for field.
func Invalid(field, format string, args ...any) error {
	return &ValidationError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// TooLargeError says which input is over which limit.
type TooLargeError struct {
	Field string
	Limit int
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("%s is larger than the limit of %d bytes", e.Field, e.Limit)
}

// Is makes errors.Is(err, ErrTooLarge) true for every *TooLargeError.
func (e *TooLargeError) Is(target error) bool { return target == ErrTooLarge }

// NotFoundError says which kind of thing is missing; it is ErrNotFound.
type NotFoundError struct {
	Kind string // "webhook", "event", …
	ID   string
}

func (e *NotFoundError) Error() string { return e.Kind + " " + e.ID + " not found" }

// Is makes errors.Is(err, ErrNotFound) true for every *NotFoundError.
func (e *NotFoundError) Is(target error) bool { return target == ErrNotFound }

// ConflictError is a conflict whose message the client may read; it is
// ErrConflict.
type ConflictError struct{ Message string }

func (e *ConflictError) Error() string { return e.Message }

// Is makes errors.Is(err, ErrConflict) true for every *ConflictError.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }
