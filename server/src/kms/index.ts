/**
 * KMS emulator: the Alibaba Cloud KMS RPC actions Encrypt, Decrypt, GenerateDataKey, CreateKey, DescribeKey and
 * ListKeys (API version 2016-01-20), as the official `@alicloud/kms20160120` client sends and reads them.
 *
 * Mount it on any `node:http` listener (the embedded OSS server does, on the same port), or run it alone with
 * {@link startKmsServer}. Behaviour, blob format and error codes: server/src/kms/KMS.md.
 *
 * @packageDocumentation
 */
import { randomUUID } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  isKmsAction,
  keyMetadata,
  readCreateKeyParams,
  runAction,
  type ActionContext,
  type ActionResult,
  type KmsAction,
} from './kms-actions.js';
import { closeAfterResponse } from '../guard.js';
import { errorBody, KmsError, KmsErrorCode } from './kms-error.js';
import { authenticate, collectParams, KMS_API_VERSION, NonceCache, type Credential } from './kms-request.js';
import { KeyStore, type KeySpec, type ProtectionLevel } from './key-store.js';

export { KMS_ACTIONS, type KmsAction } from './kms-actions.js';
export { KmsErrorCode } from './kms-error.js';
export { KMS_API_VERSION } from './kms-request.js';

/** One access key accepted by the emulator. With `securityToken`, requests must carry that STS token. */
export interface KmsCredential {
  readonly accessKeyId: string;
  readonly accessKeySecret: string;
  readonly securityToken?: string;
}

/** Options of {@link createKmsService}. */
export interface KmsServiceOptions {
  /** Data directory; keys are kept in `<dataDir>/kms/keys.json` (mode 0600). Required unless `memory` is true. */
  dataDir?: string;
  /** Keep keys in memory only (tests); `dataDir` is then ignored. */
  memory?: boolean;
  /** Access keys whose signatures are accepted (at least one). */
  credentials: ReadonlyArray<KmsCredential>;
  /** Region used in key ARNs; default `cn-hangzhou`. */
  region?: string;
  /**
   * Test hook: the server clock (ms since the epoch), used for the 15-minute `Timestamp` window and key dates.
   * Default `Date.now`.
   */
  now?: () => number;
}

/** A transient failure to inject, see {@link KmsService.injectFailures}. */
export interface KmsFailure {
  /** Only requests for this action fail; default: any action. */
  readonly action?: KmsAction;
  /** How many requests fail before normal service resumes; default 1. */
  readonly count?: number;
  /**
   * `error` (default) answers a KMS JSON error with `code` and `status`; `reset` destroys the connection without an
   * answer (the client sees a socket error, as on a network failure).
   */
  readonly kind?: 'error' | 'reset';
  /** KMS error code; default `ServiceUnavailableTemporary`. */
  readonly code?: string;
  /**
   * HTTP status; default by code: `InternalFailure`/`InternalError` 500, `ServiceUnavailable*` 503,
   * `Throttling*`/`Rejected.Throttling` 400 (the RPC gateway answers throttling with 400), anything else 500.
   */
  readonly status?: number;
  /** Error message; default names the injected failure. */
  readonly message?: string;
}

/** One answered request, as recorded by the service (see {@link KmsService.calls}). */
export interface KmsCall {
  /** The `Action` parameter, or `''` when absent. */
  readonly action: string;
  /** HTTP status of the answer (0 when the connection was reset by an injected failure). */
  readonly status: number;
  /** The error code, for error answers. */
  readonly code?: string;
  /** The request id answered. */
  readonly requestId: string;
}

/** Key metadata as DescribeKey answers it (`KeyMetadata`). */
export interface KmsKeyMetadata {
  readonly KeyId: string;
  readonly Arn: string;
  readonly KeySpec: KeySpec;
  readonly Description: string;
  readonly CreationDate: string;
  readonly PrimaryKeyVersion: string;
  readonly [field: string]: unknown;
}

