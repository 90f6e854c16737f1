/**
 * The storage port: buckets, objects, multipart uploads. Stores keep bytes and records; OSS semantics (ETags, CRCs,
 * checks, errors other than "not found"/"exists") live in the handlers.
 *
 * @packageDocumentation
 */

import type { Readable } from 'node:stream';

/** A bucket. */
export interface BucketInfo {
  readonly name: string;
  /** Creation time, ms since the epoch. */
  readonly created: number;
}

/** Size and hashes of a body, computed while it streams in. */
export interface BodyDigest {
  readonly size: number;
  /** Raw MD5 (16 bytes). */
  readonly md5: Buffer;
  /** CRC-64/ECMA-182 (OSS flavour). */
  readonly crc64: bigint;
}

/** An OSS storage class, spelled as OSS accepts it in `x-oss-storage-class`. */
export type StorageClass = 'Standard' | 'IA' | 'Archive' | 'ColdArchive' | 'DeepColdArchive';

/** Object tags: keys unique, in the order they were given. */
export type ObjectTags = ReadonlyArray<readonly [string, string]>;

/**
 * True when `a` and `b` describe the same bytes (an object's metadata may have been rewritten, its content not).
 * @param a - metadata of an object
 * @param b - metadata of an object
 */
export function sameContent(a: ObjectMeta, b: ObjectMeta): boolean {
  return a.etag === b.etag && a.size === b.size && a.crc64 === b.crc64;
}

/** Everything known about a stored object except where its bytes are. */
export interface ObjectMeta {
  readonly key: string;
  readonly size: number;
  /** ETag without quotes: uppercase MD5 hex, or `<hex>-<parts>` for multipart objects. */
  readonly etag: string;
  /** CRC-64 as an unsigned decimal string. */
  readonly crc64: string;
  /** Base64 MD5 of the body, for simple (Normal) objects. */
  readonly contentMd5?: string;
  /** Last-Modified, ms since the epoch, whole seconds (HTTP dates have no finer resolution). */
  readonly lastModified: number;
  /** `x-oss-object-type`. */
  readonly type: 'Normal' | 'Multipart';
  readonly contentType: string;
  /** Stored standard headers (`cache-control`, `content-disposition`, `content-encoding`, `content-language`, `expires`). */
  readonly headers: Readonly<Record<string, string>>;
  /** `x-oss-meta-*` headers, full lower-case names, values verbatim, sorted by name. */
  readonly userMeta: ReadonlyArray<readonly [string, string]>;
  /** Storage class; absent means `Standard` (objects stored before classes were kept have none). */
  readonly storageClass?: StorageClass;
  /** Object tags; absent or empty means none (objects stored before tags were kept have none). */
  readonly tags?: ObjectTags;
}

/** Client-side-encryption facts captured at InitiateMultipartUpload (oss-go-java.md §7). */
export interface CseUploadContext {
  readonly key: string;
  readonly start: string;
  readonly cekAlg: string;
  readonly wrapAlg: string;
  readonly matdesc: string | undefined;
  readonly dataSize: number;
  readonly partSize: number;
}

/** A multipart upload in progress. */
export interface UploadInfo {
  readonly uploadId: string;
  readonly key: string;
  /** Initiation time, ms since the epoch. */
  readonly initiated: number;
  readonly contentType: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly userMeta: ReadonlyArray<readonly [string, string]>;
  readonly cse: CseUploadContext | undefined;
  /** `x-oss-storage-class` of the Initiate request, given to the object at Complete (absent: Standard). */
  readonly storageClass?: StorageClass;
  /** `x-oss-tagging` of the Initiate request, given to the object at Complete (absent: none). */
  readonly tags?: ObjectTags;
}

/** An uploaded part. */
export interface PartInfo {
  readonly partNumber: number;
  readonly size: number;
  /** Uppercase MD5 hex, no quotes. */
  readonly etag: string;
  /** Raw MD5 as base64 (for the multipart ETag computation). */
  readonly md5: string;
  /** CRC-64 as an unsigned decimal string. */
  readonly crc64: string;
  /** ms since the epoch, whole seconds. */
  readonly lastModified: number;
}

/** A body written to temporary storage, not yet visible. */
export interface StagedBody {
  readonly digest: BodyDigest;
  /** Drops the temporary bytes (idempotent). */
  discard(): Promise<void>;
}

