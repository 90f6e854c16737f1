/**
 * Encrypted multipart upload in the page. Part `n` is plaintext `[(n−1)·P, n·P)` encrypted at counter
 * `IV + (n−1)·P/16` (FORMAT.md §6), so parts are independent: read from the Blob, encrypt, upload, `parallel` at a
 * time, with only those parts in memory. Each part's CRC-64 is checked against OSS's answer, and the completed
 * object's against the combination of the parts' (`crc64Combine`).
 *
 * Resume: a checkpoint (by default in `localStorage`) records the upload id, the layout, the file's identity and the
 * *wrapped* envelope headers, plus each finished part's ETag and CRC-64, never key material. Resuming unwraps the
 * envelope again with the client's keys (so it needs a key that can unwrap: a private OAEP key or the key broker)
 * and reconciles with ListParts.
 *
 * @packageDocumentation
 */

import { CseError, ErrorCode } from '../../src/errors.js';
import { encodeEnvelope, parseEnvelope } from '../../src/format/envelope.js';
import { OssHeader } from '../../src/format/headers.js';
import { choosePartSize, partBounds, partCount, validatePartSize } from '../../src/format/parts.js';
import type { Envelope } from '../../src/format/types.js';
import { Crc64, crc64Combine, parseCrc64Header } from '../../src/transfer/crc64.js';
import { ctrAt, plainBuffer, type CtrKey } from './aes.js';
import type { BrowserPutResult, EncryptionClient, EnvelopeSummary } from './client.js';
import { summarizeEnvelope } from './client.js';
import { abortable, checkAborted, header, transferError, type OssResponse } from './oss.js';

/** What a checkpoint holds (JSON). No key material: the envelope is the wrapped one OSS stores anyway. */
export interface BrowserCheckpoint {
  readonly version: 1;
  readonly object: string;
  readonly uploadId: string;
  readonly partSize: number;
  readonly dataSize: number;
  /** Identity of the source (a File's name, size and lastModified), so a checkpoint is never applied to another file. */
  readonly source: { readonly name: string; readonly size: number; readonly lastModified: number };
  /** The wrapped envelope headers sent with Initiate. */
  readonly envelope: Readonly<Record<string, string>>;
  /** Finished parts. */
  readonly parts: ReadonlyArray<{ readonly number: number; readonly etag: string; readonly crc64: string; readonly size: number }>;
}

/** Where checkpoints are kept. */
export interface BrowserCheckpointStore {
  /**
   * @returns the checkpoint saved under `key`, or undefined
   * @throws whatever the storage throws
   */
  load(key: string): Promise<BrowserCheckpoint | undefined>;
  /**
   * Saves (replaces) a checkpoint.
   * @throws whatever the storage throws (quota, private mode)
   */
  save(key: string, checkpoint: BrowserCheckpoint): Promise<void>;
  /**
   * Deletes a checkpoint.
   * @throws whatever the storage throws
   */
  remove(key: string): Promise<void>;
}

/** Checkpoints in `localStorage` (or any `Storage`), under `oss-cse:checkpoint:<key>`. */
export class LocalStorageCheckpointStore implements BrowserCheckpointStore {
  readonly #storage: Storage;

  /**
   * @param storage - default `globalThis.localStorage`
   * @throws CseError ERR_CSE_INVALID_ARGUMENT when there is no storage
   */
  constructor(storage?: Storage) {
    const s = storage ?? (typeof localStorage === 'undefined' ? undefined : localStorage);
    if (s === undefined) throw new CseError(ErrorCode.INVALID_ARGUMENT, 'no localStorage here: pass a Storage or another checkpoint store');
    this.#storage = s;
  }

  /**
   * @returns the checkpoint, or undefined when absent or unreadable (a damaged entry is ignored, not trusted)
   * @throws DOMException when the storage refuses access
   */
  async load(key: string): Promise<BrowserCheckpoint | undefined> {
    // Async like every store (IndexedDB-backed ones are); the yield also keeps callers from depending on sync order.
    await Promise.resolve();
    const text = this.#storage.getItem(`oss-cse:checkpoint:${key}`);
    if (text === null) return undefined;
    try {
      const cp = JSON.parse(text) as { version?: unknown };
      return cp.version === 1 ? (cp as BrowserCheckpoint) : undefined;
    } catch {
      return undefined;
    }
  }

