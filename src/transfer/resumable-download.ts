/**
 * `resumableDownload`: a parallel, resumable download to a file, decrypting as it goes.
 *
 * - One HEAD gives the object's ETag, size, CRC-64 and envelope; the data key is unwrapped once.
 * - The object is fetched as ranged GETs of any size (CTR needs no alignment: each range is decrypted from
 *   `counterAt(iv, start)`, `oss-go-java.md` §6), each pinned to the object with `If-Match: <etag>`, so an object
 *   replaced mid-way fails with a typed error instead of mixing two versions. A range that comes back other than asked
 *   (wrong Content-Range, short, long, damaged connection) is retried.
 * - Plaintext is written at its offset into a temporary sibling of the target; at the end the ranges' ciphertext
 *   CRC-64s are joined and checked against the object's `x-oss-hash-crc64ecma`, the writer's unencrypted length (and
 *   MD5, when it is a real MD5) are checked, and only then is the file renamed over the target.
 * - With a checkpoint, finished ranges are recorded (after the temporary file is flushed); a later run re-verifies
 *   them from the temporary file and fetches only the missing ones. A changed object starts over.
 *
 * Memory: a few chunks per range in flight, whatever the object size.
 *
 * One file over 600 lines on purpose: the range loop, If-Match pinning, the checkpoint and the CRC-64 combination
 * share one download state.
 *
 * @packageDocumentation
 */

import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { CseError, ErrorCode, TransferError } from '../errors.js';
import { detectEnvelopeVersion, isMd5Base64 } from '../format/envelope.js';
import { OssHeader, V1Header, V2Header } from '../format/headers.js';
import { parseContentRange } from '../format/range.js';
import type { ContentMaterial, Envelope } from '../format/types.js';
import { createCtrCipher, type CtrCipher } from '../cipher/aes-ctr.js';
import { zeroMaterial } from '../cipher/material.js';
import type { KeyRing } from '../keys/key-ring.js';
import { openEnvelope } from '../object-crypto.js';
import { abortedError, throwIfAborted } from './abort.js';
import {
  CHECKPOINT_VERSION,
  ThrottledSaver,
  checkDownloadCheckpointFor,
  downloadTempPath,
  type CheckpointStore,
  type DownloadCheckpoint,
  type DownloadCheckpointPart,
} from './checkpoint.js';
import { Crc64, parseCrc64Header } from './crc64.js';
import { Crc64Joiner } from './crc64-join.js';
import type { TransferHooks } from './multipart.js';
import { checkParallel, retryPolicy, withRetries } from './retry.js';
import { releaseTempMode, removeStaleTempFiles, TEMP_FILE_MODE, tempSiblingPath, type TempSuffix } from './temp-file.js';
import type { ObjectLocation, ObjectStore, ResponseHeaders, StoreResponse } from './store.js';

/** Range size by default: 8 MiB. */
export const DEFAULT_DOWNLOAD_PART_SIZE = 8 * 1024 * 1024;

/** Ranges in flight by default. */
export const DEFAULT_DOWNLOAD_PARALLEL = 4;

/**
 * Most ranges one download is cut into, as OSS caps a multipart upload's parts: a tiny range size on a large object
 * would mean millions of requests and a checkpoint listing each of them. The default range size grows to stay within.
 */
export const MAX_DOWNLOAD_RANGES = 10_000;

/** Suffix of the temporary file next to the target (`temp-file.ts`). */
const TEMP_SUFFIX = '.oss-cse-download' satisfies TempSuffix;

/** What a download progress callback learns. */
export interface DownloadProgressInfo {
  /** Bytes written so far (resumed ranges included). */
  readonly bytes: number;
  /** The object's size. */
  readonly totalBytes: number;
  /** The range just finished (1-based); undefined for the final call. */
  readonly part: number | undefined;
}

/** Progress callback; awaited; if it throws, the download stops (resumable) and the error is thrown. */
export type DownloadProgress = (fraction: number, info: DownloadProgressInfo) => void | Promise<void>;

