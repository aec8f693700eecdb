package host

import (
	"bufio"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/pocketbackup/pocketbackup/host/jsonapi"
	"github.com/pocketbackup/pocketbackup/internal/atrest"
	"github.com/pocketbackup/pocketbackup/internal/zipsig"
	"github.com/pocketbackup/pocketbackup/shared"
)

// maxUploadParts bounds the multipart parts read before the file part.
const maxUploadParts = 16

// copyBufferSize is the buffer streamed downloads are copied through.
const copyBufferSize = 256 << 10

// noDeadlines lifts any server-wide read and write deadline for this
// request: a large backup may take far longer than an API call.
func noDeadlines(w http.ResponseWriter) {
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})
}

// handleDownload answers GET (and HEAD) /api/backups/{key}?token=FILE_TOKEN,
// streaming from the plugin, with single Range requests answered 206. An
// encrypted backup is decrypted on the way (the plain zip, as always);
// with ?format=encrypted the bytes as stored are sent instead.
func (h *Host) handleDownload(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
	rec, err := h.cfg.Auth.VerifyFileToken(r.Context(), r.URL.Query().Get("token"))
	if err != nil || !rec.IsSuperuser() {
		jsonapi.Write(w, jsonapi.Forbidden(msgFilePermission))
		return
	}
	key := ps.ByName("key")
	if !shared.ValidKey(key) {
		jsonapi.Write(w, jsonapi.NotFound())
		return
	}
	stored, apiErr := downloadFormat(r)
	if apiErr != nil {
		jsonapi.Write(w, apiErr)
		return
	}
	storageURL := h.storageURL()
	var info shared.BackupInfo
	err = h.withPlugin(r.Context(), func(b shared.Backups) (err error) {
		info, err = b.Stat(r.Context(), storageURL, key)
		return err
	})
	if err != nil {
		h.writeError(w, r, fmt.Errorf("download %q: %w", key, err))
		return
	}
	contentType, fileName := "application/zip", key
	if stored && info.Encrypted {
		contentType, fileName = "application/octet-stream", key+".age"
	}
	if stored {
		info.Size = info.Stored()
	}
	lastModified := info.Modified.UTC().Format(http.TimeFormat)
	// The recorded digest is of the stored bytes: it describes what is
	// sent only when those are sent. An encrypted backup sent decrypted
	// gets no Repr-Digest, and an entity tag of its own (the plaintext is
	// fixed by the ciphertext, so the tag stays strong).
	sendsStored := stored || !info.Encrypted
	etag := strongETag(info)
	if etag != "" && !sendsStored {
		etag = `"plain-` + etag[1:]
	}
	offset, length, partial := int64(0), info.Size, false
	if rangeHeader := r.Header.Get("Range"); rangeHeader != "" && ifRangeMatches(r, lastModified, etag) {
		var ok bool
		offset, length, partial, ok = parseRange(rangeHeader, info.Size)
		if !ok {
			w.Header().Set("Content-Range", fmt.Sprintf("bytes */%d", info.Size))
			jsonapi.Write(w, jsonapi.New(http.StatusRequestedRangeNotSatisfiable, "The requested range is not satisfiable."))
			return
		}
	}
	hdr := w.Header()
	hdr.Set("Content-Type", contentType)
	hdr.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": fileName}))
	hdr.Set("Last-Modified", lastModified)
	if etag != "" {
		hdr.Set("ETag", etag)
		if sendsStored {
			hdr.Set("Repr-Digest", reprDigest(info.SHA256))
		}
	}
	hdr.Set("Accept-Ranges", "bytes")
	hdr.Set("Content-Length", strconv.FormatInt(length, 10))
	status := http.StatusOK
	if partial {
		status = http.StatusPartialContent
		hdr.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", offset, offset+length-1, info.Size))
	}
	if r.Method == http.MethodHead {
		w.WriteHeader(status)
		return
	}
	var dl *shared.Download
	err = h.withPlugin(r.Context(), func(b shared.Backups) (err error) {
		if so, ok := b.(shared.StoredOpener); ok && stored {
			dl, err = so.OpenStored(r.Context(), storageURL, key, offset, length)
			return err
		}
		dl, err = b.Open(r.Context(), storageURL, key, offset, length)
		return err
	})
	if err != nil {
		hdr.Del("Content-Length")
		hdr.Del("Content-Range")
		h.writeError(w, r, fmt.Errorf("download %q: %w", key, err))
		return
	}
	defer dl.Close()
	noDeadlines(w)
	w.WriteHeader(status)
	n, err := sendBody(w, dl, info)
	if err != nil || n != length {
		if r.Context().Err() == nil {
			h.log.Error("download broke off", "key", key, "sent", n, "want", length, "error", err)
		}
		// The status is already sent: cut the connection so the client
		// cannot take a short body for a whole backup.
		panic(http.ErrAbortHandler)
	}
}

