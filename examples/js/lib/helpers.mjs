// Shared helpers for the SDK scenarios: the two test hosts, which SDKs to
// run, how to log in, how to wait for background work, and small tools to
// build, read and fingerprint zips.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import zlib from 'node:zlib';
import BosBase from 'bosbase';
import PocketBase from 'pocketbase';

function required(name) {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} must be set: the scenarios run against the test hosts that sdk_test.go starts`);
  }
  return value;
}

// hostA is the main test host. Its backups live in <dataDir>/backups (the
// default file:// storage), so a scenario can age a backup with utimes. It
// has a "users" record for the 403 cases.
export const hostA = {
  url: process.env.PB_URL ?? 'http://127.0.0.1:8090',
  email: required('PB_EMAIL'),
  password: required('PB_PASSWORD'),
  dataDir: process.env.PB_DATA_DIR,
};

// hostB is a second, independent host: the target of migrations and of
// uploads fetched from host A. Its data directory holds a large incompressible
// file, so a create there runs long enough (about half a second) to meet it
// with a second operation.
export const hostB = {
  url: required('PB_URL2'),
  email: required('PB_EMAIL2'),
  password: required('PB_PASSWORD2'),
  dataDir: process.env.PB_DATA_DIR2,
};

// user is a record of host A's "users" collection: authenticated, not a superuser.
export const user = {
  email: process.env.PB_USER_EMAIL,
  password: process.env.PB_USER_PASSWORD,
};

// Both SDKs send the same requests; every scenario runs with each.
export const sdks = [
  { name: 'bosbase', Client: BosBase },
  { name: 'pocketbase', Client: PocketBase },
];

// client returns an unauthenticated client of the given SDK for host.
export function client(Client, host = hostA) {
  const pb = new Client(host.url);
  pb.autoCancellation(false);
  return pb;
}

// login returns a client of the given SDK authenticated as host's superuser.
export async function login(Client, host = hostA) {
  const pb = client(Client, host);
  await pb.collection('_superusers').authWithPassword(host.email, host.password);
  return pb;
}

// sleep waits ms milliseconds.
export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// waitFor polls check() until it returns a truthy value or time runs out.
export async function waitFor(what, check, timeoutMs = 30000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

// waitIdle waits until no backup or restore runs and returns the last
// operation's outcome as /api/health shows it to superusers.
export async function waitIdle(pb) {
  return waitFor('the operation to finish', async () => {
    const health = await pb.health.check();
    return health.data?.canBackup === true ? health.data.lastOperation ?? {} : null;
  });
}

// createAndWait creates backup key, waits for the create to finish and
// checks that it succeeded.
export async function createAndWait(pb, key) {
  await pb.backups.create(key);
  const outcome = await waitIdle(pb);
  if (outcome.key !== key || outcome.ok !== true) {
    throw new Error(`create ${key}: ${JSON.stringify(outcome)}`);
  }
  return (await pb.backups.getFullList()).find((b) => b.key === key);
}

// startLongCreate starts creating backup key on host B and returns once
// /api/health shows it running, so the caller can meet it with a second
// request.
export async function startLongCreate(pb, key) {
  await pb.backups.create(key);
  const health = await pb.health.check();
  if (health.data?.operation?.key !== key) {
    throw new Error(`the create of ${key} is not running any more: ${JSON.stringify(health.data)}; is host B's ballast missing?`);
  }
}

let counter = 0;

// uniqueName returns a backup name no other scenario or run uses.
export function uniqueName(prefix) {
  counter += 1;
  return `${prefix}_${Date.now().toString(36)}${counter}.zip`;
}

// deleteQuietly deletes the given backups, ignoring the ones already gone.
export async function deleteQuietly(pb, ...keys) {
  for (const key of keys) {
    try {
      await pb.backups.delete(key);
    } catch (err) {
      if (err.status !== 404) throw err;
    }
  }
}

// keys returns the keys of the backups listed on pb's host.
export async function keys(pb) {
  return (await pb.backups.getFullList()).map((b) => b.key);
}

// download fetches backup key through a file token, as the guide does, and
// returns its bytes.
export async function download(pb, key) {
  const url = pb.backups.getDownloadURL(await pb.files.getToken(), key);
  const response = await fetch(url);
  if (!response.ok) throw new Error(`download ${key}: ${response.status} ${await response.text()}`);
  return Buffer.from(await response.arrayBuffer());
}

