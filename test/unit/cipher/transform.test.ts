import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createReadStream, readFileSync } from 'node:fs';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import fc from 'fast-check';
import { ctrXor } from '../../../src/cipher/aes-ctr.js';
import { createCtrStream, ctrTransform } from '../../../src/cipher/transform.js';
import { chunkBy, hex } from './reference-ctr.js';

const RUNS = process.env.SLOW ? 1000 : 10;

/** A Writable that records every chunk it receives, as written. */
function recorder(): { sink: Writable; chunks: Buffer[] } {
  const chunks: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk);
      cb();
    },
  });
  return { sink, chunks };
}

/** A genuinely asynchronous source: each chunk arrives after a microtask. */
async function* fromChunks(chunks: readonly Uint8Array[]): AsyncGenerator<Uint8Array> {
  for (const c of chunks) yield await Promise.resolve(c);
}

async function collect(it: AsyncIterable<Buffer>): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for await (const c of it) out.push(c);
  return out;
}

const key = randomBytes(32);
const iv = hex('a1b2c3d4e5f60718' + '00000000' + 'fffffffe');
const data = randomBytes(1000);

for (const size of [1, 15, 16, 17]) {
  test(`ctrTransform in stream.pipeline with ${size}-byte chunks equals the one-shot, chunk for chunk`, async () => {
    for (const offset of [0, 5, 16, 33]) {
      const slice = data.subarray(offset);
      const { sink, chunks } = recorder();
      await pipeline(Readable.from(chunkBy(slice, [size]).map((c) => Buffer.from(c))), ctrTransform(key, iv, offset), sink);
      assert.deepEqual(Buffer.concat(chunks), ctrXor(key, iv, data).subarray(offset));
      assert.deepEqual(
        chunks.map((c) => c.length),
        chunkBy(slice, [size]).map((c) => c.length),
      );
    }
  });

  test(`createCtrStream with ${size}-byte chunks equals the one-shot`, async () => {
    const { sink, chunks } = recorder();
    await pipeline(Readable.from(chunkBy(data, [size]).map((c) => Buffer.from(c))), createCtrStream(key, iv, 0), sink);
    assert.deepEqual(Buffer.concat(chunks), ctrXor(key, iv, data));
  });
}

test('ctrTransform over a plain async iterable passes boundaries through, empty chunks included', async () => {
  const chunks = [data.subarray(0, 3), new Uint8Array(0), data.subarray(3, 40), new Uint8Array(0), data.subarray(40)];
  const out = await collect(ctrTransform(key, iv, 0)(fromChunks(chunks)));
  assert.deepEqual(
    out.map((c) => c.length),
    [3, 0, 37, 0, data.length - 40],
  );
  assert.deepEqual(Buffer.concat(out), ctrXor(key, iv, data));
});

test('property: decrypt(encrypt(x)) = x through the transform for any chunking and offset', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.uint8Array({ maxLength: 400 }),
      fc.array(fc.nat(50), { minLength: 1, maxLength: 6 }),
      fc.array(fc.nat(50), { minLength: 1, maxLength: 6 }),
      fc.nat(10_000),
      async (plain, cutsA, cutsB, offset) => {
        const enc = Buffer.concat(await collect(ctrTransform(key, iv, offset)(fromChunks(chunkBy(plain, cutsA)))));
        assert.deepEqual(enc, ctrXor(key, iv, plain, offset));
        const dec = Buffer.concat(await collect(ctrTransform(key, iv, offset)(fromChunks(chunkBy(enc, cutsB)))));
        assert.deepEqual(dec, Buffer.from(plain));
      },
    ),
    { numRuns: RUNS },
  );
});

test('Go SDK put-1048579 ciphertext decrypts through a file stream pipeline', async () => {
  const dir = new URL('../../vectors/go/', import.meta.url);
  const v = JSON.parse(readFileSync(new URL('vectors.json', dir), 'utf8'));
  const c = v.cases.find((x: any) => x.name === 'put-1048579');
  const { sink, chunks } = recorder();
  await pipeline(
    createReadStream(new URL(c.ciphertext_file, dir), { highWaterMark: 65536 }),
    ctrTransform(hex(c.data_key_hex), hex(c.iv_hex)),
    sink,
  );
  assert.deepEqual(Buffer.concat(chunks), readFileSync(new URL(c.plaintext_file, dir)));
});

test('ctrTransform refuses string chunks (e.g. a stream with an encoding set) with ERR_CSE_INVALID_ARGUMENT', async () => {
  const text = Readable.from(['abc', 'def']);
  await assert.rejects(pipeline(text, ctrTransform(key, iv), recorder().sink), { code: 'ERR_CSE_INVALID_ARGUMENT' });
  const gen = ctrTransform(key, iv)(fromChunks([new Uint8Array(2), 'x' as any]));
  await assert.rejects(collect(gen), { code: 'ERR_CSE_INVALID_ARGUMENT' });
});

test('createCtrStream refuses string chunks with ERR_CSE_INVALID_ARGUMENT', async () => {
  await assert.rejects(pipeline(Readable.from(['abc']), createCtrStream(key, iv), recorder().sink), {
    code: 'ERR_CSE_INVALID_ARGUMENT',
  });
});

test('a ctrTransform is single-use: a second source would reuse the keystream, so it throws', async () => {
  const t = ctrTransform(key, iv);
  await collect(t(fromChunks([data])));
  assert.throws(() => t(fromChunks([data])), { code: 'ERR_CSE_INVALID_ARGUMENT' });
});

test('bad key, IV or offset fail when the transform is created, before any data flows', () => {
  assert.throws(() => ctrTransform(new Uint8Array(16), iv), { code: 'ERR_CSE_INVALID_KEY' });
  assert.throws(() => ctrTransform(key, new Uint8Array(15)), { code: 'ERR_CSE_INVALID_ARGUMENT' });
  assert.throws(() => ctrTransform(key, iv, -1), { code: 'ERR_CSE_INVALID_ARGUMENT' });
  assert.throws(() => createCtrStream(new Uint8Array(24), iv), { code: 'ERR_CSE_INVALID_KEY' });
  assert.throws(() => createCtrStream(key, iv, 0.5), { code: 'ERR_CSE_INVALID_ARGUMENT' });
});
