/**
 * Multipart uploads through the gateway.
 *
 * The CSE format needs the part size before the first part is encrypted (part n starts at counter
 * `IV + (n-1)·partSize/16`, FORMAT.md), and OSS refuses a CSE Initiate without `…-part-size` (ecosystem-facts
 * "Gateway"). A plain client never says its part size, so the gateway learns it:
 *
 * - Initiate is answered locally with a gateway upload id; the data key and IV are made then (wrapped at once).
 * - **Part 1 fixes the part size** P: parts before the last all have P bytes, so part 1 has exactly P bytes unless
 *   it is the only part. A part numbered above 1 that arrives first waits (its body unread) until part 1 arrives,
 *   for at most {@link PART_SIZE_WAIT_MS}: parallel clients start part 1 first, so the wait is short.
 * - P must be a multiple of 16; a part 1 that is not can only be the single part (every other part is refused).
 * - After that a part larger than P is refused; a part smaller than P is accepted only as the last part (no higher
 *   part number uploaded, and no later part with a higher number accepted).
 * - The upstream Initiate happens once P is known, with the envelope, `…-part-size` = P and no `…-data-size` (the
 *   total is unknown until Complete; the format and the Go SDK leave it out then).
 *
 * The plaintext key and IV live in this process only while the upload is open: a gateway that stops loses its open
 * uploads (their parts stay upstream, invisible, until aborted or removed by a lifecycle rule).
 *
 * @packageDocumentation
 */

import { randomBytes } from 'node:crypto';
import { xmlDocument } from '../../server/src/xml.js';
import { zeroMaterial } from '../../src/cipher/material.js';
import { V2Header } from '../../src/format/headers.js';
import { sealEnvelope } from '../../src/object-crypto.js';
import { Crc64, crc64Combine } from '../../src/transfer/crc64.js';
import type { ContentMaterial } from '../../src/format/types.js';
import { readAll, relay, sendRewritten, type GatewayContext } from './context.js';
import { GatewayError } from './errors.js';
import { forwardedRequestHeaders } from './headers.js';
import { checkStoredCrc, encryptBody, PlaintextCheck, sendBody, uploadFacts } from './objects.js';

/** How long a part numbered above 1 waits for part 1 to fix the part size. */
export const PART_SIZE_WAIT_MS = 120_000;

/**
 * Most uploads open at once: each holds a data key in memory until completed or aborted, so clients that initiate
 * and walk away must not grow the gateway without bound.
 */
export const MAX_OPEN_UPLOADS = 10_000;

/** Largest XML body the gateway reads (CompleteMultipartUpload lists at most 10,000 parts). */
const MAX_COMPLETE_BODY = 4 * 1024 * 1024;

/** One open upload. */
interface Upload {
  readonly id: string;
  readonly bucket: string;
  readonly key: string;
  /** Headers of the client's Initiate (content type, metadata). */
  readonly initHeaders: Readonly<Record<string, string>>;
  /** The envelope headers, without the part size. */
  readonly envelope: Readonly<Record<string, string>>;
  readonly material: ContentMaterial;
  partSize: number | undefined;
  /** Part 1 was not a multiple of 16: it must stay the only part. */
  singlePart: boolean;
  /** Resolves when the part size is fixed. */
  readonly sized: Promise<void>;
  resolveSized: () => void;
  upstreamId: Promise<string> | undefined;
  /** Plaintext sizes of the parts uploaded, by number. */
  readonly parts: Map<number, number>;
  /** CRC-64 of each part's plaintext, by number (joined into the object's at Complete). */
  readonly crcs: Map<number, bigint>;
}

/** The open uploads of one gateway. */
export class Uploads {
  readonly #byId = new Map<string, Upload>();
  /** Upstream upload id → gateway upload id. */
  readonly #byUpstream = new Map<string, string>();

  /** @returns the upload, if open */
  get(id: string): Upload | undefined {
    return this.#byId.get(id);
  }

