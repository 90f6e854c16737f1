/**
 * Migrating one object to the target state (issue #18): plaintext → V2, legacy V1 → V2 under a fresh data key, V2
 * under another master key → re-wrapped (`transfer/rewrap.ts`), already under the target → skipped.
 *
 * Content re-encryption (plaintext, V1) cannot be a conditional PUT: OSS has none. It is VERIFY-THEN-COPY through a
 * staging object, so that a concurrent writer's object is never replaced by an older content:
 * 1. HEAD the original: ETag E, headers, storage class, tag count.
 * 2. GetObjectTagging when it has tags.
 * 3. GET the original with `If-Match: E` as a stream (decrypted when V1), encrypt it under the target key with a
 *    fresh data key through the library's own put path (PutObject, or a multipart upload from `multipartThreshold`)
 *    into the staging object `<stagingPrefix><sha256hex(key)>`, with the original's Content-Type and standard
 *    headers, user metadata (without the old envelope), storage class and tags. Memory stays flat: the content
 *    streams.
 * 4. HEAD the original with `If-Match: E`. 412 or 404: someone changed or removed it; the staging object is deleted
 *    and the result is ERR_CSE_CONCURRENT_MODIFICATION. Nothing of the other writer's is touched.
 * 5. CopyObject staging → original (metadata and tags copied, storage class and server-side encryption explicit,
 *    as CopyObject takes them from the request; conditional on the staging object's ETag).
 * 6. HEAD the original: its envelope, length and CRC-64 are the staging object's.
 * 7. DELETE the staging object.
 *
 * The remaining race: a write to the original between steps 4 and 5 (one round trip) is overwritten. On a bucket
 * with versioning every version is kept, the overwritten one included. OSS's CopyObject takes sources up to 1 GiB;
 * larger objects need the bucket to accept it (the embedded server does; real OSS answers an error, and the object
 * is reported failed with nothing changed). Archive-class objects fail with OSS's error (they are not restored).
 *
 * The staging name is deterministic, so a worker restarted after a kill overwrites its own leftover, and its hash
 * prefix is the key's shard (`shardOfKey`), so `migratePrefix` can remove the leftovers of its own shard.
 *
 * @packageDocumentation
 */

import { createHash } from 'node:crypto';
import { CseError, ErrorCode, TransferError } from '../errors.js';
import { cryptoHeaderNames, detectEnvelopeVersion, isCryptoHeader, pickCryptoHeaders } from '../format/envelope.js';
import { OssHeader } from '../format/headers.js';
import type { KeyRing } from '../keys/key-ring.js';
import type { MasterKey } from '../keys/master-key.js';
import { throwIfAborted } from '../transfer/abort.js';
import { MaterialCache, type MultipartObjectStore } from '../transfer/multipart.js';
import { multipartUpload } from '../transfer/multipart-upload.js';
import { readObject } from '../transfer/read.js';
import { DEFAULT_RETRY_POLICY, withRetries } from '../transfer/retry.js';
import { carriedHeaders, rewrapObject, type RewrapObjectResult } from '../transfer/rewrap.js';
import type { CallOptions, ObjectLocation, ObjectStore, ResponseHeaders, StoreResponse } from '../transfer/store.js';
import { writeEncrypted } from '../transfer/write.js';
import {
  DEFAULT_MIGRATE_MULTIPART_THRESHOLD,
  DEFAULT_STAGING_PREFIX,
  type MigrateObjectResult,
  type MigrateOptions,
  type MigrationFrom,
  type MigrationKeyInfo,
  type MigrationKind,
  type MigrationMethod,
  type MigrationOnly,
} from './migrate-types.js';

/** {@link MigrateOptions} with what the client fills in: the target and the keys that open the objects. */
export interface MigrateObjectOptions extends Omit<MigrateOptions, 'to' | 'bucket'> {
  /** The target master key. */
  readonly to: MasterKey;
  /** The keys that open the objects' current envelopes. */
  readonly keys: KeyRing;
  /**
   * A 404 on the first HEAD is a skip (`not-found`), not a failure: the key came from a listing or an inventory and
   * the object has been deleted since (`migratePrefix` sets it, after making sure the bucket itself exists).
   */
  readonly missingIsSkipped?: boolean;
}

