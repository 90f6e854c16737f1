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
const MAX_REMEMBERED_NONCES = 100_000;

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

/**
 * Reads the request body, at most {@link MAX_BODY_BYTES}. On overflow it rejects at once and keeps discarding the
 * rest, so the error can still be answered (destroying the stream would reset the connection instead).
 *
 * @throws KmsError InvalidParameter when the body is larger; InternalFailure when the client aborts
 */
async function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const fail = (error: KmsError): void => {
      if (settled) return;
      settled = true;
      chunks.length = 0;
      reject(error);
    };
    req.on('data', (chunk: Buffer) => {
      if (settled) return;
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        fail(new KmsError(KmsErrorCode.InvalidParameter, `The request body is larger than ${MAX_BODY_BYTES} bytes.`));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (settled) return;
      settled = true;
      resolve(Buffer.concat(chunks));
    });
    const aborted = (): void => {
      fail(new KmsError(KmsErrorCode.InternalFailure, 'The request body could not be read.'));
    };
    req.on('error', aborted);
    req.on('close', () => {
      if (!req.complete) aborted();
    });
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

/** Remembers recent SignatureNonce values to refuse replays within the timestamp window. */
export class NonceCache {
  readonly #seen = new Map<string, number>();

  /**
   * Records a nonce.
   *
   * @param key - access key id + nonce
   * @param now - current time (ms)
   * @returns false when the nonce was already used within the window
   */
  use(key: string, now: number): boolean {
    const expiry = this.#seen.get(key);
    if (expiry !== undefined && expiry > now) return false;
    this.#seen.delete(key);
    this.#seen.set(key, now + 2 * TIMESTAMP_WINDOW_MS);
    if (this.#seen.size > MAX_REMEMBERED_NONCES) this.#prune(now);
    return true;
  }

  /** Forgets every nonce. */
  clear(): void {
    this.#seen.clear();
  }

  #prune(now: number): void {
    for (const [key, expiry] of this.#seen) if (expiry <= now) this.#seen.delete(key);
    // Still too many (a flood of fresh nonces): drop the oldest; insertion order is time order.
    for (const key of this.#seen.keys()) {
      if (this.#seen.size <= MAX_REMEMBERED_NONCES) break;
      this.#seen.delete(key);
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
 *   SignatureNonceUsed
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
  if (!auth.nonces.use(`${accessKeyId}\n${nonce}`, auth.now)) {
    throw new KmsError(KmsErrorCode.SignatureNonceUsed, `Specified signature nonce was used already: ${nonce}`);
  }
  return credential;
}
