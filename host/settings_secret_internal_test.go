package host

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/pocketbackup/pocketbackup/internal/atrest"
)

type bytesStore struct{ data []byte }

func (b *bytesStore) LoadSettings(context.Context) ([]byte, error) { return b.data, nil }
func (b *bytesStore) SaveSettings(_ context.Context, data []byte) error {
	b.data = data
	return nil
}

func testKeys(t *testing.T) *atrest.Keys {
	t.Helper()
	text, err := atrest.GenerateKeys()
	if err != nil {
		t.Fatal(err)
	}
	k, err := atrest.ParseKeys(text)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestS3SecretSealed: with a key the saved settings (which live in
// data.db, and so in every backup) hold the S3 secret only encrypted; it
// reads back with the key, a secret saved in clear before still reads,
// and without the key the secret is left empty with an error saying why.
func TestS3SecretSealed(t *testing.T) {
	ctx := context.Background()
	keys := testKeys(t)
	s := defaultSettings()
	s.Backups.S3 = S3Settings{Enabled: true, Bucket: "b", Secret: "TOP-SECRET-VALUE"}
	data, err := marshalSettings(s, keys)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), "TOP-SECRET-VALUE") || !strings.Contains(string(data), `"secret":"age:`) {
		t.Fatalf("saved settings: %s", data)
	}
	store := &bytesStore{data: data}
	got, err := loadSettings(ctx, store, keys)
	if err != nil || got.Backups.S3.Secret != "TOP-SECRET-VALUE" || got.Backups.S3.Bucket != "b" {
		t.Fatalf("loaded with the key: %+v, %v", got.Backups.S3, err)
	}
	got, err = loadSettings(ctx, store, nil)
	if !errors.Is(err, atrest.ErrNoKey) || got.Backups.S3.Secret != "" || got.Backups.S3.Bucket != "b" {
		t.Fatalf("loaded without the key: %+v, %v", got.Backups.S3, err)
	}
	got, err = loadSettings(ctx, store, testKeys(t))
	if !errors.Is(err, atrest.ErrWrongKey) || got.Backups.S3.Secret != "" {
		t.Fatalf("loaded with another key: %+v, %v", got.Backups.S3, err)
	}
	clear, err := marshalSettings(s, nil)
	if err != nil || !strings.Contains(string(clear), "TOP-SECRET-VALUE") {
		t.Fatalf("without a key the secret is saved as before: %s, %v", clear, err)
	}
	got, err = loadSettings(ctx, &bytesStore{data: clear}, keys)
	if err != nil || got.Backups.S3.Secret != "TOP-SECRET-VALUE" {
		t.Fatalf("a clear secret saved before must read with a key: %+v, %v", got.Backups.S3, err)
	}
}
