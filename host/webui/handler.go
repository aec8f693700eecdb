package webui

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/pocketbackup/pocketbackup/host/jsonapi"
)

//go:embed static
var static embed.FS

// CSP is the Content-Security-Policy of every answer: scripts and styles only
// from the page's own files (no inline script, no style attributes), API
// calls only to its own origin, no framing, no plugins, no base or form
// redirection elsewhere.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'"

// asset is one embedded file, ready to serve.
type asset struct {
	body  []byte
	etag  string
	ctype string
}

// Handler serves the page below prefix (which starts and ends with "/",
// e.g. "/_/"): prefix itself is the page, prefix+"app.js" and the like its
// files. Anything else answers the contract's 404.
func Handler(prefix string) (http.Handler, error) {
	if !strings.HasPrefix(prefix, "/") || !strings.HasSuffix(prefix, "/") {
		return nil, fmt.Errorf("webui: path %q must start and end with /", prefix)
	}
	assets := map[string]asset{}
	err := fs.WalkDir(static, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := static.ReadFile(p)
		if err != nil {
			return fmt.Errorf("read %s: %w", p, err)
		}
		sum := sha256.Sum256(body)
		ctype := mime.TypeByExtension(path.Ext(p))
		if ctype == "" {
			ctype = "application/octet-stream"
		}
		assets[strings.TrimPrefix(p, "static/")] = asset{body: body, etag: `"` + hex.EncodeToString(sum[:12]) + `"`, ctype: ctype}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("webui: %w", err)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setSecurityHeaders(w.Header())
		name, ok := strings.CutPrefix(r.URL.Path, prefix)
		if name == "" {
			name = "index.html"
		}
		a, found := assets[name]
		if !ok || !found || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
			jsonapi.Write(w, jsonapi.NotFound())
			return
		}
		w.Header().Set("Content-Type", a.ctype)
		w.Header().Set("ETag", a.etag)
		// Cached, but revalidated each time: an upgraded binary's files
		// are picked up at once, an unchanged one costs a 304.
		w.Header().Set("Cache-Control", "no-cache")
		http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(a.body))
	}), nil
}

// setSecurityHeaders sets the headers every answer of the page carries.
func setSecurityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", CSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
}
