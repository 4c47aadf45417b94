package requestcases

import (
	"bytes"
	"sync"

	"github.com/tokenhandler/traefik-token-handler/internal/logger"
)

// CaptureLogs collects the log lines of the compiled roles until the returned function is called.
// The interpreted roles write to the process's standard output instead, which Traefik shows.
func CaptureLogs() (stop func() string) {
	w := &lockedBuffer{}
	restore := logger.SetOutput(w)
	return func() string {
		restore()
		return w.String()
	}
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
