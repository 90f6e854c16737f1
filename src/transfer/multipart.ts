/**
 * Low-level encrypted multipart upload, as the peers expose it (`oss-go-java.md` §7, `oss2-python.md` §6): Initiate
 * returns a crypto context; each part is encrypted on its own at counter `IV + (n−1)·partSize/16`, so parts can go in
 * any order or in parallel and the completed object equals the single-PUT ciphertext for the same key and IV.
 *
 * - Initiate **and every UploadPart** carry the crypto headers (key, start, cek-alg, wrap-alg, matdesc) plus data-size
 *   and part-size (Go v1/v2 style; Java sends none on parts, OSS checks them only when present). A part carries none
 *   of Initiate's other headers: the unencrypted MD5/length describe the whole object, and Go never sends them on a
 *   part.
 * - The context is plain serializable data: the upload id, sizes and the **wrapped** envelope headers. The plaintext
 *   key and IV live only in a {@link MaterialCache} (never in the context), filled at Initiate or by unwrapping the
 *   context's envelope with the caller's keys (as Java's `MultipartUploadCryptoContext` keeps them transient).
 * - Validation happens before anything is sent: part size a multiple of 16 and ≥ 100 KiB (oss2's writer rule and
 *   OSS's minimum for non-last parts), at most 10,000 parts, every non-last part exactly the part size, part numbers
 *   1..N without gaps and sizes adding up to the data size before Complete.
 *
 * One file over 600 lines on purpose: the manual multipart calls share the context validation and the part-counter
 * maths.
 *
 * @packageDocumentation
 */

import { CseError, ErrorCode, TransferError } from '../errors.js';
import { parseEnvelope } from '../format/envelope.js';
import { CekAlgorithm, OssHeader, V2Header } from '../format/headers.js';
import { partBounds, partCount, partCounterOffset, validatePartSize, choosePartSize, type PartBounds } from '../format/parts.js';
import type { ContentMaterial } from '../format/types.js';
import { createCtrCipher, type CtrCipher } from '../cipher/aes-ctr.js';
import { zeroMaterial } from '../cipher/material.js';
import type { KeyRing } from '../keys/key-ring.js';
import type { MasterKey } from '../keys/master-key.js';
import { openEnvelope, sealEnvelope } from '../object-crypto.js';
import { throwIfAborted } from './abort.js';
import { Crc64, parseCrc64Header } from './crc64.js';
import { Crc64Joiner } from './crc64-join.js';
import type { ListedEncryption, ListedPart, MultipartStore, UploadPartResponse } from './multipart-store.js';
import { DEFAULT_RETRY_POLICY, withRetries, type RetryPolicy } from './retry.js';
import type { ObjectLocation, ObjectStore, PutBody, ResponseInfo, StoreResponse } from './store.js';
import { prepareWriteHeaders } from './write.js';

/** The version of {@link MultipartContext} this library writes and reads. */
export const CONTEXT_VERSION = 1;

/**
 * The crypto context of an encrypted multipart upload: everything needed to upload parts and complete it, from any
 * process. Plain JSON data; holds the wrapped key and IV only.
 */
export interface MultipartContext {
  /** Context format version. */
  readonly version: typeof CONTEXT_VERSION;
  /** Bucket of the upload. */
  readonly bucket: string;
  /** Object key of the upload. */
  readonly key: string;
  /** The upload id. */
  readonly uploadId: string;
  /** Total plaintext size. */
  readonly dataSize: number;
  /** Part size: a multiple of 16, ≥ 100 KiB. */
  readonly partSize: number;
  /**
   * The client-side-encryption headers sent on Initiate: wrapped data key and IV, algorithms, matdesc (when known),
   * data-size and part-size, the unencrypted length (= data-size) and the unencrypted MD5 when the caller gave one.
   * Every UploadPart repeats all of them but the unencrypted MD5 and length.
   */
  readonly envelope: Readonly<Record<string, string>>;
}

/**
 * The envelope headers every UploadPart repeats, as Go v1/v2 do (`oss-go-java.md` §7): what OSS compares with
 * Initiate. The unencrypted MD5 and length of the whole object stay on Initiate only.
 */
export const PART_ENVELOPE_HEADERS: readonly string[] = [
  V2Header.KEY,
  V2Header.START,
  V2Header.CEK_ALG,
  V2Header.WRAP_ALG,
  V2Header.MATDESC,
  V2Header.DATA_SIZE,
  V2Header.PART_SIZE,
];

/** The headers of an UploadPart: {@link PART_ENVELOPE_HEADERS} picked from the context's envelope (any case). */
function partHeaders(envelope: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(envelope)) {
    const lower = name.toLowerCase();
    if (PART_ENVELOPE_HEADERS.includes(lower)) out[lower] = value;
  }
  return out;
}

