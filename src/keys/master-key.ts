/**
 * The master-key seam between the envelope format and key management.
 *
 * @packageDocumentation
 */

import type { ContentMaterial, Envelope, MatDesc, WrappedMaterial } from '../format/types.js';

/** What the write path knows about an object when it asks a key for material ({@link MasterKey.sealMaterial}). */
export interface SealHint {
  /** The plaintext length, when known before the upload starts (files, buffers, declared streams, multipart). */
  readonly plaintextLength?: number | undefined;
}

/** Material chosen by the master key together with its wrapped form. */
export interface SealedMaterial {
  /** The data key and IV to encrypt with (the caller's copy: it zeroes it after use). */
  readonly material: ContentMaterial;
  /** Their wrapped form for the envelope. */
  readonly wrapped: WrappedMaterial;
}

/** Which family of master key this is. */
export type MasterKeyKind = 'rsa' | 'kms';

/** Context passed to {@link MasterKey.unwrap} for error messages. */
export interface UnwrapContext {
  /** The object key being decrypted. */
  readonly object?: string;
}

/**
 * A master key: wraps a fresh data key and IV for writing, and unwraps an object's envelope for reading.
 *
 * Contract (as in age and typage): `unwrap` returns `null` for "not mine" (an envelope of another wrap scheme, e.g. a
 * KMS envelope given to an RSA key) and throws a {@link CseError} for everything else that fails (bad padding, a
 * ciphertext of the wrong size for this key, a wrong-length result, KMS refusal, no private key), so that a key ring
 * can report each key's reason.
 */
export interface MasterKey {
  /** Which family of key. */
  readonly kind: MasterKeyKind;
  /** A display name for listings and errors (e.g. `rsa-2048:1f2e3d4c5b6a7988`); never secret. */
  readonly name: string;
  /** The material description written with objects this key encrypts and matched on read (`{}` when none). */
  readonly description: MatDesc;
  /**
   * `false` when this key cannot unwrap at all (an RSA public key without its private half); absent or `true`
   * otherwise. Lets callers such as rewrap choose how to verify without provoking an error.
   */
  readonly canUnwrap?: boolean;
  /**
   * Wraps a data key and IV.
   * @throws CseError ERR_CSE_KEY_UNUSABLE when this key cannot encrypt; ERR_CSE_KMS on KMS failure
   */
  wrap(material: ContentMaterial): Promise<WrappedMaterial>;
  /**
   * Optional: chooses the material for a new object itself and returns it with its wrapped form. Keys that can save
   * work by choosing (the opt-in data-key cache reuses one KMS-wrapped data key across objects, each with its own IV)
   * implement it; the write path calls it instead of fresh random material + {@link MasterKey.wrap}.
   * @throws CseError as {@link MasterKey.wrap}
   */
  sealMaterial?(hint: SealHint): Promise<SealedMaterial>;
  /**
   * Unwraps an envelope.
   * @returns the content material, or `null` when the envelope is not for this kind of key
   * @throws CseError ERR_CSE_UNWRAP_FAILED, ERR_CSE_UNWRAP_BAD_LENGTH, ERR_CSE_KEY_UNUSABLE, ERR_CSE_KMS
   */
  unwrap(envelope: Envelope, context?: UnwrapContext): Promise<ContentMaterial | null>;
}