const OBJECT_TYPE = 'x-oss-object-type';
const STORAGE_CLASS = 'x-oss-storage-class';
const TAGGING_COUNT = 'x-oss-tagging-count';
const LAST_MODIFIED = 'last-modified';
const COPY_SOURCE_IF_MATCH = 'x-oss-copy-source-if-match';
/**
 * Server-side encryption is a property CopyObject takes from its request, never from the source: without these the
 * migrated object would lose its SSE (or get the bucket's default), whatever the staging object had.
 */
const SSE_HEADERS = ['x-oss-server-side-encryption', 'x-oss-server-side-encryption-key-id', 'x-oss-server-side-data-encryption'] as const;
/** Storage classes whose objects must be restored before CopyObject can read them (lower-case). */
const COLD_CLASSES: ReadonlySet<string> = new Set(['archive', 'coldarchive', 'deepcoldarchive']);
const MIGRATABLE_TYPES: ReadonlySet<string> = new Set(['normal', 'multipart', 'appendable']);
const V2_NAMES: ReadonlySet<string> = new Set(cryptoHeaderNames('v2'));

/** The staging object of `key`: `<stagingPrefix><sha256hex(key)>`. */
export function stagingKey(key: string, stagingPrefix: string = DEFAULT_STAGING_PREFIX): string {
  return stagingPrefix + createHash('sha256').update(key, 'utf8').digest('hex');
}

/**
 * The shard a staging object belongs to: its name ends in the SHA-256 of the original key, whose first 6 bytes are
 * what `shardOfKey` reduces. Undefined for a name that is not a staging name.
 */
export function shardOfStagingKey(name: string, stagingPrefix: string, count: number): number | undefined {
  if (!name.startsWith(stagingPrefix)) return undefined;
  const hex = name.slice(stagingPrefix.length);
  if (!/^[0-9a-f]{64}$/.test(hex)) return undefined;
  return Number(BigInt(`0x${hex.slice(0, 12)}`) % BigInt(count));
}

/**
 * Checks a staging prefix: non-empty, no leading '/', and it must not be a prefix of ordinary keys by accident.
 * @throws CseError ERR_CSE_INVALID_ARGUMENT
 */
export function checkStagingPrefix(prefix: string | undefined): string {
  const value = prefix ?? DEFAULT_STAGING_PREFIX;
  if (typeof value !== 'string' || value === '' || value.startsWith('/')) {
    throw new CseError(ErrorCode.INVALID_ARGUMENT, `stagingPrefix must be a non-empty key prefix without a leading '/', got ${JSON.stringify(value)}`);
  }
  return value;
}

