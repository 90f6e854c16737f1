// Hostile input, by name (issue 9, item 4): a table of malicious or malformed inputs, each with the one error code it
// must produce (or WORKS, for a hostile name the product accepts: the case then checks that nothing lands outside
// where it belongs). Envelope tampering goes through `decryptObject`; lying servers through the real client against a
// tiny node:http server (hostile-server.ts) that answers whatever the case says; checkpoints and keys through their
// loaders; object keys with `..` segments through resumable transfers and the CLI's `get` into a directory, served
// by the hostile server (the embedded server, like OSS, refuses them: ali-oss normalizes the request path, so its
// signature no longer matches).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import type * as http from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { CseError, ErrorCode, type CseErrorCode } from '../../src/errors.js';
import { V1Header, V2Header, WrapAlgorithm } from '../../src/format/headers.js';
import { decryptObject, encryptObject } from '../../src/object-crypto.js';
import { RsaMasterKey } from '../../src/keys/rsa.js';
import { EncryptionClient } from '../../src/client.js';
import { FileCheckpointStore, defaultCheckpointPath, downloadTempPath, parseDownloadCheckpoint, parseUploadCheckpoint } from '../../src/transfer/checkpoint.js';
import { loadCliKeys, loadRsaKeyFile, planKeysFile } from '../../src/cli/keys.js';
import type { CliIo } from '../../src/cli/command.js';
import { main } from '../../src/cli/main.js';
import { vectorKeys } from '../helpers/vectors.js';
import { answer, startHostileServer, type HostileServer } from './hostile-server.js';
import { masterKey } from './support.js';

const plaintext = randomBytes(3000);
let sealed: { headers: Record<string, string>; body: Buffer };
let hostile: HostileServer;
let dir: string;
/** The vector private key as a file (mode 0600), for the CLI cases. */
let keyFile: string;
/** Another RSA key pair (1024 bits: quick to make, the smallest we load). */
const other = generateKeyPairSync('rsa', { modulusLength: 1024 });
const otherKey = new RsaMasterKey({ privateKey: other.privateKey });

before(async () => {
  sealed = await encryptObject(plaintext, {
    masterKey,
    unencryptedContentLength: plaintext.length,
    unencryptedContentMd5: createHash('md5').update(plaintext).digest('base64'),
  });
  hostile = await startHostileServer();
  dir = await mkdtemp(join(tmpdir(), 'oss-cse-cases-'));
  keyFile = join(dir, 'vector.pem');
  await writeFile(keyFile, vectorKeys.privatePkcs8(), { mode: 0o600 });
});

after(async () => {
  await hostile.close();
  await rm(dir, { recursive: true, force: true });
});

/** Decrypts the sealed body with the vector key after `edit` changed its headers. */
function tampered(edit: (h: Record<string, unknown>) => void, body?: Buffer, keys = [masterKey]): () => Promise<unknown> {
  return async () => {
    const h: Record<string, unknown> = { ...sealed.headers };
    edit(h);
    return decryptObject({ headers: h as Record<string, string>, body: body ?? sealed.body }, { masterKeys: keys });
  };
}

/** Serves the sealed object through the hostile server with `status`, extra headers and `body`, then GETs `range`. */
function served(status: number, headers: Record<string, string | undefined>, body: Buffer | ((b: Buffer) => Buffer), range?: { start: number; end: number }): () => Promise<unknown> {
  return async () => {
    hostile.handler = (_req, res) => {
      const all: Record<string, string> = { ...sealed.headers };
      for (const [k, v] of Object.entries(headers)) {
        if (v === undefined) Reflect.deleteProperty(all, k);
        else all[k] = v;
      }
      answer(res, status, all, typeof body === 'function' ? body(sealed.body) : body);
    };
    return hostile.client.get('obj', range === undefined ? {} : { range });
  };
}

const checkpoint = {
  version: 1,
  kind: 'download',
  bucket: 'b',
  key: 'k',
  etag: '"E"',
  size: 3000,
  target: '/tmp/x/out.bin',
  tempFile: '.out.bin.oss-cse-download',
  partSize: 1000,
  parts: [],
  updatedAt: '2024-01-01T00:00:00.000Z',
};
const uploadCheckpoint = {
  version: 1,
  kind: 'upload',
  bucket: 'b',
  key: 'k',
  uploadId: 'U',
  source: { path: '/tmp/x/in.bin', size: 1, mtimeMs: 1 },
  envelope: {},
  partSize: 102400,
  dataSize: 1,
  parts: [],
  updatedAt: '2024-01-01T00:00:00.000Z',
};

