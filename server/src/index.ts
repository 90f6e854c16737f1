/**
 * oss-cse's embedded OSS-compatible server: buckets, objects and multipart uploads on local disk (or in memory),
 * OSS V1/V4 signatures, OSS error XML, and the KMS emulator on the same listener. See server/CONFORMANCE.md.
 *
 * ```ts
 * const server = await startServer({ dataDir: '/tmp/oss', buckets: ['demo'] });
 * const client = new OSS({ endpoint: server.endpoint, bucket: 'demo', ...server.credentials });
 * await server.close();
 * ```
 *
 * @packageDocumentation
 * @module oss-cse/server
 */

import { createHash } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { CorsRegistry } from './cors.js';
import { credentialsModeWarning, generateCredentials, loadOrCreateCredentials, type Credentials } from './credentials.js';
import { createFaultInjector, type FaultController, type FaultPlan } from './faults.js';
import { ConnectionGuard, resolveLimits, serverOptions } from './guard.js';
import { createListener, type ServerRequestEntry } from './http.js';
import { createKmsService, type KmsService } from './kms/index.js';
import { FsStore } from './store/fs-store.js';
import { MemoryStore } from './store/memory-store.js';
import type { Store } from './store/types.js';
import { isValidBucketName } from './validate.js';

export type { Credentials } from './credentials.js';
export type { ServerRequestEntry } from './http.js';
export { CSE_EXPOSE_HEADERS, type CorsRule } from './cors.js';
export {
  DEFAULT_RANDOM_KINDS,
  FAULT_KINDS,
  FAULT_OPERATIONS,
  MAX_EXTRA_BYTES,
  MAX_SLOW_MS,
  mulberry32,
  type Fault,
  type FaultController,
  type FaultKind,
  type FaultLogEntry,
  type FaultOperation,
  type FaultPlan,
  type FaultRule,
  type FaultStats,
  type FaultTarget,
  type RandomFaultSchedule,
} from './faults.js';

/** Options of {@link startServer}. */
export interface ServerOptions {
  /** Interface to listen on. Default `127.0.0.1` (loopback only). */
  readonly host?: string;
  /** Port; 0 (the default) picks a free one. */
  readonly port?: number;
  /** Data directory. Required unless `memory` is true. */
  readonly dataDir?: string;
  /** Keep everything in memory (tests); nothing is written to disk. */
  readonly memory?: boolean;
  /**
   * The one access key the server accepts. Default: the pair stored in `<dataDir>/credentials.json`, created on first
   * start; in memory mode, a fresh pair per start.
   */
  readonly credentials?: Credentials;
  /** Buckets to create at start when missing. */
  readonly buckets?: readonly string[];
  /** Serve the KMS emulator on the same listener (default true). */
  readonly kms?: boolean;
  /** Region reported by ListBuckets and the KMS emulator. Default `cn-hangzhou`. */
  readonly region?: string;
  /** Where unexpected internal errors are reported. Default: standard error. */
  readonly log?: (line: string) => void;
  /**
   * TEST ONLY: arms fault injection (CONFORMANCE.md "Fault injection (test-only)") with this initial plan; `{}` arms
   * it with nothing scheduled. Without this option the server has no fault hook at all and `server.faults` is
   * undefined. The CLI never sets it.
   */
  readonly faults?: FaultPlan;
  /**
   * Most open client connections (CONFORMANCE.md "Connections and timeouts"). Default 1024, or half the process's
   * open-file limit when that is lower. At the cap, the oldest idle connection that never carried an authenticated
   * request is closed for a new one; connections of authenticated clients are never closed for room.
   */
  readonly maxConnections?: number;
  /** Time allowed for a request's headers to arrive, ms. Default 30,000. */
  readonly headersTimeoutMs?: number;
  /**
   * Longest silence while the server waits for the client (a request body that stops arriving, a response the client
   * does not read), ms; the connection is then closed. Default 120,000. Not a total cap: slow uploads that keep
   * moving are never cut.
   */
  readonly idleTimeoutMs?: number;
  /** Total time allowed to receive a whole request (headers and body), ms; 0 (the default) means no cap. */
  readonly requestTimeoutMs?: number;
  /**
   * A permissive CORS rule for local browser work (`oss-cse serve --cors ORIGIN`): these origins (`*` for any) may use
   * every method and request header, and read the headers a client-side-encryption reader needs (ETag, Content-Range,
   * x-oss-request-id, x-oss-hash-crc64ecma, the x-oss-meta-client-side-encryption-* headers). It applies to buckets
   * without their own PutBucketCors configuration. Default: none (preflights refused unless a bucket has rules).
   */
  readonly cors?: string | readonly string[];
  /**
   * Observability / test hook: called once for every answered OSS request (never for KMS requests), after the answer's
   * status is known, with the method, the OSS operation name, the bucket, the key and the status. Tests use it to
   * count the writes a job made per key. A request whose connection broke before any status was sent is not
   * reported. An exception it throws is caught and written to `log`; it never changes the answer.
   */
  readonly onRequest?: (entry: ServerRequestEntry) => void;
}

