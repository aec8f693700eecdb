// "Download Backup": a file token from pb.files.getToken(), the URL from
// pb.backups.getDownloadURL(), the file saved (where the guide clicks a
// link, the scenario writes the response to a downloads folder), and
// downloadBackupAs with a custom name. Every download must equal the
// backup file in host A's storage (SHA-256).
//
// Finding asserted here: downloadBackupAs (and the Basic Usage fetch) never
// look at response.ok, so for a backup that does not exist the JSON error
// body is saved under the .zip name, silently.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { guide } from '../lib/guide.mjs';
import {
  sdks, login, hostA, backupFile, plainStored, createAndWait, deleteQuietly, recordConsole, sha256, uniqueName,
} from '../lib/helpers.mjs';

for (const { name, Client } of sdks) {
  describe(`downloading backups with the ${name} SDK`, () => {
    let pb;
    let downloadsDir;
    let expected; // SHA-256 of the backup file in storage
    const key = uniqueName(`${name}_download`);

    before(async () => {
      pb = await login(Client);
      downloadsDir = await mkdtemp(join(tmpdir(), 'pocketbackup-downloads-'));
      await createAndWait(pb, key);
      expected = sha256(plainStored(await readFile(backupFile(hostA, key))));
    });
    after(async () => {
      await deleteQuietly(pb, key);
      await rm(downloadsDir, { recursive: true, force: true });
    });

    it('downloads through a file token and getDownloadURL (Basic Usage)', async () => {
      const { url, saved, blob } = await guide(pb, { downloadsDir }).downloadBackupBasicUsage(key);
      assert.ok(url.startsWith(`${hostA.url}/api/backups/${encodeURIComponent(key)}?token=`), url);
      assert.equal(saved, join(downloadsDir, key));
      assert.equal(sha256(await readFile(saved)), expected);
      assert.equal(blob.type, 'application/zip');
      assert.equal(sha256(Buffer.from(await blob.arrayBuffer())), expected);

      // The file token is the only credential: the auth header alone is refused.
      const noToken = await fetch(pb.backups.getDownloadURL('', key), { headers: { Authorization: pb.authStore.token } });
      assert.equal(noToken.status, 403);
      const withAuthToken = await fetch(pb.backups.getDownloadURL(pb.authStore.token, key));
      assert.equal(withAuthToken.status, 403, 'an auth token is not a file token');
    });

    it('downloadBackup saves the backup under its key', async (t) => {
      const out = recordConsole(t);
      await guide(pb, { downloadsDir }).downloadBackup(key);
      assert.equal(out.toString(), '');
      assert.equal(sha256(await readFile(join(downloadsDir, key))), expected);
    });

    it('downloadBackupAs saves the backup under a custom name', async () => {
      const saved = await guide(pb, { downloadsDir }).downloadBackupAs(key, `${name}-copy-of-backup.zip`);
      assert.equal(saved, join(downloadsDir, `${name}-copy-of-backup.zip`));
      assert.equal(sha256(await readFile(saved)), expected);
    });

    it('downloadBackupAs of a missing backup saves the JSON error as the .zip', async () => {
      const missing = uniqueName(`${name}_missing`);
      const saved = await guide(pb, { downloadsDir }).downloadBackupAs(missing, 'not-really.zip');
      const body = JSON.parse(await readFile(saved, 'utf8'));
      assert.equal(body.status, 404);
      assert.equal(body.message, "The requested resource wasn't found.");
    });
  });
}
