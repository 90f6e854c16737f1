/**
 * In-memory store for tests: same contract as the file store, bodies kept as chunk lists. Nothing survives `close()`.
 *
 * @packageDocumentation
 */

import { Readable } from 'node:stream';
import { Digester } from './digest.js';
import {
  sameContent,
  StoreError,
  type BucketInfo,
  type ObjectMeta,
  type ObjectReader,
  type PartInfo,
  type StagedBody,
  type Store,
  type UploadInfo,
} from './types.js';

interface MemoryBody {
  readonly chunks: readonly Buffer[];
}

interface MemoryStaged extends StagedBody {
  readonly body: MemoryBody;
}

interface MemoryUpload {
  readonly info: UploadInfo;
  readonly parts: Map<number, { info: PartInfo; body: MemoryBody }>;
}

interface MemoryBucket {
  readonly info: BucketInfo;
  readonly objects: Map<string, { meta: ObjectMeta; body: MemoryBody }>;
  readonly uploads: Map<string, MemoryUpload>;
  sorted: ObjectMeta[] | undefined;
}

function sliceBody(body: MemoryBody, start: number, end: number): Buffer[] {
  const out: Buffer[] = [];
  let offset = 0;
  for (const chunk of body.chunks) {
    const chunkEnd = offset + chunk.length; // exclusive
    if (chunkEnd > start && offset <= end) {
      out.push(chunk.subarray(Math.max(0, start - offset), Math.min(chunk.length, end + 1 - offset)));
    }
    offset = chunkEnd;
    if (offset > end) break;
  }
  return out;
}

/** Chunks below this size are copied when kept; larger ones are kept as they are (see {@link keepChunk}). */
const COPY_BELOW = 16 * 1024;

/**
 * A body chunk to keep. Request bodies (socket reads, file reads, the fault transforms) hand over a fresh buffer per
 * chunk that nobody writes again, so a large chunk is kept without a copy: copying every byte made the memory store
 * the slowest part of a PUT in the benchmark. A small chunk may be a slice of a larger socket read (headers and body in
 * one read); copying it keeps a small object from pinning the whole read buffer.
 */
