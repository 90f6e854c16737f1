/**
 * Checkpoints of resumable transfers: versioned JSON records of what a multipart upload or a parallel download has
 * done, so that a later run (after a crash, a kill or an abort) continues instead of starting over.
 *
 * An upload checkpoint holds the bucket, the key, the source (path, size, mtime), the upload id, the **wrapped**
 * envelope headers (never the plaintext data key or IV: resuming unwraps them again, as Java's `uploadFile` and oss2's
 * record do, `oss-go-java.md` §7, `oss2-python.md` §7), the part and data sizes, and every finished part with its ETag
 * and CRC-64. A download checkpoint holds the object's identity (ETag, size, CRC-64), the target, the temporary file
 * (a sibling of the target) and every finished range with its CRC-64.
 *
 * Records are written atomically (temporary file, fsync, rename), readable by the owner only. A record is checked
 * before use: another bucket, key, source or target, an unknown version, or a temporary file outside the target's
 * directory is refused with ERR_CSE_MULTIPART.
 *
 * @packageDocumentation
 */

import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { CseError, ErrorCode } from '../errors.js';

/** The checkpoint format version this library writes and reads. */
export const CHECKPOINT_VERSION = 1;

/** The environment variable naming oss-cse's home directory (default `~/.oss-cse`). */
export const HOME_ENV = 'OSS_CSE_HOME';

/** A finished part of an upload. */
export interface CheckpointPart {
  /** Part number, 1-based. */
  readonly partNumber: number;
  /** The ETag OSS returned for it (quoted). */
  readonly etag: string;
  /** Plaintext (= ciphertext) bytes. */
  readonly size: number;
  /** CRC-64 of the part's ciphertext, decimal. */
  readonly crc64: string;
}

/** What an upload checkpoint records about its local source. */
export interface CheckpointSource {
  /** Absolute path of the file. */
  readonly path: string;
  /** Its size in bytes when the upload started. */
  readonly size: number;
  /** Its modification time (ms since the epoch) when the upload started. */
  readonly mtimeMs: number;
}

/** The record of a multipart upload in progress. */
export interface UploadCheckpoint {
  /** Record format version. */
  readonly version: typeof CHECKPOINT_VERSION;
  /** Always `upload`. */
  readonly kind: 'upload';
  /** Bucket of the upload. */
  readonly bucket: string;
  /** Object key of the upload. */
  readonly key: string;
  /** The multipart upload id. */
  readonly uploadId: string;
  /** The local source, to refuse resuming from a changed file. */
  readonly source: CheckpointSource;
  /**
   * The upload's client-side-encryption headers as sent on Initiate: the wrapped data key and IV, algorithms,
   * matdesc, data-size and part-size. Never the plaintext key or IV.
   */
  readonly envelope: Readonly<Record<string, string>>;
  /** Part size in bytes. */
  readonly partSize: number;
  /** Total plaintext size. */
  readonly dataSize: number;
  /** Finished parts, ascending. */
  readonly parts: readonly CheckpointPart[];
  /** When the record was last written (ISO 8601). */
  readonly updatedAt: string;
  /**
   * The master key that wrapped the envelope (public facts only), so that a resume that cannot unwrap it can say
   * which private key it needs. Absent in records of earlier versions.
   */
  readonly wrappedBy?: CheckpointKeyInfo | undefined;
}

/** Which master key wrapped an upload's envelope: public facts only (never key material). */
export interface CheckpointKeyInfo {
  /** The key's display name (`rsa-2048:<fingerprint prefix>`, `kms:<key id>`). */
  readonly name: string;
  /** RSA: SHA-256 of the public key (SPKI DER), hex, as `oss-cse keys list` shows it. */
  readonly fingerprint?: string | undefined;
}

/** A finished range of a download. */
export interface DownloadCheckpointPart {
  /** Range number, 1-based: bytes `[(n−1)·partSize, min(n·partSize, size))`. */
  readonly partNumber: number;
  /** CRC-64 of the range's ciphertext (the bytes OSS stores), decimal. */
  readonly crc64: string;
}