  /**
   * Registers a new upload.
   * @throws GatewayError 503 when {@link MAX_OPEN_UPLOADS} are open
   */
  add(upload: Upload): void {
    if (this.#byId.size >= MAX_OPEN_UPLOADS) {
      throw new GatewayError(503, 'ServiceUnavailable', `The gateway already holds ${MAX_OPEN_UPLOADS} open multipart uploads: complete or abort some first.`);
    }
    this.#byId.set(upload.id, upload);
  }

  /** Records the upstream id of an upload. */
  link(upstreamId: string, id: string): void {
    this.#byUpstream.set(upstreamId, id);
  }

  /** @returns the gateway id shown for an upstream id (itself when unknown) */
  clientId(upstreamId: string): string {
    return this.#byUpstream.get(upstreamId) ?? upstreamId;
  }

  /** Forgets an upload and zeroes its key. */
  remove(upload: Upload, upstreamId: string | undefined): void {
    this.#byId.delete(upload.id);
    if (upstreamId !== undefined) this.#byUpstream.delete(upstreamId);
    zeroMaterial(upload.material);
  }

  /** Zeroes every key (gateway shutdown). */
  clear(): void {
    for (const upload of this.#byId.values()) zeroMaterial(upload.material);
    this.#byId.clear();
    this.#byUpstream.clear();
  }
}

function newUploadId(): string {
  return randomBytes(16).toString('hex').toUpperCase();
}

function noSuchUpload(uploadId: string): GatewayError {
  return new GatewayError(
    404,
    'NoSuchUpload',
    'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed (or started before the gateway restarted).',
    [['UploadId', uploadId]],
  );
}

function partSizeError(message: string, partNumber: number): GatewayError {
  // OSS's own CSE part checks answer 400 InvalidEncryptionRequest (CONFORMANCE.md "Client-side encryption").
  return new GatewayError(400, 'InvalidPartSize', message, [['PartNumber', String(partNumber)]]);
}

/**
 * InitiateMultipartUpload, answered locally (see the module comment).
 * @throws CseError when the master key cannot wrap
 */
export async function initiateUpload(ctx: GatewayContext, bucket: string, key: string): Promise<void> {
  const initHeaders = forwardedRequestHeaders(ctx.req.headers);
  delete initHeaders['content-length'];
  delete initHeaders['content-md5'];
  const sealed = await sealEnvelope({ masterKey: ctx.crypto.masterKey });
  let resolveSized = (): void => undefined;
  const sized = new Promise<void>((resolve) => {
    resolveSized = resolve;
  });
  const upload: Upload = {
    id: newUploadId(),
    bucket,
    key,
    initHeaders,
    envelope: sealed.headers,
    material: sealed.material,
    partSize: undefined,
    singlePart: false,
    sized,
    resolveSized,
    upstreamId: undefined,
    parts: new Map(),
    crcs: new Map(),
  };
  try {
    ctx.uploads.add(upload);
  } catch (e) {
    zeroMaterial(sealed.material);
    throw e;
  }
  const body = Buffer.from(
    xmlDocument('InitiateMultipartUploadResult', [
      ['Bucket', bucket],
      ['Key', key],
      ['UploadId', upload.id],
    ]),
    'utf8',
  );
  ctx.req.resume();
  ctx.res.writeHead(200, { 'Content-Type': 'application/xml', 'Content-Length': body.length, 'x-oss-request-id': ctx.requestId });
  ctx.res.end(body);
}

function lookup(ctx: GatewayContext, bucket: string, key: string, uploadId: string): Upload | undefined {
  const upload = ctx.uploads.get(uploadId);
  if (upload !== undefined && (upload.bucket !== bucket || upload.key !== key)) throw noSuchUpload(uploadId);
  return upload;
}

/** The part size, read after an await (part 1 may have fixed it meanwhile). */
function partSizeOf(upload: Upload): number {
  return upload.partSize ?? 0;
}

async function waitForPartSize(upload: Upload, partNumber: number): Promise<number> {
  if (upload.partSize !== undefined) return upload.partSize;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(
        partSizeError(
          `Part ${partNumber} waited ${PART_SIZE_WAIT_MS / 1000} s for part 1, which fixes the part size of an encrypted upload: upload part 1 first or together with the others.`,
          partNumber,
        ),
      );
    }, PART_SIZE_WAIT_MS);
  });
  try {
    await Promise.race([upload.sized, timeout]);
  } finally {
    clearTimeout(timer);
  }
  return partSizeOf(upload);
}

