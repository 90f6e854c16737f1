/**
 * The browser {@link EncryptionClient}: the same method names and result shapes as the Node client where they make
 * sense (`put`, `get`, `getStream`, `head`, `multipartUpload`), over the user's ali-oss client.
 *
 * Reads follow the Node read path exactly (FORMAT.md §5.2): the Range sent and the view returned come from
 * `planRead`/`planServe` (src/transfer/range-plan.ts, a pure module shared with Node), the counter from the
 * response's own `Content-Range`, and a whole-object read checks the body length, OSS's CRC-64 of the ciphertext,
 * then the envelope's plaintext length and MD5.
 *
 * @packageDocumentation
 */

import { CseError, ErrorCode } from '../../src/errors.js';
import { buildV2Envelope, detectEnvelopeVersion, encodeEnvelope, isMd5Base64, parseEnvelope } from '../../src/format/envelope.js';
import { OssHeader, USER_META_PREFIX } from '../../src/format/headers.js';
import { BLOCK_SIZE } from '../../src/format/layout.js';
import { parseContentRange, parseRangeHeader, resolveRange } from '../../src/format/range.js';
import type { Envelope } from '../../src/format/types.js';
import { Crc64, parseCrc64Header } from '../../src/transfer/crc64.js';
import { planRead, planServe, type FetchedSpan } from '../../src/transfer/range-plan.js';
import { summarizeEnvelope, type EnvelopeSummary } from '../../src/format/summary.js';
import { ctrAt, importCtrKey, plainBuffer, type CtrKey } from './aes.js';
import { encodeBase64 } from './base64.js';
import { unwrapWithKeys, type BrowserMasterKey } from './keys.js';
import { Md5 } from './md5.js';
import { multipartUpload, type MultipartSource, type MultipartUploadOptions, type MultipartUploadResult } from './multipart.js';
import { abortable, checkAborted, contentBytes, header, transferError, type OssLike, type OssResponse } from './oss.js';

/** Options of {@link EncryptionClient}. */
export interface EncryptionClientOptions {
  /** Wraps new objects (an {@link RsaMasterKey} or a {@link KeyBrokerMasterKey}); also tried on reads. */
  readonly masterKey: BrowserMasterKey;
  /** More keys for reading (tried after those whose description matches the object's). */
  readonly decryptionKeys?: readonly BrowserMasterKey[];
  /** Read legacy envelopes (oss2 ≤ 2.10 V1, guide form); off by default (SECURITY.md). */
  readonly allowLegacy?: boolean;
  /** Refuse objects without client-side-encryption headers (default false: their bytes come back as stored). */
  readonly requireEncrypted?: boolean;
}

export { summarizeEnvelope, type EnvelopeSummary } from '../../src/format/summary.js';

/** What `put` accepts. A string is encoded as UTF-8. */
export type BrowserPutInput = Blob | Uint8Array | ArrayBuffer | string;

/** Options of {@link EncryptionClient.put}. */
export interface BrowserPutOptions {
  /** Content-Type (default: the Blob's type, else what ali-oss derives from the key). */
  readonly mime?: string;
  /** User metadata, sent as `x-oss-meta-<name>`. */
  readonly meta?: Readonly<Record<string, string | number>>;
  /** Extra request headers (crypto headers cannot be supplied). */
  readonly headers?: Readonly<Record<string, string>>;
  /** Stops the call (the request may still complete in the background). */
  readonly signal?: AbortSignal;
}

/** The result of a put: ali-oss's `{ name, url, res }` plus what was stored, as in Node. */
export interface BrowserPutResult {
  readonly name: string;
  readonly url: string | undefined;
  readonly res: OssResponse;
  readonly encrypted: true;
  readonly envelope: EnvelopeSummary;
  /** Plaintext bytes uploaded. */
  readonly size: number;
  /** CRC-64 of the ciphertext (decimal, as OSS spells it), checked against OSS's answer when it exposes one. */
  readonly crc64: string;
}

/** A byte range as numbers, `end` inclusive (omitted: to the end). */
export interface BrowserRange {
  readonly start: number;
  readonly end?: number;
}