const io = (): CliIo => {
  const sink = { write: () => true };
  return { stdout: sink, stderr: sink, stdin: process.stdin, env: {}, cwd: dir } as unknown as CliIo;
};

async function keysFile(name: string, content: unknown): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

/** The expected outcome of a case the product accepts; its `run` checks where everything landed. */
const WORKS = 'works';

/** An object key that climbs out of any directory it is joined to. */
const CLIMBING_KEY = '../../escape';

/** Every path under `root`, relative and sorted. */
async function tree(root: string): Promise<string[]> {
  return (await readdir(root, { recursive: true })).sort();
}

/** Awaits `op`, then runs `check` whatever happened, and returns or rethrows op's outcome once the checks passed. */
async function thenCheck<T>(op: Promise<T>, check: () => Promise<void>): Promise<T> {
  let value: T;
  try {
    value = await op;
  } catch (e) {
    await check();
    throw e;
  }
  await check();
  return value;
}

/** A server that serves the sealed object under any key: HEAD, whole GET, ranged GET; ranges from `failFrom` get a 500. */
function serveSealed(failFrom = Infinity): (req: http.IncomingMessage, res: http.ServerResponse) => void {
  return (req, res) => {
    const headers = { ...sealed.headers, 'last-modified': 'Mon, 01 Jan 2024 00:00:00 GMT' };
    const total = sealed.body.length;
    if (req.method === 'HEAD') {
      res.writeHead(200, { 'x-oss-request-id': 'HOSTILE', etag: '"0123456789ABCDEF0123456789ABCDEF"', ...headers, 'content-length': String(total) });
      res.end();
      return;
    }
    const m = /^bytes=([0-9]+)-([0-9]*)$/.exec(req.headers.range ?? '');
    if (m === null) {
      answer(res, 200, { ...headers, 'content-length': String(total) }, sealed.body);
      return;
    }
    const start = Number(m[1]);
    const end = Math.min(m[2] === '' || m[2] === undefined ? total - 1 : Number(m[2]), total - 1);
    if (start >= failFrom) answer(res, 500, {}, Buffer.from('<Error><Code>InternalError</Code></Error>'));
    else answer(res, 206, { ...headers, 'content-range': `bytes ${start}-${end}/${total}` }, sealed.body.subarray(start, end + 1));
  };
}

/**
 * Serves the sealed object whole with chunked transfer encoding: the GET has no Content-Length, so the size is unknown
 * up front (the CLI's HEAD, which decides between one GET and a parallel download, is answered normally).
 */
function serveChunked(req: http.IncomingMessage, res: http.ServerResponse): void {
  if (req.method === 'HEAD') {
    serveSealed()(req, res);
    return;
  }
  if (req.method !== 'GET' || req.headers.range !== undefined) {
    answer(res, 500, {}, Buffer.from('<Error><Code>InternalError</Code></Error>'));
    return;
  }
  res.writeHead(200, { 'x-oss-request-id': 'HOSTILE', ...sealed.headers, 'last-modified': 'Mon, 01 Jan 2024 00:00:00 GMT' });
  res.write(sealed.body.subarray(0, 1000));
  res.end(sealed.body.subarray(1000));
}

/** A server that takes a multipart upload under any key and fails UploadPart `failPart` with a 500. */
function takeMultipart(failPart: number): (req: http.IncomingMessage, res: http.ServerResponse) => void {
  return (req, res) => {
    const url = new URL(req.url ?? '/', 'http://hostile');
    if (req.method === 'POST' && url.searchParams.has('uploads')) {
      res.writeHead(200, { 'content-type': 'application/xml', 'x-oss-request-id': 'HOSTILE' });
      res.end('<?xml version="1.0" encoding="UTF-8"?><InitiateMultipartUploadResult><Bucket>hostile</Bucket><Key>k</Key><UploadId>UP1</UploadId></InitiateMultipartUploadResult>');
    } else if (req.method === 'PUT' && url.searchParams.has('partNumber') && url.searchParams.get('partNumber') !== String(failPart)) {
      res.writeHead(200, { etag: `"${'A'.repeat(32)}"`, 'x-oss-request-id': 'HOSTILE' });
      res.end();
    } else {
      res.writeHead(500, { 'x-oss-request-id': 'HOSTILE' });
      res.end();
    }
  };
}