/** Store operations the multipart functions use. */
export type MultipartObjectStore = ObjectStore & MultipartStore;

/** A finished part: what Complete and a checkpoint need. */
export interface UploadedPart {
  /** Part number. */
  readonly partNumber: number;
  /** The ETag OSS returned (quoted). */
  readonly etag: string;
  /** Bytes. */
  readonly size: number;
  /** CRC-64 of the part's ciphertext, decimal. */
  readonly crc64: string;
}

/** A part as the caller lists it for Complete: ours, or ali-oss's `{ number, etag }` shape. */
export type PartListEntry =
  | {
      /** Part number (1-based). */
      readonly partNumber: number;
      /** The part's ETag. */
      readonly etag: string;
      /** Plaintext size, checked when given. */
      readonly size?: number;
      /** The part's CRC-64, checked when given. */
      readonly crc64?: string;
    }
  | {
      /** Part number (1-based), ali-oss's spelling. */
      readonly number: number;
      /** The part's ETag. */
      readonly etag: string;
      /** Plaintext size, checked when given. */
      readonly size?: number;
      /** The part's CRC-64, checked when given. */
      readonly crc64?: string;
    };

/** Test seams: called while a part's body is encrypted (a throw fails that part's request). @internal */
export interface TransferHooks {
  /** Before each chunk of part `partNumber` is encrypted; `offset` is the chunk's offset within the part. */
  readonly onPartChunk?: (partNumber: number, offset: number) => void;
  /** Before each range of a download is requested. */
  readonly onRange?: (partNumber: number) => void;
}

/**
 * The plaintext content material of uploads in progress, keyed by upload and wrapped envelope. One cache per client:
 * it holds what that client's keys unwrapped. Entries are zeroed when the upload completes or is aborted, and the
 * oldest are evicted beyond {@link MaterialCache.limit}.
 */
export class MaterialCache {
  /** Most uploads kept. */
  readonly limit: number;
  readonly #entries = new Map<string, ContentMaterial>();

  /** @param limit - most uploads kept (default 64) */
  constructor(limit = 64) {
    this.limit = limit;
  }

  /** The material of `context`, unwrapping its envelope with `keys` on first use. */
  async material(context: MultipartContext, keys: KeyRing): Promise<ContentMaterial> {
    const id = cacheId(context);
    const cached = this.#entries.get(id);
    if (cached !== undefined) return cached;
    const opened = await openEnvelope(context.envelope, { masterKeys: keys, object: context.key });
    this.remember(context, opened.material);
    return opened.material;
  }

  /** Stores material for `context` (at Initiate, where it was just made). */
  remember(context: MultipartContext, material: ContentMaterial): void {
    const id = cacheId(context);
    this.#entries.delete(id);
    this.#entries.set(id, material);
    while (this.#entries.size > this.limit) {
      const oldest = this.#entries.keys().next().value;
      if (oldest === undefined) break;
      this.#drop(oldest);
    }
  }

  /** Zeroes and drops the material of `context`. */
  forget(context: MultipartContext): void {
    this.#drop(cacheId(context));
  }

  #drop(id: string): void {
    const m = this.#entries.get(id);
    if (m !== undefined) zeroMaterial(m);
    this.#entries.delete(id);
  }
}

function cacheId(c: MultipartContext): string {
  return [c.bucket, c.key, c.uploadId, c.envelope[V2Header.KEY] ?? '', c.envelope[V2Header.START] ?? ''].join('\n');
}

function describe(location: ObjectLocation): string {
  return `oss://${location.bucket}/${location.key}`;
}

function multipartError(message: string, location: ObjectLocation, cause?: unknown): CseError {
  return new CseError(ErrorCode.MULTIPART, message, cause === undefined ? { object: location.key } : { object: location.key, cause });
}

/** Options of {@link initiateEncryptedUpload}. */
export interface InitiateEncryptedOptions {
  /** Wraps the upload's fresh data key and IV. */
  readonly masterKey: MasterKey;
  /** Total plaintext size. */
  readonly dataSize: number;
  /** Part size; checked strictly when given (multiple of 16, ≥ 100 KiB, ≤ 10,000 parts), chosen when absent. */
  readonly partSize?: number | undefined;
  /** Request headers; a Content-MD5 of the whole plaintext moves to `…-unencrypted-content-md5`. */
  readonly headers?: Readonly<Record<string, string>> | undefined;
  /** User metadata. */
  readonly meta?: Readonly<Record<string, string | number>> | undefined;
  /** Content-Type, or a file name/extension to look it up from. */
  readonly mime?: string | undefined;
  /** Holds the plaintext material for the parts. */
  readonly cache: MaterialCache;
  /** Fixed data key and IV: known-answer tests only (see `SealOptions.contentMaterial`). @internal */
  readonly contentMaterial?: ContentMaterial | undefined;
  readonly signal?: AbortSignal | undefined;
  readonly timeout?: number | undefined;
}

