/**
 * The `ObjectStore` port: the OSS operations the encryption client needs, in our own types. `ali-oss-store.ts` is
 * its one implementation over `ali-oss` (the only file that imports it); tests may implement it in memory. Keeping
 * the port small and ours means the client does not depend on how accurate `@types/ali-oss` is
 * (`code-style-anchors.md` "Lessons" §2).
 *
 * Multipart operations (Initiate, UploadPart, Complete, Abort, ListParts, ListMultipartUploads) are the second half
 * of the port, `MultipartStore` in `multipart-store.ts`: `AliOssStore` implements both, and a store without them
 * still serves every single-request operation (the client then refuses multipart calls).
 *
 * Errors: implementations throw {@link TransferError} for OSS and network failures (with `status`, `ossCode`,
 * `requestId`, `retryable`), `CseError` `ERR_CSE_RANGE_NOT_SATISFIABLE` for a 416, and `ERR_CSE_ABORTED` when the
 * signal fires.
 *
 * @packageDocumentation
 */

import type { Readable } from 'node:stream';

/** Where an object lives. */
export interface ObjectLocation {
  /** Bucket name. */
  readonly bucket: string;
  /** Object key (no leading slash). */
  readonly key: string;
}

/** Per-call options every store operation takes. */
export interface CallOptions {
  /** Aborts the request (and any body transfer) when it fires. */
  readonly signal?: AbortSignal | undefined;
  /** Operation timeout in milliseconds (the `ali-oss` client's own default otherwise). */
  readonly timeout?: number | undefined;
}

/** Response headers: lower-case names, string values. */
export type ResponseHeaders = Readonly<Record<string, string>>;

/**
 * The transport's own response record, passed through to callers unchanged so that results look like `ali-oss`
 * results (`res.status`, `res.headers`, `res.requestUrls`, `res.rt`, …).
 */
export interface ResponseInfo {
  /** HTTP status. */
  readonly status: number;
  /** Response headers. */
  readonly headers: ResponseHeaders;
  /** Anything else the transport reports (`size`, `rt`, `requestUrls`, …). */
  readonly [extra: string]: unknown;
}

/** A completed request: status, headers, request id and the transport's own record. */
export interface StoreResponse {
  /** HTTP status. */
  readonly status: number;
  /** Response headers, lower-case names. */
  readonly headers: ResponseHeaders;
  /** `x-oss-request-id`, when sent. */
  readonly requestId: string | undefined;
  /** The transport's response record (for `ali-oss`-shaped results). */
  readonly res: ResponseInfo;
  /** The response body of a PutObject or Complete that asked for an upload callback (the callback server's answer). */
  readonly callbackBody?: Uint8Array | undefined;
}

/** A request body: bytes, or a stream with its length when known (chunked transfer encoding otherwise). */
export type PutBody =
  | {
      /** The body is in memory. */
      readonly kind: 'bytes';
      /** The bytes to send. */
      readonly bytes: Uint8Array;
    }
  | {
      /** The body is streamed. */
      readonly kind: 'stream';
      /**
       * The bytes to send, consumed once with `for await` (which takes a sync iterable too: a body whose chunks are
       * computed synchronously, like an in-memory body encrypted view by view, needs no promise per chunk).
       */
      readonly stream: AsyncIterable<Uint8Array> | Iterable<Uint8Array>;
      /** Its length when known (sent as Content-Length), else chunked. */
      readonly length: number | undefined;
    };

/** A PutObject request. */
export interface PutRequest {
  /** Request headers (Content-Type, `x-oss-meta-*`, …), any case. */
  readonly headers: Readonly<Record<string, string>>;
  /** The body. */
  readonly body: PutBody;
  /**
   * Content-Type hint when `headers` has none: a MIME type, or a file name or extension whose type the transport
   * looks up (as `ali-oss` does for `put(name, filePath)`). Without either, the transport guesses from the key.
   */
  readonly mime?: string | undefined;
}

