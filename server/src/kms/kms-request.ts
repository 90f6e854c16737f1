/**
 * Reading a KMS RPC request: its parameters (query string and, optionally, a form body) and its authentication
 * (common parameters, RPC v1 signature, timestamp window, nonce replay, STS token).
 *
 * @packageDocumentation
 */
import type * as http from 'node:http';
import { KmsError, KmsErrorCode } from './kms-error.js';
import { computeSignature, signaturesEqual, stringToSign } from './rpc-signature.js';

/** The KMS API version this emulator speaks. */
export const KMS_API_VERSION = '2016-01-20';
/** Largest form body read, in bytes. KMS parameters are small (6 KiB plaintext, 8 KiB context). */
export const MAX_BODY_BYTES = 64 * 1024;
/** How far a request's `Timestamp` may be from the server clock (RPC gateway rule). */
export const TIMESTAMP_WINDOW_MS = 15 * 60 * 1000;

/** One accepted access key (same shape as the public `KmsCredential`). */
export interface Credential {
  readonly accessKeyId: string;
  readonly accessKeySecret: string;
  readonly securityToken?: string;
}

function missing(name: string): KmsError {
  return new KmsError(
    KmsErrorCode.MissingParameter,
    `The input parameter "${name}" that is mandatory for processing this request is not supplied.`,
  );
}

function addParam(params: Map<string, string>, name: string, value: string): void {
  if (params.has(name)) {
    throw new KmsError(KmsErrorCode.InvalidParameter, `The parameter "${name}" is given more than once.`);
  }
  params.set(name, value);
}

/** Longest time the whole KMS form body may take to arrive, in ms (the official client sends no body at all). */
export const BODY_TIMEOUT_MS = 30_000;

/**
 * Reads the request body, at most {@link MAX_BODY_BYTES}, within {@link BODY_TIMEOUT_MS}. A larger declared or
 * received body, or one that takes too long, is refused at once and never read further: the answer is sent with
 * `Connection: close` (the body is read before authentication, so draining it would let anyone hold a connection).
 *
 * @throws KmsError InvalidParameter when the body is larger or too slow; InternalFailure when the client aborts
 */
async function readBody(req: http.IncomingMessage): Promise<Buffer> {
  const tooLarge = (): KmsError => new KmsError(KmsErrorCode.InvalidParameter, `The request body is larger than ${MAX_BODY_BYTES} bytes.`);
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > MAX_BODY_BYTES) throw tooLarge();
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const timer = setTimeout(() => {
      fail(new KmsError(KmsErrorCode.InvalidParameter, `The request body did not arrive within ${BODY_TIMEOUT_MS / 1000} s.`));
    }, BODY_TIMEOUT_MS);
    const stop = (): void => {
      clearTimeout(timer);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', aborted);
      req.off('close', onClose);
      req.pause();
    };
    const fail = (error: KmsError): void => {
      stop();
      chunks.length = 0;
      reject(error);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        fail(tooLarge());
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      stop();
      resolve(Buffer.concat(chunks));
    };
    const aborted = (): void => {
      fail(new KmsError(KmsErrorCode.InternalFailure, 'The request body could not be read.'));
    };
    const onClose = (): void => {
      if (!req.complete) aborted();
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', aborted);
    req.on('close', onClose);
  });
}

/**
 * Collects every request parameter: the query string, plus an `application/x-www-form-urlencoded` body (the official
 * RPC client signs both together). Any other body is read (bounded) and ignored.
 *
 * @throws KmsError InvalidParameter for a repeated parameter or an oversized body
 */
export async function collectParams(req: http.IncomingMessage, url: URL): Promise<Map<string, string>> {
  const params = new Map<string, string>();
  for (const [name, value] of url.searchParams) addParam(params, name, value);
  const body = await readBody(req);
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (body.length > 0 && type === 'application/x-www-form-urlencoded') {
    for (const [name, value] of new URLSearchParams(body.toString('utf8'))) addParam(params, name, value);
  }
  return params;
}

/**
 * Returns a required, non-empty parameter.
 *
 * @throws KmsError MissingParameter when absent or empty
 */
export function required(params: ReadonlyMap<string, string>, name: string): string {
  const value = params.get(name);
  if (value === undefined || value === '') throw missing(name);
  return value;
}

/**
 * How long a nonce is remembered: a request is accepted while its `Timestamp` is within {@link TIMESTAMP_WINDOW_MS}
 * of the server clock, so a request first seen now (stamped up to 15 minutes ahead) can be replayed for up to 30
 * minutes; the nonce must be remembered that long.
 */
