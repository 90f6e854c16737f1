// Multipart ciphertext invariants: an encrypted multipart upload with any valid part size, uploaded in any order (or
// in parallel from any kind of source), stores exactly the single-PUT ciphertext for the same data key and IV; and the
// Go vector `multipart-1048579-ps262144` is reproduced, both with its key/IV as fixed material and by continuing an
// upload initiated with Go's own headers (our UploadPart crypto headers then equal Go's byte for byte).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { ctrXor } from '../../src/cipher/aes-ctr.js';
import { V2Header } from '../../src/format/headers.js';
import { crc64 } from '../../src/transfer/crc64.js';
import {
  CONTEXT_VERSION,
  completeEncryptedUpload,
  initiateEncryptedUpload,
  uploadEncryptedPart,
  type MultipartContext,
  type UploadedPart,
} from '../../src/transfer/multipart.js';
import { multipartUpload } from '../../src/transfer/multipart-upload.js';
import { readVectorFile, vectorJson } from '../helpers/vectors.js';
import { KIB100, rawObject, shuffled, startTransferHarness, testBytes, type TransferHarness } from './support.js';

const RUNS = process.env.SLOW ? 200 : 10;
let h: TransferHarness;

before(async () => {
  h = await startTransferHarness();
});

after(async () => {
  await h.close();
});

const ivArbitrary = fc.oneof(
  fc.uint8Array({ minLength: 16, maxLength: 16 }),
  // Counters that carry across 2^32 and 2^64 within the object.
  fc.uint8Array({ minLength: 8, maxLength: 8 }).map((head) => Uint8Array.from([...head, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xf0])),
  fc.uint8Array({ minLength: 8, maxLength: 8 }).map((head) => Uint8Array.from([...head, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe])),
);
const keyArbitrary = fc.uint8Array({ minLength: 32, maxLength: 32 });
/** Valid part sizes: multiples of 16 from 100 KiB to 100 KiB + 64 KiB. */
const partSizeArbitrary = fc.integer({ min: 0, max: 4096 }).map((k) => KIB100 + 16 * k);

test('parts uploaded in any order with any valid part size store exactly the single-PUT ciphertext', async () => {
  let n = 0;
  await fc.assert(
    fc.asyncProperty(
      partSizeArbitrary.chain((partSize) =>
        fc.tuple(fc.constant(partSize), fc.integer({ min: partSize + 1, max: partSize * 4 + 17 }), fc.integer(), keyArbitrary, ivArbitrary),
      ),
      async ([partSize, dataSize, seed, key, iv]) => {
        const name = `prop/order/${n++}`;
        const location = { bucket: 'transfer-tests', key: name };
        const plaintext = testBytes(dataSize, seed);
        const { context } = await initiateEncryptedUpload(h.store, location, {
          masterKey: h.masterKey,
          dataSize,
          partSize,
          cache: h.cache,
          contentMaterial: { key, iv },
        });
        const count = Math.ceil(dataSize / partSize);
        const order = shuffled(Array.from({ length: count }, (_, i) => i + 1), seed);
        const parts: UploadedPart[] = [];
        for (const partNumber of order) {
          const start = (partNumber - 1) * partSize;
          parts.push(
            await uploadEncryptedPart(h.store, location, context, partNumber, plaintext.subarray(start, Math.min(start + partSize, dataSize)), {
              keys: h.keys,
              cache: h.cache,
            }),
          );
        }
        const done = await completeEncryptedUpload(h.store, location, context, shuffled(parts, seed + 1), { cache: h.cache });
        const expected = ctrXor(key, iv, plaintext);
        const stored = await rawObject(h.oss, name);
        assert.ok(stored.equals(expected), `stored ciphertext differs (partSize ${partSize}, dataSize ${dataSize}, order ${order.join(',')})`);
        assert.equal(done.crc64, crc64(expected).toString());
        const read = await h.client.get(name);
        assert.ok(read.content.equals(plaintext));
        await h.oss.delete(name);
      },
    ),
    { numRuns: RUNS },
  );
});