  /** @throws DOMException QuotaExceededError when the storage is full */
  async save(key: string, checkpoint: BrowserCheckpoint): Promise<void> {
    await Promise.resolve();
    this.#storage.setItem(`oss-cse:checkpoint:${key}`, JSON.stringify(checkpoint));
  }

  /** @throws DOMException when the storage refuses access */
  async remove(key: string): Promise<void> {
    await Promise.resolve();
    this.#storage.removeItem(`oss-cse:checkpoint:${key}`);
  }
}

/** Progress of a multipart upload. */
export interface BrowserUploadProgress {
  /** Plaintext bytes in finished parts (resumed parts included). */
  readonly bytes: number;
  readonly totalBytes: number;
  readonly partsDone: number;
  readonly partsTotal: number;
  readonly uploadId: string;
}

/** Options of {@link EncryptionClient.multipartUpload}. */
export interface MultipartUploadOptions {
  /** Part size (rounded up to 16, at least 100 KiB, raised to fit 10,000 parts); default 10 MiB. */
  readonly partSize?: number;
  /** Parts in flight at once (default 4, at most 32). */
  readonly parallel?: number;
  /** Called after each part with (fraction 0..1, details). */
  readonly progress?: (fraction: number, info: BrowserUploadProgress) => void;
  /** Stops the upload: it rejects with ERR_CSE_ABORTED; with a checkpoint the upload stays resumable, else it is aborted on OSS. */
  readonly signal?: AbortSignal;
  /** Keep a checkpoint here to resume after a failure or a reload (`true`: {@link LocalStorageCheckpointStore}). */
  readonly checkpoint?: BrowserCheckpointStore | true;
  /** The checkpoint's key (default: bucket, object name and the file's name, size and lastModified). */
  readonly checkpointKey?: string;
  /** Content-Type. */
  readonly mime?: string;
  /** User metadata (`x-oss-meta-<name>`). */
  readonly meta?: Readonly<Record<string, string | number>>;
  /** The byte length of a `ReadableStream` source (required for streams; the envelope records it up front). */
  readonly size?: number;
}

/** What multipartUpload reads from: a Blob/File (sliced per part, resumable), bytes, or a stream of bytes. */
export type MultipartSource = Blob | Uint8Array | ReadableStream<Uint8Array>;

/** The result of a multipart upload: like `put`'s, plus the upload id and part count. */
export interface MultipartUploadResult extends BrowserPutResult {
  readonly uploadId: string;
  readonly parts: number;
  /** Parts found done in the checkpoint and skipped. */
  readonly resumedParts: number;
}

/** A part upload failed (after the upload was initiated); `uploadId` says what is left to resume or clean up. */
export class MultipartUploadError extends CseError {
  /** The upload id. */
  readonly uploadId: string;
  /** True when the upload was kept on OSS for a resume (a checkpoint exists). */
  readonly resumable: boolean;

  /**
   * @param message - what failed
   * @param uploadId - the upload
   * @param resumable - whether it was kept for a resume
   * @param options - object and cause
   */
  constructor(message: string, uploadId: string, resumable: boolean, options: { object: string; cause: unknown }) {
    super(ErrorCode.MULTIPART, message, options);
    this.name = 'MultipartUploadError';
    this.uploadId = uploadId;
    this.resumable = resumable;
  }
}

function sourceIdentity(data: Blob | Uint8Array | ReadableStream<Uint8Array>): BrowserCheckpoint['source'] {
  if (!(data instanceof Blob)) return { name: '', size: 0, lastModified: 0 };
  if (data instanceof Uint8Array) return { name: '', size: data.length, lastModified: 0 };
  const file = data as Partial<File>;
  return { name: file.name ?? '', size: data.size, lastModified: file.lastModified ?? 0 };
}

/**
 * Reads parts of a stream in order, one at a time: each call takes the next `length` bytes. Calls are chained, so
 * workers that took part numbers in order get their bytes in order.
 */
