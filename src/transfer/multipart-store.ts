/**
 * The multipart half of the {@link ObjectStore} port: InitiateMultipartUpload, UploadPart, CompleteMultipartUpload,
 * AbortMultipartUpload, ListParts and ListMultipartUploads, in our own types. `ali-oss-store.ts` implements it over
 * `ali-oss`'s request layer (so a part body can be our ciphertext stream, never a file `ali-oss` opens itself).
 *
 * ListParts reports the client-side-encryption context OSS keeps for an upload initiated with crypto headers
 * (`ClientEncryptionKey`, `…Start`, `…CekAlg`, `…WrapAlg`, `…DataSize`, `…PartSize`, `oss-go-java.md` §7): that is what
 * lets an upload be resumed without a local checkpoint, as Go v2's uploader does.
 *
 * Errors: as {@link ObjectStore} (`TransferError` with `status`/`ossCode`, `ERR_CSE_ABORTED`).
 *
 * @packageDocumentation
 */

import type { CallOptions, ObjectLocation, PutBody, StoreResponse } from './store.js';

/** An InitiateMultipartUpload request. */
export interface InitiateRequest {
  /** Request headers (Content-Type, `x-oss-meta-*` including the crypto headers, …), any case. */
  readonly headers: Readonly<Record<string, string>>;
  /** Content-Type hint when `headers` has none (a MIME type, or a file name or extension to look it up from). */
  readonly mime?: string | undefined;
}

/** An InitiateMultipartUpload answer. */
export interface InitiateResponse extends StoreResponse {
  /** The new upload's id. */
  readonly uploadId: string;
}

/** An UploadPart request. */
export interface UploadPartRequest {
  /** The upload. */
  readonly uploadId: string;
  /** 1..10000. */
  readonly partNumber: number;
  /** Request headers (the crypto headers, Go style: `oss-go-java.md` §7), any case. */
  readonly headers: Readonly<Record<string, string>>;
  /** The part body; a stream must carry its length (UploadPart needs a Content-Length). */
  readonly body: PutBody;
}

/** An UploadPart answer. */
export interface UploadPartResponse extends StoreResponse {
  /** The part's ETag, quoted as OSS sends it. */
  readonly etag: string;
}

/** A part as CompleteMultipartUpload lists it. */
export interface CompletePart {
  /** Part number. */
  readonly partNumber: number;
  /** The ETag UploadPart returned. */
  readonly etag: string;
}

/** A CompleteMultipartUpload answer. */
export interface CompleteResponse extends StoreResponse {
  /** The object's ETag (quoted), when sent. */
  readonly etag: string | undefined;
}

/** One uploaded part, as ListParts reports it. */
export interface ListedPart {
  /** Part number. */
  readonly partNumber: number;
  /** ETag (quoted). */
  readonly etag: string;
  /** Stored size in bytes. */
  readonly size: number;
  /** Last-modified time as sent. */
  readonly lastModified: string;
  /** CRC-64 of the stored part (`HashCrc64ecma`), decimal, when OSS reports it. */
  readonly crc64: string | undefined;
}

/**
 * The client-side-encryption context OSS keeps for an upload, as ListParts reports it (raw strings: the header values
 * of the Initiate request). Absent fields were not reported.
 */
export interface ListedEncryption {
  /** `ClientEncryptionKey`: the wrapped data key (the `-key` header). */
  readonly key: string | undefined;
  /** `ClientEncryptionStart`: the wrapped IV (the `-start` header). */
  readonly start: string | undefined;
  /** `ClientEncryptionCekAlg`. */
  readonly cekAlg: string | undefined;
  /** `ClientEncryptionWrapAlg`. */
  readonly wrapAlg: string | undefined;
  /** `ClientEncryptionDataSize`, decimal. */
  readonly dataSize: string | undefined;
  /** `ClientEncryptionPartSize`, decimal. */
  readonly partSize: string | undefined;
}

