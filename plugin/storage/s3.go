package storage

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	gcaws "gocloud.dev/aws"
	"gocloud.dev/blob"
	"gocloud.dev/blob/s3blob"

	"github.com/pocketbackup/pocketbackup/shared"
)

// Write tuning for S3 multipart uploads. The transfer manager holds up to
// s3Concurrency+1 parts of s3PartSize in memory (plus the first part while
// it decides between one PUT and a multipart upload): about 64 MiB per
// upload. 16 MiB × 10,000 parts caps an object at about 156 GiB.
const (
	s3PartSize    = 16 << 20
	s3Concurrency = 2
	// s3AbortTimeout bounds the AbortMultipartUpload sent, on a fresh
	// context, after an upload failed or was cancelled.
	s3AbortTimeout = 30 * time.Second
)

// s3Opener opens s3:// URLs. Unlike gocloud's own opener it takes static
// credentials from the URL (access_key, secret), defaults the region to
// us-east-1, and asks for checksums only when required when the endpoint is
// not AWS's. Everything else is gocloud's: see s3blob.URLOpener and
// gocloud.dev/aws.V2ConfigFromURLParams for region, endpoint, profile,
// use_path_style, disable_https, ssetype, kmskeyid, accelerate and the rest.
// Errors may repeat the URL; Open redacts them.
type s3Opener struct{}

// OpenBucketURL implements blob.BucketURLOpener.
func (s3Opener) OpenBucketURL(ctx context.Context, u *url.URL) (*blob.Bucket, error) {
	q := u.Query()
	accessKey, secret := q.Get(shared.S3ParamAccessKey), q.Get(shared.S3ParamSecret)
	q.Del(shared.S3ParamAccessKey)
	q.Del(shared.S3ParamSecret)
	if (accessKey == "") != (secret == "") {
		return nil, errors.New("access_key and secret must be given together")
	}
	if accessKey != "" {
		for _, p := range []string{"anonymous", "profile", "role"} {
			if q.Has(p) {
				return nil, fmt.Errorf("%s cannot be combined with access_key and secret", p)
			}
		}
	}

	var opts s3blob.Options
	clientOpts := []func(*s3.Options){func(o *s3.Options) {
		// Else the SDK writes a warning to stderr, outside the plugin's
		// logger, for every read without a full-object checksum (ranges,
		// objects stored without one).
		o.DisableLogOutputChecksumValidationSkipped = true
	}}
	if v := q.Get("ssetype"); v != "" {
		t, err := sseType(v)
		if err != nil {
			return nil, err
		}
		opts.EncryptionType = t
	}
	opts.KMSEncryptionID = q.Get("kmskeyid")
	for _, p := range []struct {
		names []string
		set   func(o *s3.Options, v bool)
	}{
		{[]string{"accelerate"}, func(o *s3.Options, v bool) { o.UseAccelerate = v }},
		{[]string{"use_path_style", "s3ForcePathStyle"}, func(o *s3.Options, v bool) { o.UsePathStyle = v }},
		{[]string{"disable_https"}, func(o *s3.Options, v bool) { o.EndpointOptions.DisableHTTPS = v }},
	} {
		for _, name := range p.names {
			if !q.Has(name) {
				continue
			}
			v, err := strconv.ParseBool(q.Get(name))
			if err != nil {
				return nil, fmt.Errorf("invalid value for %q: want true or false", name)
			}
			set := p.set
			clientOpts = append(clientOpts, func(o *s3.Options) { set(o, v) })
		}
	}
	for _, p := range []string{"ssetype", "kmskeyid", "accelerate", "use_path_style", "s3ForcePathStyle", "disable_https"} {
		q.Del(p)
	}

	// S3-compatible stores (Backblaze, R2, older MinIO, gofakes3…) reject
	// the checksums the SDK sends by default; ask for them only when an
	// operation requires them, unless the URL says otherwise.
	if ep := q.Get("endpoint"); ep != "" && !isAWSEndpoint(ep) {
		for _, p := range []string{"request_checksum_calculation", "response_checksum_validation"} {
			if !q.Has(p) {
				q.Set(p, "when_required")
			}
		}
	}

	cfg, err := gcaws.V2ConfigFromURLParams(ctx, q)
	if err != nil {
		return nil, err
	}
	if accessKey != "" {
		cfg.Credentials = aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(accessKey, secret, ""))
	}
	if cfg.Region == "" {
		// The SDK cannot sign without one; most S3-compatible stores
		// accept any, and AWS redirects us-east-1 requests for buckets
		// elsewhere.
		cfg.Region = "us-east-1"
	}
	client := s3.NewFromConfig(cfg, clientOpts...)
	// The transfer manager does not take this from the client.
	opts.RequestChecksumCalculation = cfg.RequestChecksumCalculation
	return s3blob.OpenBucket(ctx, client, u.Host, &opts)
}

// sseType parses the ssetype parameter as s3blob does.
func sseType(v string) (types.ServerSideEncryption, error) {
	for _, t := range types.ServerSideEncryptionAes256.Values() {
		if strings.EqualFold(string(t), v) {
			return t, nil
		}
	}
	return "", errors.New(`invalid value for "ssetype"`)
}

// isAWSEndpoint reports whether endpoint is one of AWS's own.
func isAWSEndpoint(endpoint string) bool {
	u, err := url.Parse(endpoint)
	if err != nil {
		return false
	}
	host := strings.ToLower(u.Hostname())
	for _, suffix := range []string{".amazonaws.com", ".amazonaws.com.cn"} {
		if strings.HasSuffix(host, suffix) {
			return true
		}
	}
	return false
}

// s3BeforeWrite returns a blob.WriterOptions.BeforeWrite for a bucket over
// client. gocloud builds each upload's transfer manager with a zero
// FailTimeout, so after a cancelled upload its AbortMultipartUpload goes out
// on the cancelled context, fails, and leaves the parts stored (and billed)
// on the server. This replaces that transfer manager, before it is used,
// with one that has the same settings and a FailTimeout.
func s3BeforeWrite(client *s3.Client) func(as func(any) bool) error {
	checksum := client.Options().RequestChecksumCalculation
	return func(as func(any) bool) error {
		var tm *transfermanager.Client
		if !as(&tm) || tm == nil {
			return nil
		}
		*tm = *transfermanager.New(client, func(o *transfermanager.Options) {
			o.RequestChecksumCalculation = checksum
			o.PartSizeBytes = s3PartSize
			o.Concurrency = s3Concurrency
			o.FailTimeout = s3AbortTimeout
		})
		return nil
	}
}
