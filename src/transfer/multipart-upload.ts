/**
 * `multipartUpload`: an encrypted multipart upload of a file, bytes or a stream of known length, in parallel and
 * resumable.
 *
 * - The part size is ours (a multiple of 16, ≥ 100 KiB, enough for 10,000 parts: `format/parts.ts`), never
 *   `ali-oss`'s `_getPartSize`, which is not 16-aligned.
 * - Parts are encrypted at their own counter (`multipart.ts`) and uploaded by at most `parallel` workers from one
 *   shared source: positional reads of one file handle, or sequential reads of a stream into at most `parallel` part
 *   buffers. Peak memory is about `parallel × partSize` for streams and a few chunks per worker for files, whatever
 *   the object size.
 * - Transient failures (network, 5xx, CRC mismatch) are retried with backoff. A part that still fails stops the
 *   upload: parts in flight finish, no new part starts, and ONE error lists every part failure. An `AbortSignal`
 *   stops promptly. Whatever stops an upload once it is initiated (a part, the signal, the progress callback, a
 *   checkpoint that cannot be saved, a stream longer than declared, Complete), the upload is kept when it is
 *   resumable (a stored checkpoint, or a caller-named upload id) and aborted otherwise, best effort: an unfinished
 *   upload nobody can resume would only cost storage. The error thrown is the original one, its message saying what
 *   became of the upload (and what failed while cleaning up).
 * - A checkpoint save that fails stops the upload as itself (ERR_CSE_IO naming the checkpoint); it is never counted as
 *   a failure of the part that was just uploaded.
 * - Resuming (a checkpoint, or an upload id whose ListParts reports the `ClientEncryption*` context) unwraps the
 *   stored envelope again, reconciles with ListParts (a part OSS has but the checkpoint lacks is re-verified by the
 *   CRC-64 of our own ciphertext for it, or re-sent) and finishes.
 * - One part falls back to a plain encrypted PutObject.
 *
 * One file over 600 lines on purpose: every failure after Initiate must end in one place (kept resumable, or
 * aborted), which needs the whole upload's state in one scope; the gone-upload checks are apart (upload-gone.ts).
 *
 * @packageDocumentation
 */

import { open, stat, type FileHandle } from 'node:fs/promises';
import { resolve } from 'node:path';
import { createReadStream } from 'node:fs';
import { CseError, ErrorCode, TransferError } from '../errors.js';
import { parseEnvelope } from '../format/envelope.js';
import { choosePartSize, partBounds, partCount, partCounterOffset, validatePartSize, type PartBounds } from '../format/parts.js';
import type { ContentMaterial, Envelope } from '../format/types.js';
import { createCtrCipher } from '../cipher/aes-ctr.js';
import type { KeyRing } from '../keys/key-ring.js';
import type { MasterKey } from '../keys/master-key.js';
import { abortedError, throwIfAborted } from './abort.js';
import {
  CHECKPOINT_VERSION,
  ThrottledSaver,
  checkUploadCheckpointFor,
  type CheckpointKeyInfo,
  type CheckpointStore,
  type UploadCheckpoint,
} from './checkpoint.js';
import { Crc64 } from './crc64.js';
import {
  CONTEXT_VERSION,
  checkContext,
  completeEncryptedUpload,
  contextFromListing,
  initiateEncryptedUpload,
  listAllParts,
  uploadEncryptedPart,
  type MaterialCache,
  type MultipartContext,
  type MultipartObjectStore,
  type PartListing,
  type TransferHooks,
  type UploadedPart,
} from './multipart.js';
import { checkParallel, retryPolicy, withRetries, type RetryPolicy } from './retry.js';
import type { ObjectLocation, ResponseInfo, StoreResponse } from './store.js';
import { inspectGoneUpload } from './upload-gone.js';
import { writeEncrypted } from './write.js';

/** Parts uploaded at once by default. */
export const DEFAULT_UPLOAD_PARALLEL = 4;

/**
 * Bytes read from a file per positional read while a part streams: 64 KiB, as `fs.createReadStream` reads, and below
 * glibc's mmap threshold, so the ciphertext chunk made from it comes from the reused heap rather than from fresh
 * pages (first-touch page faults dominate large transfers on some VMs: bench README "fresh memory").
 */
const FILE_CHUNK = 64 * 1024;

/** What to upload. */
export type UploadSource =
  | { readonly kind: 'file'; readonly path: string }
  | { readonly kind: 'bytes'; readonly bytes: Uint8Array }
  | { readonly kind: 'stream'; readonly stream: AsyncIterable<Uint8Array>; readonly length: number };

/** What a progress callback learns (also carried by every {@link MultipartUploadCheckpoint}). */
export interface UploadProgressInfo {
  /** Plaintext bytes acknowledged by OSS so far (resumed parts included). */
  readonly bytes: number;
  /** The object's size. */
  readonly totalBytes: number;
  /** The part just finished; undefined for the call after Initiate. */
  readonly part: UploadedPart | undefined;
  /** The upload id (undefined for a single PUT). */
  readonly uploadId: string | undefined;
}

/** A finished part as ali-oss's checkpoint lists it. */
export interface DonePart {
  /** Part number, 1-based. */
  readonly number: number;
  /** The part's ETag (quoted, as OSS returns it). */
  readonly etag: string;
}

/**
 * The checkpoint `progress` receives: ali-oss's shape (`file`, `name`, `fileSize`, `partSize`, `uploadId`,
 * `doneParts`) and, besides, oss-cse's own {@link UploadCheckpoint} record (the **wrapped** envelope, the source's size
 * and mtime, the parts with their CRC-64) and the {@link UploadProgressInfo} counters. Plain JSON, never key material.
 * Pass it back as `options.checkpoint` to resume the upload, as ali-oss documents (file sources only).
 */