/** A running server. */
export interface RunningServer {
  /** `http://HOST:PORT`, to pass as `endpoint` to `ali-oss` (and the KMS client). */
  readonly endpoint: string;
  /** The address listened on. */
  readonly host: string;
  /** The port listened on. */
  readonly port: number;
  /** The access key the server accepts. */
  readonly credentials: Credentials;
  /** True when the credentials were generated by this start (new data directory or memory mode). */
  readonly credentialsGenerated: boolean;
  /** The data directory (absent in memory mode). */
  readonly dataDir?: string;
  /**
   * TEST ONLY: the fault-injection controller (`set(plan)`, `clear()`, `log()`, `resetLog()`, `stats()`), present
   * only when the server was started with the `faults` option.
   */
  readonly faults?: FaultController;
  /**
   * Stops listening, drops open connections, waits for pending KMS key writes and releases the data directory.
   * Calling it again returns the same promise.
   * @throws never: it always resolves. A KMS key write that failed (its caller already got the error) and a lock
   *   file that cannot be deleted are ignored; the next start takes over a lock whose process is gone.
   */
  close(): Promise<void>;
}

function ownerFor(credentials: Credentials): { id: string; displayName: string } {
  const digest = createHash('sha256').update(credentials.accessKeyId).digest();
  const id = (digest.readBigUInt64BE(0) % 10n ** 16n).toString().padStart(16, '1');
  return { id, displayName: id };
}

/** The test-facing part of the injector (without the listener's hook). */
function controllerOf(injector: FaultController): FaultController {
  return {
    set: (plan) => {
      injector.set(plan);
    },
    clear: () => {
      injector.clear();
    },
    log: () => injector.log(),
    resetLog: () => {
      injector.resetLog();
    },
    stats: () => injector.stats(),
  };
}

/**
 * Starts the server.
 * @param options - address, storage, credentials, buckets
 * @returns the running server
 * @throws Error, before anything is opened: `startServer needs dataDir unless memory is true`; `invalid bucket name
 *   "…"` for a name in `buckets` that OSS would refuse; `credentials need a non-empty accessKeyId and
 *   accessKeySecret`; `invalid CORS origin "…"` for an empty `cors` origin or one with more than one `*`
 * @throws RangeError, before anything is opened, when the `faults` plan is malformed (the message names the field), or
 *   `maxConnections` / a timeout is not a positive integer (`requestTimeoutMs` may be 0)
 * @throws Error about the data directory: `data directory … is in use by process N` (another live server holds its
 *   lock), `could not lock data directory …`, `… is not an oss-cse server data directory of version N`,
 *   `credentials.json` without the key pair (a `SyntaxError` when it is not JSON), or invalid KMS key state under
 *   `kms/`; `… is a symbolic link …` when a file or directory the server uses inside the data directory is a link
 *   (links inside it are never followed; the data directory itself may be one); Node's system errors (`code` `EACCES`, `ENOTDIR`, `ENOSPC`, …) when it cannot be created, read or written
 * @throws Node's system error from `listen` (`code` `EADDRINUSE`, `EACCES`, `EADDRNOTAVAIL`, …) when the address
 *   cannot be bound. Whatever was opened (store, KMS emulator, listener) is closed before any of these is thrown.
 */
