package storage_test

import (
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/pocketbackup/pocketbackup/shared"
)

// Credentials the fake S3 server accepts when it checks signatures.
const (
	testAccessKey = "AKIATESTGOODKEY00001"
	testSecret    = "test/Secret+Key=with/slashes0001"
)

// fakeS3 is an S3-protocol server on loopback: gofakes3 over its in-memory
// backend, behind a recorder of multipart parts and, optionally, a SigV4
// check (gofakes3 accepts any credentials).
//
// Notes on gofakes3 v1.2.0 with the AWS SDK v2 that gocloud v0.47 uses:
//   - it ignores x-amz-checksum-* headers and, of the aws-chunked body
//     encodings, knows only STREAMING-AWS4-HMAC-SHA256-PAYLOAD. Over plain
//     HTTP the SDK signs the payload and sends any checksum as a header, so
//     both checksum modes happen to work here; Open's "when required" for
//     endpoints that are not AWS's is for real providers, which reject the
//     default checksums. The server counts requests that carry one
//     (checksummed), so tests can check that Open's default holds;
//   - its ETags lack the multipart "-N" suffix, and it holds every object
//     (and every pending part) in RAM: keep objects small.
type fakeS3 struct {
	*httptest.Server
	backend *s3mem.Backend

	checkSignatures bool
	checksummed     atomic.Int64 // requests carrying an x-amz-checksum-* header

	mu        sync.Mutex
	partSizes []int64       // Content-Length of each UploadPart, in arrival order
	partSeen  chan struct{} // closed at the first UploadPart
	seenOnce  sync.Once
}

// newFakeS3 starts a server, closed when t ends.
func newFakeS3(t *testing.T, checkSignatures bool) *fakeS3 {
	t.Helper()
	f := &fakeS3{
		backend:         s3mem.New(),
		checkSignatures: checkSignatures,
		partSeen:        make(chan struct{}),
	}
	s3 := gofakes3.New(&oneTimeBackend{Backend: f.backend, times: map[string]time.Time{}}, gofakes3.WithAutoBucket(false))
	next := s3.Server()
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f.checkSignatures {
			if code, msg := checkSigV4(r); code != "" {
				writeS3Error(w, http.StatusForbidden, code, msg)
				return
			}
		}
		for h := range r.Header {
			if strings.HasPrefix(h, "X-Amz-Checksum-") || strings.HasPrefix(h, "X-Amz-Sdk-Checksum-") {
				f.checksummed.Add(1)
				break
			}
		}
		q := r.URL.Query()
		if r.Method == http.MethodPut && q.Has("partNumber") && q.Has("uploadId") {
			f.mu.Lock()
			f.partSizes = append(f.partSizes, r.ContentLength)
			f.mu.Unlock()
			f.seenOnce.Do(func() { close(f.partSeen) })
		}
		next.ServeHTTP(w, r)
	}))
	t.Cleanup(f.Close)
	return f
}

// oneTimeBackend gives an object one modification time, as S3 does.
// gofakes3 stamps the Last-Modified header (what a HEAD answers) when the
// request arrives (for a multipart upload, when it starts), and s3mem the
// listing's time when it has stored the body; an upload that straddled a
// second made Stat and List disagree. Here listings show the header's
// time, as S3's do.
type oneTimeBackend struct {
	*s3mem.Backend

	mu    sync.Mutex
	times map[string]time.Time // bucket + "/" + key: the time the header says
}

func (b *oneTimeBackend) PutObject(bucket, key string, meta map[string]string, input io.Reader, size int64, cond *gofakes3.PutConditions) (gofakes3.PutObjectResult, error) {
	at, err := http.ParseTime(meta["Last-Modified"])
	if err != nil {
		at = time.Now().UTC().Truncate(time.Second)
		meta["Last-Modified"] = at.Format(http.TimeFormat)
	}
	res, err := b.Backend.PutObject(bucket, key, meta, input, size, cond)
	if err == nil {
		b.mu.Lock()
		b.times[bucket+"/"+key] = at
		b.mu.Unlock()
	}
	return res, err
}

