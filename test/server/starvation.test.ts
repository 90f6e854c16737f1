/**
 * The embedded server cannot be starved by unauthenticated slow bodies (issue 14, item 7). The server runs as its own
 * process with `ulimit -n 256`, so the attack below (about 1,100 loopback sockets, each declaring a 1 GiB body and
 * then trickling it a byte at a time) outnumbers its file descriptors several times over: a server that keeps
 * refused sockets open (it used to drain their bodies) runs out of descriptors and serves no one. The test checks
 * that every attack socket is answered 403 and closed by the server, and that real ali-oss clients, each on a new
 * connection, are all served while the trickle goes on.
 *
 * Bounded and self-stopping: every wait has a deadline, the trickle and the sockets are torn down in `finally`, and
 * the child is killed. Linux only (it reads /proc/self/limits).
 */

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import OSS from 'ali-oss';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const FIXTURE = join(ROOT, 'test', 'server', 'fixtures', 'guarded-server.ts');
/** File descriptors the server process gets. */
const SERVER_FDS = 256;
/** Legitimate requests (each a PUT and a GET on a new connection) sent while the attack trickles. */
const LEGIT_ROUNDS = 20;

function ownFdLimit(): number | undefined {
  if (!existsSync('/proc/self/limits')) return undefined;
  const m = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
  return m === null ? undefined : Number(m[1]);
}

const OWN_FDS = ownFdLimit();
/** ~1,100 attack sockets, fewer if this process itself could not hold them (they must outnumber SERVER_FDS 2×). */
const ATTACK = OWN_FDS === undefined ? 0 : Math.min(1100, OWN_FDS - 300);
const SKIP =
  OWN_FDS === undefined
    ? 'needs Linux (/proc/self/limits)'
    : ATTACK < 2 * SERVER_FDS
      ? `this process may open only ${OWN_FDS} files; the attack needs ${2 * SERVER_FDS + 300}`
      : undefined;

/** Waits until `done()` or the deadline (a bound, not an assertion: what is still missing is asserted after). */
async function until(deadlineMs: number, done: () => boolean): Promise<void> {
  const end = Date.now() + deadlineMs;
  while (!done() && Date.now() <= end) await new Promise((r) => setTimeout(r, 50));
}

interface Served {
  readonly child: ChildProcess;
  readonly endpoint: string;
  readonly port: number;
  readonly fdLimit: number;
  readonly stderr: () => string;
}

async function startChild(credentials: { accessKeyId: string; accessKeySecret: string }): Promise<Served> {
  // `ulimit -n` in sh sets the soft and hard limit, so Node cannot raise it back at start.
  const child = spawn('/bin/sh', ['-c', `ulimit -n ${SERVER_FDS} && exec "$0" "$@"`, process.execPath, '--import', 'tsx', FIXTURE], {
    cwd: ROOT,
    env: { ...process.env, OSS_CSE_TEST_AK: credentials.accessKeyId, OSS_CSE_TEST_SK: credentials.accessKeySecret },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const line = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start: ${stderr}`)), 30_000);
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      const nl = stdout.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        resolve(stdout.slice(0, nl));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited (${String(code)}): ${stderr}`));
    });
  });
  const info = JSON.parse(line) as { endpoint: string; fdLimit: number };
  return { child, endpoint: info.endpoint, port: Number(new URL(info.endpoint).port), fdLimit: info.fdLimit, stderr: () => stderr };
}

interface AttackSocket {
  readonly socket: net.Socket;
  status: string | undefined;
  closedByServer: boolean;
}