function describe(location: ObjectLocation): string {
  return `oss://${location.bucket}/${location.key}`;
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function keyInfo(key: MasterKey): MigrationKeyInfo {
  return { key: key.name, matdesc: key.description };
}

function sizeOf(headers: ResponseHeaders): number | undefined {
  const text = headers[OssHeader.CONTENT_LENGTH];
  const n = Number(text);
  return text !== undefined && /^[0-9]+$/.test(text) && Number.isSafeInteger(n) ? n : undefined;
}

function isStatus(e: unknown, ...statuses: number[]): e is TransferError {
  return e instanceof TransferError && e.status !== undefined && statuses.includes(e.status);
}

function concurrent(location: ObjectLocation, when: string, cause: unknown): CseError {
  return new CseError(
    ErrorCode.CONCURRENT_MODIFICATION,
    `${describe(location)} was changed or removed by another writer ${when}; it was left as that writer made it ` +
      '(run the migration again to migrate the new content)',
    { object: location.key, retryable: false, cause },
  );
}

function stagingTaken(location: ObjectLocation, staging: ObjectLocation, cause: unknown): CseError {
  return new CseError(
    ErrorCode.CONCURRENT_MODIFICATION,
    `${describe(location)} was not migrated: its staging object ${describe(staging)} was replaced or removed by another ` +
      'migration (one given the same key, or the clean-up of another run with the same staging prefix); the original ' +
      'was left as it was (give each key to one worker, and each concurrent run its own staging prefix)',
    { object: location.key, retryable: false, cause },
  );
}

/**
 * The headers a metadata-only change of the object alters without changing its ETag: Last-Modified, the tag count,
 * and everything the staging object takes from the first HEAD (user metadata, standard headers, storage class, SSE).
 */
function changedHeaders(first: ResponseHeaders, now: ResponseHeaders): string[] {
  const a = carriedHeaders(first);
  const b = carriedHeaders(now);
  const names = new Set([...Object.keys(a), ...Object.keys(b)]);
  const changed = [...names].filter((n) => a[n] !== b[n]);
  for (const name of [LAST_MODIFIED, TAGGING_COUNT]) {
    if (first[name] !== now[name]) changed.push(name);
  }
  return changed.sort();
}

/** What an object was found to be, kept with a failure thrown after its HEAD classified it. */
export type FailureContext = Pick<MigrateObjectResult, 'from' | 'kind' | 'size' | 'etag'>;

const failureContexts = new WeakMap<object, FailureContext>();

/**
 * The classification of the object a failure of {@link migrateObject} belongs to, when its HEAD got that far:
 * `migratePrefix` reports a failed object as what it was (`from`, `kind`, `size`), not as unknown.
 */
export function failureContextOf(e: unknown): FailureContext | undefined {
  return typeof e === 'object' && e !== null ? failureContexts.get(e) : undefined;
}

async function withContext<T>(work: Promise<T>, context: FailureContext): Promise<T> {
  try {
    return await work;
  } catch (e) {
    if (typeof e === 'object' && e !== null && !failureContexts.has(e)) failureContexts.set(e, context);
    throw e;
  }
}

/** A failure as a CseError (store and programming errors arrive as other errors). */
export function asCseError(e: unknown, object: string): CseError {
  return e instanceof CseError ? e : new CseError(ErrorCode.TRANSFER, messageOf(e), { object, cause: e });
}

/** The `x-oss-tagging` value of a tag set (URL-encoded pairs, as PutObject takes them). */
export function encodeTagging(tags: Readonly<Record<string, string>>): string {
  return Object.entries(tags)
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
    .join('&');
}

/** What to do with an object, from its HEAD alone (V2 objects need the keys: see {@link classifyV2}). */
interface Classified {
  readonly from: MigrationFrom;
  readonly kind: MigrationKind;
  readonly skip?: { readonly reason: 'folder-marker' | 'unsupported-type'; readonly text: string };
}

function classifyHead(key: string, headers: ResponseHeaders): Classified {
  const type = (headers[OBJECT_TYPE] ?? 'Normal').toLowerCase();
  if (!MIGRATABLE_TYPES.has(type)) {
    return { from: 'unknown', kind: 'none', skip: { reason: 'unsupported-type', text: `a ${headers[OBJECT_TYPE] ?? '?'} object is not migrated` } };
  }
  const version = detectEnvelopeVersion(headers, { object: key });
  if (version === null) {
    if (key.endsWith('/') && sizeOf(headers) === 0) {
      return { from: 'plaintext', kind: 'none', skip: { reason: 'folder-marker', text: 'a folder marker (0 bytes, key ending in /)' } };
    }
    return { from: 'plaintext', kind: 'plaintext' };
  }
  if (version === 'v2') return { from: 'v2', kind: 'rewrap' };
  return { from: version, kind: 'v1' };
}

function onlySet(only: readonly MigrationOnly[] | undefined): ReadonlySet<MigrationOnly> | undefined {
  if (only === undefined) return undefined;
  for (const value of only as readonly unknown[]) {
    if (value !== 'plaintext' && value !== 'v1' && value !== 'rewrap') {
      throw new CseError(ErrorCode.INVALID_ARGUMENT, `only: expected plaintext, v1 or rewrap, got ${JSON.stringify(value)}`);
    }
  }
  return new Set(only);
}

/**
 * Migrates one object (see the module documentation for the steps). Failures of the object itself are thrown;
 * `migratePrefix` turns them into `failed` results.
 *
 * @param store - the object store
 * @param location - the object
 * @param options - target key, old keys, legacy policy, only, dry run, staging prefix, thresholds, signal
 * @returns `migrated` (in a dry run: would be) or `skipped` with the reason
 * @throws CseError ERR_CSE_LEGACY_NOT_ALLOWED (a V1/guide object without allowLegacy), ERR_CSE_CONCURRENT_MODIFICATION
 *   (the object changed while it was migrated; nothing of the other writer's was overwritten), ERR_CSE_INTEGRITY
 *   (the stored result differs from what was written), ERR_CSE_NO_MATCHING_KEY, ERR_CSE_ENVELOPE_*,
 *   ERR_CSE_INVALID_ARGUMENT (options), ERR_CSE_UNSUPPORTED_OPERATION (tags or multipart on a store without them),
 *   ERR_CSE_KEY_UNUSABLE, ERR_CSE_KMS, ERR_CSE_ABORTED; TransferError (404, an archived object, …)
 */
export async function migrateObject(store: ObjectStore, location: ObjectLocation, options: MigrateObjectOptions): Promise<MigrateObjectResult> {
  const object = location.key;
  const what = `migration of ${describe(location)}`;
  const dryRun = options.dryRun === true;
  const only = onlySet(options.only);
  const stagingPrefix = checkStagingPrefix(options.stagingPrefix);
  if (object.startsWith(stagingPrefix)) {
    throw new CseError(ErrorCode.INVALID_ARGUMENT, `${describe(location)} is under the staging prefix ${stagingPrefix}: it is not migrated`, { object });
  }
  const call: CallOptions = { signal: options.signal, timeout: options.timeout };
  throwIfAborted(options.signal, what);

  let head: StoreResponse;
  try {
    head = await withRetries(async () => store.head(location, { headers: {} }, call), DEFAULT_RETRY_POLICY, options.signal, what);
  } catch (e) {
    if (options.missingIsSkipped === true && isStatus(e, 404)) {
      return { key: object, dryRun, size: undefined, bytes: 0, from: 'unknown', kind: 'none', result: 'skipped', skipped: 'not-found', reason: 'no such object (deleted after it was listed)' };
    }
    throw e;
  }
  const size = sizeOf(head.headers);
  const etag = head.headers[OssHeader.ETAG];
  const base = { key: object, dryRun, size, bytes: 0, ...(etag === undefined ? {} : { etag }) };
  const found = classifyHead(object, head.headers);
  if (found.skip !== undefined) {
    return { ...base, from: found.from, kind: found.kind, result: 'skipped', skipped: found.skip.reason, reason: found.skip.text };
  }
  if (found.kind === 'rewrap') return withContext(migrateV2(store, location, options, only, base), { ...base, from: 'v2', kind: 'rewrap' });
  const kind = found.kind as MigrationOnly;
  return withContext(migrateContent(store, location, options, only, base, found.from, kind, head, stagingPrefix, call, what), { ...base, from: found.from, kind });
}

/** A plaintext or legacy object: re-encrypted through the staging object (steps 2–7). */
async function migrateContent(
  store: ObjectStore,
  location: ObjectLocation,
  options: MigrateObjectOptions,
  only: ReadonlySet<MigrationOnly> | undefined,
  base: Base,
  from: MigrationFrom,
  kind: MigrationOnly,
  head: StoreResponse,
  stagingPrefix: string,
  call: CallOptions,
  what: string,
): Promise<MigrateObjectResult> {
  const object = location.key;
  const dryRun = options.dryRun === true;
  if (only !== undefined && !only.has(kind)) {
    return { ...base, from, kind, result: 'skipped', skipped: 'excluded', reason: `${kind} objects are not selected (only)` };
  }
  if (kind === 'v1' && options.allowLegacy !== true) {
    throw new CseError(
      ErrorCode.LEGACY_NOT_ALLOWED,
      `${describe(location)} uses the legacy ${from === 'guide' ? 'guide' : 'V1 (oss2 ≤ 2.10)'} format: migrate it with allowLegacy (CLI: --allow-legacy)`,
      { object },
    );
  }
  if (dryRun) return { ...base, from, kind, result: 'migrated', to: keyInfo(options.to) };
  const done = await reencrypt(store, location, head, options, stagingPrefix, call, what);
  return { ...base, from, kind, result: 'migrated', to: keyInfo(options.to), bytes: done.bytes, method: done.method, ...(done.etag === undefined ? {} : { etag: done.etag }) };
}

type Base = Pick<MigrateObjectResult, 'key' | 'dryRun' | 'size' | 'bytes' | 'etag'>;

/** A V2 object: already under the target, or re-wrapped by `rewrapObject`. */
async function migrateV2(
  store: ObjectStore,
  location: ObjectLocation,
  options: MigrateObjectOptions,
  only: ReadonlySet<MigrationOnly> | undefined,
  base: Base,
): Promise<MigrateObjectResult> {
  const excluded = only !== undefined && !only.has('rewrap');
  const rewrapOptions = { to: options.to, keys: options.keys, signal: options.signal, timeout: options.timeout };
  let r: RewrapObjectResult;
  try {
    // With rewrap excluded a dry rewrap still tells "already under the target" from "would be re-wrapped".
    r = await rewrapObject(store, location, { ...rewrapOptions, dryRun: options.dryRun === true || excluded });
  } catch (e) {
    if (isStatus(e, 412)) throw concurrent(location, 'during its rewrap', e);
    // No key opens it, the target included: it is not under the target, so it is a rewrap, which `only` excludes.
    if (excluded && e instanceof CseError && e.cseCode === ErrorCode.NO_MATCHING_KEY) {
      return { ...base, from: 'v2', kind: 'rewrap', result: 'skipped', skipped: 'excluded', reason: 'rewrap objects are not selected (only); no key given opens it' };
    }
    throw e;
  }
  if (r.status === 'skipped') {
    return { ...base, from: r.skipped === 'not-encrypted' ? 'plaintext' : 'v2', kind: 'target', result: 'skipped', skipped: 'already-migrated', reason: r.reason ?? 'already under the target key' };
  }
  if (excluded) return { ...base, from: 'v2', kind: 'rewrap', result: 'skipped', skipped: 'excluded', reason: 'rewrap objects are not selected (only)' };
  if (r.dryRun) return { ...base, from: 'v2', kind: 'rewrap', result: 'migrated', to: keyInfo(options.to) };
  const after = await store.head(location, { headers: {} }, { signal: options.signal, timeout: options.timeout }).catch(() => undefined);
  const etag = after?.headers[OssHeader.ETAG];
  return { ...base, from: 'v2', kind: 'rewrap', result: 'migrated', to: keyInfo(options.to), method: 'rewrap', ...(etag === undefined ? {} : { etag }) };
}

/** The headers the staging object is written with: the original's, without any old envelope (a cold class: Standard). */
function stagingHeaders(head: StoreResponse, tags: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(carriedHeaders(head.headers))) {
    if (!isCryptoHeader(name)) out[name] = value;
  }
  const tagging = encodeTagging(tags);
  if (tagging !== '') out['x-oss-tagging'] = tagging;
  // A cold class (a restored Archive original) would make the staging object an unrestored one, which CopyObject
  // refuses: it is staged in Standard and the copy gives the original its class back (step 5). Other classes are
  // kept, so that the copy changes no storage class (OSS then copies objects above 5 GB within a bucket).
  const storageClass = out[STORAGE_CLASS];
  if (storageClass !== undefined && COLD_CLASSES.has(storageClass.toLowerCase())) out[STORAGE_CLASS] = 'Standard';
  return out;
}

