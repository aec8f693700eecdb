package host

import (
	"strings"

	"github.com/pocketbackup/pocketbackup/host/retention"
	"github.com/pocketbackup/pocketbackup/shared"
)

// rotationPlan splits the scheduled backups among infos into those the
// rule of s keeps and those a rotation deletes, newest first. The rule is
// s.Retention when it turns any rule on, else PocketBase's cronMaxKeep
// (the newest N; 0 keeps all). Only @auto_pb_backup_ files take part, and
// pinned ones are kept outside any rule (they use no slot).
//
// Backups are ordered by when the storage stored each one, as PocketBase
// does: never by the name, which anyone who may upload can choose (an
// upload named @auto_pb_backup_99999999999999.zip would otherwise keep
// its slot for ever). Equal times order by key.
func rotationPlan(s BackupsSettings, infos []shared.BackupInfo) (keep, forget []shared.BackupInfo) {
	return prefixPlan(autoBackupPrefix, s, infos)
}

// prefixPlan is rotationPlan over the backups whose keys start with prefix.
func prefixPlan(prefix string, s BackupsSettings, infos []shared.BackupInfo) (keep, forget []shared.BackupInfo) {
	byKey := map[string]shared.BackupInfo{}
	var candidates []retention.Backup
	var pinned []shared.BackupInfo
	for _, info := range infos {
		if !strings.HasPrefix(info.Key, prefix) {
			continue
		}
		if info.Pinned {
			pinned = append(pinned, info)
			continue
		}
		byKey[info.Key] = info
		candidates = append(candidates, retention.Backup{Key: info.Key, Time: info.Modified})
	}
	var k, f []retention.Backup
	if s.Retention != nil && !s.Retention.Empty() {
		k, f = retention.Apply(*s.Retention, candidates)
	} else {
		k, f = retention.KeepNewest(s.CronMaxKeep, candidates)
	}
	for _, b := range k {
		keep = append(keep, byKey[b.Key])
	}
	for _, b := range f {
		forget = append(forget, byKey[b.Key])
	}
	return append(keep, pinned...), forget
}