/** Options of {@link resumableDownload}. */
export interface ResumableDownloadOptions {
  /** Keys to decrypt with. */
  readonly keys: KeyRing;
  /** Accept legacy (V1, guide) envelopes. */
  readonly allowLegacy: boolean;
  /** Fail with ERR_CSE_NOT_ENCRYPTED on an object without crypto headers (else it is downloaded as stored). */
  readonly requireEncrypted: boolean;
  /**
   * Range size: a positive integer giving at most {@link MAX_DOWNLOAD_RANGES} ranges for the object (default 8 MiB,
   * or the object's size / 10,000 rounded up when that is more). A resumed download keeps its recorded size.
   */
  readonly partSize?: number | undefined;
  /** Ranges in flight (1–64, default 4). */
  readonly parallel?: number | undefined;
  /** Retries per range (default 3). */
  readonly retries?: number | undefined;
  /** Where the resumable record lives; without one, a failed download leaves nothing behind. */
  readonly checkpoint?: CheckpointStore<DownloadCheckpoint> | undefined;
  readonly progress?: DownloadProgress | undefined;
  readonly signal?: AbortSignal | undefined;
  readonly timeout?: number | undefined;
  /** Least milliseconds between checkpoint writes (default 1000). */
  readonly checkpointIntervalMs?: number | undefined;
  /** @internal */
  readonly hooks?: TransferHooks | undefined;
}

/** The result of {@link resumableDownload}. */
export interface ResumableDownloadResult {
  /** The HEAD response the download was pinned to. */
  readonly response: StoreResponse;
  /** The object's ETag. */
  readonly etag: string;
  /** Bytes written. */
  readonly size: number;
  /** The object's CRC-64 (of its ciphertext), as verified; undefined when OSS sent none. */
  readonly crc64: string | undefined;
  /** False when the object has no crypto headers. */
  readonly encrypted: boolean;
  /** The envelope of an encrypted object. */
  readonly envelope: Envelope | undefined;
  /** Number of ranges. */
  readonly partCount: number;
  /** Ranges fetched by this call (the others came from a previous run). */
  readonly partsFetched: number;
  /** True when an earlier download was continued. */
  readonly resumed: boolean;
}

/** The object changed while it was being downloaded (its ETag no longer matches). */
export class ObjectChangedError extends CseError {
  /** The ETag the download was pinned to. */
  readonly etag: string;

  /**
   * @param location - the object
   * @param etag - the ETag the download started with
   * @param cause - the 412 answer
   */
  constructor(location: ObjectLocation, etag: string, cause?: unknown) {
    super(
      ErrorCode.INTEGRITY,
      `oss://${location.bucket}/${location.key} changed during the download (it no longer has ETag ${etag}); ` +
        'nothing was written: download it again',
      { object: location.key, header: OssHeader.ETAG, ...(cause === undefined ? {} : { cause }) },
    );
    this.name = 'ObjectChangedError';
    this.etag = etag;
  }
}

/** A download failed: every failed range with its error. */
export class DownloadError extends CseError {
  /** Every failed range. */
  readonly failures: readonly {
    /** The failed range's number (1-based). */
    readonly partNumber: number;
    /** Why it failed. */
    readonly error: unknown;
  }[];
  /** The checkpoint to resume from, when kept. */
  readonly checkpoint: string | undefined;

  /**
   * @param location - the object
   * @param failures - every failed range
   * @param checkpoint - the kept checkpoint
   */
  constructor(location: ObjectLocation, failures: readonly { readonly partNumber: number; readonly error: unknown }[], checkpoint: string | undefined) {
    const first = failures[0]?.error;
    const codes = new Set(failures.map((f) => (f.error instanceof CseError ? f.error.cseCode : ErrorCode.TRANSFER)));
    const [only] = codes;
    const list = failures.map((f) => `range ${f.partNumber}: ${f.error instanceof Error ? f.error.message : String(f.error)}`).join('; ');
    super(
      codes.size === 1 && only !== undefined ? only : ErrorCode.TRANSFER,
      `download of oss://${location.bucket}/${location.key} failed: ${list}; ` +
        (checkpoint === undefined ? 'nothing was written' : `resume it with the checkpoint ${checkpoint}`),
      { object: location.key, cause: first },
    );
    this.name = 'DownloadError';
    this.failures = failures;
    this.checkpoint = checkpoint;
  }
}

function describe(location: ObjectLocation): string {
  return `oss://${location.bucket}/${location.key}`;
}

function objectSize(headers: ResponseHeaders, location: ObjectLocation): number {
  const length = headers[OssHeader.CONTENT_LENGTH];
  if (length === undefined || !/^[0-9]+$/.test(length) || !Number.isSafeInteger(Number(length))) {
    throw new TransferError(`HEAD ${describe(location)}: no usable Content-Length (${JSON.stringify(length)})`, { object: location.key });
  }
  return Number(length);
}