/**
 * A resumable download of CLIMBING_KEY: refused before any request (ali-oss resolves dot segments, so the request
 * would address `/escape`); nothing is written, no checkpoint is created. Its checkpoint path, had it run, is still
 * inside the checkpoint directory (the file name is a digest, the key is data).
 */
async function climbingDownload(): Promise<unknown> {
  const root = await mkdtemp(join(dir, 'dl-'));
  const work = join(root, 'work');
  const cpDir = join(root, 'checkpoints');
  await mkdir(work);
  const target = join(work, 'out.bin');
  const checkpoint = defaultCheckpointPath('download', 'hostile', CLIMBING_KEY, target, cpDir);
  assert.equal(dirname(checkpoint), cpDir);
  hostile.handler = serveSealed();
  const before = hostile.seen.length;
  return thenCheck(hostile.client.resumableDownload(CLIMBING_KEY, target, { checkpoint, partSize: 1024, parallel: 1, retries: 0 }), async () => {
    assert.equal(hostile.seen.length, before, 'no request was sent');
    assert.deepEqual(await tree(root), ['work'], 'no file, no temporary file, no checkpoint');
  });
}

/** A multipart upload to CLIMBING_KEY: refused before Initiate; no checkpoint; its checkpoint path stays in its directory. */
async function climbingUpload(): Promise<unknown> {
  const root = await mkdtemp(join(dir, 'up-'));
  const work = join(root, 'work');
  const cpDir = join(root, 'checkpoints');
  await mkdir(work);
  const source = join(work, 'src.bin');
  await writeFile(source, randomBytes(300_000));
  const checkpoint = defaultCheckpointPath('upload', 'hostile', CLIMBING_KEY, source, cpDir);
  assert.equal(dirname(checkpoint), cpDir);
  hostile.handler = takeMultipart(2);
  const before = hostile.seen.length;
  return thenCheck(hostile.client.multipartUpload(CLIMBING_KEY, source, { checkpoint, partSize: 102_400, parallel: 1, retries: 0 }), async () => {
    assert.equal(hostile.seen.length, before, 'no request was sent');
    assert.deepEqual(await tree(root), ['work', 'work/src.bin']);
  });
}

/** Deleting `x/..` (which ali-oss would send as `DELETE /`, a DeleteBucket): refused before any request. */
async function dotDotDelete(): Promise<unknown> {
  const before = hostile.seen.length;
  return thenCheck(hostile.client.delete('x/..'), async () => {
    assert.equal(hostile.seen.length, before, 'no request was sent');
    await Promise.resolve();
  });
}

/**
 * Runs `oss-cse get oss://hostile/KEY DIR/ [extra]` in this process against the hostile server (serving the sealed
 * object under any key), DIR being `area/outer/inner`; the CLI reports a failure as `error [CODE]: …` on stderr,
 * rethrown here as a CseError with that code. `check` gets the tree under `area` and what is left in the checkpoint
 * directory.
 */
async function cliGetInto(
  key: string,
  extra: readonly string[],
  check: (area: string[], checkpoints: string[], into: string, stdout: string) => Promise<void>,
  serve: (req: http.IncomingMessage, res: http.ServerResponse) => void = serveSealed(),
): Promise<unknown> {
  const root = await mkdtemp(join(dir, 'cli-'));
  const home = join(root, 'home');
  const area = join(root, 'area');
  const into = join(area, 'outer', 'inner');
  await mkdir(into, { recursive: true });
  hostile.handler = serve;
  let stderr = '';
  let stdout = '';
  const io: CliIo = {
    stdout: new Writable({ write: (c: Buffer, _e, done) => { stdout += c.toString(); done(); } }),
    stderr: new Writable({ write: (c: Buffer, _e, done) => { stderr += c.toString(); done(); } }),
    env: { OSS_ACCESS_KEY_ID: 'id', OSS_ACCESS_KEY_SECRET: 'secret', OSS_CSE_HOME: home },
  };
  const args = ['get', `oss://hostile/${key}`, `${into}/`, '--endpoint', hostile.endpoint, '--private-key', keyFile, ...extra];
  const run = async (): Promise<number> => {
    const code = await main(args, io);
    if (code === 0) return code;
    const m = /^error \[(ERR_CSE_[A-Z0-9_]+)\]/m.exec(stderr);
    if (m?.[1] === undefined) throw new Error(`exit ${code}: ${stderr}`);
    throw new CseError(m[1] as CseErrorCode, stderr.trim());
  };
  return thenCheck(run(), async () => {
    await check(await tree(area), await readdir(join(home, 'checkpoints')).catch(() => []), into, stdout);
  });
}

