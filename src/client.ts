/**
 * `EncryptionClient`: transparent client-side encryption over the user's own `ali-oss` client, with ali-oss's method
 * names and result shapes, interoperable with every official SDK (FORMAT.md).
 *
 * ```ts
 * const client = new EncryptionClient(new OSS({ region, bucket, accessKeyId, accessKeySecret }), { masterKey });
 * await client.put('reports/2025.csv', '2025.csv');
 * const { content } = await client.get('reports/2025.csv', { range: { start: 100, end: 199 } });
 * ```
 *
 * Reads take the envelope from the GET's own response (no HEAD first) and the counter from the response's
 * `Content-Range`; ranges answer exactly what a plain client gets on the plaintext (`transfer/range-plan.ts`).
 *
 * One file over 600 lines on purpose: the façade holds one method per ali-oss method with its argument checks; the
 * work is in transfer/, the option and result types in client-types.ts.
 *
 * @packageDocumentation
 */

import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { extname } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CseError, ErrorCode } from './errors.js';
import { detectEnvelopeVersion, parseEnvelope, pickCryptoHeaders } from './format/envelope.js';
import { OssHeader, USER_META_PREFIX } from './format/headers.js';
import { KeyRing } from './keys/key-ring.js';
import type { MasterKey } from './keys/master-key.js';
import { openEnvelope } from './object-crypto.js';
import { checkSignal, throwIfAborted } from './transfer/abort.js';
import { AliOssStore, type AliOssClient } from './transfer/ali-oss-store.js';
export { createOssClient } from './transfer/ali-oss-store.js';
export type { OssConnectionOptions } from './transfer/ali-oss-store.js';
import { writeFileAtomically } from './transfer/file-sink.js';
import { md5NeedsRereadableSource, md5OfBytes, md5OfFile } from './transfer/plaintext-md5.js';
import { removeStaleTempFiles } from './transfer/temp-file.js';
import { readObject, type ObjectRead } from './transfer/read.js';
import type { BucketInfo, ObjectLocation, ObjectStore, ResponseHeaders, ResponseInfo } from './transfer/store.js';
import { writeEncrypted, type PlaintextSource } from './transfer/write.js';
import { migrateObject } from './bulk/migrate-object.js';
import { migratePrefix } from './bulk/migrate-prefix.js';
import type { MigrateObjectResult, MigrateOptions, MigratePrefixOptions, MigratePrefixResult } from './bulk/migrate-types.js';
import { rewrapObject, rewrapPrefix, type RewrapObjectResult, type RewrapOptions, type RewrapPrefixOptions, type RewrapPrefixResult } from './transfer/rewrap.js';
import { FileCheckpointStore, MemoryCheckpointStore, defaultCheckpointPath, parseDownloadCheckpoint, parseUploadCheckpoint, type CheckpointStore } from './transfer/checkpoint.js';
import { MaterialCache, abortEncryptedUpload, checkContext, completeEncryptedUpload, contextFromListing, initiateEncryptedUpload, uploadEncryptedPart, type MultipartContext, type MultipartObjectStore, type PartListEntry } from './transfer/multipart.js';
import type { MultipartStore } from './transfer/multipart-store.js';
import { multipartUpload, type MultipartUploadCheckpoint, type UploadSource } from './transfer/multipart-upload.js';
import { resumableDownload } from './transfer/resumable-download.js';
import { CALLBACK_HEADER, CALLBACK_VAR_HEADER, callbackData, callbackHeaders } from './transfer/callback.js';

export type {
  EncryptionClientOptions,
  CallOptions,
  EnvelopeSummary,
  PutInput,
  PutOptions,
  PutResult,
  RangeOption,
  GetOptions,
  ReadFacts,
  GetResult,
  GetToFileResult,
  GetStreamResult,
  HeadResult,
  CopyOptions,
  CopyResult,
  ListedObjectInfo,
  ListQueryV1,
  ListQueryV2,
  ListResultV1,
  ListResultV2,
  CheckpointOption,
  MultipartUploadOptions,
  MultipartUploadResult,
  InitMultipartUploadOptions,
  InitMultipartUploadResult,
  UploadPartResult,
  CompleteMultipartUploadResult,
  ListPartsQueryOptions,
  ListPartsResult,
  ListUploadsQueryOptions,
  ListUploadsResult,
  ResumableDownloadOptions,
  ResumableDownloadResult,
} from './client-types.js';
export { summarizeEnvelope } from './client-types.js';
import { summarizeEnvelope, type EncryptionClientOptions, type CallOptions, type PutInput, type PutOptions, type PutResult, type RangeOption, type GetOptions, type ReadFacts, type GetResult, type GetToFileResult, type GetStreamResult, type HeadResult, type CopyOptions, type CopyResult, type ListQueryV1, type ListQueryV2, type ListResultV1, type ListResultV2, type MultipartUploadOptions, type MultipartUploadResult, type InitMultipartUploadOptions, type InitMultipartUploadResult, type UploadPartResult, type CompleteMultipartUploadResult, type ListPartsQueryOptions, type ListPartsResult, type ListUploadsQueryOptions, type ListUploadsResult, type ResumableDownloadOptions, type ResumableDownloadResult } from './client-types.js';


/** Standard headers that make ali-oss send a REPLACE copy (`lib/common/object/copyObject.js`). */
const REPLACE_HEADERS = new Set(['content-type', 'content-encoding', 'content-language', 'content-disposition', 'cache-control', 'expires']);
/** Conditions that apply to the copy source. */
const COPY_CONDITIONS = new Set(['if-match', 'if-none-match', 'if-modified-since', 'if-unmodified-since']);
const COPY_SOURCE_PREFIX = 'x-oss-copy-source-';
const PROCESS_QUERY = 'x-oss-process';

/** Carries an {@link ObjectStore} through the constructor for {@link EncryptionClient.fromStore}. */
const STORE = Symbol('oss-cse.store');

function refused(operation: string, instead: string): CseError {
  return new CseError(ErrorCode.UNSUPPORTED_OPERATION, `${operation} is not supported on client-side-encrypted objects: ${instead}`);
}

/**
 * Client-side encryption over an `ali-oss` client.
 */
export class EncryptionClient {
  /** The keys reads are decrypted with (the master key first). */
  readonly keyRing: KeyRing;
  readonly #store: ObjectStore;
  readonly #masterKey: MasterKey;
  readonly #allowLegacy: boolean;
  readonly #requireEncrypted: boolean;
  /** Plaintext material of multipart uploads in progress (never in their contexts). */
  readonly #materials = new MaterialCache();

  /**
   * @param oss - your `ali-oss` client (`new OSS({ region | endpoint, accessKeyId, accessKeySecret, bucket? })`)
   * @param options - the master key, extra decryption keys and the read policies
   * @throws CseError ERR_CSE_INVALID_ARGUMENT when `oss` is not an ali-oss client or no usable master key is given
   */
  constructor(oss: AliOssClient, options: EncryptionClientOptions) {
    const given = (oss as unknown as { [STORE]?: ObjectStore } | null)?.[STORE];
    this.#store = given ?? new AliOssStore(oss);
    const setup = checkOptions(options);
    this.#masterKey = setup.masterKey;
    this.keyRing = setup.ring;
    this.#allowLegacy = options.allowLegacy === true;
    this.#requireEncrypted = options.requireEncrypted === true;
  }