/** The record of a parallel download in progress. */
export interface DownloadCheckpoint {
  /** Record format version. */
  readonly version: typeof CHECKPOINT_VERSION;
  /** Always `download`. */
  readonly kind: 'download';
  /** Bucket of the object. */
  readonly bucket: string;
  /** Object key. */
  readonly key: string;
  /** The object's ETag: every range is fetched with `If-Match` on it. */
  readonly etag: string;
  /** The object's size. */
  readonly size: number;
  /** The object's `x-oss-hash-crc64ecma`, when OSS sent one. */
  readonly crc64: string | undefined;
  /** Absolute path of the file being produced. */
  readonly target: string;
  /** The temporary file's name: a sibling of `target` (a bare file name, never a path). */
  readonly tempFile: string;
  /** Range size in bytes. */
  readonly partSize: number;
  /** Finished ranges, ascending. */
  readonly parts: readonly DownloadCheckpointPart[];
  /** When the record was last written (ISO 8601). */
  readonly updatedAt: string;
}

/**
 * Where a checkpoint lives. {@link FileCheckpointStore} is the default; pass your own to keep checkpoints elsewhere
 * (a database, memory).
 */
export interface CheckpointStore<T> {
  /** Says where, for messages. */
  readonly description: string;
  /**
   * The saved record, or `undefined` when there is none.
   * @throws CseError ERR_CSE_IO when the record exists but cannot be read; ERR_CSE_MULTIPART when it is corrupt (not
   *   JSON) or not a checkpoint of this kind and version
   */
  load(): Promise<T | undefined>;
  /** Saves the record, replacing the previous one. @throws CseError ERR_CSE_IO */
  save(checkpoint: T): Promise<void>;
  /** Deletes the record (done when the transfer completes). @throws CseError ERR_CSE_IO */
  remove(): Promise<void>;
}

/**
 * `$OSS_CSE_HOME/checkpoints` (`OSS_CSE_HOME` defaults to `~/.oss-cse`).
 * @param env - the environment to read `OSS_CSE_HOME` from (default `process.env`)
 * @throws no CseError; only Node's `SystemError` from `os.homedir()` when `OSS_CSE_HOME` is unset and the home
 *   directory cannot be determined (no `HOME` and no passwd entry)
 */
export function defaultCheckpointDir(env: Readonly<Record<string, string | undefined>> = process.env): string {
  const home = env[HOME_ENV];
  return join(home !== undefined && home !== '' ? home : join(homedir(), '.oss-cse'), 'checkpoints');
}

/**
 * The default checkpoint file of a transfer: in `dir`, named by a hash of what it is about (so no key or path can
 * steer the name outside the directory).
 *
 * @param kind - upload or download
 * @param bucket - bucket
 * @param key - object key
 * @param localPath - the source (upload) or target (download) file
 * @param dir - the checkpoint directory (default {@link defaultCheckpointDir})
 * @throws no CseError; without `dir`, what {@link defaultCheckpointDir} throws
 */
export function defaultCheckpointPath(
  kind: 'upload' | 'download',
  bucket: string,
  key: string,
  localPath: string,
  dir: string = defaultCheckpointDir(),
): string {
  const id = createHash('sha256').update(`${kind}\n${bucket}\n${key}\n${resolve(localPath)}`).digest('hex').slice(0, 40);
  return join(dir, `${kind}-${id}.json`);
}

function refuse(where: string, message: string, cause?: unknown): CseError {
  return new CseError(ErrorCode.MULTIPART, `checkpoint ${where}: ${message}`, cause === undefined ? {} : { cause });
}

