/**
 * The server half of the browser key broker (`KeyBrokerMasterKey` in `oss-cse/browser`): a `node:http` handler
 * (usable in Express and Koa) that makes wrapped material for new objects and unwraps envelopes, with RSA or KMS
 * master keys that never leave the server. It sees object names and envelopes, never content: the page encrypts and
 * decrypts. Every request passes the application's `authorize(request, envelope)` first; for unwraps that happens
 * before any key (or KMS) is used. Protocol: docs/browser.md "Key broker protocol".
 *
 * PKCS#1 v1.5 envelopes are opened here, where `RsaMasterKey` checks the padding without data-dependent branches
 * (SECURITY.md); the page never does a PKCS#1 v1.5 private-key operation.
 *
 * @packageDocumentation
 */

import type * as http from 'node:http';
import { CseError, ErrorCode } from '../errors.js';
import { parseEnvelope, pickCryptoHeaders } from '../format/envelope.js';
import type { Envelope } from '../format/types.js';
import { KeyRing } from '../keys/key-ring.js';
import type { MasterKey } from '../keys/master-key.js';
import { openParsedEnvelope, sealEnvelope } from '../object-crypto.js';

/** What the broker was asked, for `authorize`. */
export interface KeyBrokerRequest {
  /** `wrap`: material for a new object; `unwrap`: the key of an existing object. */
  readonly operation: 'wrap' | 'unwrap';
  /** The object key the page names (as the page says; check it against the user's rights). */
  readonly object: string;
  /** The HTTP request (cookies, session, `Authorization`, …). */
  readonly http: http.IncomingMessage;
}

/** Options of {@link createKeyBroker}. */
export interface KeyBrokerOptions {
  /** Wraps new objects (RSA or KMS); also tried on unwrap. */
  readonly masterKey: MasterKey;
  /** More keys for unwrapping (older keys, other descriptions). */
  readonly decryptionKeys?: readonly MasterKey[];
  /**
   * Decides each request. For `wrap` the envelope is the one the new object will carry (matdesc, wrap algorithm);
   * for `unwrap` it is the object's, parsed. Return false to refuse (the page gets ERR_CSE_KEY_BROKER_REFUSED);
   * a throw is also a refusal, logged through `log`.
   */
  readonly authorize: (request: KeyBrokerRequest, envelope: Envelope) => boolean | Promise<boolean>;
  /** Read legacy envelopes (V1, guide form). Default false. */
  readonly allowLegacy?: boolean;
  /** Largest request body accepted (default 64 KiB: an envelope is at most a few KiB). */
  readonly maxBodyBytes?: number;
  /** Where unexpected errors go (default: standard error). Never receives key material. */
  readonly log?: (line: string) => void;
}

/** Default body limit. */
export const KEY_BROKER_MAX_BODY = 64 * 1024;
/** Longest object name accepted (OSS's limit is 1023 bytes). */
const MAX_OBJECT_NAME = 1023;

class BrokerHttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

function send(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    // Answers carry data keys: never cached anywhere.
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
  });
  res.end(text);
}

async function readJson(req: http.IncomingMessage, limit: number): Promise<Record<string, unknown>> {
  const declared = Number(req.headers['content-length'] ?? '0');
  if (declared > limit) throw new BrokerHttpError(413, 'ERR_CSE_INVALID_ARGUMENT', `request bodies are limited to ${limit} bytes`);
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > limit) throw new BrokerHttpError(413, 'ERR_CSE_INVALID_ARGUMENT', `request bodies are limited to ${limit} bytes`);
    chunks.push(chunk);
  }
  let body: unknown;
  try {
    body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new BrokerHttpError(400, 'ERR_CSE_INVALID_ARGUMENT', 'the body is not JSON');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new BrokerHttpError(400, 'ERR_CSE_INVALID_ARGUMENT', 'the body is not a JSON object');
  return body as Record<string, unknown>;
}

function objectName(body: Record<string, unknown>): string {
  const object = body.object;
  if (typeof object !== 'string' || object === '' || Buffer.byteLength(object) > MAX_OBJECT_NAME) {
    throw new BrokerHttpError(400, 'ERR_CSE_INVALID_ARGUMENT', `"object" must be a non-empty string of at most ${MAX_OBJECT_NAME} bytes`);
  }
  return object;
}

/**
 * Creates the broker's request handler. Mount it on one path; it answers POST with a JSON body
 * `{ "op": "wrap" | "unwrap", "object": "…", "headers"?: {…} }` (docs/browser.md).
 *
 * ```ts
 * const broker = createKeyBroker({ masterKey, authorize: (req, env) => userMayUse(req.http, req.object) });
 * http.createServer((req, res) => (req.url === '/cse-broker' ? broker(req, res) : app(req, res)));
 * ```
 *
 * @param options - master key, extra decryption keys, the authorize callback, limits
 * @returns a `(req, res) => void` handler
 * @throws CseError ERR_CSE_INVALID_ARGUMENT without a master key, without an `authorize` function, or with a
 *   `maxBodyBytes` that is not a positive integer
 */