/**
 * InitiateMultipartUpload with a fresh, wrapped data key and IV.
 *
 * @returns the context (serializable, wrapped material only) and the Initiate response
 * @throws CseError ERR_CSE_INVALID_ARGUMENT (data size, part size, a crypto header supplied, Content-Length ≠ data
 *   size), ERR_CSE_KEY_UNUSABLE, ERR_CSE_KMS, ERR_CSE_ABORTED; TransferError
 */
export async function initiateEncryptedUpload(
  store: MultipartStore,
  location: ObjectLocation,
  options: InitiateEncryptedOptions,
): Promise<{ context: MultipartContext; response: StoreResponse }> {
  throwIfAborted(options.signal, `InitiateMultipartUpload ${describe(location)}`);
  const { dataSize } = options;
  if (!Number.isSafeInteger(dataSize) || dataSize < 0) {
    throw new CseError(ErrorCode.INVALID_ARGUMENT, `dataSize must be a non-negative integer, got ${String(dataSize)}`, {
      object: location.key,
    });
  }
  let partSize: number;
  if (options.partSize === undefined) {
    partSize = choosePartSize(dataSize);
  } else {
    validatePartSize(options.partSize, dataSize);
    partSize = options.partSize;
  }
  const { send, md5, length } = prepareWriteHeaders(options.headers ?? {}, options.meta, undefined, location.key);
  if (length !== undefined && length !== dataSize) {
    throw new CseError(ErrorCode.INVALID_ARGUMENT, `Content-Length ${length} differs from dataSize ${dataSize}`, { object: location.key });
  }
  const sealed = await sealEnvelope({
    masterKey: options.masterKey,
    dataSize,
    partSize,
    plaintextLength: dataSize,
    // The completed object keeps Initiate's metadata (FORMAT.md §6), so the plaintext length stored here is checked
    // by every whole read, as for a PutObject (issue 14 item 2). It always equals dataSize: Complete refuses parts
    // that do not add up to it. (Go sends none on Initiate; a reader that ignores it loses nothing.)
    unencryptedContentLength: dataSize,
    ...(md5 === undefined ? {} : { unencryptedContentMd5: md5 }),
    ...(options.contentMaterial === undefined ? {} : { contentMaterial: options.contentMaterial }),
  });
  let response;
  try {
    response = await store.initiateMultipartUpload(
      location,
      { headers: { ...send, ...sealed.headers }, mime: options.mime },
      { signal: options.signal, timeout: options.timeout },
    );
  } catch (e) {
    zeroMaterial(sealed.material);
    throw e;
  }
  const context: MultipartContext = Object.freeze({
    version: CONTEXT_VERSION,
    bucket: location.bucket,
    key: location.key,
    uploadId: response.uploadId,
    dataSize,
    partSize,
    envelope: Object.freeze({ ...sealed.headers }),
  });
  options.cache.remember(context, sealed.material);
  return { context, response };
}

type Json = Record<string, unknown>;

/**
 * Checks a context (ours, or one read back from JSON) and that it belongs to `location`.
 *
 * @returns the context, normalised (header names lower-cased)
 * @throws CseError ERR_CSE_MULTIPART when it is malformed, of another version, for another bucket or object, or its
 *   envelope disagrees with its sizes; ERR_CSE_INVALID_ARGUMENT when its part size breaks the part-size rules;
 *   ERR_CSE_ENVELOPE_* when its envelope is malformed
 */