function keepChunk(chunk: Uint8Array): Buffer {
  if (chunk.byteLength < COPY_BELOW) return Buffer.from(chunk);
  return Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

/** A {@link Store} kept in process memory. */
export class MemoryStore implements Store {
  readonly dataDir = undefined;
  readonly #buckets = new Map<string, MemoryBucket>();

  #bucket(name: string): MemoryBucket {
    const bucket = this.#buckets.get(name);
    if (bucket === undefined) throw new StoreError('no-such-bucket', name);
    return bucket;
  }

  #upload(bucket: string, uploadId: string): MemoryUpload {
    const upload = this.#bucket(bucket).uploads.get(uploadId);
    if (upload === undefined) throw new StoreError('no-such-upload', uploadId);
    return upload;
  }

  listBuckets(): readonly BucketInfo[] {
    return [...this.#buckets.values()].map((b) => b.info).sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  getBucket(name: string): BucketInfo | undefined {
    return this.#buckets.get(name)?.info;
  }

  async createBucket(name: string, created: number): Promise<BucketInfo> {
    if (this.#buckets.has(name)) return Promise.reject(new StoreError('bucket-exists', name));
    const info = { name, created };
    this.#buckets.set(name, { info, objects: new Map(), uploads: new Map(), sorted: undefined });
    return Promise.resolve(info);
  }

  async deleteBucket(name: string): Promise<void> {
    const bucket = this.#bucket(name);
    if (bucket.objects.size > 0 || bucket.uploads.size > 0) {
      return Promise.reject(new StoreError('bucket-not-empty', name));
    }
    this.#buckets.delete(name);
    return Promise.resolve();
  }

  listObjects(bucket: string): readonly ObjectMeta[] {
    const b = this.#bucket(bucket);
    b.sorted ??= [...b.objects.values()].map((o) => o.meta).sort((x, y) => (x.key < y.key ? -1 : x.key > y.key ? 1 : 0));
    return b.sorted;
  }

  getObject(bucket: string, key: string): ObjectMeta | undefined {
    return this.#buckets.get(bucket)?.objects.get(key)?.meta;
  }

  async openObject(bucket: string, key: string): Promise<ObjectReader | undefined> {
    const entry = this.#buckets.get(bucket)?.objects.get(key);
    if (entry === undefined) return Promise.resolve(undefined);
    const { meta, body } = entry;
    return Promise.resolve({
      meta,
      stream: (start: number, end: number) => Readable.from(sliceBody(body, start, end)),
      close: async () => Promise.resolve(),
    });
  }

  async stageBody(source: AsyncIterable<Uint8Array>, maxBytes: number): Promise<StagedBody> {
    const digester = new Digester(maxBytes);
    const chunks: Buffer[] = [];
    for await (const chunk of source) {
      digester.update(chunk);
      chunks.push(keepChunk(chunk));
    }
    const staged: MemoryStaged = { digest: digester.digest(), body: { chunks }, discard: async () => Promise.resolve() };
    return staged;
  }

  async putObject(bucket: string, staged: StagedBody, meta: ObjectMeta, forbidOverwrite: boolean): Promise<void> {
    const b = this.#bucket(bucket);
    if (forbidOverwrite && b.objects.has(meta.key)) return Promise.reject(new StoreError('key-exists', meta.key));
    b.objects.set(meta.key, { meta, body: (staged as MemoryStaged).body });
    b.sorted = undefined;
    return Promise.resolve();
  }

  async replaceMetadata(bucket: string, meta: ObjectMeta): Promise<void> {
    const b = this.#bucket(bucket);
    const entry = b.objects.get(meta.key);
    if (entry === undefined) return Promise.reject(new StoreError('no-such-key', meta.key));
    // Overwritten since the caller read `meta`: see Store.replaceMetadata.
    if (!sameContent(entry.meta, meta)) return Promise.resolve();
    b.objects.set(meta.key, { meta, body: entry.body });
    b.sorted = undefined;
    return Promise.resolve();
  }

  async deleteObject(bucket: string, key: string): Promise<boolean> {
    const b = this.#bucket(bucket);
    const deleted = b.objects.delete(key);
    if (deleted) b.sorted = undefined;
    return Promise.resolve(deleted);
  }

  async createUpload(bucket: string, info: UploadInfo): Promise<void> {
    this.#bucket(bucket).uploads.set(info.uploadId, { info, parts: new Map() });
    return Promise.resolve();
  }

  getUpload(bucket: string, uploadId: string): UploadInfo | undefined {
    return this.#buckets.get(bucket)?.uploads.get(uploadId)?.info;
  }

  listUploads(bucket: string): readonly UploadInfo[] {
    return [...this.#bucket(bucket).uploads.values()]
      .map((u) => u.info)
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.initiated - b.initiated));
  }

  async putPart(bucket: string, uploadId: string, staged: StagedBody, part: PartInfo): Promise<void> {
    this.#upload(bucket, uploadId).parts.set(part.partNumber, { info: part, body: (staged as MemoryStaged).body });
    return Promise.resolve();
  }

  listParts(bucket: string, uploadId: string): readonly PartInfo[] {
    return [...this.#upload(bucket, uploadId).parts.values()].map((p) => p.info).sort((a, b) => a.partNumber - b.partNumber);
  }

  async abortUpload(bucket: string, uploadId: string): Promise<void> {
    this.#upload(bucket, uploadId);
    this.#bucket(bucket).uploads.delete(uploadId);
    return Promise.resolve();
  }

  async completeUpload(bucket: string, uploadId: string, parts: readonly PartInfo[], meta: ObjectMeta, forbidOverwrite: boolean): Promise<void> {
    const b = this.#bucket(bucket);
    const upload = this.#upload(bucket, uploadId);
    const chunks: Buffer[] = [];
    for (const part of parts) {
      const stored = upload.parts.get(part.partNumber);
      if (stored?.info.etag !== part.etag) return Promise.reject(new StoreError('no-such-part', String(part.partNumber)));
      chunks.push(...stored.body.chunks);
    }
    if (forbidOverwrite && b.objects.has(meta.key)) return Promise.reject(new StoreError('key-exists', meta.key));
    b.objects.set(meta.key, { meta, body: { chunks } });
    b.sorted = undefined;
    b.uploads.delete(uploadId);
    return Promise.resolve();
  }

  async close(): Promise<void> {
    this.#buckets.clear();
    return Promise.resolve();
  }
}