/** A ListParts query. */
export interface ListPartsQuery {
  /** Page size (OSS: 1–1000, default 1000). */
  readonly maxParts?: number | undefined;
  /** List parts after this number (the previous page's `nextPartNumberMarker`). */
  readonly partNumberMarker?: number | undefined;
}

/** One page of ListParts. */
export interface ListPartsPage extends StoreResponse {
  /** The parts of this page, ascending. */
  readonly parts: readonly ListedPart[];
  /** True when more pages follow. */
  readonly isTruncated: boolean;
  /** Marker for the next page. */
  readonly nextPartNumberMarker: number | undefined;
  /** The upload's client-side-encryption context, when OSS reports one (any `ClientEncryption*` element present). */
  readonly encryption: ListedEncryption | undefined;
}

/** A ListMultipartUploads query. */
export interface ListUploadsQuery {
  /** Only uploads of keys with this prefix. */
  readonly prefix?: string | undefined;
  /** Page size (OSS: 1–1000). */
  readonly maxUploads?: number | undefined;
  /** Continue after this key. */
  readonly keyMarker?: string | undefined;
  /** Continue after this upload id (with `keyMarker`). */
  readonly uploadIdMarker?: string | undefined;
}

/** An upload in progress. */
export interface ListedUpload {
  /** Object key. */
  readonly key: string;
  /** Upload id. */
  readonly uploadId: string;
  /** Initiation time as sent. */
  readonly initiated: string;
}

/** One page of ListMultipartUploads. */
export interface ListUploadsPage extends StoreResponse {
  /** The uploads of this page. */
  readonly uploads: readonly ListedUpload[];
  /** True when more pages follow. */
  readonly isTruncated: boolean;
  /** Key marker for the next page. */
  readonly nextKeyMarker: string | undefined;
  /** Upload-id marker for the next page. */
  readonly nextUploadIdMarker: string | undefined;
}

/** The multipart operations of the store port. */
export interface MultipartStore {
  /**
   * InitiateMultipartUpload.
   * @throws TransferError; CseError ERR_CSE_ABORTED
   */
  initiateMultipartUpload(location: ObjectLocation, request: InitiateRequest, options?: CallOptions): Promise<InitiateResponse>;
  /**
   * UploadPart. The response's `x-oss-hash-crc64ecma`, when sent, is in `headers` for the caller to check.
   * @throws TransferError (404 `NoSuchUpload`, 400 `InvalidEncryptionRequest`, …); CseError ERR_CSE_ABORTED; for a
   *   stream body that fails, its own CseError, or ERR_CSE_IO for any other error
   */
  uploadPart(location: ObjectLocation, request: UploadPartRequest, options?: CallOptions): Promise<UploadPartResponse>;
  /**
   * CompleteMultipartUpload with the given parts (ascending).
   * @throws TransferError; CseError ERR_CSE_ABORTED
   */
  completeMultipartUpload(
    location: ObjectLocation,
    uploadId: string,
    parts: readonly CompletePart[],
    options?: CallOptions,
    headers?: Readonly<Record<string, string>>,
  ): Promise<CompleteResponse>;
  /**
   * AbortMultipartUpload.
   * @throws TransferError (404 `NoSuchUpload`); CseError ERR_CSE_ABORTED
   */
  abortMultipartUpload(location: ObjectLocation, uploadId: string, options?: CallOptions): Promise<StoreResponse>;
  /**
   * ListParts, one page.
   * @throws TransferError (404 `NoSuchUpload`); CseError ERR_CSE_ABORTED
   */
  listParts(location: ObjectLocation, uploadId: string, query: ListPartsQuery, options?: CallOptions): Promise<ListPartsPage>;
  /**
   * ListMultipartUploads, one page.
   * @throws TransferError; CseError ERR_CSE_ABORTED
   */
  listMultipartUploads(bucket: string, query: ListUploadsQuery, options?: CallOptions): Promise<ListUploadsPage>;
}
