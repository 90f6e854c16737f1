// End to end through the real ali-oss client and the embedded server: every known-answer vector object (Go, oss2,
// upstream C++/Python) is stored raw, with its headers, by a plain ali-oss client, then read back through
// EncryptionClient whole, as a stream, to a file, and at every boundary range (suffix and past-the-end included),
// with and without `x-oss-range-behavior: standard`. Each ranged answer must equal what a plain client gets for the
// same request on a plaintext copy (status, bytes, Content-Range, Content-Length), in one HTTP request.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EncryptionClient } from '../../src/client.js';
import { RsaMasterKey } from '../../src/keys/rsa.js';
import { putVectors, readVectorFile, vectorJson, vectorKeys } from '../helpers/vectors.js';
import { FakeVectorKms, mayRefetch, plainGet, rangeMatrix, rangeSample, startHarness, storedHeaders, type Harness, type ReadOutcome } from './support.js';

interface VectorObject {
  readonly id: string;
  readonly plaintext: Buffer;
  readonly ciphertext: Buffer;
  readonly headers: Record<string, string>;
}

function allVectorObjects(): VectorObject[] {
  const out: VectorObject[] = putVectors().map((v) => ({
    id: `${v.source}/${v.name}`,
    plaintext: v.plaintext,
    ciphertext: v.ciphertext,
    headers: storedHeaders(v.headers),
  }));
  for (const c of vectorJson('upstream').cases) {
    out.push({
      id: `upstream/${c.name}`,
      plaintext: readVectorFile('upstream', c.plaintext_file),
      ciphertext: readVectorFile('upstream', c.ciphertext_file),
      headers: storedHeaders(c.headers),
    });
  }
  return out;
}

const objects = allVectorObjects();

// Plain answers depend only on the plaintext and the request: several vectors share a plaintext.
const plainAnswers = new Map<string, Promise<ReadOutcome>>();
function expectedFor(o: VectorObject, headers: Record<string, string>): Promise<ReadOutcome> {
  const id = `${createHash('sha256').update(o.plaintext).digest('hex')} ${JSON.stringify(headers)}`;
  let answer = plainAnswers.get(id);
  if (answer === undefined) {
    answer = plainGet(h.oss, `plain/${o.id}`, headers);
    plainAnswers.set(id, answer);
  }
  return answer;
}
let h: Harness;
let client: EncryptionClient;

before(async () => {
  h = await startHarness();
  client = new EncryptionClient(h.oss, {
    masterKey: new RsaMasterKey({ privateKey: vectorKeys.privatePkcs8() }),
    decryptionKeys: [
      new RsaMasterKey({ privateKey: readVectorFile('upstream', 'rsa1024-private-pkcs8.pem') }),
      new FakeVectorKms(),
    ],
  });
  for (const o of objects) {
    await h.oss.put(`vec/${o.id}`, o.ciphertext, { headers: o.headers });
    await h.oss.put(`plain/${o.id}`, o.plaintext);
  }
});

after(async () => {
  await h.close();
});

test('the vectors cover every source and size the issue names', () => {
  const ids = objects.map((o) => o.id);
  for (const expected of ['go/put-0', 'go/put-1048579', 'go/put-17-fakekms', 'oss2/put-17-matdesc-order-unicode', 'upstream/cpp-rsa', 'upstream/python-rsa']) {
    assert.ok(ids.includes(expected), expected);
  }
});

for (const o of objects) {
  describe(`vector ${o.id} (${o.plaintext.length} bytes)`, () => {
    test('a plain client sees the stored ciphertext; get() returns the plaintext in one request', async () => {
      const raw = await h.oss.get(`vec/${o.id}`);
      assert.ok((raw.content as Buffer).equals(o.ciphertext));
      const before = h.agent.count;
      const r = await client.get(`vec/${o.id}`);
      assert.equal(h.agent.count - before, 1);
      assert.ok(r.content.equals(o.plaintext));
      assert.equal(r.encrypted, true);
      assert.equal(r.res.status, 200);
      assert.equal(r.res.headers['content-length'], String(o.plaintext.length));
      assert.equal(r.size, o.plaintext.length);
      assert.equal(r.envelope?.cekAlgorithm, 'AES/CTR/NoPadding');
    });

    test('getStream() yields the plaintext', async () => {
      const r = await client.getStream(`vec/${o.id}`);
      const chunks: Buffer[] = [];
      for await (const c of r.stream) chunks.push(c as Buffer);
      assert.ok(Buffer.concat(chunks).equals(o.plaintext));
    });

    test('get(name, file) writes the plaintext and leaves no temporary file', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'oss-cse-vec-'));
      try {
        const file = join(dir, 'out.bin');
        const r = await client.get(`vec/${o.id}`, file);
        assert.equal(r.content, undefined);
        assert.ok(readFileSync(file).equals(o.plaintext));
        assert.deepEqual(readdirSync(dir), ['out.bin']);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    // oss2's vectors have the same plaintext and ciphertext as Go's of the same name (test/interop): their bytes get
    // the full matrix there; here a sample checks their own envelopes on the range path.
    const full = !o.id.startsWith('oss2/') || o.id.endsWith('-unicode');
    for (const standard of [false, true]) {
      test(`${full ? 'every boundary range' : 'sampled ranges'} ${standard ? 'with' : 'without'} x-oss-range-behavior: standard equal a plain client's answer on the plaintext, in one request`, async () => {
        const size = o.plaintext.length;
        for (const range of full ? rangeMatrix(size) : rangeSample(size)) {
          const headers: Record<string, string> = { Range: range };
          if (standard) headers['x-oss-range-behavior'] = 'standard';
          const expected = await expectedFor(o, headers);
          const before = h.agent.count;
          let actual;
          try {
            const r = await client.get(`vec/${o.id}`, { headers });
            actual = { status: r.res.status, body: r.content, contentRange: r.res.headers['content-range'], contentLength: r.res.headers['content-length'] };
          } catch (e) {
            assert.equal((e as { cseCode?: string }).cseCode, 'ERR_CSE_RANGE_NOT_SATISFIABLE', `${range}: ${String(e)}`);
            actual = { status: 416, body: Buffer.alloc(0), contentRange: undefined, contentLength: undefined };
          }
          const requests = h.agent.count - before;
          assert.equal(actual.status, expected.status, `${range} status`);
          assert.ok(actual.body.equals(expected.body), `${range} body`);
          assert.equal(actual.contentRange, expected.contentRange, `${range} Content-Range`);
          assert.equal(actual.contentLength, expected.contentLength, `${range} Content-Length`);
          assert.equal(requests, mayRefetch(range, size, standard) ? 2 : 1, `${range}: ${requests} requests`);
        }
      });
    }
  });
}