// downloadFormat reads ?format: "" (the plain zip) or "encrypted" (the
// bytes as stored: an encrypted backup's age file, for off-site keeping).
func downloadFormat(r *http.Request) (stored bool, _ *jsonapi.Error) {
	switch r.URL.Query().Get("format") {
	case "":
		return false, nil
	case "encrypted":
		return true, nil
	}
	return false, jsonapi.BadRequest("The format must be empty or \"encrypted\".")
}

// sendBody writes the download's bytes. When the plugin handed over a
// local file (and it is still the file described), the kernel copies it
// straight to the socket (sendfile); otherwise the plugin's stream is
// copied through one buffer.
func sendBody(w io.Writer, dl *shared.Download, info shared.BackupInfo) (int64, error) {
	if dl.Path != "" {
		// O_NOFOLLOW: the plugin checked a regular file; a symlink put in
		// its place since is not followed.
		if f, err := openNoFollow(dl.Path); err == nil {
			defer f.Close()
			if st, err := f.Stat(); err == nil && st.Mode().IsRegular() && st.Size() == info.Size {
				if _, err := f.Seek(dl.Offset, io.SeekStart); err == nil {
					return io.Copy(w, io.LimitReader(f, dl.Length))
				}
			}
		}
	}
	return io.CopyBuffer(w, dl, make([]byte, copyBufferSize))
}

// ifRangeMatches applies If-Range: a range is only honoured when the
// backup has not changed since the client's copy, by its strong ETag (the
// digest) or its Last-Modified date. Otherwise the whole backup is sent
// (200), never a piece of another object to splice onto the client's.
func ifRangeMatches(r *http.Request, lastModified, etag string) bool {
	v := r.Header.Get("If-Range")
	if v == "" {
		return true
	}
	if strings.HasPrefix(v, `"`) || strings.HasPrefix(v, "W/") {
		return etag != "" && v == etag // strong comparison: a weak tag never matches
	}
	return v == lastModified
}

// strongETag is a backup's entity tag: its SHA-256, so that it changes
// with any byte; "" when no digest is recorded.
func strongETag(info shared.BackupInfo) string {
	if info.SHA256 == "" {
		return ""
	}
	return `"sha256-` + info.SHA256 + `"`
}

// reprDigest is the Repr-Digest field value (RFC 9530) of a hex SHA-256.
func reprDigest(hexSum string) string {
	raw, err := hex.DecodeString(hexSum)
	if err != nil {
		return ""
	}
	return "sha-256=:" + base64.StdEncoding.EncodeToString(raw) + ":"
}

// parseRange reads a single "bytes=" range against size. Multiple ranges
// and malformed headers are ignored (partial=false, ok=true: the whole
// file is sent); a well-formed but unsatisfiable range gives ok=false.
func parseRange(header string, size int64) (offset, length int64, partial, ok bool) {
	spec, found := strings.CutPrefix(header, "bytes=")
	if !found || strings.Contains(spec, ",") {
		return 0, size, false, true
	}
	startStr, endStr, found := strings.Cut(strings.TrimSpace(spec), "-")
	if !found {
		return 0, size, false, true
	}
	if startStr == "" { // suffix: the last N bytes
		n, err := strconv.ParseInt(endStr, 10, 64)
		if err != nil || n < 0 {
			return 0, size, false, true
		}
		if n == 0 || size == 0 {
			return 0, 0, false, false
		}
		n = min(n, size)
		return size - n, n, true, true
	}
	start, err := strconv.ParseInt(startStr, 10, 64)
	if err != nil || start < 0 {
		return 0, size, false, true
	}
	if start >= size {
		return 0, 0, false, false
	}
	end := size - 1
	if endStr != "" {
		e, err := strconv.ParseInt(endStr, 10, 64)
		if err != nil || e < start {
			return 0, size, false, true
		}
		end = min(e, size-1)
	}
	return start, end - start + 1, true, true
}

// handleUpload answers POST /api/backups/upload: the multipart "file" part
// streams through the plugin into storage, which checks the whole archive
// before it becomes visible.
func (h *Host) handleUpload(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	noDeadlines(w)
	mr, err := uploadMultipart(r)
	if err != nil {
		jsonapi.Write(w, fileRequired())
		return
	}
	for parts := 0; ; parts++ {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			jsonapi.Write(w, fileRequired())
			return
		}
		if err != nil || parts >= maxUploadParts {
			jsonapi.Write(w, jsonapi.BadRequest(msgMalformedMultipart))
			return
		}
		if part.FormName() != "file" {
			_ = part.Close()
			continue
		}
		err = h.upload(r, part)
		_ = part.Close()
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
		return
	}
}

// uploadReadBuffer is the read buffer under an upload's multipart reader.
const uploadReadBuffer = 1 << 20

