/**
 * The peers' literal spellings: header names and algorithm strings, exactly as the official SDKs write them.
 * This is the only file that spells them (see FORMAT.md §2 and `oss-go-java.md` §1, `oss2-python.md` §2.1, §3).
 *
 * Header names are lower-case, as OSS stores user metadata.
 *
 * @packageDocumentation
 */

/** Prefix OSS puts on every user-metadata header. */
export const USER_META_PREFIX = 'x-oss-meta-';

/** V2 envelope headers (`x-oss-meta-client-side-encryption-*`), written by oss2 ≥ 2.11, Go v1/v2, Java, C++. */
export const V2Header = {
  /** The wrapped data key (base64). */
  KEY: 'x-oss-meta-client-side-encryption-key',
  /** The wrapped IV (base64). */
  START: 'x-oss-meta-client-side-encryption-start',
  /** The content cipher, `AES/CTR/NoPadding`. */
  CEK_ALG: 'x-oss-meta-client-side-encryption-cek-alg',
  /** How the data key and IV are wrapped (RSA padding or KMS). */
  WRAP_ALG: 'x-oss-meta-client-side-encryption-wrap-alg',
  /** The material description (JSON object of strings) naming the master key. */
  MATDESC: 'x-oss-meta-client-side-encryption-matdesc',
  /** Base64 MD5 of the plaintext, when the writer knew it. */
  UNENCRYPTED_CONTENT_MD5: 'x-oss-meta-client-side-encryption-unencrypted-content-md5',
  /** Plaintext length, when the writer knew it. */
  UNENCRYPTED_CONTENT_LENGTH: 'x-oss-meta-client-side-encryption-unencrypted-content-length',
  /** Total plaintext size of a multipart upload. */
  DATA_SIZE: 'x-oss-meta-client-side-encryption-data-size',
  /** Part size of a multipart upload. */
  PART_SIZE: 'x-oss-meta-client-side-encryption-part-size',
} as const;

/** V1 envelope headers (`x-oss-meta-oss-crypto-*`), written by oss2 2.5.0–2.10.0 (`oss2-python.md` §3.1). */
export const V1Header = {
  /** The wrapped data key (V1). */
  KEY: 'x-oss-meta-oss-crypto-key',
  /** The wrapped counter start (V1). */
  START: 'x-oss-meta-oss-crypto-start',
  /** The content cipher name (V1; mislabelled, see FORMAT.md). */
  CEK_ALG: 'x-oss-meta-oss-cek-alg',
  /** How the data key is wrapped (V1). */
  WRAP_ALG: 'x-oss-meta-oss-wrap-alg',
  /** Read if present; oss2 2.10.0 never wrote it (`oss2-python.md` §3.2). */
  MATDESC: 'x-oss-meta-oss-crypto-matdesc',
  /** Note: no `oss-crypto-` in these two names, as 2.10.0 really wrote them. */
  UNENCRYPTED_CONTENT_MD5: 'x-oss-meta-unencrypted-content-md5',
  /** Plaintext length (V1). */
  UNENCRYPTED_CONTENT_LENGTH: 'x-oss-meta-unencrypted-content-length',
} as const;

/**
 * Headers of Alibaba's original "protect data through client encryption" guide, which users hand-rolled before any
 * SDK had the feature: RSA-OAEP-SHA1 of the raw key and of the ASCII decimal start; no algorithm headers.
 */
export const GuideHeader = {
  /** The wrapped data key (hand-rolled guide format). */
  KEY: 'x-oss-meta-x-oss-key',
  /** The wrapped IV (hand-rolled guide format). */
  START: 'x-oss-meta-x-oss-start',
} as const;

/** Content-encryption algorithm labels. */
export const CekAlgorithm = {
  /** The only V2 content algorithm. */
  AES_CTR: 'AES/CTR/NoPadding',
  /** What oss2 ≤ 2.10 wrote in V1, although the cipher is AES-256-CTR (`oss2-python.md` §3.1). */
  V1_MISLABELLED_GCM: 'AES/GCM/NoPadding',
} as const;

/** Key-wrap algorithm labels. */
export const WrapAlgorithm = {
  /** RSAES-PKCS1-v1_5 (Go, Java, C++, oss2 `RsaProvider`). */
  RSA_PKCS1: 'RSA/NONE/PKCS1Padding',
  /** RSA-OAEP with SHA-1 and MGF1-SHA-1, empty label (oss2 ≥ 2.11 `LocalRsaProvider`). */
  RSA_OAEP_SHA1: 'RSA/NONE/OAEPWithSHA-1AndMGF1Padding',
  /** Alibaba Cloud KMS. */
  KMS: 'KMS/ALICLOUD',
  /** V1 RSA (OAEP-SHA1). */
  V1_RSA: 'rsa',
  /** V1 KMS. */
  V1_KMS: 'kms',
} as const;

/** Standard OSS headers the client reads or rewrites. */
export const OssHeader = {
  CRC64: 'x-oss-hash-crc64ecma',
  REQUEST_ID: 'x-oss-request-id',
  RANGE_BEHAVIOR: 'x-oss-range-behavior',
  METADATA_DIRECTIVE: 'x-oss-metadata-directive',
  CONTENT_RANGE: 'content-range',
  CONTENT_LENGTH: 'content-length',
  CONTENT_MD5: 'content-md5',
  CONTENT_TYPE: 'content-type',
  ETAG: 'etag',
} as const;

/** User-Agent suffix the peers append (Go/oss2 spelling). */
export const USER_AGENT_SUFFIX = 'OssEncryptionClient';