test('multipartUpload in parallel from a file, bytes or a stream stores exactly the single-PUT ciphertext', async () => {
  let n = 0;
  await fc.assert(
    fc.asyncProperty(
      partSizeArbitrary.chain((partSize) =>
        fc.tuple(
          fc.constant(partSize),
          fc.integer({ min: partSize + 1, max: partSize * 5 }),
          fc.integer({ min: 1, max: 5 }),
          fc.constantFrom('file', 'bytes', 'stream'),
          fc.integer({ min: 1, max: 70_000 }),
          keyArbitrary,
          ivArbitrary,
        ),
      ),
      async ([partSize, dataSize, parallel, kind, chunk, key, iv]) => {
        const name = `prop/parallel/${n++}`;
        const plaintext = testBytes(dataSize, n);
        const path = join(h.dir, `source-${n}.bin`);
        if (kind === 'file') await writeFile(path, plaintext);
        const source =
          kind === 'file'
            ? ({ kind: 'file', path } as const)
            : kind === 'bytes'
              ? ({ kind: 'bytes', bytes: plaintext } as const)
              : ({
                  kind: 'stream',
                  length: dataSize,
                  stream: (async function* chunks(): AsyncGenerator<Uint8Array> {
                    for (let i = 0; i < dataSize; i += chunk) yield plaintext.subarray(i, i + chunk);
                  })(),
                } as const);
        const result = await multipartUpload(h.store, { bucket: 'transfer-tests', key: name }, source, {
          masterKey: h.masterKey,
          keys: h.keys,
          cache: h.cache,
          partSize,
          parallel,
          contentMaterial: { key, iv },
        });
        assert.equal(result.method, 'multipart');
        assert.equal(result.partCount, Math.ceil(dataSize / partSize));
        const expected = ctrXor(key, iv, plaintext);
        assert.ok((await rawObject(h.oss, name)).equals(expected), `${kind}, parallel ${parallel}, partSize ${partSize}, dataSize ${dataSize}`);
        assert.equal(result.crc64, crc64(expected).toString());
        await h.oss.delete(name);
      },
    ),
    { numRuns: RUNS },
  );
});

interface GoRequest {
  readonly method: string;
  readonly query: string;
  readonly headers: Record<string, string>;
  readonly body_len: number;
  readonly body_sha256?: string;
}

function goVector(): {
  partSize: number;
  key: Buffer;
  iv: Buffer;
  plaintext: Buffer;
  ciphertext: Buffer;
  requests: GoRequest[];
} {
  const c = (vectorJson('go').cases as { name: string }[]).find((x) => x.name === 'multipart-1048579-ps262144') as unknown as {
    part_size: number;
    data_key_hex: string;
    iv_hex: string;
    ciphertext_file: string;
    plaintext_sha256: string;
    requests: GoRequest[];
  };
  const plaintext = readVectorFile('go', 'put-1048579.plain.bin');
  assert.equal(createHash('sha256').update(plaintext).digest('hex'), c.plaintext_sha256);
  return {
    partSize: c.part_size,
    key: Buffer.from(c.data_key_hex, 'hex'),
    iv: Buffer.from(c.iv_hex, 'hex'),
    plaintext,
    ciphertext: readVectorFile('go', c.ciphertext_file),
    requests: c.requests,
  };
}

function cryptoHeaders(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => name.startsWith('x-oss-meta-client-side-encryption-')));
}

