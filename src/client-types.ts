/**
 * Option and result types of {@link EncryptionClient} (kept apart from the façade so that client.ts holds behaviour
 * only), and `summarizeEnvelope`, which builds the envelope summary the results carry.
 *
 * @packageDocumentation
 */

import { Readable } from 'node:stream';
import { CseError } from './errors.js';
import type { EnvelopeSummary } from './format/summary.js';
import { type KeySelectionPolicy } from './keys/key-ring.js';
import type { MasterKey } from './keys/master-key.js';
import type { ListedObject, ResponseInfo } from './transfer/store.js';
import { type CheckpointStore, type DownloadCheckpoint, type UploadCheckpoint } from './transfer/checkpoint.js';
import { type MultipartContext } from './transfer/multipart.js';
import type { ListedEncryption, ListedPart, ListedUpload } from './transfer/multipart-store.js';
import type { MultipartUploadCheckpoint, UploadProgress } from './transfer/multipart-upload.js';
import type { DownloadProgress } from './transfer/resumable-download.js';
import { type UploadCallback } from './transfer/callback.js';


/** Options of {@link EncryptionClient}. */
export interface EncryptionClientOptions {
  /** The key new objects are encrypted with (its `description` becomes their matdesc); it also decrypts, if it can. */
  readonly masterKey: MasterKey;
  /** More keys to decrypt with (older keys, other writers' keys), found by matdesc. */
  readonly decryptionKeys?: readonly MasterKey[];
  /** When no key's description matches an object's matdesc: `fallback` (default: try each key of the right kind) or `strict`. */
  readonly keySelection?: KeySelectionPolicy;
  /** Read legacy envelopes (oss2 ≤ 2.10 V1, the hand-rolled guide form); off by default (SECURITY.md). */
  readonly allowLegacy?: boolean;
  /** Fail with ERR_CSE_NOT_ENCRYPTED on objects without crypto headers, instead of returning them as stored. */
  readonly requireEncrypted?: boolean;
}

/** What every call takes. */
export interface CallOptions {
  /** The bucket for this call (default: the ali-oss client's `bucket`). */
  readonly bucket?: string;
  /** Aborts the operation (ERR_CSE_ABORTED). */
  readonly signal?: AbortSignal;
  /** Request timeout in milliseconds (default: the ali-oss client's). */
  readonly timeout?: number;
}

export { summarizeEnvelope, type EnvelopeSummary } from './format/summary.js';

/** What `put` accepts: bytes, a file path (as in ali-oss), a Node `Readable` or any async iterable of bytes. */
export type PutInput = Uint8Array | string | Readable | AsyncIterable<Uint8Array>;

/** Options of {@link EncryptionClient.put} and {@link EncryptionClient.putStream}. */
export interface PutOptions extends CallOptions {
  /** Content-Type (default: from the file's extension for a path, else from the key's, as ali-oss does). */
  readonly mime?: string;
  /** User metadata, sent as `x-oss-meta-<name>`. */
  readonly meta?: Readonly<Record<string, string | number>>;
  /**
   * Request headers. `Content-MD5` and `Content-Length` describe the plaintext and move to the
   * `…-unencrypted-content-md5`/`-length` headers (as every SDK does); crypto headers cannot be supplied.
   */
  readonly headers?: Readonly<Record<string, string>>;
  /**
   * The plaintext length of a stream (ali-oss `putStream` option); stored as `…-unencrypted-content-length`. Bytes
   * and file paths need none: their length is always stored, so every whole read checks it.
   */
  readonly contentLength?: number;
  /**
   * OSS upload callback (ali-oss's option): sent as `x-oss-callback`/`x-oss-callback-var`; the callback server's
   * answer comes back as the result's `data`.
   */
  readonly callback?: UploadCallback;
  /**
   * Also store the plaintext's MD5 as `…-unencrypted-content-md5` (default `false`), which every whole read then
   * checks, as it checks the length. Only for sources that can be read twice: bytes (hashed in memory) and file paths
   * (read once for the MD5, again for the upload; a file that changed in between fails the upload before its last
   * byte is sent, with ERR_CSE_IO, and nothing is stored). A stream is refused with ERR_CSE_INVALID_ARGUMENT: pass
   * its MD5 as the `Content-MD5` header instead. Cost: one MD5 pass over the plaintext, and for a file one more read
   * of it (see bench/PERFORMANCE.md, row `e2e.put-md5`). With {@link EncryptionClient.multipartUpload} the MD5 is
   * stored on Initiate; parts are read separately, so there a file changed mid-upload is caught by the reader's check.
   * Detects accidents, not an attacker who can rewrite the object (SECURITY.md).
   */
  readonly contentMd5?: boolean;
}

