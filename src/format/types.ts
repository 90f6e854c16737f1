/**
 * The values the format layer parses and encodes. Pure data: no I/O, no crypto.
 *
 * @packageDocumentation
 */

/**
 * A material description: the JSON string→string map stored in the `matdesc` header. Compared as a map (order and
 * spacing irrelevant); an absent header equals `{}`.
 */
export type MatDesc = Readonly<Record<string, string>>;

/**
 * Which header family an envelope came from.
 * - `v2`: `x-oss-meta-client-side-encryption-*` (every current SDK);
 * - `v1`: `x-oss-meta-oss-crypto-*` (oss2 2.5–2.10; legacy, opt-in);
 * - `guide`: `x-oss-meta-x-oss-key`/`-start` from Alibaba's original hand-rolled guide (legacy, opt-in).
 */
export type EnvelopeVersion = 'v2' | 'v1' | 'guide';

/**
 * How the data key and start were wrapped, normalised across versions:
 * - `rsa-pkcs1`: RSAES-PKCS1-v1_5 (`RSA/NONE/PKCS1Padding`);
 * - `rsa-oaep-sha1`: RSA-OAEP, SHA-1, MGF1-SHA-1, empty label (V2 `RSA/NONE/OAEPWithSHA-1AndMGF1Padding`, V1 `rsa`,
 *   guide);
 * - `kms`: Alibaba Cloud KMS (`KMS/ALICLOUD`, V1 `kms`).
 */
export type WrapScheme = 'rsa-pkcs1' | 'rsa-oaep-sha1' | 'kms';

/**
 * What an encrypted object's metadata carries. Wrapped values are kept as the exact header strings, so that
 * `encodeEnvelope(parseEnvelope(h))` gives back `h`; key wrappers decode them (RSA: base64 → ciphertext; KMS: the
 * header is the CiphertextBlob in the Go/Java form, base64 of it in the oss2 form).
 */
export interface Envelope {
  /** Header family. */
  readonly version: EnvelopeVersion;
  /** Normalised wrap scheme. */
  readonly scheme: WrapScheme;
  /** The wrap-alg header value as found (`undefined` when absent: V1 may omit it, the guide form never has it). */
  readonly wrapAlgorithm: string | undefined;
  /** The cek-alg header value as found (`undefined` when absent: V1 may omit it, the guide form never has it). */
  readonly cekAlgorithm: string | undefined;
  /** The wrapped data key header, verbatim. */
  readonly wrappedKey: string;
  /**
   * The wrapped start header, verbatim. In V2 it unwraps to the 16-byte IV (initial counter block); in V1 and the
   * guide form to the ASCII decimal initial counter.
   */
  readonly wrappedStart: string;
  /** The material description as a map (`{}` when the header is absent). */
  readonly matdesc: MatDesc;
  /** The matdesc header verbatim, when present (Go compares it as a string; we compare maps). */
  readonly matdescRaw: string | undefined;
  /** `…-unencrypted-content-md5`: the caller's Content-MD5 of the plaintext (base64), informational. */
  readonly unencryptedContentMd5: string | undefined;
  /** `…-unencrypted-content-length`: the plaintext length the writer declared. */
  readonly unencryptedContentLength: number | undefined;
  /** Multipart: total plaintext size. */
  readonly dataSize: number | undefined;
  /** Multipart: part size (a multiple of 16). */
  readonly partSize: number | undefined;
}

/**
 * The plaintext content material of one object: the AES-256 data key and the initial counter block. Short-lived;
 * zero it after use.
 */
export interface ContentMaterial {
  /** 32 bytes. */
  readonly key: Uint8Array;
  /** 16 bytes: the initial counter block (V2: the IV; V1/guide: the decimal start as a 128-bit big-endian integer). */
  readonly iv: Uint8Array;
}

/** What a master key produces when wrapping: the V2 header values. */
export interface WrappedMaterial {
  /** The wrap-alg header value (`RSA/NONE/PKCS1Padding`, `RSA/NONE/OAEPWithSHA-1AndMGF1Padding`, `KMS/ALICLOUD`). */
  readonly wrapAlgorithm: string;
  /** The `-key` header value. */
  readonly wrappedKey: string;
  /** The `-start` header value. */
  readonly wrappedStart: string;
}
