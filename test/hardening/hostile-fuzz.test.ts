// Hostile input, fuzzed (issue 9, item 4): seeded fast-check properties over everything an attacker or a broken peer
// controls: object header maps, matdesc strings, base64 values, wrapped keys of every length, Content-Range answers
// (parsed, and served by a lying server to the real client), checkpoint files and keys files. The property is the same
// everywhere: the call works (and then its result is right), or it throws a CseError with one of the stable codes.
// Anything else (a TypeError, a RangeError from Node, a hang, garbage returned as plaintext) fails the case.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { constants, publicEncrypt, randomBytes } from 'node:crypto';
import { writeFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { CseError, ErrorCode } from '../../src/errors.js';
import { decodeBase64Strict, encodeBase64 } from '../../src/format/base64.js';
import { parseEnvelope } from '../../src/format/envelope.js';
import { GuideHeader, V1Header, V2Header } from '../../src/format/headers.js';
import { parseMatDesc } from '../../src/format/matdesc.js';
import { parseContentRange } from '../../src/format/range.js';
import { decryptObject, encryptObject } from '../../src/object-crypto.js';
import { FileCheckpointStore, parseDownloadCheckpoint, parseUploadCheckpoint } from '../../src/transfer/checkpoint.js';
import { loadRsaKeyFile, planKeysFile } from '../../src/cli/keys.js';
import { vectorKeys } from '../helpers/vectors.js';
import { answer, startHostileServer, type HostileServer } from './hostile-server.js';
import { BASE_SEED, SLOW, masterKey } from './support.js';

/** Cases per property: thousands in all by default, ten times more with SLOW=1. */
const N = (n: number): number => (SLOW ? n * 10 : n);
const CODES = new Set<string>(Object.values(ErrorCode));
let cases = 0;

/** Runs `f`; a throw must be a CseError with a known code (and one of `allowed`, when given). */
async function worksOrCseError<T>(f: () => T | Promise<T>, allowed?: readonly string[]): Promise<{ ok: true; value: T } | { ok: false; error: CseError }> {
  cases++;
  try {
    return { ok: true, value: await f() };
  } catch (e) {
    if (!(e instanceof CseError) || !CODES.has(e.code)) throw new Error(`not a CseError with a code: ${String(e)}`, { cause: e });
    if (allowed !== undefined && !allowed.includes(e.code)) throw new Error(`unexpected code ${e.code}: ${e.message}`, { cause: e });
    return { ok: false, error: e };
  }
}

const options = (runs: number): fc.Parameters<unknown> => ({ seed: BASE_SEED, numRuns: N(runs) });

/** Strings an attacker would try: anything, digits, base64, JSON, very long, control characters, unicode. */
const hostileString = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.stringMatching(/^-?[0-9]{0,25}$/),
  fc.base64String({ maxLength: 400 }),
  fc.json({ maxDepth: 3 }),
  fc.constantFrom('', ' ', '\u0000', 'null', '{}', '[]', '{"a":1}', 'AES/CTR/NoPadding', 'AES/GCM/NoPadding', 'RSA/NONE/PKCS1Padding', 'KMS/ALICLOUD', '-1', '1e3', '0x10', '18446744073709551616'),
  fc.nat({ max: 20_000 }).map((n) => 'A'.repeat(n)),
);

const plaintext = randomBytes(3000);
let sealed: { headers: Record<string, string>; body: Buffer };
let dir: string;

before(async () => {
  sealed = await encryptObject(plaintext, { masterKey, unencryptedContentLength: plaintext.length });
  dir = await mkdtemp(join(tmpdir(), 'oss-cse-fuzz-'));
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
  process.stdout.write(`# hostile fuzz: ${cases} cases (seed ${BASE_SEED})\n`);
});

