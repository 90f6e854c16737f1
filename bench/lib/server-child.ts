/**
 * Child-process entry: runs one server for the benchmark in its own process, so that the server's work lands on the
 * other core and never in the client's event loop (the peers were measured the same way: peer-performance.md).
 *
 * Kinds:
 * - `oss-memory`, `oss-disk`: the embedded OSS server (`startServer`), in-memory store or a fresh temp data dir;
 * - `oss-memory-latency`: the in-memory one with BENCH_LATENCY_MS added before every request (a remote endpoint);
 * - `sink`: a bare `node:http` sink/source: PUT keeps the body in memory per path, GET/HEAD serve it back, no auth,
 *   no digests; the floor any OSS-compatible server can reach on this machine;
 * - `kms`: the KMS emulator alone (`startKmsServer`) with one fresh key.
 *
 * Protocol (IPC, JSON): the child sends `{ type: 'ready', … }` once listening; it answers `{ id, cmd: 'requests' }`
 * with `{ id, requests, connections }` (HTTP requests and TCP connections so far, from the `http.server.request.start`
 * and `net.server.socket` diagnostics channels)
 * and `{ id, cmd: 'close' }` with `{ id, closed: true }` before exiting.
 */

import { randomBytes } from 'node:crypto';
import { subscribe } from 'node:diagnostics_channel';
import { mkdtemp, rm } from 'node:fs/promises';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from '../../server/src/index.js';
import { startKmsServer } from '../../server/src/kms/index.js';
import { BENCH_BUCKET, BENCH_LATENCY_MS, type ChildReply, type ParentRequest, type ReadyMessage, type ServerKind } from './server-protocol.js';

let requests = 0;
let connections = 0;
subscribe('http.server.request.start', () => {
  requests++;
});
// New TCP connections: a client that loses its keep-alive socket pays a connect per request.
subscribe('net.server.socket', () => {
  connections++;
});

function send(message: ReadyMessage | ChildReply): void {
  if (process.send === undefined) throw new Error('server-child must be started with an IPC channel (child_process.fork)');
  process.send(message);
}

async function listen(server: http.Server): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}

async function closeHttp(server: http.Server): Promise<void> {
  await new Promise<void>((resolve) => {
    server.close(() => {
      resolve();
    });
    server.closeAllConnections();
  });
}

/** The bare sink/source: the least an HTTP server can do with these bytes. */
async function startSink(): Promise<{ port: number; close: () => Promise<void> }> {
  const objects = new Map<string, Buffer>();
  let etagCounter = 0;
  const server = http.createServer({ requestTimeout: 0 }, (req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const common = { 'x-oss-request-id': String(++etagCounter), server: 'bench-sink' };
    if (req.method === 'PUT' || req.method === 'POST') {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        objects.set(path, chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
        res.writeHead(200, { ...common, etag: `"${etagCounter}"`, 'content-length': 0 });
        res.end();
      });
      return;
    }
    req.resume();
    const body = objects.get(path);
    if (req.method === 'DELETE') {
      objects.delete(path);
      res.writeHead(204, common);
      res.end();
      return;
    }
    if (body === undefined) {
      res.writeHead(404, { ...common, 'content-length': 0 });
      res.end();
      return;
    }
    res.writeHead(200, { ...common, 'content-length': body.length, 'content-type': 'application/octet-stream', etag: '"1"' });
    if (req.method === 'HEAD') res.end();
    else res.end(body);
  });
  // Longer than ali-oss's 15 s free-socket timeout (agentkeepalive), so the client never reuses a socket the sink is
  // closing.
  server.keepAliveTimeout = 65_000;
  const port = await listen(server);
  return { port, close: async () => closeHttp(server) };
}

async function main(): Promise<void> {
  const kind = process.argv[2] as ServerKind | undefined;
  const credentials = { accessKeyId: 'bench-ak-' + randomBytes(4).toString('hex'), accessKeySecret: randomBytes(16).toString('hex') };
  let close: () => Promise<void>;
  let ready: ReadyMessage;
  switch (kind) {
    case 'oss-memory':
    case 'oss-memory-latency':
    case 'oss-disk': {
      const dir = kind === 'oss-disk' ? await mkdtemp(join(tmpdir(), 'oss-cse-bench-')) : undefined;
      const server = await startServer({
        ...(dir === undefined ? { memory: true } : { dataDir: dir }),
        // The fault hook's `slow` kind delays a request before it is handled without holding up the others.
        ...(kind === 'oss-memory-latency' ? { faults: { rules: [{ fault: { kind: 'slow', delayMs: BENCH_LATENCY_MS } }] } } : {}),
        credentials,
        buckets: [BENCH_BUCKET],
        kms: false,
        log: (line) => process.stderr.write(`[bench ${kind}] ${line}\n`),
      });
      close = async () => {
        await server.close();
        if (dir !== undefined) await rm(dir, { recursive: true, force: true });
      };
      ready = { type: 'ready', kind, port: server.port, credentials };
      break;
    }
    case 'sink': {
      const sink = await startSink();
      close = sink.close;
      ready = { type: 'ready', kind, port: sink.port, credentials };
      break;
    }
    case 'kms': {
      const kms = await startKmsServer({ memory: true, credentials: [credentials] });
      const key = await kms.service.createKey({ description: 'oss-cse bench' });
      close = async () => kms.close();
      ready = { type: 'ready', kind, port: kms.port, credentials, keyId: key.KeyId };
      break;
    }
    default:
      throw new Error(`unknown server kind ${JSON.stringify(kind)}`);
  }
  process.on('message', (raw: unknown) => {
    const m = raw as ParentRequest;
    if (m.cmd === 'requests') {
      send({ id: m.id, requests, connections });
    } else {
      void close().finally(() => {
        send({ id: m.id, closed: true });
        process.disconnect();
      });
    }
  });
  // The parent going away (crash, Ctrl-C) must not leave a server behind.
  process.on('disconnect', () => {
    void close().finally(() => process.exit(0));
  });
  send(ready);
}

await main();