export interface MultipartUploadCheckpoint extends UploadCheckpoint, UploadProgressInfo {
  /** The file path being uploaded (ali-oss's `file`); null for bytes and streams, which cannot be resumed this way. */
  readonly file: string | null;
  /** The object key (ali-oss's `name`). */
  readonly name: string;
  /** The plaintext size (ali-oss's `fileSize`). */
  readonly fileSize: number;
  /** The multipart upload id. */
  readonly uploadId: string;
  /** The finished parts, ascending (ali-oss's `doneParts`). */
  readonly doneParts: readonly DonePart[];
}

/**
 * Progress callback, as ali-oss calls it: `progress(p, checkpoint, res)`. `p` is `0` after Initiate, then
 * `doneParts / (parts + 1)` after each part (so below 1 until the upload is complete), and `1` exactly once, after
 * Complete (or the single PutObject of a small object), with `checkpoint` null. `res` is the response of the request
 * that just finished. It is awaited; if it throws, the upload stops (parts in flight finish) and the callback's error
 * is thrown; the upload is kept when resumable (a checkpoint or a named upload id), aborted otherwise.
 */
export type UploadProgress = (
  p: number,
  checkpoint: MultipartUploadCheckpoint | null,
  res: ResponseInfo | undefined,
) => void | Promise<void>;

/** Options of {@link multipartUpload}. */
export interface MultipartUploadOptions {
  /** Wraps the fresh data key and IV of a new upload. */
  readonly masterKey: MasterKey;
  /** Unwraps the envelope of a resumed upload. */
  readonly keys: KeyRing;
  /** Holds the plaintext material while parts are uploaded. */
  readonly cache: MaterialCache;
  /** Part size (strictly checked when given); default: chosen from the size (10 MiB, or more for > 100 GiB). */
  readonly partSize?: number | undefined;
  /** Parts in flight (1–64, default {@link DEFAULT_UPLOAD_PARALLEL}). */
  readonly parallel?: number | undefined;
  /** Retries per part for transient failures (default 3). */
  readonly retries?: number | undefined;
  /** Where the resumable record lives; without one, a failed upload is aborted. */
  readonly checkpoint?: CheckpointStore<UploadCheckpoint> | undefined;
  /** Resume this upload (its ListParts must report the encryption context); kept on failure. */
  readonly uploadId?: string | undefined;
  /** Request headers (Content-Type, Content-MD5 of the whole plaintext, …). */
  readonly headers?: Readonly<Record<string, string>> | undefined;
  /**
   * The plaintext MD5 (base64) from the caller's earlier read of the source (`contentMd5: true`). When the object
   * fits one part, the bytes streamed by the PUT are hashed again and the upload fails (ERR_CSE_IO) when they differ.
   */
  readonly plaintextMd5?: string | undefined;
  /** User metadata. */
  readonly meta?: Readonly<Record<string, string | number>> | undefined;
  /** Content-Type, or a file name/extension to look it up from. */
  readonly mime?: string | undefined;
  /** Progress callback. */
  readonly progress?: UploadProgress | undefined;
  /** Upload callback headers (`x-oss-callback`…), sent on Complete, or on the PutObject of a one-part object. */
  readonly callbackHeaders?: Readonly<Record<string, string>> | undefined;
  readonly signal?: AbortSignal | undefined;
  readonly timeout?: number | undefined;
  /** Least milliseconds between checkpoint writes (default 1000; 0 writes after every part). */
  readonly checkpointIntervalMs?: number | undefined;
  /** Fixed data key and IV of a new upload: known-answer tests only. @internal */
  readonly contentMaterial?: ContentMaterial | undefined;
  /** @internal */
  readonly hooks?: TransferHooks | undefined;
}

/** The result of {@link multipartUpload}. */
export interface MultipartUploadResult {
  /** `multipart`, or `put` when the object fit in one part. */
  readonly method: 'multipart' | 'put';
  /** The upload id (multipart). */
  readonly uploadId: string | undefined;
  /** The last response (Complete, or PutObject). */
  readonly response: StoreResponse;
  /** The object's ETag, when known. */
  readonly etag: string | undefined;
  /** The stored envelope. */
  readonly envelope: Envelope;
  /** Plaintext bytes. */
  readonly size: number;
  /** CRC-64 of the ciphertext, decimal (checked against OSS's). */
  readonly crc64: string;
  /** Part size (the object's size for a single PUT). */
  readonly partSize: number;
  /** Number of parts. */
  readonly partCount: number;
  /** Parts sent by this call (the others were already uploaded by a previous run). */
  readonly partsSent: number;
  /** True when an earlier upload was continued. */
  readonly resumed: boolean;
  /**
   * True when the checkpoint's upload was gone from OSS because an earlier run had completed it (its end lost): the
   * object holds the checkpoint's envelope and the source's size, and nothing was sent (`upload-gone.ts`).
   */
  readonly alreadyComplete?: boolean;
  /**
   * The upload id of a checkpoint whose upload was gone (aborted or expired) while the object did not exist: this
   * call started a new upload from the start instead (`upload-gone.ts`).
   */
  readonly restartedFrom?: string;
  /**
   * Set when the upload finished (the object is stored) but its checkpoint could not be removed afterwards: an
   * ERR_CSE_IO `CseError` naming the checkpoint, with the store's failure as `cause`. The upload is not failed for it
   * (the object is there and progress reached 1); the stale checkpoint is harmless (a later run with it finds the
   * object complete) but should be removed by hand.
   */
  readonly checkpointError?: CseError;
}

/** One part's failure. */
export interface PartFailure {
  /** The part. */
  readonly partNumber: number;
  /** Its last error. */
  readonly error: unknown;
}

/**
 * A multipart upload failed: lists every part that failed (after retries), says whether the upload was aborted, and
 * where it can be resumed from.
 */
