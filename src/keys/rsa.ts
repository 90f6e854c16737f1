/**
 * The RSA master key: wraps and unwraps an object's data key and IV the way the official SDKs do.
 *
 * - `RSA/NONE/PKCS1Padding` (Go, Java, C++, oss2 `RsaProvider`): RSAES-PKCS1-v1_5 of the 32-byte key and, separately,
 *   of the 16-byte IV, each base64 in its header (`oss-go-java.md` §2, `oss2-python.md` §2.2).
 * - `RSA/NONE/OAEPWithSHA-1AndMGF1Padding` (oss2 ≥ 2.11 `LocalRsaProvider`): RSA-OAEP, SHA-1, MGF1-SHA-1, empty label.
 * - V1 (`x-oss-meta-oss-crypto-*`) and the hand-rolled guide form: OAEP of the key and of the ASCII decimal start
 *   counter (`oss2-python.md` §3).
 *
 * @packageDocumentation
 */

import {
  KeyObject,
  constants,
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPair,
  privateDecrypt,
  publicEncrypt,
} from 'node:crypto';
import { CseError, ErrorCode } from '../errors.js';
import { decodeBase64Strict, encodeBase64 } from '../format/base64.js';
import { GuideHeader, V1Header, V2Header, WrapAlgorithm } from '../format/headers.js';
import { DATA_KEY_SIZE, IV_SIZE, counterBlockFromDecimal } from '../format/layout.js';
import type { ContentMaterial, Envelope, EnvelopeVersion, MatDesc, WrappedMaterial } from '../format/types.js';
import type { MasterKey, UnwrapContext } from './master-key.js';
import { firstPemBlock } from './pem.js';

/** Smallest RSA modulus we load. The peers' own test suites use 1024-bit keys, so we cannot ask for more. */
export const MIN_RSA_BITS = 1024;

/** Largest modulus {@link generateRsaKeyPair} makes (key generation time grows as bits^4). */
export const MAX_GENERATED_RSA_BITS = 16384;

/** Which RSA padding {@link RsaMasterKey.wrap} writes. */
export type RsaWrapPadding = 'pkcs1' | 'oaep';

/** How to build an {@link RsaMasterKey}. At least one of `publicKey` and `privateKey` is required. */
export interface RsaMasterKeyOptions {
  /**
   * The public key: PEM `PUBLIC KEY` (SPKI) or `RSA PUBLIC KEY` (PKCS#1), or a public `KeyObject`. Derived from the
   * private key when omitted; checked against it when both are given.
   */
  readonly publicKey?: string | Buffer | KeyObject;
  /**
   * The private key (needed to unwrap): PEM `RSA PRIVATE KEY` (PKCS#1), `PRIVATE KEY` (PKCS#8) or
   * `ENCRYPTED PRIVATE KEY` (with `passphrase`), or a private `KeyObject`.
   */
  readonly privateKey?: string | Buffer | KeyObject;
  /** Passphrase of an encrypted private key PEM. */
  readonly passphrase?: string;
  /** Material description written with objects this key encrypts (default `{}`). */
  readonly description?: MatDesc;
  /** Padding for {@link RsaMasterKey.wrap}: `pkcs1` (default, what Go/Java/C++/oss2 `RsaProvider` read) or `oaep`. */
  readonly wrap?: RsaWrapPadding;
  /** Display name (default `rsa-<bits>:<first 16 hex digits of SHA-256 of the SPKI DER>`). */
  readonly name?: string;
}

/** The result of {@link unpadPkcs1v15}. */
export interface Pkcs1Unpadded {
  /** True when the block is `00 02 PS 00 M` with at least 8 nonzero PS bytes. */
  readonly ok: boolean;
  /** Index of the first message byte (the message is `em[messageStart..]`, possibly empty); meaningless when `!ok`. */
  readonly messageStart: number;
}

