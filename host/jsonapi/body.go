package jsonapi

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"
)

// maxBodyBytes bounds the JSON and form bodies the API reads (uploads are
// multipart and read elsewhere).
const maxBodyBytes = 1 << 20

// ReadBody fills dst (a pointer to a struct with json tags; form values
// fill its string fields) from a JSON or urlencoded/multipart form body. An
// empty body leaves dst unchanged. A malformed body, or a body of another
// type, is a 400.
func ReadBody(r *http.Request, dst any) error {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "application/x-www-form-urlencoded", "multipart/form-data":
		r.Body = http.MaxBytesReader(nil, r.Body, maxBodyBytes)
		var err error
		if ct == "multipart/form-data" {
			err = r.ParseMultipartForm(maxBodyBytes)
		} else {
			err = r.ParseForm()
		}
		if err != nil {
			return BadRequest("")
		}
		if r.MultipartForm != nil {
			_ = r.MultipartForm.RemoveAll()
		}
		values := make(map[string]string, len(r.PostForm))
		for name := range r.PostForm {
			values[name] = r.PostForm.Get(name)
		}
		raw, err := json.Marshal(values)
		if err != nil {
			return BadRequest("")
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			return BadRequest("")
		}
		return nil
	default:
		if r.Header.Get("Content-Type") != "" && ct != "application/json" && !strings.HasSuffix(ct, "+json") {
			// A body in a type it cannot read (text/plain, xml, an
			// unparsable type) is refused, as PocketBase does.
			if r.Body == nil {
				return nil
			}
			var one [1]byte
			if n, _ := io.ReadFull(r.Body, one[:]); n > 0 {
				return BadRequest("")
			}
			return nil
		}
		dec := json.NewDecoder(io.LimitReader(r.Body, maxBodyBytes))
		if err := dec.Decode(dst); err != nil && !errors.Is(err, io.EOF) {
			return BadRequest("")
		}
		return nil
	}
}
