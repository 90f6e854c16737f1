// Issue 14 item 1: a read is served only from an answer the request allows. A lying server (hostile-server.ts)
// answers a GET with a Content-Range that is not what was asked for: a tail or a prefix of the object to a GET without
// Range, or another span than the (16-aligned) range sent. Every entry point must fail with ERR_CSE_INTEGRITY and
// hand out no plaintext: library get (memory and file: no file left), getStream (fails before its first byte), the
// CLI's get through bin/oss-cse.js (exit non-zero, nothing at the target), and resumableDownload. The object below
// has no `unencrypted-content-length` (like a Go SDK object written without one), so only the consistency check
// stands between the caller and a silently short read.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import type * as http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OssHeader } from '../../src/format/headers.js';
import { encryptObject } from '../../src/object-crypto.js';
import { crc64 } from '../../src/transfer/crc64.js';
import { runCli } from '../helpers/cli.js';
import { vectorKeys } from '../helpers/vectors.js';
import { answer, startHostileServer, type HostileServer } from './hostile-server.js';
import { masterKey } from './support.js';

const TOTAL = 200_000;
const plaintext = randomBytes(TOTAL);
let sealed: { headers: Record<string, string>; body: Buffer };
let hostile: HostileServer;
let dir: string;
let keyFile: string;

before(async () => {
  sealed = await encryptObject(plaintext, { masterKey });
  assert.equal(sealed.headers['x-oss-meta-client-side-encryption-unencrypted-content-length'], undefined);
  hostile = await startHostileServer();
  dir = await mkdtemp(join(tmpdir(), 'oss-cse-ranges-'));
  keyFile = join(dir, 'vector.pem');
  await writeFile(keyFile, vectorKeys.privatePkcs8(), { mode: 0o600 });
});

after(async () => {
  await hostile.close();
  await rm(dir, { recursive: true, force: true });
});

/** What the lying server sends for a GET: status, Content-Range (or none) and the ciphertext span it carries. */
interface Lie {
  readonly status: number;
  readonly contentRange: string | undefined;
  readonly from: number;
  readonly to: number;
}

/** Serves HEAD truthfully (the CLI's size probe) and every GET with `lie`. */
function lying(lie: Lie, extra: Record<string, string> = {}): (req: http.IncomingMessage, res: http.ServerResponse) => void {
  return (req, res) => {
    const headers = { ...sealed.headers, 'last-modified': 'Mon, 01 Jan 2024 00:00:00 GMT', ...extra };
    if (req.method === 'HEAD') {
      res.writeHead(200, { 'x-oss-request-id': 'HOSTILE', etag: '"0123456789ABCDEF0123456789ABCDEF"', ...headers, 'content-length': String(TOTAL) });
      res.end();
      return;
    }
    const sent = { ...headers, 'content-length': String(lie.to - lie.from + 1) };
    answer(res, lie.status, lie.contentRange === undefined ? sent : { ...sent, 'content-range': lie.contentRange }, sealed.body.subarray(lie.from, lie.to + 1));
  };
}

const INTEGRITY = { code: 'ERR_CSE_INTEGRITY' };

describe('a GET without Range answered with part of the object', () => {
  const lies: ReadonlyArray<{ name: string; lie: Lie }> = [
    { name: '200 with Content-Range bytes 16-199999/200000 (the tail)', lie: { status: 200, contentRange: `bytes 16-${TOTAL - 1}/${TOTAL}`, from: 16, to: TOTAL - 1 } },
    { name: '206 with Content-Range bytes 16-199999/200000 (the tail)', lie: { status: 206, contentRange: `bytes 16-${TOTAL - 1}/${TOTAL}`, from: 16, to: TOTAL - 1 } },
    { name: '206 with Content-Range bytes 0-99/200000 (a prefix)', lie: { status: 206, contentRange: `bytes 0-99/${TOTAL}`, from: 0, to: 99 } },
  ];
  for (const { name, lie } of lies) {
    test(`${name}: get, get to a file, getStream fail with ERR_CSE_INTEGRITY and leave nothing`, async () => {
      hostile.handler = lying(lie);
      await assert.rejects(hostile.client.get('obj'), { ...INTEGRITY, header: 'content-range' });
      const into = await mkdtemp(join(dir, 'lib-'));
      await assert.rejects(hostile.client.get('obj', join(into, 'out.bin')), INTEGRITY);
      assert.deepEqual(await readdir(into), [], 'no file (and no temporary file) at the target');
      await assert.rejects(hostile.client.getStream('obj'), INTEGRITY, 'the stream is refused before its first byte');
    });

    test(`${name}: the CLI's get (bin/oss-cse.js) exits non-zero with ERR_CSE_INTEGRITY and writes nothing`, async () => {
      hostile.handler = lying(lie);
      const into = await mkdtemp(join(dir, 'cli-'));
      const home = join(dir, `home-${randomBytes(4).toString('hex')}`);
      const r = await runCli(['get', 'oss://hostile/obj', join(into, 'out.bin'), '--endpoint', hostile.endpoint, '--private-key', keyFile], cliEnv(home));
      assert.notEqual(r.code, 0, r.stdout);
      assert.match(r.stderr, /ERR_CSE_INTEGRITY/);
      assert.deepEqual(await readdir(into), []);
    });
  }
});