/**
 * Checks an RSAES-PKCS1-v1_5 encryption block `EM = 00 || 02 || PS || 00 || M` (RFC 8017 §7.2.2, PS ≥ 8 nonzero
 * bytes) in constant time with respect to its content.
 *
 * Why by hand: Node ≥ 20.11 refuses `privateDecrypt` with `RSA_PKCS1_PADDING` (CVE-2023-46809, the Marvin attack),
 * so we decrypt with `RSA_NO_PADDING` and unpad here (`oss-go-java.md` §2). Why constant time: an unpadding whose
 * running time depends on where the padding first goes wrong is a Bleichenbacher oracle. So every byte of the block
 * is read, the checks are folded into one integer with masks (no early exit, no branch on a byte value; the only
 * branches are on the public position), and the caller branches once on the result.
 *
 * @param em - the k-byte block from `privateDecrypt(…, RSA_NO_PADDING)` (k = modulus length)
 * @returns the validity flag and where the message starts
 */
export function unpadPkcs1v15(em: Uint8Array): Pkcs1Unpadded {
  // Length is public (it is the modulus length). 11 = 00 02 + 8 PS bytes + 00.
  let invalid = em.length < 11 ? 1 : 0;
  let seeking = -1; // all ones until the first zero after the 02 byte has been seen
  let separator = 0;
  let index = 0;
  for (const byte of em) {
    if (index === 0) {
      invalid |= byte;
    } else if (index === 1) {
      invalid |= byte ^ 0x02;
    } else {
      // (byte - 1) >> 31 is -1 (all ones) for byte 0 and 0 for 1..255: a branch-free "is zero" mask.
      const isZero = (byte - 1) >> 31;
      const first = seeking & isZero;
      separator = (separator & ~first) | (index & first);
      seeking &= ~isZero;
    }
    index++;
  }
  invalid |= seeking; // no separator at all
  invalid |= (separator - 10) >> 31; // separator before index 10: PS shorter than 8 bytes
  return { ok: invalid === 0, messageStart: separator + 1 };
}

/** Where each envelope version keeps the wrapped key and start (for error messages). */
const HEADERS: Readonly<Record<EnvelopeVersion, { readonly key: string; readonly start: string }>> = {
  v2: { key: V2Header.KEY, start: V2Header.START },
  v1: { key: V1Header.KEY, start: V1Header.START },
  guide: { key: GuideHeader.KEY, start: GuideHeader.START },
};

const PRIVATE_LABELS = new Set(['RSA PRIVATE KEY', 'PRIVATE KEY', 'ENCRYPTED PRIVATE KEY']);
const PUBLIC_LABELS = new Set(['PUBLIC KEY', 'RSA PUBLIC KEY']);

function loadPrivateKey(input: unknown, passphrase: string | undefined): KeyObject {
  if (input instanceof KeyObject) {
    if (input.type !== 'private') {
      throw new CseError(ErrorCode.INVALID_KEY, `privateKey is a ${input.type} KeyObject, expected a private key`);
    }
    return input;
  }
  if (typeof input !== 'string' && !(input instanceof Uint8Array)) {
    throw new CseError(ErrorCode.INVALID_KEY, 'privateKey must be PEM text (string or Buffer) or a KeyObject');
  }
  const block = firstPemBlock(input, 'private key');
  if (!PRIVATE_LABELS.has(block.label)) {
    throw new CseError(
      ErrorCode.INVALID_KEY,
      `expected an RSA private key PEM (RSA PRIVATE KEY, PRIVATE KEY or ENCRYPTED PRIVATE KEY), found a ${block.label} block`,
    );
  }
  if (block.encrypted && passphrase === undefined) {
    throw new CseError(ErrorCode.INVALID_KEY, 'the private key PEM is encrypted and no passphrase was given');
  }
  try {
    return createPrivateKey({ key: block.text, format: 'pem', ...(passphrase === undefined ? {} : { passphrase }) });
  } catch (cause) {
    // Node/OpenSSL messages name the failing routine, never the key bytes; keep them as the cause.
    const what = block.encrypted ? 'could not decrypt the private key PEM (wrong passphrase?)' : 'could not parse the private key PEM';
    throw new CseError(ErrorCode.INVALID_KEY, what, { cause });
  }
}