/** Options of {@link EncryptionClient.get} and {@link EncryptionClient.head}. */
export interface BrowserGetOptions {
  /** A range as numbers (instead of a `Range` header). */
  readonly range?: BrowserRange;
  /** Request headers: `Range` (any form OSS takes), `x-oss-range-behavior: standard`, `If-Match`, … */
  readonly headers?: Readonly<Record<string, string>>;
  /** Override the client's `requireEncrypted`. */
  readonly requireEncrypted?: boolean;
  /** Stops the call. */
  readonly signal?: AbortSignal;
}

/** The result of {@link EncryptionClient.get}. */
export interface BrowserGetResult {
  /** The plaintext (the caller's view: exactly what a plain client gets for the same request). */
  readonly content: Uint8Array;
  /** The response, with status and the caller's view of Content-Length / Content-Range. */
  readonly res: OssResponse;
  readonly encrypted: boolean;
  readonly envelope: EnvelopeSummary | undefined;
  /** Plaintext bytes returned. */
  readonly size: number;
  /** The object's size. */
  readonly objectSize: number | undefined;
  /** The returned range when the answer is a 206. */
  readonly range: { readonly start: number; readonly end: number } | undefined;
}

/** Options of {@link EncryptionClient.getStream}. */
export interface BrowserGetStreamOptions {
  /** Only these bytes. */
  readonly range?: BrowserRange;
  /** Bytes per ranged GET (default 8 MiB, rounded up to 16). */
  readonly chunkSize?: number;
  /** Stops the stream (it errors with ERR_CSE_ABORTED). */
  readonly signal?: AbortSignal;
}

/** The result of {@link EncryptionClient.getStream}. */
export interface BrowserGetStreamResult {
  /**
   * The plaintext. Integrity failures (a changed object, CRC-64, declared length/MD5) error the stream after the
   * last chunk: keep what you read only once it closes without error.
   */
  readonly stream: ReadableStream<Uint8Array>;
  readonly encrypted: boolean;
  readonly envelope: EnvelopeSummary | undefined;
  /** Plaintext bytes the stream yields. */
  readonly size: number;
  readonly objectSize: number;
  /** The HeadObject response the stream is pinned to (its ETag). */
  readonly res: OssResponse;
}

/** The result of {@link EncryptionClient.head}. */
export interface BrowserHeadResult {
  readonly status: number;
  /** User metadata without the crypto headers; null when none. */
  readonly meta: Record<string, string> | null;
  readonly res: OssResponse;
  readonly encrypted: boolean;
  readonly envelope: EnvelopeSummary | undefined;
  readonly size: number | undefined;
}

const DEFAULT_STREAM_CHUNK = 8 * 1024 * 1024;

function checkObjectName(name: unknown): string {
  if (typeof name !== 'string' || name === '') throw new CseError(ErrorCode.INVALID_ARGUMENT, 'the object name must be a non-empty string');
  if (name.split('/').some((s) => s === '.' || s === '..')) {
    throw new CseError(ErrorCode.INVALID_ARGUMENT, 'object names with . or .. segments are refused (they would be resolved as paths)', { object: name });
  }
  return name;
}

function rangeHeaderOf(options: BrowserGetOptions | BrowserGetStreamOptions): string | undefined {
  const range = options.range;
  const headers = 'headers' in options ? options.headers : undefined;
  const fromHeaders = headers === undefined ? undefined : Object.entries(headers).find(([n]) => n.toLowerCase() === 'range')?.[1];
  if (range === undefined) return fromHeaders;
  if (fromHeaders !== undefined) throw new CseError(ErrorCode.INVALID_ARGUMENT, 'give either range or a Range header, not both');
  const { start, end } = range;
  if (!Number.isSafeInteger(start) || start < 0 || (end !== undefined && (!Number.isSafeInteger(end) || end < start))) {
    throw new CseError(ErrorCode.INVALID_ARGUMENT, `invalid range ${JSON.stringify(range)}`);
  }
  return `bytes=${start}-${end === undefined ? '' : String(end)}`;
}

function userMeta(res: OssResponse): Record<string, string> | null {
  const meta: Record<string, string> = {};
  for (const [name, value] of Object.entries(res.headers)) {
    const lower = name.toLowerCase();
    if (value === undefined || !lower.startsWith(USER_META_PREFIX)) continue;
    if (detectEnvelopeVersion({ [lower]: value }) !== null) continue;
    meta[lower.slice(USER_META_PREFIX.length)] = value;
  }
  return Object.keys(meta).length === 0 ? null : meta;
}

