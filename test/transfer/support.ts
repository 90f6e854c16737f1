// Shared set-up for the multipart / resumable transfer tests: the embedded server in memory with fault injection armed
// (nothing scheduled until a test sets a plan), a plain ali-oss client whose requests are recorded at the agent (method,
// path and headers), an EncryptionClient over it with the vector RSA key, and the transfer-level pieces (store, key
// ring, material cache) for the tests that need internal seams (fixed material, hooks).
import assert from 'node:assert/strict';
import * as http from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OSS from 'ali-oss';
import { startServer, type RunningServer } from '../../server/src/index.js';
import { EncryptionClient } from '../../src/client.js';
import { KeyRing } from '../../src/keys/key-ring.js';
import { RsaMasterKey } from '../../src/keys/rsa.js';
import { AliOssStore } from '../../src/transfer/ali-oss-store.js';
import { MemoryCheckpointStore, type CheckpointStore } from '../../src/transfer/checkpoint.js';
import { MaterialCache } from '../../src/transfer/multipart.js';
import { vectorKeys } from '../helpers/vectors.js';

export const BUCKET = 'transfer-tests';

/** One request as the agent saw it. */
export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string>;
}

/** Records every request made through it. */
export class RecordingAgent extends http.Agent {
  readonly log: RecordedRequest[] = [];
  constructor() {
    super({ keepAlive: true, maxSockets: 64 });
  }
  // `addRequest` is how a ClientRequest hands itself to its agent (not in @types/node).
  addRequest(req: http.ClientRequest, options: http.RequestOptions): void {
    const headers: Record<string, string> = {};
    for (const name of req.getHeaderNames()) headers[name.toLowerCase()] = String(req.getHeader(name));
    this.log.push({ method: req.method, path: req.path, headers });
    (http.Agent.prototype as unknown as { addRequest(r: http.ClientRequest, o: http.RequestOptions): void }).addRequest.call(this, req, options);
  }
  /** Requests whose path matches. */
  matching(method: string, pattern: RegExp): RecordedRequest[] {
    return this.log.filter((r) => r.method === method && pattern.test(r.path));
  }
}

export interface TransferHarness {
  readonly server: RunningServer;
  readonly agent: RecordingAgent;
  readonly oss: OSS;
  readonly masterKey: RsaMasterKey;
  readonly client: EncryptionClient;
  readonly store: AliOssStore;
  readonly keys: KeyRing;
  readonly cache: MaterialCache;
  /** A fresh temporary directory, removed by close(). */
  readonly dir: string;
  /** An ali-oss client for the same server (no recording). */
  plainOss(): OSS;
  close(): Promise<void>;
}

export function ossFor(server: RunningServer, agent?: http.Agent): OSS {
  return new OSS({
    endpoint: server.endpoint,
    region: 'oss-cn-hangzhou',
    bucket: BUCKET,
    accessKeyId: server.credentials.accessKeyId,
    accessKeySecret: server.credentials.accessKeySecret,
    authorizationV4: true,
    secure: false,
    timeout: 60_000,
    // @ts-expect-error `agent` is an ali-oss option (lib/client.js) missing from @types/ali-oss
    agent,
  });
}

export async function startTransferHarness(): Promise<TransferHarness> {
  const server = await startServer({ memory: true, buckets: [BUCKET], kms: false, faults: {} });
  const agent = new RecordingAgent();
  const oss = ossFor(server, agent);
  const masterKey = new RsaMasterKey({ privateKey: vectorKeys.privatePkcs8() });
  const dir = await mkdtemp(join(tmpdir(), 'oss-cse-transfer-'));
  const plain: OSS[] = [];
  return {
    server,
    agent,
    oss,
    masterKey,
    client: new EncryptionClient(oss, { masterKey }),
    store: new AliOssStore(oss),
    keys: new KeyRing([masterKey]),
    cache: new MaterialCache(),
    dir,
    plainOss: () => {
      const o = ossFor(server);
      plain.push(o);
      return o;
    },
    close: async () => {
      agent.destroy();
      await server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The raw stored bytes of an object (ciphertext), through a plain client. */
export async function rawObject(oss: OSS, name: string): Promise<Buffer> {
  const r = await oss.get(name);
  return r.content as Buffer;
}

/** True when the object exists. */
export async function exists(oss: OSS, name: string): Promise<boolean> {
  try {
    await oss.head(name);
    return true;
  } catch (e) {
    if ((e as { status?: number }).status === 404) return false;
    throw e;
  }
}

/** Deterministic pseudo-random bytes (fast, no CSPRNG needed for test data). */
export function testBytes(size: number, seed = 1): Buffer {
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

/** Shuffles a copy of `items` with a seeded PRNG. */
export function shuffled<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  let x = seed >>> 0 || 7;
  for (let i = out.length - 1; i > 0; i--) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    const j = (x >>> 0) % (i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

/** The forms a secret could take in a text file: hex (both cases), base64 and base64url. */
export function secretForms(bytes: Uint8Array): string[] {
  const b = Buffer.from(bytes);
  const base64 = b.toString('base64');
  return [b.toString('hex'), b.toString('hex').toUpperCase(), base64, base64.replace(/=+$/, ''), b.toString('base64url')];
}

/** 100 KiB: OSS's smallest non-last part. */
export const KIB100 = 102_400;

/** Runs `run`, which must fail, and returns what it threw. */
export async function failure(run: () => Promise<unknown>): Promise<unknown> {
  try {
    await run();
  } catch (e) {
    return e;
  }
  assert.fail('expected a failure');
}

/** A checkpoint store (in memory) whose saves fail from the `failFrom`-th on (1-based), like a disk filling up. */
export class FailingCheckpointStore<T> implements CheckpointStore<T> {
  readonly inner = new MemoryCheckpointStore<T>();
  attempts = 0;
  constructor(
    readonly failFrom: number,
    readonly description = 'test-store:cp',
  ) {}
  async load(): Promise<T | undefined> {
    return this.inner.load();
  }
  async save(checkpoint: T): Promise<void> {
    this.attempts++;
    if (this.attempts >= this.failFrom) throw new Error('disk full (test)');
    await this.inner.save(checkpoint);
  }
  async remove(): Promise<void> {
    await this.inner.remove();
  }
}
