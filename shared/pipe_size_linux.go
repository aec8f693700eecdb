package shared

import (
	"os"

	"golang.org/x/sys/unix"
)

// pipeBufferSize is asked for on an upload's pipe: one ChunkSize write
// then fits without waking the reader many times. The kernel caps it at
// /proc/sys/fs/pipe-max-size; a refusal leaves the default.
const pipeBufferSize = ChunkSize

// growPipe asks for a larger buffer on the pipe f, best effort.
func growPipe(f *os.File) {
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) {
		_, _ = unix.FcntlInt(fd, unix.F_SETPIPE_SZ, pipeBufferSize)
	})
}
