/**
 * The migration journal (`--journal FILE`): one JSON line per finished object, so an interrupted job resumes
 * without re-reading every object.
 *
 * Format: the first line is `{"ossCseMigrationJournal":1,"identity":{…}}`; every further line is one
 * {@link JournalRecord}. A killed writer may leave a torn last line; it is dropped (and truncated away) on reopen
 * because the record it held was, by construction, never fsynced as complete — the object is simply redone.
 *
 * @packageDocumentation
 */
import { constants, createReadStream } from 'node:fs';
import { lstat, open, type FileHandle } from 'node:fs/promises';
import { CseError, ErrorCode } from '../errors.js';

/** One finished object. `result` 'failed' records are kept for the record but are retried on resume. */
export interface JournalRecord {
  /** The object key. */
  readonly key: string;
  /** What happened to it. */
  readonly result: 'migrated' | 'skipped' | 'failed';
  /** The object's ETag after the operation, when known. */
  readonly etag?: string;
}

const MAGIC = 'ossCseMigrationJournal';
/** How long appended records may stay un-fsynced at most. */
const SYNC_INTERVAL_MS = 200;
const RESULTS = new Set(['migrated', 'skipped', 'failed']);

function journalError(message: string, cause?: unknown): CseError {
  return new CseError(ErrorCode.JOURNAL, message, cause === undefined ? {} : { cause });
}

function ioError(message: string, cause: unknown): CseError {
  return new CseError(ErrorCode.IO, message, { cause });
}

/** Raw lines of the file with their byte offsets; a last line without '\n' is reported as torn. */
async function* lines(path: string): AsyncGenerator<{ text: string; end: number; complete: boolean }> {
  let pending: Buffer[] = [];
  let offset = 0; // bytes consumed before `pending`
  let pendingLength = 0;
  for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      if (nl < 0) break;
      pending.push(chunk.subarray(start, nl));
      const line = Buffer.concat(pending);
      offset += pendingLength + (nl - start) + 1;
      yield { text: line.toString('utf8'), end: offset, complete: true };
      pending = [];
      pendingLength = 0;
      start = nl + 1;
    }
    if (start < chunk.length) {
      pending.push(chunk.subarray(start));
      pendingLength += chunk.length - start;
    }
  }
  if (pendingLength > 0) yield { text: Buffer.concat(pending).toString('utf8'), end: offset + pendingLength, complete: false };
}

function parseRecord(text: string): JournalRecord | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const o = value as Record<string, unknown>;
  if (typeof o.key !== 'string' || typeof o.result !== 'string' || !RESULTS.has(o.result)) return undefined;
  if (o.etag !== undefined && typeof o.etag !== 'string') return undefined;
  return o as unknown as JournalRecord;
}

function parseHeader(text: string): Record<string, string> | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const o = value as Record<string, unknown>;
  if (o[MAGIC] !== 1 || typeof o.identity !== 'object' || o.identity === null || Array.isArray(o.identity)) return undefined;
  const identity: Record<string, string> = {};
  for (const [k, v] of Object.entries(o.identity as Record<string, unknown>)) {
    if (typeof v !== 'string') return undefined;
    identity[k] = v;
  }
  return identity;
}

function identityDiff(path: string, found: Record<string, string>, wanted: Readonly<Record<string, string>>): void {
  const fields = [...new Set([...Object.keys(found), ...Object.keys(wanted)])].sort();
  const diffs = fields
    .filter((f) => found[f] !== wanted[f])
    .map((f) => `${f}: journal has ${JSON.stringify(found[f] ?? null)}, this job has ${JSON.stringify(wanted[f] ?? null)}`);
  if (diffs.length > 0) {
    throw journalError(`journal ${path} belongs to a different job (${diffs.join('; ')}); use another journal file or the same job options`);
  }
}

/**
 * An append-only journal of finished objects. Appends go through one file handle in call order; they are made
 * durable in batches (fsync at most every 200 ms, and on {@link MigrationJournal.close}), so a crash loses at most
 * the last ~200 ms of records — those objects are just processed again.
 */