/** The CLI wrote the whole plaintext to area/outer/inner/NAME and nothing else anywhere. */
function landedInside(name: string): (area: string[], checkpoints: string[], into: string) => Promise<void> {
  return async (area, checkpoints, into) => {
    assert.deepEqual(area, ['outer', 'outer/inner', `outer/inner/${name}`]);
    assert.ok((await readFile(join(into, name))).equals(plaintext));
    assert.deepEqual(checkpoints, [], 'no checkpoint left');
  };
}

/** The CLI wrote nothing anywhere (not in the target directory, its parent, or theirs). */
async function nothingWritten(area: string[], checkpoints: string[]): Promise<void> {
  assert.deepEqual(area, ['outer', 'outer/inner']);
  assert.deepEqual(checkpoints, [], 'no checkpoint left');
  return Promise.resolve();
}

const V2 = V2Header;
const CASES: readonly { readonly name: string; readonly code: CseErrorCode | typeof WORKS; readonly run: () => Promise<unknown> }[] = [
  // --- the envelope (object metadata): anyone who can write the object's metadata controls these
  { name: 'no crypto headers at all', code: ErrorCode.NOT_ENCRYPTED, run: tampered((h) => { for (const k of Object.keys(h)) Reflect.deleteProperty(h, k); }) },
  { name: 'wrapped key header missing', code: ErrorCode.ENVELOPE_MISSING_HEADER, run: tampered((h) => Reflect.deleteProperty(h, V2.KEY)) },
  { name: 'wrapped IV header missing', code: ErrorCode.ENVELOPE_MISSING_HEADER, run: tampered((h) => Reflect.deleteProperty(h, V2.START)) },
  { name: 'wrapped key is not base64', code: ErrorCode.ENVELOPE_BAD_BASE64, run: tampered((h) => (h[V2.KEY] = '***not base64***')) },
  { name: 'wrapped key in base64url', code: ErrorCode.ENVELOPE_BAD_BASE64, run: tampered((h) => (h[V2.KEY] = String(h[V2.KEY]).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '') + '-_')) },
  { name: 'wrapped key is empty', code: ErrorCode.ENVELOPE_BAD_BASE64, run: tampered((h) => (h[V2.KEY] = '')) },
  { name: 'wrapped IV with whitespace inside', code: ErrorCode.ENVELOPE_BAD_BASE64, run: tampered((h) => (h[V2.START] = `${String(h[V2.START]).slice(0, 10)} ${String(h[V2.START]).slice(10)}`)) },
  { name: 'cek-alg AES/GCM/NoPadding on a V2 object', code: ErrorCode.ENVELOPE_UNSUPPORTED_ALGORITHM, run: tampered((h) => (h[V2.CEK_ALG] = 'AES/GCM/NoPadding')) },
  { name: 'cek-alg DES/ECB', code: ErrorCode.ENVELOPE_UNSUPPORTED_ALGORITHM, run: tampered((h) => (h[V2.CEK_ALG] = 'DES/ECB/PKCS5Padding')) },
  { name: 'unknown wrap-alg', code: ErrorCode.ENVELOPE_UNSUPPORTED_ALGORITHM, run: tampered((h) => (h[V2.WRAP_ALG] = 'ROT13')) },
  { name: 'huge matdesc (1 MiB)', code: ErrorCode.ENVELOPE_MALFORMED, run: tampered((h) => (h[V2.MATDESC] = JSON.stringify({ k: 'x'.repeat(1 << 20) }))) },
  { name: 'matdesc is a JSON array', code: ErrorCode.ENVELOPE_BAD_MATDESC, run: tampered((h) => (h[V2.MATDESC] = '["a"]')) },
  { name: 'matdesc with a non-string value', code: ErrorCode.ENVELOPE_BAD_MATDESC, run: tampered((h) => (h[V2.MATDESC] = '{"a":1}')) },
  { name: 'matdesc is not JSON', code: ErrorCode.ENVELOPE_BAD_MATDESC, run: tampered((h) => (h[V2.MATDESC] = "{'a':'b'}")) },
  { name: 'matdesc with a __proto__ key and nested objects', code: ErrorCode.ENVELOPE_BAD_MATDESC, run: tampered((h) => (h[V2.MATDESC] = '{"__proto__":{"polluted":"yes"}}')) },
  { name: 'unencrypted-content-length negative', code: ErrorCode.ENVELOPE_BAD_NUMBER, run: tampered((h) => (h[V2.UNENCRYPTED_CONTENT_LENGTH] = '-1')) },
  { name: 'unencrypted-content-length in exponent form', code: ErrorCode.ENVELOPE_BAD_NUMBER, run: tampered((h) => (h[V2.UNENCRYPTED_CONTENT_LENGTH] = '3e3')) },
  { name: 'unencrypted-content-length above 2^53', code: ErrorCode.ENVELOPE_BAD_NUMBER, run: tampered((h) => (h[V2.UNENCRYPTED_CONTENT_LENGTH] = '18446744073709551616')) },
  { name: 'part-size not a multiple of 16', code: ErrorCode.ENVELOPE_BAD_NUMBER, run: tampered((h) => { h[V2.PART_SIZE] = '102401'; h[V2.DATA_SIZE] = '3000'; }) },
  { name: 'V1 and V2 envelopes on one object', code: ErrorCode.ENVELOPE_MALFORMED, run: tampered((h) => { h[V1Header.KEY] = h[V2.KEY]; h[V1Header.START] = h[V2.START]; }) },
  { name: 'a crypto header repeated with different values', code: ErrorCode.ENVELOPE_MALFORMED, run: tampered((h) => (h[V2.CEK_ALG] = ['AES/CTR/NoPadding', 'AES/GCM/NoPadding'])) },
  { name: 'a crypto header twice in different case, different values', code: ErrorCode.ENVELOPE_MALFORMED, run: tampered((h) => (h[V2.WRAP_ALG.toUpperCase()] = WrapAlgorithm.RSA_OAEP_SHA1)) },
  {
    name: 'a V1 (legacy, weak counter) object without allowLegacy',
    code: ErrorCode.LEGACY_NOT_ALLOWED,
    run: tampered((h) => {
      for (const k of Object.keys(h)) Reflect.deleteProperty(h, k);
      Object.assign(h, { [V1Header.KEY]: sealed.headers[V2.KEY], [V1Header.START]: sealed.headers[V2.START], [V1Header.CEK_ALG]: 'AES/GCM/NoPadding', [V1Header.WRAP_ALG]: 'rsa' });
    }),
  },
  // --- wrapped material: an attacker can replace it, a broken writer can truncate it
  { name: 'truncated wrapped key', code: ErrorCode.NO_MATCHING_KEY, run: tampered((h) => (h[V2.KEY] = String(h[V2.KEY]).slice(0, -8))) },
  { name: 'wrapped key swapped for the wrapped IV', code: ErrorCode.NO_MATCHING_KEY, run: tampered((h) => (h[V2.KEY] = h[V2.START])) },
  { name: 'wrapped key equal to the modulus (not below it)', code: ErrorCode.NO_MATCHING_KEY, run: tampered((h) => (h[V2.KEY] = modulusOf(masterKey).toString('base64'))) },
  { name: 'object wrapped for another RSA key (wrong RSA key)', code: ErrorCode.NO_MATCHING_KEY, run: tampered(() => undefined, undefined, [otherKey]) },
  { name: 'a KMS envelope and only RSA keys', code: ErrorCode.NO_MATCHING_KEY, run: tampered((h) => (h[V2.WRAP_ALG] = WrapAlgorithm.KMS)) },
  { name: 'only a public key to decrypt with', code: ErrorCode.NO_MATCHING_KEY, run: tampered(() => undefined, undefined, [new RsaMasterKey({ publicKey: masterKey.exportPublicKeyPem() })]) },
  // --- declared facts that lie about the body
  { name: 'declared plaintext length one byte short', code: ErrorCode.INTEGRITY, run: tampered((h) => (h[V2.UNENCRYPTED_CONTENT_LENGTH] = String(plaintext.length - 1))) },
  { name: 'declared plaintext MD5 of other bytes', code: ErrorCode.INTEGRITY, run: tampered((h) => (h[V2.UNENCRYPTED_CONTENT_MD5] = createHash('md5').update('other').digest('base64'))) },
  { name: 'ciphertext truncated by one byte', code: ErrorCode.INTEGRITY, run: async () => tampered(() => undefined, sealed.body.subarray(0, -1))() },
  { name: 'ciphertext with one bit flipped (MD5 catches the accident)', code: ErrorCode.INTEGRITY, run: async () => tampered(() => undefined, flipBit(sealed.body))() },
  // --- servers that lie (the embedded server cannot; the hostile one does). A protocol violation (an unusable
  // Content-Range) is ERR_CSE_TRANSFER; bytes that disagree with what was declared are ERR_CSE_INTEGRITY.
  { name: 'server lies about Content-Range: range past the declared total', code: ErrorCode.TRANSFER, run: served(206, { 'content-range': 'bytes 100-199/150' }, (b) => b.subarray(100, 200), { start: 100, end: 199 }) },
  { name: 'server lies about Content-Range: malformed value', code: ErrorCode.TRANSFER, run: served(206, { 'content-range': 'bytes 1OO-199/3000' }, (b) => b.subarray(100, 200), { start: 100, end: 199 }) },
  // A 206 without Content-Range does not say which bytes it carries: an answer the request does not allow, refused
  // before any plaintext (like a wrong span), not a transport failure.
  { name: 'server answers 206 without Content-Range', code: ErrorCode.INTEGRITY, run: served(206, {}, (b) => b.subarray(100, 200), { start: 100, end: 199 }) },
  { name: 'body longer than its Content-Range declares', code: ErrorCode.INTEGRITY, run: served(206, { 'content-range': 'bytes 96-199/3000' }, (b) => b.subarray(96, 220), { start: 100, end: 199 }) },
  { name: 'whole-object answer shorter than the object', code: ErrorCode.INTEGRITY, run: served(200, {}, (b) => b.subarray(0, 2000)) },
  { name: 'whole-object answer with a wrong CRC-64', code: ErrorCode.INTEGRITY, run: served(200, { 'x-oss-hash-crc64ecma': '12345' }, (b) => b) },
  // A CRC-64 the client cannot parse is itself an integrity error (issue 14), whatever the body; the MD5 would also catch the bit.
  { name: 'CRC-64 header that is not a number, and a flipped bit', code: ErrorCode.INTEGRITY, run: served(200, { 'x-oss-hash-crc64ecma': 'not-a-crc' }, flipBit) },
  { name: 'server answers 416 to a satisfiable range', code: ErrorCode.RANGE_NOT_SATISFIABLE, run: served(416, { 'content-range': 'bytes */3000' }, Buffer.alloc(0), { start: 0, end: 10 }) },
  { name: 'server answers 500 with a garbage body', code: ErrorCode.TRANSFER, run: served(500, {}, Buffer.from('<<<not xml')) },
  { name: 'server answers without crypto headers to a requireEncrypted client', code: ErrorCode.NOT_ENCRYPTED, run: async () => {
    hostile.handler = (_req, res) => answer(res, 200, {}, Buffer.from('plain'));
    return new EncryptionClient(hostile.oss, { masterKey, requireEncrypted: true }).get('obj');
  } },
  // --- checkpoint files: whoever can write the checkpoint directory controls these
  { name: 'download checkpoint whose temporary file points outside its directory (../)', code: ErrorCode.MULTIPART, run: async () => parseDownloadCheckpoint({ ...checkpoint, tempFile: '../../escape' }) },
  { name: 'download checkpoint whose temporary file is an absolute path', code: ErrorCode.MULTIPART, run: async () => downloadTempPath(parseDownloadCheckpoint({ ...checkpoint, tempFile: '/etc/passwd' })) },
  { name: 'download checkpoint whose target is relative', code: ErrorCode.MULTIPART, run: async () => parseDownloadCheckpoint({ ...checkpoint, target: 'out.bin' }) },
  { name: 'checkpoint of a future version', code: ErrorCode.MULTIPART, run: async () => parseDownloadCheckpoint({ ...checkpoint, version: 2 }) },
  { name: 'checkpoint with a part listed twice', code: ErrorCode.MULTIPART, run: async () => parseDownloadCheckpoint({ ...checkpoint, parts: [{ partNumber: 1, crc64: '1' }, { partNumber: 1, crc64: '2' }] }) },
  { name: 'upload checkpoint whose source path is relative', code: ErrorCode.MULTIPART, run: async () => parseUploadCheckpoint({ ...uploadCheckpoint, source: { path: '../in.bin', size: 1, mtimeMs: 1 } }) },
  { name: 'checkpoint file that is not JSON', code: ErrorCode.MULTIPART, run: async () => new FileCheckpointStore(await keysFile('cp.json', '{"version":1,'), parseDownloadCheckpoint).load() },
  // --- key files and keys files: a local user or a careless copy controls these
  { name: 'keys file naming a key file through ../ that does not exist', code: ErrorCode.IO, run: async () => loadCliKeys({ privateKeys: [], keysFile: await keysFile('k1.json', { keys: [{ privateKey: '../../../nonexistent/../x.pem' }] }) }, io(), true, { createDefault: false }) },
  { name: 'keys file with two encrypting keys', code: ErrorCode.INVALID_ARGUMENT, run: async () => planKeysFile(await keysFile('k2.json', { keys: [{ privateKey: 'a.pem', encrypt: true }, { privateKey: 'b.pem', encrypt: true }] })) },
  { name: 'keys file KMS entry carrying a private key path', code: ErrorCode.INVALID_ARGUMENT, run: async () => planKeysFile(await keysFile('k3.json', { keys: [{ type: 'kms', keyId: 'k', privateKey: 'a.pem' }] })) },
  { name: 'keys file that is not JSON', code: ErrorCode.INVALID_ARGUMENT, run: async () => planKeysFile(await keysFile('k4.json', 'keys: [a.pem]')) },
  { name: 'a CERTIFICATE block as the private key', code: ErrorCode.INVALID_KEY, run: async () => loadRsaKeyFile(await keysFile('cert.pem', '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n')) },
  { name: 'a 512-bit RSA key', code: ErrorCode.INVALID_KEY, run: async () => loadRsaKeyFile(await keysFile('small.pem', pem512())) },
  { name: 'an EC key where RSA is expected', code: ErrorCode.INVALID_KEY, run: async () => loadRsaKeyFile(await keysFile('ec.pem', generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString())) },
  { name: 'an encrypted private key without its passphrase', code: ErrorCode.INVALID_KEY, run: async () => loadRsaKeyFile(await keysFile('enc.pem', other.privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'pw' }).toString())) },
  { name: 'a truncated private key PEM', code: ErrorCode.INVALID_KEY, run: async () => loadRsaKeyFile(await keysFile('cut.pem', vectorKeys.privatePkcs8().slice(0, 400) + '\n-----END PRIVATE KEY-----\n')) },
  // --- names with `..` segments or separators: an object key chosen by whoever writes the bucket, a keys file entry
  { name: 'resumable download of object key ../../escape: refused before any request, nothing written', code: ErrorCode.INVALID_ARGUMENT, run: climbingDownload },
  { name: 'multipart upload to object key ../../escape: refused before Initiate, no checkpoint', code: ErrorCode.INVALID_ARGUMENT, run: climbingUpload },
  { name: 'delete of object key x/.. (ali-oss would send DELETE /, a DeleteBucket): refused, nothing sent', code: ErrorCode.INVALID_ARGUMENT, run: dotDotDelete },
  { name: 'CLI get oss://bucket/../x into a directory: refused, nothing written', code: ErrorCode.INVALID_ARGUMENT, run: async () => cliGetInto('../x', [], nothingWritten) },
  { name: 'CLI get oss://bucket/d/../../up into a directory, parallel with --resume: refused, nothing written, no checkpoint', code: ErrorCode.INVALID_ARGUMENT, run: async () => cliGetInto('d/../../up', ['--resume'], nothingWritten) },
  { name: 'CLI get of key a/.. into a directory: refused, nothing written anywhere', code: ErrorCode.INVALID_ARGUMENT, run: async () => cliGetInto('a/..', [], nothingWritten) },
  { name: 'CLI get of key a/.. into a directory, parallel with --resume: refused, nothing written, no checkpoint left', code: ErrorCode.INVALID_ARGUMENT, run: async () => cliGetInto('a/..', ['--resume'], nothingWritten) },
  { name: 'CLI get of key a/. into a directory: refused, nothing written', code: ErrorCode.INVALID_ARGUMENT, run: async () => cliGetInto('a/.', [], nothingWritten) },
  { name: 'CLI get of key deep/path/x into a directory (the control case): the file is DIR/x, nothing else', code: WORKS, run: async () => cliGetInto('deep/path/x', [], landedInside('x')) },
  {
    name: 'CLI get of an answer without Content-Length (chunked): the file is whole and the reported size is the bytes written',
    code: WORKS,
    run: async () =>
      cliGetInto(
        'chunked/x',
        [],
        async (area, checkpoints, into, stdout) => {
          await landedInside('x')(area, checkpoints, into);
          assert.match(stdout, new RegExp(`^downloaded ${plaintext.length} bytes from oss://hostile/chunked/x `));
        },
        serveChunked,
      ),
  },
  {
    // Keys file entries have no name: an unknown "name" field is ignored, and a key's display name comes from its
    // material (rsa-BITS:fingerprint), never from the file.
    name: 'keys file entry with a "name" of ../../x/key.pem: ignored; the key loads from its own path',
    code: WORKS,
    run: async () => {
      const keys = await loadCliKeys({ privateKeys: [], keysFile: await keysFile('k5.json', { keys: [{ name: '../../x/key.pem', privateKey: 'vector.pem' }] }) }, io(), true, { createDefault: false });
      assert.deepEqual(keys.listing.map((l) => [l.file, /^rsa-2048:[0-9a-f]+$/.test(l.name)]), [[keyFile, true]]);
    },
  },
  {
    // A KMS key's name is kms:<keyId>; the key id only ever goes into a KMS request.
    name: 'keys file KMS keyId holding ../ and separators: accepted as an opaque id, no file path',
    code: WORKS,
    run: async () => {
      const plan = await planKeysFile(await keysFile('k6.json', { keys: [{ type: 'kms', keyId: 'alias/../../etc/passwd' }] }));
      assert.deepEqual(plan.specs, [{ kind: 'kms', keyId: 'alias/../../etc/passwd', description: undefined, region: undefined, endpoint: undefined, encryptionContext: undefined, writeForm: undefined }]);
    },
  },
  {
    // Key paths in a keys file are the file's author's to choose (like any configuration file), relative to it.
    name: 'keys file naming an existing key file through ../: followed, relative to the keys file (read only)',
    code: WORKS,
    run: async () => {
      await mkdir(join(dir, 'conf'), { recursive: true });
      const keys = await loadCliKeys({ privateKeys: [], keysFile: await keysFile('conf/k7.json', { keys: [{ privateKey: '../vector.pem' }] }) }, io(), true, { createDefault: false });
      assert.deepEqual(keys.listing.map((l) => l.file), [keyFile]);
    },
  },
  { name: 'keys file naming a key file with a NUL byte in its path', code: ErrorCode.IO, run: async () => loadCliKeys({ privateKeys: [], keysFile: await keysFile('k8.json', { keys: [{ privateKey: 'vector.pem\u0000../../etc/passwd' }] }) }, io(), true, { createDefault: false }) },
];

