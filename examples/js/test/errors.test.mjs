// "Error Handling": the guide's handleBackupError tells the failures apart
// by status and, for 400, by the message. Every branch is reached here
// against the real host: 401 without auth, 403 for a non-superuser record,
// 404 for a missing backup, and the 400s (bad name, taken name, another
// operation running, an upload that is not a zip).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { guide } from '../lib/guide.mjs';
import {
  sdks, client, login, hostA, hostB, user, apiError, createAndWait, deleteQuietly, keys, msgBusy,
  msgValidation, recordConsole, startLongCreate, uniqueName, waitIdle,
} from '../lib/helpers.mjs';

for (const { name, Client } of sdks) {
  describe(`handleBackupError with the ${name} SDK`, () => {
    it('401: no auth', async (t) => {
      const out = recordConsole(t);
      const anon = client(Client, hostA);
      await assert.rejects(guide(anon).handleBackupError('getFullList'), apiError(401, {
        message: 'The request requires valid record authorization token.',
      }));
      await assert.rejects(guide(anon).handleBackupError('create', uniqueName('anon')), apiError(401));
      assert.equal(out.toString(), 'error: Not authenticated\nerror: Not authenticated');
    });

    it('403: a "users" record is not a superuser', async (t) => {
      assert.ok(user.email, 'PB_USER_EMAIL names a users record of host A');
      const pb = client(Client, hostA);
      await pb.collection('users').authWithPassword(user.email, user.password);
      assert.ok(pb.authStore.isValid);
      const out = recordConsole(t);
      const { handleBackupError } = guide(pb);
      const forbidden = apiError(403, { message: 'The authorized record is not allowed to perform this action.' });
      await assert.rejects(handleBackupError('getFullList'), forbidden);
      await assert.rejects(handleBackupError('create', uniqueName('user')), forbidden);
      await assert.rejects(handleBackupError('delete', 'any.zip'), forbidden);
      assert.equal(out.toString(), Array(3).fill('error: Not a superuser').join('\n'));
    });

    it('404: a backup that does not exist', async (t) => {
      const pb = await login(Client);
      const out = recordConsole(t);
      await assert.rejects(guide(pb).handleBackupError('delete', uniqueName('missing')), apiError(404, {
        message: "The requested resource wasn't found.",
      }));
      assert.equal(out.toString(), 'error: Backup not found');
    });

    it('400: a bad name, and an upload that is not a zip, are "Invalid request"', async (t) => {
      const pb = await login(Client);
      const before = await keys(pb);
      const out = recordConsole(t);
      const { handleBackupError } = guide(pb);
      await assert.rejects(handleBackupError('create', 'Bad Name.zip'), apiError(400, {
        message: msgValidation, field: 'name', code: 'validation_match_invalid',
      }));
      const notZip = new File(['hello'], uniqueName(`${name}_not_a_zip`), { type: 'application/zip' });
      await assert.rejects(handleBackupError('upload', { file: notZip }), apiError(400, {
        message: msgValidation, field: 'file', code: 'validation_invalid_mime_type',
      }));
      assert.equal(out.toString(), `error: Invalid request: ${msgValidation}\n`.repeat(2).trim());
      assert.deepEqual(await keys(pb), before);
    });

    it('400: a taken name is "already exists", for a create and for an upload', async (t) => {
      const pb = await login(Client);
      const key = uniqueName(`${name}_taken`);
      try {
        await createAndWait(pb, key);
        const out = recordConsole(t);
        const { handleBackupError } = guide(pb);
        await assert.rejects(handleBackupError('create', key), apiError(400, {
          message: `A backup with the name "${key}" already exists.`, field: 'name', code: 'validation_backup_name_exists',
        }));
        const zip = new File([Buffer.from('PK\x05\x06' + '\0'.repeat(18), 'latin1')], key, { type: 'application/zip' });
        await assert.rejects(handleBackupError('upload', { file: zip }), apiError(400, {
          message: /already exists/, field: 'file', code: 'validation_backup_name_exists',
        }));
        assert.equal(out.toString(), 'error: Backup with this name already exists\n'.repeat(2).trim());
      } finally {
        await deleteQuietly(pb, key);
      }
    });

    it('400: another operation running is "another backup/restore"', async (t) => {
      const pb = await login(Client, hostB);
      const running = uniqueName(`${name}_running`);
      const second = uniqueName(`${name}_second`);
      try {
        await startLongCreate(pb, running);
        const out = recordConsole(t);
        await assert.rejects(guide(pb).handleBackupError('create', second), apiError(400, { message: msgBusy }));
        assert.equal(out.toString(), 'error: Another backup or restore operation is in progress');
        const outcome = await waitIdle(pb);
        assert.deepEqual([outcome.key, outcome.ok], [running, true]);
        assert.ok(!(await keys(pb)).includes(second), 'the refused create left nothing');
      } finally {
        await waitIdle(pb);
        await deleteQuietly(pb, running);
      }
    });
  });
}