/** A GetObject or HeadObject request. */
export interface ReadRequest {
  /** Request headers (`Range`, `x-oss-range-behavior`, `If-Match`, …), any case. */
  readonly headers: Readonly<Record<string, string>>;
  /** Query parameters (sub-resources such as `versionId`, `response-content-type`). */
  readonly query?: Readonly<Record<string, string>> | undefined;
}

/**
 * A GetObject answer with its body still to be read. Statuses 200, 206 and 304 arrive here; everything else is
 * thrown. The caller must consume or destroy `body`.
 */
export interface GetResponse extends StoreResponse {
  /** The response body (empty for 304). */
  readonly body: Readable;
}

/** A CopyObject request. */
export interface CopyRequest {
  /** Request headers: `x-oss-metadata-directive`, replacement metadata, copy-source conditions, any case. */
  readonly headers: Readonly<Record<string, string>>;
}

/** A CopyObject answer. */
export interface CopyResponse extends StoreResponse {
  /** The new object's ETag (quoted), when the body carried it. */
  readonly etag: string | undefined;
  /** The new object's last-modified time, when the body carried it. */
  readonly lastModified: string | undefined;
}

/** A ListObjects (v1) query. */
export interface ListV1Query {
  /** Only keys starting with this. */
  readonly prefix?: string | undefined;
  /** Group keys by this delimiter into common prefixes. */
  readonly delimiter?: string | undefined;
  /** Page size (OSS: 1–1000, default 100). */
  readonly maxKeys?: number | undefined;
  /** Start after this key (the previous page's `nextMarker`). */
  readonly marker?: string | undefined;
}

/** One page of a ListObjects (v1) listing. */
export interface ListV1Page extends StoreResponse {
  /** The objects of this page. */
  readonly objects: readonly ListedObject[];
  /** Common prefixes (with a delimiter). */
  readonly prefixes: readonly string[];
  /** True when more pages follow. */
  readonly isTruncated: boolean;
  /** Marker for the next page. */
  readonly nextMarker: string | null;
}

/** A ListObjectsV2 query. */
export interface ListQuery {
  /** Only keys starting with this. */
  readonly prefix?: string | undefined;
  /** Group keys by this delimiter into common prefixes. */
  readonly delimiter?: string | undefined;
  /** Page size (OSS: 1–1000, default 100). */
  readonly maxKeys?: number | undefined;
  /** The previous page's `nextContinuationToken`. */
  readonly continuationToken?: string | undefined;
  /** Start listing after this key. */
  readonly startAfter?: string | undefined;
  /** Ask for each object's owner. */
  readonly fetchOwner?: boolean | undefined;
}

/** One object in a listing. */
export interface ListedObject {
  /** Object key. */
  readonly name: string;
  /** Stored size in bytes (for client-side-encrypted objects: the plaintext size too, CTR adds nothing). */
  readonly size: number;
  /** ETag (quoted). */
  readonly etag: string;
  /** Last-modified time (ISO 8601). */
  readonly lastModified: string;
  /** `Normal`, `Multipart` or `Appendable`. */
  readonly type: string;
  /** Storage class. */
  readonly storageClass: string;
  /** The owner, with `fetchOwner`. */
  readonly owner: {
    /** Owner id. */
    readonly id: string;
    /** Owner display name. */
    readonly displayName: string;
  } | null;
}

/** One page of a listing. */
export interface ListPage extends StoreResponse {
  /** The objects of this page. */
  readonly objects: readonly ListedObject[];
  /** Common prefixes (with a delimiter). */
  readonly prefixes: readonly string[];
  /** True when more pages follow. */
  readonly isTruncated: boolean;
  /** Token for the next page. */
  readonly nextContinuationToken: string | null;
  /** Keys and prefixes in this page. */
  readonly keyCount: number;
}

