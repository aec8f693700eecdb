// "Example 1: Backup Manager Class": list (newest first), create (named;
// unnamed builds the same upper-case "T" name as createTimestampedBackup
// and is refused), download (a file-token URL), delete, cleanup (backups
// older than daysOld). BackupManager.restore is in restore.test.mjs.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { BackupManager } from '../lib/guide.mjs';
import {
  sdks, login, hostA, ageBackup, apiError, backupFile, plainStored, deleteQuietly, keys, msgValidation,
  recordConsole, sha256, uniqueName, waitIdle,
} from '../lib/helpers.mjs';

for (const { name, Client } of sdks) {
  describe(`BackupManager with the ${name} SDK`, () => {
    it('creates, lists newest first, downloads, deletes (as in its Usage)', async () => {
      const pb = await login(Client);
      const manager = new BackupManager(pb);
      const first = uniqueName(`${name}_weekly_backup`);
      const second = uniqueName(`${name}_weekly_backup`);
      try {
        assert.equal(await manager.create(first), first);
        await waitIdle(pb);
        assert.equal(await manager.create(second), second);
        await waitIdle(pb);
        ageBackup(hostA, first, 1);

        const backups = await manager.list();
        const times = backups.map((b) => new Date(b.modified).getTime());
        assert.deepEqual(times, [...times].sort((a, b) => b - a), 'newest first');
        assert.deepEqual(backups.map((b) => b.key).filter((k) => k === first || k === second), [second, first]);

        const url = await manager.download(second);
        assert.ok(url.startsWith(`${hostA.url}/api/backups/${second}?token=`), url);
        const body = Buffer.from(await (await fetch(url)).arrayBuffer());
        assert.equal(sha256(body), sha256(plainStored(await readFile(backupFile(hostA, second)))));

        await manager.delete(first);
        await manager.delete(second);
        const left = await keys(pb);
        assert.ok(!left.includes(first) && !left.includes(second));
        await assert.rejects(manager.delete(first), apiError(404));
      } finally {
        await deleteQuietly(pb, first, second);
      }
    });

    it('create() without a name is refused: the generated name has an upper-case "T"', async () => {
      const pb = await login(Client);
      const before = await keys(pb);
      await assert.rejects(new BackupManager(pb).create(), apiError(400, {
        message: msgValidation, field: 'name', code: 'validation_match_invalid',
      }));
      assert.deepEqual(await keys(pb), before);
    });

    it('cleanup(30) deletes the backups older than 30 days and counts them', async (t) => {
      const pb = await login(Client);
      const manager = new BackupManager(pb);
      const old = uniqueName(`${name}_old`);
      const recent = uniqueName(`${name}_recent`);
      try {
        await manager.create(old);
        await waitIdle(pb);
        await manager.create(recent);
        await waitIdle(pb);
        ageBackup(hostA, old, 45);
        const out = recordConsole(t);
        assert.equal(await manager.cleanup(), 1);
        assert.equal(out.toString(), `log: Deleted: ${old}`);
        const left = await keys(pb);
        assert.ok(!left.includes(old) && left.includes(recent));
        assert.equal(await manager.cleanup(), 0);
      } finally {
        await deleteQuietly(pb, old, recent);
      }
    });
  });
}