export function checkContext(value: unknown, location: ObjectLocation): MultipartContext {
  const bad = (what: string): CseError => multipartError(`invalid multipart context: ${what}`, location);
  if (typeof value !== 'object' || value === null) throw bad('expected the object initMultipartUpload returned');
  const o = value as Json;
  if (o.version !== CONTEXT_VERSION) throw bad(`version ${JSON.stringify(o.version)} is not ${CONTEXT_VERSION}`);
  for (const name of ['bucket', 'key', 'uploadId'] as const) {
    if (typeof o[name] !== 'string' || o[name] === '') throw bad(`${name} is missing`);
  }
  for (const name of ['dataSize', 'partSize'] as const) {
    const n = o[name];
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) throw bad(`${name} is not a non-negative integer`);
  }
  if (typeof o.envelope !== 'object' || o.envelope === null) throw bad('envelope is missing');
  const envelope: Record<string, string> = {};
  for (const [name, v] of Object.entries(o.envelope as Json)) {
    if (typeof v !== 'string') throw bad(`envelope header ${name} is not a string`);
    envelope[name.toLowerCase()] = v;
  }
  const context: MultipartContext = {
    version: CONTEXT_VERSION,
    bucket: o.bucket as string,
    key: o.key as string,
    uploadId: o.uploadId as string,
    dataSize: o.dataSize as number,
    partSize: o.partSize as number,
    envelope,
  };
  if (context.bucket !== location.bucket || context.key !== location.key) {
    throw multipartError(
      `the multipart context belongs to ${describe({ bucket: context.bucket, key: context.key })}, not ${describe(location)}`,
      location,
    );
  }
  const parsed = parseEnvelope(envelope, { object: location.key });
  if (parsed.version !== 'v2') throw bad('the envelope is not a V2 envelope');
  if (parsed.dataSize !== context.dataSize || parsed.partSize !== context.partSize) {
    throw bad(
      `its envelope says data-size ${String(parsed.dataSize)} and part-size ${String(parsed.partSize)}, ` +
        `its fields ${context.dataSize} and ${context.partSize}`,
    );
  }
  validatePartSize(context.partSize, context.dataSize);
  return context;
}

/**
 * Builds a context from ListParts' `ClientEncryption*` fields (Go v2 resumes this way, `oss-go-java.md` §7). The
 * matdesc is not reported there: parts are then sent without it (as Java sends no crypto headers at all); the stored
 * object keeps Initiate's.
 *
 * @throws CseError ERR_CSE_MULTIPART when the upload carries no (or an incomplete) encryption context
 */
export function contextFromListing(location: ObjectLocation, uploadId: string, encryption: ListedEncryption | undefined): MultipartContext {
  const missing = (what: string): CseError =>
    multipartError(
      `upload ${uploadId} of ${describe(location)} reports no client-side-encryption ${what} in ListParts: it was not ` +
        'initiated with client-side encryption, or the server does not report it; resume it from a checkpoint instead',
      location,
    );
  if (encryption === undefined) throw missing('context');
  const { key, start, cekAlg, wrapAlg, dataSize, partSize } = encryption;
  if (key === undefined || start === undefined || wrapAlg === undefined) throw missing('key, start or wrap algorithm');
  if (dataSize === undefined) throw missing('data size');
  if (partSize === undefined) throw missing('part size');
  const envelope: Record<string, string> = {
    [V2Header.KEY]: key,
    [V2Header.START]: start,
    [V2Header.CEK_ALG]: cekAlg ?? CekAlgorithm.AES_CTR,
    [V2Header.WRAP_ALG]: wrapAlg,
    [V2Header.DATA_SIZE]: dataSize,
    [V2Header.PART_SIZE]: partSize,
  };
  const parsed = parseEnvelope(envelope, { object: location.key });
  return checkContext(
    {
      version: CONTEXT_VERSION,
      bucket: location.bucket,
      key: location.key,
      uploadId,
      dataSize: parsed.dataSize,
      partSize: parsed.partSize,
      envelope,
    },
    location,
  );
}

/**
 * Where part `partNumber` lies, as a multipart error when it is out of range.
 * @throws CseError ERR_CSE_MULTIPART when `partNumber` is not in 1..N
 */
export function contextPartBounds(context: MultipartContext, partNumber: number, location: ObjectLocation): PartBounds {
  const count = partCount(context.dataSize, context.partSize);
  if (!Number.isSafeInteger(partNumber) || partNumber < 1 || partNumber > count) {
    throw multipartError(
      `part number ${String(partNumber)} is outside 1..${count} (${context.dataSize} bytes in parts of ${context.partSize})`,
      location,
    );
  }
  return partBounds(partNumber, context.partSize, context.dataSize);
}

/** A part body to encrypt: plaintext bytes, or plaintext chunks of the part's exact length. */
export type PartPlaintext = Uint8Array | AsyncIterable<Uint8Array>;

/** Options of {@link uploadEncryptedPart}. */
export interface UploadPartOptions {
  /** Keys to unwrap the context's envelope with, when the cache does not hold its material. */
  readonly keys: KeyRing;
  readonly cache: MaterialCache;
  readonly signal?: AbortSignal | undefined;
  readonly timeout?: number | undefined;
  /** @internal */
  readonly hooks?: TransferHooks | undefined;
}

