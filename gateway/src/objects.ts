/**
 * PutObject, GetObject, HeadObject and CopyObject through the gateway.
 *
 * PUT: a fresh data key and IV per object (`sealEnvelope`), the body encrypted while it streams, the plaintext's
 * Content-MD5 checked before the last byte goes upstream (a mismatch aborts the upload, so nothing is stored).
 * GET/HEAD: the client's Range and If-* headers go upstream unchanged: CTR keeps every byte at its offset, so OSS's
 * answer (200, 206 with Content-Range, 304, 412, 416, the whole object for a range OSS ignores) is already the
 * answer on the plaintext; only the body is decrypted, at the counter of the Content-Range actually received.
 *
 * @packageDocumentation
 */

import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createCtrCipher } from '../../src/cipher/aes-ctr.js';
import { zeroMaterial } from '../../src/cipher/material.js';
import { CseError, ErrorCode } from '../../src/errors.js';
import { detectEnvelopeVersion, isMd5Base64, parseEnvelope, pickCryptoHeaders } from '../../src/format/envelope.js';
import { parseContentRange } from '../../src/format/range.js';
import { openDecryptor, sealEnvelope } from '../../src/object-crypto.js';
import { Crc64, parseCrc64Header } from '../../src/transfer/crc64.js';
import { holdLast, relay, type GatewayContext } from './context.js';
import { GatewayError } from './errors.js';
import { forwardedRequestHeaders, header, responseHeaders } from './headers.js';
import type { UpstreamResponse } from './upstream.js';

/** Query parameters a GET/HEAD may carry upstream. */
const READ_QUERY = /^(response-[a-z-]+|versionId)$/;

/**
 * The plaintext checks of an upload body: length and Content-MD5, checked before the last chunk is released.
 * @param declaredLength - Content-Length, when sent
 * @param md5 - Content-MD5 (base64), when sent
 */
export class PlaintextCheck {
  readonly crc = new Crc64();
  readonly #hash: ReturnType<typeof createHash> | undefined;
  readonly #md5: string | undefined;
  readonly #length: number | undefined;
  bytes = 0;
  /** The check's own failure, once {@link PlaintextCheck.finish} threw (the upload it aborts fails for this). */
  failure: Error | undefined;

  constructor(declaredLength: number | undefined, md5: string | undefined) {
    this.#length = declaredLength;
    this.#md5 = md5;
    this.#hash = md5 === undefined ? undefined : createHash('md5');
  }

  /** Feeds plaintext. */
  update(chunk: Buffer): void {
    this.crc.update(chunk);
    this.#hash?.update(chunk);
    this.bytes += chunk.length;
  }

  /**
   * Ends the body.
   * @throws GatewayError 400 InvalidDigest / IncompleteBody
   */
  finish(): void {
    try {
      this.#finish();
    } catch (e) {
      this.failure = e instanceof Error ? e : new Error(String(e));
      // A stand-in fails the upstream request: the HTTP client rewrites the status of the error it is given.
      throw new Error('the request body failed the gateway check', { cause: e });
    }
  }

  #finish(): void {
    if (this.#length !== undefined && this.bytes !== this.#length) {
      throw new GatewayError(400, 'IncompleteBody', `The body has ${this.bytes} bytes, Content-Length said ${this.#length}.`);
    }
    if (this.#hash !== undefined && this.#hash.digest('base64') !== this.#md5) {
      throw new GatewayError(400, 'InvalidDigest', 'The Content-MD5 you specified did not match what was received.');
    }
  }
}

/**
 * Reads Content-Length and Content-MD5 of an upload.
 * @returns the length (undefined for a chunked body) and MD5
 * @throws GatewayError 411 MissingContentLength, 400 InvalidDigest
 */
export function uploadFacts(ctx: GatewayContext, requireLength: boolean): { length: number | undefined; md5: string | undefined } {
  const lengthText = header(ctx.req.headers, 'content-length');
  const chunked = /chunked/i.test(header(ctx.req.headers, 'transfer-encoding') ?? '');
  if (lengthText === undefined && (requireLength || !chunked)) {
    throw new GatewayError(411, 'MissingContentLength', 'You must provide the Content-Length HTTP header.');
  }
  const length = lengthText === undefined ? undefined : Number(lengthText);
  if (length !== undefined && !Number.isSafeInteger(length)) throw new GatewayError(400, 'InvalidArgument', 'Content-Length is not a number.');
  const md5 = header(ctx.req.headers, 'content-md5');
  if (md5 !== undefined && !isMd5Base64(md5)) {
    throw new GatewayError(400, 'InvalidDigest', 'The Content-MD5 you specified is not a base64 MD5.');
  }
  return { length, md5 };
}

/**
 * Encrypts a request body chunk by chunk at a plaintext offset, feeding both CRCs; the plaintext check runs before
 * the last chunk leaves.
 */
