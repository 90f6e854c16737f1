// Secrets (issue 9, item 5):
// - the plaintext data key and IV of real objects never appear, in hex (either case), base64 or base64url, in
//   checkpoint files, CLI output with --debug (stdout and stderr, errors with stack traces), error messages and
//   stacks, or `util.inspect` of results, errors, clients and keys;
// - the content material handed to a master key is zeroed once the operation that made or opened it is done;
// - private key files: keygen writes 0600; a group/world-writable private key file is refused, a readable one warned
//   about (SECURITY.md "Key files");
// - the PKCS#1 v1.5 unpadding takes the same time for valid and invalid blocks (a statistical check with a generous,
//   documented threshold), and the check has the power to see an early-exit unpadding.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { inspect } from 'node:util';
import type { ContentMaterial, Envelope, WrappedMaterial } from '../../src/format/types.js';
import type { MasterKey, UnwrapContext } from '../../src/keys/master-key.js';
import { EncryptionClient } from '../../src/client.js';
import { ErrorCode } from '../../src/errors.js';
import { parseEnvelope } from '../../src/format/envelope.js';
import { V2Header } from '../../src/format/headers.js';
import { decryptObject, encryptObject } from '../../src/object-crypto.js';
import { RsaMasterKey, unpadPkcs1v15 } from '../../src/keys/rsa.js';
import { loadCliKeys, loadRsaKeyFile, privateKeyFileWarning } from '../../src/cli/keys.js';
import { main } from '../../src/cli/main.js';
import type { CliIo } from '../../src/cli/command.js';
import { vectorKeys } from '../helpers/vectors.js';
import { BUCKET, SLOW, masterKey, runClient, seededBytes, startFaultHarness, type FaultHarness, type RunClient } from './support.js';

let h: FaultHarness;
let c: RunClient;
/** Every data key and IV of the objects these tests made, with where it came from. */
const secrets: { what: string; bytes: Uint8Array }[] = [];

before(async () => {
  h = await startFaultHarness();
  c = runClient(h.server);
});

after(async () => {
  c.close();
  await h.close();
});

/** The forms a secret could take in text. */
function forms(bytes: Uint8Array): string[] {
  const b = Buffer.from(bytes);
  const base64 = b.toString('base64');
  return [b.toString('hex'), b.toString('hex').toUpperCase(), base64, base64.replace(/=+$/, ''), b.toString('base64url')];
}

/** Fails when `text` holds any recorded key or IV in any form. */
function assertNoSecret(text: string, where: string): void {
  assert.ok(secrets.length > 0, 'secrets were recorded first');
  for (const s of secrets) {
    for (const form of forms(s.bytes)) assert.equal(text.includes(form), false, `${where} holds the ${s.what}`);
  }
}

/** Records the plaintext key and IV of a stored object (unwrapped here with the vector key). */
async function recordSecretsOf(name: string): Promise<void> {
  const headers = (await c.oss.head(name)).res.headers as Record<string, string>;
  const material = await masterKey.unwrap(parseEnvelope(headers));
  assert.ok(material !== null);
  secrets.push({ what: `data key of ${name}`, bytes: material.key }, { what: `IV of ${name}`, bytes: material.iv });
}

const fullInspect = (x: unknown): string => inspect(x, { depth: Infinity, showHidden: true, getters: true });

