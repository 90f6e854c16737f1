/**
 * oss-cse: client-side encryption for Alibaba Cloud OSS, byte-compatible with the official SDKs.
 *
 * @packageDocumentation
 */

export { CseError, ErrorCode, NoMatchingKeyError, TransferError, isCseError } from './errors.js';
export type { CseErrorCode, CseErrorContext, CseErrorOptions, KeyAttempt, TransferErrorDetails } from './errors.js';
export type { ContentMaterial, Envelope, EnvelopeVersion, MatDesc, WrapScheme, WrappedMaterial } from './format/types.js';
export type { MasterKey, MasterKeyKind, UnwrapContext } from './keys/master-key.js';
export { counterAt, BLOCK_SIZE, IV_SIZE, DATA_KEY_SIZE } from './format/layout.js';
