/**
 * The offline API: encrypt and decrypt one object's body and metadata without any network. The client and the
 * transfer layer build on the same two steps: {@link sealEnvelope} (fresh material, wrapped, as headers) and
 * {@link openEnvelope} (headers → the right key → material).
 *
 * @packageDocumentation
 */

import { createHash } from 'node:crypto';
import { createCtrCipher, ctrXor } from './cipher/aes-ctr.js';
import { randomContentMaterial, zeroMaterial } from './cipher/material.js';
import { CseError, ErrorCode } from './errors.js';
import { buildV2Envelope, encodeEnvelope, isMd5Base64, parseEnvelope, type HeaderInput } from './format/envelope.js';
import { V1Header, V2Header } from './format/headers.js';
import type { ContentMaterial, Envelope, WrappedMaterial } from './format/types.js';
import { KeyRing, type KeySelectionPolicy } from './keys/key-ring.js';
import type { MasterKey } from './keys/master-key.js';

/** Options of {@link sealEnvelope} and {@link encryptObject}. */
export interface SealOptions {
  /** The master key that wraps the fresh data key and IV; its `description` becomes the object's matdesc. */
  readonly masterKey: MasterKey;
  /** The caller's Content-MD5 of the plaintext (base64), stored as `…-unencrypted-content-md5` as the peers do. */
  readonly unencryptedContentMd5?: string;
  /** The plaintext length, stored as `…-unencrypted-content-length`. */
  readonly unencryptedContentLength?: number;
  /** Multipart only: total plaintext size (`…-data-size`). */
  readonly dataSize?: number;
  /** Multipart only: part size, a multiple of 16 (`…-part-size`). */
  readonly partSize?: number;
  /**
   * A fixed data key and IV instead of fresh random ones. **For known-answer tests and interop vectors only**:
   * reusing material across objects breaks CTR's confidentiality.
   */
  readonly contentMaterial?: ContentMaterial;
  /**
   * The plaintext length when known before writing (not stored): lets a key that reuses data keys
   * (`DataKeyCachingMasterKey`) bound the bytes encrypted under one key. Unknown: such keys use fresh material.
   */
  readonly plaintextLength?: number | undefined;
}

/** A sealed envelope: what to store as metadata, and the plaintext material to encrypt with (zero it after use). */
export interface SealedEnvelope {
  /** The envelope. */
  readonly envelope: Envelope;
  /** The envelope as lower-case `x-oss-meta-client-side-encryption-*` headers. */
  readonly headers: Record<string, string>;
  /** The plaintext data key and IV. */
  readonly material: ContentMaterial;
}

/**
 * Makes fresh content material (or takes the given one), wraps it with the master key and encodes the V2 headers.
 *
 * @throws CseError ERR_CSE_KEY_UNUSABLE when the key cannot wrap; ERR_CSE_KMS on KMS failure;
 *   ERR_CSE_INVALID_ARGUMENT for a bad length or size
 */
export async function sealEnvelope(options: SealOptions): Promise<SealedEnvelope> {
  checkOptionalSize(options.unencryptedContentLength, 'unencryptedContentLength');
  checkOptionalSize(options.dataSize, 'dataSize');
  checkOptionalSize(options.partSize, 'partSize');
  checkOptionalSize(options.plaintextLength, 'plaintextLength');
  let material: ContentMaterial;
  let wrapped: WrappedMaterial;
  if (options.contentMaterial) {
    material = { key: Uint8Array.from(options.contentMaterial.key), iv: Uint8Array.from(options.contentMaterial.iv) };
    wrapped = await options.masterKey.wrap(material);
  } else if (typeof options.masterKey.sealMaterial === 'function') {
    ({ material, wrapped } = await options.masterKey.sealMaterial({ plaintextLength: options.plaintextLength }));
  } else {
    material = randomContentMaterial();
    wrapped = await options.masterKey.wrap(material);
  }
  const envelope = buildV2Envelope(wrapped, {
    matdesc: options.masterKey.description,
    ...(options.unencryptedContentMd5 === undefined ? {} : { unencryptedContentMd5: options.unencryptedContentMd5 }),
    ...(options.unencryptedContentLength === undefined
      ? {}
      : { unencryptedContentLength: options.unencryptedContentLength }),
    ...(options.dataSize === undefined ? {} : { dataSize: options.dataSize }),
    ...(options.partSize === undefined ? {} : { partSize: options.partSize }),
  });
  return { envelope, headers: encodeEnvelope(envelope), material };
}

/** Options of {@link openEnvelope} and {@link decryptObject}. */
export interface OpenOptions {
  /** The keys to decrypt with (a {@link KeyRing} or a list, tried by matdesc then by the policy). */
  readonly masterKeys: KeyRing | readonly MasterKey[];
  /** Accept legacy envelopes (oss2 ≤ 2.10 V1, the hand-rolled guide form). Off by default: see SECURITY.md. */
  readonly allowLegacy?: boolean;
  /** The no-match policy when `masterKeys` is a list; default `fallback`. */
  readonly policy?: KeySelectionPolicy;
  /** The object key, for error messages. */
  readonly object?: string;
}

