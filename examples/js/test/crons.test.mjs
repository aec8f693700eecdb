// Scheduled backups: a cron in the settings adds the __pbAutoBackup__ job
// (pb.crons.getFullList()), pb.crons.run() starts it now, each run makes an
// @auto_pb_backup_<UTC time>.zip and keeps only the newest cronMaxKeep of
// them, never touching other backups. Keys that start with "@" work for
// download, delete and restore (the SDKs send them as %40). Clearing the
// cron removes the job.
//
// Both SDKs name the service pb.crons with getFullList() (GET /api/crons)
// and run(id) (POST /api/crons/{id}, resolves true on 204).
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  sdks, login, apiError, autoBackupJob, autoPrefix, createAndWait, deleteQuietly, download, keys,
  resetSettings, runAutoBackup, uniqueName, waitForRestore, zipEntries,
} from '../lib/helpers.mjs';

const autoName = /^@auto_pb_backup_\d{14}\.zip$/;

async function autoKeys(pb) {
  return (await keys(pb)).filter((k) => k.startsWith(autoPrefix)).sort();
}

// assertDailyAt3 checks the list holds only the job at 03:00 UTC. Beyond
// PocketBase, a job also tells its next run (UTC), additively.
function assertDailyAt3(jobs) {
  assert.deepEqual(jobs.map(({ id, expression }) => ({ id, expression })), [{ id: autoBackupJob, expression: '0 3 * * *' }]);
  const next = new Date(jobs[0].next.replace(' ', 'T'));
  assert.ok(next > new Date() && next.getUTCHours() === 3 && next.getUTCMinutes() === 0, `next run ${jobs[0].next}`);
}

for (const { name, Client } of sdks) {
  describe(`scheduled backups with the ${name} SDK`, () => {
    let pb;
    const manual = uniqueName(`${name}_manual`);
    after(async () => {
      pb = await login(Client);
      await resetSettings(pb);
      await deleteQuietly(pb, manual, ...(await autoKeys(pb)));
    });

    it('runs __pbAutoBackup__, rotates to cronMaxKeep, and the @ keys work everywhere', async () => {
      pb = await login(Client);
      await resetSettings(pb);
      await deleteQuietly(pb, ...(await autoKeys(pb)));
      assert.deepEqual(await pb.crons.getFullList(), [], 'no job without a cron');

      const updated = await pb.settings.update({ backups: { cron: '0 3 * * *', cronMaxKeep: 2 } });
      assert.equal(updated.backups.cron, '0 3 * * *');
      assert.equal(updated.backups.cronMaxKeep, 2);
      assertDailyAt3(await pb.crons.getFullList());

      const manualBackup = await createAndWait(pb, manual);
      const note = await pb.collection('notes').create({ title: `cron (${name}) ${Date.now()}`, body: 'In every auto backup.' });

      const runs = [];
      for (let i = 0; i < 3; i++) {
        const outcome = await runAutoBackup(pb);
        assert.equal(outcome.kind, 'create');
        assert.equal(outcome.ok, true, `run ${i + 1}: ${JSON.stringify(outcome)}`);
        assert.match(outcome.key, autoName);
        runs.push(outcome.key);
      }
      assert.equal(new Set(runs).size, 3, `three distinct names: ${runs.join(', ')}`);
      assert.deepEqual([...runs].sort(), runs, 'names grow with time');

      const remaining = await autoKeys(pb);
      assert.deepEqual(remaining, runs.slice(1), 'only the newest two are kept');
      const listed = await pb.backups.getFullList();
      assert.deepEqual(listed.find((b) => b.key === manual), manualBackup, 'the manual backup is untouched');

      // Download: the SDK encodes "@" as %40.
      const [older, newest] = remaining;
      const token = await pb.files.getToken();
      const url = pb.backups.getDownloadURL(token, newest);
      assert.ok(url.includes(`/api/backups/%40auto_pb_backup_`), url);
      const body = await download(pb, newest);
      assert.equal(body.length, listed.find((b) => b.key === newest).size);
      assert.ok(zipEntries(body).includes('data.db'));

      // Delete and restore send the key as %40… too.
      const sent = [];
      pb.beforeSend = (url, options) => {
        sent.push(`${options.method} ${new URL(url).pathname}`);
        return { url, options };
      };

      // Delete.
      assert.equal(await pb.backups.delete(older), true);
      assert.deepEqual(await autoKeys(pb), [newest]);
      await assert.rejects(pb.backups.delete(older), apiError(404));

      // Restore: the note deleted after the backup comes back; the backup
      // was made with this schedule, so the job is there after the restart.
      await pb.collection('notes').delete(note.id);
      assert.equal(await pb.backups.restore(newest), true);
      assert.deepEqual(sent.filter((r) => r.includes('/api/backups/')), [
        `DELETE /api/backups/${encodeURIComponent(older)}`,
        `DELETE /api/backups/${encodeURIComponent(older)}`,
        `POST /api/backups/${encodeURIComponent(newest)}/restore`,
      ]);
      assert.ok(sent.at(-1).includes('/%40auto_pb_backup_'), sent.at(-1));
      const { pb: again, outcome } = await waitForRestore(Client, newest);
      pb = again;
      assert.equal(outcome.ok, true, `restore outcome: ${JSON.stringify(outcome)}`);
      assert.equal((await pb.collection('notes').getOne(note.id)).title, note.title);
      await pb.collection('notes').delete(note.id);
      assertDailyAt3(await pb.crons.getFullList());
      assert.equal((await pb.settings.getAll()).backups.cronMaxKeep, 2);

      // Clearing the cron removes the job.
      await pb.settings.update({ backups: { cron: '' } });
      assert.deepEqual(await pb.crons.getFullList(), []);
      await assert.rejects(pb.crons.run(autoBackupJob), apiError(404));
      assert.deepEqual(await autoKeys(pb), [newest], 'no run after the job is gone');
    });

    it('run: an unknown job is 404', async () => {
      pb = await login(Client);
      await assert.rejects(pb.crons.run('no_such_job'), apiError(404, { message: "The requested resource wasn't found." }));
    });
  });
}
