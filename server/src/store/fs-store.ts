/**
 * The on-disk store. Layout under the data directory:
 *
 * ```
 * oss-cse-server.json                      format marker
 * server.lock                              pid of the server using the directory
 * tmp/                                     bodies being received, trash; emptied at start
 * buckets/<bucket>/bucket.json
 * buckets/<bucket>/objects/<h2>/<h>.meta.json        h = sha256(key) hex, h2 = its first two digits
 * buckets/<bucket>/objects/<h2>/<h>.<random>.body    immutable body the meta file names
 * buckets/<bucket>/uploads/<uploadId>/upload.json
 * buckets/<bucket>/uploads/<uploadId>/part-<n>.json, part-<n>.<random>.body
 * ```
 *
 * Crash safety: a body is streamed to `tmp/`, fsynced, then renamed next to its object; only then is the meta file
 * written (temp file, fsync, rename, fsync of the directory). The meta rename is the commit point: before it the old
 * object (or none) is visible, after it the new one, and a meta file only ever names a body that is complete on disk.
 * Bodies no meta file names (left by a crash between the two renames, or replaced) are deleted at the next start.
 * Buckets and uploads are created as a directory in `tmp/` and renamed into place; they are deleted by renaming them
 * into `tmp/` first. An in-memory index of all metadata, rebuilt at start, answers lists and lookups; commits are
 * serialised by one lock, body transfers are not.
 *
 * One file over 600 lines on purpose: every write path shares the staging, fsync, lock and no-follow rules of one
 * class.
 *
 * @packageDocumentation
 */

import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { assertRealDirs, READ_NOFOLLOW, readNoFollow, SymlinkError } from '../nofollow.js';
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

const FORMAT_FILE = 'oss-cse-server.json';
const FORMAT = { format: 'oss-cse-server', version: 1 } as const;
const LOCK_FILE = 'server.lock';

interface StoredObject {
  readonly meta: ObjectMeta;
  /** File name of the body, in the object's directory. */
  readonly body: string;
}

interface StoredPart {
  readonly info: PartInfo;
  readonly body: string;
}

interface FsUpload {
  readonly info: UploadInfo;
  readonly dir: string;
  readonly parts: Map<number, StoredPart>;
}

interface FsBucket {
  readonly info: BucketInfo;
  readonly dir: string;
  readonly objects: Map<string, StoredObject>;
  readonly uploads: Map<string, FsUpload>;
  sorted: ObjectMeta[] | undefined;
}

interface FsStaged extends StagedBody {
  readonly path: string;
}

function randomName(): string {
  return randomBytes(12).toString('hex');
}

function keyHash(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

function isErrno(e: unknown, ...codes: string[]): boolean {
  return typeof e === 'object' && e !== null && codes.includes((e as { code?: string }).code ?? '');
}

async function fsyncFile(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** fsync of a directory makes renames and unlinks in it durable; some platforms refuse it, which we tolerate. */
async function fsyncDir(path: string): Promise<void> {
  try {
    await fsyncFile(path);
  } catch (e) {
    if (!isErrno(e, 'EISDIR', 'EPERM', 'EINVAL', 'EACCES', 'EBADF')) throw e;
  }
}

async function unlinkQuiet(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (e) {
    if (!isErrno(e, 'ENOENT')) throw e;
  }
}

function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return isErrno(e, 'EPERM');
  }
}