function rangeOf(partNumber: number, partSize: number, size: number): { start: number; end: number } {
  const start = (partNumber - 1) * partSize;
  return { start, end: Math.min(start + partSize, size) };
}

/**
 * Downloads `location` to `target` in parallel ranges, decrypting, verifying and renaming at the end.
 *
 * @throws ObjectChangedError (ERR_CSE_INTEGRITY) when the object is replaced mid-way; DownloadError listing every
 *   failed range; CseError ERR_CSE_INTEGRITY (the joined CRC-64 or the declared length/MD5 differ),
 *   ERR_CSE_NOT_ENCRYPTED, ERR_CSE_ENVELOPE_*, ERR_CSE_LEGACY_NOT_ALLOWED, ERR_CSE_NO_MATCHING_KEY, ERR_CSE_MULTIPART
 *   (a checkpoint of another object or target), ERR_CSE_INVALID_ARGUMENT, ERR_CSE_IO, ERR_CSE_ABORTED; TransferError
 */
export async function resumableDownload(
  store: ObjectStore,
  location: ObjectLocation,
  targetPath: string,
  options: ResumableDownloadOptions,
): Promise<ResumableDownloadResult> {
  const what = `download of ${describe(location)}`;
  throwIfAborted(options.signal, what);
  const parallel = checkParallel(options.parallel, DEFAULT_DOWNLOAD_PARALLEL);
  const policy = retryPolicy(options.retries);
  if (options.partSize !== undefined && (!Number.isSafeInteger(options.partSize) || options.partSize < 1)) {
    throw new CseError(ErrorCode.INVALID_ARGUMENT, `options.partSize must be a positive integer, got ${String(options.partSize)}`);
  }
  const target = resolve(targetPath);
  const call = { signal: options.signal, timeout: options.timeout };

  // The HEAD is retried like a range (idempotent): one transient 5xx or reset must not end a resumable download.
  const head = await withRetries(async () => store.head(location, { headers: {} }, call), policy, options.signal, `HEAD ${describe(location)}`);
  const headEtag = head.headers[OssHeader.ETAG];
  if (headEtag === undefined || headEtag === '') {
    throw new TransferError(`HEAD ${describe(location)}: no ETag to pin the download to`, { object: location.key });
  }
  const etag: string = headEtag;
  const size = objectSize(head.headers, location);
  const leastPartSize = Math.max(1, Math.ceil(size / MAX_DOWNLOAD_RANGES));
  if (options.partSize !== undefined && options.partSize < leastPartSize) {
    throw new CseError(
      ErrorCode.INVALID_ARGUMENT,
      `options.partSize ${options.partSize} would cut the ${size}-byte object into ${Math.ceil(size / options.partSize)} ranges, ` +
        `more than ${MAX_DOWNLOAD_RANGES}: the least range size for it is ${leastPartSize}`,
      { object: location.key },
    );
  }
  const objectCrc = head.headers[OssHeader.CRC64];
  if (objectCrc !== undefined && parseCrc64Header(objectCrc) === undefined) {
    // Present but unusable: an integrity error before anything is fetched, never a silently skipped check (issue 14).
    throw new CseError(ErrorCode.INTEGRITY, `${what}: the object's CRC-64 ${JSON.stringify(objectCrc)} is unusable, so it cannot be checked`, {
      object: location.key,
      header: OssHeader.CRC64,
    });
  }
  const encrypted = detectEnvelopeVersion(head.headers, { object: location.key }) !== null;
  if (!encrypted && options.requireEncrypted) {
    throw new CseError(ErrorCode.NOT_ENCRYPTED, 'the object has no client-side-encryption headers (requireEncrypted is set)', {
      object: location.key,
    });
  }
  let envelope: Envelope | undefined;
  let material: ContentMaterial | undefined;
  if (encrypted) {
    const opened = await openEnvelope(head.headers, {
      masterKeys: options.keys,
      allowLegacy: options.allowLegacy,
      object: location.key,
    });
    envelope = opened.envelope;
    material = opened.material;
  }

  try {
    return await run();
  } finally {
    if (material !== undefined) zeroMaterial(material);
  }

  async function run(): Promise<ResumableDownloadResult> {
    let partSize = options.partSize ?? Math.max(DEFAULT_DOWNLOAD_PART_SIZE, leastPartSize);
    const checkpointStore = options.checkpoint;
    let done = new Map<number, DownloadCheckpointPart>();
    let tempPath: string | undefined;
    let resumed = false;
    if (checkpointStore !== undefined) {
      const saved = await checkpointStore.load();
      if (saved !== undefined) {
        checkDownloadCheckpointFor(saved, { bucket: location.bucket, key: location.key, target }, checkpointStore.description);
        const savedTemp = downloadTempPath(saved, checkpointStore.description);
        const tempSize = await stat(savedTemp).then((s) => s.size, () => -1);
        if (saved.etag === etag && saved.size === size && tempSize === size) {
          partSize = saved.partSize;
          tempPath = savedTemp;
          done = new Map(saved.parts.map((p) => [p.partNumber, p]));
          resumed = true;
        } else {
          // Another version of the object (or a lost temporary file): its ranges are worthless.
          await rm(savedTemp, { force: true });
          await checkpointStore.remove();
        }
      }
    }
    const count = size === 0 ? 0 : Math.ceil(size / partSize);
    // Plaintext of earlier runs killed before their checks passed, except the file this run continues
    // (SECURITY.md "Temporary download files").
    await removeStaleTempFiles(target, tempPath === undefined ? [] : [basename(tempPath)]);
    const temp = tempPath ?? tempSiblingPath(target, TEMP_SUFFIX);
    let handle: FileHandle;
    try {
      // 0600 while it holds unverified plaintext (also a file an earlier version left 0644, when resumed).
      handle = await open(temp, resumed ? 'r+' : 'wx', TEMP_FILE_MODE);
      if (resumed) await handle.chmod(TEMP_FILE_MODE);
      if (!resumed) await handle.truncate(size);
    } catch (e) {
      throw new CseError(ErrorCode.IO, `cannot create ${temp}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
    const saver = checkpointStore === undefined ? undefined : new ThrottledSaver(checkpointStore, options.checkpointIntervalMs ?? 1000);
    const snapshot = (): DownloadCheckpoint => ({
      version: CHECKPOINT_VERSION,
      kind: 'download',
      bucket: location.bucket,
      key: location.key,
      etag,
      size,
      crc64: objectCrc,
      target,
      tempFile: basename(temp),
      partSize,
      parts: [...done.values()].sort((a, b) => a.partNumber - b.partNumber),
      updatedAt: new Date().toISOString(),
    });
    let keepTemp = false;
    // The first checkpoint save that failed: the download stops on it, and it is not tried again on the way out.
    let checkpointFailure: CseError | undefined;
    const flushAndSave = async (): Promise<void> => {
      if (saver === undefined || checkpointStore === undefined) return;
      // Only ranges whose bytes are on disk may be recorded as done.
      try {
        await handle.datasync();
      } catch (e) {
        throw new CseError(ErrorCode.IO, `cannot flush ${temp}: ${e instanceof Error ? e.message : String(e)}`, { object: location.key, cause: e });
      }
      try {
        await saver.save(snapshot);
      } catch (e) {
        checkpointFailure ??= checkpointSaveError(e, checkpointStore.description, location);
        throw checkpointFailure;
      }
    };
    try {
      if (resumed) done = await reverify(handle, done, partSize, size, material);
      await flushAndSave();
      const outcome = await fetchRanges({
        store,
        location,
        handle,
        etag,
        size,
        partSize,
        count,
        done,
        material,
        parallel,
        fetch: async (n) => withRetries(async () => fetchRange(n), policy, options.signal, `GET range ${n} of ${describe(location)}`),
        progress: options.progress,
        onPart: async () => {
          if (saver?.due() === true) await flushAndSave();
        },
        signal: options.signal,
      });
      if (outcome.stopped !== undefined || outcome.failures.length > 0) {
        const changed = outcome.failures.find((f) => f.error instanceof ObjectChangedError);
        if (changed !== undefined) throw changed.error;
        // A record was saved before any range was fetched: the temporary file stays resumable from it, even when the
        // save below (of the ranges finished since) fails.
        keepTemp = checkpointStore !== undefined;
        const primary = outcome.stopped ?? new DownloadError(location, outcome.failures, checkpointStore?.description);
        if (primary === checkpointFailure) {
          primary.message += `; resume it with the checkpoint ${checkpointStore?.description ?? '?'} (as last saved)`;
        } else if (checkpointFailure === undefined) {
          try {
            await flushAndSave();
          } catch (e) {
            // Never instead of the error that stopped the download: attached to it.
            primary.message += `; saving the checkpoint failed too, it holds an earlier state: ${e instanceof Error ? e.message : String(e)}`;
          }
        }
        throw primary;
      }
      // Whole-object checks, then the rename.
      const parts = [...done.values()].sort((a, b) => a.partNumber - b.partNumber);
      const joined = new Crc64Joiner().joinAll(
        parts.map((p) => ({ crc64: BigInt(p.crc64), size: rangeOf(p.partNumber, partSize, size).end - rangeOf(p.partNumber, partSize, size).start })),
      );
      const expectedCrc = parseCrc64Header(objectCrc);

      if (expectedCrc !== undefined && expectedCrc !== joined) {
        throw new CseError(
          ErrorCode.INTEGRITY,
          `${what}: the CRC-64 of the received bytes (${joined.toString()}) differs from the object's (${expectedCrc.toString()})`,
          { object: location.key, header: OssHeader.CRC64 },
        );
      }
      if (envelope !== undefined) await checkDeclared(envelope, size, temp, location);
      await handle.sync();
      await handle.close().catch(() => undefined);
      await releaseTempMode(temp);
      await rename(temp, target);
      await checkpointStore?.remove();
      await options.progress?.(1, { bytes: size, totalBytes: size, part: undefined });
      return {
        response: head,
        etag,
        size,
        crc64: expectedCrc === undefined ? undefined : joined.toString(),
        encrypted,
        envelope,
        partCount: count,
        partsFetched: outcome.fetched,
        resumed,
      };
    } catch (e) {
      await handle.close().catch(() => undefined);
      if (!keepTemp) {
        await rm(temp, { force: true });
        await checkpointStore?.remove().catch(() => undefined);
      }
      if (e instanceof CseError) throw e;
      throw new CseError(ErrorCode.IO, `${what}: ${e instanceof Error ? e.message : String(e)}`, { object: location.key, cause: e });
    }

    /** One ranged GET pinned to the ETag: decrypted into the temporary file; returns the range's ciphertext CRC. */
    async function fetchRange(partNumber: number): Promise<DownloadCheckpointPart> {
      options.hooks?.onRange?.(partNumber);
      const { start, end } = rangeOf(partNumber, partSize, size);
      const label = `GET ${describe(location)} bytes ${start}-${end - 1}`;
      let response;
      try {
        response = await store.get(location, { headers: { Range: `bytes=${start}-${end - 1}`, 'If-Match': etag } }, call);
      } catch (e) {
        if (e instanceof TransferError && (e.status === 412 || e.ossCode === 'PreconditionFailed')) throw new ObjectChangedError(location, etag, e);
        throw e;
      }
      const body = response.body;
      try {
        checkAnswer(response.status, response.headers, start, end, size, label);
        const cipher = material === undefined ? undefined : createCtrCipher(material.key, material.iv, start);
        const crc = new Crc64();
        let at = start;
        const writer = new PositionalWriter(handle, temp);
        try {
          for await (const chunk of body as AsyncIterable<Buffer>) {
            if (at + chunk.length > end) {
              throw new CseError(ErrorCode.INTEGRITY, `${label}: the body is longer than the range`, { object: location.key, retryable: true });
            }
            // Start the write first: the CRC of this chunk runs while the file system works.
            const written = writer.write(cipher === undefined ? chunk : cipher.update(chunk), at);
            crc.update(chunk);
            await written;
            at += chunk.length;
          }
        } catch (e) {
          await writer.settle();
          throw e;
        }
        await writer.flush();
        if (at !== end) {
          throw new CseError(ErrorCode.INTEGRITY, `${label}: the body ended after ${at - start} of ${end - start} bytes`, {
            object: location.key,
            retryable: true,
          });
        }
        return { partNumber, crc64: crc.toString() };
      } catch (e) {
        if (e instanceof CseError) throw e;
        if (options.signal?.aborted === true) throw abortedError(label, options.signal);
        throw new TransferError(`${label}: the connection failed: ${e instanceof Error ? e.message : String(e)}`, {
          object: location.key,
          retryable: true,
          cause: e,
        });
      } finally {
        body.destroy();
      }
    }
  }
}

