/**
 * The gateway's connection defences (server/src/guard.ts, reused): a refusal before the body was read answers with
 * `Connection: close` and the gateway closes the socket instead of draining a declared-huge, trickling body; the
 * connection cap and idle timeout apply; authenticated ali-oss clients keep being served while many such stalled
 * refused sockets are open. Upstream: the embedded server in this process (memory). Loopback only; every wait is
 * bounded (a bound, never a timed assertion).
 */

import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import * as net from 'node:net';
import { after, before, describe, it } from 'node:test';
import OSS from 'ali-oss';
import { startGateway, type RunningGateway } from '../../gateway/src/index.js';
import { startServer, type RunningServer } from '../../server/src/index.js';
import { createOssClient } from '../../src/client.js';
import { RsaMasterKey } from '../../src/keys/rsa.js';

const BUCKET = 'gw-guard';

interface Probe {
  readonly socket: net.Socket;
  received: string;
  closedByPeer: boolean;
}

/** A raw loopback socket that sends `text` and then nothing; records what the gateway does. */
async function probe(port: number, text: string): Promise<Probe> {
  const socket = net.connect({ host: '127.0.0.1', port });
  const p: Probe = { socket, received: '', closedByPeer: false };
  socket.on('data', (d: Buffer) => (p.received += d.toString('latin1')));
  const byPeer = (): void => {
    p.closedByPeer = true;
  };
  socket.on('end', byPeer);
  socket.on('error', byPeer);
  await new Promise<void>((resolve) => {
    socket.once('connect', resolve);
    socket.once('error', () => resolve());
  });
  if (!p.closedByPeer) socket.write(text);
  return p;
}

/** Waits until `done()` or the deadline (a bound; what is still missing is asserted after). */
async function until(deadlineMs: number, done: () => boolean): Promise<void> {
  const end = Date.now() + deadlineMs;
  while (!done() && Date.now() <= end) await new Promise((r) => setTimeout(r, 25));
}

/** An unsigned PUT declaring 1 GiB, with a first trickle of body bytes. */
function hugeUnsignedPut(key: string): string {
  return (
    `PUT /${key} HTTP/1.1\r\nHost: ${BUCKET}.oss-cn-hangzhou.aliyuncs.com\r\nContent-Type: application/octet-stream\r\n` +
    `Content-Length: ${2 ** 30}\r\n\r\n` +
    'x'.repeat(100)
  );
}

describe('gateway connection defences', () => {
  let upstream: RunningServer;
  let gateway: RunningGateway;
  let client: OSS;

  before(async () => {
    upstream = await startServer({ memory: true, buckets: [BUCKET], kms: false, log: () => undefined });
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const masterKey = new RsaMasterKey({ privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }) });
    const oss = createOssClient({ endpoint: upstream.endpoint, ...upstream.credentials });
    // A cap above the stalled sockets below, so this checks the refusal path itself, not eviction.
    gateway = await startGateway({ oss, masterKey, maxConnections: 200, log: () => undefined });
    client = new OSS({ endpoint: gateway.endpoint, region: 'oss-cn-hangzhou', bucket: BUCKET, ...gateway.credentials, timeout: 20_000 });
  });

  after(async () => {
    await gateway.close();
    await upstream.close();
  });

  it('answers an unauthenticated PUT declaring 1 GiB with 403 and Connection: close, then closes the socket without reading the body', async () => {
    const p = await probe(gateway.port, hugeUnsignedPut('refused-1'));
    try {
      // Bound only: with the old drain-for-keep-alive the gateway would wait for the GiB forever.
      await until(5000, () => p.closedByPeer);
      assert.match(p.received, /^HTTP\/1\.1 403 /);
      assert.match(p.received, /\r\nConnection: close\r\n/i);
      assert.ok(p.closedByPeer, 'the gateway closed the refused connection instead of draining its body');
    } finally {
      p.socket.destroy();
    }
  });

  it('serves authenticated ali-oss requests while 50 refused sockets keep trickling their declared bodies', async () => {
    const stalled = await Promise.all(Array.from({ length: 50 }, async (_, i) => probe(gateway.port, hugeUnsignedPut(`stalled-${i}`))));
    const trickle = setInterval(() => {
      for (const p of stalled) if (!p.closedByPeer && !p.socket.destroyed) p.socket.write('x');
    }, 50);
    try {
      const body = randomBytes(64 * 1024);
      for (let i = 0; i < 3; i++) {
        await client.put(`ok-${i}`, body);
        const got = await client.get(`ok-${i}`);
        assert.ok(Buffer.from(got.content as Buffer).equals(body), `ok-${i} round-trips through the gateway`);
      }
      await until(5000, () => stalled.every((p) => p.closedByPeer));
      const open = stalled.filter((p) => !p.closedByPeer).length;
      assert.equal(open, 0, 'every refused trickling socket was closed by the gateway');
      for (const p of stalled) assert.match(p.received, /^HTTP\/1\.1 403 /);
    } finally {
      clearInterval(trickle);
      for (const p of stalled) p.socket.destroy();
    }
  });

  it('rejects bad limits before listening', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const masterKey = new RsaMasterKey({ privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }) });
    const oss = createOssClient({ endpoint: upstream.endpoint, ...upstream.credentials });
    await assert.rejects(startGateway({ oss, masterKey, maxConnections: 0, log: () => undefined }), RangeError);
    await assert.rejects(startGateway({ oss, masterKey, idleTimeoutMs: -1, log: () => undefined }), RangeError);
  });
});
