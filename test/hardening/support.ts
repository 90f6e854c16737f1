// Shared machinery of the hardening suites (issue 9): the embedded server with its test-only fault switch
// (server/CONFORMANCE.md "Fault injection"), one ali-oss client per run whose requests and sockets are counted at its
// own agent, file-descriptor counting, a process-level trap for unhandled rejections and uncaught exceptions, a
// timeout helper, and a seeded runner that executes runs a few at a time (so the clients' retry backoff sleeps
// overlap) and reports every failing run with what reproduces it.
import assert from 'node:assert/strict';
import * as http from 'node:http';
import { after, before } from 'node:test';
import { readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OSS from 'ali-oss';
import { startServer, type FaultKind, type RunningServer } from '../../server/src/index.js';
import { EncryptionClient } from '../../src/client.js';
import { RsaMasterKey } from '../../src/keys/rsa.js';
import { vectorKeys } from '../helpers/vectors.js';

export const BUCKET = 'hardening';

/** True for the long version (`SLOW=1`). */
export const SLOW = process.env.SLOW !== undefined && process.env.SLOW !== '' && process.env.SLOW !== '0';

/**
 * The base seed of every seeded suite: `HARDENING_SEED` when set (to reproduce a reported failure), else a fixed
 * default so CI is deterministic. Run `i` of a suite uses `seed + i`.
 */
export const BASE_SEED = (() => {
  const given = process.env.HARDENING_SEED;
  if (given === undefined || given === '') return 20_240_917;
  const n = Number(given);
  if (!Number.isSafeInteger(n)) throw new Error(`HARDENING_SEED must be an integer, got ${given}`);
  return n;
})();

/** `HARDENING_ONLY=i,j` runs only those run indices (to reproduce one run alone). */
export const ONLY: ReadonlySet<number> | undefined = (() => {
  const given = process.env.HARDENING_ONLY;
  if (given === undefined || given === '') return undefined;
  return new Set(given.split(',').map(Number));
})();

/** One RSA master key shared by every client (parsing a PEM per run would dominate small runs). */
export const masterKey = new RsaMasterKey({ privateKey: vectorKeys.privatePkcs8() });

/** Counts requests made through it and exposes its sockets, so a run can prove it left none in use. */
export class CountingAgent extends http.Agent {
  requestCount = 0;
  constructor() {
    super({ keepAlive: true, maxSockets: 16 });
  }
  // `addRequest` is how a ClientRequest hands itself to its agent (not in @types/node).
  addRequest(req: http.ClientRequest, options: http.RequestOptions): void {
    this.requestCount++;
    (http.Agent.prototype as unknown as { addRequest(r: http.ClientRequest, o: http.RequestOptions): void }).addRequest.call(this, req, options);
  }
  /** Sockets still assigned to a request (a response nobody finished reading, or a request still running). */
  inUse(): number {
    let n = 0;
    for (const list of Object.values(this.sockets)) n += list?.length ?? 0;
    return n;
  }
}

/** A per-run client: its own agent (request and socket counts), ali-oss client and EncryptionClient. */
export interface RunClient {
  readonly agent: CountingAgent;
  readonly oss: OSS;
  readonly client: EncryptionClient;
  /** Destroys the agent's sockets. */
  close(): void;
}

/** Builds a client for one run. `timeout` is ali-oss's per-request timeout. */
export function runClient(server: RunningServer, timeout = 20_000): RunClient {
  const agent = new CountingAgent();
  const oss = new OSS({
    endpoint: server.endpoint,
    region: 'oss-cn-hangzhou',
    bucket: BUCKET,
    accessKeyId: server.credentials.accessKeyId,
    accessKeySecret: server.credentials.accessKeySecret,
    authorizationV4: true,
    secure: false,
    timeout,
    // @ts-expect-error `agent` is an ali-oss option (lib/client.js) missing from @types/ali-oss
    agent,
  });
  return {
    agent,
    oss,
    client: new EncryptionClient(oss, { masterKey }),
    close: () => {
      agent.destroy();
    },
  };
}

/** The embedded server in memory with fault injection armed (nothing scheduled), and a scratch directory. */
export interface FaultHarness {
  readonly server: RunningServer;
  readonly faults: NonNullable<RunningServer['faults']>;
  readonly dir: string;
  close(): Promise<void>;
}

export async function startFaultHarness(): Promise<FaultHarness> {
  const server = await startServer({ memory: true, buckets: [BUCKET], kms: false, faults: {}, log: () => undefined });
  const faults = server.faults;
  if (faults === undefined) throw new Error('the server was started without fault injection');
  const dir = await mkdtemp(join(tmpdir(), 'oss-cse-hardening-'));
  return {
    server,
    faults,
    dir,
    close: async () => {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Open file descriptors of this process (sockets included), Linux only; undefined elsewhere. */
export function openFds(): number | undefined {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return undefined;
  }
}

/**
 * Waits until the open descriptor count is back to `baseline` (closing sockets and file handles completes
 * asynchronously) and returns the last count seen.
 */
export async function settleFds(baseline: number | undefined, timeoutMs = 3000): Promise<number | undefined> {
  if (baseline === undefined) return undefined;
  const deadline = Date.now() + timeoutMs;
  let now = openFds();
  while (now !== undefined && now > baseline && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
    now = openFds();
  }
  return now;
}

/**
 * Collects unhandled rejections and uncaught exceptions from the moment it is armed until it is disarmed (which
 * removes exactly its own listeners, leaving the test runner's and anyone else's in place). A suite asserts
 * {@link ProcessTrap.assertClean} after its runs and once more when it disarms the trap.
 */
export class ProcessTrap {
  readonly problems: string[] = [];
  #armed = false;
  readonly #onRejection = (reason: unknown): void => {
    this.problems.push(`unhandled rejection: ${describeThrown(reason)}`);
  };
  readonly #onException = (error: unknown): void => {
    this.problems.push(`uncaught exception: ${describeThrown(error)}`);
  };
  arm(): void {
    if (this.#armed) return;
    this.#armed = true;
    process.on('unhandledRejection', this.#onRejection);
    process.on('uncaughtException', this.#onException);
  }
  disarm(): void {
    if (!this.#armed) return;
    this.#armed = false;
    process.off('unhandledRejection', this.#onRejection);
    process.off('uncaughtException', this.#onException);
  }
  /** Fails when anything was trapped so far. */
  assertClean(what: string): void {
    if (this.problems.length > 0) {
      throw new Error(`${what}: ${this.problems.length} unhandled rejection(s) / uncaught exception(s):\n${this.problems.slice(0, 5).join('\n\n')}`);
    }
  }
}

function describeThrown(value: unknown): string {
  return value instanceof Error ? (value.stack ?? value.message) : String(value);
}

/**
 * A node:test `timeout` for a step of a seeded suite: `defaultMs` (set from the step's measured duration at the
 * default run count, with a wide margin for a loaded 2-core CI machine) scaled by how many more runs this
 * invocation makes (`SLOW=1`). A hung run then fails its test instead of stalling the whole `npm test`.
 */
export function timeoutFor(defaultMs: number, runs: number, defaultRuns: number): number {
  return Math.ceil(defaultMs * Math.max(1, runs / defaultRuns));
}

/**
 * What a seeded fault suite file shares: the harness, a verifying client, the process trap and the descriptor
 * baseline, set up in a `before` hook and torn down (trap checked) in an `after` hook that {@link faultSuite} registers.
 */
export interface FaultSuite {
  /** The harness (valid inside tests and hooks). */
  readonly h: FaultHarness;
  /** A client of its own for checking what a run left on the server. */
  readonly verify: RunClient;
  readonly trap: ProcessTrap;
  /** Faults that took effect on requests for `key`. */
  appliedFor(key: string): FaultKind[];
  /** Waits (briefly) until `c`'s agent has no socket assigned to a request, and asserts it. */
  assertNoSocketInUse(c: RunClient, what: string): Promise<void>;
  /**
   * Checks that descriptors and the process are clean (no run in flight). The verifying client's idle keep-alive
   * sockets are not the runs': they are closed before counting.
   */
  assertProcessClean(what: string): Promise<void>;
}

/** Registers the suite's `before`/`after` hooks (with `hookTimeout`) and returns its shared state. */
export function faultSuite(label: string, hookTimeout: number): FaultSuite {
  let harness: FaultHarness | undefined;
  let verifier: RunClient | undefined;
  let fdBaseline: number | undefined;
  const trap = new ProcessTrap();
  const ready = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`${label}: ${what} used outside the suite's tests`);
    return value;
  };
  before(
    async () => {
      harness = await startFaultHarness();
      verifier = runClient(harness.server);
      trap.arm();
      fdBaseline = openFds();
    },
    { timeout: hookTimeout },
  );
  after(
    async () => {
      trap.disarm();
      verifier?.close();
      await harness?.close();
      trap.assertClean(label);
    },
    { timeout: hookTimeout },
  );
  return {
    get h() {
      return ready(harness, 'the harness');
    },
    get verify() {
      return ready(verifier, 'the verifying client');
    },
    trap,
    appliedFor(key) {
      return ready(harness, 'the harness')
        .faults.log()
        .filter((e) => e.key === key && e.applied)
        .map((e) => e.kind);
    },
    async assertNoSocketInUse(c, what) {
      for (let i = 0; i < 50 && c.agent.inUse() > 0; i++) await new Promise((r) => setTimeout(r, 10));
      assert.equal(c.agent.inUse(), 0, `${what}: a socket is still in use after the call`);
    },
    async assertProcessClean(what) {
      ready(verifier, 'the verifying client').agent.destroy();
      const now = await settleFds(fdBaseline);
      if (fdBaseline !== undefined) assert.ok(now !== undefined && now <= fdBaseline, `${what}: ${String(now)} open descriptors, ${fdBaseline} before`);
      trap.assertClean(what);
    },
  };
}

/** Counters a suite reports (printed at its end, checked to be non-trivial). */
export interface SuiteCounters {
  runs: number;
  succeeded: number;
  failedTyped: number;
  faultsInjected: number;
  bytesVerified: number;
  requests: number;
  resumed: number;
}

export function newCounters(): SuiteCounters {
  return { runs: 0, succeeded: 0, failedTyped: 0, faultsInjected: 0, bytesVerified: 0, requests: 0, resumed: 0 };
}

/**
 * Runs `runs` seeded runs, `concurrency` at a time, and fails with every failing run's seed, index and error. Each
 * run gets its index and its seed (`BASE_SEED + index`). With `window`, the runs go in windows of that many, and
 * `between` is awaited after each window (all its runs finished): the place for checks that need a quiet process,
 * such as counting descriptors.
 */
export async function runSeeded(
  suite: string,
  runs: number,
  concurrency: number,
  run: (index: number, seed: number) => Promise<void>,
  windows?: { readonly window: number; readonly between: (doneRuns: number) => Promise<void> },
): Promise<void> {
  const all = [...Array(runs).keys()].filter((i) => ONLY === undefined || ONLY.has(i));
  const size = windows?.window ?? Math.max(1, all.length);
  const failures: string[] = [];
  for (let w = 0; w < all.length; w += size) {
    const indices = all.slice(w, w + size);
    let next = 0;
    const worker = async (): Promise<void> => {
      for (;;) {
        const i = indices[next++];
        if (i === undefined) return;
        try {
          await run(i, BASE_SEED + i);
        } catch (e) {
          failures.push(`${suite} run ${i} (reproduce: HARDENING_SEED=${BASE_SEED} HARDENING_ONLY=${i}): ${describeThrown(e)}`);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, indices.length) }, worker));
    try {
      await windows?.between(w + indices.length);
    } catch (e) {
      // A check between windows (a leaked descriptor, a trapped rejection) would fail every later window too.
      failures.push(`${suite}, after runs ${indices[0]}..${indices[indices.length - 1]}: ${describeThrown(e)}`);
      break;
    }
  }
  if (failures.length > 0) {
    throw new Error(`${failures.length} of ${all.length} runs (or checks between them) failed:\n${failures.slice(0, 5).join('\n\n')}`);
  }
}

/** Deterministic bytes from a seed (xorshift32; test data, not secrets). */
export function seededBytes(size: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** mulberry32 for test-side choices (sizes, ranges, modes) derived from a run's seed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** An integer in [min, max] from `r`. */
export function between(r: () => number, min: number, max: number): number {
  return min + Math.floor(r() * (max - min + 1));
}

/** Prints a suite's counters (visible in the spec reporter's output). */
export function report(suite: string, c: SuiteCounters, extra = ''): void {
  process.stdout.write(
    `# ${suite}: ${c.runs} runs, ${c.succeeded} succeeded, ${c.failedTyped} failed with a typed error, ` +
      `${c.resumed} resumed, ${c.faultsInjected} faults injected, ${c.requests} requests, ${c.bytesVerified} bytes verified` +
      `${extra === '' ? '' : `, ${extra}`} (seed ${BASE_SEED})\n`,
  );
}

/** HEAD through a plain client: true when the object exists. */
export async function objectExists(oss: OSS, name: string): Promise<boolean> {
  try {
    await oss.head(name);
    return true;
  } catch (e) {
    if ((e as { status?: number }).status === 404) return false;
    throw e;
  }
}
