package atrest

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"strings"
)

// secretPrefix marks a secret stored encrypted (an age file, base64), as
// opposed to one stored in clear by an older version or without a key.
const secretPrefix = "age:"

// SealSecret returns s encrypted to k's first identity, as text to store;
// s itself when k is nil or s is empty.
func (k *Keys) SealSecret(s string) (string, error) {
	if k == nil || s == "" {
		return s, nil
	}
	var buf bytes.Buffer
	w, err := k.Encrypt(&buf)
	if err != nil {
		return "", err
	}
	if _, err := io.WriteString(w, s); err != nil {
		return "", fmt.Errorf("seal secret: %w", err)
	}
	if err := w.Close(); err != nil {
		return "", fmt.Errorf("seal secret: %w", err)
	}
	return secretPrefix + base64.StdEncoding.EncodeToString(buf.Bytes()), nil
}

// IsSealed reports whether a stored secret is encrypted.
func IsSealed(stored string) bool { return strings.HasPrefix(stored, secretPrefix) }

// OpenSecret returns the secret a stored value holds: the value itself
// when it was stored in clear, decrypted when sealed (ErrNoKey without
// keys, ErrWrongKey when none of them opens it).
func (k *Keys) OpenSecret(stored string) (string, error) {
	if !IsSealed(stored) {
		return stored, nil
	}
	raw, err := base64.StdEncoding.DecodeString(stored[len(secretPrefix):])
	if err != nil {
		return "", fmt.Errorf("%w: not base64", ErrCorrupt)
	}
	r, err := k.Decrypt(bytes.NewReader(raw))
	if err != nil {
		return "", err
	}
	plain, err := io.ReadAll(io.LimitReader(r, int64(len(raw))))
	if err != nil {
		return "", err
	}
	return string(plain), nil
}