/**
 * Encrypts part `partNumber` at counter `IV + (partNumber−1)·partSize/16` and uploads it with the context's crypto
 * headers. The part must be exactly its size: `partSize`, or the remainder for the last part.
 *
 * @returns the part's ETag, size and ciphertext CRC-64 (checked against OSS's)
 * @throws CseError ERR_CSE_MULTIPART (part number out of range, wrong size, the context does not match the upload on
 *   the server), ERR_CSE_INTEGRITY (OSS stored other bytes than we sent), ERR_CSE_NO_MATCHING_KEY,
 *   ERR_CSE_ABORTED; TransferError
 */
export async function uploadEncryptedPart(
  store: MultipartStore,
  location: ObjectLocation,
  context: MultipartContext,
  partNumber: number,
  plaintext: PartPlaintext,
  options: UploadPartOptions,
): Promise<UploadedPart & { readonly res: ResponseInfo }> {
  const what = `UploadPart ${partNumber} of ${describe(location)}`;
  throwIfAborted(options.signal, what);
  const bounds = contextPartBounds(context, partNumber, location);
  if (plaintext instanceof Uint8Array && plaintext.length !== bounds.size) {
    throw wrongSize(context, partNumber, bounds, plaintext.length, location);
  }
  const material = await options.cache.material(context, options.keys);
  const cipher = createCtrCipher(material.key, material.iv, partCounterOffset(partNumber, context.partSize));
  const crc = new Crc64();
  let body: PutBody;
  if (plaintext instanceof Uint8Array && plaintext.length <= PART_ONE_SHOT_MAX) {
    options.hooks?.onPartChunk?.(partNumber, 0);
    const ciphertext = cipher.update(plaintext);
    crc.update(ciphertext);
    body = { kind: 'bytes', bytes: ciphertext };
  } else {
    // An in-memory part (a stream source's buffered part, or the caller's bytes) is streamed in views rather than
    // encrypted whole: a whole-part ciphertext doubled the memory of every part in flight (~2 × parallel × partSize)
    // and, being fresh mmap-backed memory, cost more to fill than to encrypt on first-touch-slow VMs.
    const source = plaintext instanceof Uint8Array ? viewsOf(plaintext) : plaintext;
    body = {
      kind: 'stream',
      stream: encryptPartStream(source, cipher, crc, { context, partNumber, bounds, location, hooks: options.hooks }),
      length: bounds.size,
    };
  }
  const response = await sendPart(store, location, context, partNumber, body, options);
  if (crc.length !== bounds.size) throw wrongSize(context, partNumber, bounds, crc.length, location);
  checkPartCrc(response, crc, what, location);
  return { partNumber, etag: response.etag, size: bounds.size, crc64: crc.toString(), res: response.res };
}

/** In-memory parts up to this size are encrypted in one `update` and sent as one buffer (ali-oss's `content` path). */
const PART_ONE_SHOT_MAX = 64 * 1024;

/** The view size for streaming an in-memory part: a socket-sized write, the cipher's sweet spot. */
const PART_VIEW_BYTES = 64 * 1024;

/** `bytes` as consecutive views (no copy). */
function* viewsOf(bytes: Uint8Array): Generator<Uint8Array, void, undefined> {
  for (let at = 0; at < bytes.length; at += PART_VIEW_BYTES) yield bytes.subarray(at, Math.min(bytes.length, at + PART_VIEW_BYTES));
}

function wrongSize(context: MultipartContext, partNumber: number, bounds: PartBounds, got: number, location: ObjectLocation): CseError {
  const count = partCount(context.dataSize, context.partSize);
  const rule = partNumber < count ? `every part but the last is exactly the part size ${context.partSize}` : 'the last part is the remainder';
  return multipartError(`part ${partNumber} must be ${bounds.size} bytes (${rule}), got ${got}`, location);
}

/** Sends an encrypted part with the context's per-part headers; maps OSS's refusals of the context to ERR_CSE_MULTIPART. */
async function sendPart(
  store: MultipartStore,
  location: ObjectLocation,
  context: MultipartContext,
  partNumber: number,
  body: PutBody,
  options: { readonly signal?: AbortSignal | undefined; readonly timeout?: number | undefined },
): Promise<UploadPartResponse> {
  try {
    return await store.uploadPart(
      location,
      { uploadId: context.uploadId, partNumber, headers: partHeaders(context.envelope), body },
      { signal: options.signal, timeout: options.timeout },
    );
  } catch (e) {
    throw explainUploadError(e, context, location, `part ${partNumber}`);
  }
}