export class MigrationJournal {
  readonly #path: string;
  readonly #handle: FileHandle;
  readonly #done: Set<string>;
  #closed = false;
  // Writes are chained so concurrent record() calls each land as one whole line.
  #chain: Promise<void> = Promise.resolve();
  #dirty = false;
  #syncTimer: NodeJS.Timeout | undefined;
  #syncError: unknown;
  // Bytes of whole lines in the file: a failed append (a full disk) may leave part of its line behind, which is cut
  // back to this length so the next record does not glue onto the fragment (a damaged middle line refuses a reopen).
  #length: number;
  // Set when such a fragment could not be cut away: every later append would land after it, so none is attempted.
  #broken: unknown;

  private constructor(path: string, handle: FileHandle, done: Set<string>, length: number) {
    this.#path = path;
    this.#handle = handle;
    this.#done = done;
    this.#length = length;
  }

  /**
   * Creates the file (mode 0600) with a first line holding `identity`, or reopens it: refuses a journal whose
   * identity differs (another bucket/prefix/shard/target) or that is not a journal; a torn last line (killed writer)
   * is ignored and truncated away.
   *
   * @param path - the journal file; a symbolic link is refused
   * @param identity - what identifies the job (string values; not secret: they appear in error messages)
   * @returns the open journal
   * @throws CseError ERR_CSE_JOURNAL when the file is not a journal, belongs to another job, has an unparsable line
   *   before the last, or is a symbolic link
   * @throws CseError ERR_CSE_IO when the file cannot be read, created or truncated
   */
  static async open(path: string, identity: Readonly<Record<string, string>>): Promise<MigrationJournal> {
    try {
      const st = await lstat(path);
      if (st.isSymbolicLink()) throw journalError(`journal ${path} is a symbolic link; refusing to follow it`);
      if (!st.isFile()) throw journalError(`journal ${path} is not a regular file`);
    } catch (e) {
      if (e instanceof CseError) throw e;
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw ioError(`cannot inspect journal ${path}`, e);
    }
    let handle: FileHandle;
    try {
      // Like open(path, 'a', 0o600): never truncates an existing journal, and the mode applies only when the file is
      // created. O_NOFOLLOW closes the window between the lstat above and this open (where the platform has it).
      handle = await open(path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | ((constants as Partial<typeof constants>).O_NOFOLLOW ?? 0), 0o600);
    } catch (e) {
      throw ioError(`cannot open journal ${path}`, e);
    }
    try {
      const done = new Set<string>();
      const size = (await handle.stat()).size;
      if (size === 0) {
        const fresh = `${JSON.stringify({ [MAGIC]: 1, identity })}\n`;
        await handle.appendFile(fresh);
        await handle.sync();
        return new MigrationJournal(path, handle, done, Buffer.byteLength(fresh));
      }
      let lineNo = 0;
      let goodEnd = 0;
      let header: Record<string, string> | undefined;
      let bad: { line: number } | undefined;
      let tornFirst: string | undefined;
      for await (const line of lines(path)) {
        lineNo++;
        if (bad !== undefined) {
          // An unparsable line followed by more lines is not a torn write: the file was damaged.
          throw journalError(`journal ${path}: line ${bad.line} is not a journal record`);
        }
        if (!line.complete) {
          if (lineNo === 1) tornFirst = line.text;
          break; // torn last line: dropped below
        }
        if (lineNo === 1) {
          header = parseHeader(line.text);
          if (header === undefined) throw journalError(`${path} is not an oss-cse migration journal (line 1)`);
          identityDiff(path, header, identity);
          goodEnd = line.end;
          continue;
        }
        const rec = parseRecord(line.text);
        if (rec === undefined) {
          bad = { line: lineNo };
          continue;
        }
        // A later 'failed' never cancels an earlier success: the object was migrated then.
        if (rec.result !== 'failed') done.add(rec.key);
        goodEnd = line.end;
      }
      if (header === undefined) {
        // Only a writer killed while creating this very journal leaves a torn first line, and then it is a prefix of
        // the header we would write; anything else is some other file that must not be overwritten.
        const fresh = `${JSON.stringify({ [MAGIC]: 1, identity })}\n`;
        if (tornFirst === undefined || !fresh.startsWith(tornFirst)) {
          throw journalError(`${path} is not an oss-cse migration journal (its first line is incomplete)`);
        }
        try {
          await handle.truncate(0);
          await handle.appendFile(fresh);
          await handle.sync();
        } catch (e) {
          throw ioError(`cannot rewrite the torn header of journal ${path}`, e);
        }
        return new MigrationJournal(path, handle, done, Buffer.byteLength(fresh));
      }
      if (goodEnd < size) {
        try {
          await handle.truncate(goodEnd);
          await handle.sync();
        } catch (e) {
          throw ioError(`cannot truncate the torn last line of journal ${path}`, e);
        }
      }
      return new MigrationJournal(path, handle, done, goodEnd);
    } catch (e) {
      await handle.close().catch(() => undefined);
      if (e instanceof CseError) throw e;
      throw ioError(`cannot read journal ${path}`, e);
    }
  }