test('Go vector multipart-1048579-ps262144: reverse-order parts with its key and IV give its ciphertext, and every request carries the crypto headers', async () => {
  const v = goVector();
  const location = { bucket: 'transfer-tests', key: 'vector/multipart-ours' };
  const before = h.agent.log.length;
  const { context } = await initiateEncryptedUpload(h.store, location, {
    masterKey: h.masterKey,
    dataSize: v.plaintext.length,
    partSize: v.partSize,
    cache: h.cache,
    contentMaterial: { key: v.key, iv: v.iv },
  });
  const parts: UploadedPart[] = [];
  for (const partNumber of [5, 4, 3, 2, 1]) {
    const start = (partNumber - 1) * v.partSize;
    const part = await uploadEncryptedPart(h.store, location, context, partNumber, v.plaintext.subarray(start, start + v.partSize), {
      keys: h.keys,
      cache: h.cache,
    });
    // The part body is the vector's: same CRC-64 as its ciphertext slice, same SHA-256 as Go's request body.
    const slice = v.ciphertext.subarray(start, start + v.partSize);
    assert.equal(part.crc64, crc64(slice).toString());
    const go = v.requests.find((r) => r.method === 'PUT' && r.query.startsWith(`partNumber=${partNumber}&`));
    assert.equal(createHash('sha256').update(slice).digest('hex'), go?.body_sha256);
    parts.push(part);
  }
  await completeEncryptedUpload(h.store, location, context, parts, { cache: h.cache });
  assert.ok((await rawObject(h.oss, location.key)).equals(v.ciphertext));

  const sent = h.agent.log.slice(before);
  const initiate = sent.filter((r) => r.method === 'POST' && /[?&]uploads(=?)(&|$)/.test(r.path));
  const uploads = sent.filter((r) => r.method === 'PUT' && /[?&]partNumber=/.test(r.path));
  assert.equal(initiate.length, 1);
  assert.equal(uploads.length, 5);
  const initiateCrypto = cryptoHeaders(initiate[0]?.headers ?? {});
  assert.equal(initiateCrypto[V2Header.DATA_SIZE], '1048579');
  assert.equal(initiateCrypto[V2Header.PART_SIZE], '262144');
  for (const name of [V2Header.KEY, V2Header.START, V2Header.CEK_ALG, V2Header.WRAP_ALG]) assert.ok(initiateCrypto[name]);
  // Initiate also stores the plaintext length (= data-size, issue 14 item 2); parts repeat everything else, as Go does.
  assert.equal(initiateCrypto[V2Header.UNENCRYPTED_CONTENT_LENGTH], '1048579');
  const { [V2Header.UNENCRYPTED_CONTENT_LENGTH]: _length, ...partCrypto } = initiateCrypto;
  for (const part of uploads) assert.deepEqual(cryptoHeaders(part.headers), partCrypto, `crypto headers of ${part.path}`);
  assert.ok((await h.client.get(location.key)).content.equals(v.plaintext));
});

test("Go vector: continuing an upload initiated with Go's headers sends Go's UploadPart crypto headers and stores Go's ciphertext", async () => {
  const v = goVector();
  const name = 'vector/multipart-go-initiated';
  const goInitiate = v.requests.find((r) => r.method === 'POST' && r.query === 'uploads');
  assert.ok(goInitiate);
  const envelope = cryptoHeaders(goInitiate.headers);
  const init = await h.oss.initMultipartUpload(name, { headers: envelope });
  const context: MultipartContext = {
    version: CONTEXT_VERSION,
    bucket: 'transfer-tests',
    key: name,
    uploadId: init.uploadId,
    dataSize: v.plaintext.length,
    partSize: v.partSize,
    envelope,
  };
  // Through JSON, as a context kept by another process would be.
  const revived = JSON.parse(JSON.stringify(context)) as MultipartContext;
  const before = h.agent.log.length;
  const parts = [];
  for (const partNumber of [5, 4, 3, 2, 1]) {
    const start = (partNumber - 1) * v.partSize;
    parts.push(await h.client.uploadPart(name, revived, partNumber, v.plaintext.subarray(start, start + v.partSize)));
  }
  await h.client.completeMultipartUpload(name, revived, parts.map((p) => ({ number: p.number, etag: p.etag })));
  assert.ok((await rawObject(h.oss, name)).equals(v.ciphertext));
  const ours = h.agent.log.slice(before).filter((r) => r.method === 'PUT' && /[?&]partNumber=/.test(r.path));
  for (const go of v.requests.filter((r) => r.method === 'PUT')) {
    const partNumber = /partNumber=(\d+)/.exec(go.query)?.[1];
    const mine = ours.find((r) => r.path.includes(`partNumber=${partNumber}&`) || r.path.endsWith(`partNumber=${partNumber}`));
    assert.ok(mine, `part ${partNumber} was sent`);
    assert.deepEqual(cryptoHeaders(mine.headers), cryptoHeaders(go.headers), `part ${partNumber} crypto headers equal Go's`);
  }
  assert.ok((await h.client.get(name)).content.equals(v.plaintext));
});