async function tagsOf(store: ObjectStore, location: ObjectLocation, head: StoreResponse, call: CallOptions): Promise<Readonly<Record<string, string>>> {
  const count = Number(head.headers[TAGGING_COUNT] ?? '0');
  if (!(count > 0)) return {};
  if (store.getTagging === undefined) {
    throw new CseError(ErrorCode.UNSUPPORTED_OPERATION, `${describe(location)} has tags and this store cannot read them (getTagging): not migrated, so that its tags are not lost`, {
      object: location.key,
    });
  }
  const getTagging = store.getTagging.bind(store);
  return withRetries(async () => getTagging(location, call), DEFAULT_RETRY_POLICY, call.signal, `GetObjectTagging ${describe(location)}`);
}

function multipartStoreOf(store: ObjectStore, location: ObjectLocation): MultipartObjectStore {
  const s = store as Partial<MultipartObjectStore>;
  if (typeof s.initiateMultipartUpload !== 'function' || typeof s.uploadPart !== 'function' || typeof s.completeMultipartUpload !== 'function') {
    throw new CseError(ErrorCode.UNSUPPORTED_OPERATION, `${describe(location)} is above the multipart threshold and this store has no multipart operations`, {
      object: location.key,
    });
  }
  return store as MultipartObjectStore;
}