/** An opened envelope: the parsed envelope, the plaintext material (zero it after use) and the key that opened it. */
export interface OpenedEnvelope {
  /** The parsed envelope. */
  readonly envelope: Envelope;
  /** The plaintext data key and initial counter block. */
  readonly material: ContentMaterial;
  /** The master key that unwrapped it. */
  readonly key: MasterKey;
}

/**
 * Parses an object's headers and unwraps its data key with the matching master key.
 *
 * @throws CseError ERR_CSE_NOT_ENCRYPTED (no crypto headers at all), ERR_CSE_ENVELOPE_* (malformed envelope),
 *   ERR_CSE_LEGACY_NOT_ALLOWED, ERR_CSE_NO_MATCHING_KEY
 */
export async function openEnvelope(headers: HeaderInput, options: OpenOptions): Promise<OpenedEnvelope> {
  const context = options.object === undefined ? {} : { object: options.object };
  return openParsedEnvelope(parseEnvelope(headers, context), options);
}

/**
 * {@link openEnvelope} for an envelope already parsed (the read path parses the response's headers once).
 *
 * @throws CseError ERR_CSE_LEGACY_NOT_ALLOWED, ERR_CSE_NO_MATCHING_KEY
 * @internal
 */
export async function openParsedEnvelope(envelope: Envelope, options: OpenOptions): Promise<OpenedEnvelope> {
  const context = options.object === undefined ? {} : { object: options.object };
  if (envelope.version !== 'v2' && options.allowLegacy !== true) {
    throw new CseError(
      ErrorCode.LEGACY_NOT_ALLOWED,
      `the object uses the legacy ${envelope.version === 'v1' ? 'V1 (oss2 ≤ 2.10)' : 'hand-rolled guide'} format, ` +
        'whose counters start at 1..10 with no random IV; pass allowLegacy: true (CLI: --allow-legacy) to read it ' +
        '(see SECURITY.md)',
      context,
    );
  }
  const ring =
    options.masterKeys instanceof KeyRing
      ? options.masterKeys
      : new KeyRing(options.masterKeys, options.policy === undefined ? {} : { policy: options.policy });
  const { material, key } = await ring.unwrap(envelope, options.object);
  return { envelope, material, key };
}

/** The result of {@link encryptObject}. */
export interface EncryptedObject<B> {
  /** Lower-case `x-oss-meta-client-side-encryption-*` headers to store with the object. */
  readonly headers: Record<string, string>;
  /** The ciphertext (same length as the plaintext). */
  readonly body: B;
}

/** Bytes or an async iterable of bytes (a Node `Readable` is one). */
export type BodyInput = Uint8Array | AsyncIterable<Uint8Array>;

/**
 * Encrypts one object: a fresh data key and IV, wrapped by `options.masterKey`, AES-256-CTR over the body.
 * Bytes in → bytes out; an async iterable in → an async iterable out, encrypted chunk by chunk as it is read (the
 * whole object is never buffered).
 *
 * With `plaintextLength` the body must be exactly that long: a `Uint8Array` of another length is refused before
 * anything is sealed; a stream throws before emitting ciphertext past that length, or at its end when short.
 *
 * @throws CseError ERR_CSE_KEY_UNUSABLE, ERR_CSE_KMS, ERR_CSE_INVALID_ARGUMENT (also for a body whose length
 *   differs from `plaintextLength`)
 */
export async function encryptObject(plaintext: Uint8Array, options: SealOptions): Promise<EncryptedObject<Buffer>>;
export async function encryptObject(
  plaintext: AsyncIterable<Uint8Array>,
  options: SealOptions,
): Promise<EncryptedObject<AsyncGenerator<Buffer, void, undefined>>>;
export async function encryptObject(
  plaintext: BodyInput,
  options: SealOptions,
): Promise<EncryptedObject<Buffer | AsyncGenerator<Buffer, void, undefined>>>;
export async function encryptObject(
  plaintext: BodyInput,
  options: SealOptions,
): Promise<EncryptedObject<Buffer | AsyncGenerator<Buffer, void, undefined>>> {
  checkBody(plaintext, 'plaintext');
  checkOptionalSize(options.plaintextLength, 'plaintextLength');
  const hint = options.plaintextLength;
  // The hint bounds the bytes a data-key cache lets under one key (its maxBytes): a body of another length would
  // break that bound, so it is refused before anything is sealed (bytes) or before a byte past it is emitted (streams).
  if (plaintext instanceof Uint8Array && hint !== undefined && hint !== plaintext.length) {
    throw new CseError(
      ErrorCode.INVALID_ARGUMENT,
      `plaintextLength: the body is ${String(plaintext.length)} bytes but plaintextLength says ${String(hint)}`,
    );
  }
  const { headers, material } = await sealEnvelope(
    plaintext instanceof Uint8Array && options.plaintextLength === undefined ? { ...options, plaintextLength: plaintext.length } : options,
  );
  if (plaintext instanceof Uint8Array) {
    try {
      return { headers, body: ctrXor(material.key, material.iv, plaintext) };
    } finally {
      zeroMaterial(material);
    }
  }
  const cipher = createCtrCipher(material.key, material.iv);
  zeroMaterial(material);
  const source = hint === undefined ? plaintext : exactLength(plaintext, hint);
  return { headers, body: streamThrough(source, (c) => cipher.update(c)) };
}

