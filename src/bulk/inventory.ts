/**
 * Reading an OSS bucket inventory (`--inventory oss://BUCKET/…/manifest.json`) as the key source of a bulk job.
 *
 * Layout (see OSS's inventory documentation): `manifest.json` lists the CSV data files (`files[].key`, `size`,
 * `MD5checksum`) and the column names (`fileSchema`); `manifest.checksum` next to it holds the upper-case hex MD5 of
 * the manifest bytes; data files are gzip-compressed CSV whose values are all double-quoted and whose `Key` column is
 * URL-encoded. Everything here streams: a data file is never held in memory whole, only one row at a time.
 *
 * This module does not talk to OSS itself: objects come through the {@link InventorySource} port.
 *
 * @packageDocumentation
 */
import { createHash } from 'node:crypto';
import { Readable, pipeline } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { CseError, ErrorCode } from '../errors.js';

/** One data file named by the manifest. */
export interface InventoryFile {
  /** The data file's object key in the inventory's (destination) bucket. */
  readonly key: string;
  /** Its size in bytes (compressed), when the manifest gives it. */
  readonly size: number | undefined;
  /** The hex MD5 of its bytes (lower-case here), when the manifest gives it. */
  readonly md5: string | undefined;
}

/** A parsed `manifest.json`. */
export interface InventoryManifest {
  /** The bucket the inventory lists. */
  readonly sourceBucket: string;
  /** The bucket the inventory was written to. */
  readonly destinationBucket: string;
  /** Always 'CSV' (the only format OSS writes and this reader accepts). */
  readonly fileFormat: 'CSV';
  /** Column names of the data files, in order. */
  readonly columns: readonly string[];
  /** The data files, in manifest order. */
  readonly files: readonly InventoryFile[];
  /** `creationTimestamp` as a number (OSS writes seconds since the epoch), when present. */
  readonly creationTimestamp: number | undefined;
  /** The manifest `version`, when present. */
  readonly version: string | undefined;
}

/** One object listed by the inventory. */
export interface InventoryEntry {
  /** The bucket (`Bucket` column, or the manifest's source bucket when the column is absent). */
  readonly bucket: string;
  /** The object key, URL-decoded. */
  readonly key: string;
  /** `Size`, when the column is present. */
  readonly size: number | undefined;
  /**
   * `ETag` normalised to the form OSS sends in a HEAD answer: upper-case inside double quotes (`"5EB6…"`), whether
   * the CSV had it quoted or not; undefined when the column is absent or empty.
   */
  readonly etag: string | undefined;
  /** `StorageClass`, when present and not empty. */
  readonly storageClass: string | undefined;
}

/** How readInventory fetches objects of the inventory's bucket: null when the object does not exist. */
export interface InventorySource {
  /**
   * Opens one object for streaming.
   * @param key - object key in the inventory's bucket
   * @param signal - aborts the request
   * @returns the body, or null when there is no such object
   */
  open(key: string, signal?: AbortSignal): Promise<AsyncIterable<Uint8Array> | null>;
}

/** Manifests are small (one entry per data file); a cap keeps a hostile or wrong object from filling memory. */
const MAX_MANIFEST_BYTES = 64 * 1024 * 1024;
/** One CSV row: OSS keys are ≤ 1023 bytes (≤ ~3 KiB URL-encoded), so anything near this is not an inventory. */
const MAX_ROW_CHARS = 1024 * 1024;

function inventoryError(message: string, cause?: unknown): CseError {
  return new CseError(ErrorCode.INVENTORY, message, cause === undefined ? {} : { cause });
}

function abortedError(signal: AbortSignal, where: string): CseError {
  return new CseError(ErrorCode.ABORTED, `reading inventory ${where} aborted`, { cause: signal.reason });
}

const HEX32 = /^[0-9a-fA-F]{32}$/;
const DECIMAL = /^[0-9]+$/;

function optionalNumber(value: unknown, field: string, where: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return value;
  // OSS (like S3) has written numbers as JSON strings in some manifest versions: accept plain decimal strings too.
  if (typeof value === 'string' && DECIMAL.test(value) && value.length <= 15) return Number(value);
  throw inventoryError(`inventory manifest ${where}: ${field} is not a non-negative integer`);
}

