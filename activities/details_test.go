package activities

import (
	"errors"
	"testing"

	"go.temporal.io/sdk/temporal"
)

// A failure's details read the same, as a workflow reads them from
// history, whether they were sent as the struct or, as recorded before,
// as three values.
func TestReadFailureDetails(t *testing.T) {
	want := FailureDetails{Attempt: 3, StatusCode: 503, LatencyMs: 42}
	fc := temporal.GetDefaultFailureConverter()
	appErr := func(err error) *temporal.ApplicationError {
		var a *temporal.ApplicationError
		if !errors.As(err, &a) {
			t.Fatalf("%T is not an application error", err)
		}
		return a
	}
	for name, err := range map[string]*temporal.ApplicationError{
		"struct":     appErr(temporal.NewApplicationError("x", ErrTypeHTTP, want)),
		"positional": appErr(temporal.NewApplicationError("x", ErrTypeHTTP, int32(3), 503, int64(42))),
	} {
		t.Run(name, func(t *testing.T) {
			var decoded *temporal.ApplicationError
			back := fc.FailureToError(fc.ErrorToFailure(err))
			if !errors.As(back, &decoded) {
				t.Fatalf("decoded %T, want an application error", back)
			}
			if got, ok := ReadFailureDetails(decoded); !ok || got != want {
				t.Errorf("through history: got %+v, %v; want %+v", got, ok, want)
			}
		})
	}
	if got, ok := ReadFailureDetails(appErr(temporal.NewApplicationError("x", ErrTypeHTTP))); ok {
		t.Errorf("no details: got %+v, ok", got)
	}
}