/**
 * The answer must carry exactly the range asked for, of an object of the size the HEAD gave (issue 14 item 1): a
 * 206 whose Content-Range is `bytes start-(end-1)/size`, or a 200 only when the range is the whole object and its
 * Content-Length is that size. A 200 of `end` bytes for a first range that is not the whole object would otherwise
 * pass as that range (a server "ignoring" the Range but sending a prefix).
 */
function checkAnswer(status: number, headers: ResponseHeaders, start: number, end: number, size: number, label: string): void {
  const contentRange = headers[OssHeader.CONTENT_RANGE];
  if (status === 206 && contentRange !== undefined) {
    const parsed = parseContentRange(contentRange);
    if (parsed !== null && parsed.start === start && parsed.end === end - 1 && parsed.total === size) return;
  } else if (status === 200 && contentRange === undefined && start === 0 && end === size && headers[OssHeader.CONTENT_LENGTH] === String(size)) {
    return;
  }
  throw new TransferError(
    `${label}: the server answered ${status} ${contentRange === undefined ? 'without Content-Range' : `with ${contentRange}`}` +
      ` (expected bytes ${start}-${end - 1}/${size})`,
    { retryable: true, status },
  );
}

/**
 * Positional writes with a few in flight: the next chunk is received, decrypted and hashed while earlier ones are
 * written by the thread pool. `write` resolves when there is room for another; `flush` waits for all and throws the
 * first failure.
 */
