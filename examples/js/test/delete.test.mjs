// "Delete Backup": the basic delete, deleteBackupWithConfirmation's
// branches (declined, deleted, 404 not found, 400 in use by a running
// create) and deleteOldBackups, which must remove only the backup older
// than 30 days. Host A keeps backups in <PB_DATA_DIR>/backups, so the
// scenario ages one by setting its modification time.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { guide } from '../lib/guide.mjs';
import {
  sdks, login, hostA, hostB, ageBackup, apiError, createAndWait, deleteQuietly, keys, msgInUse,
  recordConsole, startLongCreate, uniqueName, waitIdle,
} from '../lib/helpers.mjs';

for (const { name, Client } of sdks) {
  describe(`deleting backups with the ${name} SDK`, () => {
    it('deletes a backup; a second delete is 404 (Basic Usage)', async () => {
      const pb = await login(Client);
      const key = uniqueName(`${name}_delete_me`);
      await createAndWait(pb, key);
      assert.equal(await pb.backups.delete(key), true);
      assert.ok(!(await keys(pb)).includes(key));
      await assert.rejects(pb.backups.delete(key), apiError(404, { message: "The requested resource wasn't found." }));
    });

    it('deleteBackupWithConfirmation: declined, deleted, not found', async (t) => {
      const pb = await login(Client);
      const key = uniqueName(`${name}_confirm`);
      try {
        await createAndWait(pb, key);
        const out = recordConsole(t);
        const { deleteBackupWithConfirmation } = guide(pb);
        const asked = [];
        await deleteBackupWithConfirmation(key, (message) => { asked.push(message); return false; });
        assert.deepEqual(asked, [`Are you sure you want to delete ${key}?`]);
        assert.ok((await keys(pb)).includes(key), 'declined: kept');
        assert.equal(out.toString(), '');

        await deleteBackupWithConfirmation(key, () => true);
        assert.ok(!(await keys(pb)).includes(key), 'confirmed: deleted');
        await deleteBackupWithConfirmation(key, () => true);
        assert.equal(out.toString(), 'log: Backup deleted successfully\nerror: Backup not found');
      } finally {
        await deleteQuietly(pb, key);
      }
    });

    it('deleteBackupWithConfirmation: 400 while a create uses the backup', async (t) => {
      const pb = await login(Client, hostB);
      const key = uniqueName(`${name}_in_use`);
      try {
        await startLongCreate(pb, key);
        const out = recordConsole(t);
        await guide(pb).deleteBackupWithConfirmation(key, () => true);
        await assert.rejects(pb.backups.delete(key), apiError(400, { message: msgInUse }));
        assert.equal(out.toString(), 'error: Backup is currently in use and cannot be deleted');
        const outcome = await waitIdle(pb);
        assert.deepEqual([outcome.key, outcome.ok], [key, true], 'the create was not disturbed');
        assert.ok((await keys(pb)).includes(key));
      } finally {
        await waitIdle(pb);
        await deleteQuietly(pb, key);
      }
    });

    it('deleteOldBackups removes only the backup older than 30 days', async (t) => {
      const pb = await login(Client);
      const old = uniqueName(`${name}_old`);
      const recent = uniqueName(`${name}_recent`);
      const borderline = uniqueName(`${name}_29_days`);
      try {
        await createAndWait(pb, old);
        await createAndWait(pb, recent);
        await createAndWait(pb, borderline);
        ageBackup(hostA, old, 31);
        ageBackup(hostA, borderline, 29);
        const listed = (await pb.backups.getFullList()).find((b) => b.key === old);
        const age = (Date.now() - new Date(listed.modified).getTime()) / 86400000;
        assert.ok(age > 30.9 && age < 31.1, `the listed date follows the file: ${listed.modified}`);

        const out = recordConsole(t);
        await guide(pb).deleteOldBackups();
        assert.equal(out.toString(), `log: Deleted old backup: ${old}`);
        const left = await keys(pb);
        assert.ok(!left.includes(old), 'old: deleted');
        assert.ok(left.includes(recent) && left.includes(borderline), 'the others: kept');
      } finally {
        await deleteQuietly(pb, old, recent, borderline);
      }
    });
  });
}
