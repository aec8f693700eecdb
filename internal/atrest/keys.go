package atrest

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"filippo.io/age"
)

// MaxKeysFile bounds a keys file: a few identities take a few hundred bytes.
const MaxKeysFile = 64 << 10

// ErrBadKeys means a keys file holds no usable age identity, or something
// else than identities and comments.
var ErrBadKeys = errors.New("encryption keys: not a list of age identities")

// Keys are the age identities a host holds. New backups are encrypted to
// the first one's recipient; any of them decrypts. A nil *Keys means
// encryption is off.
type Keys struct {
	ids       []age.Identity
	recipient age.Recipient
	// lines is the identities in their text form, first first, for
	// handing them to the plugin process.
	lines []string
}

// ParseKeys reads a keys file: one age identity ("AGE-SECRET-KEY-1…" or
// "AGE-SECRET-KEY-PQ-1…") a line, blank lines and "#" comments ignored,
// the file's newest key first. It never quotes the text in its errors.
func ParseKeys(text []byte) (*Keys, error) {
	if len(text) > MaxKeysFile {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrBadKeys, MaxKeysFile)
	}
	ids, err := age.ParseIdentities(bytes.NewReader(text))
	if err != nil {
		// age's parse errors name a line number, never the line.
		return nil, fmt.Errorf("%w: %v", ErrBadKeys, err)
	}
	k := &Keys{}
	for i, id := range ids {
		var r age.Recipient
		var s string
		switch id := id.(type) {
		case *age.X25519Identity:
			r, s = id.Recipient(), id.String()
		case *age.HybridIdentity:
			r, s = id.Recipient(), id.String()
		default:
			return nil, fmt.Errorf("%w: identity %d is of an unsupported type", ErrBadKeys, i+1)
		}
		if i == 0 {
			k.recipient = r
		}
		k.ids = append(k.ids, id)
		k.lines = append(k.lines, s)
	}
	return k, nil
}

// GenerateKeys returns one new X25519 identity as a keys file's text.
func GenerateKeys() ([]byte, error) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	return []byte("# pocketbackup encryption key, public key: " + id.Recipient().String() + "\n" + id.String() + "\n"), nil
}

// Text returns the identities as a keys file, newest first: what
// ParseKeys reads back. It is secret; hand it only to the plugin process.
func (k *Keys) Text() string {
	if k == nil {
		return ""
	}
	return strings.Join(k.lines, "\n") + "\n"
}

// Recipient returns the public key new backups are encrypted to.
func (k *Keys) Recipient() string {
	if k == nil {
		return ""
	}
	if s, ok := k.recipient.(interface{ String() string }); ok {
		return s.String()
	}
	return ""
}

// Len returns how many identities k holds.
func (k *Keys) Len() int {
	if k == nil {
		return 0
	}
	return len(k.ids)
}

// String keeps keys out of logs and error messages.
func (k *Keys) String() string { return "[redacted]" }

// GoString keeps keys out of %#v.
func (k *Keys) GoString() string { return "[redacted]" }
