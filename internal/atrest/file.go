package atrest

import (
	"fmt"
	"io"
)

// DecryptFile writes the plaintext of the encrypted backup read from src
// to dst, with the identities of a keys file (see ParseKeys): the offline
// decryption of a backup downloaded with ?format=encrypted or copied out
// of storage. Memory stays flat; a damaged or truncated file fails with
// ErrCorrupt, and dst then holds an unauthenticated prefix the caller
// must discard.
func DecryptFile(dst io.Writer, src io.Reader, keysFile []byte) (int64, error) {
	k, err := ParseKeys(keysFile)
	if err != nil {
		return 0, err
	}
	r, err := k.Decrypt(src)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(dst, r)
	if err != nil {
		return n, fmt.Errorf("decrypt: %w", err)
	}
	return n, nil
}