/** The OSS operations the encryption client uses. */
export interface ObjectStore {
  /** The bucket used when a call names none (the `ali-oss` client's `bucket` option). */
  readonly defaultBucket: string | undefined;
  /** The object's URL, as `ali-oss` reports it in `put` results. */
  objectUrl(location: ObjectLocation): string;
  /**
   * PutObject. When the response carries `x-oss-hash-crc64ecma`, it is returned in `headers` for the caller to check.
   * @throws TransferError on an OSS or network failure; CseError ERR_CSE_ABORTED; for a stream body that fails, its
   *   own CseError, or ERR_CSE_IO for any other error
   */
  put(location: ObjectLocation, request: PutRequest, options?: CallOptions): Promise<StoreResponse>;
  /**
   * GetObject: statuses 200, 206 and 304 are returned with the body unread.
   * @throws CseError ERR_CSE_RANGE_NOT_SATISFIABLE on 416; TransferError on any other failure; ERR_CSE_ABORTED
   */
  get(location: ObjectLocation, request: ReadRequest, options?: CallOptions): Promise<GetResponse>;
  /**
   * HeadObject (200 or 304).
   * @throws TransferError (404 has `ossCode` `NoSuchKey`); CseError ERR_CSE_ABORTED
   */
  head(location: ObjectLocation, request: ReadRequest, options?: CallOptions): Promise<StoreResponse>;
  /**
   * DeleteObject (204 also for a missing key, as OSS answers).
   * @throws TransferError; CseError ERR_CSE_ABORTED
   */
  delete(location: ObjectLocation, options?: CallOptions): Promise<StoreResponse>;
  /**
   * CopyObject from `source` to `target`.
   * @throws TransferError; CseError ERR_CSE_ABORTED
   */
  copy(target: ObjectLocation, source: ObjectLocation, request: CopyRequest, options?: CallOptions): Promise<CopyResponse>;
  /**
   * ListObjectsV2, one page.
   * @throws TransferError; CseError ERR_CSE_ABORTED
   */
  listV2(bucket: string, query: ListQuery, options?: CallOptions): Promise<ListPage>;
  /**
   * ListObjects (v1, marker paging), one page.
   * @throws TransferError; CseError ERR_CSE_ABORTED
   */
  listV1(bucket: string, query: ListV1Query, options?: CallOptions): Promise<ListV1Page>;
  /**
   * GetObjectTagging: the object's tags (an empty record when it has none). Optional: stores without it cannot carry
   * tags over in a migration (`bulk/migrate-object.ts`), which then fails for tagged objects rather than dropping them.
   * @throws TransferError (404 `NoSuchKey`); CseError ERR_CSE_ABORTED
   */
  getTagging?(location: ObjectLocation, options?: CallOptions): Promise<Readonly<Record<string, string>>>;
  /**
   * PutBucket.
   * @throws TransferError (409 `BucketAlreadyExists` when it exists); CseError ERR_CSE_ABORTED
   */
  putBucket(bucket: string, options?: CallOptions): Promise<StoreResponse>;
  /**
   * ListBuckets (every page). Optional: stores without it make `EncryptionClient.listBuckets` refuse.
   * @throws TransferError; CseError ERR_CSE_ABORTED
   */
  listBuckets?(options?: CallOptions): Promise<readonly BucketInfo[]>;
  /**
   * DeleteBucket. Optional like {@link ObjectStore.listBuckets}.
   * @throws TransferError (404 `NoSuchBucket`, 409 `BucketNotEmpty`); CseError ERR_CSE_ABORTED
   */
  deleteBucket?(bucket: string, options?: CallOptions): Promise<StoreResponse>;
}

/** A bucket as ListBuckets reports it. */
export interface BucketInfo {
  /** Bucket name. */
  readonly name: string;
  /** Region (e.g. `oss-cn-hangzhou`), when reported. */
  readonly region: string | undefined;
  /** Creation time (ISO 8601), when reported. */
  readonly creationDate: string | undefined;
}
