/**
 * Writing an object through the encryption layer: a fresh data key and IV sealed under the master key
 * (`sealEnvelope`), the caller's headers kept, a caller `Content-MD5`/`Content-Length` moved to the
 * `unencrypted-content-*` headers (Go v1/v2, Java, oss2: `oss-go-java.md` §4), the body encrypted while it streams,
 * and the CRC-64 of the ciphertext we sent compared with the one OSS computed (`x-oss-hash-crc64ecma`, §10).
 *
 * @packageDocumentation
 */

import { createHash } from 'node:crypto';
import { CseError, ErrorCode } from '../errors.js';
import { isCryptoHeader } from '../format/envelope.js';
import { OssHeader, USER_META_PREFIX } from '../format/headers.js';
import type { Envelope } from '../format/types.js';
import { createCtrCipher } from '../cipher/aes-ctr.js';
import { zeroMaterial } from '../cipher/material.js';
import type { MasterKey } from '../keys/master-key.js';
import { sealEnvelope } from '../object-crypto.js';
import { throwIfAborted } from './abort.js';
import { Crc64, parseCrc64Header } from './crc64.js';
import type { ObjectLocation, ObjectStore, PutBody, StoreResponse } from './store.js';

/** The plaintext to upload: bytes, or chunks with their total length when known. */
export type PlaintextSource =
  | { readonly kind: 'bytes'; readonly bytes: Uint8Array }
  | { readonly kind: 'stream'; readonly stream: AsyncIterable<Uint8Array>; readonly length: number | undefined };

/** Options of {@link writeEncrypted}. */
export interface WriteEncryptedOptions {
  /** The key that wraps the object's fresh data key and IV. */
  readonly masterKey: MasterKey;
  /** The caller's request headers (any case). */
  readonly headers: Readonly<Record<string, string>>;
  /** User metadata (`x-oss-meta-<name>`). */
  readonly meta?: Readonly<Record<string, string | number>> | undefined;
  /** Content-Type, or a file name/extension to look it up from. */
  readonly mime?: string | undefined;
  /** The plaintext length the caller declares (ali-oss `contentLength`); moved to `unencrypted-content-length`. */
  readonly contentLength?: number | undefined;
  /**
   * The plaintext MD5 (base64) computed by the caller from an earlier read of the source, stored as
   * `unencrypted-content-md5`. For a stream source (a file read again) the bytes streamed are hashed too, and the
   * upload fails before its last chunk is sent when they differ (the file changed in between).
   */
  readonly plaintextMd5?: string | undefined;
  /** Abort signal. */
  readonly signal?: AbortSignal | undefined;
  /** Per-request timeout (ms). */
  readonly timeout?: number | undefined;
}

/** The result of {@link writeEncrypted}. */
export interface WrittenObject {
  /** The PutObject response. */
  readonly response: StoreResponse;
  /** The envelope stored with the object. */
  readonly envelope: Envelope;
  /** Plaintext (= ciphertext) bytes sent. */
  readonly size: number;
  /** CRC-64 of the ciphertext sent, as OSS spells it (decimal). */
  readonly crc64: string;
}

/**
 * The caller's headers and metadata, split into what is sent and what moves into the envelope.
 * @throws CseError ERR_CSE_INVALID_ARGUMENT for a caller-supplied crypto header or a bad Content-Length
 */