export const NONCE_RETENTION_MS = 2 * TIMESTAMP_WINDOW_MS;
/**
 * Most nonces remembered at once (KMS.md "Request signing"): about 280 requests per second sustained over the
 * 30-minute retention, ~130 bytes each. When full, new requests are refused with `Rejected.Throttling` until old
 * nonces expire; a nonce is never forgotten inside its window.
 */
export const MAX_REMEMBERED_NONCES = 500_000;
/** Width of one expiry bucket: expired nonces are dropped a bucket at a time. */
const NONCE_BUCKET_MS = 60_000;

/**
 * Remembers SignatureNonce values for {@link NONCE_RETENTION_MS}, whatever the request volume. Nonces are kept in
 * time buckets by expiry, so expired ones are dropped a whole bucket at a time (no scan of live entries); when
 * `capacity` live nonces are held, {@link NonceCache.use} answers `'full'` instead of forgetting one.
 */
export class NonceCache {
  /** key → expiry (ms). */
  readonly #seen = new Map<string, number>();
  /** bucket number (expiry / NONCE_BUCKET_MS, floored) → keys that expire in it; insertion order = time order. */
  readonly #buckets = new Map<number, string[]>();
  readonly #capacity: number;
  readonly #retentionMs: number;

  /**
   * @param capacity - most nonces held at once (default {@link MAX_REMEMBERED_NONCES})
   * @param retentionMs - how long a nonce is remembered (default {@link NONCE_RETENTION_MS})
   * @throws RangeError when either is not a positive integer
   */
  constructor(capacity = MAX_REMEMBERED_NONCES, retentionMs = NONCE_RETENTION_MS) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) throw new RangeError('NonceCache: capacity must be a positive integer');
    if (!Number.isSafeInteger(retentionMs) || retentionMs < 1) {
      throw new RangeError('NonceCache: retentionMs must be a positive integer');
    }
    this.#capacity = capacity;
    this.#retentionMs = retentionMs;
  }

  /**
   * Records a nonce.
   *
   * @param key - access key id + nonce
   * @param now - current time (ms)
   * @returns `'fresh'` (recorded), `'replay'` (already used within the retention) or `'full'` (not recorded: the
   *   cache holds `capacity` live nonces; the caller must refuse the request)
   */
  use(key: string, now: number): 'fresh' | 'replay' | 'full' {
    this.#expire(now);
    const expiry = this.#seen.get(key);
    if (expiry !== undefined && expiry > now) return 'replay';
    if (expiry === undefined && this.#seen.size >= this.#capacity) return 'full';
    const until = now + this.#retentionMs;
    this.#seen.set(key, until);
    const bucket = Math.floor(until / NONCE_BUCKET_MS);
    const keys = this.#buckets.get(bucket);
    if (keys === undefined) this.#buckets.set(bucket, [key]);
    else keys.push(key);
    return 'fresh';
  }

  /** @returns how many nonces are held (live, or expired but not yet dropped) */
  get size(): number {
    return this.#seen.size;
  }

  /** Forgets every nonce. */
  clear(): void {
    this.#seen.clear();
    this.#buckets.clear();
  }

  /** Drops every bucket that ended at or before `now` (all its keys expired, unless reused since). */
  #expire(now: number): void {
    for (const [bucket, keys] of this.#buckets) {
      // Map iteration follows insertion; buckets are created in expiry order because time only moves forward here
      // (a clock stepping back only delays drops).
      if ((bucket + 1) * NONCE_BUCKET_MS > now) break;
      for (const key of keys) {
        const expiry = this.#seen.get(key);
        if (expiry !== undefined && expiry <= now) this.#seen.delete(key);
      }
      this.#buckets.delete(bucket);
    }
  }
}

const TIMESTAMP_PATTERN = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d{1,3})?Z$/;

function parseTimestamp(text: string): number | null {
  const m = TIMESTAMP_PATTERN.exec(text);
  if (m === null) return null;
  const ms = Date.parse(text);
  // Date.parse accepts 2024-02-30 by rolling over; require the fields to round-trip.
  if (Number.isNaN(ms)) return null;
  const d = new Date(ms);
  if (d.getUTCFullYear() !== Number(m[1]) || d.getUTCMonth() + 1 !== Number(m[2]) || d.getUTCDate() !== Number(m[3])) {
    return null;
  }
  return ms;
}

