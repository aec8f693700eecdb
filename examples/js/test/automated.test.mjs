// "Example 2: Automated Backup Strategy": the daily, weekly and monthly
// names, the create, and the cleanup that keeps the newest 7.
//
// Findings asserted here:
//   - weekly names are `weekly_2026_W4.zip`: the upper-case "W" breaks the
//     name rule, the create is refused (400 validation_match_invalid) and
//     createScheduledBackup only logs "Backup creation failed:", so the
//     weekly strategy never makes a backup. Lower-cased, the name works.
//   - cleanupOldBackups counts every backup of the host (manual ones,
//     uploads, other strategies'), not only its own: it deletes whatever is
//     beyond the newest 7.
//   - It runs right after the create answers. Our create answers 204 and
//     builds in the background (CONTRACT "seed"), so the new backup is not
//     listed yet: the newest 7 older ones are kept, plus the new one, 8 in
//     all. (PocketBase answers the create when done and keeps 7.)
//   - A second run on the same day (daily) or month (monthly) fails on the
//     taken name and is only logged; the cleanup is skipped then.
//
// The daily and monthly runs are on host B, where a create takes about half
// a second, so "not listed yet" is certain; the scenario empties host B first
// because the guide's cleanup looks at all of its backups.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AutomatedBackup } from '../lib/guide.mjs';
import {
  sdks, login, hostB, ageBackup, createAndWait, deleteAll, deleteQuietly, keys, msgValidation,
  recordConsole, storedZip, uniqueName, waitIdle,
} from '../lib/helpers.mjs';

const nameRule = /^[a-z0-9_-]+\.zip$/;

for (const { name, Client } of sdks) {
  describe(`AutomatedBackup with the ${name} SDK`, () => {
    it('names backups per strategy; the weekly name breaks the name rule', () => {
      const today = new Date().toISOString().split('T')[0];
      const daily = new AutomatedBackup(null, 'daily').generateBackupName();
      const weekly = new AutomatedBackup(null, 'weekly').generateBackupName();
      const monthly = new AutomatedBackup(null, 'monthly').generateBackupName();
      assert.equal(daily, `daily_${today}.zip`);
      assert.match(daily, nameRule);
      assert.match(monthly, /^monthly_\d{4}_\d\d\.zip$/);
      assert.match(monthly, nameRule);
      assert.match(weekly, /^weekly_\d{4}_W[1-5]\.zip$/);
      assert.doesNotMatch(weekly, nameRule);
    });

    it('daily, then monthly: creates and keeps the newest 7 of all backups, plus the new one', async (t) => {
      const pb = await login(Client, hostB);
      await deleteAll(pb);
      const old = Array.from({ length: 8 }, (_, i) => uniqueName(`${name}_older_${i}`));
      const zip = storedZip([{ name: 'data.db', data: Buffer.from('a stand-in for a backup') }]);
      const daily = new AutomatedBackup(pb, 'daily');
      const monthly = new AutomatedBackup(pb, 'monthly');
      const dailyKey = daily.generateBackupName();
      const monthlyKey = monthly.generateBackupName();
      try {
        for (const [i, key] of old.entries()) {
          await pb.backups.upload({ file: new File([zip], key, { type: 'application/zip' }) });
          ageBackup(hostB, key, (old.length - i) / 24); // old[0] is the oldest
        }

        const out = recordConsole(t);
        await daily.createScheduledBackup();
        assert.equal(out.toString(), `log: Created backup: ${dailyKey}\nlog: Cleaned up old backup: ${old[0]}`);
        assert.equal((await waitIdle(pb)).ok, true);
        assert.deepEqual((await keys(pb)).sort(), [...old.slice(1), dailyKey].sort(), 'the newest 7 older ones and the new one');

        // The same day again: the name is taken, the failure only logged.
        out.length = 0;
        await daily.createScheduledBackup();
        assert.equal(out.length, 1);
        assert.equal(out[0].args[0], 'Backup creation failed:');
        assert.equal(out[0].args[1].status, 400);
        assert.match(out[0].args[1].message, /already exists/);

        out.length = 0;
        await monthly.createScheduledBackup();
        assert.equal(out.toString(), `log: Created backup: ${monthlyKey}\nlog: Cleaned up old backup: ${old[1]}`);
        assert.equal((await waitIdle(pb)).ok, true);
        assert.deepEqual((await keys(pb)).sort(), [...old.slice(2), dailyKey, monthlyKey].sort());
      } finally {
        await waitIdle(pb);
        await deleteQuietly(pb, ...old, dailyKey, monthlyKey);
      }
    });

    it('weekly: the create is refused and only logged; lower-cased, the name works', async (t) => {
      const pb = await login(Client);
      const weekly = new AutomatedBackup(pb, 'weekly');
      const before = await keys(pb);
      const out = recordConsole(t);
      await weekly.createScheduledBackup();
      assert.equal(out.length, 1, out.toString());
      assert.equal(out[0].level, 'error');
      assert.equal(out[0].args[0], 'Backup creation failed:');
      const error = out[0].args[1];
      assert.equal(error.status, 400);
      assert.equal(error.message, msgValidation);
      assert.equal(error.response.data.name.code, 'validation_match_invalid');
      assert.deepEqual(await keys(pb), before, 'nothing created, nothing cleaned up');

      const lowered = weekly.generateBackupName().toLowerCase();
      assert.match(lowered, nameRule);
      try {
        await createAndWait(pb, lowered);
      } finally {
        await deleteQuietly(pb, lowered);
      }
    });
  });
}