function loadPublicKey(input: unknown): KeyObject {
  if (input instanceof KeyObject) {
    if (input.type !== 'public') {
      throw new CseError(ErrorCode.INVALID_KEY, `publicKey is a ${input.type} KeyObject, expected a public key`);
    }
    return input;
  }
  if (typeof input !== 'string' && !(input instanceof Uint8Array)) {
    throw new CseError(ErrorCode.INVALID_KEY, 'publicKey must be PEM text (string or Buffer) or a KeyObject');
  }
  const block = firstPemBlock(input, 'public key');
  // `createPublicKey` would also take a CERTIFICATE or a private key here; accept only what the peers call a public key.
  if (!PUBLIC_LABELS.has(block.label)) {
    throw new CseError(
      ErrorCode.INVALID_KEY,
      `expected an RSA public key PEM (PUBLIC KEY or RSA PUBLIC KEY), found a ${block.label} block`,
    );
  }
  try {
    return createPublicKey({ key: block.text, format: 'pem' });
  } catch (cause) {
    throw new CseError(ErrorCode.INVALID_KEY, 'could not parse the public key PEM', { cause });
  }
}

/** Refuses non-RSA (including RSA-PSS-only) keys and moduli below {@link MIN_RSA_BITS}; returns the bit length. */
function checkRsa(key: KeyObject, role: string): number {
  if (key.asymmetricKeyType !== 'rsa') {
    throw new CseError(ErrorCode.INVALID_KEY, `the ${role} is a ${key.asymmetricKeyType ?? 'non-asymmetric'} key, expected RSA`);
  }
  const bits = key.asymmetricKeyDetails?.modulusLength;
  if (bits === undefined || bits < MIN_RSA_BITS) {
    throw new CseError(ErrorCode.INVALID_KEY, `the ${role} is RSA-${bits ?? '?'}; at least ${MIN_RSA_BITS} bits are required`);
  }
  return bits;
}

function isWrapPadding(x: unknown): x is RsaWrapPadding {
  return x === 'pkcs1' || x === 'oaep';
}

function copyDescription(description: MatDesc | undefined): MatDesc {
  if (description === undefined) return Object.freeze({});
  if (typeof description !== 'object' || Array.isArray(description) || (description as unknown) === null) {
    throw new CseError(ErrorCode.INVALID_ARGUMENT, 'description must be an object of string values');
  }
  const copy: Record<string, string> = {};
  for (const [k, v] of Object.entries(description)) {
    if (typeof v !== 'string') {
      throw new CseError(ErrorCode.INVALID_ARGUMENT, `description value for ${JSON.stringify(k)} must be a string`);
    }
    copy[k] = v;
  }
  return Object.freeze(copy);
}

function contextOf(object: string | undefined, header: string): { object?: string; header: string } {
  return object === undefined ? { header } : { object, header };
}

/**
 * An RSA master key (see the module doc for the wire forms).
 *
 * `unwrap` returns `null` for KMS envelopes and throws for RSA envelopes it cannot open, naming this key and the
 * header (never bytes).
 */
export class RsaMasterKey implements MasterKey {
  /** Always `'rsa'`. */
  readonly kind = 'rsa' as const;
  /** Display name; never secret. */
  readonly name: string;
  /** Material description written with objects this key encrypts. */
  readonly description: MatDesc;
  /** Always true: the public key is known (given or derived from the private key). */
  readonly canWrap: boolean;
  /** True when a private key was given. */
  readonly canUnwrap: boolean;
  /** Modulus length in bits. */
  readonly bits: number;
  /** Lower-case hex SHA-256 of the public key's SPKI DER encoding. */
  readonly fingerprint: string;
  /** The padding {@link RsaMasterKey.wrap} writes. */
  readonly wrapPadding: RsaWrapPadding;

  readonly #publicKey: KeyObject;
  readonly #privateKey: KeyObject | undefined;
  /** The modulus n as exactly k = ceil(bits / 8) big-endian bytes. */
  readonly #modulus: Buffer;

