package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/pocketbackup/pocketbackup/internal/atrest"
)

// writeKeyFile writes a new age keys file into dir for the host.
func writeKeyFile(dir string) (string, error) {
	text, err := atrest.GenerateKeys()
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "bench.agekey")
	return path, os.WriteFile(path, text, 0o600)
}

// checkEncrypted checks that the stored backup is an age file without a
// zip signature in its first MiB, then downloads the plain zip through
// the API for the checks, baselines and upload that follow.
func (b *bench) checkEncrypted(ctx context.Context) error {
	f, err := os.Open(b.zipPath)
	if err != nil {
		return err
	}
	head := make([]byte, 1<<20)
	n, err := io.ReadFull(f, head)
	f.Close()
	if err != nil && err != io.ErrUnexpectedEOF {
		return fmt.Errorf("read stored backup: %w", err)
	}
	head = head[:n]
	ok := atrest.IsEncrypted(head) && !bytes.Contains(head, []byte("PK\x03\x04")) && !bytes.Contains(head, []byte("PK\x01\x02"))
	b.rep.add(checkRow("create.encrypted", "Create: stored as an age file, no zip signature in its first MiB", ok, okText(ok), "age file"))
	token, err := b.h.fileToken(ctx)
	if err != nil {
		return err
	}
	plain := filepath.Join(b.root, "plain-"+backupKey)
	out, err := os.Create(plain)
	if err != nil {
		return err
	}
	defer out.Close()
	resp, err := b.h.client.Get(b.h.url + "/api/backups/" + backupKey + "?token=" + token)
	if err != nil {
		return fmt.Errorf("download plain zip: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("download plain zip: status %d", resp.StatusCode)
	}
	if _, err := io.Copy(out, resp.Body); err != nil {
		return fmt.Errorf("download plain zip: %w", err)
	}
	if err := out.Close(); err != nil {
		return err
	}
	b.zipPath = plain
	return nil
}
