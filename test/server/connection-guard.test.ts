/**
 * The server's connection limits and timeouts (issue 14, item 7; server/src/guard.ts): a stalled body is cut after the
 * idle timeout while a slow but moving one is not; headers must arrive in time; at the connection cap, idle
 * never-authenticated sockets make room for new clients while an authenticated keep-alive connection is kept; the KMS
 * emulator refuses an oversized body without reading it. Driven by real ali-oss and raw sockets; every wait is
 * bounded.
 */

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as http from 'node:http';
import * as net from 'node:net';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import OSS from 'ali-oss';
import { startServer, type RunningServer, type ServerOptions } from '../../server/src/index.js';

async function withServer(options: Partial<ServerOptions>, fn: (server: RunningServer) => Promise<void>): Promise<void> {
  const server = await startServer({ memory: true, buckets: ['bkt'], kms: false, log: () => undefined, ...options });
  try {
    await fn(server);
  } finally {
    await server.close();
  }
}

function client(server: RunningServer, agent?: http.Agent, timeout = 10_000): OSS {
  return new OSS({
    endpoint: server.endpoint,
    region: 'oss-cn-hangzhou',
    bucket: 'bkt',
    ...server.credentials,
    timeout,
    ...(agent === undefined ? {} : { agent }),
  });
}

interface Probe {
  readonly socket: net.Socket;
  /** Text received. */
  received: string;
  closedByServer: boolean;
}

/** A raw socket that sends `text` and then nothing; records what the server does. */
async function probe(port: number, text: string): Promise<Probe> {
  const socket = net.connect({ host: '127.0.0.1', port });
  const p: Probe = { socket, received: '', closedByServer: false };
  socket.on('data', (d: Buffer) => (p.received += d.toString('latin1')));
  const byServer = (): void => {
    p.closedByServer = true;
  };
  socket.on('end', byServer);
  socket.on('error', byServer);
  await new Promise<void>((resolve) => {
    socket.once('connect', resolve);
    socket.once('error', () => resolve());
  });
  if (!p.closedByServer) socket.write(text);
  return p;
}

/** Waits until `done()` or the deadline (a bound; what is still missing is asserted after). */
async function until(deadlineMs: number, done: () => boolean): Promise<void> {
  const end = Date.now() + deadlineMs;
  while (!done() && Date.now() <= end) await new Promise((r) => setTimeout(r, 25));
}

const sleep = async (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('connection limits and timeouts', () => {
  it('cuts an authenticated upload whose body stops arriving (idle timeout), then serves the next request', async () => {
    await withServer({ idleTimeoutMs: 300 }, async (server) => {
      const c = client(server, undefined, 20_000);
      let pushed = false;
      const stalled = new Readable({
        read() {
          if (!pushed) {
            pushed = true;
            this.push(Buffer.alloc(1000, 7));
          }
          // …and never anything more: the body stalls.
        },
      });
      const error = await c.putStream('stalled', stalled).then(
        () => undefined,
        (e: unknown) => e as Error,
      );
      stalled.destroy();
      assert.ok(error !== undefined, 'a stalled upload cannot succeed');
      assert.doesNotMatch(error.name, /Timeout/, `the server closed it, not the client's 20 s timeout: ${error.message}`);
      assert.match(error.message, /socket hang up|ECONNRESET|EPIPE/);
      await assert.rejects(c.head('stalled'), /NoSuchKey|404|Object not exists/i, 'nothing was stored');
      await c.put('after', Buffer.from('still serving'));
      assert.equal((await c.get('after')).content.toString(), 'still serving');
    });
  });

  it('never cuts a slow upload that keeps moving, however long it takes in total (no total request cap)', async () => {
    await withServer({ idleTimeoutMs: 300 }, async (server) => {
      const c = client(server);
      const chunks = Array.from({ length: 10 }, (_, i) => randomBytes(1000 + i));
      // 10 chunks 150 ms apart: ~1.5 s in all, five times the idle timeout, but never 300 ms without a byte.
      const slow = Readable.from(
        (async function* () {
          for (const chunk of chunks) {
            await sleep(150);
            yield chunk;
          }
        })(),
      );
      await c.putStream('slow', slow);
      assert.deepEqual((await c.get('slow')).content, Buffer.concat(chunks));
    });
  });

  it('closes a connection whose headers do not arrive within headersTimeoutMs', async () => {
    await withServer({ headersTimeoutMs: 300 }, async (server) => {
      const squatter = await probe(server.port, 'GET /bkt/x HTTP/1.1\r\nHost: 127.0.0.1\r\n');
      await until(10_000, () => squatter.closedByServer);
      squatter.socket.destroy();
      assert.ok(squatter.closedByServer, 'the server closed the half-sent request');
    });
  });

  it('at the connection cap, closes idle unauthenticated sockets for new clients and keeps an authenticated keep-alive one', async () => {
    await withServer({ maxConnections: 6, headersTimeoutMs: 60_000 }, async (server) => {
      const keepAlive = new http.Agent({ keepAlive: true });
      const fresh = new http.Agent({ keepAlive: false });
      const squatters: Probe[] = [];
      try {
        const regular = client(server, keepAlive);
        await regular.put('regular', Buffer.from('1'));
        // Ten slow-header squatters: five fill the cap, the rest find no room yet (none idle for a second).
        for (let i = 0; i < 10; i++) squatters.push(await probe(server.port, 'GET /bkt/x HTTP/1.1\r\nHost: 127.0.0.1\r\n'));
        await sleep(1200);
        // Three new clients at once, each on its own connection: each needs a squatter's place.
        const newcomer = client(server, fresh);
        await Promise.all([0, 1, 2].map(async (i) => newcomer.put(`new-${i}`, Buffer.from(String(i)))));
        const reused = await regular.put('regular', Buffer.from('2'));
        assert.equal((reused.res as { keepAliveSocket?: boolean }).keepAliveSocket, true, 'the authenticated connection was kept');
        await until(5000, () => squatters[0]!.closedByServer);
        const closed = squatters.filter((s) => s.closedByServer).length;
        // 5 squatters got in and 5 were refused at the cap; the oldest ones that got in made room for the newcomers
        // (at least one, however the three connections interleave).
        assert.ok(squatters[0]!.closedByServer, 'the oldest idle unauthenticated connection was closed for a newcomer');
        assert.ok(closed >= 6, `squatters closed by the server: ${closed} of 10`);
      } finally {
        for (const s of squatters) s.socket.destroy();
        keepAlive.destroy();
        fresh.destroy();
      }
    });
  });

  it('the KMS emulator refuses a body declared over 64 KiB without reading it, and closes the connection', async () => {
    await withServer({ kms: true }, async (server) => {
      const p = await probe(
        server.port,
        `POST /?Action=Encrypt&Version=2016-01-20 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${2 ** 30}\r\n\r\nab`,
      );
      await until(10_000, () => p.closedByServer);
      p.socket.destroy();
      assert.match(p.received, /^HTTP\/1\.1 400 /);
      assert.match(p.received, /"Code":"InvalidParameter"/);
      assert.match(p.received, /[Cc]onnection: close/);
      assert.ok(p.closedByServer, 'the server closed the connection instead of reading 1 GiB');
    });
  });
});