  /**
   * @param options - keys (PEM or KeyObject), passphrase, description, wrap padding, name
   * @throws CseError ERR_CSE_INVALID_KEY for unreadable, non-RSA, too small or mismatched keys, a CERTIFICATE block, a
   *   missing or wrong passphrase; ERR_CSE_INVALID_ARGUMENT when neither key is given or an option is malformed
   */
  constructor(options: RsaMasterKeyOptions) {
    const { publicKey, privateKey, passphrase } = options;
    if (publicKey === undefined && privateKey === undefined) {
      throw new CseError(ErrorCode.INVALID_ARGUMENT, 'an RSA master key needs a publicKey, a privateKey or both');
    }
    const wrap: unknown = options.wrap ?? 'pkcs1';
    if (!isWrapPadding(wrap)) {
      throw new CseError(ErrorCode.INVALID_ARGUMENT, `wrap must be 'pkcs1' or 'oaep', got ${JSON.stringify(wrap)}`);
    }
    const priv = privateKey === undefined ? undefined : loadPrivateKey(privateKey, passphrase);
    if (priv !== undefined) checkRsa(priv, 'private key');
    const pub = publicKey === undefined ? undefined : loadPublicKey(publicKey);
    if (pub !== undefined) checkRsa(pub, 'public key');

    const derived = priv === undefined ? undefined : createPublicKey(priv);
    const effective = pub ?? derived;
    if (effective === undefined) throw new CseError(ErrorCode.INVALID_ARGUMENT, 'no usable RSA key'); // unreachable
    const spki = effective.export({ type: 'spki', format: 'der' });
    if (pub !== undefined && derived !== undefined && !spki.equals(derived.export({ type: 'spki', format: 'der' }))) {
      throw new CseError(ErrorCode.INVALID_KEY, 'publicKey and privateKey are not the same key pair');
    }

    this.bits = checkRsa(effective, 'public key');
    const k = Math.ceil(this.bits / 8);
    const n = effective.export({ format: 'jwk' }).n;
    if (n === undefined) throw new CseError(ErrorCode.INVALID_KEY, 'the RSA key has no modulus'); // unreachable for RSA
    const nBytes = Buffer.from(n, 'base64url');
    this.#modulus = Buffer.concat([Buffer.alloc(Math.max(0, k - nBytes.length)), nBytes]);

    this.#publicKey = effective;
    this.#privateKey = priv;
    this.fingerprint = createHash('sha256').update(spki).digest('hex');
    if (options.name !== undefined && (typeof options.name !== 'string' || options.name === '')) {
      throw new CseError(ErrorCode.INVALID_ARGUMENT, 'name must be a non-empty string');
    }
    this.name = options.name ?? `rsa-${this.bits}:${this.fingerprint.slice(0, 16)}`;
    this.description = copyDescription(options.description);
    this.wrapPadding = wrap;
    this.canWrap = true;
    this.canUnwrap = priv !== undefined;
  }

  /**
   * The public key as SPKI PEM (`-----BEGIN PUBLIC KEY-----`), e.g. to hand to writers who must not hold the
   * private key.
   */
  exportPublicKeyPem(): string {
    return this.#publicKey.export({ type: 'spki', format: 'pem' }).toString();
  }

