// "Upload Backup": from a File, a Blob and a FormData (Basic Usage), the
// file-input example, and uploadBackupFromURL with a backup downloaded
// from another server (host A) and uploaded to host B. Every upload must
// come back byte for byte (SHA-256) when downloaded.
//
// Findings asserted here:
//   - A Blob has no file name: FormData sends it as "blob", so the backup
//     is stored under the key "blob" (PocketBase does the same: the key is
//     the part's file name). A second Blob upload is "already exists".
//   - uploadBackupFromURL names the file url.split('/').pop(). A download
//     URL ends in "?token=<file token>", so the name is
//     "<key>?token=eyJ…" (over 200 characters): refused, 400 data.file
//     validation_invalid_file_name. (Were it shorter, the token would end up
//     in the backup's name.) Taking the name from new URL(url).pathname works.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { guide } from '../lib/guide.mjs';
import {
  sdks, login, hostA, hostB, apiError, createAndWait, deleteQuietly, download, keys, msgValidation,
  recordConsole, sha256, uniqueName,
} from '../lib/helpers.mjs';

for (const { name, Client } of sdks) {
  describe(`uploading backups with the ${name} SDK`, () => {
    let pb;
    let source; // a real backup of host A, downloaded
    const sourceKey = uniqueName(`${name}_upload_source`);
    const uploaded = [];

    before(async () => {
      pb = await login(Client);
      await createAndWait(pb, sourceKey);
      source = await download(pb, sourceKey);
    });
    after(async () => {
      await deleteQuietly(pb, sourceKey, ...uploaded);
    });

    async function assertStored(client, key) {
      const listed = (await client.backups.getFullList()).find((b) => b.key === key);
      assert.ok(listed, `${key} is listed`);
      assert.equal(listed.size, source.length);
      assert.equal(sha256(await download(client, key)), sha256(source), `${key} is the uploaded bytes`);
    }

    it('uploads from a File object', async () => {
      const key = uniqueName(`${name}_from_file`);
      uploaded.push(key);
      await guide(pb).uploadFromFile(new File([source], key, { type: 'application/zip' }));
      await assertStored(pb, key);
    });

    it('uploads from a Blob, which is stored as "blob"', async () => {
      await deleteQuietly(pb, 'blob');
      uploaded.push('blob');
      const { uploadFromBlob } = guide(pb);
      await uploadFromBlob(source);
      await assertStored(pb, 'blob');
      await assert.rejects(uploadFromBlob(source), apiError(400, {
        message: 'A backup with the name "blob" already exists.', field: 'file', code: 'validation_backup_name_exists',
      }));
      await pb.backups.delete('blob');
    });

    it('uploads using FormData', async () => {
      const key = uniqueName(`${name}_from_formdata`);
      uploaded.push(key);
      await guide(pb).uploadFromFormData(new File([source], key, { type: 'application/zip' }));
      await assertStored(pb, key);
    });

    it('uploadBackupFromInput: uploaded, then "already exists", and nothing without a file', async (t) => {
      const key = uniqueName(`${name}_from_input`);
      uploaded.push(key);
      const { uploadBackupFromInput } = guide(pb);
      const out = recordConsole(t);
      const file = new File([source], key, { type: 'application/zip' });
      await uploadBackupFromInput(file);
      await uploadBackupFromInput(file);
      await uploadBackupFromInput(undefined);
      assert.equal(out.toString(), 'log: Backup uploaded successfully\nerror: Invalid file or file already exists');
      await assertStored(pb, key);
    });

    it('uploadBackupFromURL as written: the token in the URL makes the name invalid', async () => {
      const target = await login(Client, hostB);
      const url = pb.backups.getDownloadURL(await pb.files.getToken(), sourceKey);
      assert.ok(url.startsWith(`${hostA.url}/api/backups/${sourceKey}?token=`), url);
      const filename = url.split('/').pop();
      assert.ok(filename.startsWith(`${sourceKey}?token=`) && filename.length > 150, filename);

      const before = await keys(target);
      await assert.rejects(guide(target).uploadBackupFromURL(url), apiError(400, {
        message: msgValidation, field: 'file', code: 'validation_invalid_file_name',
      }));
      assert.deepEqual(await keys(target), before, 'host B got nothing');
    });

    it('uploadBackupFromURL with the name taken from the URL path: byte for byte on host B', async () => {
      const target = await login(Client, hostB);
      // The guide's function with one line changed: the name ignores the query.
      async function uploadBackupFromURL(url) {
        const response = await fetch(url);
        const blob = await response.blob();

        // Create a File object with the original filename
        const filename = new URL(url).pathname.split('/').pop() || 'backup.zip';
        const file = new File([blob], filename, { type: 'application/zip' });

        await target.backups.upload({ file: file });
      }
      const url = pb.backups.getDownloadURL(await pb.files.getToken(), sourceKey);
      try {
        await uploadBackupFromURL(url);
        await assertStored(target, sourceKey);
      } finally {
        await deleteQuietly(target, sourceKey);
      }
    });
  });
}