/** The result of a put: ali-oss's `{ name, url, res }` plus what was stored. */
export interface PutResult {
  /** Object key. */
  readonly name: string;
  /** Object URL. */
  readonly url: string;
  /** The PutObject response. */
  readonly res: ResponseInfo;
  /** Always true: the client only writes encrypted objects. */
  readonly encrypted: true;
  /** The stored envelope's public facts. */
  readonly envelope: EnvelopeSummary;
  /** Plaintext bytes uploaded. */
  readonly size: number;
  /** CRC-64 of the ciphertext, as OSS spells it; checked against OSS's own. */
  readonly crc64: string;
  /** With an upload callback: the callback server's answer (parsed JSON, else text), as ali-oss's `data`. */
  readonly data?: unknown;
}

/** A byte range as numbers: `start` to `end` inclusive (`end` omitted: to the end of the object). */
export interface RangeOption {
  /** First byte. */
  readonly start: number;
  /** Last byte, inclusive. */
  readonly end?: number;
}

/** Options of {@link EncryptionClient.get}, {@link EncryptionClient.getStream} and {@link EncryptionClient.head}. */
export interface GetOptions extends CallOptions {
  /**
   * Request headers: `Range` (any form OSS takes), `x-oss-range-behavior: standard`, `If-Match`, … Every range
   * returns what a plain client gets for the same range on the plaintext.
   */
  readonly headers?: Readonly<Record<string, string>>;
  /** A range as numbers (instead of a `Range` header). */
  readonly range?: RangeOption;
  /** Read this version. */
  readonly versionId?: string;
  /** Extra query parameters (e.g. `response-content-type`). `x-oss-process` is refused. */
  readonly subres?: Readonly<Record<string, string>>;
  /** Refused: image processing runs on the server, which holds only ciphertext. */
  readonly process?: string;
  /** Override the client's `requireEncrypted` for this call. */
  readonly requireEncrypted?: boolean;
}

/** Facts every read result carries, besides ali-oss's fields. */
export interface ReadFacts {
  /** The response with status and `content-length`/`content-range` in the caller's view. */
  readonly res: ResponseInfo;
  /** False when the object has no crypto headers (its bytes come back as stored). */
  readonly encrypted: boolean;
  /** The envelope's public facts (encrypted objects). */
  readonly envelope: EnvelopeSummary | undefined;
  /** Plaintext bytes returned. */
  readonly size: number;
  /** The object's size (plaintext = ciphertext size), when known. */
  readonly objectSize: number | undefined;
  /** The returned range `{ start, end }` (inclusive) when the answer is a 206. */
  readonly range: {
    /** First plaintext byte returned. */
    readonly start: number;
    /** Last plaintext byte returned (inclusive). */
    readonly end: number;
  } | undefined;
}

/** The result of `get(name)`: ali-oss's `{ content, res }`. */
export interface GetResult extends ReadFacts {
  /** The plaintext. */
  readonly content: Buffer;
}

