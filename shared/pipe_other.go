//go:build !unix

package shared

import (
	"errors"
	"os"
)

// makePipe fails where named pipes do not exist: uploads go through gRPC.
func makePipe(string) (string, string, error) {
	return "", "", errors.New("named pipes are not supported on this system")
}

func openPipe(<-chan struct{}, string, int) (*os.File, error) {
	return nil, errPipeAbandoned
}