async function bestEffortDelete(store: ObjectStore, location: ObjectLocation): Promise<void> {
  // Without the caller's signal: a cancelled run still removes what it staged.
  await store.delete(location).catch(() => undefined);
}

/** Steps 2–7 of the module documentation. */
async function reencrypt(
  store: ObjectStore,
  location: ObjectLocation,
  head: StoreResponse,
  options: MigrateObjectOptions,
  stagingPrefix: string,
  call: CallOptions,
  what: string,
): Promise<{ bytes: number; method: MigrationMethod; etag: string | undefined }> {
  const etag = head.headers[OssHeader.ETAG];
  if (etag === undefined) throw new TransferError(`${what}: the HEAD answer has no ETag; the migration needs one to guard against concurrent writers`, { object: location.key });
  const tags = await tagsOf(store, location, head, call);
  const headers = stagingHeaders(head, tags);
  const staging: ObjectLocation = { bucket: location.bucket, key: stagingKey(location.key, stagingPrefix) };
  const threshold = options.multipartThreshold ?? DEFAULT_MIGRATE_MULTIPART_THRESHOLD;
  if (!Number.isSafeInteger(threshold) || threshold < 1) {
    throw new CseError(ErrorCode.INVALID_ARGUMENT, `multipartThreshold must be a positive integer, got ${String(threshold)}`);
  }

  let read;
  try {
    read = await readObject(store, location, { keys: options.keys, allowLegacy: true, requireEncrypted: false, headers: { 'If-Match': etag }, ...call });
  } catch (e) {
    if (isStatus(e, 412, 404)) throw concurrent(location, 'before it was read', e);
    throw e;
  }
  // A whole-object answer without Content-Length (chunked framing through a proxy) has no total: the HEAD's size is
  // then the declared length, which the encryption path checks the body against.
  const size = read.total ?? sizeOf(head.headers);
  if (size === undefined) {
    read.cancel();
    throw new TransferError(`${what}: neither the HEAD nor the GET answer gives the object's size`, { object: location.key });
  }
  const plainMd5 = read.encrypted ? undefined : head.headers['content-md5'];
  let method: MigrationMethod;
  let stagingEtag: string | undefined;
  try {
    if (size >= threshold) {
      method = 'multipart';
      const done = await multipartUpload(multipartStoreOf(store, location), staging, { kind: 'stream', stream: read.body, length: size }, {
        masterKey: options.to,
        keys: options.keys,
        cache: new MaterialCache(),
        headers,
        // One part in flight per object: migratePrefix already runs objects in parallel, and memory stays at one
        // part buffer per object.
        parallel: 1,
        ...(options.partSize === undefined ? {} : { partSize: options.partSize }),
        ...call,
      });
      stagingEtag = done.etag;
    } else {
      method = 'put';
      const done = await writeEncrypted(store, staging, { kind: 'stream', stream: read.body, length: size }, {
        masterKey: options.to,
        headers,
        ...(plainMd5 === undefined ? {} : { plaintextMd5: plainMd5 }),
        ...call,
      });
      stagingEtag = done.response.headers[OssHeader.ETAG];
    }
  } catch (e) {
    read.cancel();
    await bestEffortDelete(store, staging);
    if (isStatus(e, 412)) throw concurrent(location, 'while it was read', e);
    throw e;
  }

  // Step 4: the guard. From here to the copy is the one remaining race window (see the module documentation).
  let guard: StoreResponse;
  try {
    guard = await store.head(location, { headers: { 'If-Match': etag } }, call);
  } catch (e) {
    await bestEffortDelete(store, staging);
    if (isStatus(e, 412, 404)) throw concurrent(location, 'while its new content was written', e);
    throw e;
  }
  // A metadata-only change (a same-key REPLACE copy) keeps the ETag: the headers the copy would overwrite are
  // compared too, so that another writer's new metadata is not replaced by the old one.
  const changed = changedHeaders(head.headers, guard.headers);
  if (changed.length > 0) {
    await bestEffortDelete(store, staging);
    throw concurrent(location, `while its new content was written (${changed.join(', ')} changed; same ETag)`, undefined);
  }
  let stagedHead: StoreResponse;
  try {
    stagedHead = await store.head(staging, { headers: {} }, call);
  } catch (e) {
    // 404: another worker's clean-up removed it; nothing of the original was touched.
    if (isStatus(e, 404)) throw stagingTaken(location, staging, e);
    await bestEffortDelete(store, staging);
    throw e;
  }
  stagingEtag ??= stagedHead.headers[OssHeader.ETAG];
  const storageClass = head.headers[STORAGE_CLASS];
  const copyHeaders: Record<string, string> = {
    [OssHeader.METADATA_DIRECTIVE]: 'COPY',
    'x-oss-tagging-directive': 'Copy',
    ...(storageClass === undefined ? {} : { [STORAGE_CLASS]: storageClass }),
    ...(stagingEtag === undefined ? {} : { [COPY_SOURCE_IF_MATCH]: stagingEtag }),
  };
  for (const name of SSE_HEADERS) {
    const value = head.headers[name];
    if (value !== undefined) copyHeaders[name] = value;
  }
  try {
    await store.copy(location, staging, { headers: copyHeaders }, call);
  } catch (e) {
    // 412 (the staging object is not the one written here) or 404 (it is gone): another worker given the same key
    // owns that name now; its staging object is left to it, and the original was not written.
    if (isStatus(e, 412, 404)) throw stagingTaken(location, staging, e);
    await bestEffortDelete(store, staging);
    throw e;
  }

  // Step 6: the original now holds exactly the staged object.
  let after: StoreResponse;
  try {
    after = await withRetries(async () => store.head(location, { headers: {} }, call), DEFAULT_RETRY_POLICY, options.signal, what);
  } catch (e) {
    // The copy is done: the staging object has served its purpose whatever this HEAD says (an abort included).
    await bestEffortDelete(store, staging);
    throw e;
  }
  const problems = compareStored(stagedHead.headers, after.headers);
  if (problems.length > 0) {
    throw new CseError(
      ErrorCode.INTEGRITY,
      `${what}: after the copy the object differs from its staged new content (${problems.join(', ')}); the staged ` +
        `object ${describe(staging)} is kept for inspection`,
      { object: location.key },
    );
  }
  // The object is migrated: a failed (or cancelled) removal of its staging object must not report it failed; a
  // leftover is removed by the next run of its shard.
  await withRetries(async () => store.delete(staging, { timeout: call.timeout }), DEFAULT_RETRY_POLICY, undefined, `DELETE ${describe(staging)}`).catch(() => undefined);
  return { bytes: size, method, etag: after.headers[OssHeader.ETAG] };
}

/** The differences between the staged object and the original after the copy that matter: envelope, length, CRC. */
function compareStored(staged: ResponseHeaders, after: ResponseHeaders): string[] {
  const problems: string[] = [];
  const a = Object.fromEntries(Object.entries(pickCryptoHeaders(staged)).filter(([n]) => V2_NAMES.has(n)));
  const b = Object.fromEntries(Object.entries(pickCryptoHeaders(after)).filter(([n]) => V2_NAMES.has(n)));
  const names = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const name of names) if (a[name] !== b[name]) problems.push(name);
  for (const name of [OssHeader.CONTENT_LENGTH, OssHeader.CRC64]) {
    if (staged[name] !== undefined && after[name] !== undefined && staged[name] !== after[name]) problems.push(name);
  }
  return problems;
}