/** The result of `get(name, file)`: written to the file (atomically for a path). */
export interface GetToFileResult extends ReadFacts {
  /** Nothing: the bytes went to the file. */
  readonly content: undefined;
}

/** The result of `getStream`: ali-oss's `{ stream, res }`. */
export interface GetStreamResult extends ReadFacts {
  /**
   * The plaintext. Integrity failures (truncation, CRC-64, declared MD5/length) are emitted as an `error` after the
   * last chunk: keep what you read only once the stream ends without error.
   */
  readonly stream: Readable;
}

/** The result of `head`. */
export interface HeadResult {
  /** 200, or 304 for a failed `If-None-Match`/`If-Modified-Since`. */
  readonly status: number;
  /** User metadata (`x-oss-meta-*` without the prefix), crypto headers left out (see `envelope`); null when none. */
  readonly meta: Record<string, string> | null;
  /** The HeadObject response. */
  readonly res: ResponseInfo;
  /** False when the object has no crypto headers. */
  readonly encrypted: boolean;
  /** The envelope's public facts. */
  readonly envelope: EnvelopeSummary | undefined;
  /** The plaintext size (CTR: equal to the stored size), when known. */
  readonly size: number | undefined;
}

/** Options of {@link EncryptionClient.copy}. */
export interface CopyOptions extends CallOptions {
  /** New user metadata: replaces the source's (directive REPLACE). */
  readonly meta?: Readonly<Record<string, string | number>>;
  /**
   * Request headers. `If-Match`/`If-None-Match`/`If-Modified-Since`/`If-Unmodified-Since` become the
   * `x-oss-copy-source-*` conditions; Content-Type and the other standard headers replace the source's (directive
   * REPLACE).
   */
  readonly headers?: Readonly<Record<string, string>>;
  /** Copy this version of the source. */
  readonly versionId?: string;
  /**
   * With a REPLACE copy of an encrypted object: carry its crypto headers over. Without it, such a copy is refused
   * unless the headers re-supply the envelope.
   */
  readonly keepEncryptionMetadata?: boolean;
}

/** The result of {@link EncryptionClient.copy}: ali-oss's shape. */
export interface CopyResult {
  /** The new object's ETag and time. */
  readonly data: {
    /** The copy's ETag. */
    readonly etag: string | undefined;
    /** The copy's Last-Modified time. */
    readonly lastModified: string | undefined;
  };
  /** The CopyObject response. */
  readonly res: ResponseInfo;
}

/** An object in a listing, as ali-oss reports it. */
export interface ListedObjectInfo extends ListedObject {
  /** Object URL. */
  readonly url: string;
}

/** ali-oss `list` query (ListObjects v1). */
export interface ListQueryV1 {
  /** Only keys starting with this. */
  readonly prefix?: string;
  /** Start after this key (the previous page's `nextMarker`). */
  readonly marker?: string;
  /** Group keys into common prefixes at this delimiter (usually `/`). */
  readonly delimiter?: string;
  /** Page size, 1–1000 (OSS default 100). */
  readonly 'max-keys'?: number | string;
}

/** ali-oss `listV2` query (ListObjectsV2). */
export interface ListQueryV2 {
  /** Only keys starting with this. */
  readonly prefix?: string;
  /** Group keys into common prefixes at this delimiter (usually `/`). */
  readonly delimiter?: string;
  /** Page size, 1–1000 (OSS default 100). */
  readonly 'max-keys'?: number | string;
  /** The previous page's `nextContinuationToken`. */
  readonly 'continuation-token'?: string;
  /** Same as `continuation-token` (ali-oss accepts both spellings). */
  readonly continuationToken?: string;
  /** List keys after this one. */
  readonly 'start-after'?: string;
  /** Report each object's owner. */
  readonly 'fetch-owner'?: boolean;
}

