/**
 * oss-cse: client-side encryption for Alibaba Cloud OSS, byte-compatible with the official SDKs.
 *
 * Most users need only the offline API ({@link encryptObject}, {@link decryptObject}) or the client, and a master
 * key ({@link RsaMasterKey}). The format, cipher and key-ring pieces are exported for tools and tests.
 *
 * @packageDocumentation
 * @module oss-cse
 */

// Errors
export { CseError, ErrorCode, NoMatchingKeyError, TransferError, isCseError } from './errors.js';
export type { CseErrorCode, CseErrorContext, CseErrorOptions, KeyAttempt, TransferErrorDetails } from './errors.js';

// Client (wraps an ali-oss instance)
export { EncryptionClient, createOssClient, summarizeEnvelope } from './client.js';
export type {
  AliOssClient,
  CallOptions,
  CheckpointOption,
  CompleteMultipartUploadResult,
  CopyOptions,
  CopyResult,
  EncryptionClientOptions,
  EnvelopeSummary,
  GetOptions,
  GetResult,
  GetStreamResult,
  GetToFileResult,
  HeadResult,
  InitMultipartUploadOptions,
  InitMultipartUploadResult,
  ListPartsQueryOptions,
  ListPartsResult,
  ListQueryV1,
  ListQueryV2,
  ListResultV1,
  ListResultV2,
  ListUploadsQueryOptions,
  ListUploadsResult,
  ListedObjectInfo,
  MultipartUploadOptions,
  MultipartUploadResult,
  OssConnectionOptions,
  PutInput,
  PutOptions,
  PutResult,
  RangeOption,
  ReadFacts,
  ResumableDownloadOptions,
  ResumableDownloadResult,
  UploadPartResult,
} from './client.js';

// Multipart upload, resumable download, checkpoints
export { MultipartUploadError } from './transfer/multipart-upload.js';
export type { PartFailure, UploadProgress, UploadProgressInfo } from './transfer/multipart-upload.js';
export { DownloadError, ObjectChangedError } from './transfer/resumable-download.js';
export type { DownloadProgress, DownloadProgressInfo } from './transfer/resumable-download.js';
export type { MultipartContext, PartListEntry, UploadedPart } from './transfer/multipart.js';
export {
  FileCheckpointStore,
  MemoryCheckpointStore,
  defaultCheckpointDir,
  defaultCheckpointPath,
  parseDownloadCheckpoint,
  parseUploadCheckpoint,
} from './transfer/checkpoint.js';
export type {
  CheckpointKeyInfo,
  CheckpointPart,
  CheckpointSource,
  CheckpointStore,
  DownloadCheckpoint,
  DownloadCheckpointPart,
  UploadCheckpoint,
} from './transfer/checkpoint.js';

// Transport port (for custom stores and tests)
export { AliOssStore } from './transfer/ali-oss-store.js';
export type { AliOssStoreOptions } from './transfer/ali-oss-store.js';
export type {
  CompletePart,
  CompleteResponse,
  InitiateRequest,
  InitiateResponse,
  ListPartsPage,
  ListPartsQuery,
  ListUploadsPage,
  ListUploadsQuery,
  ListedEncryption,
  ListedPart,
  ListedUpload,
  MultipartStore,
  UploadPartRequest,
  UploadPartResponse,
} from './transfer/multipart-store.js';
export type {
  CallOptions as StoreCallOptions,
  CopyRequest,
  BucketInfo,
  CopyResponse,
  GetResponse,
  ListPage,
  ListQuery,
  ListV1Page,
  ListV1Query,
  ListedObject,
  ObjectLocation,
  ObjectStore,
  PutBody,
  PutRequest,
  ReadRequest,
  ResponseHeaders,
  ResponseInfo,
  StoreResponse,
} from './transfer/store.js';
export { Crc64, crc64, crc64Combine } from './transfer/crc64.js';
export { DEFAULT_REWRAP_PARALLEL, carriedHeaders, rewrapObject, rewrapPrefix } from './transfer/rewrap.js';
export type {
  RewrapKeyInfo,
  RewrapObjectOptions,
  RewrapObjectResult,
  RewrapOptions,
  RewrapPrefixOptions,
  RewrapPrefixResult,
  RewrapSkipReason,
  RewrapVerification,
} from './transfer/rewrap.js';