/**
 * Parses `manifest.json`.
 *
 * @param bytes - the manifest's bytes (UTF-8 JSON)
 * @param where - names the manifest in error messages (e.g. `oss://bucket/…/manifest.json`)
 * @returns the manifest; `columns` are the trimmed names of `fileSchema`, `files[].md5` lower-case hex
 * @throws CseError ERR_CSE_INVENTORY naming `where` when the bytes are not such a manifest, the format is not CSV,
 *   or the schema has no `Key` column
 */
export function parseInventoryManifest(bytes: Uint8Array, where: string): InventoryManifest {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (e) {
    throw inventoryError(`inventory manifest ${where} is not valid UTF-8 JSON`, e);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw inventoryError(`inventory manifest ${where} is not a JSON object`);
  }
  const m = value as Record<string, unknown>;
  const str = (field: string): string => {
    const v = m[field];
    if (typeof v !== 'string' || v === '') throw inventoryError(`inventory manifest ${where}: ${field} is missing or not a string`);
    return v;
  };
  const sourceBucket = str('sourceBucket');
  const destinationBucket = str('destinationBucket');
  const format = str('fileFormat');
  if (format.toUpperCase() !== 'CSV') {
    throw inventoryError(`inventory manifest ${where}: fileFormat ${JSON.stringify(format)} is not supported (only CSV is)`);
  }
  const columns = str('fileSchema')
    .split(',')
    .map((c) => c.trim());
  if (columns.some((c) => c === '')) throw inventoryError(`inventory manifest ${where}: fileSchema has an empty column name`);
  if (new Set(columns.map((c) => c.toLowerCase())).size !== columns.length) {
    throw inventoryError(`inventory manifest ${where}: fileSchema names a column twice`);
  }
  if (!columns.some((c) => c.toLowerCase() === 'key')) throw inventoryError(`inventory manifest ${where}: fileSchema has no Key column`);
  const rawFiles = m.files;
  if (!Array.isArray(rawFiles)) throw inventoryError(`inventory manifest ${where}: files is missing or not an array`);
  const files = rawFiles.map((f: unknown, i): InventoryFile => {
    if (typeof f !== 'object' || f === null || Array.isArray(f)) throw inventoryError(`inventory manifest ${where}: files[${i}] is not an object`);
    const o = f as Record<string, unknown>;
    if (typeof o.key !== 'string' || o.key === '') throw inventoryError(`inventory manifest ${where}: files[${i}].key is missing or not a string`);
    const size = optionalNumber(o.size, `files[${i}].size`, where);
    let md5: string | undefined;
    if (o.MD5checksum !== undefined && o.MD5checksum !== null) {
      if (typeof o.MD5checksum !== 'string' || !HEX32.test(o.MD5checksum)) {
        throw inventoryError(`inventory manifest ${where}: files[${i}].MD5checksum is not 32 hex digits`);
      }
      md5 = o.MD5checksum.toLowerCase();
    }
    return { key: o.key, size, md5 };
  });
  const creationTimestamp = optionalNumber(m.creationTimestamp, 'creationTimestamp', where);
  let version: string | undefined;
  if (typeof m.version === 'string') version = m.version;
  else if (typeof m.version === 'number') version = String(m.version);
  else if (m.version !== undefined && m.version !== null) throw inventoryError(`inventory manifest ${where}: version is not a string`);
  return { sourceBucket, destinationBucket, fileFormat: 'CSV', columns, files, creationTimestamp, version };
}

/** A CSV row with the (1-based) line on which it starts. */
interface CsvRow {
  readonly fields: string[];
  readonly line: number;
}

/**
 * Splits UTF-8 bytes into RFC 4180 rows: fields separated by commas, optionally double-quoted (`""` is a quote,
 * commas and line breaks inside quotes are data), rows ended by LF or CRLF. Empty lines are skipped.
 */