class PositionalWriter {
  static readonly IN_FLIGHT = 4;
  readonly #handle: FileHandle;
  readonly #path: string;
  readonly #pending = new Set<Promise<void>>();
  #error: Error | undefined;

  constructor(handle: FileHandle, path: string) {
    this.#handle = handle;
    this.#path = path;
  }

  async write(data: Uint8Array, position: number): Promise<void> {
    this.#check();
    const task: Promise<void> = writeAt(this.#handle, data, position, this.#path).then(
      () => {
        this.#pending.delete(task);
      },
      (e: unknown) => {
        this.#pending.delete(task);
        this.#error ??= asError(e);
      },
    );
    this.#pending.add(task);
    while (this.#pending.size >= PositionalWriter.IN_FLIGHT) await Promise.race(this.#pending);
    this.#check();
  }

  /** Waits for every write; throws the first failure. */
  async flush(): Promise<void> {
    await Promise.all(this.#pending);
    this.#check();
  }

  /** Waits for every write, ignoring failures (the caller is already failing). */
  async settle(): Promise<void> {
    await Promise.all(this.#pending);
  }

  #check(): void {
    if (this.#error !== undefined) throw this.#error;
  }
}

async function writeAt(handle: FileHandle, data: Uint8Array, position: number, path: string): Promise<void> {
  let written = 0;
  while (written < data.length) {
    let n: number;
    try {
      ({ bytesWritten: n } = await handle.write(data, written, data.length - written, position + written));
    } catch (e) {
      throw new CseError(ErrorCode.IO, `writing ${path}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
    written += n;
  }
}

/**
 * Ranges recorded by an earlier run are re-checked from the temporary file: re-encrypting the plaintext written there
 * must give the recorded ciphertext CRC-64 (a torn or lost write is fetched again).
 */
async function reverify(
  handle: FileHandle,
  recorded: ReadonlyMap<number, DownloadCheckpointPart>,
  partSize: number,
  size: number,
  material: ContentMaterial | undefined,
): Promise<Map<number, DownloadCheckpointPart>> {
  const ok = new Map<number, DownloadCheckpointPart>();
  const buffer = Buffer.allocUnsafe(Math.min(partSize, 1024 * 1024));
  for (const part of recorded.values()) {
    const { start, end } = rangeOf(part.partNumber, partSize, size);
    if (start >= size || end <= start) continue;
    const cipher: CtrCipher | undefined = material === undefined ? undefined : createCtrCipher(material.key, material.iv, start);
    const crc = new Crc64();
    let at = start;
    while (at < end) {
      const { bytesRead } = await handle.read(buffer, 0, Math.min(buffer.length, end - at), at);
      if (bytesRead === 0) break;
      const chunk = buffer.subarray(0, bytesRead);
      crc.update(cipher === undefined ? chunk : cipher.update(chunk));
      at += bytesRead;
    }
    if (at === end && crc.toString() === part.crc64) ok.set(part.partNumber, part);
  }
  return ok;
}

/** The writer's declared plaintext length and (real) MD5, checked over the finished file. */
async function checkDeclared(envelope: Envelope, size: number, path: string, location: ObjectLocation): Promise<void> {
  const headers = envelope.version === 'v1' ? V1Header : V2Header;
  if (envelope.unencryptedContentLength !== undefined && envelope.unencryptedContentLength !== size) {
    throw new CseError(ErrorCode.INTEGRITY, `decrypted ${size} bytes but the object declares ${envelope.unencryptedContentLength}`, {
      object: location.key,
      header: headers.UNENCRYPTED_CONTENT_LENGTH,
    });
  }
  const md5 = envelope.unencryptedContentMd5;
  if (md5 === undefined || !isMd5Base64(md5)) return;
  const hash = createHash('md5');
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 }) as AsyncIterable<Buffer>) hash.update(chunk);
  if (hash.digest('base64') !== md5) {
    throw new CseError(ErrorCode.INTEGRITY, 'the MD5 of the decrypted bytes differs from the declared one', {
      object: location.key,
      header: headers.UNENCRYPTED_CONTENT_MD5,
    });
  }
}

interface FetchInput {
  readonly store: ObjectStore;
  readonly location: ObjectLocation;
  readonly handle: FileHandle;
  readonly etag: string;
  readonly size: number;
  readonly partSize: number;
  readonly count: number;
  readonly done: Map<number, DownloadCheckpointPart>;
  readonly material: ContentMaterial | undefined;
  readonly parallel: number;
  readonly fetch: (partNumber: number) => Promise<DownloadCheckpointPart>;
  readonly progress: DownloadProgress | undefined;
  readonly onPart: () => Promise<void>;
  readonly signal: AbortSignal | undefined;
}

/** Fetches every range not in `done`, `parallel` at a time; stops starting ranges after the first failure. */
async function fetchRanges(input: FetchInput): Promise<{
  fetched: number;
  failures: { partNumber: number; error: unknown }[];
  stopped: Error | undefined;
}> {
  const { count, done, signal, size, partSize } = input;
  const failures: { partNumber: number; error: unknown }[] = [];
  let stopped: Error | undefined;
  let fetched = 0;
  let bytes = 0;
  for (const p of done.values()) {
    const r = rangeOf(p.partNumber, partSize, size);
    bytes += r.end - r.start;
  }
  const todo: number[] = [];
  for (let n = 1; n <= count; n++) if (!done.has(n)) todo.push(n);
  let next = 0;
  const halted = (): boolean => stopped !== undefined || failures.length > 0 || signal?.aborted === true;
  const worker = async (): Promise<void> => {
    while (!halted() && next < todo.length) {
      const partNumber = todo[next++] ?? 0;
      let part: DownloadCheckpointPart;
      try {
        part = await input.fetch(partNumber);
      } catch (e) {
        if (signal?.aborted === true) stopped ??= abortedError(`download of oss://${input.location.bucket}/${input.location.key}`, signal);
        else failures.push({ partNumber, error: e });
        continue;
      }
      done.set(partNumber, part);
      fetched++;
      const r = rangeOf(partNumber, partSize, size);
      bytes += r.end - r.start;
      // The range is written: a checkpoint that cannot be saved, or a callback that throws, stops the download as
      // itself instead of being counted as a failure of this range.
      try {
        await input.onPart();
        await input.progress?.(size === 0 ? 1 : bytes / size, { bytes, totalBytes: size, part: partNumber });
      } catch (e) {
        stopped ??= asError(e);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(input.parallel, todo.length) }, async () => worker()));
  if (stopped === undefined && signal?.aborted === true) {
    stopped = abortedError(`download of oss://${input.location.bucket}/${input.location.key}`, signal);
  }
  failures.sort((a, b) => a.partNumber - b.partNumber);
  return { fetched, failures, stopped };
}

/** A checkpoint save failure as an ERR_CSE_IO naming the checkpoint (a custom store may throw anything). */
function checkpointSaveError(e: unknown, description: string, location: ObjectLocation): CseError {
  if (e instanceof CseError) return e;
  return new CseError(ErrorCode.IO, `checkpoint ${description}: cannot save it: ${e instanceof Error ? e.message : String(e)}`, {
    object: location.key,
    cause: e,
  });
}

/** A thrown value as an Error (a callback may throw anything). */
function asError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}
