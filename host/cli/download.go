package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// downloadOptions are the settings of "backups download".
type downloadOptions struct {
	Key    string
	Output string
	JSON   bool
	// Retries is how many times a cut transfer is resumed in one run.
	Retries int
}

func newDownloadCommand(e env, conn *connFlags) *cobra.Command {
	o := downloadOptions{Retries: 5}
	cmd := &cobra.Command{
		Use:   "download KEY",
		Short: "Download a backup; a cut download resumes where it stopped",
		Long: `Downloads backup KEY into -o FILE (default: KEY in the current folder),
through FILE.part: a transfer that is cut resumes from there, in the same
run or the next one, and only when the backup is still the same object
(If-Range). Where the app sends a digest (Repr-Digest), the file is checked
against it before it gets its name.`,
		Args: args(1, 1),
		RunE: func(cmd *cobra.Command, a []string) error {
			o.Key = a[0]
			c, err := conn.connect(cmd.Context())
			if err != nil {
				return err
			}
			return runDownload(cmd.Context(), e, c, o)
		},
	}
	cmd.Flags().StringVarP(&o.Output, "output", "o", "", "the file to write (default: KEY)")
	cmd.Flags().BoolVar(&o.JSON, "json", false, "print the result as JSON")
	cmd.Flags().IntVar(&o.Retries, "retries", o.Retries, "times a cut transfer is resumed in this run")
	return cmd
}

// partMeta is kept beside FILE.part: what the bytes there belong to.
type partMeta struct {
	Key          string `json:"key"`
	ETag         string `json:"etag,omitempty"`
	LastModified string `json:"lastModified,omitempty"`
	Size         int64  `json:"size"`
	SHA256       string `json:"sha256,omitempty"` // base64, from Repr-Digest
}

// validator is what If-Range sends: the strong ETag, else the date.
func (m partMeta) validator() string {
	if m.ETag != "" && !strings.HasPrefix(m.ETag, "W/") {
		return m.ETag
	}
	return m.LastModified
}

// errPermanent marks an answer a retry cannot change.
type errPermanent struct{ error }

func (e errPermanent) Unwrap() error { return e.error }

func runDownload(ctx context.Context, e env, c *client, o downloadOptions) error {
	out := o.Output
	if out == "" {
		out = o.Key
	}
	if _, err := os.Stat(out); err == nil {
		return usagef("%s exists: remove it or choose another file with -o", out)
	}
	d := &downloader{e: e, c: c, key: o.Key, part: out + ".part", metaPath: out + ".part.json"}
	start := time.Now()
	d.prog = newProgress(e, "download "+o.Key)
	var err error
	for attempt := 0; ; attempt++ {
		err = d.attempt(ctx)
		var perm errPermanent
		if err == nil || errors.As(err, &perm) || ctx.Err() != nil || attempt >= o.Retries {
			break
		}
		fmt.Fprintf(e.Stderr, "download %s: cut at %s (%v); resuming\n", o.Key, humanBytes(d.done), err)
	}
	if err != nil {
		d.prog.Done(false)
		if d.done > 0 {
			return fmt.Errorf("download %s: %w (the %s received are kept in %s: run the same command again to resume)", o.Key, err, humanBytes(d.done), d.part)
		}
		return fmt.Errorf("download %s: %w", o.Key, err)
	}
	d.prog.Done(true)
	checked, err := d.finish(out)
	if err != nil {
		return err
	}
	res := opResult{Kind: "download", Key: o.Key, Status: "done", Output: out, Size: d.meta.Size,
		Seconds: time.Since(start).Round(time.Millisecond).Seconds()}
	text := fmt.Sprintf("Downloaded %s to %s (%s)", o.Key, out, humanBytes(d.meta.Size))
	if checked {
		text += "; SHA-256 matches the app's digest."
	} else {
		text += "; the app sent no digest to check it against."
	}
	return printResult(e, o.JSON, res, text)
}

// downloader moves one backup into a .part file, resuming.
type downloader struct {
	e        env
	c        *client
	key      string
	part     string
	metaPath string
	meta     partMeta
	done     int64
	prog     progress
}

// resumeOffset returns how many bytes of the .part file can be kept, and
// loads their metadata; 0 starts over.
func (d *downloader) resumeOffset() int64 {
	st, err := os.Stat(d.part)
	if err != nil {
		return 0
	}
	b, err := os.ReadFile(d.metaPath)
	if err != nil {
		return 0
	}
	var m partMeta
	if json.Unmarshal(b, &m) != nil || m.Key != d.key || m.validator() == "" || st.Size() > m.Size {
		return 0
	}
	d.meta = m
	return st.Size()
}