/** Options of {@link KmsService.createKey}. */
export interface KmsCreateKeyOptions {
  readonly description?: string;
  /** Default `Aliyun_AES_256`. */
  readonly keySpec?: KeySpec;
  readonly protectionLevel?: ProtectionLevel;
  /** An alias to bind, without the `alias/` prefix (letters, digits, `_`, `-`, `/`). */
  readonly alias?: string;
}

/** A KMS RPC endpoint that can be mounted on any node:http listener. */
export interface KmsService {
  /**
   * True when the request is a KMS RPC call: `GET` or `POST` on `/` with `Action` and `Version=2016-01-20` in the
   * query string (what the official client sends), or with the `x-acs-action` / `x-acs-version: 2016-01-20` headers
   * (parameters then possibly in a form body).
   */
  isKmsRequest(req: http.IncomingMessage, url: URL): boolean;
  /** Answers one KMS RPC request. Never rejects: every failure is answered as a KMS JSON error. */
  handle(req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void>;
  /** Waits for pending key writes and stops answering (later requests get 503 `ServiceUnavailableTemporary`). */
  close(): Promise<void>;
  /**
   * Creates a key without a request (setup for tests and the CLI).
   *
   * @throws Error when the alias is invalid or taken, or the key cannot be persisted
   */
  createKey(options?: KmsCreateKeyOptions): Promise<KmsKeyMetadata>;
  /**
   * Returns the key bound to `alias` (without `alias/`), creating it (and the alias) first when it does not exist.
   * Lets the CLI offer a stable default key such as `alias/oss-cse-default`.
   *
   * @throws Error when the alias is invalid or the key cannot be persisted
   */
  ensureKey(alias: string, options?: Omit<KmsCreateKeyOptions, 'alias'>): Promise<KmsKeyMetadata>;
  /** Metadata of every key, in creation order. */
  listKeys(): KmsKeyMetadata[];
  /**
   * TEST HOOK. Makes the next `count` matching requests fail transiently, after authentication (so the failure looks
   * like a KMS outage, not a client error). Rules queue up: the first rule matching a request's action is used.
   * Meant for retry tests, e.g. `injectFailures({ action: 'Decrypt', count: 2, code: 'ServiceUnavailableTemporary' })`
   * then a KmsMasterKey read must succeed on its third attempt.
   *
   * @throws RangeError when `count` is not a positive integer or `status` is not 400–599
   */
  injectFailures(failure: KmsFailure): void;
  /** TEST HOOK. Drops every pending injected failure. */
  clearFailures(): void;
  /** TEST HOOK. The answered requests since creation or {@link KmsService.clearCalls} (at most the last 10000). */
  calls(): readonly KmsCall[];
  /** TEST HOOK. Forgets the recorded calls. */
  clearCalls(): void;
}

const MAX_CALLS = 10_000;

interface FailureRule {
  readonly action: KmsAction | undefined;
  remaining: number;
  readonly kind: 'error' | 'reset';
  readonly code: string;
  readonly status: number;
  readonly message: string;
}

function defaultFailureStatus(code: string): number {
  if (code.startsWith('ServiceUnavailable')) return 503;
  if (code.startsWith('Throttling') || code === 'Rejected.Throttling') return 400;
  return 500;
}

function hostOf(req: http.IncomingMessage): string {
  return req.headers.host ?? 'kms.localhost';
}

function sendJson(req: http.IncomingMessage, res: http.ServerResponse, status: number, requestId: string, body: object): void {
  const text = JSON.stringify(body);
  // An answer before the body was read (refused as too large or too slow) closes the connection; see guard.ts.
  closeAfterResponse(req, res);
  res.writeHead(status, {
    'content-type': 'application/json;charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'x-acs-request-id': requestId,
  });
  res.end(text);
}

/**
 * Creates a KMS emulator.
 *
 * @throws Error when no credential is given, neither `dataDir` nor `memory` is set, or the persisted key state under
 *   `<dataDir>/kms/` cannot be read or is invalid
 */
export function createKmsService(options: KmsServiceOptions): KmsService {
  if (options.credentials.length === 0) throw new Error('KMS emulator: at least one credential is required');
  const credentials = new Map<string, Credential>();
  for (const c of options.credentials) {
    if (c.accessKeyId === '' || c.accessKeySecret === '') {
      throw new Error('KMS emulator: credentials need a non-empty accessKeyId and accessKeySecret');
    }
    credentials.set(c.accessKeyId, c);
  }
  const memory = options.memory === true;
  if (!memory && (options.dataDir === undefined || options.dataDir === '')) {
    throw new Error('KMS emulator: give a dataDir, or memory: true');
  }
  const now = options.now ?? Date.now;
  const store = KeyStore.open(memory ? null : (options.dataDir ?? null), now);
  const ctx: ActionContext = { store, region: options.region ?? 'cn-hangzhou' };
  const nonces = new NonceCache();
  const failures: FailureRule[] = [];
  let calls: KmsCall[] = [];
  let closed = false;

  const record = (call: KmsCall): void => {
    calls.push(call);
    if (calls.length > MAX_CALLS) calls = calls.slice(-MAX_CALLS);
  };

  const takeFailure = (action: string): FailureRule | undefined => {
    const rule = failures.find((r) => r.remaining > 0 && (r.action === undefined || r.action === action));
    if (rule === undefined) return undefined;
    rule.remaining -= 1;
    if (rule.remaining === 0) failures.splice(failures.indexOf(rule), 1);
    return rule;
  };

  const metadata = (keyId: string): KmsKeyMetadata => {
    const key = store.get(keyId);
    if (key === undefined) throw new Error(`KMS emulator: no key ${keyId}`);
    return keyMetadata(ctx, key) as unknown as KmsKeyMetadata;
  };

  const createKey = async (opts: KmsCreateKeyOptions = {}): Promise<KmsKeyMetadata> => {
    const params = new Map<string, string>();
    if (opts.description !== undefined) params.set('Description', opts.description);
    if (opts.keySpec !== undefined) params.set('KeySpec', opts.keySpec);
    if (opts.protectionLevel !== undefined) params.set('ProtectionLevel', opts.protectionLevel);
    const spec = readCreateKeyParams(params);
    const key = await store.create({ ...spec, alias: opts.alias });
    return metadata(key.keyId);
  };

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> => {
    const requestId = randomUUID().toUpperCase();
    let action = url.searchParams.get('Action') ?? '';
    try {
      if (closed) {
        throw new KmsError(
          { code: 'ServiceUnavailableTemporary', status: 503 },
          'The KMS emulator is shutting down.',
        );
      }
      const params = await collectParams(req, url);
      action = params.get('Action') ?? '';
      if (action === '') {
        throw new KmsError(
          KmsErrorCode.MissingParameter,
          'The input parameter "Action" that is mandatory for processing this request is not supplied.',
        );
      }
      const version = params.get('Version');
      if (version !== KMS_API_VERSION) {
        throw new KmsError(
          KmsErrorCode.InvalidParameter,
          `Specified parameter Version is not valid: ${version ?? '(none)'}; this emulator speaks ${KMS_API_VERSION}.`,
        );
      }
      const format = params.get('Format');
      if (format !== undefined && format.toUpperCase() !== 'JSON') {
        throw new KmsError(
          KmsErrorCode.InvalidParameter,
          `Format "${format}" is not supported by the oss-cse KMS emulator; use JSON.`,
        );
      }
      authenticate(params, { method: req.method ?? 'GET', credentials, now: now(), nonces });
      if (!isKmsAction(action)) {
        throw new KmsError(
          KmsErrorCode.InvalidActionNotFound,
          `Specified api is not found, please check your url and method: ${action} is not implemented by the ` +
            'oss-cse KMS emulator.',
        );
      }
      const failure = takeFailure(action);
      if (failure !== undefined) {
        if (failure.kind === 'reset') {
          record({ action, status: 0, requestId });
          req.socket.destroy();
          return;
        }
        throw new KmsError({ code: failure.code, status: failure.status }, failure.message);
      }
      const result: ActionResult = await runAction(action, ctx, params);
      sendJson(req, res, 200, requestId, { ...result, RequestId: requestId });
      record({ action, status: 200, requestId });
    } catch (caught) {
      const error =
        caught instanceof KmsError
          ? caught
          : new KmsError(KmsErrorCode.InternalFailure, 'The KMS emulator failed to process the request.');
      record({ action, status: error.status, code: error.code, requestId });
      if (res.headersSent || res.destroyed) {
        res.destroy();
        return;
      }
      sendJson(req, res, error.status, requestId, errorBody(error, requestId, hostOf(req)));
    }
  };

  return {
    isKmsRequest(req, url) {
      if (url.pathname !== '/' || (req.method !== 'POST' && req.method !== 'GET')) return false;
      if (url.searchParams.has('Action') && url.searchParams.get('Version') === KMS_API_VERSION) return true;
      return req.headers['x-acs-version'] === KMS_API_VERSION && typeof req.headers['x-acs-action'] === 'string';
    },
    handle,
    async close() {
      closed = true;
      nonces.clear();
      await store.flush();
    },
    createKey,
    async ensureKey(alias, opts = {}) {
      const existing = store.aliasTarget(alias);
      if (existing !== undefined) return metadata(existing);
      return createKey({ ...opts, alias });
    },
    listKeys() {
      return store.list().map((k) => metadata(k.keyId));
    },
    injectFailures(failure) {
      const count = failure.count ?? 1;
      if (!Number.isInteger(count) || count < 1) {
        throw new RangeError('injectFailures: count must be a positive integer');
      }
      const code = failure.code ?? 'ServiceUnavailableTemporary';
      const status = failure.status ?? defaultFailureStatus(code);
      if (!Number.isInteger(status) || status < 400 || status > 599) {
        throw new RangeError('injectFailures: status must be an HTTP error status (400-599)');
      }
      failures.push({
        action: failure.action,
        remaining: count,
        kind: failure.kind ?? 'error',
        code,
        status,
        message: failure.message ?? `Injected transient failure (${code}) from the oss-cse KMS emulator.`,
      });
    },
    clearFailures() {
      failures.length = 0;
    },
    calls() {
      return [...calls];
    },
    clearCalls() {
      calls = [];
    },
  };
}

/** Options of {@link startKmsServer}. */
export interface KmsServerOptions extends KmsServiceOptions {
  /** Default `127.0.0.1` (loopback only). */
  host?: string;
  /** Default 0 (a free port). */
  port?: number;
}

/** A running standalone KMS emulator. */
export interface KmsServer {
  /** `http://HOST:PORT`. */
  readonly endpoint: string;
  /** `HOST:PORT`, the form the official client's `endpoint` option takes (with `protocol: 'http'`). */
  readonly hostPort: string;
  readonly port: number;
  readonly service: KmsService;
  /** Stops listening, closes open connections and the service. */
  close(): Promise<void>;
}

/**
 * Starts a KMS emulator alone on its own HTTP listener (tests; the embedded OSS server mounts the service instead).
 * Requests that are not KMS calls get a KMS JSON error 400 `MissingParameter`.
 *
 * @throws Error as {@link createKmsService}, or when the port cannot be bound
 */
export async function startKmsServer(options: KmsServerOptions): Promise<KmsServer> {
  const service = createKmsService(options);
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://kms.localhost');
    if (service.isKmsRequest(req, url)) {
      void service.handle(req, res, url);
      return;
    }
    const requestId = randomUUID().toUpperCase();
    const error = new KmsError(
      KmsErrorCode.MissingParameter,
      `Not a KMS request: expected GET or POST / with Action and Version=${KMS_API_VERSION}.`,
    );
    sendJson(req, res, error.status, requestId, errorBody(error, requestId, hostOf(req)));
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const hostPort = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  return {
    endpoint: `http://${hostPort}`,
    hostPort,
    port,
    service,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
        server.closeAllConnections();
      });
      await service.close();
    },
  };
}
