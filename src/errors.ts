/**
 * Typed errors. Every failure oss-cse reports is a {@link CseError}; messages say what failed, on which object and
 * header, and never contain key bytes.
 *
 * The rule (docs/errors.md): `cseCode` is always the stable oss-cse code (`ERR_CSE_…`). `code`, `name` and `status`
 * are what `ali-oss` would have thrown for the same request when the failure is one `ali-oss` reports (an OSS error
 * answer such as `NoSuchKey`, a network failure, or a range OSS would refuse with 416 `InvalidRange`); for every
 * failure oss-cse raises itself, `code` equals `cseCode`. Ported `catch (e) { if (e.code === 'NoSuchKey') … }` code
 * therefore takes the same branch with `EncryptionClient` as with a plain `ali-oss` client.
 *
 * @packageDocumentation
 */

/**
 * The stable error codes. Match on these, never on messages.
 */
export const ErrorCode = {
  /** A required crypto header is absent (the envelope is incomplete). */
  ENVELOPE_MISSING_HEADER: 'ERR_CSE_ENVELOPE_MISSING_HEADER',
  /** A header that must be base64 is not (standard alphabet, padded). */
  ENVELOPE_BAD_BASE64: 'ERR_CSE_ENVELOPE_BAD_BASE64',
  /** A cek-alg or wrap-alg value we do not implement, or one not allowed in this envelope version. */
  ENVELOPE_UNSUPPORTED_ALGORITHM: 'ERR_CSE_ENVELOPE_UNSUPPORTED_ALGORITHM',
  /** The material description is not a JSON object of string values. */
  ENVELOPE_BAD_MATDESC: 'ERR_CSE_ENVELOPE_BAD_MATDESC',
  /** A numeric header (data-size, part-size, unencrypted-content-length, V1 start) is not a valid decimal integer. */
  ENVELOPE_BAD_NUMBER: 'ERR_CSE_ENVELOPE_BAD_NUMBER',
  /** Any other malformed envelope value (e.g. a header value too large, conflicting forms). */
  ENVELOPE_MALFORMED: 'ERR_CSE_ENVELOPE_MALFORMED',
  /** The object carries no client-side-encryption headers at all. */
  NOT_ENCRYPTED: 'ERR_CSE_NOT_ENCRYPTED',
  /** A legacy (V1 or hand-rolled guide) object was met without `allowLegacy`. */
  LEGACY_NOT_ALLOWED: 'ERR_CSE_LEGACY_NOT_ALLOWED',
  /** A master key recognised the envelope but could not unwrap it (wrong key, bad padding, KMS refusal). */
  UNWRAP_FAILED: 'ERR_CSE_UNWRAP_FAILED',
  /** The unwrapped data key or IV has the wrong length. */
  UNWRAP_BAD_LENGTH: 'ERR_CSE_UNWRAP_BAD_LENGTH',
  /** No configured master key could unwrap the object; `errors` lists every key's reason. */
  NO_MATCHING_KEY: 'ERR_CSE_NO_MATCHING_KEY',
  /** A master key cannot do what was asked (e.g. unwrap with only a public key). */
  KEY_UNUSABLE: 'ERR_CSE_KEY_UNUSABLE',
  /** Key material could not be loaded (bad PEM, wrong passphrase, wrong AES key length). */
  INVALID_KEY: 'ERR_CSE_INVALID_KEY',
  /** An argument is out of its domain (negative offset, non-integer size, …). */
  INVALID_ARGUMENT: 'ERR_CSE_INVALID_ARGUMENT',
  /** A range that cannot be satisfied (standard range semantics: start past the end). */
  RANGE_NOT_SATISFIABLE: 'ERR_CSE_RANGE_NOT_SATISFIABLE',
  /** Length, CRC64 or MD5 check failed. */
  INTEGRITY: 'ERR_CSE_INTEGRITY',
  /** The transport failed (HTTP error from OSS, connection error). */
  TRANSFER: 'ERR_CSE_TRANSFER',
  /** An operation that cannot work on encrypted objects (append, part copy, image processing, …). */
  UNSUPPORTED_OPERATION: 'ERR_CSE_UNSUPPORTED_OPERATION',
  /** KMS answered with an error or could not be reached. */
  KMS: 'ERR_CSE_KMS',
  /** The application's key broker (`KeyBrokerMasterKey`) could not be reached or gave an unusable answer. */
  KEY_BROKER: 'ERR_CSE_KEY_BROKER',
  /** The key broker's `authorize` refused the request (HTTP 403 from `createKeyBroker`). */
  KEY_BROKER_REFUSED: 'ERR_CSE_KEY_BROKER_REFUSED',
  /** An optional dependency (e.g. `@alicloud/kms20160120`) is not installed. */
  MISSING_DEPENDENCY: 'ERR_CSE_MISSING_DEPENDENCY',
  /** A multipart upload, checkpoint or context is inconsistent. */
  MULTIPART: 'ERR_CSE_MULTIPART',
  /** The operation was aborted through its `AbortSignal`. */
  ABORTED: 'ERR_CSE_ABORTED',
  /** A file-system operation failed (reading input, writing output). */
  IO: 'ERR_CSE_IO',
  /** An OSS inventory (manifest, checksum or CSV data file) is malformed or fails its checksum. */
  INVENTORY: 'ERR_CSE_INVENTORY',
  /** A migration journal is unreadable, or was written by a different job (another bucket, prefix, shard or target). */
  JOURNAL: 'ERR_CSE_JOURNAL',
  /** An object changed (another writer) while it was being migrated; it was left as the other writer made it. */
  CONCURRENT_MODIFICATION: 'ERR_CSE_CONCURRENT_MODIFICATION',
} as const;