func (b *oneTimeBackend) ListBucket(name string, prefix *gofakes3.Prefix, page gofakes3.ListBucketPage) (*gofakes3.ObjectList, error) {
	list, err := b.Backend.ListBucket(name, prefix, page)
	if err != nil {
		return list, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, c := range list.Contents {
		if at, ok := b.times[name+"/"+c.Key]; ok {
			c.LastModified = gofakes3.NewContentTime(at)
		}
	}
	return list, nil
}

var bucketSeq atomic.Int64

// newBucket creates a bucket with a fresh name and returns the name.
func (f *fakeS3) newBucket(t *testing.T) string {
	t.Helper()
	name := fmt.Sprintf("bucket-%04d", bucketSeq.Add(1))
	if err := f.backend.CreateBucket(name); err != nil {
		t.Fatalf("CreateBucket(%s): %v", name, err)
	}
	return name
}

// url returns the storage URL of bucket under prefix, with the good
// credentials.
func (f *fakeS3) url(bucket, prefix string) string {
	return shared.S3URL(f.config(bucket, prefix))
}

func (f *fakeS3) config(bucket, prefix string) shared.S3Config {
	return shared.S3Config{
		Bucket:         bucket,
		Region:         "us-east-1",
		Endpoint:       f.URL,
		AccessKey:      testAccessKey,
		Secret:         testSecret,
		Prefix:         prefix,
		ForcePathStyle: true,
	}
}

// parts returns the sizes of the parts uploaded so far.
func (f *fakeS3) parts() []int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]int64(nil), f.partSizes...)
}

// waitPart waits until the server has received the first UploadPart.
func (f *fakeS3) waitPart(t *testing.T) {
	t.Helper()
	select {
	case <-f.partSeen:
	case <-time.After(time.Minute):
		t.Fatal("no UploadPart request reached the server within a minute")
	case <-t.Context().Done():
		t.Fatal(t.Context().Err())
	}
}

// pendingUploads returns the keys of the multipart uploads begun and
// neither completed nor aborted in bucket. gofakes3 does not check
// credentials, so a plain GET does.
func (f *fakeS3) pendingUploads(t *testing.T, bucket string) []string {
	t.Helper()
	resp, err := http.Get(f.URL + "/" + bucket + "?uploads")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("ListMultipartUploads: %s, %v: %s", resp.Status, err, body)
	}
	var out struct {
		Uploads []struct {
			Key string `xml:"Key"`
		} `xml:"Upload"`
	}
	if err := xml.Unmarshal(body, &out); err != nil {
		t.Fatalf("ListMultipartUploads: %v: %s", err, body)
	}
	var keys []string
	for _, u := range out.Uploads {
		keys = append(keys, u.Key)
	}
	return keys
}

// checkSigV4 checks r's AWS Signature Version 4 against testAccessKey and
// testSecret. It returns an S3 error code and message, or "" if r is
// signed right. Like some S3-compatible stores, the message for an unknown
// key repeats it, so that the tests see whether errors are scrubbed.
func checkSigV4(r *http.Request) (code, msg string) {
	const algo = "AWS4-HMAC-SHA256 "
	auth := r.Header.Get("Authorization")
	if !strings.HasPrefix(auth, algo) {
		return "AccessDenied", "Access Denied: request not signed"
	}
	fields := map[string]string{}
	for f := range strings.SplitSeq(strings.TrimPrefix(auth, algo), ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(f), "=")
		fields[k] = v
	}
	scope := strings.Split(fields["Credential"], "/") // AKID/date/region/s3/aws4_request
	if len(scope) != 5 {
		return "AuthorizationHeaderMalformed", "bad Credential"
	}
	if scope[0] != testAccessKey {
		return "InvalidAccessKeyId", "The AWS Access Key Id you provided (" + scope[0] + ") does not exist in our records."
	}
	signingTime, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil {
		return "AccessDenied", "bad X-Amz-Date"
	}
	// Sign a copy holding only the headers the client signed.
	c := r.Clone(r.Context())
	c.Header = http.Header{}
	signedLength := false
	for h := range strings.SplitSeq(fields["SignedHeaders"], ";") {
		switch h {
		case "host":
		case "content-length":
			signedLength = true
		default:
			c.Header[http.CanonicalHeaderKey(h)] = r.Header.Values(h)
		}
	}
	if !signedLength {
		c.ContentLength = 0
	}
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	creds := aws.Credentials{AccessKeyID: testAccessKey, SecretAccessKey: testSecret}
	err = signer.SignHTTP(r.Context(), creds, c, r.Header.Get("X-Amz-Content-Sha256"), scope[3], scope[2], signingTime)
	if err != nil {
		return "AccessDenied", err.Error()
	}
	_, want, _ := strings.Cut(c.Header.Get("Authorization"), "Signature=")
	if want == "" || want != fields["Signature"] {
		return "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided. Check your key and signing method."
	}
	return "", ""
}

// writeS3Error answers as S3 does. HEAD answers carry no body.
func writeS3Error(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	var b strings.Builder
	xml.EscapeText(&b, []byte(msg))
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>%s</Message><RequestId>1</RequestId></Error>`,
		code, b.String())
}