async function* csvRows(source: AsyncIterable<Uint8Array>, where: string): AsyncGenerator<CsvRow> {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let fields: string[] = [];
  let field = '';
  let rowChars = 0;
  // 'start': at the start of a field; 'plain': inside an unquoted field; 'quoted': inside quotes;
  // 'closed': just after a quote in a quoted field (either the closing quote or the first of "").
  // Typed by assertion so TypeScript does not narrow it to 'start' (the closures below change it).
  let state = 'start' as 'start' | 'plain' | 'quoted' | 'closed';
  let line = 1;
  let rowLine = 1;
  let pendingCR = false;
  const fail = (why: string): never => {
    throw inventoryError(`inventory data file ${where}, line ${line}: ${why}`);
  };
  const endRow = (): CsvRow | undefined => {
    fields.push(field);
    const row = fields.length === 1 && fields[0] === '' && state === 'start' ? undefined : { fields, line: rowLine };
    fields = [];
    field = '';
    rowChars = 0;
    state = 'start';
    return row;
  };
  const decode = (chunk: Uint8Array | undefined): string => {
    try {
      return chunk === undefined ? decoder.decode() : decoder.decode(chunk, { stream: true });
    } catch (e) {
      throw inventoryError(`inventory data file ${where}, near line ${line}: not valid UTF-8`, e);
    }
  };
  const process = function* (text: string): Generator<CsvRow> {
    let i = 0;
    while (i < text.length) {
      if (state === 'quoted') {
        const q = text.indexOf('"', i);
        const piece = q < 0 ? text.slice(i) : text.slice(i, q);
        for (let j = piece.indexOf('\n'); j >= 0; j = piece.indexOf('\n', j + 1)) line++;
        field += piece;
        rowChars += piece.length;
        if (rowChars > MAX_ROW_CHARS) fail(`a row is longer than ${MAX_ROW_CHARS} characters`);
        if (q < 0) return;
        state = 'closed';
        i = q + 1;
        continue;
      }
      const c = text[i] as string;
      i++;
      if (pendingCR) {
        pendingCR = false;
        if (c !== '\n') fail('a carriage return not followed by a line feed');
      }
      if (state === 'closed') {
        if (c === '"') {
          field += '"';
          state = 'quoted';
          continue;
        }
        if (c !== ',' && c !== '\n' && c !== '\r') fail('text after a closing quote');
        state = 'plain'; // the field is complete; the separator is handled below
      }
      if (c === ',') {
        fields.push(field);
        field = '';
        state = 'start';
      } else if (c === '\r') {
        pendingCR = true;
      } else if (c === '\n') {
        const row = endRow();
        line++;
        rowLine = line;
        if (row !== undefined) yield row;
      } else if (c === '"') {
        if (state !== 'start') fail('a quote inside an unquoted value');
        state = 'quoted';
      } else {
        field += c;
        state = 'plain';
      }
      rowChars++;
      if (rowChars > MAX_ROW_CHARS) fail(`a row is longer than ${MAX_ROW_CHARS} characters`);
    }
  };
  for await (const chunk of source) yield* process(decode(chunk));
  yield* process(decode(undefined));
  if (state === 'quoted') fail('the file ends inside a quoted value');
  if (fields.length > 0 || field !== '' || state !== 'start') {
    const row = endRow();
    if (row !== undefined) yield row;
  }
}

/**
 * Puts an ETag in the form OSS returns from HEAD (`"HEX"` with upper-case hex digits), so it compares equal to
 * `ali-oss`'s `res.headers.etag` by plain string equality.
 */
function normalizeEtag(raw: string, fail: (why: string) => never): string | undefined {
  let inner = raw.trim();
  if (inner === '') return undefined;
  if (inner.length >= 2 && inner.startsWith('"') && inner.endsWith('"')) inner = inner.slice(1, -1);
  // Some tools escape the quotes as entities; OSS writes plain hex (optionally -N for multipart) here.
  if (inner === '' || !/^[0-9A-Za-z-]+$/.test(inner)) fail(`ETag ${JSON.stringify(raw.slice(0, 80))} is not an ETag`);
  return `"${inner.toUpperCase()}"`;
}

/** Options of {@link parseInventoryCsv}. */
export interface InventoryCsvOptions {
  /** When set, every row's `Bucket` must equal it; it is also the entries' bucket when there is no Bucket column. */
  readonly sourceBucket?: string;
}

