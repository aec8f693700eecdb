// Settings: pb.settings.getAll() and pb.settings.update() on the backups
// section ({cron, cronMaxKeep, s3:{…}}), the 400s with the failing field
// under data.backups, and the S3 secret, which is stored but never sent
// back.
//
// Findings asserted here:
//   - Both SDKs' pb.settings.testS3() default to the "storage" filesystem;
//     backups need testS3('backups'). The default is refused with 400
//     data.filesystem (the host has no files storage to test).
//   - An update is a patch: absent fields keep their values, and an empty
//     (or absent) secret keeps the stored one, so a stored secret cannot be
//     cleared through the API, only replaced.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  sdks, client, login, hostA, user, apiError, defaultSettings, msgValidation, resetSettings, s3Server,
} from '../lib/helpers.mjs';

const secret = 'settings/Secret+never-sent-back';

// fieldError checks a 400 validation error with data.backups[...path].code.
function fieldError(path, code) {
  return (err) => {
    assert.equal(err.status, 400, JSON.stringify(err.response));
    assert.equal(err.message, msgValidation);
    let at = err.response?.data?.backups;
    for (const p of path) at = at?.[p];
    assert.equal(at?.code, code, `data.backups.${path.join('.')}: ${JSON.stringify(err.response?.data)}`);
    assert.ok(at.message, 'the field error has a message');
    return true;
  };
}

for (const { name, Client } of sdks) {
  describe(`settings with the ${name} SDK`, () => {
    let pb;
    after(async () => {
      if (pb) await resetSettings(pb);
    });

    it('getAll: the backups section with its fields and types; superusers only', async () => {
      pb = await login(Client);
      await resetSettings(pb);
      const settings = await pb.settings.getAll();
      assert.deepEqual(Object.keys(settings), ['backups']);
      assert.deepEqual(Object.keys(settings.backups).sort(), ['cron', 'cronMaxKeep', 's3']);
      assert.deepEqual(Object.keys(settings.backups.s3).sort(),
        ['accessKey', 'bucket', 'enabled', 'endpoint', 'forcePathStyle', 'region', 'secret']);
      assert.deepEqual(settings, defaultSettings);

      await assert.rejects(client(Client, hostA).settings.getAll(), apiError(401));
      const asUser = client(Client, hostA);
      await asUser.collection('users').authWithPassword(user.email, user.password);
      await assert.rejects(asUser.settings.getAll(), apiError(403));
      await assert.rejects(asUser.settings.update({ backups: { cron: '0 3 * * *' } }), apiError(403));
    });

    it('update: invalid values are 400 with the field under data.backups; nothing changes', async () => {
      pb ??= await login(Client);
      const before = await pb.settings.getAll();
      await assert.rejects(pb.settings.update({ backups: { cron: 'bad' } }), fieldError(['cron'], 'validation_invalid_cron'));
      await assert.rejects(pb.settings.update({ backups: { cron: '61 * * * *' } }), fieldError(['cron'], 'validation_invalid_cron'));
      await assert.rejects(pb.settings.update({ backups: { cron: '0 3 * * *', cronMaxKeep: 0 } }),
        fieldError(['cronMaxKeep'], 'validation_min_greater_equal_than_required'));
      await assert.rejects(pb.settings.update({ backups: { s3: { enabled: true } } }),
        fieldError(['s3', 'bucket'], 'validation_required'));
      await assert.rejects(pb.settings.update({
        backups: { s3: { enabled: true, bucket: 'b', region: 'r', endpoint: 'ftp://example.com', accessKey: 'AK', secret } },
      }), fieldError(['s3', 'endpoint'], 'validation_is_url'));
      assert.deepEqual(await pb.settings.getAll(), before, 'a refused update changes nothing');
    });

    it('update: values are saved and returned, the secret never', async () => {
      pb ??= await login(Client);
      // The harness's S3 server, but a bucket it does not have.
      const s3 = {
        enabled: false, bucket: 'no-such-bucket', region: 'eu-west-1', endpoint: s3Server().endpoint,
        accessKey: 'AKIASETTINGS0000001', secret, forcePathStyle: true,
      };
      const updated = await pb.settings.update({ backups: { cronMaxKeep: 5, s3 } });
      const expected = { backups: { cron: '', cronMaxKeep: 5, s3: { ...s3, secret: '' } } };
      assert.deepEqual(updated, expected);
      assert.ok(!JSON.stringify(updated).includes(secret), 'the update answer does not carry the secret');
      const read = await pb.settings.getAll();
      assert.deepEqual(read, expected);
      assert.ok(!JSON.stringify(read).includes(secret), 'getAll does not carry the secret');

      // A patch: absent fields keep their values.
      const patched = await pb.settings.update({ backups: { cron: '0 3 * * *' } });
      assert.deepEqual(patched, { backups: { ...expected.backups, cron: '0 3 * * *' } });
      // The empty secret sent back by getAll keeps the stored one: turning
      // S3 on passes "secret: Cannot be blank" although no secret is sent.
      const on = await pb.settings.update({ backups: { cron: '', s3: { ...read.backups.s3, enabled: true } } });
      assert.equal(on.backups.s3.enabled, true);
      assert.equal(on.backups.s3.secret, '');

      // The probe fails with a message that says why.
      await assert.rejects(pb.settings.testS3('backups'),
        apiError(400, { message: 'Failed to use the S3 storage: the bucket was not found.' }));
      // The SDKs' default filesystem is "storage", which the host does not test.
      await assert.rejects(pb.settings.testS3(), apiError(400, { field: 'filesystem', code: 'validation_in_invalid' }));

      assert.deepEqual(await resetSettings(pb), defaultSettings);
    });
  });
}