function ioError(where: string, what: string, e: unknown): CseError {
  return new CseError(ErrorCode.IO, `checkpoint ${where}: ${what}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
}

/** A checkpoint in a JSON file, written atomically. */
export class FileCheckpointStore<T> implements CheckpointStore<T> {
  /** The file. */
  readonly path: string;
  readonly #parse: (value: unknown, where: string) => T;

  /**
   * @param path - the checkpoint file (its directory is created on first save, owner-only)
   * @param parse - checks a loaded record ({@link parseUploadCheckpoint} or {@link parseDownloadCheckpoint})
   */
  constructor(path: string, parse: (value: unknown, where: string) => T) {
    this.path = resolve(path);
    this.#parse = parse;
  }

  /** {@inheritDoc CheckpointStore.description} */
  get description(): string {
    return this.path;
  }

  /**
   * {@inheritDoc CheckpointStore.load}
   * @throws CseError ERR_CSE_IO when the file exists but cannot be read (permissions, a directory, …);
   *   ERR_CSE_MULTIPART when it is not JSON; and whatever `parse` throws for a record of the wrong kind, version or
   *   shape (ERR_CSE_MULTIPART from {@link parseUploadCheckpoint} and {@link parseDownloadCheckpoint})
   */
  async load(): Promise<T | undefined> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw ioError(this.path, 'cannot read it', e);
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (e) {
      throw refuse(this.path, 'not valid JSON (delete the file to start over)', e);
    }
    return this.#parse(value, this.path);
  }

  /**
   * {@inheritDoc CheckpointStore.save}
   * @throws CseError ERR_CSE_IO when the directory cannot be created, or the record cannot be serialised, written,
   *   synced or renamed into place (the temporary file is removed and the previous record is left as it was)
   */
  async save(checkpoint: T): Promise<void> {
    const dir = dirname(this.path);
    const temp = join(dir, `.${basename(this.path)}.${randomBytes(6).toString('hex')}.tmp`);
    try {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      const handle = await open(temp, 'wx', 0o600);
      try {
        await handle.writeFile(`${JSON.stringify(checkpoint, null, 1)}\n`, 'utf8');
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temp, this.path);
    } catch (e) {
      // The clean-up can fail for the same reason (a name too long, a directory gone): the write error is the news.
      await rm(temp, { force: true }).catch(() => undefined);
      throw ioError(this.path, 'cannot write it', e);
    }
  }

  /**
   * {@inheritDoc CheckpointStore.remove}
   * @throws CseError ERR_CSE_IO when the file exists but cannot be deleted (a missing file is not an error)
   */
  async remove(): Promise<void> {
    try {
      await rm(this.path, { force: true });
    } catch (e) {
      throw ioError(this.path, 'cannot delete it', e);
    }
  }
}

/** A checkpoint kept in memory (tests, or callers who persist it themselves through `progress`). */
export class MemoryCheckpointStore<T> implements CheckpointStore<T> {
  /** The current record. */
  value: T | undefined;
  /** How many times it was saved. */
  saves = 0;

  /** @param initial - a record to resume from */
  constructor(initial?: T) {
    this.value = initial;
  }

  /** {@inheritDoc CheckpointStore.description} */
  get description(): string {
    return 'in memory';
  }

  /** {@inheritDoc CheckpointStore.load} */
  async load(): Promise<T | undefined> {
    return Promise.resolve(this.value);
  }

  /** {@inheritDoc CheckpointStore.save} */
  async save(checkpoint: T): Promise<void> {
    this.value = checkpoint;
    this.saves++;
    return Promise.resolve();
  }

  /** {@inheritDoc CheckpointStore.remove} */
  async remove(): Promise<void> {
    this.value = undefined;
    return Promise.resolve();
  }
}

type Json = Record<string, unknown>;

function record(value: unknown, where: string, what: string): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw refuse(where, `${what} is not a JSON object`);
  return value as Json;
}

function str(o: Json, name: string, where: string, allowEmpty = false): string {
  const v = o[name];
  if (typeof v !== 'string' || (!allowEmpty && v === '')) throw refuse(where, `field ${name} is missing or not a string`);
  return v;
}

function int(o: Json, name: string, where: string, min = 0): number {
  const v = o[name];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) {
    throw refuse(where, `field ${name} is missing or not an integer ≥ ${min}`);
  }
  return v;
}

function finite(o: Json, name: string, where: string): number {
  const v = o[name];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw refuse(where, `field ${name} is missing or not a number`);
  return v;
}

function decimal(o: Json, name: string, where: string): string {
  const v = str(o, name, where);
  if (!/^[0-9]{1,20}$/.test(v) || BigInt(v) >= 1n << 64n) throw refuse(where, `field ${name} is not a 64-bit decimal CRC`);
  return v;
}

function header(o: Json, where: string): Record<string, string> {
  const raw = record(o.envelope, where, 'field envelope');
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw)) {
    if (typeof value !== 'string') throw refuse(where, `envelope header ${name} is not a string`);
    out[name.toLowerCase()] = value;
  }
  return out;
}

function versionAndKind(o: Json, kind: 'upload' | 'download', where: string): void {
  if (o.version !== CHECKPOINT_VERSION) {
    throw refuse(where, `version ${JSON.stringify(o.version)} is not supported (this library reads version ${CHECKPOINT_VERSION})`);
  }
  if (o.kind !== kind) throw refuse(where, `it records a ${JSON.stringify(o.kind)}, not a ${kind}`);
}

function ascending<P extends { readonly partNumber: number }>(parts: P[], where: string): P[] {
  parts.sort((a, b) => a.partNumber - b.partNumber);
  for (let i = 1; i < parts.length; i++) {
    if (parts[i]?.partNumber === parts[i - 1]?.partNumber) throw refuse(where, `part ${parts[i]?.partNumber} is listed twice`);
  }
  return parts;
}

/**
 * Checks the shape of a loaded upload checkpoint.
 * @param value - the parsed JSON
 * @param where - where it came from, for messages
 * @throws CseError ERR_CSE_MULTIPART naming the first problem
 */
export function parseUploadCheckpoint(value: unknown, where = 'record'): UploadCheckpoint {
  const o = record(value, where, 'the record');
  versionAndKind(o, 'upload', where);
  const source = record(o.source, where, 'field source');
  const path = str(source, 'path', where);
  if (!isAbsolute(path)) throw refuse(where, 'source.path is not absolute');
  const parts = o.parts;
  if (!Array.isArray(parts)) throw refuse(where, 'field parts is not a list');
  return {
    version: CHECKPOINT_VERSION,
    kind: 'upload',
    bucket: str(o, 'bucket', where),
    key: str(o, 'key', where),
    uploadId: str(o, 'uploadId', where),
    source: { path, size: int(source, 'size', where), mtimeMs: finite(source, 'mtimeMs', where) },
    envelope: header(o, where),
    partSize: int(o, 'partSize', where, 1),
    dataSize: int(o, 'dataSize', where),
    parts: ascending(
      parts.map((p: unknown) => {
        const part = record(p, where, 'a part');
        return {
          partNumber: int(part, 'partNumber', where, 1),
          etag: str(part, 'etag', where),
          size: int(part, 'size', where),
          crc64: decimal(part, 'crc64', where),
        };
      }),
      where,
    ),
    updatedAt: str(o, 'updatedAt', where, true),
    ...(o.wrappedBy === undefined ? {} : { wrappedBy: keyInfo(o.wrappedBy, where) }),
  };
}

function keyInfo(value: unknown, where: string): CheckpointKeyInfo {
  const o = record(value, where, 'field wrappedBy');
  const name = str(o, 'name', where);
  if (o.fingerprint === undefined) return { name };
  const fingerprint = str(o, 'fingerprint', where);
  if (!/^[0-9a-f]{64}$/.test(fingerprint)) throw refuse(where, 'field fingerprint is not a SHA-256 in hex');
  return { name, fingerprint };
}

/**
 * Checks the shape of a loaded download checkpoint, including that its temporary file is a bare name (it can only
 * ever be a sibling of the target).
 * @throws CseError ERR_CSE_MULTIPART naming the first problem
 */
export function parseDownloadCheckpoint(value: unknown, where = 'record'): DownloadCheckpoint {
  const o = record(value, where, 'the record');
  versionAndKind(o, 'download', where);
  const target = str(o, 'target', where);
  if (!isAbsolute(target)) throw refuse(where, 'target is not absolute');
  const tempFile = str(o, 'tempFile', where);
  checkTempName(tempFile, where);
  const parts = o.parts;
  if (!Array.isArray(parts)) throw refuse(where, 'field parts is not a list');
  const crc = o.crc64;
  return {
    version: CHECKPOINT_VERSION,
    kind: 'download',
    bucket: str(o, 'bucket', where),
    key: str(o, 'key', where),
    etag: str(o, 'etag', where),
    size: int(o, 'size', where),
    crc64: crc === undefined || crc === null ? undefined : decimal(o, 'crc64', where),
    target,
    tempFile,
    partSize: int(o, 'partSize', where, 1),
    parts: ascending(
      parts.map((p: unknown) => {
        const part = record(p, where, 'a part');
        return { partNumber: int(part, 'partNumber', where, 1), crc64: decimal(part, 'crc64', where) };
      }),
      where,
    ),
    updatedAt: str(o, 'updatedAt', where, true),
  };
}

/** The temporary file of a download must be a plain name: no separator, no `.`/`..`, nothing outside its directory. */
function checkTempName(name: string, where: string): void {
  if (name === '.' || name === '..' || name.includes('/') || name.includes('\\') || name.includes('\0') || basename(name) !== name) {
    throw refuse(where, `its temporary file ${JSON.stringify(name)} points outside the target's directory`);
  }
}