/** Checks a part against the learned part size (see the module comment). */
function checkPart(upload: Upload, partNumber: number, size: number): void {
  const partSize = upload.partSize ?? 0;
  if (upload.singlePart && partNumber !== 1) {
    throw partSizeError(
      `Part 1 has ${upload.parts.get(1) ?? 0} bytes, not a multiple of 16, so it can only be the last part: an encrypted upload needs every part but the last to be the same multiple of 16 bytes.`,
      partNumber,
    );
  }
  if (size > partSize) {
    throw partSizeError(
      `Part ${partNumber} has ${size} bytes, more than the part size of ${partSize} bytes fixed by part 1: every part but the last must have the same size.`,
      partNumber,
    );
  }
  for (const [number, other] of upload.parts) {
    if (number === partNumber) continue;
    if (size < partSize && number > partNumber) {
      throw partSizeError(
        `Part ${partNumber} has ${size} bytes, less than the part size of ${partSize} bytes, but part ${number} exists: only the last part may be shorter.`,
        partNumber,
      );
    }
    if (other < partSize && number < partNumber) {
      throw partSizeError(
        `Part ${number} has ${other} bytes, less than the part size of ${partSize} bytes, so it must be the last part: part ${partNumber} cannot follow it.`,
        partNumber,
      );
    }
  }
}

async function upstreamIdOf(ctx: GatewayContext, upload: Upload): Promise<string> {
  upload.upstreamId ??= (async () => {
    const partSize = upload.partSize ?? 0;
    const up = await ctx.upstream.send({
      method: 'POST',
      bucket: upload.bucket,
      key: upload.key,
      query: [{ name: 'uploads', value: '' }],
      headers: { ...upload.initHeaders, ...upload.envelope, [V2Header.PART_SIZE]: String(partSize) },
    });
    const body = (await readAll(up)).toString('utf8');
    const id = /<UploadId>([^<]+)<\/UploadId>/.exec(body)?.[1];
    if (up.status !== 200 || id === undefined) {
      const code = /<Code>([^<]+)<\/Code>/.exec(body)?.[1] ?? 'InternalError';
      const message = /<Message>([^<]*)<\/Message>/.exec(body)?.[1] ?? `upstream answered ${up.status}`;
      throw new GatewayError(up.status === 200 ? 502 : up.status, code, `Upstream InitiateMultipartUpload failed: ${message}`);
    }
    ctx.uploads.link(id, upload.id);
    return id;
  })();
  try {
    return await upload.upstreamId;
  } catch (e) {
    upload.upstreamId = undefined; // the next part tries again
    throw e;
  }
}

/**
 * UploadPart: learns or checks the part size, encrypts the part at its counter, uploads it.
 * @throws GatewayError (part size, unknown upload), network errors
 */