// attempt asks for the rest of the backup and appends it to the .part file.
func (d *downloader) attempt(ctx context.Context) error {
	offset := d.resumeOffset()
	if offset > 0 && offset == d.meta.Size {
		d.done = offset
		return nil
	}
	tok, err := d.c.fileToken(ctx)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.c.url(keyPath(d.key, ""), url.Values{"token": {tok}}), nil)
	if err != nil {
		return err
	}
	if offset > 0 {
		req.Header.Set("Range", "bytes="+strconv.FormatInt(offset, 10)+"-")
		req.Header.Set("If-Range", d.meta.validator())
	}
	resp, err := d.c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	flags := os.O_WRONLY | os.O_CREATE
	switch resp.StatusCode {
	case http.StatusOK:
		// A whole body: the object changed, or no range was asked for.
		offset = 0
		flags |= os.O_TRUNC
		d.meta = partMeta{Key: d.key, ETag: resp.Header.Get("ETag"), LastModified: resp.Header.Get("Last-Modified"),
			Size: resp.ContentLength, SHA256: reprDigestSHA256(resp.Header.Get("Repr-Digest"))}
		if d.meta.Size < 0 {
			return errPermanent{errors.New("the app sent no Content-Length")}
		}
		if err := writeJSONFile(d.metaPath, d.meta); err != nil {
			return errPermanent{err}
		}
	case http.StatusPartialContent:
		if start, ok := contentRangeStart(resp.Header.Get("Content-Range")); !ok || start != offset {
			return fmt.Errorf("the app answered range %q for bytes from %d", resp.Header.Get("Content-Range"), offset)
		}
		flags |= os.O_APPEND
	case http.StatusRequestedRangeNotSatisfiable:
		_ = os.Remove(d.part) // the object shrank: start over
		return errors.New("the kept part no longer fits the backup; starting over")
	default:
		return errPermanent{checkResponse(resp)}
	}
	f, err := os.OpenFile(d.part, flags, 0o600)
	if err != nil {
		return errPermanent{err}
	}
	d.done = offset
	d.prog.Set(d.done, d.meta.Size)
	n, err := io.Copy(f, &countingReader{r: resp.Body, done: offset, total: d.meta.Size, prog: d.prog})
	d.done = offset + n
	if cerr := f.Close(); err == nil && cerr != nil {
		return errPermanent{cerr}
	}
	if err != nil {
		return err
	}
	if d.done != d.meta.Size {
		return fmt.Errorf("got %d of %d bytes", d.done, d.meta.Size)
	}
	return nil
}

// finish checks the digest (when the app sent one) and names the file.
// It reports whether the digest was checked.
func (d *downloader) finish(out string) (bool, error) {
	checked := false
	if d.meta.SHA256 != "" {
		sum, err := fileSHA256(d.part)
		if err != nil {
			return false, err
		}
		if want, _ := base64.StdEncoding.DecodeString(d.meta.SHA256); !bytes.Equal(sum, want) {
			_ = os.Remove(d.part)
			_ = os.Remove(d.metaPath)
			return false, fmt.Errorf("download %s: the file's SHA-256 does not match the app's digest; it was deleted: download it again", d.key)
		}
		checked = true
	}
	if err := os.Rename(d.part, out); err != nil {
		return false, fmt.Errorf("download %s: %w", d.key, err)
	}
	_ = os.Remove(d.metaPath)
	return checked, nil
}

// reprDigestSHA256 returns the base64 sha-256 of an RFC 9530 Repr-Digest
// header ("sha-256=:BASE64:"), or "".
func reprDigestSHA256(h string) string {
	for _, item := range strings.Split(h, ",") {
		name, val, ok := strings.Cut(strings.TrimSpace(item), "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(name), "sha-256") {
			continue
		}
		val = strings.TrimSpace(val)
		if len(val) >= 2 && val[0] == ':' && val[len(val)-1] == ':' {
			return val[1 : len(val)-1]
		}
	}
	return ""
}

// contentRangeStart reads the first byte of "bytes START-END/SIZE".
func contentRangeStart(h string) (int64, bool) {
	rest, ok := strings.CutPrefix(h, "bytes ")
	if !ok {
		return 0, false
	}
	start, _, ok := strings.Cut(rest, "-")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(start, 10, 64)
	return n, err == nil
}

func fileSHA256(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return nil, fmt.Errorf("hash %s: %w", path, err)
	}
	return h.Sum(nil), nil
}

func writeJSONFile(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o600)
}