describe('a ranged GET answered with another span', () => {
  // The caller asks for 1000-1999; 992-1999 is sent (start aligned down to 16).
  const range = { start: 1000, end: 1999 };
  const lies: ReadonlyArray<{ name: string; lie: Lie }> = [
    { name: 'a superset that starts at 0', lie: { status: 206, contentRange: `bytes 0-1999/${TOTAL}`, from: 0, to: 1999 } },
    { name: 'the span shifted by 3', lie: { status: 206, contentRange: `bytes 995-2002/${TOTAL}`, from: 995, to: 2002 } },
    { name: 'a shorter span', lie: { status: 206, contentRange: `bytes 992-1500/${TOTAL}`, from: 992, to: 1500 } },
    { name: 'a 200 whose Content-Range is a prefix', lie: { status: 200, contentRange: `bytes 0-1999/${TOTAL}`, from: 0, to: 1999 } },
  ];
  for (const { name, lie } of lies) {
    test(`${name}: ERR_CSE_INTEGRITY, no byte served`, async () => {
      hostile.handler = lying(lie);
      await assert.rejects(hostile.client.get('obj', { range }), INTEGRITY);
      await assert.rejects(hostile.client.getStream('obj', { range }), INTEGRITY);
    });
  }

  test('answers the request allows are served: the widened span (206), or the whole object (200, range ignored)', async () => {
    hostile.handler = lying({ status: 206, contentRange: `bytes 992-1999/${TOTAL}`, from: 992, to: 1999 });
    const exact = await hostile.client.get('obj', { range });
    assert.equal(exact.res.status, 206);
    assert.ok(exact.content.equals(plaintext.subarray(1000, 2000)));
    hostile.handler = lying({ status: 200, contentRange: undefined, from: 0, to: TOTAL - 1 });
    const whole = await hostile.client.get('obj', { range });
    assert.equal(whole.res.status, 206);
    assert.ok(whole.content.equals(plaintext.subarray(1000, 2000)));
    // The caller's own aligned range answered by the whole object: served as the whole object, as OSS would.
    const ignored = await hostile.client.get('obj', { headers: { Range: 'bytes=0-99' } });
    assert.equal(ignored.res.status, 200);
    assert.ok(ignored.content.equals(plaintext));
  });

  test('a range clipped at the end of the object (RFC 9110, or x-oss-range-behavior: standard) is an answer the request allows', async () => {
    hostile.handler = lying({ status: 206, contentRange: `bytes 199984-${TOTAL - 1}/${TOTAL}`, from: 199_984, to: TOTAL - 1 });
    const r = await hostile.client.get('obj', { headers: { Range: `bytes=199984-${TOTAL + 500}` } });
    assert.equal(r.res.status, 206);
    assert.ok(r.content.equals(plaintext.subarray(199_984)));
  });
});