export async function uploadPart(ctx: GatewayContext, bucket: string, key: string, uploadId: string, partNumberText: string): Promise<void> {
  const partNumber = Number(partNumberText);
  if (!/^\d{1,5}$/.test(partNumberText) || partNumber < 1 || partNumber > 10_000) {
    throw new GatewayError(400, 'InvalidArgument', 'Part number must be an integer between 1 and 10000, inclusive.', [['PartNumber', partNumberText]]);
  }
  const upload = lookup(ctx, bucket, key, uploadId);
  if (upload === undefined) throw noSuchUpload(uploadId);
  const { length, md5 } = uploadFacts(ctx, true);
  const size = length ?? 0;
  if (upload.partSize === undefined && partNumber === 1) {
    upload.singlePart = size % 16 !== 0 || size === 0;
    upload.partSize = upload.singlePart ? Math.max(16, Math.ceil(size / 16) * 16) : size;
    upload.resolveSized();
  }
  const partSize = await waitForPartSize(upload, partNumber);
  checkPart(upload, partNumber, size);
  const upstreamId = await upstreamIdOf(ctx, upload);
  const check = new PlaintextCheck(length, md5);
  const cipherCrc = new Crc64();
  const body = encryptBody(ctx.req as AsyncIterable<Buffer>, upload.material, (partNumber - 1) * partSize, check, cipherCrc);
  const up = await sendBody(body, check, async () =>
    ctx.upstream.send({
      method: 'PUT',
      bucket,
      key,
      query: [
        { name: 'partNumber', value: String(partNumber) },
        { name: 'uploadId', value: upstreamId },
      ],
      headers: { 'content-length': String(size) },
      body,
    }),
  );
  if (up.status === 200) {
    checkStoredCrc(up.headers['x-oss-hash-crc64ecma'], cipherCrc, `UploadPart ${partNumber} of ${key}`);
    upload.parts.set(partNumber, size);
    upload.crcs.set(partNumber, check.crc.digest());
    up.headers['x-oss-hash-crc64ecma'] = check.crc.toString();
    if (md5 === undefined) delete up.headers['content-md5'];
    else up.headers['content-md5'] = md5;
  }
  await relay(ctx, up, { hideEnvelope: true, ciphertext: false });
}

/** The part numbers a CompleteMultipartUpload body lists, in order. */
function listedParts(xml: string): number[] {
  return [...xml.matchAll(/<PartNumber>\s*(\d+)\s*<\/PartNumber>/g)].map((m) => Number(m[1]));
}

/** The CRC-64 of the object's plaintext joined from its listed parts', or undefined when a part is unknown here. */
function joinedCrc(upload: Upload, numbers: readonly number[]): string | undefined {
  let crc: bigint | undefined;
  for (const n of numbers) {
    const part = upload.crcs.get(n);
    const size = upload.parts.get(n);
    if (part === undefined || size === undefined) return undefined;
    crc = crc === undefined ? part : crc64Combine(crc, part, size);
  }
  return crc?.toString();
}

/**
 * CompleteMultipartUpload: checks the listed parts against the learned part size, then completes upstream.
 * @throws GatewayError, network errors
 */
export async function completeUpload(ctx: GatewayContext, bucket: string, key: string, uploadId: string): Promise<void> {
  const upload = lookup(ctx, bucket, key, uploadId);
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > MAX_COMPLETE_BODY) throw new GatewayError(400, 'EntityTooLarge', 'The CompleteMultipartUpload body is too large.');
    chunks.push(chunk);
  }
  const content = Buffer.concat(chunks);
  let upstreamId = uploadId;
  let plaintextCrc: string | undefined;
  if (upload !== undefined) {
    if (upload.upstreamId === undefined) {
      throw new GatewayError(400, 'InvalidPart', 'No part of this upload has been uploaded.', [['UploadId', uploadId]]);
    }
    upstreamId = await upload.upstreamId;
    const numbers = listedParts(content.toString('utf8'));
    const partSize = upload.partSize ?? 0;
    numbers.slice(0, -1).forEach((n) => {
      const size = upload.parts.get(n);
      if (size !== undefined && size !== partSize) {
        throw partSizeError(`Part ${n} has ${size} bytes and is not the last part: every part but the last must have the part size of ${partSize} bytes.`, n);
      }
    });
    plaintextCrc = joinedCrc(upload, numbers);
  }
  const headers = forwardedRequestHeaders(ctx.req.headers);
  delete headers['content-length'];
  const up = await ctx.upstream.send({
    method: 'POST',
    bucket,
    key,
    query: [...ctx.target.query.filter((p) => p.name !== 'uploadId'), { name: 'uploadId', value: upstreamId }],
    headers: { ...headers, 'content-length': String(content.length) },
    content,
  });
  if (up.status === 200 && upload !== undefined) ctx.uploads.remove(upload, upstreamId);
  // The upstream CRC-64 is the ciphertext's: replaced by the plaintext's when every listed part went through us.
  const out = { ...up, headers: { ...up.headers } };
  delete out.headers['x-oss-hash-crc64ecma'];
  if (up.status === 200 && plaintextCrc !== undefined) out.headers['x-oss-hash-crc64ecma'] = plaintextCrc;
  await relay(ctx, out, { hideEnvelope: true, ciphertext: false });
}