/** OSS's answers that mean "this context is not that upload's" become ERR_CSE_MULTIPART. */
function explainUploadError(e: unknown, context: MultipartContext, location: ObjectLocation, what: string): unknown {
  if (!(e instanceof TransferError)) return e;
  if (e.ossCode === 'NoSuchUpload') {
    return multipartError(
      `${what}: upload ${context.uploadId} does not exist on ${describe(location)} (completed, aborted, or another object's)`,
      location,
      e,
    );
  }
  if (e.ossCode === 'InvalidEncryptionRequest') {
    return multipartError(
      `${what}: OSS refused the client-side-encryption context of upload ${context.uploadId}: it does not match what ` +
        `the upload was initiated with (a context from another upload?): ${e.message}`,
      location,
      e,
    );
  }
  return e;
}

function checkPartCrc(response: UploadPartResponse, crc: Crc64, what: string, location: ObjectLocation): void {
  const stored = parseCrc64Header(response.headers[OssHeader.CRC64]);
  if (stored !== undefined && stored !== crc.digest()) {
    throw new CseError(
      ErrorCode.INTEGRITY,
      `${what}: OSS stored bytes whose CRC-64 (${stored.toString()}) differs from the ciphertext sent (${crc.toString()})`,
      // Damaged on the way: sending the part again is the cure.
      { object: location.key, header: OssHeader.CRC64, retryable: true },
    );
  }
}

async function* encryptPartStream(
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  cipher: CtrCipher,
  crc: Crc64,
  where: {
    readonly context: MultipartContext;
    readonly partNumber: number;
    readonly bounds: PartBounds;
    readonly location: ObjectLocation;
    readonly hooks: TransferHooks | undefined;
  },
): AsyncGenerator<Buffer, void, undefined> {
  for await (const chunk of source as AsyncIterable<unknown> | Iterable<unknown>) {
    if (!(chunk instanceof Uint8Array)) {
      throw new CseError(ErrorCode.INVALID_ARGUMENT, `part ${where.partNumber}: the body must yield bytes, got ${typeof chunk}`, {
        object: where.location.key,
      });
    }
    where.hooks?.onPartChunk?.(where.partNumber, crc.length);
    if (crc.length + chunk.length > where.bounds.size) {
      throw wrongSize(where.context, where.partNumber, where.bounds, crc.length + chunk.length, where.location);
    }
    const out = cipher.update(chunk);
    crc.update(out);
    if (out.length > 0) yield out;
  }
  if (crc.length !== where.bounds.size) throw wrongSize(where.context, where.partNumber, where.bounds, crc.length, where.location);
}

/** Every part of an upload, all ListParts pages, with its encryption context. */
export interface PartListing {
  /** Parts, ascending. */
  readonly parts: readonly ListedPart[];
  /** The upload's encryption context as OSS reports it. */
  readonly encryption: ListedEncryption | undefined;
}

/**
 * Lists every part of an upload (all pages).
 * @throws CseError ERR_CSE_ABORTED; TransferError (404 `NoSuchUpload`)
 */
export async function listAllParts(
  store: MultipartStore,
  location: ObjectLocation,
  uploadId: string,
  options: { readonly signal?: AbortSignal | undefined; readonly timeout?: number | undefined } = {},
): Promise<PartListing> {
  const parts: ListedPart[] = [];
  let encryption: ListedEncryption | undefined;
  let marker: number | undefined;
  for (let page = 0; page < 10_001; page++) {
    const result = await store.listParts(
      location,
      uploadId,
      { maxParts: 1000, partNumberMarker: marker },
      { signal: options.signal, timeout: options.timeout },
    );
    parts.push(...result.parts);
    encryption ??= result.encryption;
    if (!result.isTruncated || result.nextPartNumberMarker === undefined || result.nextPartNumberMarker === marker) break;
    marker = result.nextPartNumberMarker;
  }
  parts.sort((a, b) => a.partNumber - b.partNumber);
  return { parts, encryption };
}

function normalizeEtag(tag: string): string {
  return tag.trim().replace(/^"(.*)"$/, '$1').toUpperCase();
}

/** Two decimal CRC-64 strings name the same value (leading zeros aside); non-numeric ones must be equal as text. */
function sameCrc(a: string, b: string): boolean {
  const decimal = /^[0-9]+$/;
  return decimal.test(a) && decimal.test(b) ? BigInt(a) === BigInt(b) : a === b;
}

function entryNumber(entry: PartListEntry): number {
  return 'partNumber' in entry ? entry.partNumber : entry.number;
}

/**
 * Checks a full part list against the context before Complete: numbers exactly 1..N (no gap, no duplicate, none
 * beyond), every part its exact size, sizes adding up to the data size.
 *
 * @throws CseError ERR_CSE_MULTIPART listing every problem
 */