/** An object opened for reading; its bytes stay readable even if the object is replaced meanwhile. */
export interface ObjectReader {
  readonly meta: ObjectMeta;
  /** Streams bytes `start..end` inclusive (`end` = start − 1 for nothing). Call at most once. */
  stream(start: number, end: number): Readable;
  /** Releases the reader when {@link ObjectReader.stream} was not called. */
  close(): Promise<void>;
}

/** Raised by stores for the conditions they detect; handlers map them to OSS errors. */
export class StoreError extends Error {
  /**
   * @param reason - what happened
   * @param message - details
   */
  constructor(
    readonly reason: 'no-such-bucket' | 'bucket-exists' | 'bucket-not-empty' | 'no-such-key' | 'key-exists' | 'no-such-upload' | 'no-such-part' | 'too-large',
    message: string,
  ) {
    super(message);
    this.name = 'StoreError';
  }
}

/** The storage port. */
export interface Store {
  /** Where the store keeps its files (undefined in memory). */
  readonly dataDir: string | undefined;
  listBuckets(): readonly BucketInfo[];
  getBucket(name: string): BucketInfo | undefined;
  /** @throws StoreError bucket-exists */
  createBucket(name: string, created: number): Promise<BucketInfo>;
  /** @throws StoreError no-such-bucket, bucket-not-empty */
  deleteBucket(name: string): Promise<void>;
  /** All objects of a bucket, sorted by key (UTF-16 code unit order equals UTF-8 byte order for keys without astral characters). @throws StoreError no-such-bucket */
  listObjects(bucket: string): readonly ObjectMeta[];
  getObject(bucket: string, key: string): ObjectMeta | undefined;
  /** @returns undefined when the object does not exist */
  openObject(bucket: string, key: string): Promise<ObjectReader | undefined>;
  /**
   * Streams a body into temporary storage while hashing it. The store may keep the chunks themselves (the memory
   * store does): the source must hand over buffers it never writes again.
   * @throws StoreError too-large when more than `maxBytes` arrive
   */
  stageBody(source: AsyncIterable<Uint8Array>, maxBytes: number): Promise<StagedBody>;
  /**
   * Makes a staged body visible as an object (atomically replacing any previous one).
   * @throws StoreError no-such-bucket, key-exists (with `forbidOverwrite`)
   */
  putObject(bucket: string, staged: StagedBody, meta: ObjectMeta, forbidOverwrite: boolean): Promise<void>;
  /**
   * Replaces an object's metadata, keeping its bytes (same-key CopyObject, object tagging). Callers read the metadata
   * before (an await, a request body); when the object was overwritten meanwhile (its ETag, size or CRC-64 differ
   * from `meta`'s), nothing is written: the change is ordered before that overwrite, and the new bytes never get the
   * old object's size or ETag. @throws StoreError no-such-key
   */
  replaceMetadata(bucket: string, meta: ObjectMeta): Promise<void>;
  /** @returns whether an object was deleted */
  deleteObject(bucket: string, key: string): Promise<boolean>;
  /** @throws StoreError no-such-bucket */
  createUpload(bucket: string, info: UploadInfo): Promise<void>;
  getUpload(bucket: string, uploadId: string): UploadInfo | undefined;
  /** Uploads sorted by key, then initiation time. */
  listUploads(bucket: string): readonly UploadInfo[];
  /** @throws StoreError no-such-upload */
  putPart(bucket: string, uploadId: string, staged: StagedBody, part: PartInfo): Promise<void>;
  /** Parts sorted by number. @throws StoreError no-such-upload */
  listParts(bucket: string, uploadId: string): readonly PartInfo[];
  /** @throws StoreError no-such-upload */
  abortUpload(bucket: string, uploadId: string): Promise<void>;
  /**
   * Concatenates the given parts into the object described by `meta` and ends the upload, atomically.
   * @throws StoreError no-such-upload, no-such-part (a part changed meanwhile), key-exists (with `forbidOverwrite`)
   */
  completeUpload(bucket: string, uploadId: string, parts: readonly PartInfo[], meta: ObjectMeta, forbidOverwrite: boolean): Promise<void>;
  /** Flushes and releases everything. */
  close(): Promise<void>;
}
