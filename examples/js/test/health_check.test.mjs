// "Example 4: Backup Health Check": no backups at all, none in the last 7
// days, and a recent one, with the total and the largest reported. The
// check looks at every backup of the host, so the scenario empties host A
// first.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { guide } from '../lib/guide.mjs';
import {
  sdks, login, hostA, ageBackup, createAndWait, deleteAll, deleteQuietly, recordConsole, uniqueName,
} from '../lib/helpers.mjs';

const MiB = 1024 * 1024;

for (const { name, Client } of sdks) {
  describe(`checkBackupHealth with the ${name} SDK`, () => {
    it('warns without backups, without recent ones, and reports the storage', async (t) => {
      const pb = await login(Client);
      const { checkBackupHealth } = guide(pb);
      const old = uniqueName(`${name}_ten_days_old`);
      const recent = uniqueName(`${name}_recent`);
      try {
        await deleteAll(pb);
        const out = recordConsole(t);
        assert.equal(await checkBackupHealth(), false);
        assert.equal(out.toString(), 'warn: ⚠️ No backups found!');

        const oldInfo = await createAndWait(pb, old);
        ageBackup(hostA, old, 10);
        out.length = 0;
        assert.equal(await checkBackupHealth(), true);
        const mb = (n) => (n / MiB).toFixed(2);
        assert.equal(out.toString(), [
          'warn: ⚠️ No backups found in the last 7 days',
          `log: Total backup storage: ${mb(oldInfo.size)} MB`,
          `log: Largest backup: ${old} (${mb(oldInfo.size)} MB)`,
        ].join('\n'));

        const recentInfo = await createAndWait(pb, recent);
        out.length = 0;
        assert.equal(await checkBackupHealth(), true);
        // On equal sizes the guide keeps the first listed: the newest.
        const largest = recentInfo.size >= oldInfo.size ? recentInfo : oldInfo;
        assert.equal(out.toString(), [
          'log: ✓ Found 1 recent backup(s)',
          `log: Total backup storage: ${mb(oldInfo.size + recentInfo.size)} MB`,
          `log: Largest backup: ${largest.key} (${mb(largest.size)} MB)`,
        ].join('\n'));
      } finally {
        await deleteQuietly(pb, old, recent);
      }
    });
  });
}