function streamParts(stream: ReadableStream<Uint8Array>, object: string): { next: (length: number) => Promise<Uint8Array>; finish: () => Promise<void> } {
  const reader = stream.getReader();
  let pending: Uint8Array = new Uint8Array(0);
  let chain: Promise<unknown> = Promise.resolve();
  const take = async (length: number): Promise<Uint8Array> => {
    const out = new Uint8Array(length);
    let at = 0;
    while (at < length) {
      if (pending.length === 0) {
        const { done, value } = await reader.read();
        if (done) throw new CseError(ErrorCode.INVALID_ARGUMENT, `the stream ended after ${at} bytes of a ${length}-byte part, before the declared size`, { object });
        pending = value;
      }
      const n = Math.min(length - at, pending.length);
      out.set(pending.subarray(0, n), at);
      pending = pending.subarray(n);
      at += n;
    }
    return out;
  };
  return {
    next: async (length) => {
      const next = chain.then(async () => take(length));
      chain = next.catch(() => undefined);
      return next;
    },
    // After the last part: the stream must be at its end (a longer stream does not match the declared size).
    finish: async () => {
      await chain;
      const extra = pending.length > 0 || !(await reader.read()).done;
      if (extra) {
        await reader.cancel().catch(() => undefined);
        throw new CseError(ErrorCode.INVALID_ARGUMENT, 'the stream is longer than the declared size', { object });
      }
    },
  };
}

async function readSlice(data: Blob | Uint8Array, start: number, end: number): Promise<Uint8Array> {
  if (data instanceof Uint8Array) return data.subarray(start, end);
  return new Uint8Array(await data.slice(start, end).arrayBuffer());
}

interface DonePart {
  readonly number: number;
  readonly etag: string;
  readonly crc64: string;
  readonly size: number;
}

/**
 * The upload behind {@link EncryptionClient.multipartUpload}.
 * @throws CseError ERR_CSE_INVALID_ARGUMENT, ERR_CSE_KEY_*, ERR_CSE_INTEGRITY, ERR_CSE_ABORTED; TransferError;
 *   MultipartUploadError
 * @internal
 */
