/**
 * The emulator's CiphertextBlob: AES-GCM under the key's secret, binding the key, its version and the encryption
 * context.
 *
 * Layout (version 1), base64 (standard alphabet, padded) of:
 *
 * | offset | size | field                                                   |
 * |-------:|-----:|---------------------------------------------------------|
 * |      0 |    1 | format version, `0x01`                                  |
 * |      1 |   16 | key id (a UUID, as its 16 raw bytes)                    |
 * |     17 |   16 | key version id (a UUID, as its 16 raw bytes)            |
 * |     33 |   12 | GCM nonce (random)                                      |
 * |     45 |    n | ciphertext of the UTF-8 bytes of the `Plaintext` string |
 * |   45+n |   16 | GCM tag                                                 |
 *
 * AAD = `oss-cse-kms-blob-v1` ‖ 0x00 ‖ bytes 0..44 ‖ 0x00 ‖ canonical encryption context (UTF-8).
 * Like real KMS, the blob names its key so `Decrypt` needs no `KeyId`, and the context is not stored: it must be given again on Decrypt.
 *
 * @packageDocumentation
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/** Format version byte of the blobs this module writes. */
export const BLOB_VERSION = 1;
const HEADER_LENGTH = 1 + 16 + 16 + 12;
const TAG_LENGTH = 16;
const NONCE_OFFSET = 33;
const AAD_LABEL = Buffer.from('oss-cse-kms-blob-v1\0', 'utf8');
const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A canonical encryption context: the JSON object with its names sorted (`{}` when there is none). */
export type CanonicalContext = string & { readonly __canonicalContext: unique symbol };

/**
 * Canonicalizes an encryption context so that equivalent contexts (same pairs, any order or spacing) compare equal.
 *
 * @param pairs - the context's name/value pairs
 * @returns compact JSON with names in UTF-16 code unit order; an empty context gives `{}`
 */
export function canonicalContext(pairs: ReadonlyMap<string, string>): CanonicalContext {
  // Built by hand: JSON.stringify of an object would move integer-like names first.
  const names = [...pairs.keys()].sort();
  const body = names.map((name) => `${JSON.stringify(name)}:${JSON.stringify(pairs.get(name) ?? '')}`).join(',');
  return `{${body}}` as CanonicalContext;
}

/** Tells whether a string is a lower-case UUID (the form of the emulator's key and key version ids). */
export function isUuid(text: string): boolean {
  return UUID_PATTERN.test(text);
}

function uuidToBytes(uuid: string): Buffer {
  if (!isUuid(uuid)) throw new Error(`not a UUID: ${uuid}`);
  return Buffer.from(uuid.replace(/-/g, ''), 'hex');
}

function bytesToUuid(bytes: Buffer): string {
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function gcmAlgorithm(secret: Buffer): 'aes-128-gcm' | 'aes-256-gcm' {
  if (secret.length === 32) return 'aes-256-gcm';
  if (secret.length === 16) return 'aes-128-gcm';
  throw new Error(`key secret must be 16 or 32 bytes, got ${secret.length}`);
}

function aad(header: Buffer, context: CanonicalContext): Buffer {
  return Buffer.concat([AAD_LABEL, header, Buffer.from([0]), Buffer.from(context, 'utf8')]);
}

/** What {@link sealBlob} needs. */
export interface SealInput {
  readonly keyId: string;
  readonly keyVersionId: string;
  /** The key's secret: 32 bytes (AES-256-GCM) or 16 bytes (AES-128-GCM). */
  readonly secret: Buffer;
  readonly context: CanonicalContext;
  /** The `Plaintext` string, sealed as its UTF-8 bytes (Decrypt returns the same string). */
  readonly plaintext: string;
}

/**
 * Encrypts a plaintext string into a CiphertextBlob.
 *
 * @returns the blob, base64 text
 * @throws Error when the ids are not UUIDs or the secret has a bad length (programming errors)
 */
export function sealBlob(input: SealInput): string {
  const header = Buffer.concat([
    Buffer.from([BLOB_VERSION]),
    uuidToBytes(input.keyId),
    uuidToBytes(input.keyVersionId),
    randomBytes(12),
  ]);
  const cipher = createCipheriv(gcmAlgorithm(input.secret), input.secret, header.subarray(NONCE_OFFSET), {
    authTagLength: TAG_LENGTH,
  });
  cipher.setAAD(aad(header, input.context));
  const body = Buffer.concat([cipher.update(input.plaintext, 'utf8'), cipher.final()]);
  return Buffer.concat([header, body, cipher.getAuthTag()]).toString('base64');
}

/** A blob whose layout is valid; its authenticity is checked by {@link openBlob}. */
export interface ParsedBlob {
  readonly keyId: string;
  readonly keyVersionId: string;
  readonly raw: Buffer;
}

/**
 * Parses a CiphertextBlob's layout (no decryption).
 *
 * @param blob - the `CiphertextBlob` parameter
 * @returns the parsed blob, or null when it is not canonical base64, too short, or of an unknown version
 */
export function parseBlob(blob: string): ParsedBlob | null {
  if (blob.length === 0 || blob.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(blob)) return null;
  const raw = Buffer.from(blob, 'base64');
  // Reject non-canonical encodings (non-zero padding bits): a blob has exactly one spelling.
  if (raw.toString('base64') !== blob) return null;
  if (raw.length < HEADER_LENGTH + TAG_LENGTH || raw[0] !== BLOB_VERSION) return null;
  return {
    keyId: bytesToUuid(raw.subarray(1, 17)),
    keyVersionId: bytesToUuid(raw.subarray(17, 33)),
    raw,
  };
}

/**
 * Decrypts and authenticates a parsed blob.
 *
 * @param blob - from {@link parseBlob}
 * @param secret - the secret of the key the blob names
 * @param context - the canonical context given to Decrypt
 * @returns the plaintext string, or null when authentication fails (wrong context, tampered blob, wrong secret)
 */
export function openBlob(blob: ParsedBlob, secret: Buffer, context: CanonicalContext): string | null {
  const header = blob.raw.subarray(0, HEADER_LENGTH);
  const body = blob.raw.subarray(HEADER_LENGTH, blob.raw.length - TAG_LENGTH);
  const tag = blob.raw.subarray(blob.raw.length - TAG_LENGTH);
  const decipher = createDecipheriv(gcmAlgorithm(secret), secret, header.subarray(NONCE_OFFSET), {
    authTagLength: TAG_LENGTH,
  });
  decipher.setAAD(aad(header, context));
  decipher.setAuthTag(tag);
  try {
    const plain = Buffer.concat([decipher.update(body), decipher.final()]);
    return new TextDecoder('utf-8', { fatal: true }).decode(plain);
  } catch {
    return null;
  }
}