/** One of the stable {@link ErrorCode} values. */
export type CseErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Where an error happened: the object and header it concerns, when known. */
export interface CseErrorContext {
  /** The object key (name) the operation was about. */
  readonly object?: string;
  /** The header (lower-case) whose value was at fault. */
  readonly header?: string;
  /** Whether retrying the same operation may succeed (transient network or server errors). */
  readonly retryable?: boolean;
}

/** Options for constructing a {@link CseError}. */
export interface CseErrorOptions extends CseErrorContext {
  /** The underlying error. */
  readonly cause?: unknown;
}

/**
 * The base of every error oss-cse throws. Match on {@link CseError.cseCode} for oss-cse's stable classification; on
 * `code` for ali-oss-compatible branches (see the module rule and docs/errors.md).
 */
export class CseError extends Error {
  /**
   * `ali-oss`'s `code` when the failure is one `ali-oss` reports (`NoSuchKey`, `AccessDenied`, `InvalidRange`,
   * `ConnectionTimeoutError`, …, see {@link TransferError}); otherwise the same value as {@link CseError.cseCode}.
   */
  readonly code: string;
  /** The stable oss-cse code, one of {@link ErrorCode}, on every error. */
  readonly cseCode: CseErrorCode;
  /** The object key concerned, when known. */
  readonly object: string | undefined;
  /** The header concerned, when known. */
  readonly header: string | undefined;
  /** True when retrying may succeed. */
  readonly retryable: boolean;

  /**
   * @param code - one of {@link ErrorCode}
   * @param message - what failed; never key bytes
   * @param options - object, header, retryable flag and cause
   */
  constructor(code: CseErrorCode, message: string, options: CseErrorOptions = {}) {
    super(decorate(message, options), options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CseError';
    this.code = code;
    this.cseCode = code;
    this.object = options.object;
    this.header = options.header;
    this.retryable = options.retryable ?? false;
  }
}

function decorate(message: string, ctx: CseErrorContext): string {
  const where: string[] = [];
  if (ctx.object !== undefined) where.push(`object ${JSON.stringify(ctx.object)}`);
  if (ctx.header !== undefined) where.push(`header ${ctx.header}`);
  return where.length === 0 ? message : `${message} (${where.join(', ')})`;
}

/** One master key's reason for not decrypting an object, as listed by {@link NoMatchingKeyError}. */
export interface KeyAttempt {
  /** The key's display name (never secret). */
  readonly key: string;
  /** The key's material description, as compact JSON. */
  readonly description: string;
  /** Why it did not work. */
  readonly reason: string;
  /** The error, if the key threw. */
  readonly error?: unknown;
}

/**
 * No configured master key could unwrap an object. Lists the object's material description and every key's reason.
 */
export class NoMatchingKeyError extends CseError {
  /** Every key that was considered, with its reason. */
  readonly attempts: readonly KeyAttempt[];
  /** The object's material description as compact JSON (`{}` when absent). */
  readonly objectDescription: string;