export function prepareWriteHeaders(
  headers: Readonly<Record<string, string>>,
  meta: Readonly<Record<string, string | number>> | undefined,
  contentLength: number | undefined,
  object: string,
): { send: Record<string, string>; md5: string | undefined; length: number | undefined } {
  const send: Record<string, string> = {};
  let md5: string | undefined;
  let length = contentLength;
  for (const [name, rawValue] of Object.entries(headers)) {
    const value: unknown = rawValue;
    if (typeof value !== 'string' && typeof value !== 'number') {
      throw new CseError(ErrorCode.INVALID_ARGUMENT, `header ${name}: expected a string value`, { object });
    }
    const lower = name.toLowerCase();
    if (isCryptoHeader(lower)) {
      throw new CseError(
        ErrorCode.INVALID_ARGUMENT,
        `the client-side-encryption header ${lower} is written by the encryption client and cannot be supplied`,
        { object, header: lower },
      );
    }
    const text = String(value);
    if (lower === OssHeader.CONTENT_MD5) {
      md5 = text;
    } else if (lower === OssHeader.CONTENT_LENGTH) {
      const n = Number(text);
      if (!/^[0-9]+$/.test(text.trim()) || !Number.isSafeInteger(n)) {
        throw new CseError(ErrorCode.INVALID_ARGUMENT, `Content-Length must be a non-negative integer, got ${JSON.stringify(text)}`, {
          object,
          header: lower,
        });
      }
      if (length !== undefined && length !== n) {
        throw new CseError(ErrorCode.INVALID_ARGUMENT, `contentLength ${length} and the Content-Length header ${n} disagree`, { object });
      }
      length = n;
    } else if (lower === 'transfer-encoding') {
      // Decided by the transport from the body.
    } else {
      send[name] = text;
    }
  }
  for (const [name, value] of Object.entries(meta ?? {})) {
    const header = `${USER_META_PREFIX}${name}`.toLowerCase();
    if (isCryptoHeader(header)) {
      throw new CseError(ErrorCode.INVALID_ARGUMENT, `meta ${JSON.stringify(name)} collides with a client-side-encryption header`, {
        object,
        header,
      });
    }
    send[`${USER_META_PREFIX}${name}`] = String(value);
  }
  if (length !== undefined && (!Number.isSafeInteger(length) || length < 0)) {
    throw new CseError(ErrorCode.INVALID_ARGUMENT, `contentLength must be a non-negative integer, got ${String(length)}`, { object });
  }
  return { send, md5, length };
}

/**
 * Encrypts and uploads one object with a single PutObject.
 *
 * @throws CseError ERR_CSE_INVALID_ARGUMENT (crypto header supplied, declared length ≠ actual), ERR_CSE_INTEGRITY
 *   (OSS's CRC-64 of what it stored differs from ours: the stored object is not what we sent), ERR_CSE_KEY_UNUSABLE,
 *   ERR_CSE_KMS, ERR_CSE_ABORTED; TransferError
 */
export async function writeEncrypted(
  store: ObjectStore,
  location: ObjectLocation,
  source: PlaintextSource,
  options: WriteEncryptedOptions,
): Promise<WrittenObject> {
  const what = `PUT oss://${location.bucket}/${location.key}`;
  throwIfAborted(options.signal, what);
  const { send, md5, length: declared } = prepareWriteHeaders(options.headers, options.meta, options.contentLength, location.key);
  if (source.kind === 'bytes' && declared !== undefined && declared !== source.bytes.length) {
    throw new CseError(ErrorCode.INVALID_ARGUMENT, `the declared length ${declared} differs from the body's ${source.bytes.length} bytes`, {
      object: location.key,
    });
  }
  const sourceLength = source.kind === 'bytes' ? source.bytes.length : source.length;
  if (source.kind === 'stream' && declared !== undefined && sourceLength !== undefined && declared !== sourceLength) {
    throw new CseError(ErrorCode.INVALID_ARGUMENT, `the declared length ${declared} differs from the source's ${sourceLength} bytes`, {
      object: location.key,
    });
  }
  const computed = options.plaintextMd5;
  if (computed !== undefined && md5 !== undefined && md5 !== computed) {
    throw new CseError(ErrorCode.INVALID_ARGUMENT, `the Content-MD5 header ${md5} differs from the MD5 of the source (${computed})`, {
      object: location.key,
      header: OssHeader.CONTENT_MD5,
    });
  }
  const storedMd5 = computed ?? md5;
  // The plaintext length is stored whenever it is known (bytes, a file, a stream with contentLength), as the Java SDK
  // and our CLI do, so that every whole read checks it (issue 14 item 2; `oss-go-java.md` §4).
  const storedLength = declared ?? sourceLength;
  const { envelope, headers: cryptoHeaders, material } = await sealEnvelope({
    masterKey: options.masterKey,
    ...(storedMd5 === undefined ? {} : { unencryptedContentMd5: storedMd5 }),
    ...(storedLength === undefined ? {} : { unencryptedContentLength: storedLength }),
    plaintextLength: sourceLength ?? declared,
  });
  const crc = new Crc64();
  let body: PutBody;
  try {
    const cipher = createCtrCipher(material.key, material.iv, 0);
    if (source.kind === 'bytes' && source.bytes.length <= ONE_SHOT_MAX) {
      const ciphertext = cipher.update(source.bytes);
      crc.update(ciphertext);
      body = { kind: 'bytes', bytes: ciphertext };
    } else if (source.kind === 'bytes') {
      // A large in-memory body is encrypted as it is sent, one view at a time: encrypting it in one `update` touched
      // 3× its size of fresh memory (ciphertext + socket copies) and made PUT 256 MiB 1.6× ali-oss in the bench.
      body = { kind: 'stream', stream: encryptViews(source.bytes, cipher, crc), length: source.bytes.length };
    } else {
      const expected = declared ?? sourceLength;
      const stream = encryptStream(source.stream, cipher, crc, expected, location.key, computed);
      body = { kind: 'stream', stream, length: expected };
    }
  } finally {
    zeroMaterial(material);
  }
  const response = await store.put(
    location,
    { headers: { ...send, ...cryptoHeaders }, body, mime: options.mime },
    { signal: options.signal, timeout: options.timeout },
  );
  const stored = parseCrc64Header(response.headers[OssHeader.CRC64]);
  if (stored !== undefined && stored !== crc.digest()) {
    throw new CseError(
      ErrorCode.INTEGRITY,
      `${what}: OSS stored bytes whose CRC-64 (${stored.toString()}) differs from the ciphertext sent (${crc.toString()}); ` +
        'the stored object is damaged: upload it again',
      { object: location.key, header: OssHeader.CRC64 },
    );
  }
  return { response, envelope, size: crc.length, crc64: crc.toString() };
}