/**
 * Rows of one decompressed CSV data file, streamed (memory stays flat: one row at a time).
 *
 * @param source - the decompressed bytes
 * @param columns - the manifest's column names (the `Key` column is required; `Bucket`, `Size`, `ETag`,
 *   `StorageClass` are used when present, matched case-insensitively)
 * @param where - names the file in error messages
 * @param options - the expected source bucket
 * @returns the entries in file order
 * @throws CseError ERR_CSE_INVENTORY (file and line number) on malformed CSV, a row whose column count differs from
 *   the schema's, a malformed %-escape in a key, a Size that is not a decimal integer, a bad ETag, or a Bucket that
 *   is not the source bucket. Rows before the bad one were already yielded.
 */
export async function* parseInventoryCsv(
  source: AsyncIterable<Uint8Array>,
  columns: readonly string[],
  where: string,
  options: InventoryCsvOptions = {},
): AsyncGenerator<InventoryEntry> {
  const col = (name: string): number => columns.findIndex((c) => c.toLowerCase() === name.toLowerCase());
  const keyAt = col('Key');
  if (keyAt < 0) throw inventoryError(`inventory data file ${where}: the schema has no Key column`);
  const bucketAt = col('Bucket');
  const sizeAt = col('Size');
  const etagAt = col('ETag');
  const classAt = col('StorageClass');
  for await (const { fields, line } of csvRows(source, where)) {
    const fail = (why: string): never => {
      throw inventoryError(`inventory data file ${where}, line ${line}: ${why}`);
    };
    if (fields.length !== columns.length) fail(`${fields.length} values where the schema has ${columns.length} columns`);
    const at = (i: number): string | undefined => (i < 0 ? undefined : fields[i]);
    let key: string;
    try {
      // Inventories encode a space as '+' or '%20' (undocumented which): '+' itself arrives as '%2B'.
      key = decodeURIComponent((at(keyAt) as string).replace(/\+/g, ' '));
    } catch (e) {
      throw inventoryError(`inventory data file ${where}, line ${line}: the Key value has a malformed %-escape`, e);
    }
    if (key === '') fail('the Key value is empty');
    const bucketValue = at(bucketAt);
    if (bucketValue !== undefined && options.sourceBucket !== undefined && bucketValue !== options.sourceBucket) {
      fail(`Bucket ${JSON.stringify(bucketValue.slice(0, 80))} is not the manifest's source bucket ${JSON.stringify(options.sourceBucket)}`);
    }
    const sizeText = at(sizeAt);
    let size: number | undefined;
    if (sizeText !== undefined) {
      if (!DECIMAL.test(sizeText) || sizeText.length > 15) fail(`Size ${JSON.stringify(sizeText.slice(0, 80))} is not a decimal integer`);
      size = Number(sizeText);
    }
    const etagText = at(etagAt);
    const storageClass = at(classAt);
    yield {
      bucket: bucketValue ?? options.sourceBucket ?? '',
      key,
      size,
      etag: etagText === undefined ? undefined : normalizeEtag(etagText, fail),
      storageClass: storageClass === undefined || storageClass === '' ? undefined : storageClass,
    };
  }
}

/** Reads a whole (small) object, refusing more than `max` bytes. */
async function readAll(body: AsyncIterable<Uint8Array>, max: number, where: string, signal: AbortSignal | undefined): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of body) {
    if (signal?.aborted === true) throw abortedError(signal, where);
    length += chunk.length;
    if (length > max) throw inventoryError(`inventory ${where} is larger than ${max} bytes`);
    chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length));
  }
  return Buffer.concat(chunks, length);
}

/** Passes bytes through while counting and hashing them; remembers an error of the source itself. */
class Tap {
  readonly md5 = createHash('md5');
  length = 0;
  sourceError: unknown;
  hadSourceError = false;
  constructor(
    private readonly body: AsyncIterable<Uint8Array>,
    private readonly where: string,
    private readonly signal: AbortSignal | undefined,
  ) {}
  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array> {
    try {
      for await (const chunk of this.body) {
        if (this.signal?.aborted === true) throw abortedError(this.signal, this.where);
        this.md5.update(chunk);
        this.length += chunk.length;
        yield chunk;
      }
    } catch (e) {
      this.sourceError = e;
      this.hadSourceError = true;
      throw e;
    }
  }
}

