/**
 * Typed errors. Every failure oss-cse reports is a {@link CseError} with a stable `code`; messages say what failed,
 * on which object and header, and never contain key bytes.
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
 * The base of every error oss-cse throws.
 */
export class CseError extends Error {
  /** Stable machine-readable code. */
  readonly code: CseErrorCode;
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
  /** HTTP status, when a response arrived. */
  readonly status?: number;
  /** OSS error code (`NoSuchKey`, …), when the body carried one. */
  readonly ossCode?: string;
  /** `x-oss-request-id`, when known. */
  readonly requestId?: string;
}

/**
 * An OSS request failed. Keeps the HTTP status, OSS error code and request id for support tickets.
 */
export class TransferError extends CseError {
  /** HTTP status, when a response arrived. */
  readonly status: number | undefined;
  /** OSS error code, when known. */
  readonly ossCode: string | undefined;
  /** OSS request id, when known. */
  readonly requestId: string | undefined;

  /**
   * @param message - what failed
   * @param details - status, OSS code, request id, object and cause
   */
  constructor(message: string, details: TransferErrorDetails = {}) {
    super(ErrorCode.TRANSFER, message, details);
    this.name = 'TransferError';
    this.status = details.status;
    this.ossCode = details.ossCode;
    this.requestId = details.requestId;
  }
}

/** True when `e` is a {@link CseError}, optionally with the given code. */
export function isCseError(e: unknown, code?: CseErrorCode): e is CseError {
  return e instanceof CseError && (code === undefined || e.code === code);
}
