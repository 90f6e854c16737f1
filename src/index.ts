/**
 * oss-cse: client-side encryption for Alibaba Cloud OSS, byte-compatible with the official SDKs.
 *
 * The public API, deliberately small: the client ({@link EncryptionClient}, over your own `ali-oss` client), master
 * keys ({@link RsaMasterKey}, {@link KmsMasterKey}, {@link CachingMasterKey}) and the {@link KeyRing}, the errors
 * (docs/errors.md), the offline API ({@link encryptObject}, {@link decryptObject}, {@link sealEnvelope},
 * {@link openEnvelope}), the checkpoint stores, the transport port for custom stores, and the types these need.
 * Format, cipher and CRC internals are not exported; `etc/oss-cse.api.d.ts` is the checked-in report of this surface
 * (`npm run api:update` regenerates it, test/package/api-report.test.ts fails when it is stale).
 *
 * @packageDocumentation
 * @module oss-cse
 */

// Errors
export { CseError, ErrorCode, NoMatchingKeyError, TransferError, isCseError } from './errors.js';
export type { CseErrorCode, CseErrorContext, CseErrorOptions, KeyAttempt, TransferErrorDetails } from './errors.js';

// Client (wraps an ali-oss instance)
export { EncryptionClient, createOssClient } from './client.js';
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
export type { DonePart, MultipartUploadCheckpoint, PartFailure, UploadProgress, UploadProgressInfo } from './transfer/multipart-upload.js';
export type { UploadCallback } from './transfer/callback.js';
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
export type {
  MigrateObjectResult,
  MigrateOptions,
  MigratePrefixOptions,
  MigratePrefixResult,
  MigrationFrom,
  MigrationKeyInfo,
  MigrationKind,
  MigrationMethod,
  MigrationOnly,
  MigrationResultKind,
  MigrationSkipReason,
} from './bulk/migrate-types.js';
export { DEFAULT_MIGRATE_MULTIPART_THRESHOLD, DEFAULT_MIGRATE_PARALLEL, DEFAULT_STAGING_PREFIX, MIGRATION_ONLY_VALUES } from './bulk/migrate-types.js';
export { MAX_SHARDS, parseShard, shardOfKey, type Shard } from './bulk/shard.js';

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
export { RsaMasterKey, generateRsaKeyPair, MAX_GENERATED_RSA_BITS, MIN_RSA_BITS } from './keys/rsa.js';
export type {
  GenerateRsaKeyPairOptions,
  GeneratedRsaKeyPair,
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
export type {
  KmsClientLike,
  KmsCredentials,
  KmsDecryptRequest,
  KmsDecryptResult,
  KmsDescribeKeyRequest,
  KmsDescribeKeyResult,
  KmsEncryptRequest,
  KmsEncryptResult,
  KmsSdkLoader,
} from './keys/kms-client.js';
export { CREDENTIALS_PACKAGE, defaultCredentialChain, resolveChainCredentials } from './keys/credential-chain.js';
export type { ChainCredentials, CredentialChain, CredentialsLoader } from './keys/credential-chain.js';
export { CachingMasterKey, MAX_CACHE_ENTRIES } from './keys/caching-master-key.js';
export type { CachingMasterKeyOptions } from './keys/caching-master-key.js';
export { DataKeyCachingMasterKey, MAX_OBJECTS_PER_DATA_KEY } from './keys/data-key-cache.js';
export type { DataKeyCacheOptions } from './keys/data-key-cache.js';
export type { SealHint, SealedMaterial } from './keys/master-key.js';
export { KeyRing } from './keys/key-ring.js';
export type { KeyRingOptions, KeySelectionPolicy, UnwrapResult } from './keys/key-ring.js';

// Key broker: the server half of oss-cse/browser's KeyBrokerMasterKey (docs/browser.md)
export { KEY_BROKER_MAX_BODY, createKeyBroker } from './broker/key-broker.js';
export type { KeyBrokerOptions, KeyBrokerRequest } from './broker/key-broker.js';
// Types the master-key seam and the offline API need
export type { ContentMaterial, Envelope, EnvelopeVersion, MatDesc, WrapScheme, WrappedMaterial } from './format/types.js';
export type { HeaderInput } from './format/envelope.js';