function parseJson<T>(text: string, check: (v: unknown) => v is T): T | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return check(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/** A record file's text; '' when it cannot be read (the record is then skipped), but a link is never skipped quietly. */
async function recordText(path: string): Promise<string> {
  try {
    return (await readNoFollow(path)).text;
  } catch (e) {
    if (e instanceof SymlinkError) throw e;
    return '';
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const STORAGE_CLASSES: ReadonlySet<unknown> = new Set(['Standard', 'IA', 'Archive', 'ColdArchive', 'DeepColdArchive']);

/**
 * The storage class and tags kept since they were added: both optional, so metadata written before them (no class,
 * no tags: Standard and untagged) still loads.
 */
function hasValidExtras(v: Record<string, unknown>): boolean {
  const tagsOk =
    v.tags === undefined ||
    (Array.isArray(v.tags) && v.tags.every((t: unknown) => Array.isArray(t) && t.length === 2 && typeof t[0] === 'string' && typeof t[1] === 'string'));
  return tagsOk && (v.storageClass === undefined || STORAGE_CLASSES.has(v.storageClass));
}

function isObjectRecord(v: unknown): v is ObjectMeta & { body: string } {
  return (
    isRecord(v) &&
    hasValidExtras(v) &&
    typeof v.key === 'string' &&
    typeof v.size === 'number' &&
    typeof v.etag === 'string' &&
    typeof v.crc64 === 'string' &&
    typeof v.lastModified === 'number' &&
    (v.type === 'Normal' || v.type === 'Multipart') &&
    typeof v.contentType === 'string' &&
    isRecord(v.headers) &&
    Array.isArray(v.userMeta) &&
    typeof v.body === 'string'
  );
}

function isUploadRecord(v: unknown): v is UploadInfo {
  return (
    isRecord(v) &&
    typeof v.uploadId === 'string' &&
    typeof v.key === 'string' &&
    typeof v.initiated === 'number' &&
    Array.isArray(v.userMeta) &&
    hasValidExtras(v)
  );
}

function isPartRecord(v: unknown): v is PartInfo & { body: string } {
  return isRecord(v) && typeof v.partNumber === 'number' && typeof v.etag === 'string' && typeof v.size === 'number' && typeof v.body === 'string';
}

function isBucketRecord(v: unknown): v is BucketInfo {
  return isRecord(v) && typeof v.name === 'string' && typeof v.created === 'number';
}

/**
 * TEST ONLY: makes a file write stream fail, as on a full disk, once more than `limit` bytes were written to it: the
 * error comes from the stream's own write, like a real ENOSPC.
 */
function failWritesAfter(out: WriteStream, limit: number, error: () => Error): void {
  const write = out._write.bind(out);
  let written = 0;
  Reflect.set(out, '_writev', undefined); // every chunk through _write below
  out._write = (chunk: Buffer, encoding: BufferEncoding, callback: (error?: Error | null) => void): void => {
    written += chunk.length;
    if (written > limit) callback(error());
    else write(chunk, encoding, callback);
  };
}

/** A {@link Store} on the local file system. Open with {@link FsStore.open}. */
export class FsStore implements Store {
  readonly dataDir: string;
  readonly #tmp: string;
  readonly #bucketsDir: string;
  readonly #buckets = new Map<string, FsBucket>();
  #lock: Promise<void> = Promise.resolve();
  #closed = false;

  private constructor(dataDir: string) {
    this.dataDir = dataDir;
    this.#tmp = join(dataDir, 'tmp');
    this.#bucketsDir = join(dataDir, 'buckets');
  }

  /**
   * Opens (creating if needed) a data directory, takes its lock, cleans up after any crash and loads the index.
   * @param dataDir - the directory
   * @returns the store
   * @throws Error when another live process holds the directory, or it holds another format
   */
  static async open(dataDir: string): Promise<FsStore> {
    const store = new FsStore(dataDir);
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    await store.#checkFormat();
    await store.#takeLock();
    try {
      await rm(store.#tmp, { recursive: true, force: true });
      await mkdir(store.#tmp, { recursive: true });
      await mkdir(store.#bucketsDir, { recursive: true });
      await assertRealDirs(store.#tmp, store.#bucketsDir);
      await store.#load();
    } catch (e) {
      await unlinkQuiet(join(dataDir, LOCK_FILE));
      throw e;
    }
    return store;
  }

  async #checkFormat(): Promise<void> {
    const path = join(this.dataDir, FORMAT_FILE);
    try {
      const { text } = await readNoFollow(path);
      const value = parseJson(text, isRecord);
      if (value?.format !== FORMAT.format || value.version !== FORMAT.version) {
        throw new Error(`${path} is not an oss-cse server data directory of version ${FORMAT.version}`);
      }
    } catch (e) {
      if (!isErrno(e, 'ENOENT')) throw e;
      await mkdir(join(this.dataDir, 'tmp'), { recursive: true });
      await this.#writeDurable(path, JSON.stringify(FORMAT) + '\n');
    }
  }

  async #takeLock(): Promise<void> {
    const path = join(this.dataDir, LOCK_FILE);
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const fh = await open(path, 'wx', 0o600);
        try {
          await fh.writeFile(`${process.pid}\n`);
        } finally {
          await fh.close();
        }
        return;
      } catch (e) {
        if (!isErrno(e, 'EEXIST')) throw e;
        const pid = Number((await recordText(path)).trim());
        if (Number.isInteger(pid) && pid > 0 && isProcessAlive(pid)) {
          throw new Error(`data directory ${this.dataDir} is in use by process ${pid}`);
        }
        await unlinkQuiet(path); // stale lock from a crashed server
      }
    }
    throw new Error(`could not lock data directory ${this.dataDir}`);
  }

  async #load(): Promise<void> {
    for (const name of await readdir(this.#bucketsDir)) {
      const dir = join(this.#bucketsDir, name);
      await assertRealDirs(dir);
      const info = parseJson(await recordText(join(dir, 'bucket.json')), isBucketRecord);
      if (info?.name !== name) continue;
      const bucket: FsBucket = { info, dir, objects: new Map(), uploads: new Map(), sorted: undefined };
      await this.#loadObjects(bucket);
      await this.#loadUploads(bucket);
      this.#buckets.set(name, bucket);
    }
  }

  async #loadObjects(bucket: FsBucket): Promise<void> {
    const objectsDir = join(bucket.dir, 'objects');
    await mkdir(objectsDir, { recursive: true });
    await assertRealDirs(objectsDir);
    for (const shard of await readdir(objectsDir)) {
      const shardDir = join(objectsDir, shard);
      await assertRealDirs(shardDir);
      const files = await readdir(shardDir);
      const referenced = new Set<string>();
      for (const file of files.filter((f) => f.endsWith('.meta.json'))) {
        const record = parseJson(await recordText(join(shardDir, file)), isObjectRecord);
        if (record === undefined || `${keyHash(record.key)}.meta.json` !== file || !files.includes(record.body)) continue;
        const { body, ...meta } = record;
        bucket.objects.set(meta.key, { meta, body });
        referenced.add(body);
      }
      for (const file of files) {
        if (file.endsWith('.body') && !referenced.has(file)) await unlinkQuiet(join(shardDir, file));
        if (file.endsWith('.tmp')) await unlinkQuiet(join(shardDir, file));
      }
    }
  }

  async #loadUploads(bucket: FsBucket): Promise<void> {
    const uploadsDir = join(bucket.dir, 'uploads');
    await mkdir(uploadsDir, { recursive: true });
    await assertRealDirs(uploadsDir);
    for (const uploadId of await readdir(uploadsDir)) {
      const dir = join(uploadsDir, uploadId);
      await assertRealDirs(dir);
      const info = parseJson(await recordText(join(dir, 'upload.json')), isUploadRecord);
      if (info?.uploadId !== uploadId) continue;
      const upload: FsUpload = { info, dir, parts: new Map() };
      const files = await readdir(dir);
      const referenced = new Set<string>();
      for (const file of files.filter((f) => /^part-\d+\.json$/.test(f))) {
        const record = parseJson(await recordText(join(dir, file)), isPartRecord);
        if (record === undefined || !files.includes(record.body)) continue;
        const { body, ...part } = record;
        upload.parts.set(part.partNumber, { info: part, body });
        referenced.add(body);
      }
      for (const file of files) {
        if (file.endsWith('.body') && !referenced.has(file)) await unlinkQuiet(join(dir, file));
      }
      bucket.uploads.set(uploadId, upload);
    }
  }

  /** Runs `fn` with the commit lock held. */
  async #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const previous = this.#lock;
    let release!: () => void;
    this.#lock = new Promise<void>((resolve) => (release = resolve));
    await previous;
    try {
      if (this.#closed) throw new Error('store is closed');
      return await fn();
    } finally {
      release();
    }
  }

  /** Writes a small file atomically and durably. */
  async #writeDurable(target: string, data: string): Promise<void> {
    const tmp = join(this.#tmp, `${randomName()}.tmp`);
    const fh = await open(tmp, 'wx', 0o600);
    try {
      await fh.writeFile(data, 'utf8');
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, target);
    await fsyncDir(dirname(target));
  }

  /** Moves a directory into tmp/ (atomic disappearance), then deletes it. */
  async #removeDir(dir: string): Promise<void> {
    const trash = join(this.#tmp, `trash-${randomName()}`);
    await rename(dir, trash);
    await fsyncDir(dirname(dir));
    await rm(trash, { recursive: true, force: true });
  }

  #bucket(name: string): FsBucket {
    const bucket = this.#buckets.get(name);
    if (bucket === undefined) throw new StoreError('no-such-bucket', name);
    return bucket;
  }

  #upload(bucket: string, uploadId: string): FsUpload {
    const upload = this.#bucket(bucket).uploads.get(uploadId);
    if (upload === undefined) throw new StoreError('no-such-upload', uploadId);
    return upload;
  }

  #objectDir(bucket: FsBucket, key: string): { dir: string; hash: string } {
    const hash = keyHash(key);
    return { dir: join(bucket.dir, 'objects', hash.slice(0, 2)), hash };
  }

  /**
   * {@link FsStore.#objectDir}, after checking with lstat that no directory on the way is a link (nofollow.ts), so
   * a link planted inside the data directory cannot send a read or write outside it.
   */
  async #realObjectDir(bucket: FsBucket, key: string, create: boolean): Promise<{ dir: string; hash: string }> {
    const where = this.#objectDir(bucket, key);
    await assertRealDirs(bucket.dir, join(bucket.dir, 'objects'));
    if (create) await mkdir(where.dir, { recursive: true });
    await assertRealDirs(where.dir);
    return where;
  }

  listBuckets(): readonly BucketInfo[] {
    return [...this.#buckets.values()].map((b) => b.info).sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  getBucket(name: string): BucketInfo | undefined {
    return this.#buckets.get(name)?.info;
  }

  async createBucket(name: string, created: number): Promise<BucketInfo> {
    return this.#exclusive(async () => {
      if (this.#buckets.has(name)) throw new StoreError('bucket-exists', name);
      const staging = join(this.#tmp, `bucket-${randomName()}`);
      await mkdir(join(staging, 'objects'), { recursive: true });
      await mkdir(join(staging, 'uploads'), { recursive: true });
      const info: BucketInfo = { name, created };
      const fh = await open(join(staging, 'bucket.json'), 'wx', 0o600);
      try {
        await fh.writeFile(JSON.stringify(info), 'utf8');
        await fh.sync();
      } finally {
        await fh.close();
      }
      await fsyncDir(staging);
      const dir = join(this.#bucketsDir, name);
      await rename(staging, dir);
      await fsyncDir(this.#bucketsDir);
      this.#buckets.set(name, { info, dir, objects: new Map(), uploads: new Map(), sorted: undefined });
      return info;
    });
  }

  async deleteBucket(name: string): Promise<void> {
    await this.#exclusive(async () => {
      const bucket = this.#bucket(name);
      if (bucket.objects.size > 0 || bucket.uploads.size > 0) throw new StoreError('bucket-not-empty', name);
      await this.#removeDir(bucket.dir);
      this.#buckets.delete(name);
    });
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
    // A concurrent overwrite may delete the body between the lookup and open(): look up again.
    for (let attempt = 0; attempt < 5; attempt++) {
      const b = this.#buckets.get(bucket);
      const entry = b?.objects.get(key);
      if (b === undefined || entry === undefined) return undefined;
      let fh;
      try {
        const path = join((await this.#realObjectDir(b, key, false)).dir, entry.body);
        fh = await open(path, READ_NOFOLLOW);
      } catch (e) {
        if (isErrno(e, 'ENOENT')) continue;
        if (isErrno(e, 'ELOOP')) throw new SymlinkError(join(this.#objectDir(b, key).dir, entry.body));
        throw e;
      }
      const handle = fh;
      let used = false;
      return {
        meta: entry.meta,
        stream: (start: number, end: number): Readable => {
          used = true;
          if (end < start) {
            void handle.close();
            return Readable.from([]);
          }
          return handle.createReadStream({ start, end, autoClose: true });
        },
        close: async () => {
          if (!used) {
            used = true;
            await handle.close();
          }
        },
      };
    }
    throw new Error(`object ${key} keeps changing; try again`);
  }

  /**
   * {@link Store.stageBody}.
   * @param source - the body
   * @param maxBytes - most bytes accepted
   * @param test - TEST ONLY (the `disk-full` fault, faults-disk.ts): the write fails with ENOSPC once more than
   *   `failAfter` bytes would be on disk, inside the same pipeline a real full disk fails in
   * @returns the staged body
   * @throws StoreError too-large; Node's system errors (ENOSPC, EIO, …) from the disk
   */
  async stageBody(source: AsyncIterable<Uint8Array>, maxBytes: number, test?: { readonly failAfter: number; readonly error: () => Error }): Promise<StagedBody> {
    const digester = new Digester(maxBytes);
    const path = join(this.#tmp, `${randomName()}.body.tmp`);
    return this.#stage(path, source, (chunk) => {
      digester.update(chunk);
    }, () => digester.digest(), test);
  }

  async #stage(
    path: string,
    source: AsyncIterable<Uint8Array>,
    onChunk: (chunk: Uint8Array) => void,
    finish: () => StagedBody['digest'],
    test?: { readonly failAfter: number; readonly error: () => Error },
  ): Promise<FsStaged> {
    const out = createWriteStream(path, { flags: 'wx', mode: 0o600 });
    if (test !== undefined) failWritesAfter(out, test.failAfter, test.error);
    try {
      await pipeline(
        source,
        async function* (chunks: AsyncIterable<Uint8Array>) {
          for await (const chunk of chunks) {
            onChunk(chunk);
            yield chunk;
          }
        },
        out,
      );
      await fsyncFile(path);
    } catch (e) {
      await unlinkQuiet(path);
      throw e;
    }
    return { path, digest: finish(), discard: async () => unlinkQuiet(path) };
  }

  async #commitObject(b: FsBucket, staged: FsStaged, meta: ObjectMeta, forbidOverwrite: boolean): Promise<void> {
    if (forbidOverwrite && b.objects.has(meta.key)) throw new StoreError('key-exists', meta.key);
    const { dir, hash } = await this.#realObjectDir(b, meta.key, true);
    const body = `${hash}.${randomName()}.body`;
    await rename(staged.path, join(dir, body));
    await this.#writeDurable(join(dir, `${hash}.meta.json`), JSON.stringify({ ...meta, body }));
    const previous = b.objects.get(meta.key);
    b.objects.set(meta.key, { meta, body });
    b.sorted = undefined;
    if (previous !== undefined && previous.body !== body) await unlinkQuiet(join(dir, previous.body));
  }

  async putObject(bucket: string, staged: StagedBody, meta: ObjectMeta, forbidOverwrite: boolean): Promise<void> {
    try {
      await this.#exclusive(async () => this.#commitObject(this.#bucket(bucket), staged as FsStaged, meta, forbidOverwrite));
    } finally {
      await staged.discard(); // no-op after the rename
    }
  }

  async replaceMetadata(bucket: string, meta: ObjectMeta): Promise<void> {
    await this.#exclusive(async () => {
      const b = this.#bucket(bucket);
      const entry = b.objects.get(meta.key);
      if (entry === undefined) throw new StoreError('no-such-key', meta.key);
      // Overwritten since the caller read `meta`: see Store.replaceMetadata.
      if (!sameContent(entry.meta, meta)) return;
      const { dir, hash } = await this.#realObjectDir(b, meta.key, false);
      await this.#writeDurable(join(dir, `${hash}.meta.json`), JSON.stringify({ ...meta, body: entry.body }));
      b.objects.set(meta.key, { meta, body: entry.body });
      b.sorted = undefined;
    });
  }

  async deleteObject(bucket: string, key: string): Promise<boolean> {
    return this.#exclusive(async () => {
      const b = this.#bucket(bucket);
      const entry = b.objects.get(key);
      if (entry === undefined) return false;
      const { dir, hash } = await this.#realObjectDir(b, key, false);
      await unlink(join(dir, `${hash}.meta.json`));
      await fsyncDir(dir);
      b.objects.delete(key);
      b.sorted = undefined;
      await unlinkQuiet(join(dir, entry.body));
      return true;
    });
  }

  async createUpload(bucket: string, info: UploadInfo): Promise<void> {
    await this.#exclusive(async () => {
      const b = this.#bucket(bucket);
      await assertRealDirs(b.dir, join(b.dir, 'uploads'));
      const staging = join(this.#tmp, `upload-${randomName()}`);
      await mkdir(staging);
      const fh = await open(join(staging, 'upload.json'), 'wx', 0o600);
      try {
        await fh.writeFile(JSON.stringify(info), 'utf8');
        await fh.sync();
      } finally {
        await fh.close();
      }
      await fsyncDir(staging);
      const dir = join(b.dir, 'uploads', info.uploadId);
      await rename(staging, dir);
      await fsyncDir(join(b.dir, 'uploads'));
      b.uploads.set(info.uploadId, { info, dir, parts: new Map() });
    });
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
    try {
      await this.#exclusive(async () => {
        const upload = this.#upload(bucket, uploadId);
        await assertRealDirs(this.#bucket(bucket).dir, join(this.#bucket(bucket).dir, 'uploads'), upload.dir);
        const body = `part-${part.partNumber}.${randomName()}.body`;
        await rename((staged as FsStaged).path, join(upload.dir, body));
        await this.#writeDurable(join(upload.dir, `part-${part.partNumber}.json`), JSON.stringify({ ...part, body }));
        const previous = upload.parts.get(part.partNumber);
        upload.parts.set(part.partNumber, { info: part, body });
        if (previous !== undefined) await unlinkQuiet(join(upload.dir, previous.body));
      });
    } finally {
      await staged.discard();
    }
  }

  listParts(bucket: string, uploadId: string): readonly PartInfo[] {
    return [...this.#upload(bucket, uploadId).parts.values()].map((p) => p.info).sort((a, b) => a.partNumber - b.partNumber);
  }

  async abortUpload(bucket: string, uploadId: string): Promise<void> {
    await this.#exclusive(async () => {
      const upload = this.#upload(bucket, uploadId);
      await this.#removeDir(upload.dir);
      this.#bucket(bucket).uploads.delete(uploadId);
    });
  }

  async completeUpload(bucket: string, uploadId: string, parts: readonly PartInfo[], meta: ObjectMeta, forbidOverwrite: boolean): Promise<void> {
    const upload = this.#upload(bucket, uploadId);
    const files = parts.map((part) => {
      const stored = upload.parts.get(part.partNumber);
      if (stored?.info.etag !== part.etag) throw new StoreError('no-such-part', String(part.partNumber));
      return join(upload.dir, stored.body);
    });
    async function* concatenate(): AsyncGenerator<Uint8Array> {
      for (const file of files) {
        try {
          const fh = await open(file, READ_NOFOLLOW);
          for await (const chunk of fh.createReadStream()) yield chunk as Uint8Array;
        } catch (e) {
          if (isErrno(e, 'ENOENT')) throw new StoreError('no-such-part', file);
          if (isErrno(e, 'ELOOP')) throw new SymlinkError(file);
          throw e;
        }
      }
    }
    await assertRealDirs(this.#bucket(bucket).dir, join(this.#bucket(bucket).dir, 'uploads'), upload.dir);
    const path = join(this.#tmp, `${randomName()}.body.tmp`);
    const staged = await this.#stage(path, concatenate(), () => undefined, () => ({
      size: meta.size,
      md5: Buffer.alloc(0),
      crc64: 0n,
    }));
    try {
      await this.#exclusive(async () => {
        const b = this.#bucket(bucket);
        const current = b.uploads.get(uploadId);
        if (current === undefined) throw new StoreError('no-such-upload', uploadId);
        for (const part of parts) {
          if (current.parts.get(part.partNumber)?.info.etag !== part.etag) {
            throw new StoreError('no-such-part', String(part.partNumber));
          }
        }
        await this.#commitObject(b, staged, meta, forbidOverwrite);
        await this.#removeDir(current.dir);
        b.uploads.delete(uploadId);
      });
    } finally {
      await staged.discard();
    }
  }

  async close(): Promise<void> {
    await this.#exclusive(async () => {
      this.#closed = true;
      await unlinkQuiet(join(this.dataDir, LOCK_FILE));
    }).catch(() => undefined);
  }
}