/** Opens `count` sockets that declare a 1 GiB PUT body without any signature, then trickle one byte every 200 ms. */
async function attack(port: number, count: number): Promise<{ sockets: AttackSocket[]; stop: () => void }> {
  const sockets: AttackSocket[] = [];
  let stopping = false;
  for (let i = 0; i < count; i++) {
    const socket = net.connect({ host: '127.0.0.1', port });
    const entry: AttackSocket = { socket, status: undefined, closedByServer: false };
    let head = '';
    socket.on('connect', () => {
      socket.write(`PUT /bkt/attack-${i} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/octet-stream\r\nContent-Length: ${2 ** 30}\r\n\r\nx`);
    });
    socket.on('data', (d: Buffer) => {
      if (entry.status === undefined) {
        head += d.toString('latin1');
        entry.status = /^HTTP\/1\.1 (\d{3})/.exec(head)?.[1];
      }
    });
    // 'end' is the server's FIN; an error (ECONNRESET, EPIPE) or a close we did not ask for is the server's doing too.
    const byServer = (): void => {
      if (!stopping) entry.closedByServer = true;
    };
    socket.on('end', byServer);
    socket.on('error', byServer);
    socket.on('close', byServer);
    sockets.push(entry);
    if (i % 100 === 99) await new Promise((r) => setImmediate(r));
  }
  const trickle = setInterval(() => {
    for (const s of sockets) if (!s.closedByServer && s.socket.writable && s.socket.readyState === 'open') s.socket.write('x');
  }, 200);
  return {
    sockets,
    stop: () => {
      stopping = true;
      clearInterval(trickle);
      for (const s of sockets) s.socket.destroy();
    },
  };
}

describe('a flood of unauthenticated slow bodies', { skip: SKIP }, () => {
  it(`closes every refused socket and keeps serving ali-oss on new connections (${ATTACK} attack sockets, server limited to ${SERVER_FDS} files)`, async () => {
    const credentials = { accessKeyId: `LTAI${randomBytes(10).toString('hex')}`, accessKeySecret: randomBytes(15).toString('hex') };
    const served = await startChild(credentials);
    let flood: Awaited<ReturnType<typeof attack>> | undefined;
    const agent = new http.Agent({ keepAlive: false });
    try {
      assert.ok(served.fdLimit <= SERVER_FDS, `the server process really has only ${served.fdLimit} file descriptors`);
      flood = await attack(served.port, ATTACK);
      const sockets = flood.sockets;
      // Phase 1: every attack socket is answered or closed (a server that holds them hits EMFILE and stalls here).
      await until(30_000, () => sockets.every((s) => s.status !== undefined || s.closedByServer));

      // Phase 2: while the survivors (if any) trickle, real clients each open a new connection.
      const client = new OSS({
        endpoint: served.endpoint,
        region: 'oss-cn-hangzhou',
        bucket: 'bkt',
        ...credentials,
        agent,
        timeout: 10_000,
      } as ConstructorParameters<typeof OSS>[0] & { agent: http.Agent });
      let servedRounds = 0;
      const failures: string[] = [];
      for (let i = 0; i < LEGIT_ROUNDS && failures.length < 3; i++) {
        const body = randomBytes(4096 + i);
        try {
          await client.put(`legit-${i}`, body);
          const got = await client.get(`legit-${i}`);
          assert.deepEqual(got.content, body);
          servedRounds++;
        } catch (e) {
          failures.push(e instanceof Error ? `${e.name}: ${e.message}` : String(e));
        }
      }

      // Phase 3: every refused socket is closed by the server, while the attacker keeps trickling.
      await until(30_000, () => sockets.every((s) => s.closedByServer));
      const open = sockets.filter((s) => !s.closedByServer).length;
      const statuses = new Set(sockets.map((s) => s.status).filter((s) => s !== undefined));

      assert.equal(servedRounds, LEGIT_ROUNDS, `legitimate rounds served under attack: ${servedRounds}/${LEGIT_ROUNDS}; ${failures.join(' | ')}`);
      assert.equal(open, 0, `${open} of ${ATTACK} refused sockets were left open by the server`);
      assert.deepEqual([...statuses], ['403'], 'every answered attack request was refused 403');
      assert.ok(sockets.filter((s) => s.status === '403').length > SERVER_FDS, 'the server answered more attackers than it has descriptors');
    } finally {
      flood?.stop();
      agent.destroy();
      served.child.kill('SIGTERM');
      await new Promise((r) => {
        if (served.child.exitCode !== null) r(undefined);
        else served.child.once('exit', r);
      });
    }
  });
});