// uploadMultipart is r.MultipartReader with a large read buffer below it:
// mime/multipart reads its source 4 KiB at a time, which without the
// buffer is one read(2) of the connection per 4 KiB of the upload.
func uploadMultipart(r *http.Request) (*multipart.Reader, error) {
	media, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || (media != "multipart/form-data" && media != "multipart/mixed") {
		return nil, http.ErrNotMultipart
	}
	boundary, ok := params["boundary"]
	if !ok {
		return nil, http.ErrMissingBoundary
	}
	return multipart.NewReader(bufio.NewReaderSize(r.Body, uploadReadBuffer), boundary), nil
}

func fileRequired() *jsonapi.Error {
	return jsonapi.Validation("file", "validation_required", "Cannot be blank.")
}

// uploadName returns the key for an uploaded file part: its file name as
// sent (multipart.Part.FileName would silently strip directories), refused
// when it has path separators, "..", control characters or is too long.
func uploadName(part *multipart.Part) (string, *jsonapi.Error) {
	_, params, err := mime.ParseMediaType(part.Header.Get("Content-Disposition"))
	name := params["filename"]
	if err != nil || name == "" {
		return "", fileRequired()
	}
	if len(name) > maxBackupName || strings.Contains(name, "..") || !shared.ValidKey(name) {
		return "", jsonapi.Validation("file", "validation_invalid_file_name",
			"The file name must be a plain name of at most 150 characters, without path separators, \"..\" or control characters.")
	}
	return name, nil
}

// upload streams one file part to the plugin after checking its name and
// that it starts like a zip.
func (h *Host) upload(r *http.Request, mp *multipart.Part) error {
	key, apiErr := uploadName(mp)
	if apiErr != nil {
		return apiErr
	}
	part := &partReader{r: mp}
	body := bufio.NewReaderSize(part, 64<<10)
	head, _ := body.Peek(max(zipsig.Len, len(atrest.Magic)))
	if !zipsig.Starts(head) && !atrest.IsEncrypted(head) {
		return jsonapi.Validation("file", "validation_invalid_mime_type", "The file must be a zip archive (application/zip).")
	}
	// The key is the upload's until it ends, as a create's is: a create or
	// another upload of it meanwhile is refused.
	if !h.ops.reserve(key) {
		return nameTaken("file", key)
	}
	defer h.ops.release(key)
	if err := h.ensureNameFree(r.Context(), "file", key); err != nil {
		return err
	}
	if h.uploadReserved != nil {
		h.uploadReserved()
	}
	b, err := h.backups(r.Context())
	if err != nil {
		return err
	}
	start := h.clock.Now()
	var info shared.BackupInfo
	if pu, ok := b.(shared.PipeUploader); ok {
		// The pipe is made in the data directory's scratch folder: the
		// host's own, private, and swept at every start.
		info, err = pu.UploadThroughPipe(r.Context(), filepath.Join(h.cfg.DataDir, tempDirName), h.storageURL(), key, body)
	} else {
		info, err = b.Upload(r.Context(), h.storageURL(), key, body)
	}
	if err != nil {
		switch {
		case part.err != nil:
			h.log.Warn("upload body broke off", "key", key, "error", part.err)
			return jsonapi.BadRequest(msgMalformedMultipart)
		case errors.Is(err, shared.ErrExists):
			return nameTaken("file", key)
		case errors.Is(err, shared.ErrNoKey):
			h.log.Warn("upload refused: no encryption key", "key", key)
			return jsonapi.Validation("file", "validation_encryption_no_key", msgNoKey)
		case errors.Is(err, shared.ErrWrongKey):
			h.log.Warn("upload refused: wrong encryption key", "key", key)
			return jsonapi.Validation("file", "validation_encryption_wrong_key", msgWrongKey)
		case errors.Is(err, shared.ErrNoSpace):
			h.log.Error("upload: storage full", "key", key, "error", err)
			return jsonapi.New(http.StatusInsufficientStorage, "Not enough free space in the backups storage.")
		case errors.Is(err, shared.ErrInvalid):
			h.log.Warn("upload refused", "key", key, "error", err)
			return jsonapi.Validation("file", "validation_invalid_archive",
				"The file is not a valid backup archive (unreadable, or with unsafe entries).")
		}
		return fmt.Errorf("upload %q: %w", key, err)
	}
	h.log.Info("backup uploaded", "key", key)
	h.observeUpload(key, info.Size, h.clock.Now().Sub(start))
	return nil
}

// msgMalformedMultipart answers an upload body that is not a whole
// multipart message.
const msgMalformedMultipart = "The multipart body is malformed."

// partReader reads an upload's file part and turns any error but io.EOF
// (io.ErrUnexpectedEOF when the body ends before the closing boundary, a
// broken connection) into errBodyBroken, remembering the cause, so that
// the upload answers 400 for a cut body rather than 500 for a failed call.
type partReader struct {
	r   io.Reader
	err error
}

var errBodyBroken = errors.New("upload body broke off")

func (p *partReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if err != nil && err != io.EOF {
		p.err = err
		err = errBodyBroken
	}
	return n, err
}