// Offline API
export { decryptObject, encryptObject, openEnvelope, sealEnvelope } from './object-crypto.js';
export type {
  BodyInput,
  DecryptOptions,
  EncryptedInput,
  EncryptedObject,
  OpenOptions,
  OpenedEnvelope,
  SealOptions,
  SealedEnvelope,
} from './object-crypto.js';

// Master keys
export type { MasterKey, MasterKeyKind, UnwrapContext } from './keys/master-key.js';
export { RsaMasterKey, generateRsaKeyPair, unpadPkcs1v15, MAX_GENERATED_RSA_BITS, MIN_RSA_BITS } from './keys/rsa.js';
export type {
  GenerateRsaKeyPairOptions,
  GeneratedRsaKeyPair,
  Pkcs1Unpadded,
  RsaMasterKeyOptions,
  RsaWrapPadding,
} from './keys/rsa.js';
export { KmsMasterKey, KmsRequestError } from './keys/kms.js';
export type {
  KmsAction,
  KmsMasterKeyClientOptions,
  KmsMasterKeyCommonOptions,
  KmsMasterKeyEndpointOptions,
  KmsMasterKeyOptions,
  KmsRequestErrorDetails,
  KmsRetryOptions,
  KmsWriteForm,
} from './keys/kms.js';
export { KMS_SDK_PACKAGE, classifyKmsError } from './keys/kms-client.js';
export type {
  KmsClientLike,
  KmsCredentials,
  KmsDecryptRequest,
  KmsDecryptResult,
  KmsDescribeKeyRequest,
  KmsDescribeKeyResult,
  KmsEncryptRequest,
  KmsEncryptResult,
  KmsFailureInfo,
  KmsSdkLoader,
} from './keys/kms-client.js';
export { CachingMasterKey, MAX_CACHE_ENTRIES } from './keys/caching-master-key.js';
export type { CachingMasterKeyOptions } from './keys/caching-master-key.js';
export { DataKeyCachingMasterKey, MAX_OBJECTS_PER_DATA_KEY } from './keys/data-key-cache.js';
export type { DataKeyCacheOptions } from './keys/data-key-cache.js';
export type { SealHint, SealedMaterial } from './keys/master-key.js';
export { KeyRing, kindOfScheme } from './keys/key-ring.js';
export type { KeyRingOptions, KeySelectionPolicy, UnwrapResult } from './keys/key-ring.js';

// Format (pure)
export type { ContentMaterial, Envelope, EnvelopeVersion, MatDesc, WrapScheme, WrappedMaterial } from './format/types.js';
export {
  MAX_CRYPTO_HEADER_LENGTH,
  buildV2Envelope,
  cryptoHeaderNames,
  detectEnvelopeVersion,
  encodeEnvelope,
  isCryptoHeader,
  isMd5Base64,
  kmsCiphertextBlob,
  parseEnvelope,
  pickCryptoHeaders,
} from './format/envelope.js';
export type { BuildV2EnvelopeOptions, HeaderInput, KmsBlobForm, ParseEnvelopeOptions } from './format/envelope.js';
export { MATDESC_MAX_LENGTH, encodeMatDesc, matDescEquals, parseMatDesc } from './format/matdesc.js';
export { BLOCK_SIZE, DATA_KEY_SIZE, IV_SIZE, counterAt, counterBlockFromDecimal } from './format/layout.js';
export { alignedFetchRange, parseContentRange, parseRangeHeader, resolveRange } from './format/range.js';
export type { AlignedFetchRange, ByteRange, ContentRange, RangeResolution } from './format/range.js';
export {
  DEFAULT_PART_SIZE,
  MAX_PARTS,
  MAX_PART_SIZE,
  MIN_PART_SIZE,
  choosePartSize,
  partBounds,
  partCount,
  validatePartSize,
} from './format/parts.js';
export type { PartBounds } from './format/parts.js';
export { CekAlgorithm, GuideHeader, V1Header, V2Header, WrapAlgorithm } from './format/headers.js';

// Cipher
export { createCtrCipher, ctrXor } from './cipher/aes-ctr.js';
export type { CtrCipher } from './cipher/aes-ctr.js';
export { createCtrStream, ctrTransform } from './cipher/transform.js';
export type { ChunkTransform } from './cipher/transform.js';
export { randomContentMaterial, zeroMaterial } from './cipher/material.js';