// sha256 is the hex SHA-256 of bytes.
export function sha256(bytes) {
  return createHash('sha256').update(bytes).digest('hex');
}

// encrypted tells that the hosts run with encryption at rest (the Go
// harness's encrypted variant): storage then holds age files, and
// plainStored turns them back into the zips the API serves.
export const encrypted = Boolean(process.env.PB_AGE_KEY_FILE);

const ageMagic = Buffer.from('age-encryption.org/v1\n');

// isCiphertext tells whether stored bytes are an age file with no zip
// signature in their first MiB.
export function isCiphertext(bytes) {
  const head = Buffer.from(bytes).subarray(0, 1 << 20);
  const zipSignatures = ['PK\x03\x04', 'PK\x01\x02', 'PK\x05\x06'].map((s) => Buffer.from(s, 'latin1'));
  return head.subarray(0, ageMagic.length).equals(ageMagic) && !zipSignatures.some((sig) => head.includes(sig));
}

// plainStored returns bytes read from storage as the zip they hold: as
// they are without encryption; with it, after checking they are
// ciphertext, decrypted offline with the hosts' key file.
export function plainStored(bytes) {
  if (!encrypted) return Buffer.from(bytes);
  if (!isCiphertext(bytes)) throw new Error('storage holds something else than an encrypted backup');
  // As an operator reads it: testhost's "backups decrypt" with the keys file.
  const dir = mkdtempSync(join(tmpdir(), 'pb-decrypt-'));
  try {
    const input = join(dir, 'stored.age');
    const output = join(dir, 'plain.zip');
    writeFileSync(input, bytes);
    execFileSync(required('PB_TESTHOST'), ['backups', 'decrypt', input,
      `--encryption-key-file=${process.env.PB_AGE_KEY_FILE}`, '-o', output]);
    return readFileSync(output);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// backupFile is where host keeps backup key (its default file:// storage).
export function backupFile(host, key) {
  if (!host.dataDir) throw new Error('the data directory of the host is unknown (PB_DATA_DIR/PB_DATA_DIR2)');
  return join(host.dataDir, 'backups', key);
}

// ageBackup sets the modification time of backup key on host days back.
export function ageBackup(host, key, days) {
  const when = new Date(Date.now() - days * 24 * 60 * 60 * 1000);
  utimesSync(backupFile(host, key), when, when);
}

// recordConsole replaces console.log, warn and error for the rest of test t
// and returns the list they write to: the guide's functions report through
// the console, and the scenarios assert on what they reported.
export function recordConsole(t) {
  const lines = [];
  for (const level of ['log', 'warn', 'error']) {
    t.mock.method(console, level, (...args) => {
      const text = args.map((a) => (typeof a === 'string' ? a : inspect(a, { depth: 1 }))).join(' ');
      lines.push({ level, args, text });
    });
  }
  lines.has = (level, prefix) => lines.some((l) => l.level === level && l.text.startsWith(prefix));
  lines.toString = () => lines.map((l) => `${l.level}: ${l.text.split('\n')[0]}`).join('\n');
  return lines;
}

// zipEntries lists the file names in a zip's central directory.
export function zipEntries(buf) {
  const data = Buffer.from(buf);
  const eocd = data.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (eocd < 0) throw new Error('not a zip: no end of central directory');
  const count = data.readUInt16LE(eocd + 10);
  let off = data.readUInt32LE(eocd + 16);
  const names = [];
  for (let i = 0; i < count; i++) {
    if (data.readUInt32LE(off) !== 0x02014b50) throw new Error('bad central directory entry');
    const nameLen = data.readUInt16LE(off + 28);
    const extraLen = data.readUInt16LE(off + 30);
    const commentLen = data.readUInt16LE(off + 32);
    names.push(data.toString('utf8', off + 46, off + 46 + nameLen));
    off += 46 + nameLen + extraLen + commentLen;
  }
  return names;
}

const crcTable = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

// crc32 of bytes: node's own when it has one (20.15+), else a table.
function crc32(bytes) {
  if (typeof zlib.crc32 === 'function') return zlib.crc32(bytes) >>> 0;
  let c = 0xffffffff;
  for (const b of bytes) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

// storedZip builds a zip of files ([{name, data}]) without compression, so
// its size is the size of the data (plus headers). Sizes must stay below 4 GiB.
export function storedZip(files) {
  const parts = [];
  const central = [];
  let offset = 0;
  for (const { name, data } of files) {
    const nameBytes = Buffer.from(name, 'utf8');
    const crc = crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4); // version needed
    local.writeUInt16LE(0x0800, 6); // UTF-8 names
    local.writeUInt16LE(0, 8); // method: store
    local.writeUInt16LE(0, 10); // time 00:00
    local.writeUInt16LE(0x21, 12); // date 1980-01-01
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(nameBytes.length, 26);
    const entry = Buffer.alloc(46);
    entry.writeUInt32LE(0x02014b50, 0);
    entry.writeUInt16LE((3 << 8) | 20, 4); // made by: unix
    local.copy(entry, 6, 4, 30); // version needed … name length
    entry.writeUInt32LE((0o100644 << 16) >>> 0, 38); // regular file, rw-r--r--
    entry.writeUInt32LE(offset, 42);
    parts.push(local, nameBytes, data);
    central.push(entry, nameBytes);
    offset += local.length + nameBytes.length + data.length;
  }
  const centralSize = central.reduce((n, b) => n + b.length, 0);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(files.length, 8);
  end.writeUInt16LE(files.length, 10);
  end.writeUInt32LE(centralSize, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...parts, ...central, end]);
}

// apiError returns an assert.rejects check for a ClientResponseError with
// status, and optionally a message (string: equal, RegExp: match) and a
// field error code (`field: 'name', code: '…'`).
export function apiError(status, { message, field, code } = {}) {
  return (err) => {
    assert.equal(err.status, status, `status of ${JSON.stringify(err.response ?? err.message)}`);
    if (typeof message === 'string') assert.equal(err.message, message);
    if (message instanceof RegExp) assert.match(err.message, message);
    if (field) assert.equal(err.response?.data?.[field]?.code, code, `data.${field}: ${JSON.stringify(err.response)}`);
    return true;
  };
}

// The contract's messages the guide's error handlers look for.
export const msgBusy = 'Try again later - another backup/restore process has already been started.';
export const msgInUse = 'The backup is currently being used and cannot be deleted.';
export const msgValidation = 'An error occurred while validating the submitted data.';

// waitForRestore waits until host answers again after the restore of key
// and reports it finished; it returns a superuser client (logged in again
// when the old token stopped working) and the restore's outcome.
export async function waitForRestore(Client, key, host = hostA, timeoutMs = 60000) {
  let pb = client(Client, host);
  const outcome = await waitFor(`the host to come back from the restore of ${key}`, async () => {
    try {
      let health = await pb.health.check();
      if (health.data?.canBackup === undefined) {
        // No (valid) superuser token: the restored data may have other keys.
        pb = await login(Client, host);
        health = await pb.health.check();
      }
      const last = health.data?.lastOperation;
      return health.data?.canBackup === true && last?.kind === 'restore' && last.key === key ? last : null;
    } catch {
      return null; // down while it restarts
    }
  }, timeoutMs);
  return { pb, outcome };
}

// deleteAll deletes every backup of pb's host once no operation runs: for
// the guide's functions that look at all backups of a host.
export async function deleteAll(pb) {
  await waitIdle(pb);
  for (const key of await keys(pb)) await pb.backups.delete(key);
}

// --- Settings, S3, crons and the plugin swap ---------------------------------

// s3Server is the S3-protocol server the Go harness runs on loopback
// (gofakes3, in memory, any credentials) and the bucket it holds.
export function s3Server() {
  return { endpoint: required('PB_S3_ENDPOINT'), bucket: required('PB_S3_BUCKET') };
}

// s3Settings returns a settings patch that turns S3 on with the fake server.
export function s3Settings({ accessKey = 'AKIASDKSCENARIO00001', secret = 'sdk/Secret+Key=s3-scenario' } = {}) {
  const { endpoint, bucket } = s3Server();
  return {
    backups: {
      s3: { enabled: true, bucket, region: 'us-east-1', endpoint, accessKey, secret, forcePathStyle: true },
    },
  };
}

// s3ObjectKeys lists the keys in the fake server's bucket, straight from
// the server (ListObjectsV2 without credentials: gofakes3 does not check).
export async function s3ObjectKeys() {
  const { endpoint, bucket } = s3Server();
  const response = await fetch(`${endpoint}/${bucket}?list-type=2&max-keys=1000`);
  if (!response.ok) throw new Error(`list the bucket: ${response.status} ${await response.text()}`);
  const xml = await response.text();
  return [...xml.matchAll(/<Key>([^<]*)<\/Key>/g)].map((m) => m[1]);
}

// s3Object reads an object of the fake server's bucket, straight from the server.
export async function s3Object(key) {
  const { endpoint, bucket } = s3Server();
  const response = await fetch(`${endpoint}/${bucket}/${encodeURIComponent(key)}`);
  if (!response.ok) throw new Error(`get ${key} from the bucket: ${response.status}`);
  return Buffer.from(await response.arrayBuffer());
}

// defaultSettings is the settings document of a fresh host (PocketBase's
// defaults: no schedule, keep 3, local storage); the secret is never sent.
export const defaultSettings = Object.freeze({
  backups: {
    cron: '',
    cronMaxKeep: 3,
    s3: { enabled: false, bucket: '', region: '', endpoint: '', accessKey: '', secret: '', forcePathStyle: false },
  },
});

// resetSettings puts pb's host back on local storage without a schedule.
// (A stored secret stays: an empty secret in a patch keeps the stored one.)
export async function resetSettings(pb) {
  const { secret, ...s3 } = defaultSettings.backups.s3;
  return pb.settings.update({ backups: { ...defaultSettings.backups, s3 } });
}

// The scheduled backup job and the prefix of the files it writes.
export const autoBackupJob = '__pbAutoBackup__';
export const autoPrefix = '@auto_pb_backup_';

// runAutoBackup starts the scheduled backup job now and waits until the
// backup it makes (and the rotation after it) has finished: /api/health
// then reports a new last operation on an @auto_ key and no operation running.
export async function runAutoBackup(pb) {
  const before = (await pb.health.check()).data?.lastOperation;
  assert.equal(await pb.crons.run(autoBackupJob), true);
  return waitFor('the scheduled backup to finish', async () => {
    const { data } = await pb.health.check();
    const last = data?.lastOperation;
    if (data?.canBackup !== true || !last?.key?.startsWith('@auto_')) return null;
    if (before && last.key === before.key && last.finished === before.finished) return null;
    return last;
  });
}

// swapHosts are the hosts of the plugin swap scenario, one per plugin
// binary: [{plugin, url, email, password, storage: 'file'|'manifest',
// dataDir, storageDir}].
export function swapHosts() {
  const hosts = JSON.parse(required('PB_SWAP_HOSTS'));
  if (!Array.isArray(hosts) || hosts.length === 0) throw new Error('PB_SWAP_HOSTS names no host');
  return hosts;
}

// zipEntry returns the uncompressed bytes of entry name of a zip (stored
// or deflated), found through the central directory.
export function zipEntry(buf, name) {
  const data = Buffer.from(buf);
  const eocd = data.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (eocd < 0) throw new Error('not a zip: no end of central directory');
  const count = data.readUInt16LE(eocd + 10);
  let off = data.readUInt32LE(eocd + 16);
  for (let i = 0; i < count; i++) {
    if (data.readUInt32LE(off) !== 0x02014b50) throw new Error('bad central directory entry');
    const method = data.readUInt16LE(off + 10);
    const compressed = data.readUInt32LE(off + 20);
    const nameLen = data.readUInt16LE(off + 28);
    const extraLen = data.readUInt16LE(off + 30);
    const commentLen = data.readUInt16LE(off + 32);
    const local = data.readUInt32LE(off + 42);
    if (data.toString('utf8', off + 46, off + 46 + nameLen) === name) {
      const start = local + 30 + data.readUInt16LE(local + 26) + data.readUInt16LE(local + 28);
      const body = data.subarray(start, start + compressed);
      if (method === 0) return body;
      if (method === 8) return zlib.inflateRawSync(body);
      throw new Error(`${name}: compression method ${method}`);
    }
    off += 46 + nameLen + extraLen + commentLen;
  }
  throw new Error(`${name} is not in the zip`);
}
