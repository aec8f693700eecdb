package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pocketbackup/pocketbackup/internal/atrest"
)

// decryptOptions are the settings of "backups decrypt".
type decryptOptions struct {
	File    string
	KeyFile string
	Output  string
	JSON    bool
}

// decryptResult is what "backups decrypt" prints.
type decryptResult struct {
	File   string `json:"file"`
	Output string `json:"output"`
	Bytes  int64  `json:"bytes"`
}

// newDecryptCommand is "backups decrypt": a backup downloaded as stored
// (?format=encrypted, an age file) made back into the plain zip, on any
// machine, with the app's identities and nothing else.
func newDecryptCommand(e env) *cobra.Command {
	var o decryptOptions
	cmd := &cobra.Command{
		Use:   "decrypt FILE --encryption-key-file=KEYS [-o OUT]",
		Short: "Decrypt a backup downloaded in its stored (encrypted) form into the plain zip",
		Args:  args(1, 1),
		RunE: func(cmd *cobra.Command, a []string) error {
			o.File = a[0]
			if o.KeyFile == "" {
				o.KeyFile = e.get("PB_BACKUPS_ENCRYPTION_KEY_FILE")
			}
			if o.KeyFile == "" {
				return usagef("decrypt needs --encryption-key-file (or PB_BACKUPS_ENCRYPTION_KEY_FILE)")
			}
			return runDecrypt(e, o)
		},
	}
	cmd.Flags().StringVar(&o.KeyFile, "encryption-key-file", "", "the app's age identities [PB_BACKUPS_ENCRYPTION_KEY_FILE]")
	cmd.Flags().StringVarP(&o.Output, "output", "o", "", "where to write the zip (default: FILE without .age)")
	cmd.Flags().BoolVar(&o.JSON, "json", false, "print the result as JSON")
	return cmd
}

func runDecrypt(e env, o decryptOptions) (err error) {
	keys, err := readKeyFile(o.KeyFile)
	if err != nil {
		return err
	}
	if o.Output == "" {
		o.Output = strings.TrimSuffix(o.File, ".age")
		if o.Output == o.File {
			o.Output += ".zip"
		}
	}
	src, err := os.Open(o.File)
	if err != nil {
		return fmt.Errorf("decrypt: %w", err)
	}
	defer src.Close()
	// Written beside the output and renamed into place: a wrong key or a
	// damaged file never leaves a half zip under the output's name.
	tmp, err := os.CreateTemp(filepath.Dir(o.Output), "."+filepath.Base(o.Output)+".part-*")
	if err != nil {
		return fmt.Errorf("decrypt: %w", err)
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, tmp.Close(), os.Remove(tmp.Name()))
		}
	}()
	n, err := atrest.DecryptFile(tmp, src, []byte(keys))
	if err != nil {
		return fmt.Errorf("decrypt %s: %w", o.File, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("decrypt: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("decrypt: %w", err)
	}
	if err := os.Rename(tmp.Name(), o.Output); err != nil {
		return fmt.Errorf("decrypt: %w", err)
	}
	if o.JSON {
		return printJSON(e.Stdout, decryptResult{File: o.File, Output: o.Output, Bytes: n})
	}
	_, err = fmt.Fprintf(e.Stdout, "Decrypted %s into %s (%s).\n", o.File, o.Output, humanBytes(n))
	return err
}

// readKeyFile reads a keys file's text; "" for no file. The text is a
// secret: it is passed on, never printed.
func readKeyFile(path string) (string, error) {
	if path == "" {
		return "", nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("encryption key file: %w", err)
	}
	return string(b), nil
}