export function createKeyBroker(options: KeyBrokerOptions): (req: http.IncomingMessage, res: http.ServerResponse) => void {
  if (typeof (options.masterKey as Partial<MasterKey> | undefined)?.wrap !== 'function') {
    throw new CseError(ErrorCode.INVALID_ARGUMENT, 'createKeyBroker needs a masterKey');
  }
  if (typeof options.authorize !== 'function') {
    throw new CseError(ErrorCode.INVALID_ARGUMENT, 'createKeyBroker needs an authorize(request, envelope) function: a broker that says yes to everyone unwraps every object for anyone');
  }
  const limit = options.maxBodyBytes ?? KEY_BROKER_MAX_BODY;
  if (!Number.isSafeInteger(limit) || limit <= 0) throw new CseError(ErrorCode.INVALID_ARGUMENT, 'maxBodyBytes must be a positive integer');
  const ring = new KeyRing([options.masterKey, ...(options.decryptionKeys ?? []).filter((k) => k !== options.masterKey)]);
  const log = options.log ?? ((line: string) => process.stderr.write(line + '\n'));

  const authorized = async (request: KeyBrokerRequest, envelope: Envelope): Promise<void> => {
    let ok: boolean;
    try {
      // Only a real `true` allows: a truthy string or object from plain JavaScript is a refusal.
      const answer: unknown = await options.authorize(request, envelope);
      ok = answer === true;
    } catch (e) {
      log(`oss-cse key broker: authorize threw for ${request.operation} ${JSON.stringify(request.object)}: ${e instanceof Error ? e.message : String(e)}`);
      ok = false;
    }
    if (!ok) throw new BrokerHttpError(403, ErrorCode.KEY_BROKER_REFUSED, `${request.operation} of ${JSON.stringify(request.object)} is not authorized`);
  };

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    if (req.method !== 'POST') {
      res.setHeader('Allow', 'POST');
      throw new BrokerHttpError(405, 'ERR_CSE_INVALID_ARGUMENT', 'the key broker answers POST only');
    }
    const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
    if (type !== 'application/json') throw new BrokerHttpError(415, 'ERR_CSE_INVALID_ARGUMENT', 'the body must be application/json');
    const body = await readJson(req, limit);
    const object = objectName(body);
    if (body.op === 'wrap') {
      const sealed = await sealEnvelope({ masterKey: options.masterKey });
      try {
        await authorized({ operation: 'wrap', object, http: req }, sealed.envelope);
        send(res, 200, {
          key: Buffer.from(sealed.material.key).toString('base64'),
          iv: Buffer.from(sealed.material.iv).toString('base64'),
          wrapAlgorithm: sealed.envelope.wrapAlgorithm,
          wrappedKey: sealed.envelope.wrappedKey,
          wrappedStart: sealed.envelope.wrappedStart,
          matdesc: sealed.envelope.matdesc,
        });
      } finally {
        sealed.material.key.fill(0);
      }
      return;
    }
    if (body.op === 'unwrap') {
      const headers = body.headers;
      if (typeof headers !== 'object' || headers === null || Array.isArray(headers) || Object.values(headers).some((v) => typeof v !== 'string')) {
        throw new BrokerHttpError(400, 'ERR_CSE_INVALID_ARGUMENT', '"headers" must be an object of strings (the envelope headers)');
      }
      const envelope = parseEnvelope(pickCryptoHeaders(headers as Record<string, string>, { object }), { object });
      await authorized({ operation: 'unwrap', object, http: req }, envelope);
      const opened = await openParsedEnvelope(envelope, { masterKeys: ring, allowLegacy: options.allowLegacy === true, object });
      try {
        send(res, 200, { key: Buffer.from(opened.material.key).toString('base64'), iv: Buffer.from(opened.material.iv).toString('base64') });
      } finally {
        opened.material.key.fill(0);
      }
      return;
    }
    throw new BrokerHttpError(400, 'ERR_CSE_INVALID_ARGUMENT', '"op" must be "wrap" or "unwrap"');
  };

  return (req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (e instanceof BrokerHttpError) {
        send(res, e.status, { error: { code: e.code, message: e.message } });
      } else if (e instanceof CseError && e.code === ErrorCode.NO_MATCHING_KEY) {
        send(res, 422, { error: { code: e.code, message: 'no key of this broker opens the object' } });
      } else if (e instanceof CseError && (e.code.startsWith('ERR_CSE_ENVELOPE_') || e.code === ErrorCode.NOT_ENCRYPTED || e.code === ErrorCode.LEGACY_NOT_ALLOWED)) {
        send(res, 400, { error: { code: e.code, message: e.message } });
      } else {
        // Unwrap failures, KMS errors and the unexpected: logged here, one neutral answer there (no oracle).
        log(`oss-cse key broker: ${e instanceof Error ? e.message : String(e)}`);
        send(res, 500, { error: { code: 'ERR_CSE_KEY_BROKER', message: 'the key broker could not complete the request' } });
      }
      // An unread body must not keep the connection busy.
      if (!req.complete) req.resume();
    });
  };
}
