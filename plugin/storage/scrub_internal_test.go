package storage

import (
	"errors"
	"net/url"
	"testing"

	"github.com/pocketbackup/pocketbackup/shared"
)

// TestScrubURLMarksWhatItRemoved: a URL found in a driver's message is
// replaced whole by the shared marker, longest spelling first, so the reader
// sees where something was taken out.
func TestScrubURLMarksWhatItRemoved(t *testing.T) {
	raw := "s3://AKIDEXAMPLE:hunter2secret@bucket/?token=tokensecret"
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	got := scrubURL("dial "+raw+": refused (token tokensecret)", raw, u)
	want := "dial [" + shared.Redacted + "]: refused (token [" + shared.Redacted + "])"
	if got != want {
		t.Errorf("scrubURL = %q, want %q", got, want)
	}
}

// TestScrubKeepsKinds: an error whose text held a secret is replaced by one
// with the marker in its place that still answers errors.Is for its kind.
func TestScrubKeepsKinds(t *testing.T) {
	err := scrub(errors.Join(errors.New("get hunter2secret"), shared.ErrNotFound), []string{"hunter2secret"})
	if !errors.Is(err, shared.ErrNotFound) {
		t.Errorf("scrub lost the kind: %v", err)
	}
	if want := "get [" + shared.Redacted + "]\n" + shared.ErrNotFound.Error(); err.Error() != want {
		t.Errorf("scrub = %q, want %q", err, want)
	}
}
