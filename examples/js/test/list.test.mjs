// "Authentication" and "List Backups": a superuser logs in, lists the
// backups, sorts them newest first, filters those larger than 100 MB and
// sums their sizes, with the guide's own code (lib/guide.mjs).
//
// The large backup is an upload, not a create: a zip of 101 MiB of random
// data, stored (not compressed) so its size is what it holds. It takes about
// a second here to build and upload.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { guide } from '../lib/guide.mjs';
import {
  sdks, login, hostA, createAndWait, ageBackup, deleteQuietly, recordConsole, storedZip, uniqueName,
  encrypted,
} from '../lib/helpers.mjs';

const MiB = 1024 * 1024;

let largeZip;
function largeBackup() {
  largeZip ??= storedZip([{ name: 'storage/random.bin', data: randomBytes(101 * MiB) }]);
  return largeZip;
}

for (const { name, Client } of sdks) {
  describe(`listing backups with the ${name} SDK`, () => {
    it('logs in as a superuser and lists the backups (Basic Usage)', async (t) => {
      const pb = await login(Client);
      assert.ok(pb.authStore.isValid);
      const record = pb.authStore.record ?? pb.authStore.model;
      assert.equal(record.collectionName, '_superusers');
      assert.equal(record.email, hostA.email);

      const key = uniqueName(`${name}_listed`);
      try {
        await createAndWait(pb, key);
        const out = recordConsole(t);
        const backups = await guide(pb).listBackups();
        assert.ok(Array.isArray(backups));
        const listed = backups.find((b) => b.key === key);
        assert.ok(listed, `${key} listed`);
        // PocketBase's fields, plus only what this project adds where known
        // (the SDKs pass through fields they do not know).
        const added = ['sha256', 'verifiedAt', 'verify', 'verifyFirstSeen'];
        if (encrypted) {
          // Encryption at rest adds one field, only to encrypted backups.
          assert.deepEqual(Object.keys(listed).filter((k) => !added.includes(k)).sort(), ['encrypted', 'key', 'modified', 'size']);
          assert.equal(listed.encrypted, true);
        } else {
          assert.deepEqual(Object.keys(listed).filter((k) => !added.includes(k)).sort(), ['key', 'modified', 'size']);
        }
        assert.match(listed.sha256, /^[0-9a-f]{64}$/, 'a created backup lists its SHA-256');
        assert.equal(typeof listed.size, 'number');
        assert.ok(!Number.isNaN(new Date(listed.modified).getTime()), `modified parses: ${listed.modified}`);
        assert.deepEqual(out[0].args[0], backups, 'the list is what the guide logs');
      } finally {
        await deleteQuietly(pb, key);
      }
    });

    it('sorts newest first, finds the backups over 100 MB and totals the sizes (Working with Backup Lists)', async (t) => {
      const pb = await login(Client);
      const older = uniqueName(`${name}_older`);
      const small = uniqueName(`${name}_small`);
      const large = uniqueName(`${name}_large`);
      try {
        await createAndWait(pb, older);
        ageBackup(hostA, older, 2);
        await createAndWait(pb, small);
        await pb.backups.upload({ file: new File([largeBackup()], large, { type: 'application/zip' }) });

        const out = recordConsole(t);
        const { backups, mostRecent, largeBackups, totalSize } = await guide(pb).workWithBackupList();

        const times = backups.map((b) => new Date(b.modified).getTime());
        assert.deepEqual(times, [...times].sort((a, b) => b - a), 'newest first');
        assert.equal(mostRecent.key, large, 'the upload is the most recent');
        const mine = backups.filter((b) => [older, small, large].includes(b.key)).map((b) => b.key);
        assert.deepEqual(mine, [large, small, older]);

        const largeInfo = backups.find((b) => b.key === large);
        assert.ok(largeInfo.size > 100 * MiB, `size ${largeInfo.size}`);
        assert.equal(largeInfo.size, largeBackup().length);
        assert.ok(largeBackups.some((b) => b.key === large), 'the large backup passes the filter');
        assert.ok(!largeBackups.some((b) => b.key === small || b.key === older), 'small ones do not');
        assert.ok(largeBackups.every((b) => b.size > 100 * MiB));

        assert.equal(totalSize, backups.reduce((sum, b) => sum + b.size, 0));
        assert.ok(totalSize > 100 * MiB);
        assert.equal(out.toString(), `log: Total backup storage: ${(totalSize / MiB).toFixed(2)} MB`);
      } finally {
        await deleteQuietly(pb, older, small, large);
      }
    });
  });
}