export function validatePartList(
  context: MultipartContext,
  parts: readonly { readonly partNumber: number; readonly size: number }[],
  location: ObjectLocation,
): void {
  const count = partCount(context.dataSize, context.partSize);
  const problems: string[] = [];
  const seen = new Set<number>();
  let total = 0;
  for (const part of parts) {
    if (seen.has(part.partNumber)) problems.push(`part ${part.partNumber} is listed twice`);
    seen.add(part.partNumber);
    if (!Number.isSafeInteger(part.partNumber) || part.partNumber < 1 || part.partNumber > count) {
      problems.push(`part number ${String(part.partNumber)} is outside 1..${count}`);
      continue;
    }
    const expected = partBounds(part.partNumber, context.partSize, context.dataSize).size;
    if (part.size !== expected) problems.push(`part ${part.partNumber} is ${part.size} bytes, expected ${expected}`);
    total += part.size;
  }
  const missing: number[] = [];
  for (let n = 1; n <= count; n++) if (!seen.has(n)) missing.push(n);
  if (missing.length > 0) {
    const shown = missing.length > 20 ? `${missing.slice(0, 20).join(', ')}, … (${missing.length} in all)` : missing.join(', ');
    problems.push(`part${missing.length === 1 ? '' : 's'} ${shown} missing`);
  }
  if (problems.length === 0 && total !== context.dataSize) problems.push(`the parts add up to ${total} bytes, not ${context.dataSize}`);
  if (problems.length > 0) {
    throw multipartError(`cannot complete upload ${context.uploadId} of ${describe(location)}: ${problems.join('; ')}`, location);
  }
}

/** Options of {@link completeEncryptedUpload}. */
export interface CompleteOptions {
  readonly cache: MaterialCache;
  readonly signal?: AbortSignal | undefined;
  readonly timeout?: number | undefined;
  /** Retries of a transient Complete failure (default policy: 3). */
  readonly retry?: RetryPolicy | undefined;
  /** Extra Complete request headers (the upload callback's `x-oss-callback`, `x-oss-callback-var`). */
  readonly headers?: Readonly<Record<string, string>> | undefined;
}

/** The result of {@link completeEncryptedUpload}. */
export interface CompletedUpload {
  /** The CompleteMultipartUpload response (or, after a lost answer, the HEAD that confirmed the object). */
  readonly response: StoreResponse;
  /** The object's ETag, when known. */
  readonly etag: string | undefined;
  /** CRC-64 of the whole ciphertext, decimal, joined from the parts' (checked against OSS's when it sends one). */
  readonly crc64: string;
  /** The parts, ascending. */
  readonly parts: readonly UploadedPart[];
}

/**
 * Validates the part list (sizes and CRCs not given are taken from ListParts, whose ETags must match, and those given
 * must agree with ListParts' when it is consulted) and sends CompleteMultipartUpload. A transient failure is retried; when the retry finds the upload gone (OSS completed it but
 * the answer was lost), a HEAD confirms the object by size and CRC-64.
 *
 * @throws CseError ERR_CSE_MULTIPART (incomplete or inconsistent part list, unknown upload), ERR_CSE_INTEGRITY (a
 *   part's CRC-64 in the list differs from ListParts', or the completed object's CRC-64 differs from the parts'),
 *   ERR_CSE_ABORTED; TransferError
 */
