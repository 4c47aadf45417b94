// Package logger writes the roles' log lines. Under Traefik, a plugin's os.Stdout is Traefik's
// own standard output, so the lines appear beside Traefik's log whatever its log level; the
// level here filters them. A line names the middleware and what failed, never a token, secret or
// key: callers pass descriptions, not values.
package logger

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// Level orders the lines by importance.
type Level int

// The levels, from the most verbose.
const (
	Debug Level = iota
	Info
	Warn
	Error
)

var levelNames = []string{"DBG", "INF", "WRN", "ERR"}

// ParseLevel reads a level name as given in the configuration; empty means info.
func ParseLevel(name string) (Level, error) {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "debug":
		return Debug, nil
	case "", "info":
		return Info, nil
	case "warn", "warning":
		return Warn, nil
	case "error":
		return Error, nil
	}
	return Info, fmt.Errorf("must be one of debug, info, warn, error; got %q", name)
}

var (
	outputMu sync.Mutex
	output   io.Writer = os.Stdout
)

// SetOutput redirects every logger's lines, for tests; it returns a function that restores the
// previous output.
func SetOutput(w io.Writer) (restore func()) {
	outputMu.Lock()
	previous := output
	output = w
	outputMu.Unlock()
	return func() {
		outputMu.Lock()
		output = previous
		outputMu.Unlock()
	}
}

// Logger writes lines for one middleware instance.
type Logger struct {
	min    Level
	prefix string
}

// New returns a logger for the middleware called name in the given role.
func New(role, name string, min Level) *Logger {
	return &Logger{min: min, prefix: " plugin=tokenhandler role=" + role + " middleware=" + name + " msg="}
}

// Printf writes one line at level.
func (l *Logger) Printf(level Level, format string, args ...interface{}) {
	if level < l.min {
		return
	}
	line := time.Now().UTC().Format(time.RFC3339) + " " + levelNames[level] + l.prefix +
		fmt.Sprintf("%q", fmt.Sprintf(format, args...)) + "\n"
	outputMu.Lock()
	_, _ = io.WriteString(output, line)
	outputMu.Unlock()
}