export function encryptBody(
  source: AsyncIterable<Buffer>,
  material: { key: Uint8Array; iv: Uint8Array },
  offset: number,
  check: PlaintextCheck,
  cipherCrc: Crc64,
): Readable {
  const cipher = createCtrCipher(material.key, material.iv, offset);
  async function* encrypt(): AsyncGenerator<Buffer> {
    for await (const chunk of source) {
      check.update(chunk);
      const out = cipher.update(chunk);
      cipherCrc.update(out);
      yield out;
    }
  }
  return Readable.from(
    holdLast(encrypt(), () => {
      check.finish();
    }),
    { objectMode: false },
  );
}

/**
 * Runs an upstream upload whose body may fail our own checks; the body's error wins over the network error it causes.
 */
export async function sendBody(body: Readable, check: PlaintextCheck, send: () => Promise<UpstreamResponse>): Promise<UpstreamResponse> {
  let bodyError: Error | undefined;
  body.once('error', (e: Error) => {
    bodyError = e;
  });
  let up: UpstreamResponse;
  try {
    up = await send();
  } catch (e) {
    body.destroy();
    throw check.failure ?? bodyError ?? e;
  }
  if (check.failure !== undefined) {
    up.body.destroy();
    throw check.failure;
  }
  return up;
}

/**
 * Compares OSS's CRC-64 of what it stored with ours.
 * @throws GatewayError 500 when they differ
 */
export function checkStoredCrc(upHeader: string | string[] | undefined, ours: Crc64, what: string): void {
  const theirs = parseCrc64Header(Array.isArray(upHeader) ? upHeader[0] : upHeader);
  if (theirs !== undefined && theirs !== ours.digest()) {
    throw new GatewayError(500, 'InternalError', `${what}: the upstream CRC-64 differs from the CRC-64 of the ciphertext sent.`);
  }
}

/**
 * PutObject: encrypt while streaming.
 * @throws GatewayError, CseError (key unusable, KMS), network errors
 */
export async function putObject(ctx: GatewayContext, bucket: string, key: string): Promise<void> {
  const { length, md5 } = uploadFacts(ctx, false);
  const headers = forwardedRequestHeaders(ctx.req.headers);
  delete headers['content-md5']; // it describes the plaintext: it goes into the envelope instead
  const sealed = await sealEnvelope({
    masterKey: ctx.crypto.masterKey,
    ...(length === undefined ? {} : { unencryptedContentLength: length }),
    ...(md5 === undefined ? {} : { unencryptedContentMd5: md5 }),
  });
  const check = new PlaintextCheck(length, md5);
  const cipherCrc = new Crc64();
  let body: Readable;
  try {
    body = encryptBody(ctx.req as AsyncIterable<Buffer>, sealed.material, 0, check, cipherCrc);
  } finally {
    zeroMaterial(sealed.material);
  }
  const up = await sendBody(body, check, async () =>
    ctx.upstream.send({ method: 'PUT', bucket, key, query: [], headers: { ...headers, ...sealed.headers }, body }),
  );
  if (up.status === 200) {
    checkStoredCrc(up.headers['x-oss-hash-crc64ecma'], cipherCrc, `PUT ${key}`);
    up.headers['x-oss-hash-crc64ecma'] = check.crc.toString();
    if (md5 === undefined) delete up.headers['content-md5'];
    else up.headers['content-md5'] = md5;
  }
  await relay(ctx, up, { hideEnvelope: !ctx.crypto.showEnvelope, ciphertext: false });
}

/**
 * GetObject and HeadObject: Range and conditions answered by OSS, the body decrypted at the received offset.
 * @throws GatewayError, CseError (not encrypted with requireEncrypted, legacy, no key, bad envelope)
 */
