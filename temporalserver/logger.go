package temporalserver

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"

	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/log/tag"
)

// slogLogger adapts an *slog.Logger to the server's logger interface. The
// server is chatty at info; only warnings and errors pass.
// While the server stops, its services report each other's departure as
// errors; quiet silences that expected noise.
type slogLogger struct {
	l     *slog.Logger
	quiet *atomic.Bool
}

func newLogger(l *slog.Logger, quiet *atomic.Bool) log.Logger {
	return slogLogger{l: l.With("component", "temporal"), quiet: quiet}
}

func (s slogLogger) log(level slog.Level, msg string, tags []tag.Tag) {
	if s.quiet.Load() || !s.l.Enabled(context.Background(), level) {
		return
	}
	args := make([]any, 0, 2*len(tags))
	for _, t := range tags {
		args = append(args, t.Key(), fmt.Sprint(t.Value()))
	}
	s.l.Log(context.Background(), level, msg, args...)
}

func (s slogLogger) Debug(string, ...tag.Tag)           {}
func (s slogLogger) Info(string, ...tag.Tag)            {}
func (s slogLogger) Warn(msg string, tags ...tag.Tag)   { s.log(slog.LevelWarn, msg, tags) }
func (s slogLogger) Error(msg string, tags ...tag.Tag)  { s.log(slog.LevelError, msg, tags) }
func (s slogLogger) DPanic(msg string, tags ...tag.Tag) { s.log(slog.LevelError, msg, tags) }
func (s slogLogger) Panic(msg string, tags ...tag.Tag)  { s.log(slog.LevelError, msg, tags); panic(msg) }
func (s slogLogger) Fatal(msg string, tags ...tag.Tag)  { s.log(slog.LevelError, msg, tags); panic(msg) }
func (s slogLogger) With(tags ...tag.Tag) log.Logger {
	args := make([]any, 0, 2*len(tags))
	for _, t := range tags {
		args = append(args, t.Key(), fmt.Sprint(t.Value()))
	}
	return slogLogger{l: s.l.With(args...), quiet: s.quiet}
}