export async function multipartUpload(client: EncryptionClient, object: string, data: MultipartSource, options: MultipartUploadOptions): Promise<MultipartUploadResult> {
  const isStream = typeof ReadableStream !== 'undefined' && data instanceof ReadableStream;
  if (!(data instanceof Uint8Array) && !(typeof Blob !== 'undefined' && data instanceof Blob) && !isStream) {
    throw new CseError(ErrorCode.INVALID_ARGUMENT, 'multipartUpload takes a Blob, File, Uint8Array or ReadableStream', { object });
  }
  if (isStream && (options.size === undefined || !Number.isSafeInteger(options.size) || options.size < 0)) {
    throw new CseError(ErrorCode.INVALID_ARGUMENT, 'a ReadableStream source needs options.size (its byte length)', { object });
  }
  if (isStream && options.checkpoint !== undefined) {
    throw new CseError(ErrorCode.INVALID_ARGUMENT, 'a ReadableStream cannot be read again, so it cannot resume: pass a Blob or File with checkpoint', { object });
  }
  const dataSize = data instanceof Uint8Array ? data.length : data instanceof Blob ? data.size : (options.size ?? 0);
  const nextStreamPart = data instanceof ReadableStream ? streamParts(data, object) : undefined;
  const partSize = choosePartSize(dataSize, options.partSize);
  validatePartSize(partSize, dataSize);
  const parallel = options.parallel ?? 4;
  if (!Number.isSafeInteger(parallel) || parallel < 1 || parallel > 32) throw new CseError(ErrorCode.INVALID_ARGUMENT, 'parallel must be an integer from 1 to 32', { object });
  const store = options.checkpoint === true ? new LocalStorageCheckpointStore() : options.checkpoint;
  const source = sourceIdentity(data);
  const bucket = client.oss.options?.bucket ?? '';
  const cpKey = options.checkpointKey ?? `${bucket}/${object}#${source.name}:${source.size}:${source.lastModified}`;
  const oss = client.oss;
  const signal = options.signal;
  const total = partCount(dataSize, partSize);

  // Resume or start.
  let uploadId: string | undefined;
  let envelope: Envelope | undefined;
  let ctr: CtrKey | undefined;
  const done = new Map<number, DonePart>();
  const saved = store === undefined ? undefined : await store.load(cpKey);
  if (saved !== undefined && saved.object === object && saved.dataSize === dataSize && saved.partSize === partSize && saved.source.name === source.name && saved.source.size === source.size && saved.source.lastModified === source.lastModified) {
    envelope = parseEnvelope(saved.envelope, { object });
    ctr = await client.openKey(envelope, object);
    const listed = await listedParts(client, object, saved.uploadId);
    if (listed !== undefined) {
      uploadId = saved.uploadId;
      for (const p of saved.parts) if (listed.get(p.number) === p.etag) done.set(p.number, p);
    }
  }
  if (uploadId === undefined || envelope === undefined || ctr === undefined) {
    const sealed = await client.sealNew(object, { dataSize, partSize });
    envelope = sealed.envelope;
    ctr = sealed.ctr;
    const headers: Record<string, string> = { ...encodeEnvelope(envelope) };
    for (const [n, v] of Object.entries(options.meta ?? {})) headers[`x-oss-meta-${n.toLowerCase()}`] = String(v);
    checkAborted(signal, object);
    try {
      uploadId = (await oss.initMultipartUpload(object, { headers, ...(options.mime === undefined ? {} : { mime: options.mime }) })).uploadId;
    } catch (e) {
      throw transferError(e, `InitiateMultipartUpload ${object}`, object);
    }
  }
  const id = uploadId;
  const env = envelope;
  const key = ctr;
  const checkpointOf = (): BrowserCheckpoint => ({
    version: 1,
    object,
    uploadId: id,
    partSize,
    dataSize,
    source,
    envelope: encodeEnvelope(env),
    parts: [...done.values()].sort((a, b) => a.number - b.number),
  });
  const resumedParts = done.size;
  let bytesDone = [...done.values()].reduce((n, p) => n + p.size, 0);
  const report = (): void => {
    options.progress?.(dataSize === 0 ? 1 : bytesDone / dataSize, { bytes: bytesDone, totalBytes: dataSize, partsDone: done.size, partsTotal: total, uploadId: id });
  };

  try {
    if (store !== undefined) await store.save(cpKey, checkpointOf());
    // Workers take the next missing part number; memory is `parallel` parts at most.
    let nextPart = 1;
    const failures: unknown[] = [];
    const worker = async (): Promise<void> => {
      for (;;) {
        if (failures.length > 0) return;
        while (nextPart <= total && done.has(nextPart)) nextPart++;
        if (nextPart > total) return;
        const number = nextPart++;
        try {
          checkAborted(signal, object);
          const { start, end } = partBounds(number, partSize, dataSize);
          // A stream's part is taken before anything else awaits, so parts come off the stream in number order.
          const plain = nextStreamPart !== undefined ? await nextStreamPart.next(end - start) : await readSlice(data as Blob | Uint8Array, start, end);
          const cipher = await ctrAt(key, start, plain);
          const crc = new Crc64().update(cipher).toString();
          const result = await sendPart(client, object, id, number, cipher, signal);
          const served = parseCrc64Header(header(result.res, OssHeader.CRC64));
          if (served !== undefined && served.toString() !== crc) {
            throw new CseError(ErrorCode.INTEGRITY, `part ${number}: OSS stored CRC-64 ${served.toString()}, the page sent ${crc}`, { object });
          }
          if (failures.length > 0) return;
          done.set(number, { number, etag: result.etag, crc64: crc, size: end - start });
          bytesDone += end - start;
          if (store !== undefined) await store.save(cpKey, checkpointOf());
          report();
        } catch (e) {
          failures.push(e);
          return;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(parallel, total) }, worker));
    if (failures.length > 0) throw failures[0] as Error;
    await nextStreamPart?.finish();
    checkAborted(signal, object);

    const parts = [...done.values()].sort((a, b) => a.number - b.number);
    let combined = 0n;
    for (const p of parts) combined = crc64Combine(combined, BigInt(p.crc64), p.size);
    let completed: { res: OssResponse };
    try {
      completed = await abortable(oss.completeMultipartUpload(object, id, parts.map((p) => ({ number: p.number, etag: p.etag }))), signal, object);
    } catch (e) {
      throw transferError(e, `CompleteMultipartUpload ${object}`, object);
    }
    if (store !== undefined) await store.remove(cpKey);
    const served = parseCrc64Header(header(completed.res, OssHeader.CRC64));
    if (served !== undefined && served !== combined) {
      throw new CseError(ErrorCode.INTEGRITY, `the completed object's CRC-64 ${served.toString()} differs from the parts' ${combined.toString()}`, { object });
    }
    if (dataSize === 0) report();
    const summary: EnvelopeSummary = summarizeEnvelope(env);
    return {
      name: object,
      url: undefined,
      res: completed.res,
      encrypted: true,
      envelope: summary,
      size: dataSize,
      crc64: combined.toString(),
      uploadId: id,
      parts: parts.length,
      resumedParts,
    };
  } catch (e) {
    if (store !== undefined) {
      // Kept for a resume: the checkpoint names the upload and its finished parts.
      if (e instanceof CseError && e.code === ErrorCode.ABORTED) throw e;
      throw new MultipartUploadError(`multipart upload of ${object} failed; resume with the same checkpoint: ${e instanceof Error ? e.message : String(e)}`, id, true, { object, cause: e });
    }
    // No checkpoint: nothing could resume it, so the parts are released on OSS.
    await oss.abortMultipartUpload(object, id).catch(() => undefined);
    if (e instanceof CseError && e.code === ErrorCode.ABORTED) throw e;
    throw new MultipartUploadError(`multipart upload of ${object} failed and was aborted: ${e instanceof Error ? e.message : String(e)}`, id, false, { object, cause: e });
  }
}