/** ali-oss `list` result. */
export interface ListResultV1 {
  /** The objects of this page (sizes are plaintext sizes too). */
  readonly objects: readonly ListedObjectInfo[];
  /** Common prefixes (with a delimiter). */
  readonly prefixes: readonly string[];
  /** True when more pages follow. */
  readonly isTruncated: boolean;
  /** The `marker` of the next page. */
  readonly nextMarker: string | null;
  /** The ListObjects response. */
  readonly res: ResponseInfo;
}

/** ali-oss `listV2` result. */
export interface ListResultV2 {
  /** The objects of this page (sizes are plaintext sizes too). */
  readonly objects: readonly ListedObjectInfo[];
  /** Common prefixes (with a delimiter). */
  readonly prefixes: readonly string[];
  /** True when more pages follow. */
  readonly isTruncated: boolean;
  /** Keys and prefixes in this page. */
  readonly keyCount: number;
  /** The `continuation-token` of the next page. */
  readonly nextContinuationToken: string | null;
  /** The ListObjectsV2 response. */
  readonly res: ResponseInfo;
}

/** A checkpoint option: `true` for the default file under `$OSS_CSE_HOME/checkpoints`, a file path, or your own store. */
export type CheckpointOption<T> = boolean | string | CheckpointStore<T>;

/** Options of {@link EncryptionClient.multipartUpload}. */
export interface MultipartUploadOptions extends PutOptions {
  /**
   * Part size in bytes: a multiple of 16, at least 100 KiB, at most 10,000 parts (checked; never ali-oss's unaligned
   * `_getPartSize`). Default: 10 MiB, raised for objects above ~100 GiB.
   */
  readonly partSize?: number;
  /** Parts uploaded at once (1–64, default 4). Memory is about `parallel × partSize` for streams. */
  readonly parallel?: number;
  /** Retries per part for transient failures (default 3), with exponential backoff. */
  readonly retries?: number;
  /**
   * Make the upload resumable (file sources): `true` (a file under `$OSS_CSE_HOME/checkpoints` named after the bucket,
   * key and source), a checkpoint file path, or a {@link CheckpointStore}. A failed or aborted upload is then kept
   * and the next call with the same checkpoint continues it. Without a checkpoint, a failed upload is aborted.
   */
  readonly checkpoint?: CheckpointOption<UploadCheckpoint> | MultipartUploadCheckpoint;
  /** Continue this upload without a local checkpoint, from ListParts' `ClientEncryption*` fields. */
  readonly uploadId?: string;
  /**
   * ali-oss's `progress(p, checkpoint, res)`: 0 after Initiate, `doneParts / (parts + 1)` after each part, 1 once after
   * Complete (checkpoint null). The checkpoint is ali-oss's shape plus the wrapped envelope (never key material) and can
   * be passed back as `options.checkpoint` to resume (see {@link MultipartUploadCheckpoint}). Awaited; throwing stops
   * the upload, which is kept when resumable (`checkpoint` or `uploadId`) and aborted otherwise.
   */
  readonly progress?: UploadProgress;
}

