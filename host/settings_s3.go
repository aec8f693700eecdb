package host

import (
	"net/netip"
	"net/url"
	"strings"

	"github.com/pocketbackup/pocketbackup/host/jsonapi"
)

// S3 bucket name limits of general purpose buckets (AWS S3 user guide,
// "General purpose bucket naming rules").
const (
	minBucketLen = 3
	maxBucketLen = 63
)

// Prefixes and suffixes S3 reserves: a bucket cannot be named with them.
var (
	reservedBucketPrefixes = []string{"xn--", "sthree-", "amzn-s3-demo-"}
	reservedBucketSuffixes = []string{"-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"}
)

// validateS3 returns the field errors of the S3 settings, keyed by field
// name, or an empty map. A filled-in bucket and endpoint are checked
// whether or not S3 is enabled: they are stored, tested with
// POST /api/settings/test/s3 and switched to later without another check.
// Enabled S3 settings must also be complete.
func validateS3(s3 S3Settings) map[string]any {
	fields := map[string]any{}
	if s3.Enabled {
		for name, v := range map[string]string{"bucket": s3.Bucket, "region": s3.Region, "endpoint": s3.Endpoint, "accessKey": s3.AccessKey, "secret": s3.Secret} {
			if strings.TrimSpace(v) == "" {
				fields[name] = jsonapi.FieldError{Code: "validation_required", Message: "Cannot be blank."}
			}
		}
	}
	if s3.Bucket != "" {
		if fe := bucketProblem(s3.Bucket); fe != nil {
			fields["bucket"] = *fe
		}
	}
	if strings.TrimSpace(s3.Endpoint) != "" {
		if fe := endpointProblem(s3.Endpoint); fe != nil {
			fields["endpoint"] = *fe
		}
	}
	return fields
}

// bucketProblem tells what is wrong with an S3 bucket name, or nil. It
// applies S3's rules for general purpose buckets: 3 to 63 characters of
// lowercase letters, digits, dots and hyphens, starting and ending with a
// letter or digit, no two adjacent dots, not shaped like an IPv4 address,
// and none of S3's reserved prefixes and suffixes. S3-compatible services
// follow the same rules or looser ones.
func bucketProblem(name string) *jsonapi.FieldError {
	if len(name) < minBucketLen || len(name) > maxBucketLen {
		return &jsonapi.FieldError{Code: "validation_length_out_of_range", Message: "The length must be between 3 and 63."}
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-') {
			return &jsonapi.FieldError{Code: "validation_match_invalid",
				Message: "Must be a valid bucket name: lowercase letters, digits, dots and hyphens only."}
		}
	}
	if !alnum(name[0]) || !alnum(name[len(name)-1]) {
		return &jsonapi.FieldError{Code: "validation_match_invalid", Message: "Must start and end with a letter or a digit."}
	}
	if strings.Contains(name, "..") {
		return &jsonapi.FieldError{Code: "validation_match_invalid", Message: "Must not contain two adjacent dots."}
	}
	if addr, err := netip.ParseAddr(name); err == nil && addr.Is4() {
		return &jsonapi.FieldError{Code: "validation_match_invalid", Message: "Must not be formatted as an IP address."}
	}
	for _, p := range reservedBucketPrefixes {
		if strings.HasPrefix(name, p) {
			return &jsonapi.FieldError{Code: "validation_match_invalid", Message: "Must not start with the reserved prefix \"" + p + "\"."}
		}
	}
	for _, s := range reservedBucketSuffixes {
		if strings.HasSuffix(name, s) {
			return &jsonapi.FieldError{Code: "validation_match_invalid", Message: "Must not end with the reserved suffix \"" + s + "\"."}
		}
	}
	return nil
}

func alnum(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }

// endpointProblem tells what is wrong with an S3 endpoint, or nil: it must
// be an http or https URL (no scheme means https, as in PocketBase) with a
// host and without user info (credentials belong in accessKey and secret,
// where they are kept out of the logs and of GET /api/settings).
func endpointProblem(endpoint string) *jsonapi.FieldError {
	s := strings.TrimSpace(endpoint)
	if !strings.Contains(s, "://") {
		s = "https://" + s
	}
	u, err := url.Parse(s)
	switch {
	case err != nil || u.Opaque != "":
		return &jsonapi.FieldError{Code: "validation_is_url", Message: "Must be a valid URL."}
	case u.Scheme != "http" && u.Scheme != "https":
		return &jsonapi.FieldError{Code: "validation_is_url", Message: "Must be an http or https URL."}
	case u.User != nil:
		return &jsonapi.FieldError{Code: "validation_is_url", Message: "Must not contain a user name or password: use the access key and secret."}
	case u.Hostname() == "":
		return &jsonapi.FieldError{Code: "validation_is_url", Message: "Must be a valid URL."}
	}
	return nil
}
