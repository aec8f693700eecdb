// The foundation scenario with each real SDK: log in, list, create named
// and auto-named backups, wait until listed, download through
// getDownloadURL with a file token, check the zip, delete.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sdks, login, waitFor, waitIdle, zipEntries } from '../lib/helpers.mjs';

for (const { name, Client } of sdks) {
  describe(`backups with the ${name} SDK`, () => {
    it('creates, lists, downloads and deletes backups', async () => {
      const pb = await login(Client);
      assert.ok(pb.authStore.isValid, 'auth store holds a valid token');
      assert.equal(pb.authStore.record?.email ?? pb.authStore.model?.email, process.env.PB_EMAIL);

      const before = await pb.backups.getFullList();
      assert.ok(Array.isArray(before));

      const named = `${name}_named_backup.zip`;
      assert.equal(await pb.backups.create(named), true);
      const outcome = await waitIdle(pb);
      assert.equal(outcome.ok, true, `create outcome: ${JSON.stringify(outcome)}`);
      const listed = await waitFor('the named backup to be listed', async () =>
        (await pb.backups.getFullList()).find((b) => b.key === named));
      assert.ok(listed.size > 0);
      assert.ok(!Number.isNaN(new Date(listed.modified).getTime()), `modified parses: ${listed.modified}`);

      await pb.backups.create('');
      const auto = await waitFor('an auto-named backup', async () =>
        (await pb.backups.getFullList()).find((b) => /^pb_backup_\d{14}\.zip$/.test(b.key)));
      await waitIdle(pb);

      const token = await pb.files.getToken();
      const url = pb.backups.getDownloadURL(token, named);
      const response = await fetch(url);
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('content-type'), 'application/zip');
      const body = await response.arrayBuffer();
      assert.equal(body.byteLength, listed.size);
      const entries = zipEntries(body);
      assert.ok(entries.includes('data.db'), `zip entries: ${entries.join(', ')}`);
      assert.ok(!entries.some((e) => e.startsWith('backups/')), 'backups folder left out');

      // Without a file token the download is refused.
      const refused = await fetch(pb.backups.getDownloadURL('', named));
      assert.equal(refused.status, 403);

      await pb.backups.delete(named);
      await pb.backups.delete(auto.key);
      const after = await pb.backups.getFullList();
      assert.ok(!after.some((b) => b.key === named || b.key === auto.key));
      await assert.rejects(pb.backups.delete(named), (err) => err.status === 404);
    });

    it('refuses bad names and wrong credentials with the contract errors', async () => {
      const pb = await login(Client);
      await assert.rejects(pb.backups.create('Not Valid.zip'), (err) => {
        assert.equal(err.status, 400);
        assert.equal(err.response?.data?.name?.code, 'validation_match_invalid');
        return true;
      });
      const anon = new Client(pb.baseURL ?? pb.baseUrl);
      await assert.rejects(anon.backups.getFullList(), (err) => err.status === 401);
      await assert.rejects(
        anon.collection('_superusers').authWithPassword(process.env.PB_EMAIL, 'wrong-password'),
        (err) => err.status === 400 && err.message === 'Failed to authenticate.');
    });
  });
}