describe('the data key and IV never leak', () => {
  test('into error messages, stacks, causes and inspect output of results, errors, clients and keys', async () => {
    const data = seededBytes(70_000, 5);
    const put = await c.client.put('s/one', data);
    await recordSecretsOf('s/one');
    const got = await c.client.get('s/one');
    const head = await c.client.head('s/one');
    const texts: [string, string][] = [
      ['put result', fullInspect(put)],
      ['get result (without its content)', fullInspect({ ...got, content: undefined })],
      ['head result', fullInspect(head)],
      ['client', fullInspect(c.client)],
      ['master key', fullInspect(masterKey) + JSON.stringify(masterKey)],
    ];
    // Errors on this object's real envelope: wrong key, tampered declared MD5 and length, damaged body.
    const headers = (await c.oss.head('s/one')).res.headers as Record<string, string>;
    const raw = (await c.oss.get('s/one')).content as Buffer;
    const other = new RsaMasterKey({ privateKey: (await import('node:crypto')).generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey });
    const failures: (() => Promise<unknown>)[] = [
      async () => new EncryptionClient(c.oss, { masterKey: other }).get('s/one'),
      async () => decryptObject({ headers: { ...headers, [V2Header.UNENCRYPTED_CONTENT_MD5]: '1B2M2Y8AsgTpgAmY7PhCfg==' }, body: raw }, { masterKeys: [masterKey] }),
      async () => decryptObject({ headers: { ...headers, [V2Header.UNENCRYPTED_CONTENT_LENGTH]: '5' }, body: raw }, { masterKeys: [masterKey] }),
      async () => decryptObject({ headers: { ...headers, [V2Header.UNENCRYPTED_CONTENT_LENGTH]: String(data.length) }, body: raw.subarray(1) }, { masterKeys: [masterKey] }),
      async () => decryptObject({ headers: { ...headers, [V2Header.START]: headers[V2Header.KEY] ?? '' }, body: raw }, { masterKeys: [masterKey] }),
    ];
    for (const [i, f] of failures.entries()) {
      const e = await f().then(
        () => assert.fail(`failure ${i} did not fail`),
        (error: unknown) => error,
      );
      texts.push([`error ${i}`, `${String(e)}\n${(e as Error).stack ?? ''}\n${fullInspect(e)}`]);
    }
    for (const [where, text] of texts) assertNoSecret(text, where);
  });

  test('into checkpoint files of interrupted uploads and downloads', async () => {
    const dir = join(h.dir, 'cp');
    await mkdir(dir);
    const source = join(dir, 'source.bin');
    await writeFile(source, seededBytes(5 * 102_400 + 3, 6));
    const upCp = join(dir, 'up.json');
    const stop = new Error('stop here');
    await assert.rejects(
      c.client.multipartUpload('s/mp', source, {
        partSize: 102_400,
        parallel: 1,
        checkpoint: upCp,
        progress: (fraction) => {
          if (fraction > 0.3 && fraction < 1) throw stop;
        },
      }),
    );
    const upText = await readFile(upCp, 'utf8');
    await c.client.multipartUpload('s/mp', source, { partSize: 102_400, checkpoint: upCp });
    await recordSecretsOf('s/mp');
    assertNoSecret(upText, 'the upload checkpoint');
    const downCp = join(dir, 'down.json');
    await assert.rejects(
      c.client.resumableDownload('s/mp', join(dir, 'out.bin'), {
        partSize: 100_000,
        parallel: 1,
        checkpoint: downCp,
        progress: (fraction) => {
          if (fraction > 0.3 && fraction < 1) throw stop;
        },
      }),
    );
    assertNoSecret(await readFile(downCp, 'utf8'), 'the download checkpoint');
  });

  test('into CLI output with --debug: put, get, head, encrypt, inspect, decrypt, and their failures', async () => {
    const dir = join(h.dir, 'cli');
    await mkdir(dir);
    const local = join(dir, 'local.bin');
    await writeFile(local, seededBytes(40_000, 7));
    const out: string[] = [];
    const sink = (): Writable =>
      new Writable({
        write(chunk: Buffer, _enc, done) {
          out.push(chunk.toString('utf8'));
          done();
        },
      });
    const io: CliIo = {
      stdout: sink(),
      stderr: sink(),
      env: {
        ...process.env,
        OSS_ENDPOINT: h.server.endpoint,
        OSS_ACCESS_KEY_ID: h.server.credentials.accessKeyId,
        OSS_ACCESS_KEY_SECRET: h.server.credentials.accessKeySecret,
        OSS_CSE_HOME: join(dir, 'home'),
      },
    };
    const key = ['--private-key', vectorKeys.privatePath()];
    const url = `oss://${BUCKET}/s/cli`;
    const codes: number[] = [];
    const run = async (...args: string[]): Promise<void> => {
      codes.push(await main([...args, '--debug'], io));
    };
    await run('put', local, url, ...key);
    await recordSecretsOf('s/cli');
    await run('get', url, join(dir, 'back.bin'), ...key);
    await run('head', url, ...key);
    await run('cat', url, ...key);
    await run('encrypt', '--in', local, '--out', join(dir, 'enc.bin'), '--meta-out', join(dir, 'meta.json'), '--public-key', vectorKeys.publicPath());
    const meta = JSON.parse(await readFile(join(dir, 'meta.json'), 'utf8')) as Record<string, string>;
    const material = await masterKey.unwrap(parseEnvelope(meta));
    assert.ok(material !== null);
    secrets.push({ what: 'data key of the offline file', bytes: material.key }, { what: 'IV of the offline file', bytes: material.iv });
    await run('inspect', '--meta', join(dir, 'meta.json'));
    await run('inspect', '--meta', join(dir, 'meta.json'), '--json');
    await run('decrypt', '--in', join(dir, 'enc.bin'), '--out', join(dir, 'dec.bin'), '--meta', join(dir, 'meta.json'), ...key);
    // Failures, with stack traces: a wrong key, a tampered declared MD5.
    const wrong = join(dir, 'wrong.pem');
    await main(['keygen', '--out', join(dir, 'wrong')], io);
    await writeFile(wrong, await readFile(join(dir, 'wrong', 'private.pem')), { mode: 0o600 });
    await run('get', url, join(dir, 'never.bin'), '--private-key', wrong);
    await run('decrypt', '--in', join(dir, 'enc.bin'), '--out', join(dir, 'never2.bin'), '--meta', join(dir, 'meta.json'), '--private-key', wrong);
    await writeFile(join(dir, 'bad-meta.json'), JSON.stringify({ ...meta, [V2Header.UNENCRYPTED_CONTENT_MD5]: '1B2M2Y8AsgTpgAmY7PhCfg==' }));
    await run('decrypt', '--in', join(dir, 'enc.bin'), '--out', join(dir, 'never3.bin'), '--meta', join(dir, 'bad-meta.json'), ...key);
    assert.deepEqual(codes, [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1], out.join(''));
    assert.match(out.join(''), /ERR_CSE_NO_MATCHING_KEY[\s\S]*at /, 'the failures printed stack traces');
    assertNoSecret(out.join(''), 'CLI output');
  });
});