/** The result of {@link EncryptionClient.multipartUpload}: ali-oss's `{ res, bucket, name, etag }` plus what was stored. */
export interface MultipartUploadResult {
  /** Object key. */
  readonly name: string;
  /** Bucket. */
  readonly bucket: string;
  /** The object's ETag. */
  readonly etag: string | undefined;
  /** The Complete (or PutObject) response. */
  readonly res: ResponseInfo;
  /** `multipart`, or `put` when the object fit in one part. */
  readonly method: 'multipart' | 'put';
  /** The upload id (multipart). */
  readonly uploadId: string | undefined;
  /** Always true for writes; false for an object without crypto headers. */
  readonly encrypted: true;
  /** The envelope's public facts. */
  readonly envelope: EnvelopeSummary;
  /** Plaintext bytes. */
  readonly size: number;
  /** CRC-64 of the ciphertext, checked against OSS's. */
  readonly crc64: string;
  /** Part size in bytes. */
  readonly partSize: number;
  /** Number of parts. */
  readonly partCount: number;
  /** Parts sent by this call (fewer than `partCount` when resumed). */
  readonly partsSent: number;
  /** True when an earlier upload was continued. */
  readonly resumed: boolean;
  /**
   * True when the checkpoint's upload was gone because an earlier run had already completed it (the object holds the
   * checkpoint's envelope and the source's size): nothing was sent.
   */
  readonly alreadyComplete: boolean;
  /**
   * The upload id of a checkpoint whose upload was gone (aborted or expired) while the object did not exist: a new
   * upload was started from the start instead. When the object exists with other content, the call fails with
   * ERR_CSE_MULTIPART and keeps the checkpoint instead (docs/resume.md).
   */
  readonly restartedFrom: string | undefined;
  /**
   * Set when the upload finished (the object is stored, progress reached 1) but its checkpoint could not be removed:
   * an ERR_CSE_IO `CseError` naming the checkpoint file, with the failure as `cause`. Remove that file by hand.
   */
  readonly checkpointError?: CseError;
  /** With an upload callback: the callback server's answer (parsed JSON, else text), as ali-oss's `data`. */
  readonly data?: unknown;
}

/** Options of {@link EncryptionClient.initMultipartUpload}. */
export interface InitMultipartUploadOptions extends CallOptions {
  /** Total plaintext size (required: OSS needs it for client-side-encrypted uploads). */
  readonly dataSize: number;
  /** Part size (checked strictly); default chosen from `dataSize`. */
  readonly partSize?: number;
  /** Content-Type of the object (ali-oss's `mime`). */
  readonly mime?: string;
  /** User metadata (`x-oss-meta-*`), as ali-oss's `meta`. */
  readonly meta?: Readonly<Record<string, string | number>>;
  /** Request headers; a Content-MD5 of the whole plaintext moves to `…-unencrypted-content-md5`. */
  readonly headers?: Readonly<Record<string, string>>;
}

/** The result of {@link EncryptionClient.initMultipartUpload}. */
export interface InitMultipartUploadResult {
  /** Object key. */
  readonly name: string;
  /** Bucket. */
  readonly bucket: string;
  /** The upload id. */
  readonly uploadId: string;
  /** Pass it to uploadPart/complete/abort; plain JSON (wrapped key and IV only), safe to store. */
  readonly context: MultipartContext;
  /** The response record. */
  readonly res: ResponseInfo;
}

/** The result of {@link EncryptionClient.uploadPart}: pass it (or `{ number, etag }`) to completeMultipartUpload. */
export interface UploadPartResult {
  /** Object key. */
  readonly name: string;
  /** Part number (ali-oss's `completeMultipartUpload` spelling). */
  readonly number: number;
  /** Part number. */
  readonly partNumber: number;
  /** The ETag. */
  readonly etag: string;
  /** Plaintext bytes. */
  readonly size: number;
  /** CRC-64 of the part's ciphertext, checked against OSS's. */
  readonly crc64: string;
  /** The UploadPart response (ali-oss's `res`). */
  readonly res: ResponseInfo;
}

/** The result of {@link EncryptionClient.completeMultipartUpload}. */
export interface CompleteMultipartUploadResult {
  /** Object key. */
  readonly name: string;
  /** Bucket. */
  readonly bucket: string;
  /** The ETag. */
  readonly etag: string | undefined;
  /** The response record. */
  readonly res: ResponseInfo;
  /** CRC-64 of the whole ciphertext, joined from the parts' and checked against OSS's. */
  readonly crc64: string;
  /** Plaintext bytes. */
  readonly size: number;
}

/** ali-oss `listParts` query. */
export interface ListPartsQueryOptions {
  /** Page size (1–1000, default 1000). */
  readonly 'max-parts'?: number | string;
  /** List parts after this number (the previous page's `nextPartNumberMarker`). */
  readonly 'part-number-marker'?: number | string;
}

