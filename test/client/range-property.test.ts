// Property: for random object sizes and random Range headers (bounded, open, suffix, unaligned, past the end,
// reversed), with and without `x-oss-range-behavior: standard`, EncryptionClient.get on an object it wrote returns
// exactly what a plain ali-oss client returns for the same request on a plaintext copy: status, bytes,
// Content-Range and Content-Length; and the plaintext slice is what `resolveRange` says.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { EncryptionClient } from '../../src/client.js';
import { RsaMasterKey } from '../../src/keys/rsa.js';
import { vectorKeys } from '../helpers/vectors.js';
import { mayRefetch, plainGet, startHarness, type Harness } from './support.js';

const RUNS = process.env.SLOW ? 300 : 10;
let h: Harness;
let client: EncryptionClient;

before(async () => {
  h = await startHarness();
  client = new EncryptionClient(h.oss, { masterKey: new RsaMasterKey({ privateKey: vectorKeys.privatePkcs8() }) });
});

after(async () => {
  await h.close();
});

/** A Range header for an object of `size` bytes, biased towards the edges (block boundaries, the end). */
function rangeArbitrary(size: number): fc.Arbitrary<string> {
  const offset = fc.oneof(
    fc.integer({ min: 0, max: size + 40 }),
    fc.constantFrom(0, 15, 16, 17, Math.max(0, size - 17), Math.max(0, size - 1), size, size + 1, size + 15),
  );
  return fc.oneof(
    fc.tuple(offset, offset).map(([a, b]) => `bytes=${a}-${b}`),
    offset.map((a) => `bytes=${a}-`),
    offset.map((n) => `bytes=-${n}`),
  );
}

const sizeArbitrary = fc.oneof(fc.integer({ min: 0, max: 64 }), fc.integer({ min: 0, max: 70_000 }));

test('get with any range on an encrypted object equals a plain get of the same range on the plaintext', async () => {
  let n = 0;
  await fc.assert(
    fc.asyncProperty(
      sizeArbitrary.chain((size) => fc.tuple(fc.constant(size), fc.array(fc.tuple(rangeArbitrary(size), fc.boolean()), { minLength: 1, maxLength: 6 }))),
      async ([size, ranges]) => {
        const plaintext = randomBytes(size);
        const name = `prop/${n++}`;
        await client.put(name, plaintext);
        await h.oss.put(`${name}.plain`, plaintext);
        for (const [range, standard] of ranges) {
          const headers: Record<string, string> = { Range: range };
          if (standard) headers['x-oss-range-behavior'] = 'standard';
          const expected = await plainGet(h.oss, `${name}.plain`, headers);
          const before = h.agent.count;
          let actual;
          try {
            const r = await client.get(name, { headers });
            actual = { status: r.res.status, body: r.content, contentRange: r.res.headers['content-range'], contentLength: r.res.headers['content-length'] };
          } catch (e) {
            if ((e as { cseCode?: string }).cseCode !== 'ERR_CSE_RANGE_NOT_SATISFIABLE') throw e;
            actual = { status: 416, body: Buffer.alloc(0), contentRange: undefined, contentLength: undefined };
          }
          const requests = h.agent.count - before;
          assert.equal(actual.status, expected.status, `${size} bytes, ${range}, standard=${standard}`);
          assert.ok(actual.body.equals(expected.body), `${size} bytes, ${range}: body`);
          assert.equal(actual.contentRange, expected.contentRange, `${size} bytes, ${range}: Content-Range`);
          assert.equal(actual.contentLength, expected.contentLength, `${size} bytes, ${range}: Content-Length`);
          assert.equal(requests, mayRefetch(range, size, standard) ? 2 : 1, `${size} bytes, ${range}: requests`);
          // And the bytes are the plaintext slice the Content-Range names.
          const m = actual.contentRange === undefined ? null : /^bytes ([0-9]+)-([0-9]+)\/([0-9]+)$/.exec(actual.contentRange);
          if (m !== null) assert.ok(actual.body.equals(plaintext.subarray(Number(m[1]), Number(m[2]) + 1)));
          else if (actual.status === 200) assert.ok(actual.body.equals(plaintext));
        }
        await client.delete(name);
        await h.oss.delete(`${name}.plain`);
      },
    ),
    { numRuns: RUNS },
  );
});

test('options.range gives the same answer as the equivalent Range header', async () => {
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 1, max: 5000 }), fc.nat(), fc.nat(), async (size, x, y) => {
      const plaintext = randomBytes(size);
      await client.put('prop/range-option', plaintext);
      const start = x % (size + 20);
      const end = start + (y % 100);
      const viaOption = await client.get('prop/range-option', { range: { start, end } });
      const viaHeader = await client.get('prop/range-option', { headers: { Range: `bytes=${start}-${end}` } });
      assert.equal(viaOption.res.status, viaHeader.res.status);
      assert.ok(viaOption.content.equals(viaHeader.content));
      const open = await client.get('prop/range-option', { range: { start } });
      const openHeader = await client.get('prop/range-option', { headers: { Range: `bytes=${start}-` } });
      assert.ok(open.content.equals(openHeader.content));
    }),
    { numRuns: RUNS },
  );
});