  /**
   * @param objectDescription - the object's matdesc, compact JSON
   * @param attempts - each key and why it did not work
   * @param options - object and cause
   */
  constructor(objectDescription: string, attempts: readonly KeyAttempt[], options: CseErrorOptions = {}) {
    const list =
      attempts.length === 0
        ? 'no keys of the object\'s kind are configured'
        : attempts.map((a) => `${a.key} ${a.description}: ${a.reason}`).join('; ');
    super(
      ErrorCode.NO_MATCHING_KEY,
      `no master key could decrypt the object (object matdesc ${objectDescription}): ${list}`,
      options,
    );
    this.name = 'NoMatchingKeyError';
    this.attempts = attempts;
    this.objectDescription = objectDescription;
  }
}

/** Extra details of a failed OSS request. */
export interface TransferErrorDetails extends CseErrorOptions {
  /** HTTP status, when a response arrived (ali-oss's `-1`/`-2` for network failures and timeouts). */
  readonly status?: number;
  /** OSS error code (`NoSuchKey`, …), when OSS answered with one. */
  readonly ossCode?: string;
  /** `x-oss-request-id`, when known. */
  readonly requestId?: string;
  /** OSS's `HostId`, when the error body carried one. */
  readonly hostId?: string;
  /** OSS's `EC` (error detail code), when the error body carried one. */
  readonly ecCode?: string;
  /** The request parameters, as ali-oss attaches them to its errors. */
  readonly params?: unknown;
  /** ali-oss's `code` for this failure (an OSS code, or a network error name such as `ConnectionTimeoutError`). */
  readonly aliCode?: string;
  /** ali-oss's `name` for this failure (`NoSuchKeyError`, `UnknownError`, `RequestError`, …). */
  readonly aliName?: string;
  /** The oss-cse classification: {@link ErrorCode.TRANSFER} (default) or {@link ErrorCode.RANGE_NOT_SATISFIABLE}. */
  readonly cseCode?: typeof ErrorCode.TRANSFER | typeof ErrorCode.RANGE_NOT_SATISFIABLE;
}

/**
 * An OSS request failed, with ali-oss's error shape: for a failure `ali-oss` reports, `name`, `code`, `status`,
 * `requestId`, `hostId`, `ecCode` and `params` are what `ali-oss` would have thrown (`NoSuchKeyError`, `NoSuchKey`,
 * 404, …), so ported error handling takes the same branch; `cseCode` is `ERR_CSE_TRANSFER` (or
 * `ERR_CSE_RANGE_NOT_SATISFIABLE` for 416 `InvalidRange`). A transport failure oss-cse detects itself (an answer that
 * contradicts the request) has `name` `TransferError` and `code` equal to `cseCode`.
 */
export class TransferError extends CseError {
  /** ali-oss's `code` (see {@link CseError.code}), or `cseCode` when ali-oss would have none. */
  override readonly code: string;
  /** HTTP status, when a response arrived (ali-oss's `-1`/`-2` for network failures and timeouts). */
  readonly status: number | undefined;
  /** OSS error code, when OSS answered with one (the same as `code` then). */
  readonly ossCode: string | undefined;
  /** OSS request id, when known. */
  readonly requestId: string | undefined;
  /** OSS's `HostId`, when known. */
  readonly hostId: string | undefined;
  /** OSS's `EC` detail code, when known. */
  readonly ecCode: string | undefined;
  /** The request parameters (ali-oss attaches them to its errors). */
  readonly params: unknown;

  /**
   * @param message - what failed
   * @param details - status, OSS code, request id, ali-oss's name and code, object and cause
   */
  constructor(message: string, details: TransferErrorDetails = {}) {
    const cseCode = details.cseCode ?? ErrorCode.TRANSFER;
    super(cseCode, message, details);
    this.name = details.aliName ?? 'TransferError';
    this.code = details.aliCode ?? cseCode;
    this.status = details.status;
    this.ossCode = details.ossCode;
    this.requestId = details.requestId;
    this.hostId = details.hostId;
    this.ecCode = details.ecCode;
    this.params = details.params;
  }
}

/** True when `e` is a {@link CseError}, optionally with the given stable code (compared with `cseCode`). */
export function isCseError(e: unknown, code?: CseErrorCode): e is CseError {
  return e instanceof CseError && (code === undefined || e.cseCode === code);
}
