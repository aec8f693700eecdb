// Shared helpers for the SDK scenarios: which SDKs to run, how to log in,
// how to wait for background work, and a tiny zip directory reader.
import BosBase from 'bosbase';
import PocketBase from 'pocketbase';

export const baseURL = process.env.PB_URL ?? 'http://127.0.0.1:8090';
export const email = process.env.PB_EMAIL;
export const password = process.env.PB_PASSWORD;

if (!email || !password) {
  throw new Error('PB_EMAIL and PB_PASSWORD must name a superuser of the host at PB_URL');
}

// Both SDKs send the same requests; every scenario runs with each.
export const sdks = [
  { name: 'bosbase', Client: BosBase },
  { name: 'pocketbase', Client: PocketBase },
];

// login returns a client of the given SDK authenticated as the superuser.
export async function login(Client) {
  const pb = new Client(baseURL);
  pb.autoCancellation(false);
  await pb.collection('_superusers').authWithPassword(email, password);
  return pb;
}

// waitFor polls check() until it returns a truthy value or time runs out.
export async function waitFor(what, check, timeoutMs = 30000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
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
