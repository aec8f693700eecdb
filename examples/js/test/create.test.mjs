// "Create Backup": a custom name, an auto-generated name, the guide's
// createNamedBackup and createTimestampedBackup.
//
// Findings asserted here (the host behaves as PocketBase does):
//   - createTimestampedBackup builds `backup_2026-01-02T03-04-05.zip`: the
//     upper-case "T" breaks the name rule [a-z0-9_-].zip the guide itself
//     states, so the create is refused (400, data.name
//     validation_match_invalid). Lower-casing the timestamp works.
//   - Basic Usage creates twice in a row. Our create answers 204 at once and
//     builds in the background (CONTRACT "seed"), so the second create meets
//     the first: 400 "another backup/restore". Waiting for /api/health's
//     canBackup between them works.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { guide } from '../lib/guide.mjs';
import {
  sdks, login, hostB, apiError, createAndWait, deleteQuietly, keys, msgBusy, msgValidation,
  recordConsole, uniqueName, waitFor, waitIdle,
} from '../lib/helpers.mjs';

const nameRule = /^[a-z0-9_-]+\.zip$/;

for (const { name, Client } of sdks) {
  describe(`creating backups with the ${name} SDK`, () => {
    it('creates with a custom name, then with an auto-generated one', async () => {
      const pb = await login(Client);
      const custom = uniqueName(`my_backup_2024_${name}`);
      let auto;
      try {
        assert.equal(await pb.backups.create(custom), true);
        assert.equal((await waitIdle(pb)).ok, true);
        assert.ok((await keys(pb)).includes(custom));

        const before = new Set(await keys(pb));
        const asked = new Date();
        assert.equal(await pb.backups.create(''), true);
        assert.equal((await waitIdle(pb)).ok, true);
        auto = (await keys(pb)).find((k) => !before.has(k));
        assert.match(auto ?? '', /^pb_backup_\d{14}\.zip$/);
        const stamp = auto.slice('pb_backup_'.length, -'.zip'.length);
        const when = Date.UTC(+stamp.slice(0, 4), +stamp.slice(4, 6) - 1, +stamp.slice(6, 8),
          +stamp.slice(8, 10), +stamp.slice(10, 12), +stamp.slice(12, 14));
        assert.ok(Math.abs(when - asked.getTime()) < 5000, `${auto} is named for the UTC time of the request`);
      } finally {
        await deleteQuietly(pb, custom, ...(auto ? [auto] : []));
      }
    });

    it('Basic Usage as written: the second create meets the first one (400 busy)', async () => {
      // On host B a create takes about half a second, so the race is certain.
      const pb = await login(Client, hostB);
      const custom = uniqueName(`my_backup_2024_${name}`);
      try {
        await assert.rejects(guide(pb).createBackupBasicUsage(custom), apiError(400, { message: msgBusy }));
        const outcome = await waitIdle(pb);
        assert.equal(outcome.key, custom);
        assert.equal(outcome.ok, true);
        // Waiting for the first create before the second one works.
        const before = new Set(await keys(pb));
        assert.equal(await pb.backups.create(''), true);
        assert.equal((await waitIdle(pb)).ok, true);
        const auto = (await keys(pb)).find((k) => !before.has(k));
        assert.match(auto ?? '', /^pb_backup_\d{14}\.zip$/);
        await pb.backups.delete(auto);
      } finally {
        await waitIdle(pb);
        await deleteQuietly(pb, custom);
      }
    });

    it('createNamedBackup reports a started create, a bad name and a taken name', async (t) => {
      const pb = await login(Client);
      const { createNamedBackup } = guide(pb);
      const out = recordConsole(t);
      const key = uniqueName(`${name}_named`);
      try {
        await createNamedBackup(key);
        assert.equal(out.toString(), `log: Backup "${key}" creation initiated`);
        await waitFor('the named backup', async () => (await keys(pb)).includes(key));
        await waitIdle(pb);

        out.length = 0;
        await createNamedBackup(key);
        await createNamedBackup('Not-Lower-Case.zip');
        await createNamedBackup(`${'x'.repeat(147)}.zip`);
        assert.equal(out.toString(), Array(3).fill('error: Invalid backup name or backup already exists').join('\n'));
        // What the single message stands for:
        await assert.rejects(pb.backups.create(key), apiError(400, {
          message: `A backup with the name "${key}" already exists.`, field: 'name', code: 'validation_backup_name_exists',
        }));
        await assert.rejects(pb.backups.create('Not-Lower-Case.zip'), apiError(400, {
          message: msgValidation, field: 'name', code: 'validation_match_invalid',
        }));
        await assert.rejects(pb.backups.create(`${'x'.repeat(147)}.zip`), apiError(400, {
          message: msgValidation, field: 'name', code: 'validation_length_out_of_range',
        }));
      } finally {
        await deleteQuietly(pb, key);
      }
    });

    it('createTimestampedBackup as written is refused: its name has an upper-case "T"', async () => {
      const pb = await login(Client);
      const before = await keys(pb);
      const timestamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
      const built = `backup_${timestamp}.zip`;
      assert.match(built, /^backup_\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d\.zip$/);
      assert.doesNotMatch(built, nameRule, 'the guide breaks its own name rule');

      await assert.rejects(guide(pb).createTimestampedBackup(), apiError(400, {
        message: msgValidation, field: 'name', code: 'validation_match_invalid',
      }));
      assert.deepEqual(await keys(pb), before, 'nothing was created');
    });

    it('the timestamped name lower-cased works', async () => {
      const pb = await login(Client);
      const timestamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19).toLowerCase();
      const key = `backup_${timestamp}.zip`;
      assert.match(key, nameRule);
      try {
        const listed = await createAndWait(pb, key);
        assert.ok(listed.size > 0);
      } finally {
        await deleteQuietly(pb, key);
      }
    });
  });
}
