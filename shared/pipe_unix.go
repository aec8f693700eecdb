//go:build unix

package shared

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"
)

// makePipe makes a private folder in dir holding a new named pipe.
func makePipe(dir string) (folder, path string, err error) {
	folder, err = os.MkdirTemp(dir, "upload-")
	if err != nil {
		return "", "", fmt.Errorf("pipe folder: %w", err)
	}
	path = filepath.Join(folder, "body")
	if err := unix.Mkfifo(path, 0o600); err != nil {
		_ = os.Remove(folder)
		return "", "", fmt.Errorf("mkfifo: %w", err)
	}
	return folder, path, nil
}

// openPipe opens the named pipe at path for reading or writing (flag is
// os.O_RDONLY or os.O_WRONLY). Opening a pipe waits for its other end;
// when done is closed first, the wait is ended by opening the other end
// here without waiting, and openPipe returns errPipeAbandoned.
func openPipe(done <-chan struct{}, path string, flag int) (*os.File, error) {
	type opened struct {
		f   *os.File
		err error
	}
	ch := make(chan opened, 1)
	go func() {
		f, err := os.OpenFile(path, flag, 0)
		ch <- opened{f, err}
	}()
	select {
	case o := <-ch:
		return o.f, o.err
	case <-done:
	}
	other := os.O_WRONLY
	if flag == os.O_WRONLY {
		other = os.O_RDONLY
	}
	// The waiting open above counts as the other end's partner, so this
	// one succeeds at once and lets it return.
	unblock, err := os.OpenFile(path, other|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("%w (and it could not be ended: %w)", errPipeAbandoned, err)
	}
	o := <-ch
	_ = unblock.Close()
	if o.f != nil {
		_ = o.f.Close()
	}
	return nil, errPipeAbandoned
}