describe('object headers', () => {
  const names = [...Object.values(V2Header), ...Object.values(V1Header), ...Object.values(GuideHeader)];
  const edit = fc.oneof(
    { weight: 6, arbitrary: fc.constant({ op: 'keep' as const }) },
    { weight: 2, arbitrary: fc.constant({ op: 'delete' as const }) },
    { weight: 3, arbitrary: hostileString.map((value) => ({ op: 'set' as const, value })) },
    { weight: 1, arbitrary: fc.array(hostileString, { maxLength: 3 }).map((value) => ({ op: 'array' as const, value })) },
    { weight: 1, arbitrary: fc.constant({ op: 'upper' as const }) },
  );

  test('any header map: the decrypted plaintext is exact, or a CseError with a code', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(edit, { minLength: names.length, maxLength: names.length }), fc.boolean(), async (edits, allowLegacy) => {
        const headers = new Map<string, string | string[]>([...Object.entries(sealed.headers), ['content-type', 'text/plain']]);
        let changed = false;
        for (const [i, name] of names.entries()) {
          const e = edits[i];
          if (e === undefined || e.op === 'keep') continue;
          changed = true;
          const current = headers.get(name);
          headers.delete(name);
          if (e.op === 'set') headers.set(name, e.value);
          else if (e.op === 'array') headers.set(name, e.value);
          else if (current !== undefined) headers.set(name.toUpperCase(), current);
        }
        const map = Object.fromEntries(headers);
        const r = await worksOrCseError(() => decryptObject({ headers: map, body: sealed.body }, { masterKeys: [masterKey], allowLegacy }));
        if (r.ok && !changed) assert.ok(r.value.equals(plaintext));
        // A changed envelope that still decrypts must have kept the key, IV and everything the checks read.
        if (r.ok) assert.ok(r.value.equals(plaintext), 'a tampered envelope decrypted to other bytes without an error');
        await worksOrCseError(() => parseEnvelope(map));
      }),
      options(1500),
    );
  });
});

describe('matdesc, base64', () => {
  test('any matdesc string: an object of strings, or ERR_CSE_ENVELOPE_BAD_MATDESC', async () => {
    const matdesc = fc.oneof(
      hostileString,
      fc.dictionary(fc.string({ maxLength: 8 }), fc.oneof(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }))).map((d) => JSON.stringify(d)),
      fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
    );
    await fc.assert(
      fc.asyncProperty(matdesc, async (s) => {
        const r = await worksOrCseError(() => parseMatDesc(s), [ErrorCode.ENVELOPE_BAD_MATDESC]);
        if (r.ok) for (const v of Object.values(r.value)) assert.equal(typeof v, 'string');
      }),
      options(3000),
    );
  });

  // Unused trailing bits (`A/==` for `Aw==`) are ignored, as Go's and Java's decoders do: the bytes are unambiguous.
  test('any base64 value: the bytes its text encodes (same length, re-encoding round-trips), or ERR_CSE_ENVELOPE_BAD_BASE64', async () => {
    const value = fc.oneof(
      hostileString,
      fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b).toString('base64')),
      fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b).toString('base64url')),
      fc.tuple(fc.uint8Array({ minLength: 1, maxLength: 64 }), fc.nat(), fc.string({ minLength: 1, maxLength: 1 })).map(([b, at, ch]) => {
        const s = Buffer.from(b).toString('base64');
        const i = at % s.length;
        return s.slice(0, i) + ch + s.slice(i + 1);
      }),
    );
    await fc.assert(
      fc.asyncProperty(value, async (s) => {
        const r = await worksOrCseError(() => decodeBase64Strict(s), [ErrorCode.ENVELOPE_BAD_BASE64]);
        if (r.ok) {
          const again = encodeBase64(r.value);
          assert.equal(again.length, s.length);
          assert.deepEqual(decodeBase64Strict(again), r.value);
          assert.equal(again.slice(0, -3), s.slice(0, -3), 'only the last group may differ (unused bits)');
        }
      }),
      options(5000),
    );
  });
});

describe('wrapped keys', () => {
  const withKey = (key: string, iv?: string): Record<string, string> => ({
    ...sealed.headers,
    [V2Header.KEY]: key,
    ...(iv === undefined ? {} : { [V2Header.START]: iv }),
  });

  test('a wrapped key of every length from 0 to 600 bytes (random content): ERR_CSE_NO_MATCHING_KEY, never garbage', async () => {
    for (let n = 0; n <= 600; n++) {
      const r = await worksOrCseError(
        () => decryptObject({ headers: withKey(encodeBase64(randomBytes(n))), body: sealed.body }, { masterKeys: [masterKey] }),
        [ErrorCode.NO_MATCHING_KEY, ErrorCode.ENVELOPE_BAD_BASE64],
      );
      assert.equal(r.ok, false, `${n} random bytes unwrapped`);
    }
  });

  test('a validly padded PKCS#1 v1.5 key or IV of every message length: only 32 / 16 bytes are accepted, one error otherwise', async () => {
    const pub = masterKey.exportPublicKeyPem();
    const wrap = (m: Uint8Array): string => encodeBase64(publicEncrypt({ key: pub, padding: constants.RSA_PKCS1_PADDING }, m));
    const messages: string[] = [];
    for (let n = 0; n <= 245; n++) {
      const key = wrap(randomBytes(n));
      const r = await worksOrCseError(() => decryptObject({ headers: withKey(key), body: sealed.body }, { masterKeys: [masterKey], verifyIntegrity: false }), [
        ErrorCode.NO_MATCHING_KEY,
      ]);
      assert.equal(r.ok, n === 32, `a ${n}-byte data key`);
      if (!r.ok) messages.push(r.error.message.replace(/[0-9]+/g, '#'));
      const iv = wrap(randomBytes(n));
      const s = await worksOrCseError(() => decryptObject({ headers: withKey(sealed.headers[V2Header.KEY] ?? '', iv), body: sealed.body }, { masterKeys: [masterKey], verifyIntegrity: false }), [
        ErrorCode.NO_MATCHING_KEY,
      ]);
      assert.equal(s.ok, n === 16, `a ${n}-byte IV`);
    }
    // No length oracle: every wrong length gives the same message (digits aside).
    assert.equal(new Set(messages).size, 1, [...new Set(messages)].join('\n'));
  });
});

