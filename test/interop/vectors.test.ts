// Every known-answer vector from the official Go and Python SDKs (and the C++/oss2 objects from upstream test
// suites), in every mode: one-shot, streaming, 1-byte chunks, 15/16/17-byte chunks, ranged at boundary offsets,
// re-encryption with the fixed key/IV, and multipart reassembly.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { ctrXor } from '../../src/cipher/aes-ctr.js';
import { parseEnvelope } from '../../src/format/envelope.js';
import { RsaMasterKey } from '../../src/keys/rsa.js';
import type { MasterKey } from '../../src/keys/master-key.js';
import { decryptObject, encryptObject, openEnvelope } from '../../src/object-crypto.js';
import { boundaryOffsets, chunked, collect, streamEquals, putVectors, readVectorFile, vectorJson, vectorKeys } from '../helpers/vectors.js';

const hex = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'));
const privateKey = new RsaMasterKey({ privateKey: vectorKeys.privatePkcs8() });
const privateKeyPkcs1 = new RsaMasterKey({ privateKey: vectorKeys.privatePkcs1() });
const rsaVectors = putVectors().filter((v) => v.wrap === 'rsa');

describe('every RSA put vector decrypts, in every mode', () => {
  for (const v of rsaVectors) {
    describe(`${v.source}/${v.name}`, () => {
      const keys = [privateKey];

      test('unwrapped data key and IV equal data_key_hex / iv_hex (PKCS#8 and PKCS#1 key files)', async () => {
        for (const key of [privateKey, privateKeyPkcs1]) {
          const { material } = await openEnvelope(v.headers, { masterKeys: [key] });
          assert.equal(Buffer.from(material.key).toString('hex'), v.dataKeyHex);
          assert.equal(Buffer.from(material.iv).toString('hex'), v.ivHex);
        }
      });

      test('one-shot decrypt = plaintext', async () => {
        const out = await decryptObject({ headers: v.headers, body: v.ciphertext }, { masterKeys: keys });
        assert.ok(out.equals(v.plaintext));
      });

      for (const size of [15, 16, 17, 65536]) {
        test(`streaming decrypt in ${size}-byte chunks = plaintext`, async () => {
          const out = await decryptObject({ headers: v.headers, body: chunked(v.ciphertext, size) }, { masterKeys: keys });
          assert.ok(await streamEquals(out, v.plaintext));
        });
      }

      test('streaming decrypt in 1-byte chunks = plaintext (whole object up to 64 KiB; start, middle and tail windows beyond)', async () => {
        const size = v.plaintext.length;
        // Each 1-byte step costs a few microseconds of async machinery; a 1 MiB object in 1-byte chunks adds
        // seconds and tests nothing the windows do not: the first window crosses the IV's 2^32 carry
        // (put-1048579's IV ends in fffffff0, so the carry is at byte 256), the others start unaligned.
        const windows: [number, number][] =
          size <= 65536 ? [[0, size]] : [[0, 8192], [Math.floor(size / 2) - 4093, Math.floor(size / 2) + 4099], [size - 8191, size]];
        for (const [start, end] of windows) {
          const out = await decryptObject(
            { headers: v.headers, body: chunked(v.ciphertext.subarray(start, end), 1), offset: start },
            { masterKeys: keys, verifyIntegrity: start === 0 && end === size },
          );
          assert.ok(await streamEquals(out, v.plaintext.subarray(start, end)), `window ${start}-${end}`);
        }
      });

      test('ranged decrypt at every boundary offset = slice of the plaintext (to the end, and 1..33 bytes)', async () => {
        for (const offset of boundaryOffsets(v.plaintext.length)) {
          const tail = await decryptObject(
            { headers: v.headers, body: v.ciphertext.subarray(offset), offset },
            { masterKeys: keys },
          );
          assert.ok(tail.equals(v.plaintext.subarray(offset)), `offset ${offset}`);
          for (const len of [1, 16, 33]) {
            const end = Math.min(offset + len, v.plaintext.length);
            const part = await decryptObject(
              { headers: v.headers, body: chunked(v.ciphertext.subarray(offset, end), 7), offset },
              { masterKeys: keys, verifyIntegrity: false },
            );
            assert.ok((await collect(part)).equals(v.plaintext.subarray(offset, end)), `offset ${offset} len ${len}`);
          }
        }
      });

      test('re-encrypting with the fixed key and IV gives the identical ciphertext (one-shot and streaming)', async () => {
        const contentMaterial = { key: hex(v.dataKeyHex), iv: hex(v.ivHex) };
        const publicKey = new RsaMasterKey({ publicKey: vectorKeys.publicSpki() });
        const once = await encryptObject(v.plaintext, { masterKey: publicKey, contentMaterial });
        assert.ok(once.body.equals(v.ciphertext));
        const streamed = await encryptObject(chunked(v.plaintext, 17), { masterKey: publicKey, contentMaterial });
        assert.ok((await collect(streamed.body)).equals(v.ciphertext));
        // Our headers unwrap to the same material with the private key.
        const { material } = await openEnvelope(once.headers, { masterKeys: [privateKey] });
        assert.equal(Buffer.from(material.key).toString('hex'), v.dataKeyHex);
        assert.equal(Buffer.from(material.iv).toString('hex'), v.ivHex);
      });
    });
  }
});