function gunzip(body: AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array> {
  // pipeline() forwards an error of either stage to the returned gunzip stream and destroys both when the reader
  // stops early.
  return pipeline(Readable.from(body, { objectMode: false }), createGunzip(), () => undefined);
}

/** The key of `manifest.checksum` next to a manifest key. */
function checksumKey(manifestKey: string): string {
  const slash = manifestKey.lastIndexOf('/');
  return `${manifestKey.slice(0, slash + 1)}manifest.checksum`;
}

/**
 * Opens manifest.json, checks manifest.checksum (same folder) when it exists, then streams every data file
 * (gunzip for .gz), checking each file's size/MD5 from the manifest; entries in manifest order, memory flat.
 *
 * A data file's size or MD5 mismatch is only known when the file ends, so it is thrown then — after that file's
 * entries were already yielded. Callers that must not act on unverified entries should stop at the error (entries
 * of earlier files were verified).
 *
 * @param source - reads objects of the inventory's bucket
 * @param manifestKey - the key of `manifest.json`
 * @param options - `signal` aborts the reads (ERR_CSE_ABORTED)
 * @returns the manifest and an iterable of its entries (iterate it once)
 * @throws CseError ERR_CSE_INVENTORY (missing manifest or data file, bad checksum, malformed) — mismatches of a data
 *   file's MD5 are thrown when that file ends
 * @throws CseError ERR_CSE_ABORTED when the signal fires
 */
export async function readInventory(
  source: InventorySource,
  manifestKey: string,
  options: { readonly signal?: AbortSignal } = {},
): Promise<{ readonly manifest: InventoryManifest; readonly entries: AsyncIterable<InventoryEntry> }> {
  const { signal } = options;
  const body = await source.open(manifestKey, signal);
  if (body === null) throw inventoryError(`inventory manifest ${manifestKey} does not exist`);
  const bytes = await readAll(body, MAX_MANIFEST_BYTES, manifestKey, signal);
  const sumKey = checksumKey(manifestKey);
  const sumBody = await source.open(sumKey, signal);
  if (sumBody !== null) {
    const text = (await readAll(sumBody, 1024, sumKey, signal)).toString('latin1').trim();
    if (!HEX32.test(text)) throw inventoryError(`inventory checksum ${sumKey} is not a hex MD5`);
    const actual = createHash('md5').update(bytes).digest('hex');
    if (actual !== text.toLowerCase()) {
      throw inventoryError(`inventory manifest ${manifestKey} does not match ${sumKey} (MD5 ${actual.toUpperCase()}, expected ${text.toUpperCase()})`);
    }
  }
  const manifest = parseInventoryManifest(bytes, manifestKey);
  async function* entries(): AsyncGenerator<InventoryEntry> {
    for (const file of manifest.files) {
      if (signal?.aborted === true) throw abortedError(signal, file.key);
      const data = await source.open(file.key, signal);
      if (data === null) throw inventoryError(`inventory data file ${file.key} (listed in ${manifestKey}) does not exist`);
      const tap = new Tap(data, file.key, signal);
      const compressed = file.key.endsWith('.gz');
      try {
        yield* parseInventoryCsv(compressed ? gunzip(tap) : tap, manifest.columns, file.key, { sourceBucket: manifest.sourceBucket });
      } catch (e) {
        if (tap.hadSourceError) throw tap.sourceError;
        if (e instanceof CseError) throw e;
        throw inventoryError(`inventory data file ${file.key} is not a valid gzip file`, e);
      }
      if (file.size !== undefined && tap.length !== file.size) {
        throw inventoryError(`inventory data file ${file.key} has ${tap.length} bytes, the manifest says ${file.size}`);
      }
      if (file.md5 !== undefined) {
        const actual = tap.md5.digest('hex');
        if (actual !== file.md5) throw inventoryError(`inventory data file ${file.key} has MD5 ${actual}, the manifest says ${file.md5}`);
      }
    }
  }
  return { manifest, entries: entries() };
}
