package host

import (
	"fmt"
	"testing"

	"github.com/pocketbackup/pocketbackup/host/internal/sqlitesnap"
	"github.com/pocketbackup/pocketbackup/shared"
)

// TestPublicErrorNamesStorageFailures: a background operation that failed
// because of the storage itself says so in lastOperation, and a missing
// bucket is not reported as a missing backup.
func TestPublicErrorNamesStorageFailures(t *testing.T) {
	for _, c := range []struct {
		kind error
		want string
	}{
		{shared.ErrNoBucket, "Failed to create backup: the storage bucket or container does not exist."},
		{shared.ErrAccessDenied, "Failed to create backup: the storage refused access; check its credentials."},
		{shared.ErrStorageUnreachable, "Failed to create backup: the storage could not be reached or did not answer in time."},
		{shared.ErrNotFound, "Failed to create backup: the backup file was not found."},
	} {
		// As the host sees it: through the gRPC edge.
		err := shared.FromStatus(shared.ToStatus(fmt.Errorf("create: %w", c.kind)))
		if got := publicError("Failed to create backup", err); got != c.want {
			t.Errorf("%v: %q, want %q", c.kind, got, c.want)
		}
	}
}

// TestPublicErrorNamesCheckerLimit: a database checker stopped by its
// bounds is reported as such, not as a broken backup.
func TestPublicErrorNamesCheckerLimit(t *testing.T) {
	err := fmt.Errorf("verify staged databases: %w: no verdict within 2s, killed (pid 1)", sqlitesnap.ErrCheckerLimit)
	const want = "Failed to restore backup: checking the restored databases went over its time or memory limit; the data was not changed."
	if got := publicError("Failed to restore backup", err); got != want {
		t.Fatalf("%q, want %q", got, want)
	}
}
