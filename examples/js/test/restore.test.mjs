// "Restore Backup": a note is backed up, deleted, and comes back when the
// backup is restored; the host restarts on the way, so the scenario polls
// /api/health until it answers again and reports the restore, then logs in
// again (the restored data has its own token keys). Then the guide's
// restoreBackupWithConfirmation in each branch, and BackupManager.restore.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BackupManager, guide } from '../lib/guide.mjs';
import {
  sdks, login, hostB, apiError, createAndWait, deleteQuietly, keys, msgBusy, recordConsole,
  startLongCreate, uniqueName, waitForRestore, waitIdle,
} from '../lib/helpers.mjs';

// backUpANote creates a note, backs up, deletes the note; the note is only
// in the backup then.
async function backUpANote(pb, sdk) {
  const note = await pb.collection('notes').create({
    title: `restore me (${sdk}) ${Date.now()}`,
    body: 'Written before the backup, deleted after it.',
  });
  const key = uniqueName(`${sdk}_before_restore`);
  await createAndWait(pb, key);
  await pb.collection('notes').delete(note.id);
  await assert.rejects(pb.collection('notes').getOne(note.id), apiError(404));
  return { note, key };
}

// assertNoteBack checks the restored app has the note again.
async function assertNoteBack(pb, note) {
  const back = await pb.collection('notes').getOne(note.id);
  assert.equal(back.title, note.title);
  assert.equal(back.body, note.body);
}

for (const { name, Client } of sdks) {
  describe(`restoring backups with the ${name} SDK`, () => {
    it('restores a backup; the app comes back with the restored data (Basic Usage)', async () => {
      const pb = await login(Client);
      const { note, key } = await backUpANote(pb, name);
      let after;
      try {
        assert.equal(await pb.backups.restore(key), true);
        const { pb: again, outcome } = await waitForRestore(Client, key);
        after = again;
        assert.equal(outcome.ok, true, `restore outcome: ${JSON.stringify(outcome)}`);
        await assertNoteBack(after, note);
        assert.ok((await keys(after)).includes(key), 'the backups survive a restore');
        await after.collection('notes').delete(note.id);
      } finally {
        await deleteQuietly(after ?? (await login(Client)), key);
      }
    });

    it('restoreBackupWithConfirmation: declined, missing file, busy', async (t) => {
      const pb = await login(Client);
      const out = recordConsole(t);
      const missing = uniqueName(`${name}_missing`);
      const asked = [];
      await guide(pb).restoreBackupWithConfirmation(missing, (message) => { asked.push(message); return false; });
      assert.equal(asked.length, 1);
      assert.match(asked[0], new RegExp(`^⚠️ WARNING: This will replace all current data with data from ${missing} and restart`));
      assert.equal(out.toString(), '', 'declined: nothing sent');

      await guide(pb).restoreBackupWithConfirmation(missing, () => true);
      assert.equal(out.toString(), 'error: Invalid or missing backup file');
      await assert.rejects(pb.backups.restore(missing), apiError(400, { message: 'Missing or invalid backup file.' }));

      const pbB = await login(Client, hostB);
      const running = uniqueName(`${name}_running`);
      try {
        await startLongCreate(pbB, running);
        out.length = 0;
        await guide(pbB).restoreBackupWithConfirmation(missing, () => true);
        assert.equal(out.toString(), 'error: Another backup or restore operation is in progress');
        await assert.rejects(pbB.backups.restore(running), apiError(400, { message: msgBusy }));
      } finally {
        await waitIdle(pbB);
        await deleteQuietly(pbB, running);
      }
    });

    it('restoreBackupWithConfirmation: confirmed, reloads after 2 s, data restored', async (t) => {
      const pb = await login(Client);
      const { note, key } = await backUpANote(pb, name);
      let after;
      try {
        const out = recordConsole(t);
        let reloaded;
        const reload = new Promise((resolve) => { reloaded = resolve; });
        const started = Date.now();
        await guide(pb, { reload: reloaded }).restoreBackupWithConfirmation(key, () => true);
        assert.equal(out.toString(), 'log: Restore initiated. Application will restart...');
        await reload;
        assert.ok(Date.now() - started >= 1900, 'the page reloads after 2 s');
        const { pb: again, outcome } = await waitForRestore(Client, key);
        after = again;
        assert.equal(outcome.ok, true, `restore outcome: ${JSON.stringify(outcome)}`);
        await assertNoteBack(after, note);
        await after.collection('notes').delete(note.id);
      } finally {
        await deleteQuietly(after ?? (await login(Client)), key);
      }
    });

    it('BackupManager.restore: declined by confirm, and a missing backup throws', async () => {
      const pb = await login(Client);
      const manager = new BackupManager(pb);
      const missing = uniqueName(`${name}_missing`);
      const asked = [];
      assert.equal(await manager.restore(missing, 'Restore it?', (m) => { asked.push(m); return false; }), false);
      assert.deepEqual(asked, ['Restore it?']);
      await assert.rejects(manager.restore(missing), apiError(400, { message: 'Missing or invalid backup file.' }));
      // Without a confirm function (no browser) a confirmMessage cannot be asked.
      await assert.rejects(manager.restore(missing, 'Restore it?', undefined), TypeError);
    });
  });
}