/** The result of {@link EncryptionClient.listParts}. */
export interface ListPartsResult {
  /** Object key. */
  readonly name: string;
  /** Bucket. */
  readonly bucket: string;
  /** The upload id. */
  readonly uploadId: string;
  /** The parts of this page, ascending. */
  readonly parts: readonly ListedPart[];
  /** True when more pages follow. */
  readonly isTruncated: boolean;
  /** Marker for the next page. */
  readonly nextPartNumberMarker: number | undefined;
  /** The upload's encryption context as OSS reports it (`ClientEncryption*`). */
  readonly encryption: ListedEncryption | undefined;
  /** A context rebuilt from `encryption` (to continue the upload without a local copy), when complete. */
  readonly context: MultipartContext | undefined;
  /** The response record. */
  readonly res: ResponseInfo;
}

/** ali-oss `listUploads` query. */
export interface ListUploadsQueryOptions {
  /** Only uploads of keys with this prefix. */
  readonly prefix?: string;
  /** Page size (1–1000). */
  readonly 'max-uploads'?: number | string;
  /** Continue after this key (the previous page's `nextKeyMarker`). */
  readonly 'key-marker'?: string;
  /** Continue after this upload id (the previous page's `nextUploadIdMarker`). */
  readonly 'upload-id-marker'?: string;
}

/** The result of {@link EncryptionClient.listUploads}. */
export interface ListUploadsResult {
  /** The uploads of this page. */
  readonly uploads: readonly ListedUpload[];
  /** True when more pages follow. */
  readonly isTruncated: boolean;
  /** Key marker for the next page. */
  readonly nextKeyMarker: string | undefined;
  /** Upload-id marker for the next page. */
  readonly nextUploadIdMarker: string | undefined;
  /** The response record. */
  readonly res: ResponseInfo;
}

/** Options of {@link EncryptionClient.resumableDownload}. */
export interface ResumableDownloadOptions extends CallOptions {
  /**
   * Range size: any positive integer that gives at most 10,000 ranges for the object (default 8 MiB, raised for
   * objects above ~80 GiB); a smaller one is ERR_CSE_INVALID_ARGUMENT naming the smallest allowed.
   */
  readonly partSize?: number;
  /** Ranges fetched at once (1–64, default 4). */
  readonly parallel?: number;
  /** Retries per range (default 3). */
  readonly retries?: number;
  /**
   * Make the download resumable: `true` (a file under `$OSS_CSE_HOME/checkpoints`), a checkpoint file path, or a
   * {@link CheckpointStore}. The temporary file is then kept on failure and the next call re-reads only what is
   * missing.
   */
  readonly checkpoint?: CheckpointOption<DownloadCheckpoint>;
  /** `progress(fraction, { bytes, totalBytes, part })`, awaited; throwing stops the download (resumable). */
  readonly progress?: DownloadProgress;
  /** Override the client's `requireEncrypted` for this call. */
  readonly requireEncrypted?: boolean;
}

/** The result of {@link EncryptionClient.resumableDownload}. */
export interface ResumableDownloadResult {
  /** Object key. */
  readonly name: string;
  /** Bucket. */
  readonly bucket: string;
  /** The HEAD response the download was pinned to. */
  readonly res: ResponseInfo;
  /** The ETag. */
  readonly etag: string;
  /** Plaintext bytes. */
  readonly size: number;
  /** The verified CRC-64 of the object, when OSS sent one. */
  readonly crc64: string | undefined;
  /** Always true for writes; false for an object without crypto headers. */
  readonly encrypted: boolean;
  /** The envelope's public facts. */
  readonly envelope: EnvelopeSummary | undefined;
  /** Number of parts. */
  readonly partCount: number;
  /** Ranges fetched by this call. */
  readonly partsFetched: number;
  /** True when an earlier transfer was continued. */
  readonly resumed: boolean;
}