test('Go and oss2 vectors of the same name have byte-identical ciphertext (oss2-python.md §11)', () => {
  const byName = new Map(rsaVectors.filter((v) => v.source === 'go').map((v) => [v.name, v]));
  let compared = 0;
  for (const v of rsaVectors.filter((x) => x.source === 'oss2')) {
    const go = byName.get(v.name);
    if (go === undefined) continue;
    assert.ok(go.ciphertext.equals(v.ciphertext), v.name);
    compared++;
  }
  assert.ok(compared >= 8, `compared ${compared}`);
});

test('a matdesc vector is found by lookup: one unwrap attempt when a key has the same description', async () => {
  const v = rsaVectors.find((x) => x.source === 'oss2' && x.name === 'put-17-matdesc-order-unicode')!;
  const envelope = parseEnvelope(v.headers);
  let calls = 0;
  const counting = (key: MasterKey): MasterKey => ({
    kind: key.kind,
    name: key.name,
    description: key.description,
    wrap: (m) => key.wrap(m),
    unwrap: (e, c) => {
      calls++;
      return key.unwrap(e, c);
    },
  });
  const other = counting(new RsaMasterKey({ privateKey: vectorKeys.privatePkcs1(), description: { other: 'key' } }));
  const matching = counting(new RsaMasterKey({ privateKey: vectorKeys.privatePkcs8(), description: envelope.matdesc }));
  const out = await decryptObject({ headers: v.headers, body: v.ciphertext }, { masterKeys: [other, matching] });
  assert.ok(out.equals(v.plaintext));
  assert.equal(calls, 1);
});

test('the multipart vector: part N is the single-PUT ciphertext at counter IV + (N-1)·partSize/16', () => {
  const c = vectorJson('go').cases.find((x: any) => x.kind === 'multipart');
  const plaintext = readVectorFile('go', 'put-1048579.plain.bin');
  const single = readVectorFile('go', c.ciphertext_file);
  const key = hex(c.data_key_hex);
  const iv = hex(c.iv_hex);
  const partSize: number = c.part_size;
  const parts = c.requests.filter((r: any) => typeof r.query === 'string' && r.query.includes('partNumber='));
  assert.equal(parts.length, 5);
  for (const r of parts) {
    const n = Number(/partNumber=(\d+)/.exec(r.query)![1]);
    const start = (n - 1) * partSize;
    const piece = ctrXor(key, iv, plaintext.subarray(start, start + partSize), start);
    assert.equal(createHash('sha256').update(piece).digest('hex'), r.body_sha256, `part ${n}`);
    assert.ok(piece.equals(single.subarray(start, start + partSize)));
  }
});

describe('objects written by the C++ SDK and by oss2 (upstream cross-SDK fixtures) decrypt to src.jpg', () => {
  const up = vectorJson('upstream');
  const key = new RsaMasterKey({ privateKey: readVectorFile('upstream', up.private_key).toString('utf8') });
  const keyPkcs1 = new RsaMasterKey({ privateKey: readVectorFile('upstream', 'rsa1024-private-pkcs1.pem').toString('utf8') });
  for (const c of up.cases) {
    test(`${c.name}: whole, streamed in 1000-byte chunks, and range 1000-1099`, async () => {
      const plaintext = readVectorFile('upstream', c.plaintext_file);
      const ciphertext = readVectorFile('upstream', c.ciphertext_file);
      for (const k of [key, keyPkcs1]) {
        const out = await decryptObject({ headers: c.headers, body: ciphertext }, { masterKeys: [k] });
        assert.ok(out.equals(plaintext));
      }
      const streamed = await decryptObject({ headers: c.headers, body: chunked(ciphertext, 1000) }, { masterKeys: [key] });
      assert.ok((await collect(streamed)).equals(plaintext));
      const ranged = await decryptObject(
        { headers: c.headers, body: ciphertext.subarray(1000, 1100), offset: 1000 },
        { masterKeys: [key] },
      );
      assert.ok(ranged.equals(plaintext.subarray(1000, 1100)));
    });
  }
});
