// The port suite: real-world ali-oss snippets, written once against ali-oss's API, run UNCHANGED against a plain
// ali-oss client and against EncryptionClient on the embedded server. Each snippet returns a record of its control
// flow (which branch ran, what it read); both runs must give the same record, and the encrypted run must really have
// stored ciphertext. docs/errors.md and docs/ali-oss-porting.md describe the rules these snippets rely on.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OSS from 'ali-oss';
import { startServer, type RunningServer } from '../../server/src/index.js';
import { EncryptionClient } from '../../src/client.js';
import { CseError, ErrorCode } from '../../src/errors.js';
import { RsaMasterKey, generateRsaKeyPair } from '../../src/keys/rsa.js';

const BUCKET = 'port-suite';
const PART = 100 * 1024;

/** What the snippets call: the intersection of ali-oss's client and EncryptionClient, typed loosely like JS code. */
type Client = any;

// ---- the snippets (ali-oss code as it is found in applications) ------------------------------------------------

async function exists(client: Client, name: string): Promise<boolean> {
  try {
    await client.head(name);
    return true;
  } catch (e: any) {
    if (e.code === 'NoSuchKey') return false;
    throw e;
  }
}

async function readOrDefault(client: Client, name: string, fallback: string): Promise<string> {
  try {
    const { content } = await client.get(name);
    return content.toString();
  } catch (e: any) {
    if (e.name === 'NoSuchKeyError' && e.status === 404) return fallback;
    throw e;
  }
}

async function classify(run: () => Promise<unknown>): Promise<string> {
  try {
    await run();
    return 'ok';
  } catch (e: any) {
    switch (e.code) {
      case 'NoSuchKey':
        return `missing-key ${e.status} ${e.name}`;
      case 'NoSuchBucket':
        return `missing-bucket ${e.status} ${e.name}`;
      case 'AccessDenied':
      case 'InvalidAccessKeyId':
      case 'SignatureDoesNotMatch':
        return `denied ${e.status} ${e.name}`;
      default:
        return `other ${String(e.code)}`;
    }
  }
}