export class MultipartUploadError extends CseError {
  /** The upload id, when one was initiated. */
  readonly uploadId: string | undefined;
  /** Every failed part with its error. */
  readonly failures: readonly PartFailure[];
  /** True when the upload was aborted on OSS (nothing to resume). */
  readonly uploadAborted: boolean;
  /** The checkpoint to resume from, when kept. */
  readonly checkpoint: string | undefined;
  /** Why aborting the upload failed, when it was tried and failed (the upload is then left on OSS). */
  readonly abortError: unknown;
  /** Why the last checkpoint save failed, when it did (the checkpoint then holds an earlier state, still resumable). */
  readonly checkpointError: unknown;

  /**
   * @param location - the object
   * @param uploadId - the upload
   * @param failures - every failed part
   * @param state - aborted flag, checkpoint, and what aborting or the last checkpoint save reported
   */
  constructor(
    location: ObjectLocation,
    uploadId: string | undefined,
    failures: readonly PartFailure[],
    state: {
      readonly uploadAborted: boolean;
      readonly checkpoint: string | undefined;
      readonly abortError?: unknown;
      readonly checkpointError?: unknown;
    },
  ) {
    const list = failures.map((f) => `part ${f.partNumber}: ${f.error instanceof Error ? f.error.message : String(f.error)}`).join('; ');
    const after = state.uploadAborted
      ? `upload ${uploadId ?? '?'} was aborted; no object was written`
      : state.checkpoint !== undefined
        ? `upload ${uploadId ?? '?'} is kept: resume it with the checkpoint ${state.checkpoint}`
        : `upload ${uploadId ?? '?'} is kept: resume it with uploadId, or abort it`;
    const { abortError, checkpointError } = state;
    const abortNote =
      abortError === undefined ? '' : ` (aborting it failed too: ${abortError instanceof Error ? abortError.message : 'unknown error'})`;
    const checkpointNote =
      checkpointError === undefined
        ? ''
        : ` (saving the checkpoint failed too, it holds an earlier state: ${checkpointError instanceof Error ? checkpointError.message : 'unknown error'})`;
    super(
      ErrorCode.MULTIPART,
      `multipart upload of oss://${location.bucket}/${location.key} failed: ${failures.length} part${failures.length === 1 ? '' : 's'} ` +
        `failed (${list}); ${after}${abortNote}${checkpointNote}`,
      { object: location.key, cause: failures[0]?.error },
    );
    this.name = 'MultipartUploadError';
    this.uploadId = uploadId;
    this.failures = failures;
    this.uploadAborted = state.uploadAborted;
    this.checkpoint = state.checkpoint;
    this.abortError = abortError;
    this.checkpointError = checkpointError;
  }
}

/** A readable source of parts. */
interface PartSource {
  /** True when parts can be read in any order and again (file, bytes). */
  readonly random: boolean;
  /** Part `n`'s plaintext (random sources; may be called again for a retry). */
  read(bounds: PartBounds): AsyncIterable<Uint8Array> | Uint8Array;
  /** The next `size` bytes (sequential sources). */
  next(size: number): Promise<Buffer>;
  close(): Promise<void>;
}