  /**
   * Wraps a data key and IV for a V2 envelope: the key and the IV are encrypted separately with the public key and
   * base64-encoded. RSA encryption is randomised, so two wraps of the same material differ.
   *
   * @param material - 32-byte key and 16-byte IV
   * @returns wrap-alg, `-key` and `-start` header values
   * @throws CseError ERR_CSE_INVALID_KEY unless the data key is 32 bytes; ERR_CSE_INVALID_ARGUMENT unless the IV is
   *   16 bytes
   */
  async wrap(material: ContentMaterial): Promise<WrappedMaterial> {
    // The RSA work is synchronous; being async turns every failure into a rejection.
    return Promise.resolve(this.#wrapNow(material));
  }

  #wrapNow(material: ContentMaterial): WrappedMaterial {
    if (!(material.key instanceof Uint8Array) || material.key.length !== DATA_KEY_SIZE) {
      throw new CseError(ErrorCode.INVALID_KEY, `expected a ${DATA_KEY_SIZE}-byte data key to wrap`);
    }
    if (!(material.iv instanceof Uint8Array) || material.iv.length !== IV_SIZE) {
      throw new CseError(ErrorCode.INVALID_ARGUMENT, `expected a ${IV_SIZE}-byte IV to wrap`);
    }
    const oaep = this.wrapPadding === 'oaep';
    const encrypt = (data: Uint8Array): string =>
      encodeBase64(
        publicEncrypt(
          oaep
            ? { key: this.#publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }
            : { key: this.#publicKey, padding: constants.RSA_PKCS1_PADDING },
          data,
        ),
      );
    return {
      wrapAlgorithm: oaep ? WrapAlgorithm.RSA_OAEP_SHA1 : WrapAlgorithm.RSA_PKCS1,
      wrappedKey: encrypt(material.key),
      wrappedStart: encrypt(material.iv),
    };
  }

  /**
   * Unwraps an RSA envelope of any version: V2 gives the 16-byte IV directly; V1 and the guide form give an ASCII
   * decimal start, turned into the 16-byte counter block.
   *
   * @param envelope - the parsed envelope
   * @param context - the object key, for error messages
   * @returns fresh content material (the caller should zero it after use), or `null` for a KMS envelope
   * @throws CseError ERR_CSE_KEY_UNUSABLE without a private key; ERR_CSE_ENVELOPE_BAD_BASE64 for a wrapped value
   *   that is not base64; ERR_CSE_UNWRAP_FAILED when a wrapped value has the wrong size for this key, is not below
   *   its modulus, or fails to decrypt (bad padding: almost always the wrong key; with PKCS#1 v1.5 this includes a
   *   key that is not 32 bytes or a V2 IV that is not 16, so that no length oracle exists); ERR_CSE_UNWRAP_BAD_LENGTH
   *   when an OAEP-unwrapped key is not 32 bytes or IV not 16; ERR_CSE_ENVELOPE_BAD_NUMBER when a V1/guide start is not decimal
   */
  async unwrap(envelope: Envelope, context: UnwrapContext = {}): Promise<ContentMaterial | null> {
    return Promise.resolve(this.#unwrapNow(envelope, context));
  }

  #unwrapNow(envelope: Envelope, context: UnwrapContext): ContentMaterial | null {
    const scheme = envelope.scheme;
    if (scheme !== 'rsa-pkcs1' && scheme !== 'rsa-oaep-sha1') return null;
    const headers = HEADERS[envelope.version];
    const { object } = context;
    if (this.#privateKey === undefined) {
      throw new CseError(ErrorCode.KEY_UNUSABLE, `RSA key ${this.name} has no private key, so it cannot unwrap`, contextOf(object, headers.key));
    }
    // Structural checks first, on both values: base64, size and "below the modulus" are facts about the public
    // header text, known to whoever wrote it, so naming the faulty header reveals nothing.
    const keyCiphertext = this.#ciphertextOf(envelope.wrappedKey, headers.key, object);
    const startCiphertext = this.#ciphertextOf(envelope.wrappedStart, headers.start, object);
    const startLength = envelope.version === 'v2' ? IV_SIZE : undefined;
    // From here on nothing may tell which value failed (issue 14 item 5): both private operations always run, their
    // outcomes are folded into one flag without a branch on either, and every failure is the same error (same code,
    // message and fields) whether the key, the start or both were bad.
    const both = contextOf(object, `${headers.key}, ${headers.start}`);
    const opened =
      scheme === 'rsa-oaep-sha1'
        ? this.#openOaep(this.#privateKey, keyCiphertext, startCiphertext, startLength, both)
        : this.#openPkcs1(this.#privateKey, keyCiphertext, startCiphertext, startLength, both);
    const { key, start } = opened;
    if (envelope.version === 'v2') return { key, iv: start };
    // V1 / guide: the start is the ASCII decimal initial counter (oss2 ≤ 2.10 wrote OAEP(b"8"), `oss2-python.md` §3.1).
    // Both values decrypted correctly here, so this failure concerns a value its writer chose: it may name the header.
    try {
      return { key, iv: counterBlockFromDecimal(Buffer.from(start).toString('latin1'), headers.start) };
    } catch (cause) {
      key.fill(0);
      throw new CseError(
        cause instanceof CseError ? cause.cseCode : ErrorCode.ENVELOPE_BAD_NUMBER,
        `RSA key ${this.name} unwrapped a start that is not a decimal counter below 2^128`,
        { ...contextOf(object, headers.start), cause },
      );
    } finally {
      start.fill(0);
    }
  }

  /** Decodes a wrapped header value and checks it is a k-byte integer below the modulus (public facts only). */
  #ciphertextOf(value: string, header: string, object: string | undefined): Uint8Array {
    const where = contextOf(object, header);
    let ciphertext: Uint8Array;
    try {
      ciphertext = decodeBase64Strict(value, header);
    } catch (cause) {
      throw new CseError(ErrorCode.ENVELOPE_BAD_BASE64, 'the wrapped value is not valid base64', { ...where, cause });
    }
    const k = this.#modulus.length;
    if (ciphertext.length !== k) {
      throw new CseError(
        ErrorCode.UNWRAP_FAILED,
        `RSA key ${this.name} cannot unwrap a ${ciphertext.length}-byte value: its modulus is ${k} bytes (wrong key?)`,
        where,
      );
    }
    if (Buffer.compare(ciphertext, this.#modulus) >= 0) {
      throw new CseError(
        ErrorCode.UNWRAP_FAILED,
        `RSA key ${this.name} cannot unwrap the value: it is not below the key's modulus (wrong key?)`,
        where,
      );
    }
    return ciphertext;
  }

  /**
   * RSA-OAEP of both values. OpenSSL's OAEP decoding is constant time inside; we run both decryptions whatever the
   * first one gave, and fail once for both. A wrong length after a *successful* OAEP decryption is a different code
   * (ERR_CSE_UNWRAP_BAD_LENGTH): a valid OAEP block can only be made with the public key, so its length is known to
   * its maker and is no oracle; it is still reported for both values at once.
   */
  #openOaep(
    privateKey: KeyObject,
    keyCiphertext: Uint8Array,
    startCiphertext: Uint8Array,
    startLength: number | undefined,
    both: { object?: string; header: string },
  ): { key: Uint8Array; start: Uint8Array } {
    const key = oaepDecrypt(privateKey, keyCiphertext);
    const start = oaepDecrypt(privateKey, startCiphertext);
    // One flag for both outcomes: `|` on numbers, never `||` (which would skip the second test).
    const failed = (key === undefined ? 1 : 0) | (start === undefined ? 1 : 0);
    if (failed !== 0 || key === undefined || start === undefined) {
      key?.fill(0);
      start?.fill(0);
      throw new CseError(
        ErrorCode.UNWRAP_FAILED,
        `RSA key ${this.name} could not unwrap the data key and IV (OAEP decryption failed: wrong key or corrupted values)`,
        both,
      );
    }
    const wrongLength = (key.length ^ DATA_KEY_SIZE) | (startLength === undefined ? 0 : start.length ^ startLength);
    if (wrongLength !== 0) {
      key.fill(0);
      start.fill(0);
      throw new CseError(
        ErrorCode.UNWRAP_BAD_LENGTH,
        `RSA key ${this.name} unwrapped a data key and IV of the wrong size (expected a ${DATA_KEY_SIZE}-byte key` +
          `${startLength === undefined ? '' : ` and a ${startLength}-byte IV`})`,
        both,
      );
    }
    return { key, start };
  }

  /**
   * PKCS#1 v1.5 of both values: raw RSA of each (always both), our constant-time unpadding of each (see
   * {@link unpadPkcs1v15}), and the message lengths folded into the same flag (XOR, no comparison branch): a distinct
   * "valid padding, wrong length" error would be a padding oracle of its own, and a wrong key yields valid-looking
   * padding once in ~65,000 tries, so the outcome for a wrong key is always the same error.
   */
  #openPkcs1(
    privateKey: KeyObject,
    keyCiphertext: Uint8Array,
    startCiphertext: Uint8Array,
    startLength: number | undefined,
    both: { object?: string; header: string },
  ): { key: Uint8Array; start: Uint8Array } {
    const k = this.#modulus.length;
    const keyBlock = rawDecrypt(privateKey, keyCiphertext, k);
    const startBlock = rawDecrypt(privateKey, startCiphertext, k);
    const keyPad = unpadPkcs1v15(keyBlock.em);
    const startPad = unpadPkcs1v15(startBlock.em);
    const invalid =
      keyBlock.failed |
      startBlock.failed |
      (keyPad.ok ? 0 : 1) |
      (startPad.ok ? 0 : 1) |
      ((keyBlock.em.length - keyPad.messageStart) ^ DATA_KEY_SIZE) |
      (startLength === undefined ? 0 : (startBlock.em.length - startPad.messageStart) ^ startLength);
    if (invalid !== 0) {
      keyBlock.em.fill(0);
      startBlock.em.fill(0);
      throw new CseError(
        ErrorCode.UNWRAP_FAILED,
        `RSA key ${this.name} could not unwrap the data key and IV (invalid PKCS#1 v1.5 padding or a value of the wrong ` +
          'size: wrong key or corrupted values)',
        both,
      );
    }
    const key = new Uint8Array(keyBlock.em.subarray(keyPad.messageStart));
    const start = new Uint8Array(startBlock.em.subarray(startPad.messageStart));
    keyBlock.em.fill(0);
    startBlock.em.fill(0);
    return { key, start };
  }
}