/** The key's modulus n as big-endian bytes: a "ciphertext" that is not below the modulus. */
function modulusOf(key: RsaMasterKey): Buffer {
  const { n } = createPublicKey(key.exportPublicKeyPem()).export({ format: 'jwk' });
  return Buffer.from(n ?? '', 'base64url');
}

function flipBit(b: Buffer): Buffer {
  const c = Buffer.from(b);
  c[1234] = (c[1234] ?? 0) ^ 0x08;
  return c;
}

function pem512(): string {
  return generateKeyPairSync('rsa', { modulusLength: 512 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
}

test(`the table has at least 40 named malicious or malformed cases (${CASES.length})`, () => {
  assert.ok(CASES.length >= 40);
  assert.equal(new Set(CASES.map((c) => c.name)).size, CASES.length, 'names are unique');
});

for (const c of CASES) {
  test(`${c.name} → ${c.code}`, async () => {
    if (c.code === WORKS) {
      await c.run();
      return;
    }
    await assert.rejects(c.run(), (e: unknown) => {
      if (e instanceof assert.AssertionError) throw e; // a case's own check failed
      assert.ok(e instanceof CseError, `not a CseError: ${String(e)}`);
      assert.equal(e.cseCode, c.code, e.message);
      return true;
    });
  });
}

test('an object key with ../ cannot steer the default checkpoint file out of its directory', async () => {
  const cpDir = join(dir, 'checkpoints');
  await mkdir(cpDir);
  for (const key of ['../../etc/passwd', '..', 'a/../../b', '/abs', '\u0000']) {
    const path = defaultCheckpointPath('download', 'b', key, join(dir, 'out'), cpDir);
    assert.equal(join(path, '..'), cpDir, key);
  }
});
