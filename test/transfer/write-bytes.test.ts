// An in-memory body is sent in one buffer up to 64 KiB and streamed in views above that; both must store exactly the
// single-stream ciphertext (the IV's keystream from offset 0), with the CRC-64 OSS computed equal to ours.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv } from 'node:crypto';
import { parseEnvelope } from '../../src/format/envelope.js';
import { rawObject, startTransferHarness, testBytes, type TransferHarness } from './support.js';

let h: TransferHarness;

before(async () => {
  h = await startTransferHarness();
});

after(async () => {
  await h.close();
});

test('put of bytes below, at and above the streaming threshold stores the one-stream ciphertext and reads back', async () => {
  const MiB = 1024 * 1024;
  for (const size of [0, 17, 65_536, 65_537, MiB + 1, 3 * MiB + 65_539]) {
    const name = `write-bytes/${size}`;
    const plaintext = testBytes(size, size + 3);
    // A view at an odd offset of a larger buffer: the views must cover exactly the caller's bytes.
    const backing = Buffer.concat([Buffer.from('xyz'), plaintext, Buffer.from('tail')]);
    const body = backing.subarray(3, 3 + size);
    await h.client.put(name, body);
    const head = await h.oss.head(name);
    const headers = head.res.headers as Record<string, string>;
    const material = await h.masterKey.unwrap(parseEnvelope(headers, { object: name }));
    assert.ok(material, `material for ${name}`);
    const expected = createCipheriv('aes-256-ctr', material.key, material.iv).update(plaintext);
    assert.deepEqual(await rawObject(h.oss, name), expected, `stored ciphertext of ${size} bytes`);
    const back = await h.client.get(name);
    assert.deepEqual(back.content, plaintext, `plaintext of ${size} bytes`);
  }
});