/** A master key that records the material it wraps and unwraps, to check it is zeroed afterwards. */
class RecordingKey implements MasterKey {
  readonly kind = 'rsa' as const;
  readonly name = 'recording';
  readonly description = {};
  readonly seen: ContentMaterial[] = [];
  async wrap(material: ContentMaterial): Promise<WrappedMaterial> {
    this.seen.push(material);
    return masterKey.wrap(material);
  }
  async unwrap(envelope: Envelope, context?: UnwrapContext): Promise<ContentMaterial | null> {
    const m = await masterKey.unwrap(envelope, context);
    if (m !== null) this.seen.push(m);
    return m;
  }
}

const zeroed = (m: ContentMaterial): boolean => m.key.every((b) => b === 0) && m.iv.every((b) => b === 0);

test('the data key and IV are zeroed once each put, get, multipart upload, download and offline call is done', async () => {
  const key = new RecordingKey();
  const client = new EncryptionClient(c.oss, { masterKey: key });
  const data = seededBytes(250_000, 8);
  await client.put('z/put', data);
  await client.get('z/put');
  await client.get('z/put', { range: { start: 100, end: 5000 } });
  let streamed = 0;
  for await (const chunk of (await client.getStream('z/put')).stream) streamed += (chunk as Buffer).length;
  assert.equal(streamed, data.length);
  await client.multipartUpload('z/mp', data, { partSize: 102_400 });
  await client.resumableDownload('z/mp', join(h.dir, 'z.bin'), { partSize: 100_000 });
  const sealed = await encryptObject(data, { masterKey: key });
  await decryptObject({ headers: sealed.headers, body: sealed.body }, { masterKeys: [key] });
  assert.ok(key.seen.length >= 8, `${key.seen.length} materials seen`);
  for (const [i, m] of key.seen.entries()) assert.ok(zeroed(m), `material ${i} was not zeroed`);
});

describe('private key files', () => {
  test('keygen writes private.pem with mode 0600 (and public.pem 0644)', async () => {
    const dir = join(h.dir, 'kg');
    const sink = new Writable({ write: (_c, _e, done) => done() });
    assert.equal(await main(['keygen', '--out', dir], { stdout: sink, stderr: sink, env: {} }), 0);
    assert.equal((await stat(join(dir, 'private.pem'))).mode & 0o777, 0o600);
    assert.equal((await stat(join(dir, 'public.pem'))).mode & 0o777, 0o644);
    assert.equal(await privateKeyFileWarning(join(dir, 'private.pem')), undefined);
  });

  test('a group- or world-writable private key file is refused with ERR_CSE_INVALID_KEY', async () => {
    const path = join(h.dir, 'writable.pem');
    await writeFile(path, vectorKeys.privatePkcs8());
    for (const mode of [0o620, 0o602, 0o666, 0o660]) {
      await chmod(path, mode);
      await assert.rejects(loadRsaKeyFile(path), { code: ErrorCode.INVALID_KEY, message: /writable by other users/ });
    }
    // A public key file is not secret: its mode is not checked.
    const pub = join(h.dir, 'public-writable.pem');
    await writeFile(pub, await readFile(vectorKeys.publicPath()));
    await chmod(pub, 0o666);
    assert.equal((await loadRsaKeyFile(pub)).canUnwrap, false);
  });

  test('a group- or world-readable private key file loads with a warning (printed by the CLI on a terminal only)', async () => {
    const path = join(h.dir, 'readable.pem');
    await writeFile(path, vectorKeys.privatePkcs8());
    await chmod(path, 0o644);
    const warnings: string[] = [];
    await loadRsaKeyFile(path, { onWarning: (m) => warnings.push(m) });
    assert.equal(warnings.length, 1);
    assert.match(warnings[0] ?? '', /readable by other users \(mode 0644\); run chmod 600/);
    await chmod(path, 0o600);
    await loadRsaKeyFile(path, { onWarning: (m) => warnings.push(m) });
    assert.equal(warnings.length, 1, 'no warning at 0600');
    await chmod(path, 0o640);
    for (const tty of [true, false]) {
      let err = '';
      const stderr = Object.assign(new Writable({ write: (chunk: Buffer, _e, done) => ((err += chunk.toString()), done()) }), { isTTY: tty });
      const io: CliIo = { stdout: new Writable({ write: (_c, _e, done) => done() }), stderr, env: {} };
      await loadCliKeys({ privateKeys: [path] }, io, true, { createDefault: false });
      if (tty) assert.match(err, /^oss-cse: warning: private key file .* readable by other users \(mode 0640\)/);
      else assert.equal(err, '');
    }
  });
});