  /** The journal's path. */
  get path(): string {
    return this.#path;
  }

  /**
   * True when the key finished as migrated or skipped in an earlier or this run.
   * @param key - the object key
   */
  has(key: string): boolean {
    return this.#done.has(key);
  }

  /** Number of keys for which {@link MigrationJournal.has} is true. */
  get finished(): number {
    return this.#done.size;
  }

  /**
   * Appends a line; durable in batches (fsync at least every 200 ms and on close).
   *
   * @param entry - the finished object
   * @throws CseError ERR_CSE_IO when the write (or an earlier batched fsync) fails
   * @throws CseError ERR_CSE_JOURNAL after {@link MigrationJournal.close}
   */
  async record(entry: JournalRecord): Promise<void> {
    if (this.#closed) throw journalError(`journal ${this.#path} is closed; cannot record ${JSON.stringify(entry.key)}`);
    const line = `${JSON.stringify(entry.etag === undefined ? { key: entry.key, result: entry.result } : { key: entry.key, result: entry.result, etag: entry.etag })}\n`;
    const write = this.#chain.then(async () => {
      if (this.#syncError !== undefined) throw ioError(`journal ${this.#path}: an earlier fsync failed`, this.#syncError);
      if (this.#broken !== undefined) throw ioError(`journal ${this.#path}: an earlier failed append could not be undone`, this.#broken);
      try {
        await this.#handle.appendFile(line);
      } catch (e) {
        try {
          await this.#handle.truncate(this.#length);
        } catch (undo) {
          this.#broken = undo;
        }
        throw ioError(`cannot append to journal ${this.#path}`, e);
      }
      this.#length += Buffer.byteLength(line);
      if (entry.result !== 'failed') this.#done.add(entry.key);
      this.#dirty = true;
      this.#scheduleSync();
    });
    // The chain continues after a failed write so later records still get their own (reported) attempt.
    this.#chain = write.catch(() => undefined);
    return write;
  }

  #scheduleSync(): void {
    if (this.#syncTimer !== undefined) return;
    this.#syncTimer = setTimeout(() => {
      this.#syncTimer = undefined;
      this.#chain = this.#chain.then(async () => this.#sync());
    }, SYNC_INTERVAL_MS);
  }

  async #sync(): Promise<void> {
    if (!this.#dirty) return;
    this.#dirty = false;
    try {
      await this.#handle.sync();
    } catch (e) {
      this.#syncError = e;
    }
  }

  /**
   * Makes every record appended so far durable now (waits for pending appends, then fsyncs), instead of waiting for
   * the next batch.
   * @throws CseError ERR_CSE_IO when the fsync fails
   * @throws CseError ERR_CSE_JOURNAL after {@link MigrationJournal.close}
   */
  async sync(): Promise<void> {
    if (this.#closed) throw journalError(`journal ${this.#path} is closed`);
    const done = this.#chain.then(async () => this.#sync());
    this.#chain = done;
    await done;
    if (this.#syncError !== undefined) throw ioError(`cannot fsync journal ${this.#path}`, this.#syncError);
  }

  /**
   * Waits for pending appends, fsyncs and closes the file. Idempotent.
   * @throws CseError ERR_CSE_IO when the final fsync or close fails
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#syncTimer !== undefined) clearTimeout(this.#syncTimer);
    this.#syncTimer = undefined;
    await this.#chain;
    try {
      if (this.#dirty) await this.#handle.sync();
      this.#dirty = false;
    } catch (e) {
      await this.#handle.close().catch(() => undefined);
      throw ioError(`cannot fsync journal ${this.#path}`, e);
    }
    try {
      await this.#handle.close();
    } catch (e) {
      throw ioError(`cannot close journal ${this.#path}`, e);
    }
    if (this.#syncError !== undefined) throw ioError(`journal ${this.#path}: a batched fsync failed`, this.#syncError);
  }
}
