// Package hclogslog lets the host log through one logger type, log/slog,
// while go-plugin, which speaks hclog, still gets the hclog.Logger it
// needs: New wraps a *slog.Logger as an hclog.Logger, so the plugin's
// lines (which go-plugin parses from the plugin's stderr) keep their
// levels and key-value pairs instead of passing through a text writer.
package hclogslog

import (
	"context"
	"io"
	"log"
	"log/slog"
	"strings"
	"sync/atomic"

	"github.com/hashicorp/go-hclog"
)

// NameKey is the attribute holding an hclog logger's name. It is not
// "logger", which apps commonly set on the *slog.Logger they hand over.
const NameKey = "name"

// LevelTrace is the slog level hclog's Trace maps to: below Debug.
const LevelTrace = slog.LevelDebug - 4

// New returns an hclog.Logger that writes to l. Its level, which go-plugin
// may change with SetLevel, filters before l's handler does.
func New(l *slog.Logger) hclog.Logger {
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}
	a := &adapter{l: l, level: new(atomic.Int32)}
	a.level.Store(int32(hclog.Trace))
	return a
}

type adapter struct {
	l       *slog.Logger
	name    string
	implied []any
	level   *atomic.Int32 // an hclog.Level, shared by the loggers derived from this one
}

var _ hclog.Logger = (*adapter)(nil)

// slogLevel maps an hclog level to slog's.
func slogLevel(level hclog.Level) slog.Level {
	switch level {
	case hclog.Trace:
		return LevelTrace
	case hclog.Debug:
		return slog.LevelDebug
	case hclog.Warn:
		return slog.LevelWarn
	case hclog.Error:
		return slog.LevelError
	default:
		return slog.LevelInfo
	}
}

func (a *adapter) Log(level hclog.Level, msg string, args ...any) {
	if level == hclog.Off || level < hclog.Level(a.level.Load()) {
		return
	}
	if a.name != "" {
		args = append([]any{NameKey, a.name}, args...)
	}
	a.l.Log(context.Background(), slogLevel(level), msg, args...)
}

func (a *adapter) Trace(msg string, args ...any) { a.Log(hclog.Trace, msg, args...) }
func (a *adapter) Debug(msg string, args ...any) { a.Log(hclog.Debug, msg, args...) }
func (a *adapter) Info(msg string, args ...any)  { a.Log(hclog.Info, msg, args...) }
func (a *adapter) Warn(msg string, args ...any)  { a.Log(hclog.Warn, msg, args...) }
func (a *adapter) Error(msg string, args ...any) { a.Log(hclog.Error, msg, args...) }

func (a *adapter) enabled(level hclog.Level) bool {
	return level >= hclog.Level(a.level.Load()) && a.l.Enabled(context.Background(), slogLevel(level))
}

func (a *adapter) IsTrace() bool { return a.enabled(hclog.Trace) }
func (a *adapter) IsDebug() bool { return a.enabled(hclog.Debug) }
func (a *adapter) IsInfo() bool  { return a.enabled(hclog.Info) }
func (a *adapter) IsWarn() bool  { return a.enabled(hclog.Warn) }
func (a *adapter) IsError() bool { return a.enabled(hclog.Error) }

func (a *adapter) ImpliedArgs() []any { return a.implied }

func (a *adapter) With(args ...any) hclog.Logger {
	b := *a
	b.l = a.l.With(args...)
	b.implied = append(append([]any(nil), a.implied...), args...)
	return &b
}

func (a *adapter) Name() string { return a.name }

// Named appends name to the logger's name, as hclog does
// ("plugin.pocketbackup-plugin"); each line carries the whole name once,
// in the NameKey attribute.
func (a *adapter) Named(name string) hclog.Logger {
	if a.name != "" {
		name = a.name + "." + name
	}
	return a.ResetNamed(name)
}

func (a *adapter) ResetNamed(name string) hclog.Logger {
	b := *a
	b.name = name
	return &b
}

func (a *adapter) SetLevel(level hclog.Level) { a.level.Store(int32(level)) }
func (a *adapter) GetLevel() hclog.Level      { return hclog.Level(a.level.Load()) }

func (a *adapter) StandardLogger(opts *hclog.StandardLoggerOptions) *log.Logger {
	return log.New(a.StandardWriter(opts), "", 0)
}

// StandardWriter returns a writer whose lines are logged at Info, or at
// the level opts forces.
func (a *adapter) StandardWriter(opts *hclog.StandardLoggerOptions) io.Writer {
	level := hclog.Info
	if opts != nil && opts.ForceLevel != hclog.NoLevel {
		level = opts.ForceLevel
	}
	return lineWriter{a: a, level: level}
}

type lineWriter struct {
	a     *adapter
	level hclog.Level
}

func (w lineWriter) Write(p []byte) (int, error) {
	for _, line := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		if line != "" {
			w.a.Log(w.level, line)
		}
	}
	return len(p), nil
}