/**
 * The temporary file of a download checkpoint, as an absolute path next to the target.
 * @throws CseError ERR_CSE_MULTIPART when the record's name would leave the target's directory
 */
export function downloadTempPath(checkpoint: DownloadCheckpoint, where = 'record'): string {
  checkTempName(checkpoint.tempFile, where);
  const dir = dirname(checkpoint.target);
  const path = join(dir, checkpoint.tempFile);
  if (dirname(path) !== dir) throw refuse(where, `its temporary file ${JSON.stringify(checkpoint.tempFile)} points outside ${dir}`);
  return path;
}

/**
 * Refuses an upload checkpoint recorded for another bucket, key or source file.
 * @throws CseError ERR_CSE_MULTIPART
 */
export function checkUploadCheckpointFor(
  checkpoint: UploadCheckpoint,
  expected: { readonly bucket: string; readonly key: string; readonly sourcePath: string },
  where: string,
): void {
  if (checkpoint.bucket !== expected.bucket) {
    throw refuse(where, `it belongs to bucket ${JSON.stringify(checkpoint.bucket)}, not ${JSON.stringify(expected.bucket)}`);
  }
  if (checkpoint.key !== expected.key) {
    throw refuse(where, `it belongs to object ${JSON.stringify(checkpoint.key)}, not ${JSON.stringify(expected.key)}`);
  }
  if (checkpoint.source.path !== resolve(expected.sourcePath)) {
    throw refuse(where, `it records source ${checkpoint.source.path}, not ${resolve(expected.sourcePath)}`);
  }
}