  /**
   * A client over any {@link ObjectStore} (tests, other transports) instead of an ali-oss client.
   * @throws CseError ERR_CSE_INVALID_ARGUMENT as the constructor
   */
  static fromStore(store: ObjectStore, options: EncryptionClientOptions): EncryptionClient {
    return new EncryptionClient({ [STORE]: store } as unknown as AliOssClient, options);
  }

  /**
   * Encrypts and uploads an object in one PutObject, streaming (the plaintext is never held whole unless you pass
   * bytes).
   *
   * @param name - object key
   * @param file - bytes, a local file path, a `Readable` or an async iterable of bytes
   * @param options - bucket, meta, mime, headers, contentLength, contentMd5, signal, timeout
   * @throws CseError ERR_CSE_INVALID_ARGUMENT (also `contentMd5` with a stream, or a Content-MD5 header that differs
   *   from the computed one), ERR_CSE_IO (the file; a file changed during a `contentMd5` upload), ERR_CSE_INTEGRITY
   *   (OSS's CRC-64 differs from ours), ERR_CSE_KEY_UNUSABLE, ERR_CSE_KMS, ERR_CSE_ABORTED; TransferError
   */
  async put(name: string, file: PutInput, options: PutOptions = {}): Promise<PutResult> {
    const location = this.#locate(name, options);
    const signal = checkSignal(options.signal);
    const wantMd5 = checkContentMd5Option(options.contentMd5, location.key);
    let source: PlaintextSource;
    let mime = options.mime;
    let fileStream: Readable | undefined;
    let plaintextMd5: string | undefined;
    if (file instanceof Uint8Array) {
      source = { kind: 'bytes', bytes: file };
      if (wantMd5) plaintextMd5 = md5OfBytes(file);
    } else if (typeof file === 'string') {
      const size = await fileSize(file);
      if (wantMd5) plaintextMd5 = await md5OfFile(file, signal);
      fileStream = createReadStream(file, { highWaterMark: 1 << 20 });
      source = { kind: 'stream', stream: fileStream, length: size };
      if (mime === undefined && extname(file) !== '') mime = extname(file);
    } else if (isAsyncIterable(file)) {
      if (wantMd5) throw md5NeedsRereadableSource(location.key);
      source = { kind: 'stream', stream: file, length: undefined };
    } else {
      throw new CseError(ErrorCode.INVALID_ARGUMENT, 'put: expected bytes, a file path, a Readable or an async iterable', {
        object: location.key,
      });
    }
    try {
      const written = await writeEncrypted(this.#store, location, source, {
        masterKey: this.#masterKey,
        headers: callbackHeaders(options.callback, options.headers),
        meta: options.meta,
        mime,
        contentLength: options.contentLength,
        plaintextMd5,
        signal,
        timeout: options.timeout,
      });
      return {
        name: location.key,
        url: this.#store.objectUrl(location),
        res: written.response.res,
        encrypted: true,
        envelope: summarizeEnvelope(written.envelope),
        size: written.size,
        crc64: written.crc64,
        ...(written.response.callbackBody === undefined ? {} : { data: callbackData(written.response.callbackBody) }),
      };
    } finally {
      fileStream?.destroy();
    }
  }

  /**
   * `put` for a stream (ali-oss's name): chunked unless `options.contentLength` is given.
   * @throws CseError ERR_CSE_INVALID_ARGUMENT (not a stream or async iterable, empty name, bad signal, a
   *   client-side-encryption header in `headers`, a chunk that is not bytes, `contentLength` ≠ the bytes streamed,
   *   `contentMd5: true`: a stream cannot be read twice),
   *   ERR_CSE_IO (the stream failed with a non-CseError), ERR_CSE_INTEGRITY (OSS's CRC-64 differs from ours),
   *   ERR_CSE_KEY_UNUSABLE, ERR_CSE_KMS, ERR_CSE_ABORTED; TransferError (ERR_CSE_TRANSFER)
   */
  async putStream(name: string, stream: Readable | AsyncIterable<Uint8Array>, options: PutOptions = {}): Promise<PutResult> {
    if (!isAsyncIterable(stream)) {
      throw new CseError(ErrorCode.INVALID_ARGUMENT, 'putStream: expected a Readable or an async iterable of bytes');
    }
    return this.put(name, stream, options);
  }

  /**
   * Downloads and decrypts an object: into memory (`get(name, options?)`), or to a file path or `Writable`
   * (`get(name, file, options?)`). A file path is written to a temporary sibling and renamed only after every
   * check passed; a `Writable` receives the bytes as they come (an integrity failure is thrown after the last one).
   *
   * @throws CseError ERR_CSE_RANGE_NOT_SATISFIABLE, ERR_CSE_NOT_ENCRYPTED (requireEncrypted), ERR_CSE_ENVELOPE_*,
   *   ERR_CSE_LEGACY_NOT_ALLOWED, ERR_CSE_NO_MATCHING_KEY, ERR_CSE_INTEGRITY, ERR_CSE_UNSUPPORTED_OPERATION
   *   (`process`), ERR_CSE_IO (the file), ERR_CSE_ABORTED; TransferError (404 `NoSuchKey`, …)
   */
  async get(name: string, options?: GetOptions): Promise<GetResult>;
  async get(name: string, file: string | Writable, options?: GetOptions): Promise<GetToFileResult>;
  async get(name: string, file: null | undefined, options?: GetOptions): Promise<GetResult>;
  async get(
    name: string,
    fileOrOptions?: string | Writable | GetOptions | null,
    maybeOptions?: GetOptions,
  ): Promise<GetResult | GetToFileResult> {
    const toFile = typeof fileOrOptions === 'string' || fileOrOptions instanceof Writable;
    // ali-oss also accepts get(name, null | undefined, options).
    const options = (toFile ? maybeOptions : (fileOrOptions ?? maybeOptions)) ?? {};
    // Plaintext that earlier runs killed before their checks passed left beside the file (SECURITY.md "Temporary
    // download files"); before the request, so that the answer's body is consumed as soon as it comes.
    if (typeof fileOrOptions === 'string') await removeStaleTempFiles(fileOrOptions);
    const read = await this.#read(name, options);
    const facts = readFacts(read);
    if (typeof fileOrOptions === 'string') {
      await writeFileAtomically(fileOrOptions, read.body);
      return { ...facts, content: undefined };
    }
    if (fileOrOptions instanceof Writable) {
      await pipeline(Readable.from(read.body, { objectMode: false }), fileOrOptions);
      return { ...facts, content: undefined };
    }
    const chunks: Buffer[] = [];
    for await (const chunk of read.body) chunks.push(chunk);
    return { ...facts, content: Buffer.concat(chunks) };
  }

  /**
   * The decrypted object as a stream (ali-oss `getStream`).
   * @throws CseError ERR_CSE_INVALID_ARGUMENT (empty name, bad signal or `range`, both `range` and a Range header,
   *   several ranges), ERR_CSE_UNSUPPORTED_OPERATION (`process`), ERR_CSE_RANGE_NOT_SATISFIABLE,
   *   ERR_CSE_NOT_ENCRYPTED (requireEncrypted), ERR_CSE_ENVELOPE_*, ERR_CSE_LEGACY_NOT_ALLOWED,
   *   ERR_CSE_NO_MATCHING_KEY, ERR_CSE_ABORTED; TransferError (ERR_CSE_TRANSFER; 404 `NoSuchKey`, …). The key is
   *   unwrapped before this resolves; afterwards the stream emits `error` with ERR_CSE_INTEGRITY (after the last
   *   chunk, when a check fails), ERR_CSE_TRANSFER (the connection broke) or ERR_CSE_ABORTED.
   */
  async getStream(name: string, options: GetOptions = {}): Promise<GetStreamResult> {
    const read = await this.#read(name, options);
    return { ...readFacts(read), stream: Readable.from(read.body, { objectMode: false }) };
  }

  /**
   * HeadObject: metadata, whether the object is encrypted, its envelope's public facts and its plaintext size.
   * @throws CseError ERR_CSE_NOT_ENCRYPTED (requireEncrypted), ERR_CSE_ENVELOPE_*, ERR_CSE_ABORTED; TransferError
   */
  async head(name: string, options: GetOptions = {}): Promise<HeadResult> {
    const location = this.#locate(name, options);
    const signal = checkSignal(options.signal);
    const response = await this.#store.head(
      location,
      { headers: { ...(options.headers ?? {}) }, query: readQuery(options) },
      { signal, timeout: options.timeout },
    );
    const version = detectEnvelopeVersion(response.headers, { object: location.key });
    const encrypted = version !== null;
    if (response.status === 200 && !encrypted && (options.requireEncrypted ?? this.#requireEncrypted)) {
      throw new CseError(ErrorCode.NOT_ENCRYPTED, 'the object has no client-side-encryption headers (requireEncrypted is set)', {
        object: location.key,
      });
    }
    const envelope = encrypted ? summarizeEnvelope(parseEnvelope(response.headers, { object: location.key })) : undefined;
    let meta: Record<string, string> | null = null;
    for (const [header, value] of Object.entries(response.headers)) {
      if (!header.startsWith(USER_META_PREFIX) || isCryptoHeaderName(header)) continue;
      meta ??= {};
      meta[header.slice(USER_META_PREFIX.length)] = value;
    }
    const length = response.headers[OssHeader.CONTENT_LENGTH];
    return {
      status: response.status,
      meta,
      res: response.res,
      encrypted,
      envelope,
      size: response.status === 200 && length !== undefined && /^[0-9]+$/.test(length) ? Number(length) : undefined,
    };
  }

  /**
   * DeleteObject.
   * @throws CseError ERR_CSE_ABORTED; TransferError
   */
  async delete(name: string, options: CallOptions = {}): Promise<{ res: ResponseInfo }> {
    const location = this.#locate(name, options);
    const response = await this.#store.delete(location, { signal: checkSignal(options.signal), timeout: options.timeout });
    return { res: response.res };
  }

  /**
   * ListObjects (v1, ali-oss `list`). Sizes are plaintext sizes too (CTR adds no bytes).
   * @throws CseError ERR_CSE_ABORTED; TransferError
   */
  async list(query: ListQueryV1 | null = {}, options: CallOptions = {}): Promise<ListResultV1> {
    const bucket = this.#bucket(options.bucket);
    const q = query ?? {};
    const page = await this.#store.listV1(
      bucket,
      {
        prefix: q.prefix,
        delimiter: q.delimiter,
        marker: q.marker,
        maxKeys: q['max-keys'] === undefined ? undefined : Number(q['max-keys']),
      },
      { signal: checkSignal(options.signal), timeout: options.timeout },
    );
    return {
      objects: page.objects.map((o) => ({ ...o, url: this.#store.objectUrl({ bucket, key: o.name }) })),
      prefixes: page.prefixes,
      isTruncated: page.isTruncated,
      nextMarker: page.nextMarker,
      res: page.res,
    };
  }

  /**
   * ListObjectsV2 (ali-oss `listV2`).
   * @throws CseError ERR_CSE_ABORTED; TransferError
   */
  async listV2(query: ListQueryV2 | null = {}, options: CallOptions = {}): Promise<ListResultV2> {
    const bucket = this.#bucket(options.bucket);
    const q = query ?? {};
    const page = await this.#store.listV2(
      bucket,
      {
        prefix: q.prefix,
        delimiter: q.delimiter,
        maxKeys: q['max-keys'] === undefined ? undefined : Number(q['max-keys']),
        continuationToken: q['continuation-token'] ?? q.continuationToken,
        startAfter: q['start-after'],
        fetchOwner: q['fetch-owner'],
      },
      { signal: checkSignal(options.signal), timeout: options.timeout },
    );
    return {
      objects: page.objects.map((o) => ({ ...o, url: this.#store.objectUrl({ bucket, key: o.name }) })),
      prefixes: page.prefixes,
      isTruncated: page.isTruncated,
      keyCount: page.keyCount,
      nextContinuationToken: page.nextContinuationToken,
      res: page.res,
    };
  }

  /**
   * CopyObject (ali-oss `copy(name, sourceName, sourceBucket?, options?)`; `sourceName` may be `/bucket/key`).
   * A plain copy keeps the crypto metadata (OSS copies it with the bytes). A copy that replaces metadata (new
   * `meta`, Content-Type, …) of an encrypted object must keep the envelope: it is refused unless the headers
   * re-supply it (verified to wrap the same data key) or `keepEncryptionMetadata` is set. That check costs one HEAD.
   *
   * @throws CseError ERR_CSE_UNSUPPORTED_OPERATION (REPLACE would drop the envelope), ERR_CSE_INVALID_ARGUMENT
   *   (crypto headers on an unencrypted source, or an envelope that does not wrap the object's key),
   *   ERR_CSE_ENVELOPE_*, ERR_CSE_NO_MATCHING_KEY, ERR_CSE_ABORTED; TransferError
   */
  async copy(name: string, sourceName: string, sourceBucket?: string | CopyOptions, options?: CopyOptions): Promise<CopyResult> {
    const opts = (typeof sourceBucket === 'object' ? sourceBucket : options) ?? {};
    const target = this.#locate(name, opts);
    const signal = checkSignal(opts.signal);
    const source = copySource(sourceName, typeof sourceBucket === 'string' ? sourceBucket : undefined, target.bucket);
    const headers: Record<string, string> = {};
    let replace = opts.meta !== undefined;
    for (const [header, value] of Object.entries(opts.headers ?? {})) {
      const lower = header.toLowerCase();
      if (COPY_CONDITIONS.has(lower)) {
        headers[`${COPY_SOURCE_PREFIX}${lower}`] = value;
        continue;
      }
      if (REPLACE_HEADERS.has(lower)) replace = true;
      if (lower === OssHeader.METADATA_DIRECTIVE) {
        replace = value.trim().toUpperCase() === 'REPLACE';
        continue;
      }
      headers[header] = value;
    }
    for (const [key, value] of Object.entries(opts.meta ?? {})) headers[`${USER_META_PREFIX}${key}`] = String(value);
    headers[OssHeader.METADATA_DIRECTIVE] = replace ? 'REPLACE' : 'COPY';
    if (replace) await this.#checkReplaceCopy(source, headers, opts, signal);
    const response = await this.#store.copy(target, source, { headers }, { signal, timeout: opts.timeout });
    return { data: { etag: response.etag, lastModified: response.lastModified }, res: response.res };
  }

  /**
   * Key rotation: re-wraps the object's data key under `options.to` by rewriting only its metadata (a same-key
   * CopyObject with REPLACE, conditional on the ETag just read; the ciphertext is neither downloaded nor uploaded),
   * then verifies the stored envelope. This client's keys open the current envelope. Unencrypted objects and objects
   * already under `to` (same key, same description) are skipped. See `transfer/rewrap.ts` and FORMAT.md.
   *
   * @throws NoMatchingKeyError ERR_CSE_NO_MATCHING_KEY; CseError ERR_CSE_UNSUPPORTED_OPERATION (legacy envelope),
   *   ERR_CSE_ENVELOPE_*, ERR_CSE_KEY_UNUSABLE, ERR_CSE_KMS, ERR_CSE_INTEGRITY (verification failed; the old
   *   envelope is restored when it can be), ERR_CSE_ABORTED; TransferError (404; 412 when the object changed meanwhile)
   */
  async rewrap(name: string, options: RewrapOptions): Promise<RewrapObjectResult> {
    const location = this.#locate(name, options.bucket === undefined ? {} : { bucket: options.bucket });
    return rewrapObject(this.#store, location, { ...options, signal: checkSignal(options.signal), keys: this.keyRing });
  }

  /**
   * {@link EncryptionClient.rewrap} for every object under a prefix, `parallel` at a time, reporting each object to
   * `onObject`; per-object failures are collected in the result, not thrown. Safe to run again after an interruption.
   * @throws CseError ERR_CSE_INVALID_ARGUMENT, ERR_CSE_ABORTED; TransferError when listing fails
   */
  async rewrapPrefix(prefix: string, options: RewrapPrefixOptions): Promise<RewrapPrefixResult> {
    return rewrapPrefix(this.#store, this.#bucket(options.bucket), prefix, { ...options, signal: checkSignal(options.signal), keys: this.keyRing });
  }

  /**
   * Brings one object to the target state (issue #18): plaintext and legacy V1 objects are re-encrypted under the
   * target key (`options.to`, default: this client's encrypting master key) with a fresh data key, through a staging
   * object and a guarded copy, keeping user metadata, Content-Type and the standard headers, storage class and tags;
   * V2 objects under another key are re-wrapped (as {@link EncryptionClient.rewrap}); objects already under the target
   * are skipped. This client's key ring opens the current envelopes. See `bulk/migrate-object.ts` for the steps and
   * the one remaining race window.
   *
   * @throws CseError ERR_CSE_LEGACY_NOT_ALLOWED (V1 without `allowLegacy`), ERR_CSE_CONCURRENT_MODIFICATION (another
   *   writer changed the object meanwhile; their object is kept), ERR_CSE_INTEGRITY, ERR_CSE_NO_MATCHING_KEY,
   *   ERR_CSE_ENVELOPE_*, ERR_CSE_INVALID_ARGUMENT, ERR_CSE_UNSUPPORTED_OPERATION, ERR_CSE_KEY_UNUSABLE, ERR_CSE_KMS,
   *   ERR_CSE_ABORTED; TransferError (404, an archived object, …)
   */
  async migrateObject(name: string, options: MigrateOptions = {}): Promise<MigrateObjectResult> {
    const location = this.#locate(name, options.bucket === undefined ? {} : { bucket: options.bucket });
    const { to, bucket: _bucket, ...rest } = options;
    return migrateObject(this.#store, location, { ...rest, to: to ?? this.#masterKey, keys: this.keyRing, signal: checkSignal(options.signal) });
  }

  /**
   * {@link EncryptionClient.migrateObject} for every object under a prefix (from a listing, or an OSS inventory),
   * `parallel` at a time, optionally one shard of N, rate-limited and journaled so that a killed run continues where
   * it stopped; each object's outcome goes to `onObject` and failures are collected in the result, not thrown.
   *
   * @throws CseError ERR_CSE_INVALID_ARGUMENT (parallel, rate, staging prefix, a journal with a dry run),
   *   ERR_CSE_INVENTORY, ERR_CSE_JOURNAL, ERR_CSE_IO (journal), ERR_CSE_ABORTED; TransferError when listing fails
   */
  async migratePrefix(prefix: string, options: MigratePrefixOptions = {}): Promise<MigratePrefixResult> {
    const { to, bucket, ...rest } = options;
    return migratePrefix(this.#store, this.#bucket(bucket), prefix, {
      ...rest,
      to: to ?? this.#masterKey,
      keys: this.keyRing,
      signal: checkSignal(options.signal),
    });
  }

  /**
   * PutBucket (ali-oss `putBucket`).
   * @throws CseError ERR_CSE_ABORTED; TransferError (409 `BucketAlreadyExists`)
   */
  async putBucket(name: string, options: Omit<CallOptions, 'bucket'> = {}): Promise<{ bucket: string; res: ResponseInfo }> {
    const response = await this.#store.putBucket(name, { signal: checkSignal(options.signal), timeout: options.timeout });
    return { bucket: name, res: response.res };
  }

  /**
   * ListBuckets: every bucket the credentials can see (all pages).
   * @throws CseError ERR_CSE_UNSUPPORTED_OPERATION (a store without it), ERR_CSE_ABORTED; TransferError
   */
  async listBuckets(options: Omit<CallOptions, 'bucket'> = {}): Promise<readonly BucketInfo[]> {
    if (this.#store.listBuckets === undefined) throw new CseError(ErrorCode.UNSUPPORTED_OPERATION, 'this store cannot list buckets');
    return this.#store.listBuckets({ signal: checkSignal(options.signal), timeout: options.timeout });
  }

  /**
   * DeleteBucket (the bucket must be empty).
   * @throws CseError ERR_CSE_UNSUPPORTED_OPERATION (a store without it), ERR_CSE_ABORTED; TransferError (404
   *   `NoSuchBucket`, 409 `BucketNotEmpty`)
   */
  async deleteBucket(
    name: string,
    options: Omit<CallOptions, 'bucket'> = {},
  ): Promise<{
    /** The deleted bucket. */
    bucket: string;
    /** The DeleteBucket response. */
    res: ResponseInfo;
  }> {
    if (this.#store.deleteBucket === undefined) throw new CseError(ErrorCode.UNSUPPORTED_OPERATION, 'this store cannot delete buckets');
    const response = await this.#store.deleteBucket(name, { signal: checkSignal(options.signal), timeout: options.timeout });
    return { bucket: name, res: response.res };
  }

  /**
   * Encrypted multipart upload (ali-oss's name) of a file path, bytes, or a stream with `contentLength`: parts of a
   * 16-aligned size encrypted at their own counter and uploaded `parallel` at a time; transient failures retried;
   * resumable with `checkpoint` or `uploadId`. An object that fits in one part is sent with one PutObject. Whatever
   * stops an initiated upload (a part, the signal, the progress callback, a checkpoint that cannot be saved, a stream
   * longer than declared), it is kept when resumable and aborted on OSS otherwise; the original error is thrown.
   *
   * @throws MultipartUploadError (ERR_CSE_MULTIPART) listing every failed part (the upload is aborted unless
   *   resumable); CseError ERR_CSE_INVALID_ARGUMENT (part size, parallel, a stream without contentLength,
   *   `contentMd5: true` with a stream, a Content-MD5 header that differs from the computed one),
   *   ERR_CSE_MULTIPART (a checkpoint of another object/source), ERR_CSE_IO, ERR_CSE_INTEGRITY,
   *   ERR_CSE_NO_MATCHING_KEY, ERR_CSE_ABORTED; TransferError
   */
  async multipartUpload(
    name: string,
    file: string | Uint8Array | Readable | AsyncIterable<Uint8Array>,
    options: MultipartUploadOptions = {},
  ): Promise<MultipartUploadResult> {
    const location = this.#locate(name, options);
    const signal = checkSignal(options.signal);
    const wantMd5 = checkContentMd5Option(options.contentMd5, location.key);
    let source: UploadSource;
    let plaintextMd5: string | undefined;
    if (typeof file === 'string') {
      source = { kind: 'file', path: file };
      if (wantMd5) plaintextMd5 = await md5OfFile(file, signal);
    } else if (file instanceof Uint8Array) {
      source = { kind: 'bytes', bytes: file };
      if (wantMd5) plaintextMd5 = md5OfBytes(file);
    } else if (isAsyncIterable(file)) {
      if (wantMd5) throw md5NeedsRereadableSource(location.key);
      const length = options.contentLength ?? declaredLength(options.headers);
      if (length === undefined) {
        throw new CseError(
          ErrorCode.INVALID_ARGUMENT,
          'multipartUpload of a stream needs options.contentLength (OSS needs the data size when the upload starts); ' +
            'use putStream for a stream of unknown length',
          { object: location.key },
        );
      }
      source = { kind: 'stream', stream: file, length };
    } else {
      throw new CseError(ErrorCode.INVALID_ARGUMENT, 'multipartUpload: expected a file path, bytes, a Readable or an async iterable', {
        object: location.key,
      });
    }
    const given = options.checkpoint;
    const checkpoint =
      given === undefined || given === false
        ? undefined
        : isProgressCheckpoint(given)
          ? // ali-oss's way: the checkpoint `progress` handed out, passed back to resume.
            new MemoryCheckpointStore(parseUploadCheckpoint(given, 'options.checkpoint'))
          : checkpointStore(given, () => {
            if (typeof file !== 'string') {
              throw new CseError(ErrorCode.INVALID_ARGUMENT, 'checkpoint: true needs a file path source', { object: location.key });
            }
            return defaultCheckpointPath('upload', location.bucket, location.key, file);
          }, parseUploadCheckpoint);
    const { request: headers, callback } = splitCallbackHeaders(
      callbackHeaders(options.callback, withContentMd5(withoutContentLength(options.headers), plaintextMd5, location.key)),
    );
    const result = await multipartUpload(this.#multipartStore(), location, source, {
      masterKey: this.#masterKey,
      keys: this.keyRing,
      cache: this.#materials,
      partSize: options.partSize,
      parallel: options.parallel,
      retries: options.retries,
      checkpoint,
      uploadId: options.uploadId,
      headers,
      plaintextMd5,
      meta: options.meta,
      mime: options.mime,
      progress: options.progress,
      callbackHeaders: callback,
      signal,
      timeout: options.timeout,
    });
    return {
      ...(result.response.callbackBody === undefined ? {} : { data: callbackData(result.response.callbackBody) }),
      name: location.key,
      bucket: location.bucket,
      etag: result.etag,
      res: result.response.res,
      method: result.method,
      uploadId: result.uploadId,
      encrypted: true,
      envelope: summarizeEnvelope(result.envelope),
      size: result.size,
      crc64: result.crc64,
      partSize: result.partSize,
      partCount: result.partCount,
      partsSent: result.partsSent,
      resumed: result.resumed,
      alreadyComplete: result.alreadyComplete === true,
      restartedFrom: result.restartedFrom,
      ...(result.checkpointError === undefined ? {} : { checkpointError: result.checkpointError }),
    };
  }

  /**
   * Starts an encrypted multipart upload you drive yourself (as the peers expose it): a fresh data key and IV, wrapped,
   * sent with data-size and part-size on Initiate. Returns the context to pass to every later call.
   *
   * @throws CseError ERR_CSE_INVALID_ARGUMENT (data size, part size: a multiple of 16, ≥ 100 KiB, ≤ 10,000 parts),
   *   ERR_CSE_KEY_UNUSABLE, ERR_CSE_KMS, ERR_CSE_ABORTED; TransferError
   */
  async initMultipartUpload(name: string, options: InitMultipartUploadOptions): Promise<InitMultipartUploadResult> {
    const given = options as Partial<InitMultipartUploadOptions> | null | undefined;
    if (typeof given !== 'object' || given === null || given.dataSize === undefined) {
      throw new CseError(ErrorCode.INVALID_ARGUMENT, 'initMultipartUpload needs options.dataSize (the total plaintext size)');
    }
    const location = this.#locate(name, options);
    const { context, response } = await initiateEncryptedUpload(this.#multipartStore(), location, {
      masterKey: this.#masterKey,
      dataSize: options.dataSize,
      partSize: options.partSize,
      headers: options.headers,
      meta: options.meta,
      mime: options.mime,
      cache: this.#materials,
      signal: checkSignal(options.signal),
      timeout: options.timeout,
    });
    return { name: location.key, bucket: location.bucket, uploadId: context.uploadId, context, res: response.res };
  }

  /**
   * Encrypts and uploads part `partNumber` at counter `IV + (partNumber−1)·partSize/16`, with the context's crypto
   * headers. Every part but the last must be exactly the part size; the last is the remainder.
   *
   * @throws CseError ERR_CSE_MULTIPART (a context of another object or upload, part number out of 1..N, wrong size),
   *   ERR_CSE_INTEGRITY, ERR_CSE_NO_MATCHING_KEY, ERR_CSE_ENVELOPE_*, ERR_CSE_ABORTED; TransferError
   */
  async uploadPart(
    name: string,
    context: MultipartContext,
    partNumber: number,
    data: Uint8Array | Readable | AsyncIterable<Uint8Array>,
    options: CallOptions = {},
  ): Promise<UploadPartResult> {
    const location = this.#locate(name, options);
    const ctx = checkContext(context, location);
    if (!(data instanceof Uint8Array) && !isAsyncIterable(data)) {
      throw new CseError(ErrorCode.INVALID_ARGUMENT, 'uploadPart: expected bytes, a Readable or an async iterable', { object: location.key });
    }
    const part = await uploadEncryptedPart(this.#multipartStore(), location, ctx, partNumber, data, {
      keys: this.keyRing,
      cache: this.#materials,
      signal: checkSignal(options.signal),
      timeout: options.timeout,
    });
    return { name: location.key, number: part.partNumber, ...part };
  }

  /**
   * Completes an upload after checking the part list: numbers 1..N without gaps, each part its exact size, sizes adding
   * up to the data size (sizes not given are read with ListParts). Accepts uploadPart's results or `{ number, etag }`.
   *
   * @throws CseError ERR_CSE_MULTIPART (missing, extra or wrong-size parts; unknown upload), ERR_CSE_INTEGRITY,
   *   ERR_CSE_ABORTED; TransferError
   */
  async completeMultipartUpload(
    name: string,
    context: MultipartContext,
    parts: readonly PartListEntry[],
    options: CallOptions = {},
  ): Promise<CompleteMultipartUploadResult> {
    const location = this.#locate(name, options);
    const ctx = checkContext(context, location);
    if (!Array.isArray(parts)) throw new CseError(ErrorCode.INVALID_ARGUMENT, 'completeMultipartUpload: expected a list of parts');
    const done = await completeEncryptedUpload(this.#multipartStore(), location, ctx, parts, {
      cache: this.#materials,
      signal: checkSignal(options.signal),
      timeout: options.timeout,
    });
    return { name: location.key, bucket: location.bucket, etag: done.etag, res: done.response.res, crc64: done.crc64, size: ctx.dataSize };
  }

  /**
   * Aborts an upload (by its context or id) and forgets its material.
   * @throws CseError ERR_CSE_MULTIPART (unknown upload), ERR_CSE_ABORTED; TransferError
   */
  async abortMultipartUpload(name: string, contextOrUploadId: MultipartContext | string, options: CallOptions = {}): Promise<{ res: ResponseInfo }> {
    const location = this.#locate(name, options);
    const store = this.#multipartStore();
    const signal = checkSignal(options.signal);
    if (typeof contextOrUploadId === 'string') {
      const response = await store.abortMultipartUpload(location, contextOrUploadId, { signal, timeout: options.timeout });
      return { res: response.res };
    }
    const ctx = checkContext(contextOrUploadId, location);
    const response = await abortEncryptedUpload(store, location, ctx, { cache: this.#materials, signal, timeout: options.timeout });
    return { res: response.res };
  }

  /**
   * ListParts (one page), with the upload's encryption context as OSS reports it and, when complete, a context rebuilt
   * from it (to continue an upload whose context was lost).
   * @throws CseError ERR_CSE_ABORTED; TransferError (404 `NoSuchUpload`)
   */
  async listParts(
    name: string,
    contextOrUploadId: MultipartContext | string,
    query: ListPartsQueryOptions = {},
    options: CallOptions = {},
  ): Promise<ListPartsResult> {
    const location = this.#locate(name, options);
    const uploadId = typeof contextOrUploadId === 'string' ? contextOrUploadId : checkContext(contextOrUploadId, location).uploadId;
    const page = await this.#multipartStore().listParts(
      location,
      uploadId,
      {
        maxParts: query['max-parts'] === undefined ? undefined : Number(query['max-parts']),
        partNumberMarker: query['part-number-marker'] === undefined ? undefined : Number(query['part-number-marker']),
      },
      { signal: checkSignal(options.signal), timeout: options.timeout },
    );
    let context: MultipartContext | undefined;
    try {
      context = page.encryption === undefined ? undefined : contextFromListing(location, uploadId, page.encryption);
    } catch {
      context = undefined;
    }
    return {
      name: location.key,
      bucket: location.bucket,
      uploadId,
      parts: page.parts,
      isTruncated: page.isTruncated,
      nextPartNumberMarker: page.nextPartNumberMarker,
      encryption: page.encryption,
      context,
      res: page.res,
    };
  }

  /**
   * ListMultipartUploads (ali-oss `listUploads`), one page.
   * @throws CseError ERR_CSE_ABORTED; TransferError
   */
  async listUploads(query: ListUploadsQueryOptions | null = {}, options: CallOptions = {}): Promise<ListUploadsResult> {
    const bucket = this.#bucket(options.bucket);
    const q = query ?? {};
    const page = await this.#multipartStore().listMultipartUploads(
      bucket,
      {
        prefix: q.prefix,
        maxUploads: q['max-uploads'] === undefined ? undefined : Number(q['max-uploads']),
        keyMarker: q['key-marker'],
        uploadIdMarker: q['upload-id-marker'],
      },
      { signal: checkSignal(options.signal), timeout: options.timeout },
    );
    return {
      uploads: page.uploads,
      isTruncated: page.isTruncated,
      nextKeyMarker: page.nextKeyMarker,
      nextUploadIdMarker: page.nextUploadIdMarker,
      res: page.res,
    };
  }

  /**
   * Parallel, resumable download to a file: ranged GETs of any size pinned with `If-Match`, decrypted into a temporary
   * sibling, the whole-object CRC-64 (and the writer's length/MD5) verified, then renamed over `file`.
   *
   * @throws ObjectChangedError (ERR_CSE_INTEGRITY) when the object changes mid-way; DownloadError listing every failed
   *   range; CseError ERR_CSE_INTEGRITY, ERR_CSE_NOT_ENCRYPTED, ERR_CSE_ENVELOPE_*, ERR_CSE_LEGACY_NOT_ALLOWED,
   *   ERR_CSE_NO_MATCHING_KEY, ERR_CSE_MULTIPART (a checkpoint of another object/target), ERR_CSE_INVALID_ARGUMENT,
   *   ERR_CSE_IO, ERR_CSE_ABORTED; TransferError
   */
  async resumableDownload(name: string, file: string, options: ResumableDownloadOptions = {}): Promise<ResumableDownloadResult> {
    const location = this.#locate(name, options);
    if (typeof file !== 'string' || file === '') {
      throw new CseError(ErrorCode.INVALID_ARGUMENT, 'resumableDownload: expected a target file path', { object: location.key });
    }
    const checkpoint =
      options.checkpoint === undefined || options.checkpoint === false
        ? undefined
        : checkpointStore(options.checkpoint, () => defaultCheckpointPath('download', location.bucket, location.key, file), parseDownloadCheckpoint);
    const result = await resumableDownload(this.#store, location, file, {
      keys: this.keyRing,
      allowLegacy: this.#allowLegacy,
      requireEncrypted: options.requireEncrypted ?? this.#requireEncrypted,
      partSize: options.partSize,
      parallel: options.parallel,
      retries: options.retries,
      checkpoint,
      progress: options.progress,
      signal: checkSignal(options.signal),
      timeout: options.timeout,
    });
    return {
      name: location.key,
      bucket: location.bucket,
      res: result.response.res,
      etag: result.etag,
      size: result.size,
      crc64: result.crc64,
      encrypted: result.encrypted,
      envelope: result.envelope === undefined ? undefined : summarizeEnvelope(result.envelope),
      partCount: result.partCount,
      partsFetched: result.partsFetched,
      resumed: result.resumed,
    };
  }

  /**
   * Refused: AppendObject.
   * @throws CseError ERR_CSE_UNSUPPORTED_OPERATION
   */
  append(..._args: unknown[]): never {
    throw refused(
      'AppendObject',
      'every append would need its own counter position and the envelope cannot change after the first write; ' +
        'upload whole objects with put/putStream, or use a plain ali-oss client for unencrypted appendable objects',
    );
  }

  /**
   * Refused: UploadPartCopy.
   * @throws CseError ERR_CSE_UNSUPPORTED_OPERATION
   */
  uploadPartCopy(..._args: unknown[]): never {
    throw refused(
      'UploadPartCopy',
      'a copied range keeps the counter of its old offset and the source object\'s data key, so the new object would ' +
        'not decrypt; copy whole objects with copy(), or get and put the data through this client',
    );
  }

  /**
   * Refused: image processing with save (`x-oss-process` on the server).
   * @throws CseError ERR_CSE_UNSUPPORTED_OPERATION
   */
  processObjectSave(..._args: unknown[]): never {
    throw refused(
      'Image processing (x-oss-process)',
      'OSS only holds ciphertext; get the object through this client and process it locally',
    );
  }

  /**
   * Refused: SelectObject.
   * @throws CseError ERR_CSE_UNSUPPORTED_OPERATION
   */
  selectObject(..._args: unknown[]): never {
    throw refused('SelectObject', 'OSS would run the query over ciphertext; get the object through this client and filter it locally');
  }

  /**
   * Refused: signed URLs (`signatureUrl`, `signatureUrlV4`, `asyncSignatureUrl`).
   * @throws CseError ERR_CSE_UNSUPPORTED_OPERATION
   */
  signatureUrl(..._args: unknown[]): never {
    throw refused(
      'A signed URL',
      'a GET through it returns ciphertext and a PUT through it stores plaintext without an envelope; use get/put of ' +
        'this client, or the plain ali-oss client\'s signatureUrl for objects that are not encrypted',
    );
  }

  /** Refused like {@link EncryptionClient.signatureUrl}. @throws CseError ERR_CSE_UNSUPPORTED_OPERATION */
  signatureUrlV4(...args: unknown[]): never {
    return this.signatureUrl(...args);
  }

  /** Refused like {@link EncryptionClient.signatureUrl}. @throws CseError ERR_CSE_UNSUPPORTED_OPERATION */
  asyncSignatureUrl(...args: unknown[]): never {
    return this.signatureUrl(...args);
  }

  #multipartStore(): MultipartObjectStore {
    const store = this.#store as ObjectStore & Partial<MultipartStore>;
    if (
      typeof store.initiateMultipartUpload !== 'function' ||
      typeof store.uploadPart !== 'function' ||
      typeof store.completeMultipartUpload !== 'function' ||
      typeof store.abortMultipartUpload !== 'function' ||
      typeof store.listParts !== 'function' ||
      typeof store.listMultipartUploads !== 'function'
    ) {
      throw new CseError(ErrorCode.UNSUPPORTED_OPERATION, 'this client\'s store has no multipart operations (see MultipartStore)');
    }
    return store as MultipartObjectStore;
  }

  async #read(name: string, options: GetOptions): Promise<ObjectRead> {
    const location = this.#locate(name, options);
    const signal = checkSignal(options.signal);
    throwIfAborted(signal, `GET oss://${location.bucket}/${location.key}`);
    if (options.process !== undefined || (options.subres !== undefined && PROCESS_QUERY in options.subres)) {
      this.processObjectSave();
    }
    const headers: Record<string, string> = { ...(options.headers ?? {}) };
    if (options.range !== undefined) {
      if (Object.keys(headers).some((h) => h.toLowerCase() === 'range')) {
        throw new CseError(ErrorCode.INVALID_ARGUMENT, 'give either options.range or a Range header, not both', { object: location.key });
      }
      headers.Range = rangeHeader(options.range);
    }
    return readObject(this.#store, location, {
      keys: this.keyRing,
      allowLegacy: this.#allowLegacy,
      requireEncrypted: options.requireEncrypted ?? this.#requireEncrypted,
      headers,
      query: readQuery(options),
      signal,
      timeout: options.timeout,
    });
  }

  async #checkReplaceCopy(
    source: ObjectLocation,
    headers: Record<string, string>,
    options: CopyOptions,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const head = await this.#store.head(
      source,
      { headers: {}, query: options.versionId === undefined ? undefined : { versionId: options.versionId } },
      { signal, timeout: options.timeout },
    );
    const sourceCrypto = pickCryptoHeaders(head.headers, { object: source.key });
    const supplied = pickCryptoHeaders(headers, { object: source.key });
    const sourceEncrypted = detectEnvelopeVersion(head.headers, { object: source.key }) !== null;
    if (!sourceEncrypted) {
      if (Object.keys(supplied).length > 0) {
        throw new CseError(
          ErrorCode.INVALID_ARGUMENT,
          'the copy source is not encrypted: client-side-encryption headers on its copy would make its bytes decrypt to garbage',
          { object: source.key },
        );
      }
      return;
    }
    if (Object.keys(supplied).length === 0) {
      if (options.keepEncryptionMetadata !== true) {
        throw refused(
          'A metadata-replacing copy (x-oss-metadata-directive: REPLACE) that drops the envelope',
          'the copy would be undecryptable; pass keepEncryptionMetadata: true to carry the client-side-encryption ' +
            'headers over, re-supply them in options.headers, or copy without new metadata',
        );
      }
      for (const [name, value] of Object.entries(sourceCrypto)) headers[name] = value;
      return;
    }
    if (sameHeaders(supplied, sourceCrypto)) return;
    // A different envelope (e.g. the data key re-wrapped under another master key) must wrap the same data key.
    const [before, after] = await Promise.all([
      openEnvelope(head.headers, { masterKeys: this.keyRing, allowLegacy: this.#allowLegacy, object: source.key }),
      openEnvelope(supplied, { masterKeys: this.keyRing, allowLegacy: this.#allowLegacy, object: source.key }),
    ]);
    const same =
      Buffer.from(before.material.key).equals(after.material.key) && Buffer.from(before.material.iv).equals(after.material.iv);
    before.material.key.fill(0);
    before.material.iv.fill(0);
    after.material.key.fill(0);
    after.material.iv.fill(0);
    if (!same) {
      throw new CseError(
        ErrorCode.INVALID_ARGUMENT,
        'the supplied client-side-encryption headers do not wrap the source object\'s data key and IV; the copy would not decrypt',
        { object: source.key },
      );
    }
  }

  #bucket(bucket: string | undefined): string {
    const chosen = bucket ?? this.#store.defaultBucket;
    if (chosen === undefined || chosen === '') {
      throw new CseError(ErrorCode.INVALID_ARGUMENT, 'no bucket: set `bucket` on the ali-oss client or pass options.bucket');
    }
    return chosen;
  }

  #locate(name: string, options: CallOptions): ObjectLocation {
    if (typeof name !== 'string' || name.replace(/^\/+/, '') === '') {
      throw new CseError(ErrorCode.INVALID_ARGUMENT, `expected a non-empty object name, got ${JSON.stringify(name)}`);
    }
    return { bucket: this.#bucket(options.bucket), key: name.replace(/^\/+/, '') };
  }
}

function checkOptions(options: EncryptionClientOptions): { masterKey: MasterKey; ring: KeyRing } {
  if (typeof options !== 'object' || (options as unknown) === null) {
    throw new CseError(ErrorCode.INVALID_ARGUMENT, 'EncryptionClient: expected options with a masterKey');
  }
  const isKey = (k: unknown): k is MasterKey =>
    typeof k === 'object' && k !== null && typeof (k as MasterKey).wrap === 'function' && typeof (k as MasterKey).unwrap === 'function';
  if (!isKey(options.masterKey)) {
    throw new CseError(ErrorCode.INVALID_ARGUMENT, 'EncryptionClient: options.masterKey must be a MasterKey (e.g. an RsaMasterKey)');
  }
  const extra = options.decryptionKeys ?? [];
  if (!Array.isArray(extra) || !extra.every(isKey)) {
    throw new CseError(ErrorCode.INVALID_ARGUMENT, 'EncryptionClient: options.decryptionKeys must be a list of MasterKeys');
  }
  const policy: string = options.keySelection ?? 'fallback';
  if (policy !== 'fallback' && policy !== 'strict') {
    throw new CseError(ErrorCode.INVALID_ARGUMENT, `EncryptionClient: keySelection must be 'fallback' or 'strict', got ${policy}`);
  }
  const keys = [options.masterKey, ...extra.filter((k) => k !== options.masterKey)];
  return { masterKey: options.masterKey, ring: new KeyRing(keys, { policy }) };
}

async function fileSize(path: string): Promise<number> {
  let info;
  try {
    info = await stat(path);
  } catch (e) {
    throw new CseError(ErrorCode.IO, `cannot read ${path}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  if (!info.isFile()) throw new CseError(ErrorCode.IO, `${path} is not a file`);
  return info.size;
}

function isAsyncIterable(value: unknown): value is AsyncIterable<Uint8Array> {
  return typeof value === 'object' && value !== null && Symbol.asyncIterator in value;
}

/** Resolves a checkpoint option to a store. */
function checkpointStore<T>(
  option: true | string | CheckpointStore<T>,
  defaultPath: () => string,
  parse: (value: unknown, where: string) => T,
): CheckpointStore<T> {
  if (option === true) return new FileCheckpointStore(defaultPath(), parse);
  if (typeof option === 'string') {
    if (option === '') throw new CseError(ErrorCode.INVALID_ARGUMENT, 'options.checkpoint: expected a file path');
    return new FileCheckpointStore(option, parse);
  }
  if (
    typeof option === 'object' &&
    (option as unknown) !== null &&
    typeof option.load === 'function' &&
    typeof option.save === 'function' &&
    typeof option.remove === 'function'
  ) {
    return option;
  }
  throw new CseError(ErrorCode.INVALID_ARGUMENT, 'options.checkpoint: expected true, a file path or a CheckpointStore');
}

/** True for the checkpoint `progress` hands out (ali-oss's shape), as opposed to a {@link CheckpointStore}. */
function isProgressCheckpoint(value: unknown): value is MultipartUploadCheckpoint {
  if (typeof value !== 'object' || value === null) return false;
  const o = value as Partial<Record<keyof MultipartUploadCheckpoint | 'load', unknown>>;
  return typeof o.load !== 'function' && typeof o.uploadId === 'string' && Array.isArray(o.doneParts);
}

/** Moves the upload-callback headers out of a multipart upload's headers: they belong on Complete, not Initiate. */
function splitCallbackHeaders(headers: Readonly<Record<string, string>>): {
  request: Record<string, string>;
  callback: Record<string, string>;
} {
  const request: Record<string, string> = {};
  const callback: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    if (lower === CALLBACK_HEADER || lower === CALLBACK_VAR_HEADER) callback[name] = value;
    else request[name] = value;
  }
  return { request, callback };
}

/** A Content-Length request header, as a number (the plaintext length of a stream). */
function declaredLength(headers: Readonly<Record<string, string>> | undefined): number | undefined {
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (name.toLowerCase() === OssHeader.CONTENT_LENGTH && /^[0-9]+$/.test(value.trim())) return Number(value.trim());
  }
  return undefined;
}

/** `options.contentMd5`, checked: `true` or `false`/absent. */
function checkContentMd5Option(value: unknown, object: string): boolean {
  if (value === undefined || value === false) return false;
  if (value === true) return true;
  throw new CseError(ErrorCode.INVALID_ARGUMENT, `options.contentMd5 must be a boolean, got ${JSON.stringify(value)}`, { object });
}

/**
 * The headers with a computed plaintext MD5 as Content-MD5 (moved to `…-unencrypted-content-md5` on Initiate).
 * @throws CseError ERR_CSE_INVALID_ARGUMENT when the caller's own Content-MD5 differs from it
 */
function withContentMd5(headers: Record<string, string> | undefined, md5: string | undefined, object: string): Record<string, string> | undefined {
  if (md5 === undefined) return headers;
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (name.toLowerCase() !== OssHeader.CONTENT_MD5) {
      out[name] = value;
    } else if (value !== md5) {
      throw new CseError(ErrorCode.INVALID_ARGUMENT, `the Content-MD5 header ${value} differs from the MD5 of the source (${md5})`, {
        object,
        header: OssHeader.CONTENT_MD5,
      });
    }
  }
  out['Content-MD5'] = md5;
  return out;
}

/** The headers without Content-Length (the data size travels as `…-data-size`, and each part has its own length). */
function withoutContentLength(headers: Readonly<Record<string, string>> | undefined): Record<string, string> | undefined {
  if (headers === undefined) return undefined;
  return Object.fromEntries(Object.entries(headers).filter(([name]) => name.toLowerCase() !== OssHeader.CONTENT_LENGTH));
}

function readFacts(read: ObjectRead): ReadFacts {
  return {
    res: read.res,
    encrypted: read.encrypted,
    envelope: read.envelope === undefined ? undefined : summarizeEnvelope(read.envelope),
    size: read.size,
    objectSize: read.total,
    range: read.status === 206 ? { start: read.start, end: read.start + read.size - 1 } : undefined,
  };
}

function readQuery(options: GetOptions): Record<string, string> | undefined {
  const query: Record<string, string> = { ...(options.subres ?? {}) };
  if (options.versionId !== undefined) query.versionId = options.versionId;
  return Object.keys(query).length === 0 ? undefined : query;
}

function isCryptoHeaderName(header: string): boolean {
  return Object.keys(pickCryptoHeaders({ [header]: 'x' })).length > 0;
}

function rangeHeader(range: RangeOption): string {
  const { start, end } = range;
  if (!Number.isSafeInteger(start) || start < 0) {
    throw new CseError(ErrorCode.INVALID_ARGUMENT, `range.start must be a non-negative integer, got ${String(start)}`);
  }
  if (end !== undefined && (!Number.isSafeInteger(end) || end < start)) {
    throw new CseError(ErrorCode.INVALID_ARGUMENT, `range.end must be an integer ≥ range.start (${start}), got ${String(end)}`);
  }
  return `bytes=${start}-${end === undefined ? '' : String(end)}`;
}

/** ali-oss `_getSourceName`: `key` in the target bucket, `key` in `sourceBucket`, or `/bucket/key`. */
function copySource(sourceName: string, sourceBucket: string | undefined, targetBucket: string): ObjectLocation {
  if (typeof sourceName !== 'string' || sourceName === '') {
    throw new CseError(ErrorCode.INVALID_ARGUMENT, 'copy: expected a source object name');
  }
  if (sourceBucket !== undefined) return { bucket: sourceBucket, key: sourceName.replace(/^\/+/, '') };
  if (sourceName.startsWith('/')) {
    const match = /^\/([^/]+)\/(.+)$/.exec(sourceName);
    if (match?.[1] === undefined || match[2] === undefined) {
      throw new CseError(ErrorCode.INVALID_ARGUMENT, `copy: expected /bucket/key, got ${JSON.stringify(sourceName)}`);
    }
    return { bucket: match[1], key: match[2] };
  }
  return { bucket: targetBucket, key: sourceName };
}

function sameHeaders(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => b[k] === a[k]);
}

/** Re-exported for callers that only need the type of the ali-oss client. */
export type { AliOssClient, ResponseHeaders };