/**
 * UploadPart. Through `fetch` on a URL presigned by ali-oss when it can sign one: the browser streams the Blob
 * itself, and the request is cancelled by the AbortSignal. ali-oss's own `uploadPart` (its XHR path copies the part
 * several times and measured ~10× slower for 10 MiB parts) is the fallback, e.g. for IP endpoints, which ali-oss
 * does not presign.
 * @throws CseError ERR_CSE_ABORTED; TransferError
 */
async function sendPart(client: EncryptionClient, object: string, uploadId: string, number: number, cipher: Uint8Array, signal: AbortSignal | undefined): Promise<{ etag: string; res: OssResponse }> {
  const oss = client.oss;
  const what = `UploadPart ${number} of ${object}`;
  let url: string | undefined;
  if (typeof fetch === 'function') {
    const options = { method: 'PUT', expires: 3600, subResource: { partNumber: number, uploadId } };
    try {
      url = oss.asyncSignatureUrl !== undefined ? await oss.asyncSignatureUrl(object, options) : oss.signatureUrl?.(object, options);
    } catch {
      url = undefined;
    }
  }
  if (url === undefined) {
    try {
      // disabledMD5: ali-oss would hash the part in JavaScript; OSS's CRC-64 of the part is compared with ours instead.
      return await abortable(oss.uploadPart(object, uploadId, number, new Blob([plainBuffer(cipher)]), 0, cipher.length, { disabledMD5: true }), signal, object);
    } catch (e) {
      throw transferError(e, what, object);
    }
  }
  let response: Response;
  try {
    response = await fetch(url, { method: 'PUT', body: new Blob([plainBuffer(cipher)]), ...(signal === undefined ? {} : { signal }) });
  } catch (e) {
    checkAborted(signal, object);
    throw transferError(e, what, object);
  }
  const headers: Record<string, string> = {};
  response.headers.forEach((value, name) => {
    headers[name.toLowerCase()] = value;
  });
  const res: OssResponse = { status: response.status, headers };
  if (!response.ok) {
    const text = await response.text().catch(() => '');
    const code = /<Code>([^<]*)<\/Code>/.exec(text)?.[1];
    const message = /<Message>([^<]*)<\/Message>/.exec(text)?.[1] ?? `HTTP ${response.status}`;
    throw transferError(Object.assign(new Error(message), { status: response.status, code, requestId: headers['x-oss-request-id'] }), what, object);
  }
  const etag = headers.etag;
  if (etag === undefined) {
    throw new CseError(ErrorCode.TRANSFER, `${what}: no readable ETag: expose ETag in the bucket CORS rule (docs/browser.md)`, { object });
  }
  return { etag, res };
}

/** Part number → ETag of an upload's parts, or undefined when the upload is gone (404 NoSuchUpload). */
async function listedParts(client: EncryptionClient, object: string, uploadId: string): Promise<Map<number, string> | undefined> {
  const out = new Map<number, string>();
  let marker: string | number | undefined;
  for (;;) {
    let page;
    try {
      page = await client.oss.listParts(object, uploadId, { 'max-parts': 1000, ...(marker === undefined ? {} : { 'part-number-marker': marker }) });
    } catch (e) {
      if ((e as { status?: unknown } | null)?.status === 404) return undefined;
      throw transferError(e, `ListParts ${object}`, object);
    }
    for (const p of page.parts ?? []) out.set(Number(p.PartNumber), p.ETag);
    if (page.isTruncated !== true || page.nextPartNumberMarker === undefined) return out;
    marker = page.nextPartNumberMarker;
  }
}
