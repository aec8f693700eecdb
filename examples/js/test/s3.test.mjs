// Backups on S3: pb.settings.update() turns the S3 storage on (an
// S3-protocol server the Go harness runs on loopback), testS3('backups')
// probes it, and then create, list, download and restore work on the
// bucket, without a restart; turning S3 off brings the local backups back.
//
// Settings live in data.db, so a restore brings back the settings of the
// backup's time. Asserted here:
//   - restoring an S3 backup made with S3 on keeps S3 on (with its secret:
//     testS3 still passes), but any later change is gone: a schedule set
//     after the backup is not there any more, nor its cron job;
//   - the S3 secret travels inside every backup, in plain text in data.db;
//   - restoring, from S3, a backup made while S3 was off (uploaded to the
//     bucket) turns S3 off: once the host is back it lists the local
//     backups, and the backup just restored is no longer listed (it is
//     still in the bucket).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import {
  sdks, login, backupFile, createAndWait, deleteQuietly, download, hostA, keys, resetSettings,
  s3Object, s3ObjectKeys, s3Server, s3Settings, sha256, uniqueName, waitForRestore, zipEntries, zipEntry,
  encrypted, plainStored,
} from '../lib/helpers.mjs';

for (const { name, Client } of sdks) {
  describe(`backups on S3 with the ${name} SDK`, () => {
    let pb;
    const localKey = uniqueName(`${name}_s3_local`);
    const secret = `${name}/s3-Secret+${Date.now()}`;
    const onS3 = s3Settings({ secret });

    before(async () => {
      pb = await login(Client);
      await resetSettings(pb);
      await createAndWait(pb, localKey); // on local storage, S3 off
    });
    after(async () => {
      pb = await login(Client); // restores may have replaced the token keys
      await resetSettings(pb);
      await deleteQuietly(pb, localKey);
    });

    // cleanUpS3 deletes backups from the bucket and goes back to local storage.
    async function cleanUpS3(...names) {
      await pb.settings.update(onS3);
      await deleteQuietly(pb, ...names);
      await resetSettings(pb);
    }

    it('switches to S3; create, list, download and restore use the bucket; then back to local', async () => {
      const { bucket, endpoint } = s3Server();
      const updated = await pb.settings.update(onS3);
      assert.deepEqual(updated.backups.s3, { ...onS3.backups.s3, secret: '' });
      assert.equal(await pb.settings.testS3('backups'), true);
      assert.deepEqual((await s3ObjectKeys()).filter((k) => k.includes('probe')), [], 'the probe object is deleted');

      const listedOnS3 = await keys(pb);
      assert.ok(!listedOnS3.includes(localKey), 'local backups are not listed while S3 is on');

      const note = await pb.collection('notes').create({ title: `on s3 (${name}) ${Date.now()}`, body: 'Backed up to S3.' });
      const key = uniqueName(`${name}_on_s3`);
      let restored = false;
      try {
        const listed = await createAndWait(pb, key);
        assert.ok(listed, `${key} is listed`);
        assert.ok((await s3ObjectKeys()).includes(key), `${key} is in bucket ${bucket} at ${endpoint}`);
        assert.equal(existsSync(backupFile(hostA, key)), false, 'nothing was written to the local backups folder');
        assert.ok(!(await keys(pb)).includes(localKey));

        const body = await download(pb, key);
        assert.equal(body.length, listed.size, 'the download is as long as the list says');
        const inBucket = plainStored(await s3Object(key));
        assert.equal(sha256(body), sha256(inBucket), 'the download is the object in the bucket');
        assert.ok(zipEntries(body).includes('data.db'), `zip entries: ${zipEntries(body).join(', ')}`);
        if (encrypted) {
          assert.ok(!zipEntry(body, 'data.db').includes(Buffer.from(secret)),
            'with encryption at rest the S3 secret is sealed in data.db');
        } else {
          assert.ok(zipEntry(body, 'data.db').includes(Buffer.from(secret)),
            'the S3 secret is in the backup, in plain text in data.db');
        }

        // After the backup: the note goes, a schedule comes.
        await pb.collection('notes').delete(note.id);
        await pb.settings.update({ backups: { cron: '0 4 * * *' } });
        assert.equal((await pb.crons.getFullList()).length, 1);

        assert.equal(await pb.backups.restore(key), true);
        restored = true;
        const { pb: again, outcome } = await waitForRestore(Client, key);
        pb = again;
        assert.equal(outcome.ok, true, `restore outcome: ${JSON.stringify(outcome)}`);
        const back = await pb.collection('notes').getOne(note.id);
        assert.equal(back.title, note.title);
        await pb.collection('notes').delete(note.id);

        // The settings of the backup's time: S3 still on (with its secret),
        // the later schedule gone.
        const settings = await pb.settings.getAll();
        assert.deepEqual(settings.backups.s3, { ...onS3.backups.s3, secret: '' });
        assert.equal(settings.backups.cron, '', 'the schedule set after the backup is gone');
        assert.deepEqual(await pb.crons.getFullList(), []);
        assert.equal(await pb.settings.testS3('backups'), true, 'the restored settings hold the secret');
        assert.ok((await keys(pb)).includes(key), 'the restored host lists the bucket');

        await pb.backups.delete(key);
        assert.ok(!(await keys(pb)).includes(key));
        assert.ok(!(await s3ObjectKeys()).includes(key), `${key} is deleted from the bucket`);

        // Back to local, without a restart.
        const local = await pb.settings.update({ backups: { s3: { enabled: false } } });
        assert.equal(local.backups.s3.enabled, false);
        const listedLocal = await keys(pb);
        assert.ok(listedLocal.includes(localKey), 'the local backups are listed again');
        assert.ok(!listedLocal.includes(key));
      } finally {
        if (!restored) await pb.collection('notes').delete(note.id).catch(() => {});
        await cleanUpS3(key);
      }
    });

    it('restoring from S3 a backup made while S3 was off turns S3 off', async () => {
      const bytes = await download(pb, localKey); // made in before(), S3 off
      const upKey = uniqueName(`${name}_s3_uploaded`);
      try {
        await pb.settings.update(onS3);
        await pb.backups.upload({ file: new File([bytes], upKey, { type: 'application/zip' }) });
        assert.deepEqual(await keys(pb), [upKey], 'the bucket lists only the upload');
        assert.equal(sha256(plainStored(await s3Object(upKey))), sha256(bytes));

        assert.equal(await pb.backups.restore(upKey), true);
        const { pb: again, outcome } = await waitForRestore(Client, upKey);
        pb = again;
        assert.equal(outcome.ok, true, `restore outcome: ${JSON.stringify(outcome)}`);

        // The restored data.db says S3 off: the host is on local storage again.
        const settings = await pb.settings.getAll();
        assert.equal(settings.backups.s3.enabled, false, 'the restored settings turned S3 off');
        const listed = await keys(pb);
        assert.ok(listed.includes(localKey), 'the local backups are listed');
        assert.ok(!listed.includes(upKey), 'the backup just restored is not listed: it is on S3');
        assert.ok((await s3ObjectKeys()).includes(upKey), 'it is still in the bucket');
      } finally {
        await cleanUpS3(upKey);
      }
    });
  });
}