/**
 * Bodies up to this size are encrypted in one `update` and sent as one buffer (ali-oss's `content` path, the least
 * per-request work for small objects); larger ones stream in {@link VIEW_BYTES} views. A one-shot ciphertext above
 * ~128 KiB is a fresh mmap-backed allocation: PUT 1 MiB measured 1.7× ali-oss that way, ~1.1× streamed.
 */
const ONE_SHOT_MAX = 64 * 1024;

/** The view size for streaming a large in-memory body: the cipher bench's sweet spot, and a socket-sized write. */
const VIEW_BYTES = 64 * 1024;

/** Encrypts `bytes` view by view (no copy of the plaintext; one ciphertext chunk alive at a time). */
function* encryptViews(bytes: Uint8Array, cipher: { update(chunk: Uint8Array): Buffer }, crc: Crc64): Generator<Buffer, void, undefined> {
  for (let at = 0; at < bytes.length; at += VIEW_BYTES) {
    const out = cipher.update(bytes.subarray(at, Math.min(bytes.length, at + VIEW_BYTES)));
    crc.update(out);
    yield out;
  }
}

async function* encryptStream(
  source: AsyncIterable<Uint8Array>,
  cipher: { update(chunk: Uint8Array): Buffer },
  crc: Crc64,
  expected: number | undefined,
  object: string,
  md5: string | undefined,
): AsyncGenerator<Buffer, void, undefined> {
  const hash = md5 === undefined ? undefined : createHash('md5');
  // With an MD5 to verify, each chunk is held back until the next arrives: the last one is sent only after the check,
  // so a source that changed since its MD5 was computed never completes the PUT (OSS stores nothing).
  let held: Buffer | undefined;
  for await (const chunk of source as AsyncIterable<unknown>) {
    if (!(chunk instanceof Uint8Array)) {
      throw new CseError(ErrorCode.INVALID_ARGUMENT, `the body stream must yield bytes, got ${typeof chunk}`, { object });
    }
    hash?.update(chunk);
    const out = cipher.update(chunk);
    crc.update(out);
    if (expected !== undefined && crc.length > expected) {
      throw new CseError(ErrorCode.INVALID_ARGUMENT, `the body is longer than the declared ${expected} bytes`, { object });
    }
    if (out.length === 0) continue;
    if (hash === undefined) {
      yield out;
    } else {
      if (held !== undefined) yield held;
      held = out;
    }
  }
  if (expected !== undefined && crc.length !== expected) {
    throw new CseError(ErrorCode.INVALID_ARGUMENT, `the body has ${crc.length} bytes, not the declared ${expected}`, { object });
  }
  if (hash !== undefined && hash.digest('base64') !== md5) {
    throw new CseError(
      ErrorCode.IO,
      'the source changed while it was uploaded: its bytes no longer match the MD5 computed from it before the upload; nothing was stored',
      { object },
    );
  }
  if (held !== undefined) yield held;
}