/**
 * AbortMultipartUpload (locally when nothing went upstream yet).
 * @throws network errors
 */
export async function abortUpload(ctx: GatewayContext, bucket: string, key: string, uploadId: string): Promise<void> {
  const upload = lookup(ctx, bucket, key, uploadId);
  let upstreamId = uploadId;
  if (upload !== undefined) {
    if (upload.upstreamId === undefined) {
      ctx.uploads.remove(upload, undefined);
      ctx.res.writeHead(204, { 'Content-Length': 0, 'x-oss-request-id': ctx.requestId });
      ctx.res.end();
      return;
    }
    upstreamId = await upload.upstreamId.catch(() => uploadId);
  }
  const up = await ctx.upstream.send({ method: 'DELETE', bucket, key, query: [{ name: 'uploadId', value: upstreamId }], headers: {} });
  if (upload !== undefined && (up.status === 204 || up.status === 404)) ctx.uploads.remove(upload, upstreamId);
  await relay(ctx, up, { hideEnvelope: true, ciphertext: true });
}

/**
 * ListParts, with the gateway's upload id and without the envelope elements (`ClientEncryption*`) and the
 * ciphertext CRCs.
 * @throws network errors
 */
export async function listParts(ctx: GatewayContext, bucket: string, key: string, uploadId: string): Promise<void> {
  const upload = lookup(ctx, bucket, key, uploadId);
  if (upload !== undefined && upload.upstreamId === undefined) {
    const body = Buffer.from(
      xmlDocument('ListPartsResult', [
        ['Bucket', bucket],
        ['Key', key],
        ['UploadId', uploadId],
        ['PartNumberMarker', 0],
        ['NextPartNumberMarker', 0],
        ['MaxParts', 1000],
        ['IsTruncated', false],
      ]),
      'utf8',
    );
    ctx.res.writeHead(200, { 'Content-Type': 'application/xml', 'Content-Length': body.length, 'x-oss-request-id': ctx.requestId });
    ctx.res.end(body);
    return;
  }
  const upstreamId = upload?.upstreamId === undefined ? uploadId : await upload.upstreamId;
  const query = [...ctx.target.query.filter((p) => p.name !== 'uploadId'), { name: 'uploadId', value: upstreamId }];
  const up = await ctx.upstream.send({ method: 'GET', bucket, key, query, headers: {} });
  if (up.status !== 200) {
    await relay(ctx, up, { hideEnvelope: true, ciphertext: true });
    return;
  }
  const xml = (await readAll(up))
    .toString('utf8')
    .replace(/<UploadId>[^<]*<\/UploadId>/, `<UploadId>${uploadId}</UploadId>`)
    .replace(/<ClientEncryption\w*>[^<]*<\/ClientEncryption\w*>/g, '')
    .replace(/<HashCrc64ecma>[^<]*<\/HashCrc64ecma>/g, '');
  sendRewritten(ctx, up, Buffer.from(xml, 'utf8'));
}

/**
 * ListMultipartUploads, with upstream upload ids shown as the gateway's. Uploads with no part yet exist only in the
 * gateway and are not listed (docs/gateway.md).
 * @throws network errors
 */
export async function listUploads(ctx: GatewayContext, bucket: string): Promise<void> {
  const up = await ctx.upstream.send({ method: 'GET', bucket, key: undefined, query: ctx.target.query, headers: {} });
  if (up.status !== 200) {
    await relay(ctx, up, { hideEnvelope: true, ciphertext: true });
    return;
  }
  const xml = (await readAll(up))
    .toString('utf8')
    .replace(/<(UploadId|NextUploadIdMarker|UploadIdMarker)>([^<]*)<\/\1>/g, (_m, tag: string, id: string) => `<${tag}>${ctx.uploads.clientId(id)}</${tag}>`);
  sendRewritten(ctx, up, Buffer.from(xml, 'utf8'));
}
