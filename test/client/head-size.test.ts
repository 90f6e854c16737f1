// head reports the plaintext size (item 4 of [fit]): for every way of writing an object (bytes, a file path, a stream
// with and without a declared length, multipart), `head().size` and the `content-length` ali-oss users read from
// `res.headers` are the plaintext length, and agree with whatever length the envelope declares.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { EncryptionClient } from '../../src/client.js';
import { RsaMasterKey, generateRsaKeyPair } from '../../src/keys/rsa.js';
import { startHarness, type Harness } from './support.js';

describe('head reports the plaintext size', () => {
  let h: Harness;
  let client: EncryptionClient;
  let dir: string;
  before(async () => {
    h = await startHarness();
    client = new EncryptionClient(h.oss, { masterKey: new RsaMasterKey({ privateKey: (await generateRsaKeyPair(2048)).privateKeyPem }) });
    dir = mkdtempSync(join(tmpdir(), 'oss-cse-head-'));
  });
  after(async () => {
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const plaintext = randomBytes(250 * 1024 + 7);
  const writers: [string, (name: string) => Promise<unknown>][] = [
    ['bytes', async (name) => client.put(name, plaintext)],
    ['a file path', async (name) => {
      const file = join(dir, 'source.bin');
      writeFileSync(file, plaintext);
      return client.put(name, file);
    }],
    ['a stream with contentLength', async (name) => client.putStream(name, Readable.from([plaintext]), { contentLength: plaintext.length })],
    ['a stream of unknown length', async (name) => client.putStream(name, Readable.from([plaintext.subarray(0, 1000), plaintext.subarray(1000)]))],
    ['multipart', async (name) => client.multipartUpload(name, plaintext, { partSize: 100 * 1024 })],
  ];
  for (const [how, write] of writers) {
    test(`written from ${how}: size and content-length are the plaintext length, and agree with the envelope`, async () => {
      const name = `head/${how.replace(/ /g, '-')}`;
      await write(name);
      const head = await client.head(name);
      assert.equal(head.size, plaintext.length);
      assert.equal(Number(head.res.headers['content-length']), plaintext.length);
      const declared = [head.envelope?.unencryptedContentLength, head.envelope?.dataSize].filter((n) => n !== undefined);
      for (const n of declared) assert.equal(n, plaintext.length);
      assert.equal((await client.get(name)).content.length, head.size);
    });
  }
});
