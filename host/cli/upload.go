package cli

import (
	"context"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
)

// uploadOptions are the settings of "backups upload".
type uploadOptions struct {
	File string
	Name string
	JSON bool
}

func newUploadCommand(e env, conn *connFlags) *cobra.Command {
	var o uploadOptions
	cmd := &cobra.Command{
		Use:   "upload FILE",
		Short: "Upload a backup zip to the app",
		Args:  args(1, 1),
		RunE: func(cmd *cobra.Command, a []string) error {
			o.File = a[0]
			c, err := conn.connect(cmd.Context())
			if err != nil {
				return err
			}
			return runUpload(cmd.Context(), e, c, o)
		},
	}
	cmd.Flags().StringVar(&o.Name, "name", "", "the backup's key in the app (default: the file's name)")
	cmd.Flags().BoolVar(&o.JSON, "json", false, "print the result as JSON")
	return cmd
}

func runUpload(ctx context.Context, e env, c *client, o uploadOptions) error {
	f, err := os.Open(o.File)
	if err != nil {
		return fmt.Errorf("upload: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("upload: %w", err)
	}
	if !st.Mode().IsRegular() {
		return usagef("upload: %s is not a regular file", o.File)
	}
	key := o.Name
	if key == "" {
		key = filepath.Base(o.File)
	}
	start := time.Now()
	prog := newProgress(e, "upload "+key)
	// The multipart body is written while it is sent: nothing is held in
	// memory.
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		part, err := mw.CreateFormFile("file", key)
		if err == nil {
			_, err = io.Copy(part, &countingReader{r: f, total: st.Size(), prog: prog})
		}
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
	}()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url("/api/backups/upload", nil), pr)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", c.token)
	resp, err := c.http.Do(req)
	if err != nil {
		prog.Done(false)
		return fmt.Errorf("upload %s: %w", key, err)
	}
	defer resp.Body.Close()
	if err := checkResponse(resp); err != nil {
		prog.Done(false)
		return fmt.Errorf("upload %s: %w", key, err)
	}
	prog.Done(true)
	res := opResult{Kind: "upload", Key: key, Status: "done", Size: st.Size(), Seconds: time.Since(start).Round(time.Millisecond).Seconds()}
	return printResult(e, o.JSON, res, fmt.Sprintf("Uploaded %s (%s).", key, humanBytes(st.Size())))
}

// countingReader reports the bytes read through it.
type countingReader struct {
	r     io.Reader
	done  int64
	total int64
	prog  progress
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.done += int64(n)
	c.prog.Set(c.done, c.total)
	return n, err
}
