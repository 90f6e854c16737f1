/**
 * Child processes of the benchmark: server children (one per server kind, shared by all rows of a run) and
 * case children (one process per measured run, for rows that report peak RSS: issue 8 §2 "a child process per case,
 * RSS from the OS").
 */

import { fork, type ChildProcess } from 'node:child_process';
import type { Sample } from './measure.js';
import { BENCH_BUCKET, type ChildReply, type ReadyMessage, type ServerKind } from './server-protocol.js';
import type { CaseReply, CaseRequest } from './case-protocol.js';

/**
 * Node flags for children: the parent's (so `--cpu-prof`, `--expose-gc` carry over) minus the test runner's, plus the
 * tsx loader when the parent was not started with it (the benchmark runs TypeScript sources directly).
 */
export function childExecArgv(): string[] {
  const own = process.execArgv.filter((a) => !a.startsWith('--test'));
  const hasTsx = own.some((a, i) => a === 'tsx' || a.startsWith('tsx/') || (a === '--import' && own[i + 1]?.startsWith('tsx') === true));
  return hasTsx ? own : [...own, '--import', 'tsx'];
}

/** A server running in a child process. */
export interface ServerProcess {
  readonly kind: ServerKind;
  readonly pid: number;
  /** `http://127.0.0.1:PORT`. */
  readonly endpoint: string;
  /** `127.0.0.1:PORT`. */
  readonly hostPort: string;
  readonly bucket: string;
  readonly credentials: { readonly accessKeyId: string; readonly accessKeySecret: string };
  /** KMS only: the key created for the run. */
  readonly keyId: string | undefined;
  /** HTTP requests and TCP connections the server has received so far. */
  counters(): Promise<{ requests: number; connections: number }>;
  /** Stops the server and waits for the process to exit. */
  close(): Promise<void>;
}

function exitPromise(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
}

/**
 * Starts a server child and waits until it listens.
 * @throws Error when the child exits or fails before it is ready
 */
export async function startServerProcess(kind: ServerKind): Promise<ServerProcess> {
  const child = fork(new URL('./server-child.ts', import.meta.url), [kind], {
    execArgv: childExecArgv(),
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = exitPromise(child);
  const ready = await new Promise<ReadyMessage>((resolve, reject) => {
    const onExit = (code: number | null): void => reject(new Error(`server child ${kind} exited with ${code} before it was ready`));
    child.once('exit', onExit);
    child.once('error', reject);
    child.once('message', (m: unknown) => {
      child.off('exit', onExit);
      child.off('error', reject);
      resolve(m as ReadyMessage);
    });
  });
  let nextId = 1;
  const pending = new Map<number, (reply: ChildReply) => void>();
  child.on('message', (m: unknown) => {
    const reply = m as ChildReply;
    const done = pending.get(reply.id);
    pending.delete(reply.id);
    done?.(reply);
  });
  const ask = async (cmd: 'requests' | 'close'): Promise<ChildReply> =>
    new Promise((resolve, reject) => {
      if (!child.connected) {
        reject(new Error(`server child ${kind} is gone`));
        return;
      }
      const id = nextId++;
      pending.set(id, resolve);
      child.send({ id, cmd });
    });
  const hostPort = `127.0.0.1:${ready.port}`;
  return {
    kind,
    pid: child.pid ?? -1,
    endpoint: `http://${hostPort}`,
    hostPort,
    bucket: BENCH_BUCKET,
    credentials: ready.credentials,
    keyId: ready.keyId,
    async counters() {
      const reply = await ask('requests');
      if (!('requests' in reply)) throw new Error('unexpected reply from server child');
      return { requests: reply.requests, connections: reply.connections };
    },
    async close() {
      if (child.connected) await ask('close');
      await exited;
    },
  };
}

/**
 * Runs one measured case in a fresh child process and returns its sample with the child's peak RSS.
 *
 * A case is a module exporting an async function `(args) => Promise<Sample | number>` that sets up, times and tears
 * down its own work (so process start-up is never timed); the peak RSS covers the whole child, loader included, and
 * is read by the child from the OS just before it answers.
 *
 * @param module - URL of the case module
 * @param exportName - the function to call
 * @param args - JSON arguments for it
 * @throws Error when the case throws (its message is carried over) or the child dies
 */
export async function runCaseInChild(module: URL, exportName: string, args: unknown): Promise<Sample> {
  const child = fork(new URL('./case-child.ts', import.meta.url), [], {
    execArgv: childExecArgv(),
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = exitPromise(child);
  const reply = await new Promise<CaseReply>((resolve, reject) => {
    const onExit = (code: number | null): void => reject(new Error(`case child ${exportName} exited with ${code} without an answer`));
    child.once('exit', onExit);
    child.once('error', reject);
    child.once('message', (m: unknown) => {
      child.off('exit', onExit);
      resolve(m as CaseReply);
    });
    const request: CaseRequest = { module: module.href, exportName, args };
    child.send(request);
  });
  child.disconnect();
  await exited;
  if ('error' in reply) throw new Error(`case ${exportName} failed in its child: ${reply.error}`);
  return reply.sample;
}