/** What {@link authenticate} needs. */
export interface AuthContext {
  readonly method: string;
  readonly credentials: ReadonlyMap<string, Credential>;
  readonly now: number;
  readonly nonces: NonceCache;
}

/**
 * Checks a request's common parameters and its signature, in the order the RPC gateway reports problems.
 *
 * @returns the authenticated credential
 * @throws KmsError IncompleteSignature, MissingParameter, IllegalTimestamp, InvalidTimeStamp.Expired,
 *   InvalidAccessKeyId.NotFound, SignatureDoesNotMatch, InvalidSecurityToken.MismatchWithAccessKey,
 *   SignatureNonceUsed, Rejected.Throttling (too many nonces inside the replay window)
 */
export function authenticate(params: ReadonlyMap<string, string>, auth: AuthContext): Credential {
  const method = params.get('SignatureMethod');
  if (method !== 'HMAC-SHA1') {
    throw new KmsError(
      KmsErrorCode.IncompleteSignature,
      method === undefined
        ? 'The request signature does not conform to Aliyun standards: SignatureMethod is missing.'
        : `The request signature does not conform to Aliyun standards: SignatureMethod "${method}" is not HMAC-SHA1.`,
    );
  }
  const version = params.get('SignatureVersion');
  if (version !== '1.0') {
    throw new KmsError(
      KmsErrorCode.IncompleteSignature,
      'The request signature does not conform to Aliyun standards: SignatureVersion must be 1.0.',
    );
  }
  const signature = params.get('Signature');
  if (signature === undefined || signature === '') {
    throw new KmsError(
      KmsErrorCode.IncompleteSignature,
      'The request signature does not conform to Aliyun standards: Signature is missing.',
    );
  }
  const accessKeyId = required(params, 'AccessKeyId');
  const timestampText = params.get('Timestamp');
  if (timestampText === undefined || timestampText === '') {
    throw new KmsError(
      KmsErrorCode.IllegalTimestamp,
      'The input parameter "Timestamp" that is mandatory for processing this request is not supplied.',
    );
  }
  const timestamp = parseTimestamp(timestampText);
  if (timestamp === null) {
    throw new KmsError(
      KmsErrorCode.IllegalTimestamp,
      `The input parameter "Timestamp" is not in the format YYYY-MM-DDThh:mm:ssZ: ${timestampText}`,
    );
  }
  if (Math.abs(timestamp - auth.now) > TIMESTAMP_WINDOW_MS) {
    throw new KmsError(
      KmsErrorCode.TimestampExpired,
      `Specified time stamp or date value is expired: ${timestampText} is more than 15 minutes from the server time.`,
    );
  }
  const nonce = required(params, 'SignatureNonce');
  const credential = auth.credentials.get(accessKeyId);
  if (credential === undefined) {
    throw new KmsError(KmsErrorCode.AccessKeyNotFound, `Specified access key is not found: ${accessKeyId}`);
  }
  const signed = new Map(params);
  signed.delete('Signature');
  const toSign = stringToSign(auth.method, signed);
  if (!signaturesEqual(signature, computeSignature(toSign, credential.accessKeySecret))) {
    // Like the gateway, say what was signed so a client author can diff it; the secret is never part of it.
    throw new KmsError(
      KmsErrorCode.SignatureDoesNotMatch,
      `Specified signature is not matched with our calculation. server string to sign is:${toSign}`,
    );
  }
  const token = params.get('SecurityToken');
  if ((credential.securityToken ?? '') !== (token ?? '')) {
    throw new KmsError(
      KmsErrorCode.SecurityTokenMismatch,
      credential.securityToken === undefined
        ? `The access key ${accessKeyId} is not an STS key but a SecurityToken was sent.`
        : `The SecurityToken is missing or does not belong to the access key ${accessKeyId}.`,
    );
  }
  const seen = auth.nonces.use(`${accessKeyId}\n${nonce}`, auth.now);
  if (seen === 'replay') {
    throw new KmsError(KmsErrorCode.SignatureNonceUsed, `Specified signature nonce was used already: ${nonce}`);
  }
  if (seen === 'full') {
    // Forgetting a nonce inside its window would let a captured request be replayed; refusing is the safe side.
    throw new KmsError(
      KmsErrorCode.Throttling,
      'Request was denied due to request throttling: the emulator remembers too many recent signature nonces; retry later.',
    );
  }
  return credential;
}
