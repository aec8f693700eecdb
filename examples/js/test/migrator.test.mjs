// "Example 3: Backup Migration Tool": every backup of host A is copied to
// host B (a second, independent test host), byte for byte. Running it again
// fails per backup on the taken names, and says so.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BackupMigrator } from '../lib/guide.mjs';
import {
  sdks, login, hostB, createAndWait, deleteQuietly, download, keys, recordConsole, sha256, uniqueName,
} from '../lib/helpers.mjs';

for (const { name, Client } of sdks) {
  describe(`BackupMigrator with the ${name} SDK`, () => {
    it('migrates all backups from one host to another', async (t) => {
      const source = await login(Client);
      const target = await login(Client, hostB);
      const mine = [uniqueName(`${name}_migrate_a`), uniqueName(`${name}_migrate_b`)];
      const targetBefore = new Set(await keys(target));
      let migrated = [];
      try {
        for (const key of mine) await createAndWait(source, key);
        const sourceKeys = await keys(source);
        assert.ok(sourceKeys.every((k) => !targetBefore.has(k)), 'host B has none of them yet');

        const out = recordConsole(t);
        await new BackupMigrator(source, target).migrateAllBackups();
        migrated = sourceKeys;
        const expected = sourceKeys.flatMap((key) => [
          `log: Migrating backup: ${key}`, 'log: Downloading from source...', 'log: Uploading to target...',
          'log: Migration completed', `log: ✓ Migrated: ${key}`,
        ]);
        assert.equal(out.toString(), expected.join('\n'));

        const targetList = await target.backups.getFullList();
        for (const { key, size } of await source.backups.getFullList()) {
          const copy = targetList.find((b) => b.key === key);
          assert.ok(copy, `${key} is on host B`);
          assert.equal(copy.size, size);
          assert.equal(sha256(await download(target, key)), sha256(await download(source, key)), `${key} byte for byte`);
        }

        out.length = 0;
        await new BackupMigrator(source, target).migrateAllBackups();
        const failed = out.filter((l) => l.level === 'error');
        assert.deepEqual(failed.map((l) => l.args[0]), sourceKeys.map((k) => `✗ Failed to migrate ${k}:`));
        assert.ok(failed.every((l) => l.args[1].status === 400 && /already exists/.test(l.args[1].message)));
      } finally {
        await deleteQuietly(source, ...mine);
        await deleteQuietly(target, ...migrated.filter((k) => !targetBefore.has(k)));
      }
    });
  });
}