class FileSource implements PartSource {
  readonly random = true;
  readonly #handle: FileHandle;
  readonly #path: string;
  constructor(handle: FileHandle, path: string) {
    this.#handle = handle;
    this.#path = path;
  }
  /**
   * Part `bounds` in chunks of {@link FILE_CHUNK}. One buffer is reused for the whole part: each chunk is valid until
   * the next one is pulled (every consumer encrypts or hashes it at once, which copies it), so a part costs no fresh
   * memory beyond the ciphertext chunks.
   */
  read(bounds: PartBounds): AsyncIterable<Uint8Array> {
    const handle = this.#handle;
    const path = this.#path;
    return (async function* chunks(): AsyncGenerator<Uint8Array> {
      const buffer = Buffer.allocUnsafe(Math.min(FILE_CHUNK, Math.max(1, bounds.end - bounds.start)));
      let at = bounds.start;
      while (at < bounds.end) {
        const want = Math.min(buffer.length, bounds.end - at);
        let got: number;
        try {
          ({ bytesRead: got } = await handle.read(buffer, 0, want, at));
        } catch (e) {
          throw new CseError(ErrorCode.IO, `reading ${path} at ${at}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
        }
        if (got === 0) throw new CseError(ErrorCode.IO, `${path} ended at ${at} bytes: it shrank during the upload`);
        yield buffer.subarray(0, got);
        at += got;
      }
    })();
  }
  async next(): Promise<Buffer> {
    return Promise.reject(new Error('unreachable: file sources are random access'));
  }
  async close(): Promise<void> {
    await this.#handle.close();
  }
}

class BytesSource implements PartSource {
  readonly random = true;
  readonly #bytes: Uint8Array;
  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
  }
  read(bounds: PartBounds): Uint8Array {
    return this.#bytes.subarray(bounds.start, bounds.end);
  }
  async next(): Promise<Buffer> {
    return Promise.reject(new Error('unreachable: byte sources are random access'));
  }
  async close(): Promise<void> {
    return Promise.resolve();
  }
}

class StreamSource implements PartSource {
  readonly random = false;
  readonly #iterator: AsyncIterator<unknown>;
  #pending: Uint8Array | undefined;
  #read = 0;
  constructor(stream: AsyncIterable<Uint8Array>) {
    this.#iterator = (stream as AsyncIterable<unknown>)[Symbol.asyncIterator]();
  }
  read(): Uint8Array {
    throw new Error('unreachable: stream sources are sequential');
  }
  async next(size: number): Promise<Buffer> {
    const out = Buffer.allocUnsafe(size);
    let filled = 0;
    while (filled < size) {
      let chunk = this.#pending;
      this.#pending = undefined;
      if (chunk === undefined) {
        const r = await this.#iterator.next();
        if (r.done === true) {
          throw new CseError(ErrorCode.INVALID_ARGUMENT, `the stream ended after ${this.#read + filled} bytes, before its declared length`);
        }
        if (!(r.value instanceof Uint8Array)) {
          throw new CseError(ErrorCode.INVALID_ARGUMENT, `the stream must yield bytes, got ${typeof r.value}`);
        }
        chunk = r.value;
      }
      const take = Math.min(chunk.length, size - filled);
      out.set(chunk.subarray(0, take), filled);
      filled += take;
      if (take < chunk.length) this.#pending = chunk.subarray(take);
    }
    this.#read += size;
    return out;
  }
  /** Fails when the stream has more bytes than declared. */
  async finish(): Promise<void> {
    if (this.#pending !== undefined && this.#pending.length > 0) throw this.#tooLong();
    for (;;) {
      const r = await this.#iterator.next();
      if (r.done === true) return;
      if (r.value instanceof Uint8Array && r.value.length > 0) throw this.#tooLong();
    }
  }
  #tooLong(): CseError {
    return new CseError(ErrorCode.INVALID_ARGUMENT, `the stream has more bytes than its declared length ${this.#read}`);
  }
  async close(): Promise<void> {
    await this.#iterator.return?.();
  }
}

interface FileFacts {
  readonly path: string;
  readonly size: number;
  readonly mtimeMs: number;
}

async function fileFacts(path: string): Promise<FileFacts> {
  let info;
  try {
    info = await stat(path);
  } catch (e) {
    throw new CseError(ErrorCode.IO, `cannot read ${path}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  if (!info.isFile()) throw new CseError(ErrorCode.IO, `${path} is not a file`);
  return { path: resolve(path), size: info.size, mtimeMs: info.mtimeMs };
}

function describe(location: ObjectLocation): string {
  return `oss://${location.bucket}/${location.key}`;
}

/**
 * Uploads `source` to `location`, encrypted, in parallel parts (or one PUT when it fits in one part).
 *
 * @throws MultipartUploadError (ERR_CSE_MULTIPART) listing every failed part; CseError ERR_CSE_INVALID_ARGUMENT (part
 *   size, parallel, retries, a stream without length), ERR_CSE_MULTIPART (a checkpoint of another object or source,
 *   an upload without encryption context, the source changed during the upload), ERR_CSE_IO, ERR_CSE_INTEGRITY,
 *   ERR_CSE_NO_MATCHING_KEY (resuming with keys that cannot unwrap the upload), ERR_CSE_ABORTED; TransferError
 */
export async function multipartUpload(
  store: MultipartObjectStore,
  location: ObjectLocation,
  source: UploadSource,
  options: MultipartUploadOptions,
): Promise<MultipartUploadResult> {
  const what = `multipart upload of ${describe(location)}`;
  throwIfAborted(options.signal, what);
  const parallel = checkParallel(options.parallel, DEFAULT_UPLOAD_PARALLEL);
  const policy = retryPolicy(options.retries);
  const call = { signal: options.signal, timeout: options.timeout };

  let file: FileFacts | undefined;
  let dataSize: number;
  if (source.kind === 'file') {
    file = await fileFacts(source.path);
    dataSize = file.size;
  } else if (source.kind === 'bytes') {
    dataSize = source.bytes.length;
  } else {
    if (!Number.isSafeInteger(source.length) || source.length < 0) {
      throw new CseError(
        ErrorCode.INVALID_ARGUMENT,
        'a stream needs its length (contentLength) for a multipart upload: OSS requires the data size at Initiate',
        { object: location.key },
      );
    }
    dataSize = source.length;
  }
  if (options.checkpoint !== undefined && file === undefined) {
    throw new CseError(ErrorCode.INVALID_ARGUMENT, 'a checkpoint needs a file source (it records the file to resume from)', {
      object: location.key,
    });
  }
  let partSize: number;
  if (options.partSize === undefined) {
    partSize = choosePartSize(dataSize);
  } else {
    validatePartSize(options.partSize, dataSize);
    partSize = options.partSize;
  }

  // Resume: a matching checkpoint, or a named upload.
  let context: MultipartContext | undefined;
  let done = new Map<number, UploadedPart>();
  let listing: PartListing | undefined;
  let restartedFrom: string | undefined;
  let wrappedBy: CheckpointKeyInfo | undefined;
  const checkpointStore = options.checkpoint;
  if (checkpointStore !== undefined && file !== undefined) {
    const saved = await checkpointStore.load();
    if (saved !== undefined) {
      checkUploadCheckpointFor(saved, { bucket: location.bucket, key: location.key, sourcePath: file.path }, checkpointStore.description);
      if (saved.source.size === file.size && saved.source.mtimeMs === file.mtimeMs && saved.dataSize === file.size) {
        context = checkContext(
          {
            version: CONTEXT_VERSION,
            bucket: saved.bucket,
            key: saved.key,
            uploadId: saved.uploadId,
            dataSize: saved.dataSize,
            partSize: saved.partSize,
            envelope: saved.envelope,
          },
          location,
        );
        done = new Map(saved.parts.map((p) => [p.partNumber, p]));
        wrappedBy = saved.wrappedBy;
        try {
          listing = await listAllParts(store, location, saved.uploadId, call);
        } catch (e) {
          if (!(e instanceof TransferError && e.ossCode === 'NoSuchUpload')) throw e;
          // The recorded upload is gone (completed by a run whose end was lost, aborted, or expired): the object says
          // which, before anything is sent again (upload-gone.ts).
          const gone = await inspectGoneUpload(store, location, saved, file.size, checkpointStore.description, call);
          if (gone.kind === 'complete') {
            // The object is there: a checkpoint that cannot be removed does not undo that (reported, not thrown).
            const checkpointError = await removeFinishedCheckpoint(checkpointStore, location);
            await options.progress?.(1, null, gone.response.res);
            return {
              method: 'multipart',
              uploadId: saved.uploadId,
              response: gone.response,
              etag: gone.etag,
              envelope: parseEnvelope(saved.envelope, { object: location.key }),
              size: dataSize,
              crc64: gone.crc64 ?? '',
              partSize: saved.partSize,
              partCount: partCount(saved.dataSize, saved.partSize),
              partsSent: 0,
              resumed: true,
              alreadyComplete: true,
              ...(checkpointError === undefined ? {} : { checkpointError }),
            };
          }
          await checkpointStore.remove();
          restartedFrom = saved.uploadId;
          context = undefined;
          done = new Map();
          wrappedBy = undefined;
        }
      } else {
        // The file changed since: its uploaded parts are of other bytes. Start over, discarding the old upload.
        await store.abortMultipartUpload(location, saved.uploadId, call).catch(() => undefined);
        await checkpointStore.remove();
      }
    }
  }
  if (context === undefined && options.uploadId !== undefined) {
    try {
      listing = await listAllParts(store, location, options.uploadId, call);
    } catch (e) {
      if (e instanceof TransferError && e.ossCode === 'NoSuchUpload') {
        throw new CseError(ErrorCode.MULTIPART, `upload ${options.uploadId} does not exist on ${describe(location)} (completed or aborted?)`, {
          object: location.key,
          cause: e,
        });
      }
      throw e;
    }
    context = contextFromListing(location, options.uploadId, listing.encryption);
  }
  if (context !== undefined && context.dataSize !== dataSize) {
    throw new CseError(
      ErrorCode.MULTIPART,
      `upload ${context.uploadId} is for ${context.dataSize} bytes, the source has ${dataSize}`,
      { object: location.key },
    );
  }

  if (context === undefined && partCount(dataSize, partSize) === 1) {
    const put = await singlePut(store, location, source, dataSize, options);
    return restartedFrom === undefined ? put : { ...put, restartedFrom };
  }

  const resumed = context !== undefined;
  let initiatedRes: ResponseInfo | undefined;
  if (context === undefined) {
    const initiated = await initiateEncryptedUpload(store, location, {
      masterKey: options.masterKey,
      dataSize,
      partSize,
      headers: options.headers,
      meta: options.meta,
      mime: options.mime ?? (file === undefined ? undefined : file.path),
      cache: options.cache,
      contentMaterial: options.contentMaterial,
      signal: options.signal,
      timeout: options.timeout,
    });
    context = initiated.context;
    wrappedBy = keyInfoOf(options.masterKey);
    initiatedRes = initiated.response.res;
  }
  const ctx = context;
  const count = partCount(ctx.dataSize, ctx.partSize);
  const saver = checkpointStore === undefined ? undefined : new ThrottledSaver(checkpointStore, options.checkpointIntervalMs ?? 1000);
  const snapshot = (): UploadCheckpoint => ({
    version: CHECKPOINT_VERSION,
    kind: 'upload',
    bucket: location.bucket,
    key: location.key,
    uploadId: ctx.uploadId,
    source: { path: file?.path ?? '', size: file?.size ?? dataSize, mtimeMs: file?.mtimeMs ?? 0 },
    envelope: ctx.envelope,
    partSize: ctx.partSize,
    dataSize: ctx.dataSize,
    parts: [...done.values()].sort((a, b) => a.partNumber - b.partNumber),
    updatedAt: new Date().toISOString(),
    ...(wrappedBy === undefined ? {} : { wrappedBy }),
  });
  const progressCheckpoint = (bytes: number, part: UploadedPart | undefined): MultipartUploadCheckpoint => {
    const record = snapshot();
    if (file !== undefined) state.handedOut = true;
    return {
      ...record,
      file: file?.path ?? null,
      name: location.key,
      fileSize: ctx.dataSize,
      doneParts: record.parts.map((p) => ({ number: p.partNumber, etag: p.etag })),
      bytes,
      totalBytes: ctx.dataSize,
      part,
    };
  };
  // From here on the upload exists on OSS: every failure either leaves it resumable (a record to resume from, or an
  // upload id the caller named) or aborts it, so that no unfinished upload is left behind unnoticed.
  const state: AfterInitiate = {
    recorded: resumed && checkpointStore !== undefined,
    checkpointFailure: undefined,
    discard: false,
    completed: false,
    handedOut: false,
  };
  const saveCheckpoint = async (throttled: boolean): Promise<void> => {
    if (saver === undefined || checkpointStore === undefined) return;
    try {
      if (throttled) await saver.maybeSave(snapshot);
      else await saver.save(snapshot);
    } catch (e) {
      state.checkpointFailure ??= checkpointSaveError(e, checkpointStore.description, location);
      throw state.checkpointFailure;
    }
    state.recorded = true;
  };

  let sourceReader: PartSource | undefined;
  try {
    if (!resumed) {
      await saveCheckpoint(false);
      // ali-oss reports 0 with the fresh checkpoint right after Initiate (`lib/managed-upload.js`).
      await options.progress?.(0, progressCheckpoint(0, undefined), initiatedRes);
    }
    sourceReader =
      source.kind === 'file'
        ? new FileSource(await openFile(source.path), source.path)
        : source.kind === 'bytes'
          ? new BytesSource(source.bytes)
          : new StreamSource(source.stream);
    // The material unwraps now: a resume with keys that cannot open the envelope fails before any part is sent.
    const material = await options.cache.material(ctx, options.keys);
    const unverified = new Map<number, UploadedPart>();
    if (resumed) {
      listing ??= await listAllParts(store, location, ctx.uploadId, call);
      done = await reconcile(ctx, done, listing, sourceReader, material, unverified);
      await saveCheckpoint(false);
    }
    const run = await uploadParts({
      store,
      location,
      context: ctx,
      count,
      done,
      source: sourceReader,
      material,
      parallel,
      policy,
      options,
      onPart: async () => saveCheckpoint(true),
      progressCheckpoint,
      unverified,
    });
    if (run.stopped !== undefined) throw run.stopped;
    if (run.failures.length > 0) throw new PartsFailed(run.failures);
    if (sourceReader instanceof StreamSource) await sourceReader.finish();
    if (file !== undefined) {
      const now = await fileFacts(file.path);
      if (now.size !== file.size || now.mtimeMs !== file.mtimeMs) {
        // Its parts are of other bytes: neither completing nor resuming this upload can give the file's content.
        state.discard = true;
        throw new CseError(ErrorCode.MULTIPART, `${file.path} changed during the upload`, { object: location.key });
      }
    }
    const completed = await completeEncryptedUpload(store, location, ctx, [...done.values()], {
      cache: options.cache,
      signal: options.signal,
      timeout: options.timeout,
      retry: policy,
      headers: options.callbackHeaders,
    });
    state.completed = true;
    // Complete succeeded: the upload is done whatever happens to its checkpoint (reported, not thrown).
    const checkpointError = checkpointStore === undefined ? undefined : await removeFinishedCheckpoint(checkpointStore, location);
    await options.progress?.(1, null, completed.response.res);
    return {
      method: 'multipart',
      uploadId: ctx.uploadId,
      response: completed.response,
      etag: completed.etag,
      envelope: parseEnvelope(ctx.envelope, { object: location.key }),
      size: dataSize,
      crc64: completed.crc64,
      partSize: ctx.partSize,
      partCount: count,
      partsSent: run.sent,
      resumed,
      ...(restartedFrom === undefined ? {} : { restartedFrom }),
      ...(checkpointError === undefined ? {} : { checkpointError }),
    };
  } catch (e) {
    // After Complete the object exists and the upload is gone: nothing to keep or abort.
    if (state.completed) throw e;
    throw await endFailedUpload(e, {
      store,
      location,
      context: ctx,
      count,
      done,
      options,
      state,
      checkpoint: checkpointStore,
      saveCheckpoint,
    });
  } finally {
    await sourceReader?.close().catch(() => undefined);
  }
}

/** Where a multipart upload stands once initiated; read when it fails. */
interface AfterInitiate {
  /** A record of the upload is stored (resumed from one, or saved by this run): a later run can continue it. */
  recorded: boolean;
  /** The first checkpoint save that failed (the transfer stops on it). */
  checkpointFailure: CseError | undefined;
  /** The upload is worthless (the source changed): abort it and drop its checkpoint even when resumable. */
  discard: boolean;
  /** Complete succeeded. */
  completed: boolean;
  /**
   * `progress` was handed a checkpoint of a file upload: the caller can resume with it, as with ali-oss (which never
   * aborts a failed multipart upload), so the upload is kept.
   */
  handedOut: boolean;
}

/** Parts failed for good: turned into a {@link MultipartUploadError} once the upload's fate is known. */
class PartsFailed extends Error {
  readonly failures: readonly PartFailure[];
  constructor(failures: readonly PartFailure[]) {
    super('parts failed');
    this.failures = failures;
  }
}

/** A checkpoint save failure as an ERR_CSE_IO naming the checkpoint (a custom store may throw anything). */
function checkpointSaveError(e: unknown, description: string, location: ObjectLocation): CseError {
  if (e instanceof CseError) return e;
  return new CseError(ErrorCode.IO, `checkpoint ${description}: cannot save it: ${messageOf(e)}`, { object: location.key, cause: e });
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * Decides the fate of an upload that failed after Initiate and returns the error to throw: the original one (its type
 * and code kept), told what became of the upload. A resumable upload (a stored record, or an upload id the caller
 * named) is kept, with a last checkpoint save; any other is aborted, best effort. What goes wrong while doing so is
 * added to the message and never replaces the original error.
 */
async function endFailedUpload(
  e: unknown,
  input: {
    readonly store: MultipartObjectStore;
    readonly location: ObjectLocation;
    readonly context: MultipartContext;
    readonly count: number;
    readonly done: ReadonlyMap<number, UploadedPart>;
    readonly options: MultipartUploadOptions;
    readonly state: AfterInitiate;
    readonly checkpoint: CheckpointStore<UploadCheckpoint> | undefined;
    readonly saveCheckpoint: (throttled: boolean) => Promise<void>;
  },
): Promise<unknown> {
  const { store, location, context, options, state, checkpoint } = input;
  const id = context.uploadId;
  // A checkpoint handed to `progress` keeps the upload as ali-oss would, except when the caller's own signal stopped
  // it: cancelling an upload nothing else records still cleans up after itself.
  const cancelled = e instanceof CseError && e.cseCode === ErrorCode.ABORTED;
  const keep = !state.discard && (state.recorded || (state.handedOut && !cancelled) || options.uploadId !== undefined);
  let checkpointError: unknown;
  let abortError: unknown;
  if (keep) {
    // The parts finished since the last throttled save, so that the next run need not verify or send them again.
    if (state.recorded && state.checkpointFailure === undefined) {
      await input.saveCheckpoint(false).catch((s: unknown) => {
        checkpointError = s;
      });
    }
  } else {
    try {
      // Without the signal: an aborted call must still clean up after itself.
      await store.abortMultipartUpload(location, id, { timeout: options.timeout });
      options.cache.forget(context);
    } catch (a) {
      abortError = a;
    }
    if (state.discard) await checkpoint?.remove().catch(() => undefined);
  }
  const aborted = !keep && abortError === undefined;
  const fate = aborted
    ? `upload ${id} was aborted on OSS; no object was written`
    : keep && state.recorded && checkpoint !== undefined
      ? `upload ${id} is kept: resume it with the checkpoint ${checkpoint.description}` +
        (state.checkpointFailure === undefined && checkpointError === undefined ? '' : ' (as last saved)')
      : state.handedOut && options.uploadId === undefined
        ? `upload ${id} is kept: resume it with the checkpoint progress received (options.checkpoint), or abort it`
        : `upload ${id} is kept: resume it with uploadId, or abort it`;
  const notes = [
    ...(abortError === undefined ? [] : [`aborting it failed too: ${messageOf(abortError)}`]),
    ...(checkpointError === undefined ? [] : [`saving the checkpoint failed too: ${messageOf(checkpointError)}`]),
  ];
  if (e instanceof PartsFailed) {
    return new MultipartUploadError(location, id, e.failures, {
      uploadAborted: aborted,
      checkpoint: keep && state.recorded ? checkpoint?.description : undefined,
      abortError,
      checkpointError,
    });
  }
  const suffix = `${fate}${notes.length === 0 ? '' : ` (${notes.join('; ')})`}`;
  if (e instanceof CseError && e.cseCode === ErrorCode.ABORTED) {
    return new CseError(
      ErrorCode.ABORTED,
      `multipart upload ${id} of ${describe(location)} was stopped by its abort signal after ${input.done.size} of ${input.count} parts; ${suffix}`,
      { object: location.key, cause: e },
    );
  }
  if (e instanceof Error) {
    // The same error object (type, code, fields), its message completed with the upload's fate.
    e.message = `${e.message}; ${suffix}`;
    return e;
  }
  return new CseError(ErrorCode.MULTIPART, `${describe(location)}: ${String(e)}; ${suffix}`, { object: location.key, cause: e });
}

/** The public facts of the key that wraps a new upload's envelope, for its checkpoint. */
function keyInfoOf(key: MasterKey): CheckpointKeyInfo {
  const fingerprint = (key as MasterKey & { readonly fingerprint?: unknown }).fingerprint;
  return typeof fingerprint === 'string' && /^[0-9a-f]{64}$/.test(fingerprint) ? { name: key.name, fingerprint } : { name: key.name };
}

async function openFile(path: string): Promise<FileHandle> {
  try {
    return await open(path, 'r');
  } catch (e) {
    throw new CseError(ErrorCode.IO, `cannot open ${path}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
}

/**
 * Removes the checkpoint of an upload that has finished. A failure is returned (ERR_CSE_IO naming the checkpoint), not
 * thrown: the object is stored, so failing the call would tell the caller the upload did not happen.
 */
async function removeFinishedCheckpoint(
  checkpointStore: CheckpointStore<UploadCheckpoint>,
  location: ObjectLocation,
): Promise<CseError | undefined> {
  try {
    await checkpointStore.remove();
    return undefined;
  } catch (e) {
    return new CseError(
      ErrorCode.IO,
      `${describe(location)}: the upload is complete, but its checkpoint ${checkpointStore.description} could not be removed ` +
        `(${e instanceof Error ? e.message : String(e)}); remove it by hand`,
      { object: location.key, cause: e },
    );
  }
}

async function singlePut(
  store: MultipartObjectStore,
  location: ObjectLocation,
  source: UploadSource,
  dataSize: number,
  options: MultipartUploadOptions,
): Promise<MultipartUploadResult> {
  const fileStream = source.kind === 'file' ? createReadStream(source.path, { highWaterMark: FILE_CHUNK }) : undefined;
  try {
    const written = await writeEncrypted(
      store,
      location,
      source.kind === 'bytes'
        ? { kind: 'bytes', bytes: source.bytes }
        : { kind: 'stream', stream: source.kind === 'stream' ? source.stream : (fileStream as AsyncIterable<Uint8Array>), length: dataSize },
      {
        masterKey: options.masterKey,
        headers: { ...(options.headers ?? {}), ...(options.callbackHeaders ?? {}) },
        meta: options.meta,
        mime: options.mime ?? (source.kind === 'file' ? source.path : undefined),
        // Re-hashes the streamed bytes against the MD5 of the caller's earlier read (a file changed in between fails
        // before the PUT completes), as `put` does; the Content-MD5 header alone would only be stored.
        plaintextMd5: options.plaintextMd5,
        signal: options.signal,
        timeout: options.timeout,
      },
    );
    await options.progress?.(1, null, written.response.res);
    return {
      method: 'put',
      uploadId: undefined,
      response: written.response,
      etag: written.response.headers.etag,
      envelope: written.envelope,
      size: written.size,
      crc64: written.crc64,
      partSize: dataSize,
      partCount: 1,
      partsSent: 1,
      resumed: false,
    };
  } finally {
    fileStream?.destroy();
  }
}

/** The CRC-64 of our ciphertext for part `n`, computed locally. */
async function localPartCrc(context: MultipartContext, bounds: PartBounds, partNumber: number, plaintext: AsyncIterable<Uint8Array> | Uint8Array, material: ContentMaterial): Promise<string> {
  const cipher = createCtrCipher(material.key, material.iv, partCounterOffset(partNumber, context.partSize));
  const crc = new Crc64();
  if (plaintext instanceof Uint8Array) {
    crc.update(cipher.update(plaintext));
  } else {
    for await (const chunk of plaintext) crc.update(cipher.update(chunk));
  }
  if (crc.length !== bounds.size) throw new CseError(ErrorCode.IO, `part ${partNumber}: read ${crc.length} bytes, expected ${bounds.size}`);
  return crc.toString();
}

function normalizeEtag(tag: string): string {
  return tag.trim().replace(/^"(.*)"$/, '$1').toUpperCase();
}

/**
 * The parts that are really done: those OSS lists with the checkpoint's ETag, plus those OSS has but the checkpoint
 * lacks (or records otherwise) whose stored CRC-64 equals the CRC-64 of our ciphertext for that part. Sequential
 * sources cannot be re-read here: their unrecorded parts are re-sent.
 */
async function reconcile(
  context: MultipartContext,
  recorded: ReadonlyMap<number, UploadedPart>,
  listing: PartListing,
  source: PartSource,
  material: ContentMaterial,
  unverified: Map<number, UploadedPart>,
): Promise<Map<number, UploadedPart>> {
  const count = partCount(context.dataSize, context.partSize);
  const done = new Map<number, UploadedPart>();
  for (const listed of listing.parts) {
    if (listed.partNumber < 1 || listed.partNumber > count) continue;
    const bounds = partBounds(listed.partNumber, context.partSize, context.dataSize);
    if (listed.size !== bounds.size) continue;
    const mine = recorded.get(listed.partNumber);
    if (mine !== undefined && normalizeEtag(mine.etag) === normalizeEtag(listed.etag)) {
      done.set(listed.partNumber, mine);
      continue;
    }
    if (listed.crc64 === undefined) continue;
    if (!source.random) {
      unverified.set(listed.partNumber, { partNumber: listed.partNumber, etag: listed.etag, size: listed.size, crc64: listed.crc64 });
      continue;
    }
    const crc = await localPartCrc(context, bounds, listed.partNumber, source.read(bounds), material);
    if (crc === listed.crc64) done.set(listed.partNumber, { partNumber: listed.partNumber, etag: listed.etag, size: listed.size, crc64: crc });
  }
  return done;
}

interface RunInput {
  readonly store: MultipartObjectStore;
  readonly location: ObjectLocation;
  readonly context: MultipartContext;
  readonly count: number;
  /** Finished parts; filled in as parts finish. */
  readonly done: Map<number, UploadedPart>;
  readonly source: PartSource;
  readonly material: ContentMaterial;
  readonly parallel: number;
  readonly policy: RetryPolicy;
  readonly options: MultipartUploadOptions;
  readonly onPart: () => Promise<void>;
  /** The checkpoint handed to `progress` after a part. */
  readonly progressCheckpoint: (bytes: number, part: UploadedPart | undefined) => MultipartUploadCheckpoint;
  /** Parts OSS has that could not be verified before the run (sequential sources): checked as they are read. */
  readonly unverified: ReadonlyMap<number, UploadedPart>;
}

interface RunOutcome {
  /** Parts sent by this run. */
  readonly sent: number;
  /** Parts that failed for good. */
  readonly failures: PartFailure[];
  /** Set when the signal fired or the progress callback threw: the error to throw. */
  readonly stopped: Error | undefined;
}

/** Uploads every part not in `done`, `parallel` at a time; stops starting parts after the first failure. */
async function uploadParts(input: RunInput): Promise<RunOutcome> {
  const { store, location, context, count, done, source, policy, options } = input;
  const signal = options.signal;
  const failures: PartFailure[] = [];
  let stopped: Error | undefined;
  let sent = 0;
  let bytes = [...done.values()].reduce((sum, p) => sum + p.size, 0);
  const todo: number[] = [];
  for (let n = 1; n <= count; n++) if (!done.has(n)) todo.push(n);
  const halted = (): boolean => stopped !== undefined || failures.length > 0 || signal?.aborted === true;

  const send = async (partNumber: number, bounds: PartBounds, buffered: Uint8Array | undefined): Promise<void> => {
    let part: UploadedPart & { readonly res: ResponseInfo };
    try {
      part = await withRetries(
        async () =>
          uploadEncryptedPart(store, location, context, partNumber, buffered ?? source.read(bounds), {
            keys: options.keys,
            cache: options.cache,
            signal,
            timeout: options.timeout,
            hooks: options.hooks,
          }),
        policy,
        signal,
        `UploadPart ${partNumber} of ${describe(location)}`,
      );
    } catch (e) {
      if (signal?.aborted === true) stopped ??= abortedError(`${describe(location)}: multipart upload ${context.uploadId}`, signal);
      else failures.push({ partNumber, error: e });
      return;
    }
    const { res, ...uploaded } = part;
    done.set(partNumber, uploaded);
    sent++;
    bytes += part.size;
    // The part is on OSS: what fails from here on (recording it, the caller's callback) is no failure of the part,
    // but stops the upload as itself.
    try {
      await input.onPart();
      if (options.progress !== undefined) {
        // ali-oss's fraction: finished parts over parts + 1, so that 1 is reported only after Complete.
        await options.progress(done.size / (count + 1), input.progressCheckpoint(bytes, uploaded), res);
      }
    } catch (e) {
      stopped ??= e instanceof Error ? e : new Error(String(e));
    }
  };

  if (source.random) {
    let next = 0;
    const worker = async (): Promise<void> => {
      while (!halted() && next < todo.length) {
        const partNumber = todo[next++] ?? 0;
        await send(partNumber, partBounds(partNumber, context.partSize, context.dataSize), undefined);
      }
    };
    await Promise.all(Array.from({ length: Math.min(input.parallel, todo.length) }, async () => worker()));
  } else {
    // One reader fills part buffers in order; at most `parallel` are held (being read or uploaded) at once.
    const inFlight = new Set<Promise<void>>();
    for (let n = 1; n <= count && !halted(); n++) {
      while (inFlight.size >= input.parallel) await Promise.race(inFlight);
      if (halted()) break;
      const bounds = partBounds(n, context.partSize, context.dataSize);
      let buffer: Buffer;
      try {
        buffer = await source.next(bounds.size);
      } catch (e) {
        failures.push({ partNumber: n, error: e });
        break;
      }
      if (done.has(n)) continue;
      // A part OSS already has (a resumed upload) is skipped when our ciphertext for it has the same CRC-64.
      const stored = input.unverified.get(n);
      if (stored !== undefined && (await localPartCrc(context, bounds, n, buffer, input.material)) === stored.crc64) {
        done.set(n, stored);
        bytes += stored.size;
        continue;
      }
      const task = send(n, bounds, buffer).finally(() => inFlight.delete(task));
      inFlight.add(task);
    }
    await Promise.all(inFlight);
  }
  if (stopped === undefined && signal?.aborted === true) {
    stopped = abortedError(`${describe(location)}: multipart upload ${context.uploadId}`, signal);
  }
  failures.sort((a, b) => a.partNumber - b.partNumber);
  return { sent, failures, stopped };
}