describe('the status and the Content-Range disagree (RFC 9110 §15.3.7: a 206 names its span; a 200 is the whole object)', () => {
  // The caller asks for 1000-1999; 992-1999 is sent (start aligned down to 16).
  const range = { start: 1000, end: 1999 };
  const cases: ReadonlyArray<{ name: string; lie: Lie; options: { range?: { start: number; end: number } } }> = [
    // A prefix passed as "the whole object": without the status check it is decrypted and served as a short object.
    { name: 'a whole read answered 206 without Content-Range (a prefix)', lie: { status: 206, contentRange: undefined, from: 0, to: 99 }, options: {} },
    // The widened span passed as "the whole object": decrypted at counter 0 and cut at the wrong offsets.
    { name: 'a ranged read answered 206 without Content-Range (the widened span)', lie: { status: 206, contentRange: undefined, from: 992, to: 1999 }, options: { range } },
    { name: 'a ranged read answered 200 with the Content-Range of the widened span', lie: { status: 200, contentRange: `bytes 992-1999/${TOTAL}`, from: 992, to: 1999 }, options: { range } },
    { name: 'a whole read answered 200 with the Content-Range of a prefix', lie: { status: 200, contentRange: `bytes 0-99/${TOTAL}`, from: 0, to: 99 }, options: {} },
  ];
  for (const { name, lie, options } of cases) {
    test(`${name}: get and getStream fail with ERR_CSE_INTEGRITY before any plaintext, get to a file leaves nothing`, async () => {
      hostile.handler = lying(lie);
      await assert.rejects(hostile.client.get('obj', options), { ...INTEGRITY, header: 'content-range' });
      await assert.rejects(hostile.client.getStream('obj', options), INTEGRITY, 'the stream is refused before its first byte');
      const into = await mkdtemp(join(dir, 'status-'));
      await assert.rejects(hostile.client.get('obj', join(into, 'out.bin'), options), INTEGRITY);
      assert.deepEqual(await readdir(into), [], 'no file (and no temporary file) at the target');
    });
  }

  test('a 200 whose Content-Range spans the whole object is served as the whole object (the control)', async () => {
    hostile.handler = lying({ status: 200, contentRange: `bytes 0-${TOTAL - 1}/${TOTAL}`, from: 0, to: TOTAL - 1 });
    const whole = await hostile.client.get('obj');
    assert.equal(whole.res.status, 200);
    assert.ok(whole.content.equals(plaintext));
    const ranged = await hostile.client.get('obj', { range });
    assert.equal(ranged.res.status, 206);
    assert.ok(ranged.content.equals(plaintext.subarray(1000, 2000)));
  });
});

describe('the CRC-64 of a whole-object answer', () => {
  test('present but unparsable: ERR_CSE_INTEGRITY naming the header, even with an intact body', async () => {
    for (const bad of ['not-a-crc', '-1', '18446744073709551616', '0x10', '']) {
      hostile.handler = lying({ status: 200, contentRange: undefined, from: 0, to: TOTAL - 1 }, { [OssHeader.CRC64]: bad });
      await assert.rejects(hostile.client.get('obj'), { ...INTEGRITY, header: OssHeader.CRC64 }, JSON.stringify(bad));
      const into = await mkdtemp(join(dir, 'crc-'));
      await assert.rejects(hostile.client.resumableDownload('obj', join(into, 'out.bin')), { ...INTEGRITY, header: OssHeader.CRC64 });
      assert.deepEqual(await readdir(into), []);
    }
  });

  test('a correct one passes (the control)', async () => {
    hostile.handler = lying({ status: 200, contentRange: undefined, from: 0, to: TOTAL - 1 }, { [OssHeader.CRC64]: crc64(sealed.body).toString() });
    assert.ok((await hostile.client.get('obj')).content.equals(plaintext));
  });
});

describe('resumableDownload ranges', () => {
  const cases: ReadonlyArray<{ name: string; lie: Lie }> = [
    // The first range is 0-99999 (partSize 100000): a 200 of exactly that many bytes claims to be a whole 100000-byte
    // object, not the first half of a 200000-byte one.
    { name: 'a 200 carrying as many bytes as the first range', lie: { status: 200, contentRange: undefined, from: 0, to: 99_999 } },
    { name: 'a 206 with the right span but another total', lie: { status: 206, contentRange: `bytes 0-99999/${TOTAL + 16}`, from: 0, to: 99_999 } },
  ];
  for (const { name, lie } of cases) {
    test(`${name}: refused, nothing at the target`, async () => {
      hostile.handler = lying(lie);
      const into = await mkdtemp(join(dir, 'resumable-'));
      await assert.rejects(hostile.client.resumableDownload('obj', join(into, 'out.bin'), { partSize: 100_000, parallel: 1, retries: 0 }), (e: any) => {
        assert.ok(e.cseCode === 'ERR_CSE_TRANSFER' || e.cseCode === 'ERR_CSE_INTEGRITY', String(e));
        assert.match(e.message, /expected bytes 0-99999\/200000/);
        return true;
      });
      assert.deepEqual(await readdir(into), []);
    });
  }
});

function cliEnv(home: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { OSS_CSE_HOME: home, OSS_ACCESS_KEY_ID: 'id', OSS_ACCESS_KEY_SECRET: 'secret' };
  for (const name of ['OSS_ENDPOINT', 'OSS_REGION', 'OSS_CSE_PUBLIC_KEY', 'OSS_CSE_PRIVATE_KEY', 'ALIBABA_CLOUD_ACCESS_KEY_ID', 'ALIBABA_CLOUD_ACCESS_KEY_SECRET', 'OSS_SESSION_TOKEN', 'ALIBABA_CLOUD_SECURITY_TOKEN']) {
    env[name] = '';
  }
  return env;
}