/**
 * Refuses a download checkpoint recorded for another bucket, key or target file.
 * @throws CseError ERR_CSE_MULTIPART
 */
export function checkDownloadCheckpointFor(
  checkpoint: DownloadCheckpoint,
  expected: { readonly bucket: string; readonly key: string; readonly target: string },
  where: string,
): void {
  if (checkpoint.bucket !== expected.bucket) {
    throw refuse(where, `it belongs to bucket ${JSON.stringify(checkpoint.bucket)}, not ${JSON.stringify(expected.bucket)}`);
  }
  if (checkpoint.key !== expected.key) {
    throw refuse(where, `it belongs to object ${JSON.stringify(checkpoint.key)}, not ${JSON.stringify(expected.key)}`);
  }
  if (checkpoint.target !== resolve(expected.target)) {
    throw refuse(where, `it records target ${checkpoint.target}, not ${resolve(expected.target)}`);
  }
}

/**
 * Saves at most every `intervalMs` (plus on demand): a checkpoint per finished part would rewrite the file 10,000
 * times for a maximal upload. What a crash loses since the last save is recovered by the next run (ListParts for
 * uploads, re-reading the range for downloads).
 */
export class ThrottledSaver<T> {
  readonly #store: CheckpointStore<T>;
  readonly #intervalMs: number;
  #last = 0;
  #pending: Promise<void> = Promise.resolve();

  /**
   * @param store - where to save
   * @param intervalMs - least time between two saves made by {@link ThrottledSaver.maybeSave}
   */
  constructor(store: CheckpointStore<T>, intervalMs: number) {
    this.#store = store;
    this.#intervalMs = intervalMs;
  }

  /** True when the interval has passed since the last save. */
  due(): boolean {
    return Date.now() - this.#last >= this.#intervalMs;
  }

  /** Saves `build()` if the interval has passed since the last save. Saves never overlap. */
  async maybeSave(build: () => T): Promise<void> {
    if (!this.due()) return;
    await this.save(build);
  }

  /** Saves `build()` now (after any save in progress). */
  async save(build: () => T): Promise<void> {
    this.#last = Date.now();
    const run = this.#pending.then(async () => this.#store.save(build()));
    this.#pending = run.catch(() => undefined);
    await run;
  }
}
