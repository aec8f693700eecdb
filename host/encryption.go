package host

import (
	"fmt"
	"net/http"

	"github.com/pocketbackup/pocketbackup/host/jsonapi"
	"github.com/pocketbackup/pocketbackup/internal/atrest"
)

// envEncryptionKeys is how the plugin process gets the host's keys (see
// plugin.EnvEncryptionKeys; host does not import plugin). The host always
// sets it, empty when encryption is off, so a value in the host's own
// environment never reaches the plugin by the POCKETBACKUP_* rule.
const envEncryptionKeys = "POCKETBACKUP_ENCRYPTION_KEYS"

// Messages of a backup that cannot be decrypted.
const (
	msgNoKey    = "The backup is encrypted and no encryption key is configured."
	msgWrongKey = "None of the configured encryption keys can decrypt the backup."
)

// parseEncryptionKeys reads Config.EncryptionKeys; nil when empty.
func parseEncryptionKeys(text string) (*atrest.Keys, error) {
	if text == "" {
		return nil, nil
	}
	keys, err := atrest.ParseKeys([]byte(text))
	if err != nil {
		return nil, fmt.Errorf("encryption keys: %w", err)
	}
	return keys, nil
}

// keyError is the 400 for a backup the host's keys cannot open.
func keyError(msg string) *jsonapi.Error {
	return jsonapi.New(http.StatusBadRequest, msg)
}