/** What the response carries, from its Content-Range (never from the request). */
function fetchedSpan(res: OssResponse, object: string): FetchedSpan | undefined {
  const contentRange = header(res, OssHeader.CONTENT_RANGE);
  if (contentRange !== undefined) {
    const parsed = parseContentRange(contentRange);
    if (parsed?.total === undefined) throw new CseError(ErrorCode.TRANSFER, `unusable Content-Range ${JSON.stringify(contentRange)}`, { object });
    return { start: parsed.start, end: parsed.end, total: parsed.total, partial: true };
  }
  if (res.status === 206) {
    // A 206 whose Content-Range the page cannot see: the bucket's CORS rule does not expose it.
    throw new CseError(ErrorCode.TRANSFER, 'a 206 answer without a readable Content-Range: expose Content-Range in the bucket CORS rule (docs/browser.md)', { object });
  }
  const length = header(res, OssHeader.CONTENT_LENGTH);
  if (length === undefined || !/^[0-9]+$/.test(length)) return undefined;
  const total = Number(length);
  return { start: 0, end: total - 1, total, partial: false };
}

/** Checks the envelope's plaintext length and MD5 against a whole object's plaintext. */
function checkWhole(envelope: Envelope, length: number, md5: Md5 | undefined, object: string): void {
  if (envelope.unencryptedContentLength !== undefined && envelope.unencryptedContentLength !== length) {
    throw new CseError(ErrorCode.INTEGRITY, `decrypted ${length} bytes, the envelope declares ${envelope.unencryptedContentLength}`, { object, header: 'x-oss-meta-client-side-encryption-unencrypted-content-length' });
  }
  if (md5 !== undefined && envelope.unencryptedContentMd5 !== undefined && encodeBase64(md5.digest()) !== envelope.unencryptedContentMd5) {
    throw new CseError(ErrorCode.INTEGRITY, 'the decrypted bytes do not match the envelope\'s MD5', { object, header: 'x-oss-meta-client-side-encryption-unencrypted-content-md5' });
  }
}

/**
 * Client-side encryption over the user's ali-oss client, in the browser. Objects are encrypted in the page before
 * upload and decrypted after download; OSS and the network see only ciphertext and the wrapped envelope.
 */
export class EncryptionClient {
  /** The ali-oss client. */
  readonly oss: OssLike;
  readonly #masterKey: BrowserMasterKey;
  readonly #keys: readonly BrowserMasterKey[];
  readonly #allowLegacy: boolean;
  readonly #requireEncrypted: boolean;

  /**
   * @param ossClient - an ali-oss client (browser build: `new OSS({ region, bucket, accessKeyId, accessKeySecret, stsToken, … })`)
   * @param options - the master key and extra decryption keys
   * @throws CseError ERR_CSE_INVALID_ARGUMENT without an ali-oss-like client or a master key
   */
  constructor(ossClient: OssLike, options: EncryptionClientOptions) {
    if (typeof ossClient !== 'object' || typeof (ossClient as { put?: unknown }).put !== 'function' || typeof (ossClient as { get?: unknown }).get !== 'function') {
      throw new CseError(ErrorCode.INVALID_ARGUMENT, 'EncryptionClient needs an ali-oss client object as its first argument');
    }
    if (typeof options !== 'object' || typeof (options.masterKey as { newMaterial?: unknown } | undefined)?.newMaterial !== 'function') {
      throw new CseError(ErrorCode.INVALID_ARGUMENT, 'EncryptionClient needs { masterKey } (an RsaMasterKey or KeyBrokerMasterKey)');
    }
    this.oss = ossClient;
    this.#masterKey = options.masterKey;
    this.#keys = [options.masterKey, ...(options.decryptionKeys ?? []).filter((k) => k !== options.masterKey)];
    this.#allowLegacy = options.allowLegacy === true;
    this.#requireEncrypted = options.requireEncrypted === true;
  }