export async function startServer(options: ServerOptions = {}): Promise<RunningServer> {
  const memory = options.memory === true;
  if (!memory && (options.dataDir === undefined || options.dataDir === '')) {
    throw new Error('startServer needs dataDir unless memory is true');
  }
  for (const bucket of options.buckets ?? []) {
    if (!isValidBucketName(bucket)) throw new Error(`invalid bucket name ${JSON.stringify(bucket)}`);
  }
  const host = options.host ?? '127.0.0.1';
  const region = options.region ?? 'cn-hangzhou';
  const log = options.log ?? ((line: string) => process.stderr.write(line + '\n'));
  // Validated before anything is opened, so a bad plan or limit leaves nothing behind.
  const faults = options.faults === undefined ? undefined : createFaultInjector(options.faults);
  const limits = resolveLimits({
    ...(options.maxConnections === undefined ? {} : { maxConnections: options.maxConnections }),
    ...(options.headersTimeoutMs === undefined ? {} : { headersTimeoutMs: options.headersTimeoutMs }),
    ...(options.idleTimeoutMs === undefined ? {} : { idleTimeoutMs: options.idleTimeoutMs }),
    ...(options.requestTimeoutMs === undefined ? {} : { requestTimeoutMs: options.requestTimeoutMs }),
  });

  let credentials: Credentials;
  let credentialsGenerated = false;
  if (options.credentials !== undefined) {
    if (options.credentials.accessKeyId === '' || options.credentials.accessKeySecret === '') {
      throw new Error('credentials need a non-empty accessKeyId and accessKeySecret');
    }
    credentials = options.credentials;
  } else if (memory) {
    credentials = generateCredentials();
    credentialsGenerated = true;
  } else {
    const loaded = await loadOrCreateCredentials(options.dataDir ?? '');
    credentials = loaded.credentials;
    credentialsGenerated = loaded.created;
    // Once per start: the file holds the only secret the server checks.
    const warning = credentialsModeWarning(loaded.path, loaded.mode);
    if (warning !== undefined) log(warning);
  }

  const corsOrigins = options.cors === undefined ? [] : typeof options.cors === 'string' ? [options.cors] : [...options.cors];
  for (const origin of corsOrigins) {
    if (origin === '' || origin.split('*').length > 2) throw new Error(`invalid CORS origin ${JSON.stringify(origin)} (at most one *)`);
  }
  const cors = await CorsRegistry.open({ defaultOrigins: corsOrigins, ...(memory ? {} : { dataDir: options.dataDir ?? '' }) });
  const store: Store = memory ? new MemoryStore() : await FsStore.open(options.dataDir ?? '');
  let kms: KmsService | undefined;
  let server: http.Server | undefined;
  try {
    for (const bucket of options.buckets ?? []) {
      if (store.getBucket(bucket) === undefined) await store.createBucket(bucket, Date.now());
    }
    if (options.kms !== false) {
      kms = createKmsService({
        ...(memory ? { memory: true } : { dataDir: options.dataDir ?? '' }),
        credentials: [credentials],
        region,
      });
    }
    // Limits, timeouts and the connection cap: guard.ts (no total request timeout, so slow uploads that keep moving
    // are never cut; silence while the server waits for the client is).
    const srv = http.createServer(serverOptions(limits));
    const guard = new ConnectionGuard(srv, limits, log);
    srv.on(
      'request',
      createListener({
        store,
        secrets: new Map([[credentials.accessKeyId, credentials.accessKeySecret]]),
        owner: ownerFor(credentials),
        region,
        kms,
        log,
        faults,
        guard,
        cors,
        onRequest: options.onRequest,
      }),
    );
    server = srv;
    await new Promise<void>((resolve, reject) => {
      srv.once('error', reject);
      srv.listen(options.port ?? 0, host, () => {
        srv.off('error', reject);
        resolve();
      });
    });
  } catch (e) {
    server?.close();
    await kms?.close();
    await store.close();
    throw e;
  }

  const address = server.address() as AddressInfo;
  const urlHost = address.family === 'IPv6' || address.address.includes(':') ? `[${address.address}]` : address.address;
  let closing: Promise<void> | undefined;
  const running: RunningServer = {
    endpoint: `http://${urlHost}:${address.port}`,
    host: address.address,
    port: address.port,
    credentials,
    credentialsGenerated,
    ...(memory ? {} : { dataDir: options.dataDir ?? '' }),
    ...(faults === undefined ? {} : { faults: controllerOf(faults) }),
    close: async () => {
      const srv = server;
      closing ??= (async () => {
        await new Promise<void>((resolve) => {
          srv.close(() => {
            resolve();
          });
          srv.closeAllConnections();
        });
        await kms?.close();
        await store.close();
      })();
      return closing;
    },
  };
  return running;
}