export async function completeEncryptedUpload(
  store: MultipartObjectStore,
  location: ObjectLocation,
  context: MultipartContext,
  entries: readonly PartListEntry[],
  options: CompleteOptions,
): Promise<CompletedUpload> {
  const what = `CompleteMultipartUpload ${describe(location)}`;
  throwIfAborted(options.signal, what);
  const call = { signal: options.signal, timeout: options.timeout };
  let parts: UploadedPart[];
  if (entries.every((e) => e.size !== undefined && e.crc64 !== undefined)) {
    parts = entries.map((e) => ({ partNumber: entryNumber(e), etag: e.etag, size: e.size ?? 0, crc64: e.crc64 ?? '0' }));
  } else {
    let listing: PartListing;
    try {
      listing = await listAllParts(store, location, context.uploadId, call);
    } catch (e) {
      throw explainUploadError(e, context, location, 'ListParts');
    }
    const onServer = new Map(listing.parts.map((p) => [p.partNumber, p]));
    const problems: string[] = [];
    const crcMismatches: string[] = [];
    parts = entries.map((e) => {
      const n = entryNumber(e);
      const listed = onServer.get(n);
      if (listed === undefined) {
        problems.push(`part ${n} is not on the server`);
        return { partNumber: n, etag: e.etag, size: e.size ?? 0, crc64: e.crc64 ?? '0' };
      }
      if (normalizeEtag(listed.etag) !== normalizeEtag(e.etag)) problems.push(`part ${n} has ETag ${listed.etag} on the server, not ${e.etag}`);
      if (e.size !== undefined && e.size !== listed.size) problems.push(`part ${n} is ${listed.size} bytes on the server, not ${e.size}`);
      // Both CRCs known and different: the part OSS holds is not the ciphertext the caller recorded. Neither may be
      // picked silently (the joined CRC would then vouch for bytes nobody checked).
      if (e.crc64 !== undefined && listed.crc64 !== undefined && !sameCrc(e.crc64, listed.crc64)) {
        crcMismatches.push(`part ${n}: ${listed.crc64} on the server, ${e.crc64} in the part list`);
      }
      return { partNumber: n, etag: e.etag, size: listed.size, crc64: e.crc64 ?? listed.crc64 ?? '' };
    });
    if (problems.length > 0) {
      throw multipartError(`cannot complete upload ${context.uploadId} of ${describe(location)}: ${problems.join('; ')}`, location);
    }
    if (crcMismatches.length > 0) {
      throw new CseError(
        ErrorCode.INTEGRITY,
        `cannot complete upload ${context.uploadId} of ${describe(location)}: the CRC-64 OSS lists differs from the part ` +
          `list's (${crcMismatches.join('; ')}); upload those parts again`,
        { object: location.key, header: OssHeader.CRC64 },
      );
    }
  }
  parts.sort((a, b) => a.partNumber - b.partNumber);
  validatePartList(context, parts, location);
  const crcKnown = parts.every((p) => /^[0-9]{1,20}$/.test(p.crc64));
  const joined = crcKnown ? new Crc64Joiner().joinAll(parts.map((p) => ({ crc64: BigInt(p.crc64), size: p.size }))) : undefined;
  let retried = false;
  const result = await withRetries<{ response: StoreResponse; etag: string | undefined }>(
    async (attempt) => {
      retried = attempt > 0;
      try {
        const r = await store.completeMultipartUpload(
          location,
          context.uploadId,
          parts.map((p) => ({ partNumber: p.partNumber, etag: p.etag })),
          call,
          options.headers ?? {},
        );
        return { response: r, etag: r.etag };
      } catch (e) {
        if (retried && e instanceof TransferError && e.ossCode === 'NoSuchUpload') {
          // Our earlier Complete went through and only its answer was lost: the object is there if it is ours.
          const head = await store.head(location, { headers: {} }, call);
          if (sameObject(head.headers, context, joined)) return { response: head, etag: head.headers[OssHeader.ETAG] };
        }
        throw explainUploadError(e, context, location, 'Complete');
      }
    },
    options.retry ?? DEFAULT_RETRY_POLICY,
    options.signal,
    what,
  );
  options.cache.forget(context);
  const stored = parseCrc64Header(result.response.headers[OssHeader.CRC64]);
  if (joined !== undefined && stored !== undefined && stored !== joined) {
    throw new CseError(
      ErrorCode.INTEGRITY,
      `${what}: the object's CRC-64 (${stored.toString()}) differs from its parts' (${joined.toString()}); the stored object is damaged`,
      { object: location.key, header: OssHeader.CRC64 },
    );
  }
  return { response: result.response, etag: result.etag, crc64: (joined ?? stored ?? 0n).toString(), parts };
}

/** A HEAD of the object shows the upload we completed: same envelope start, size and (when known) CRC-64. */
function sameObject(headers: Readonly<Record<string, string>>, context: MultipartContext, crc: bigint | undefined): boolean {
  if (headers[V2Header.START] !== context.envelope[V2Header.START]) return false;
  if (headers[OssHeader.CONTENT_LENGTH] !== String(context.dataSize)) return false;
  const stored = parseCrc64Header(headers[OssHeader.CRC64]);
  return crc === undefined || stored === undefined || stored === crc;
}

/**
 * AbortMultipartUpload; forgets the upload's material.
 * @throws CseError ERR_CSE_MULTIPART (unknown upload), ERR_CSE_ABORTED; TransferError
 */
export async function abortEncryptedUpload(
  store: MultipartStore,
  location: ObjectLocation,
  context: MultipartContext,
  options: { readonly cache: MaterialCache; readonly signal?: AbortSignal | undefined; readonly timeout?: number | undefined },
): Promise<StoreResponse> {
  options.cache.forget(context);
  try {
    return await store.abortMultipartUpload(location, context.uploadId, { signal: options.signal, timeout: options.timeout });
  } catch (e) {
    throw explainUploadError(e, context, location, 'AbortMultipartUpload');
  }
}

/** The fixed number of parts of a context. */
export function contextPartCount(context: MultipartContext): number {
  return partCount(context.dataSize, context.partSize);
}
