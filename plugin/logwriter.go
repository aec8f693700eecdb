package plugin

import (
	"io"
	"os"
	"path/filepath"
	"sync"

	goplugin "github.com/hashicorp/go-plugin"
)

// fallbackWriter writes the plugin's log lines to the host's pipe (stderr)
// and, once that pipe is gone (the host re-exec'd itself and reattached
// over the socket, which carries no logs), appends them to a file in the
// private socket directory so nothing is lost across the gap.
type fallbackWriter struct {
	mu      sync.Mutex
	primary io.Writer
	path    string
	file    *os.File
}

// newLogWriter returns the writer the plugin logs through.
func newLogWriter() *fallbackWriter {
	w := &fallbackWriter{primary: os.Stderr}
	if dir := os.Getenv(goplugin.EnvUnixSocketDir); dir != "" {
		w.path = filepath.Join(dir, "plugin.log")
	}
	return w
}

func (w *fallbackWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.file == nil {
		n, err := w.primary.Write(p)
		if err == nil || w.path == "" {
			return n, err
		}
		f, ferr := os.OpenFile(w.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if ferr != nil {
			return n, err
		}
		w.file = f
	}
	return w.file.Write(p)
}