/** OAEP-SHA1 decryption; `undefined` when it fails (never throws, so the caller always runs the second one). */
function oaepDecrypt(privateKey: KeyObject, ciphertext: Uint8Array): Uint8Array | undefined {
  try {
    const plain = privateDecrypt({ key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, ciphertext);
    const copy = new Uint8Array(plain);
    plain.fill(0);
    return copy;
  } catch {
    return undefined;
  }
}

/**
 * Raw RSA (`RSA_NO_PADDING`: Node refuses PKCS#1 v1.5 private decryption, CVE-2023-46809). It does not fail for an
 * input below the modulus (checked before); should it ever, a zero block of the same size stands in, which the
 * unpadding rejects, and `failed` is set, so the work done is the same either way.
 */
function rawDecrypt(privateKey: KeyObject, ciphertext: Uint8Array, k: number): { em: Buffer; failed: number } {
  try {
    return { em: privateDecrypt({ key: privateKey, padding: constants.RSA_NO_PADDING }, ciphertext), failed: 0 };
  } catch {
    return { em: Buffer.alloc(k), failed: 1 };
  }
}

/** A freshly generated RSA key pair, PEM-encoded. */
export interface GeneratedRsaKeyPair {
  /** PKCS#8 (`-----BEGIN PRIVATE KEY-----`, or `ENCRYPTED PRIVATE KEY` with a passphrase). */
  readonly privateKeyPem: string;
  /** SPKI (`-----BEGIN PUBLIC KEY-----`). */
  readonly publicKeyPem: string;
}

/** Options for {@link generateRsaKeyPair}. */
export interface GenerateRsaKeyPairOptions {
  /** When given, the private key is written as encrypted PKCS#8 (AES-256-CBC, PBKDF2) under this passphrase. */
  readonly passphrase?: string;
}

/**
 * Generates an RSA key pair (public exponent 65537) off the main thread.
 *
 * @param bits - modulus length (default 2048; an integer from {@link MIN_RSA_BITS} to {@link MAX_GENERATED_RSA_BITS})
 * @param options - optional passphrase for the private key
 * @returns PKCS#8 private key and SPKI public key, PEM
 * @throws CseError ERR_CSE_INVALID_ARGUMENT for an out-of-range size or an empty passphrase
 */
export async function generateRsaKeyPair(bits = 2048, options: GenerateRsaKeyPairOptions = {}): Promise<GeneratedRsaKeyPair> {
  if (!Number.isSafeInteger(bits) || bits < MIN_RSA_BITS || bits > MAX_GENERATED_RSA_BITS) {
    throw new CseError(
      ErrorCode.INVALID_ARGUMENT,
      `expected an RSA size from ${MIN_RSA_BITS} to ${MAX_GENERATED_RSA_BITS} bits, got ${String(bits)}`,
    );
  }
  const { passphrase } = options;
  if (passphrase === '') throw new CseError(ErrorCode.INVALID_ARGUMENT, 'the passphrase must not be empty');
  const { publicKey, privateKey } = await new Promise<{ publicKey: KeyObject; privateKey: KeyObject }>((resolve, reject) => {
    generateKeyPair('rsa', { modulusLength: bits, publicExponent: 0x10001 }, (err, publicKey, privateKey) => {
      if (err === null) resolve({ publicKey, privateKey });
      else reject(err);
    });
  });
  const privateKeyPem =
    passphrase === undefined
      ? privateKey.export({ type: 'pkcs8', format: 'pem' })
      : privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase });
  return {
    privateKeyPem: privateKeyPem.toString(),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}