describe('Content-Range', () => {
  test('any Content-Range value: parsed to a consistent range or null, never a throw', async () => {
    const value = fc.oneof(
      hostileString,
      fc.tuple(fc.nat(), fc.nat(), fc.oneof(fc.nat().map(String), fc.constant('*')), fc.constantFrom('bytes ', 'BYTES ', 'bytes=', '')).map(
        ([a, b, t, unit]) => `${unit}${a}-${b}/${t}`,
      ),
    );
    await fc.assert(
      fc.asyncProperty(value, async (s) => {
        const r = await worksOrCseError(() => parseContentRange(s), []);
        assert.ok(r.ok);
        const cr = r.value;
        if (cr !== null) assert.ok(cr.start <= cr.end && (cr.total === undefined || cr.end < cr.total));
      }),
      options(3000),
    );
  });

  describe('served by a lying server to the real client', () => {
    let hostile: HostileServer;
    before(async () => {
      hostile = await startHostileServer();
    });
    after(async () => {
      await hostile.close();
    });

    test('a random status, Content-Range and body length: the bytes of the range the answer reports, or a CseError', async () => {
      const total = sealed.body.length;
      const answerArb = fc.record({
        status: fc.constantFrom(200, 206, 206, 206, 416, 304, 500),
        start: fc.integer({ min: -2, max: total + 20 }),
        length: fc.integer({ min: 0, max: 400 }),
        declaredTotal: fc.oneof(fc.constant(total), fc.integer({ min: 0, max: total * 2 }), fc.constant(-1)),
        bodyDelta: fc.constantFrom(0, 0, 0, -1, 1, -16, 17),
        omitRange: fc.boolean(),
        request: fc.tuple(fc.nat({ max: total + 10 }), fc.nat({ max: 500 })),
      });
      await fc.assert(
        fc.asyncProperty(answerArb, async (a) => {
          const start = Math.max(0, a.start);
          const end = start + a.length - 1;
          hostile.handler = (_req, res) => {
            const body = sealed.body.subarray(start, Math.max(start, start + a.length + a.bodyDelta));
            const headers: Record<string, string> = { ...sealed.headers };
            if (!a.omitRange) headers['content-range'] = `bytes ${a.start}-${end}/${a.declaredTotal < 0 ? '*' : a.declaredTotal}`;
            answer(res, a.status, headers, a.status === 304 ? Buffer.alloc(0) : body);
          };
          const [from, len] = a.request;
          const r = await worksOrCseError(() => hostile.client.get('obj', { range: { start: from, end: from + len } }));
          if (r.ok && r.value.res.status === 304) assert.equal(r.value.content.length, 0, 'a 304 answer carries no bytes');
          else if (r.ok) {
            const got = r.value;
            const slice = got.range === undefined ? plaintext : plaintext.subarray(got.range.start, got.range.end + 1);
            assert.ok(got.content.equals(slice), `returned bytes are not the plaintext of ${JSON.stringify(got.range)}`);
          }
        }),
        options(300),
      );
    });
  });
});