/** Passes `source` through, throwing before a chunk would pass `length` bytes and when it ends short of them. */
async function* exactLength(source: AsyncIterable<Uint8Array>, length: number): AsyncGenerator<Uint8Array, void, undefined> {
  let seen = 0;
  for await (const chunk of source as AsyncIterable<unknown>) {
    if (!(chunk instanceof Uint8Array)) {
      throw new CseError(ErrorCode.INVALID_ARGUMENT, `expected byte chunks, got ${typeof chunk}`);
    }
    seen += chunk.length;
    if (seen > length) {
      throw new CseError(ErrorCode.INVALID_ARGUMENT, `plaintextLength: the body is longer than the declared ${String(length)} bytes`);
    }
    yield chunk;
  }
  if (seen !== length) {
    throw new CseError(
      ErrorCode.INVALID_ARGUMENT,
      `plaintextLength: the body ended after ${String(seen)} of the declared ${String(length)} bytes`,
    );
  }
}

/** An encrypted body with its metadata, as {@link decryptObject} takes it. */
export interface EncryptedInput<B extends BodyInput> {
  /** The object's headers (names case-insensitive); only the crypto headers are read. */
  readonly headers: HeaderInput;
  /** The ciphertext, whole or a ranged slice of it. */
  readonly body: B;
  /** The plaintext byte offset `body` starts at (for ranged reads); default 0. Any offset, not only multiples of 16. */
  readonly offset?: number;
}

/** Options of {@link decryptObject}. */
export interface DecryptOptions extends OpenOptions {
  /**
   * Check `…-unencrypted-content-length` and `…-unencrypted-content-md5` (when the object has them) against the
   * decrypted bytes. Default: true when `offset` is 0 (the body is taken to be the whole object); set false when
   * decrypting a prefix.
   */
  readonly verifyIntegrity?: boolean;
}

/**
 * Decrypts one object (or a ranged slice of it, with `offset`). Bytes in → bytes out; an async iterable in → an
 * async iterable out, decrypted chunk by chunk. With a streaming body an integrity failure is thrown after the last
 * chunk: write to a temporary place and keep the result only when iteration completes.
 *
 * @throws CseError ERR_CSE_NOT_ENCRYPTED, ERR_CSE_ENVELOPE_*, ERR_CSE_LEGACY_NOT_ALLOWED, ERR_CSE_NO_MATCHING_KEY,
 *   ERR_CSE_INTEGRITY, ERR_CSE_INVALID_ARGUMENT
 */
export async function decryptObject(input: EncryptedInput<Uint8Array>, options: DecryptOptions): Promise<Buffer>;
export async function decryptObject(
  input: EncryptedInput<AsyncIterable<Uint8Array>>,
  options: DecryptOptions,
): Promise<AsyncGenerator<Buffer, void, undefined>>;
export async function decryptObject(
  input: EncryptedInput<BodyInput>,
  options: DecryptOptions,
): Promise<Buffer | AsyncGenerator<Buffer, void, undefined>>;
export async function decryptObject(
  input: EncryptedInput<BodyInput>,
  options: DecryptOptions,
): Promise<Buffer | AsyncGenerator<Buffer, void, undefined>> {
  const offset = input.offset ?? 0;
  if (!Number.isSafeInteger(offset) || offset < 0) {
    throw new CseError(ErrorCode.INVALID_ARGUMENT, `expected a non-negative integer offset, got ${String(offset)}`);
  }
  checkBody(input.body, 'body');
  const context = options.object === undefined ? {} : { object: options.object };
  const decryptor = await openDecryptor(parseEnvelope(input.headers, context), options, offset);
  if (input.body instanceof Uint8Array) {
    const out = decryptor.update(input.body);
    decryptor.finish();
    return out;
  }
  return streamThrough(input.body, (c) => decryptor.update(c), () => {
    decryptor.finish();
  });
}

/**
 * Decrypts one object's ciphertext chunk by chunk, in order, starting at a plaintext offset.
 * @internal
 */
