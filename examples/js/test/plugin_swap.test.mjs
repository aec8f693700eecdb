// Plugin swap: the same SDK scenario (create, list, download, delete,
// restore) against a host with each plugin binary dropped in, one after
// the other. The Go harness builds both binaries, the stock
// pocketbackup-plugin and the example third-party manifest-plugin
// (examples/storage-plugin), into one plugins directory, each with its
// .sha256 file, and starts one host per plugin (--plugin=NAME; the
// manifest one with --storage=manifest:///DIR): PB_SWAP_HOSTS.
//
// The scenario is the same for every host; only the check that the backup
// really is in that plugin's storage differs: a file in the data
// directory's backups folder for the stock plugin, an entry of
// manifest.json (with the file's size and SHA-256) for manifest-plugin.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  sdks, login, apiError, createAndWait, download, keys, sha256, swapHosts, uniqueName, waitForRestore,
  zipEntries, plainStored,
} from '../lib/helpers.mjs';

// stored returns what host's own storage holds for key ({size, sha256}),
// or null when it holds nothing.
function stored(host, key) {
  if (host.storage === 'file') {
    const path = join(host.dataDir, 'backups', key);
    if (!existsSync(path)) return null;
    const bytes = plainStored(readFileSync(path));
    return { size: bytes.length, sha256: sha256(bytes) };
  }
  assert.equal(host.storage, 'manifest');
  const manifestPath = join(host.storageDir, 'manifest.json');
  if (!existsSync(manifestPath)) return null;
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
  const entry = manifest.objects.find((o) => o.key === key);
  if (!entry) return null;
  const bytes = readFileSync(join(host.storageDir, ...entry.path.split('/')));
  assert.equal(bytes.length, entry.size, `${entry.path} has the manifest's size`);
  assert.equal(sha256(bytes), entry.sha256, `${entry.path} has the manifest's SHA-256`);
  const plain = plainStored(bytes);
  return { size: plain.length, sha256: sha256(plain) };
}

for (const host of swapHosts()) {
  for (const { name, Client } of sdks) {
    describe(`the ${host.plugin} plugin with the ${name} SDK`, () => {
      it('creates, lists, downloads, deletes and restores', async () => {
        let pb = await login(Client, host);
        const key = uniqueName(`${name}_swap`);

        // Create and list.
        const listed = await createAndWait(pb, key);
        assert.ok(listed, `${key} is listed`);
        assert.ok(listed.size > 0);
        assert.ok(!Number.isNaN(new Date(listed.modified).getTime()), `modified parses: ${listed.modified}`);
        const inStorage = stored(host, key);
        assert.ok(inStorage, `${key} is in the ${host.storage} storage of ${host.plugin}`);
        assert.equal(inStorage.size, listed.size);

        // Download.
        const body = await download(pb, key);
        assert.equal(body.length, listed.size);
        assert.equal(sha256(body), inStorage.sha256, 'the download is the stored file');
        assert.ok(zipEntries(body).includes('data.db'), `zip entries: ${zipEntries(body).join(', ')}`);

        // Delete.
        assert.equal(await pb.backups.delete(key), true);
        assert.ok(!(await keys(pb)).includes(key));
        assert.equal(stored(host, key), null, `${key} is gone from the storage`);
        await assert.rejects(pb.backups.delete(key), apiError(404));

        // Restore: a note backed up, deleted, and back after the restore.
        const note = await pb.collection('notes').create({
          title: `swap ${host.plugin} (${name}) ${Date.now()}`, body: 'Only in the backup.',
        });
        const restoreKey = uniqueName(`${name}_swap_restore`);
        await createAndWait(pb, restoreKey);
        await pb.collection('notes').delete(note.id);
        await assert.rejects(pb.collection('notes').getOne(note.id), apiError(404));
        assert.equal(await pb.backups.restore(restoreKey), true);
        const { pb: again, outcome } = await waitForRestore(Client, restoreKey, host);
        pb = again;
        assert.equal(outcome.ok, true, `restore outcome: ${JSON.stringify(outcome)}`);
        const back = await pb.collection('notes').getOne(note.id);
        assert.equal(back.title, note.title);
        assert.equal(back.body, note.body);
        assert.deepEqual(await keys(pb), [restoreKey], 'the same plugin and storage after the restart');
        assert.ok(stored(host, restoreKey));

        await pb.collection('notes').delete(note.id);
        await pb.backups.delete(restoreKey);
        assert.deepEqual(await keys(pb), []);
      });
    });
  }
}