/** ali-oss's documented resumable upload: keep the checkpoint progress hands out; after a failure, pass it back. */
async function resumableUpload(client: Client, name: string, file: string, stopAfterParts: number): Promise<unknown[]> {
  const trace: unknown[] = [];
  let checkpoint: any;
  try {
    await client.multipartUpload(name, file, {
      partSize: PART,
      parallel: 1,
      progress: async (p: number, cpt: any) => {
        trace.push(['p', p, cpt === null ? null : cpt.doneParts.length]);
        checkpoint = cpt;
        if (cpt !== null && cpt.doneParts.length === stopAfterParts) throw new Error('connection lost');
      },
    });
  } catch (e: any) {
    trace.push(['failed', e.message.includes('connection lost')]);
  }
  trace.push(['checkpoint', checkpoint.name.replace(/^[a-z]+\//, ''), checkpoint.fileSize, checkpoint.partSize, typeof checkpoint.uploadId, checkpoint.doneParts.length]);
  const result = await client.multipartUpload(name, file, {
    partSize: PART,
    parallel: 1,
    checkpoint,
    progress: (p: number, cpt: any) => {
      trace.push(['resumed p', p, cpt === null ? null : cpt.doneParts.length]);
    },
  });
  trace.push(['done', result.name.replace(/^[a-z]+\//, ''), result.res.status]);
  return trace;
}

async function downloadToFile(client: Client, name: string, path: string): Promise<unknown[]> {
  const r = await client.get(name, path);
  return [r.res.status, readFileSync(path).length];
}

async function headInfo(client: Client, name: string): Promise<unknown[]> {
  const r = await client.head(name);
  return [r.status, r.meta, r.res.status, Number(r.res.headers['content-length'])];
}

async function listAll(client: Client, prefix: string): Promise<unknown[]> {
  const names: unknown[] = [];
  let marker: string | undefined;
  do {
    const page = await client.list({ prefix, marker, 'max-keys': 2 });
    for (const o of page.objects ?? []) names.push([o.name, o.size]);
    marker = page.isTruncated ? page.nextMarker : undefined;
  } while (marker !== undefined);
  return names;
}

// ---- the harness -------------------------------------------------------------------------------------------------

describe('ali-oss snippets run unchanged on ali-oss and on EncryptionClient', () => {
  let server: RunningServer;
  let dir: string;
  let plain: OSS;
  let encrypted: EncryptionClient;
  let masterKey: RsaMasterKey;
  const ossWith = (extra: Record<string, string>): OSS =>
    new OSS({ endpoint: server.endpoint, bucket: BUCKET, ...server.credentials, ...extra });

  before(async () => {
    server = await startServer({ memory: true, buckets: [BUCKET], kms: false });
    dir = mkdtempSync(join(tmpdir(), 'oss-cse-port-'));
    plain = ossWith({});
    masterKey = new RsaMasterKey({ privateKey: (await generateRsaKeyPair(2048)).privateKeyPem });
    encrypted = new EncryptionClient(ossWith({}), { masterKey });
  });
  after(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Runs a snippet on both clients (each in its own key space) and returns both records. */
  async function both<T>(snippet: (client: Client, prefix: string) => Promise<T>): Promise<[T, T]> {
    return [await snippet(plain, 'plain/'), await snippet(encrypted, 'cse/')];
  }

  test('error branches: NoSuchKey by code and by name, NoSuchBucket, denied; ali-oss fields kept, cseCode added', async () => {
    const [a, b] = await both(async (client, p) => {
      await client.put(`${p}present.txt`, Buffer.from('here'));
      return [
        await exists(client, `${p}present.txt`),
        await exists(client, `${p}absent.txt`),
        await readOrDefault(client, `${p}present.txt`, 'fallback'),
        await readOrDefault(client, `${p}absent.txt`, 'fallback'),
        await classify(async () => client.get(`${p}absent.txt`)),
      ];
    });
    assert.deepEqual(a, [true, false, 'here', 'fallback', 'missing-key 404 NoSuchKeyError']);
    assert.deepEqual(b, a);

    const wrongBucket = ossWith({ bucket: 'no-such-bucket' });
    const wrongSecret = ossWith({ accessKeySecret: 'not-the-secret' });
    for (const [oss, expected] of [[wrongBucket, /^missing-bucket 404 NoSuchBucketError$/], [wrongSecret, /^denied 403 /]] as const) {
      const viaPlain = await classify(async () => oss.get('x'));
      const viaCse = await classify(async () => new EncryptionClient(oss, { masterKey }).get('x'));
      assert.match(viaPlain, expected);
      assert.equal(viaCse, viaPlain);
    }

    // The same error object, field by field.
    const plainError: any = await plain.get('plain/absent.txt').catch((e: unknown) => e);
    const cseError: any = await encrypted.get('cse/absent.txt').catch((e: unknown) => e);
    for (const field of ['name', 'code', 'status'] as const) assert.equal(cseError[field], plainError[field], field);
    assert.match(cseError.requestId, /^[0-9A-F]{24}$/);
    assert.equal(typeof cseError.hostId, typeof plainError.hostId);
    assert.ok(cseError.params !== undefined);
    assert.ok(cseError instanceof CseError);
    assert.equal(cseError.cseCode, ErrorCode.TRANSFER);
  });

  test('resumable multipart upload: progress(p, checkpoint, res), fail, resume with the checkpoint; same trace', async () => {
    const file = join(dir, 'upload.bin');
    const content = randomBytes(5 * PART + 1234);
    writeFileSync(file, content);
    const [a, b] = await both(async (client, p) => resumableUpload(client, `${p}big.bin`, file, 2));
    assert.deepEqual(b, a);
    // 1 is reported exactly once per upload (after Complete), and the object is whole.
    assert.equal(a.filter((t: any) => t[1] === 1).length, 1);
    assert.deepEqual((await encrypted.get('cse/big.bin')).content, content);
    assert.deepEqual((await plain.get('plain/big.bin')).content, content);
    assert.notDeepEqual((await plain.get('cse/big.bin')).content, content, 'the encrypted run stored ciphertext');
  });

  test('the checkpoint progress hands out carries the wrapped envelope, never key material', async () => {
    const file = join(dir, 'cpt.bin');
    writeFileSync(file, randomBytes(3 * PART));
    let seen: any;
    await encrypted.multipartUpload('cse/cpt.bin', file, {
      partSize: PART,
      progress: (_p, cpt) => {
        if (cpt !== null) seen = cpt;
      },
    });
    assert.equal(typeof seen.envelope['x-oss-meta-client-side-encryption-key'], 'string');
    const json = JSON.stringify(seen);
    assert.ok(!/"(iv|dataKey|plaintextKey|material|contentKey)"\s*:/i.test(json), json);
    assert.deepEqual(Object.keys(seen.envelope).filter((h) => !h.startsWith('x-oss-meta-client-side-encryption-')), []);
  });

  test('get to a file, head and a paged list: same results', async () => {
    const [a, b] = await both(async (client, p) => {
      for (const n of ['a', 'b', 'c']) await client.put(`${p}list/${n}.txt`, Buffer.from(`object ${n}`), { meta: { owner: n } });
      return [
        await downloadToFile(client, `${p}list/a.txt`, join(dir, `${p.slice(0, -1)}-a.txt`)),
        await headInfo(client, `${p}list/b.txt`),
        (await listAll(client, `${p}list/`)).map((x: any) => [x[0].slice(p.length), x[1]]),
      ];
    });
    assert.deepEqual(b, a);
  });
});