export interface Decryptor {
  /**
   * Decrypts the next chunk (and feeds the integrity check).
   * @throws CseError ERR_CSE_INVALID_ARGUMENT when `chunk` is not a `Uint8Array`
   */
  update(chunk: Uint8Array): Buffer;
  /**
   * Ends the object: checks the declared plaintext length and MD5 when the decryptor verifies them.
   * @throws CseError ERR_CSE_INTEGRITY
   */
  finish(): void;
}

/**
 * Unwraps a parsed envelope's data key and returns the decryptor {@link decryptObject} runs (the read path uses it
 * directly: one transform, no generator of its own per object). The material is zeroed before this returns.
 *
 * @param offset - the plaintext offset the first chunk starts at
 * @throws CseError ERR_CSE_LEGACY_NOT_ALLOWED, ERR_CSE_NO_MATCHING_KEY
 * @internal
 */
export async function openDecryptor(envelope: Envelope, options: DecryptOptions, offset: number): Promise<Decryptor> {
  const { material } = await openParsedEnvelope(envelope, options);
  const verify = options.verifyIntegrity ?? offset === 0;
  const checker = verify ? new IntegrityChecker(envelope, options.object) : undefined;
  let cipher;
  try {
    cipher = createCtrCipher(material.key, material.iv, offset);
  } finally {
    zeroMaterial(material);
  }
  if (checker === undefined) {
    return {
      update: (chunk) => cipher.update(chunk),
      finish: () => undefined,
    };
  }
  return {
    update: (chunk) => {
      const out = cipher.update(chunk);
      checker.update(out);
      return out;
    },
    finish: () => {
      checker.finish();
    },
  };
}

async function* streamThrough(
  source: AsyncIterable<Uint8Array>,
  map: (chunk: Uint8Array) => Buffer,
  finish?: () => void,
): AsyncGenerator<Buffer, void, undefined> {
  for await (const chunk of source as AsyncIterable<unknown>) {
    if (!(chunk instanceof Uint8Array)) {
      throw new CseError(ErrorCode.INVALID_ARGUMENT, `expected byte chunks, got ${typeof chunk}`);
    }
    const out = map(chunk);
    if (out.length > 0) yield out;
  }
  finish?.();
}

/**
 * Verifies the writer's declared plaintext length and MD5 (peers store them but never check them;
 * `oss-go-java.md` §4). Only meaningful over the whole object.
 */
class IntegrityChecker {
  readonly #length: number | undefined;
  readonly #md5: string | undefined;
  readonly #hash;
  readonly #object: string | undefined;
  readonly #headers: { readonly UNENCRYPTED_CONTENT_LENGTH: string; readonly UNENCRYPTED_CONTENT_MD5: string };
  #seen = 0;

  constructor(envelope: Envelope, object: string | undefined) {
    this.#headers = envelope.version === 'v1' ? V1Header : V2Header;
    this.#length = envelope.unencryptedContentLength;
    // Only a real MD5 can be verified: peers store the caller's Content-MD5 unchecked, whatever it is.
    const declared = envelope.unencryptedContentMd5;
    this.#md5 = declared !== undefined && isMd5Base64(declared) ? declared : undefined;
    this.#hash = this.#md5 === undefined ? undefined : createHash('md5');
    this.#object = object;
  }

  update(plaintext: Uint8Array): void {
    this.#seen += plaintext.length;
    this.#hash?.update(plaintext);
  }

  finish(): void {
    const context = this.#object === undefined ? {} : { object: this.#object };
    if (this.#length !== undefined && this.#length !== this.#seen) {
      throw new CseError(
        ErrorCode.INTEGRITY,
        `decrypted ${this.#seen} bytes but the object declares ${this.#length}`,
        { ...context, header: this.#headers.UNENCRYPTED_CONTENT_LENGTH },
      );
    }
    if (this.#hash !== undefined && this.#hash.digest('base64') !== this.#md5) {
      throw new CseError(ErrorCode.INTEGRITY, 'the MD5 of the decrypted bytes differs from the declared one', {
        ...context,
        header: this.#headers.UNENCRYPTED_CONTENT_MD5,
      });
    }
  }
}


function checkBody(body: unknown, what: string): void {
  if (body instanceof Uint8Array) return;
  if (typeof body === 'object' && body !== null && Symbol.asyncIterator in body) return;
  throw new CseError(ErrorCode.INVALID_ARGUMENT, `${what}: expected a Uint8Array or an async iterable of bytes`);
}

function checkOptionalSize(value: number | undefined, what: string): void {
  if (value !== undefined && (!Number.isSafeInteger(value) || value < 0)) {
    throw new CseError(ErrorCode.INVALID_ARGUMENT, `${what}: expected a non-negative integer, got ${String(value)}`);
  }
}
