//go:build !linux

package shared

import "os"

// growPipe does nothing where pipe buffers cannot be resized.
func growPipe(*os.File) {}