describe('checkpoint files, keys files', () => {
  const validDownload = {
    version: 1,
    kind: 'download',
    bucket: 'b',
    key: 'k',
    etag: '"E"',
    size: 1000,
    crc64: '123',
    target: '/tmp/x/out.bin',
    tempFile: '.out.bin.oss-cse-download',
    partSize: 100,
    parts: [{ partNumber: 1, crc64: '5' }],
    updatedAt: '2024-01-01T00:00:00.000Z',
  };
  const validUpload = {
    version: 1,
    kind: 'upload',
    bucket: 'b',
    key: 'k',
    uploadId: 'U',
    source: { path: '/tmp/x/in.bin', size: 1000, mtimeMs: 1 },
    envelope: {},
    partSize: 102400,
    dataSize: 1000,
    parts: [{ partNumber: 1, etag: '"E"', size: 1000, crc64: '5' }],
    updatedAt: '2024-01-01T00:00:00.000Z',
  };
  /** A valid record with one field replaced by anything JSON can hold, or a path-like string. */
  const mutated = (base: Record<string, unknown>): fc.Arbitrary<unknown> =>
    fc
      .tuple(
        fc.constantFrom(...Object.keys(base), 'parts.0', 'source.path'),
        fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constantFrom('../../etc/passwd', '/abs/path', '..', '.', 'a/b', 'a\\b', 'x\u0000y', -1, 1.5, 2 ** 60)),
      )
      .map(([field, value]) => {
        const copy: Record<string, unknown> = structuredClone(base);
        const [head, tail] = field.split('.');
        if (tail === undefined) copy[field] = value;
        else if (head !== undefined && typeof copy[head] === 'object' && copy[head] !== null) (copy[head] as Record<string, unknown>)[tail] = value;
        return copy;
      });

  test('any checkpoint record: a checked checkpoint, or ERR_CSE_MULTIPART', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(mutated(validDownload), mutated(validUpload), fc.jsonValue({ maxDepth: 3 })), async (value) => {
        const d = await worksOrCseError(() => parseDownloadCheckpoint(value), [ErrorCode.MULTIPART]);
        if (d.ok) assert.ok(!d.value.tempFile.includes('/') && d.value.tempFile !== '..');
        await worksOrCseError(() => parseUploadCheckpoint({ ...(value as object), envelope: sealed.headers }), [ErrorCode.MULTIPART]);
      }),
      options(3000),
    );
  });

  test('any checkpoint file content: loaded, or ERR_CSE_MULTIPART', async () => {
    const path = join(dir, 'cp.json');
    const store = new FileCheckpointStore(path, parseDownloadCheckpoint);
    await fc.assert(
      fc.asyncProperty(fc.oneof(hostileString, mutated(validDownload).map((v) => JSON.stringify(v)), fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b).toString('latin1'))), async (text) => {
        await writeFile(path, text, 'latin1');
        await worksOrCseError(() => store.load(), [ErrorCode.MULTIPART]);
      }),
      options(500),
    );
  });

  test('any keys file: a key plan, or ERR_CSE_INVALID_ARGUMENT / ERR_CSE_ENVELOPE_BAD_MATDESC', async () => {
    const path = join(dir, 'keys.json');
    const entry = fc.oneof(
      fc.record({ privateKey: fc.oneof(fc.constant('private.pem'), hostileString), description: fc.jsonValue({ maxDepth: 2 }), wrap: fc.constantFrom('pkcs1', 'oaep', 'x'), encrypt: fc.jsonValue({ maxDepth: 1 }) }, { requiredKeys: [] }),
      fc.record({ type: fc.constantFrom('kms', 'rsa', 'x'), keyId: hostileString, region: fc.jsonValue({ maxDepth: 1 }), encryptionContext: fc.jsonValue({ maxDepth: 2 }), writeForm: fc.constantFrom('go', 'oss2', 'x') }, { requiredKeys: [] }),
      fc.jsonValue({ maxDepth: 2 }),
    );
    const content = fc.oneof(
      fc.array(entry, { maxLength: 4 }).map((keys) => JSON.stringify({ keys })),
      fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
      hostileString,
    );
    await fc.assert(
      fc.asyncProperty(content, async (text) => {
        await writeFile(path, text);
        await worksOrCseError(() => planKeysFile(path), [ErrorCode.INVALID_ARGUMENT, ErrorCode.ENVELOPE_BAD_MATDESC]);
      }),
      options(1000),
    );
  });

  test('any key file content (PEM-shaped or not): an RSA key, or ERR_CSE_INVALID_KEY', async () => {
    const path = join(dir, 'key.pem');
    const pem = vectorKeys.privatePkcs8();
    const content = fc.oneof(
      hostileString,
      fc.tuple(fc.nat({ max: pem.length - 1 }), fc.nat({ max: 200 })).map(([at, n]) => pem.slice(0, at) + pem.slice(at + n)),
      fc.tuple(fc.nat({ max: pem.length - 1 }), fc.string({ minLength: 1, maxLength: 4 })).map(([at, s]) => pem.slice(0, at) + s + pem.slice(at + s.length)),
      fc.constantFrom('-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n', '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n', '-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n'),
    );
    await fc.assert(
      fc.asyncProperty(content, async (text) => {
        await writeFile(path, text);
        await worksOrCseError(() => loadRsaKeyFile(path), [ErrorCode.INVALID_KEY]);
      }),
      options(500),
    );
  });
});