export async function getObject(ctx: GatewayContext, bucket: string, key: string): Promise<void> {
  const head = ctx.req.method === 'HEAD';
  const headers = forwardedRequestHeaders(ctx.req.headers);
  delete headers['content-length'];
  const query = ctx.target.query.filter((p) => READ_QUERY.test(p.name));
  const up = await ctx.upstream.send({ method: head ? 'HEAD' : 'GET', bucket, key, query, headers });
  const hideEnvelope = !ctx.crypto.showEnvelope;
  if (up.status !== 200 && up.status !== 206) {
    await relay(ctx, up, { hideEnvelope, ciphertext: true });
    return;
  }
  let version;
  try {
    version = detectEnvelopeVersion(up.headers, { object: key });
    if (version === null && ctx.crypto.requireEncrypted) {
      throw new CseError(ErrorCode.NOT_ENCRYPTED, 'the object has no client-side-encryption headers and the gateway runs with --require-encrypted', { object: key });
    }
    if (version !== null && version !== 'v2' && !ctx.crypto.allowLegacy) {
      throw new CseError(ErrorCode.LEGACY_NOT_ALLOWED, `the object uses the legacy ${version} envelope; start the gateway with --allow-legacy to read it`, { object: key });
    }
  } catch (e) {
    up.body.destroy();
    throw e;
  }
  if (version === null) {
    await relay(ctx, up, { hideEnvelope, ciphertext: false });
    return;
  }
  let envelope;
  try {
    envelope = parseEnvelope(up.headers, { object: key });
  } catch (e) {
    up.body.destroy();
    throw e;
  }
  const out = responseHeaders(up.headers, { hideEnvelope, ciphertext: true });
  const whole = up.status === 200;
  if (whole && envelope.unencryptedContentMd5 !== undefined) out['content-md5'] = envelope.unencryptedContentMd5;
  if (head) {
    up.body.resume();
    ctx.res.writeHead(up.status, out);
    ctx.res.end();
    return;
  }
  let offset = 0;
  if (up.status === 206) {
    const range = parseContentRange(header(up.headers, 'content-range') ?? '');
    if (range === null) {
      up.body.destroy();
      throw new GatewayError(502, 'InvalidUpstreamResponse', 'The upstream 206 answer has no valid Content-Range.');
    }
    offset = range.start;
  }
  let decryptor;
  try {
    decryptor = await openDecryptor(
      envelope,
      { masterKeys: ctx.crypto.keyRing, allowLegacy: ctx.crypto.allowLegacy, object: key, verifyIntegrity: whole },
      offset,
    );
  } catch (e) {
    up.body.destroy();
    throw e;
  }
  const expectedCrc = whole ? parseCrc64Header(header(up.headers, 'x-oss-hash-crc64ecma')) : undefined;
  const crc = expectedCrc === undefined ? undefined : new Crc64();
  const dec = decryptor;
  async function* decrypt(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    for await (const chunk of source) {
      crc?.update(chunk);
      yield dec.update(chunk);
    }
  }
  ctx.res.writeHead(up.status, out);
  await pipeline(
    up.body,
    async function* (source: AsyncIterable<Buffer>) {
      yield* holdLast(decrypt(source), () => {
        dec.finish();
        if (crc !== undefined && crc.digest() !== expectedCrc) {
          throw new CseError(ErrorCode.INTEGRITY, 'the CRC-64 of the stored bytes differs from the one OSS declared', { object: key });
        }
      });
    },
    ctx.res,
  );
}

/**
 * CopyObject: OSS copies the stored bytes; the envelope must travel with them. With `COPY` (the default) OSS keeps
 * the source's metadata, envelope included; with `REPLACE` the gateway reads the source's envelope first and sends
 * it along (pinned by `x-oss-copy-source-if-match`, so a source replaced meanwhile fails instead of pairing new bytes
 * with an old envelope).
 * @throws GatewayError for a malformed copy source; network errors
 */
export async function copyObject(ctx: GatewayContext, bucket: string, key: string, copySource: string): Promise<void> {
  const headers = forwardedRequestHeaders(ctx.req.headers);
  delete headers['content-length'];
  if ((headers['x-oss-metadata-directive'] ?? '').toUpperCase() === 'REPLACE') {
    const source = parseCopySource(copySource);
    const head = await ctx.upstream.send({ method: 'HEAD', bucket: source.bucket, key: source.key, query: [], headers: {} });
    head.body.resume();
    if (head.status === 200) {
      const envelope = pickCryptoHeaders(head.headers, { object: source.key });
      if (Object.keys(envelope).length > 0) {
        Object.assign(headers, envelope);
        const etag = header(head.headers, 'etag');
        if (etag !== undefined && headers['x-oss-copy-source-if-match'] === undefined) headers['x-oss-copy-source-if-match'] = etag;
      }
    }
  }
  const up = await ctx.upstream.send({ method: 'PUT', bucket, key, query: [], headers });
  await relay(ctx, up, { hideEnvelope: !ctx.crypto.showEnvelope, ciphertext: true });
}

/**
 * Parses `x-oss-copy-source: /bucket/key` (key URL-encoded).
 * @throws GatewayError 400 InvalidArgument
 */
export function parseCopySource(value: string): { bucket: string; key: string } {
  const text = value.startsWith('/') ? value.slice(1) : value;
  const slash = text.indexOf('/');
  if (slash <= 0 || slash === text.length - 1) throw new GatewayError(400, 'InvalidArgument', 'x-oss-copy-source must be /bucket/key.');
  const q = text.indexOf('?');
  const path = q < 0 ? text : text.slice(0, q);
  try {
    return { bucket: decodeURIComponent(path.slice(0, slash)), key: decodeURIComponent(path.slice(slash + 1)) };
  } catch {
    throw new GatewayError(400, 'InvalidArgument', 'x-oss-copy-source is not valid percent-encoding.');
  }
}
