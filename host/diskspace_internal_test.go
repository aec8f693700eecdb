package host

import (
	"strings"
	"testing"

	"github.com/pocketbackup/pocketbackup/host/metrics"
)

func TestSpaceWarningFor(t *testing.T) {
	const size = 1000
	for _, tc := range []struct {
		name string
		free map[string]uint64
		want []string // fragments; none means no warning
	}{
		{"room for both", map[string]uint64{metrics.VolumeData: 2000, metrics.VolumeBackups: 1000}, nil},
		{"remote storage, room to restore", map[string]uint64{metrics.VolumeData: 2000}, nil},
		{"backups folder too small", map[string]uint64{metrics.VolumeData: 5000, metrics.VolumeBackups: 999},
			[]string{"next backup may not fit", "1000 bytes needed, 999 free"}},
		{"data dir too small to restore", map[string]uint64{metrics.VolumeData: 1999},
			[]string{"restoring the newest backup may not fit", "2000 bytes needed, 1999 free"}},
		{"both", map[string]uint64{metrics.VolumeData: 10, metrics.VolumeBackups: 10},
			[]string{"next backup may not fit", "restoring the newest backup"}},
		{"free space unknown", map[string]uint64{}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := spaceWarningFor(size, tc.free)
			if len(tc.want) == 0 {
				if got != "" {
					t.Fatalf("warning %q, want none", got)
				}
				return
			}
			if !strings.HasPrefix(got, "Low disk space: ") {
				t.Fatalf("warning %q", got)
			}
			for _, frag := range tc.want {
				if !strings.Contains(got, frag) {
					t.Errorf("warning %q lacks %q", got, frag)
				}
			}
		})
	}
}