describe('PKCS#1 v1.5 unpadding timing', () => {
  // Each sample times REPS unpaddings of one block; classes are interleaved in random order so drift (turbo, other
  // processes on the 2-core VM) hits them alike. Documented threshold: the medians of every invalid class are within
  // 25 % of the valid class's (a data-dependent early exit over 256 bytes shows up as several times faster).
  const K = 256;
  const REPS = 200;
  const SAMPLES = SLOW ? 3000 : 300;
  const THRESHOLD = 0.25;

  function block(kind: 'valid' | 'bad-first' | 'bad-second' | 'no-separator' | 'short-ps'): Buffer {
    const em = Buffer.alloc(K);
    for (let i = 2; i < K; i++) em[i] = 1 + (randomBytes(1)[0] ?? 0) % 255;
    em[1] = 2;
    em[K - 33] = 0; // 32-byte message
    if (kind === 'bad-first') em[0] = 1;
    if (kind === 'bad-second') em[1] = 3;
    if (kind === 'no-separator') em[K - 33] = 7;
    if (kind === 'short-ps') em[5] = 0;
    return em;
  }

  /** An unpadding that stops at the first bad byte: what the real one must not be. */
  function earlyExit(em: Uint8Array): boolean {
    if (em[0] !== 0 || em[1] !== 2) return false;
    for (let i = 2; i < em.length; i++) if (em[i] === 0) return i >= 10;
    return false;
  }

  function medians(f: (em: Uint8Array) => unknown, kinds: readonly Parameters<typeof block>[0][]): Map<string, number> {
    const blocks = kinds.map((k) => block(k));
    const samples = kinds.map((): number[] => []);
    let sink = 0;
    for (let s = 0; s < SAMPLES; s++) {
      const order = kinds.map((_, i) => i).sort(() => Math.random() - 0.5);
      for (const i of order) {
        const em = blocks[i] ?? Buffer.alloc(0);
        const t0 = process.hrtime.bigint();
        for (let r = 0; r < REPS; r++) if (f(em) !== false) sink++;
        samples[i]?.push(Number(process.hrtime.bigint() - t0));
      }
    }
    assert.ok(sink >= 0);
    const median = (xs: number[]): number => {
      const sorted = [...xs].sort((a, b) => a - b);
      return sorted[Math.floor(sorted.length / 2)] ?? 0;
    };
    return new Map(kinds.map((k, i) => [k, median(samples[i] ?? [])]));
  }

  test(`valid and invalid paddings take the same time (medians within ${THRESHOLD * 100} %), an early exit would not`, () => {
    const kinds = ['valid', 'bad-first', 'bad-second', 'no-separator', 'short-ps'] as const;
    assert.equal(unpadPkcs1v15(block('valid')).ok, true);
    for (const k of kinds.slice(1)) assert.equal(unpadPkcs1v15(block(k)).ok, false, k);
    // Warm up the JIT on every class first.
    medians(unpadPkcs1v15, kinds);
    const ours = medians(unpadPkcs1v15, kinds);
    const base = ours.get('valid') ?? 1;
    const ratios = kinds.map((k) => `${k} ${((ours.get(k) ?? 0) / base).toFixed(3)}`);
    process.stdout.write(`# unpadding medians relative to valid (${SAMPLES} samples × ${REPS}): ${ratios.join(', ')}\n`);
    for (const k of kinds) assert.ok(Math.abs((ours.get(k) ?? 0) / base - 1) < THRESHOLD, ratios.join(', '));
    // Power: the same measurement sees an early exit on the first byte.
    const naive = medians(earlyExit, ['valid', 'bad-first']);
    const naiveRatio = (naive.get('valid') ?? 0) / (naive.get('bad-first') ?? 1);
    process.stdout.write(`# early-exit unpadding: valid / bad-first = ${naiveRatio.toFixed(1)}\n`);
    assert.ok(naiveRatio > 1 + THRESHOLD * 4, `the check would catch an early exit (ratio ${naiveRatio.toFixed(2)})`);
  });
});