  /**
   * Unwraps an envelope with the client's keys (legacy gate first).
   * @throws CseError ERR_CSE_LEGACY_NOT_ALLOWED, ERR_CSE_NO_MATCHING_KEY, ERR_CSE_KEY_BROKER_REFUSED, ERR_CSE_UNWRAP_*
   * @internal
   */
  async openKey(envelope: Envelope, object: string): Promise<CtrKey> {
    if (envelope.version !== 'v2' && !this.#allowLegacy) {
      throw new CseError(ErrorCode.LEGACY_NOT_ALLOWED, `the object uses the legacy ${envelope.version} format; pass allowLegacy: true to read it (SECURITY.md)`, { object });
    }
    const material = await unwrapWithKeys(this.#keys, envelope, object);
    try {
      return await importCtrKey(material.key, material.iv);
    } finally {
      material.key.fill(0);
    }
  }

  /**
   * Makes and wraps fresh material for a new object, returning the key and the envelope to store.
   * @throws CseError ERR_CSE_KEY_UNUSABLE, ERR_CSE_KEY_BROKER, ERR_CSE_KEY_BROKER_REFUSED, ERR_CSE_INVALID_KEY
   * @internal
   */
  async sealNew(object: string, sizes: { readonly unencryptedContentLength?: number; readonly dataSize?: number; readonly partSize?: number }): Promise<{ ctr: CtrKey; envelope: Envelope }> {
    const fresh = await this.#masterKey.newMaterial(object);
    try {
      const envelope = buildV2Envelope(fresh.wrapped, { matdesc: fresh.matdesc, ...sizes });
      return { ctr: await importCtrKey(fresh.material.key, fresh.material.iv), envelope };
    } finally {
      fresh.material.key.fill(0);
    }
  }

  /**
   * Encrypts and uploads an object with one PutObject (use {@link EncryptionClient.multipartUpload} for large files).
   * @param name - object key
   * @param data - a Blob/File, bytes, or a string (UTF-8)
   * @param options - Content-Type, metadata, headers, signal
   * @returns like Node's `put`
   * @throws CseError ERR_CSE_INVALID_ARGUMENT, ERR_CSE_KEY_*, ERR_CSE_INTEGRITY (OSS's CRC-64 differs), ERR_CSE_ABORTED;
   *   TransferError
   */
  async put(name: string, data: BrowserPutInput, options: BrowserPutOptions = {}): Promise<BrowserPutResult> {
    const object = checkObjectName(name);
    let plain: Uint8Array;
    if (typeof data === 'string') plain = new TextEncoder().encode(data);
    else if (data instanceof Uint8Array) plain = data;
    else if (data instanceof ArrayBuffer) plain = new Uint8Array(data);
    else if (typeof Blob !== 'undefined' && data instanceof Blob) plain = new Uint8Array(await data.arrayBuffer());
    else throw new CseError(ErrorCode.INVALID_ARGUMENT, 'put takes a Blob, File, Uint8Array, ArrayBuffer or string', { object });
    const headers = this.#requestHeaders(options.headers, options.meta, object);
    checkAborted(options.signal, object);
    const { ctr, envelope } = await this.sealNew(object, { unencryptedContentLength: plain.length });
    const cipher = await ctrAt(ctr, 0, plain);
    const crc = new Crc64().update(cipher).toString();
    const mime = options.mime ?? (typeof Blob !== 'undefined' && data instanceof Blob && data.type !== '' ? data.type : undefined);
    let result;
    try {
      result = await abortable(
        this.oss.put(object, new Blob([plainBuffer(cipher)]), { headers: { ...headers, ...encodeEnvelope(envelope) }, ...(mime === undefined ? {} : { mime }) }),
        options.signal,
        object,
      );
    } catch (e) {
      throw transferError(e, `PUT ${object}`, object);
    }
    const served = parseCrc64Header(header(result.res, OssHeader.CRC64));
    if (served !== undefined && served.toString() !== crc) {
      throw new CseError(ErrorCode.INTEGRITY, `OSS stored CRC-64 ${served.toString()}, the page sent ${crc}`, { object });
    }
    return { name: object, url: result.url, res: result.res, encrypted: true, envelope: summarizeEnvelope(envelope), size: plain.length, crc64: crc };
  }

  #requestHeaders(headers: Readonly<Record<string, string>> | undefined, meta: Readonly<Record<string, string | number>> | undefined, object: string): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [n, v] of Object.entries(headers ?? {})) {
      if (detectEnvelopeVersion({ [n.toLowerCase()]: v }) !== null) {
        throw new CseError(ErrorCode.INVALID_ARGUMENT, `the crypto header ${n} cannot be supplied by the caller`, { object, header: n.toLowerCase() });
      }
      out[n] = v;
    }
    for (const [n, v] of Object.entries(meta ?? {})) {
      const full = `${USER_META_PREFIX}${n.toLowerCase()}`;
      if (detectEnvelopeVersion({ [full]: String(v) }) !== null) {
        throw new CseError(ErrorCode.INVALID_ARGUMENT, `the metadata name ${n} is a crypto header`, { object, header: full });
      }
      out[full] = String(v);
    }
    return out;
  }

  /**
   * Downloads and decrypts an object, or a range of it, into memory.
   * @param name - object key
   * @param options - `range` or a `Range` header, other request headers, signal
   * @returns `{ content, res, … }`: exactly the bytes a plain client gets for the same request on the plaintext
   * @throws CseError ERR_CSE_RANGE_NOT_SATISFIABLE, ERR_CSE_INVALID_ARGUMENT, ERR_CSE_NOT_ENCRYPTED,
   *   ERR_CSE_ENVELOPE_*, ERR_CSE_LEGACY_NOT_ALLOWED, ERR_CSE_NO_MATCHING_KEY, ERR_CSE_KEY_BROKER_REFUSED,
   *   ERR_CSE_INTEGRITY, ERR_CSE_ABORTED; TransferError
   */
  async get(name: string, options: BrowserGetOptions = {}): Promise<BrowserGetResult> {
    const object = checkObjectName(name);
    const rangeValue = rangeHeaderOf(options);
    const others: Record<string, string> = {};
    let standard = false;
    for (const [n, v] of Object.entries(options.headers ?? {})) {
      if (n.toLowerCase() === 'range') continue;
      if (n.toLowerCase() === OssHeader.RANGE_BEHAVIOR) standard = v.trim().toLowerCase() === 'standard';
      others[n] = v;
    }
    const plan = planRead(rangeValue, standard);
    const fetchOnce = async (extra: Record<string, string>): Promise<{ content?: unknown; res: OssResponse }> => {
      try {
        return await abortable(this.oss.get(object, { headers: { ...others, ...extra } }), options.signal, object);
      } catch (e) {
        const status = (e as { status?: unknown } | null)?.status;
        if (status === 416) {
          throw new CseError(ErrorCode.RANGE_NOT_SATISFIABLE, `the range ${JSON.stringify(rangeValue)} is not satisfiable`, { object, cause: e });
        }
        throw transferError(e, `GET ${object}`, object);
      }
    };
    let response = await fetchOnce(plan.sendRange === undefined ? {} : { Range: plan.sendRange });
    let fetched = fetchedSpan(response.res, object);
    let serve = fetched === undefined ? undefined : planServe(plan, fetched);
    if (serve?.kind === 'refetch') {
      // Pinned to the object the first answer came from (FORMAT.md §5.2; src/transfer/range-plan.ts).
      const etag = header(response.res, OssHeader.ETAG);
      response = await fetchOnce(etag === undefined ? {} : { 'If-Match': etag });
      fetched = fetchedSpan(response.res, object);
      serve = fetched === undefined ? undefined : planServe(plan, fetched);
      if (serve?.kind === 'refetch' || fetched?.partial === true) {
        throw new CseError(ErrorCode.TRANSFER, 'the server did not return the whole object when asked', { object });
      }
    }
    if (serve?.kind === 'unsatisfiable') {
      throw new CseError(ErrorCode.RANGE_NOT_SATISFIABLE, `the range ${JSON.stringify(rangeValue)} starts at or past the end of the ${serve.total}-byte object`, { object });
    }
    const body = contentBytes(response.content, object);
    if (fetched !== undefined && body.length !== fetched.end - fetched.start + 1) {
      throw new CseError(ErrorCode.INTEGRITY, `received ${body.length} bytes, the response announces ${fetched.end - fetched.start + 1}`, { object });
    }
    const view = serve?.kind === 'serve' ? serve : { status: 200 as const, skip: 0, length: body.length, contentRange: undefined, start: 0, total: body.length, complete: plan.range === undefined };
    const receivedStart = fetched?.start ?? 0;
    const complete = view.complete && receivedStart === 0;
    if (complete) {
      const served = parseCrc64Header(header(response.res, OssHeader.CRC64));
      if (served !== undefined && new Crc64().update(body).digest() !== served) {
        throw new CseError(ErrorCode.INTEGRITY, 'the CRC-64 of the received bytes differs from OSS\'s x-oss-hash-crc64ecma', { object });
      }
    }
    const encrypted = detectEnvelopeVersion(response.res.headers, { object }) !== null;
    if (!encrypted && (options.requireEncrypted ?? this.#requireEncrypted)) {
      throw new CseError(ErrorCode.NOT_ENCRYPTED, 'the object has no client-side-encryption headers (requireEncrypted is set)', { object });
    }
    let plain = body;
    let envelope: Envelope | undefined;
    if (encrypted) {
      envelope = parseEnvelope(response.res.headers, { object });
      const ctr = await this.openKey(envelope, object);
      plain = await ctrAt(ctr, receivedStart, body);
      if (complete) checkWhole(envelope, plain.length, envelope.unencryptedContentMd5 !== undefined && isMd5Base64(envelope.unencryptedContentMd5) ? new Md5().update(plain) : undefined, object);
    }
    const content = view.skip === 0 && view.length >= plain.length ? plain : plain.subarray(view.skip, view.skip + view.length);
    const headers: Record<string, string | undefined> = { ...response.res.headers, 'content-length': String(content.length) };
    if (view.contentRange !== undefined) headers['content-range'] = view.contentRange;
    else delete headers['content-range'];
    return {
      content,
      res: { ...response.res, status: view.status, headers },
      encrypted,
      envelope: envelope === undefined ? undefined : summarizeEnvelope(envelope),
      size: content.length,
      objectSize: fetched?.total,
      range: view.status === 206 ? { start: view.start, end: view.start + content.length - 1 } : undefined,
    };
  }

  /**
   * HeadObject: metadata, envelope facts and size; nothing is unwrapped.
   * @throws CseError ERR_CSE_ENVELOPE_*, ERR_CSE_ABORTED; TransferError
   */
  async head(name: string, options: BrowserGetOptions = {}): Promise<BrowserHeadResult> {
    const object = checkObjectName(name);
    let result;
    try {
      result = await abortable(this.oss.head(object, { headers: { ...(options.headers ?? {}) } }), options.signal, object);
    } catch (e) {
      throw transferError(e, `HEAD ${object}`, object);
    }
    const encrypted = detectEnvelopeVersion(result.res.headers, { object }) !== null;
    const envelope = encrypted ? parseEnvelope(result.res.headers, { object }) : undefined;
    const length = header(result.res, OssHeader.CONTENT_LENGTH);
    return {
      status: result.status,
      meta: userMeta(result.res),
      res: result.res,
      encrypted,
      envelope: envelope === undefined ? undefined : summarizeEnvelope(envelope),
      size: length !== undefined && /^[0-9]+$/.test(length) ? Number(length) : undefined,
    };
  }

  /**
   * A decrypting `ReadableStream` of an object (or a range): one HEAD, then ranged GETs of `chunkSize` pinned to its
   * ETag with `If-Match`, each decrypted at the counter of its own `Content-Range`. Memory stays at about one chunk.
   * @throws CseError ERR_CSE_RANGE_NOT_SATISFIABLE, ERR_CSE_INVALID_ARGUMENT, ERR_CSE_ENVELOPE_*,
   *   ERR_CSE_NO_MATCHING_KEY, ERR_CSE_KEY_BROKER_REFUSED, ERR_CSE_ABORTED; TransferError. The stream itself errors
   *   with ERR_CSE_INTEGRITY (changed object, short body, CRC-64, length/MD5), TransferError or ERR_CSE_ABORTED.
   */
  async getStream(name: string, options: BrowserGetStreamOptions = {}): Promise<BrowserGetStreamResult> {
    const object = checkObjectName(name);
    const chunk = Math.ceil((options.chunkSize ?? DEFAULT_STREAM_CHUNK) / BLOCK_SIZE) * BLOCK_SIZE;
    if (!Number.isSafeInteger(chunk) || chunk <= 0) throw new CseError(ErrorCode.INVALID_ARGUMENT, 'chunkSize must be a positive integer', { object });
    const rangeValue = rangeHeaderOf(options);
    const head = await this.head(object, options.signal === undefined ? {} : { signal: options.signal });
    const total = head.size;
    if (total === undefined) throw new CseError(ErrorCode.TRANSFER, 'HeadObject returned no Content-Length', { object });
    const etag = header(head.res, OssHeader.ETAG);
    if (etag === undefined) throw new CseError(ErrorCode.TRANSFER, 'HeadObject returned no readable ETag: expose ETag in the bucket CORS rule (docs/browser.md)', { object });
    let start = 0;
    let end = total - 1;
    if (rangeValue !== undefined) {
      const r = resolveRange(parseRangeHeader(rangeValue), total, true);
      if (r.status === 416) throw new CseError(ErrorCode.RANGE_NOT_SATISFIABLE, `the range ${rangeValue} is outside the ${total}-byte object`, { object });
      if (r.status === 206) {
        start = r.start;
        end = r.end;
      }
    }
    const whole = start === 0 && end === total - 1;
    const envelope = head.encrypted ? parseEnvelope(head.res.headers, { object }) : undefined;
    const ctr = envelope === undefined ? undefined : await this.openKey(envelope, object);
    const servedCrc = whole ? parseCrc64Header(header(head.res, OssHeader.CRC64)) : undefined;
    const crc = servedCrc === undefined ? undefined : new Crc64();
    const md5 = whole && envelope?.unencryptedContentMd5 !== undefined && isMd5Base64(envelope.unencryptedContentMd5) ? new Md5() : undefined;
    let next = start - (start % BLOCK_SIZE);
    let skip = start % BLOCK_SIZE;
    const signal = options.signal;
    const stream = new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        try {
          if (next > end) {
            if (crc !== undefined && crc.digest() !== servedCrc) throw new CseError(ErrorCode.INTEGRITY, 'the CRC-64 of the received bytes differs from OSS\'s', { object });
            if (envelope !== undefined && whole) checkWhole(envelope, total, md5, object);
            controller.close();
            return;
          }
          const last = Math.min(end, next + chunk - 1);
          let got;
          try {
            got = await abortable(this.oss.get(object, { headers: { Range: `bytes=${next}-${last}`, 'If-Match': etag } }), signal, object);
          } catch (e) {
            if ((e as { status?: unknown } | null)?.status === 412) throw new CseError(ErrorCode.INTEGRITY, 'the object changed while it was being read (If-Match failed)', { object, cause: e });
            throw transferError(e, `GET ${object}`, object);
          }
          const span = fetchedSpan(got.res, object);
          // The answer must be the range asked for: the counter comes from it, and the stream's bytes must line up.
          if (span?.start !== next || span.end !== last) {
            throw new CseError(ErrorCode.INTEGRITY, `asked for bytes ${next}-${last}, the response carries ${span === undefined ? 'no range' : `${span.start}-${span.end}`}`, { object });
          }
          const body = contentBytes(got.content, object);
          if (body.length !== last - next + 1) throw new CseError(ErrorCode.INTEGRITY, `received ${body.length} bytes for a ${last - next + 1}-byte range`, { object });
          crc?.update(body);
          const plain = ctr === undefined ? body : await ctrAt(ctr, span.start, body);
          md5?.update(plain);
          next = last + 1;
          const out = skip === 0 ? plain : plain.subarray(skip);
          skip = 0;
          controller.enqueue(out);
        } catch (e) {
          controller.error(e);
        }
      },
    });
    return {
      stream,
      encrypted: head.encrypted,
      envelope: head.envelope,
      size: total === 0 ? 0 : end - start + 1,
      objectSize: total,
      res: head.res,
    };
  }

  /**
   * Encrypted multipart upload: parts encrypted at `IV + offset/16` and uploaded in parallel, each checked against
   * OSS's CRC-64; progress, AbortSignal, and resume from a checkpoint that holds only the wrapped envelope.
   * @throws CseError ERR_CSE_INVALID_ARGUMENT, ERR_CSE_KEY_*, ERR_CSE_INTEGRITY, ERR_CSE_MULTIPART, ERR_CSE_ABORTED;
   *   TransferError; MultipartUploadError
   */
  async multipartUpload(name: string, data: MultipartSource, options: MultipartUploadOptions = {}): Promise<MultipartUploadResult> {
    return multipartUpload(this, checkObjectName(name), data, options);
  }
}
