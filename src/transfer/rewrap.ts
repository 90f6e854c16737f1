/**
 * Key rotation without moving data: re-wrap an object's data key and IV under another master key by rewriting only
 * its metadata, with a same-key CopyObject (`x-oss-metadata-directive: REPLACE`). The ciphertext is never downloaded
 * or uploaded: one HEAD, one CopyObject and one verification HEAD per object (issue 7 §3; FORMAT.md "Key rotation").
 *
 * Per object ({@link rewrapObject}):
 * 1. HEAD. No crypto headers → skipped (`not-encrypted`). A legacy (V1, guide) envelope → refused: rewrap writes V2
 *    only, and converting the format is not a key rotation.
 * 2. Already under the target key (same key, same material description as a map) → skipped (`already-under-target`).
 *    This is what makes a prefix run safe to repeat after an interruption.
 * 3. Unwrap with the old keys (the key ring), wrap the same data key and IV with the target key, and (when the target
 *    can unwrap) unwrap the new envelope in memory and compare, before anything is written.
 * 4. CopyObject onto itself with REPLACE and `x-oss-copy-source-if-match: <ETag of step 1>`, so that an object
 *    replaced in between is not given an envelope for another data key; every other header is carried over (user
 *    metadata, Content-Type and the standard headers, storage class, server-side encryption, the `unencrypted-*` and
 *    multipart size headers).
 * 5. Verification HEAD (`If-Match` the copy's ETag): the stored crypto headers equal what was written, the content is
 *    unchanged (length, CRC-64), user metadata and Content-Type are unchanged, and the target key unwraps the stored
 *    envelope to the old data key and IV. If the envelope check fails the old envelope is written back.
 *
 * Data keys and IVs are never logged and are zeroed after use.
 *
 * @packageDocumentation
 */

import { CseError, ErrorCode, NoMatchingKeyError, TransferError } from '../errors.js';
import { cryptoHeaderNames, detectEnvelopeVersion, encodeEnvelope, parseEnvelope, pickCryptoHeaders, schemeOfWrapAlgorithm } from '../format/envelope.js';
import { OssHeader, USER_META_PREFIX } from '../format/headers.js';
import { encodeMatDesc, matDescEquals } from '../format/matdesc.js';
import type { ContentMaterial, Envelope, MatDesc } from '../format/types.js';
import { kindOfScheme, type KeyRing } from '../keys/key-ring.js';
import type { MasterKey } from '../keys/master-key.js';
import { abortedError, throwIfAborted } from './abort.js';
import { checkParallel, DEFAULT_RETRY_POLICY, withRetries } from './retry.js';
import type { CallOptions, ListedObject, ObjectLocation, ObjectStore, ResponseHeaders, StoreResponse } from './store.js';

/** Objects rewrapped at once by {@link rewrapPrefix} unless `parallel` says otherwise. */
export const DEFAULT_REWRAP_PARALLEL = 4;

/** Standard headers a REPLACE copy would otherwise reset: carried over from the HEAD. */
const CARRIED_STANDARD_HEADERS = [
  'content-type',
  'content-encoding',
  'content-disposition',
  'content-language',
  'cache-control',
  'expires',
] as const;

/**
 * OSS headers a REPLACE copy takes from the request (CopyObject): without them the object would move to the bucket's
 * default storage class and server-side encryption.
 */
const CARRIED_OSS_HEADERS = [
  'x-oss-storage-class',
  'x-oss-server-side-encryption',
  'x-oss-server-side-encryption-key-id',
  'x-oss-server-side-data-encryption',
] as const;

const COPY_SOURCE_IF_MATCH = 'x-oss-copy-source-if-match';
const V2_NAMES: ReadonlySet<string> = new Set(cryptoHeaderNames('v2'));

/** Why an object was skipped. */
export type RewrapSkipReason = 'not-encrypted' | 'already-under-target';

/** How a rewrap was verified. */
export type RewrapVerification =
  /** The target key unwrapped the stored envelope to the object's data key and IV. */
  | 'unwrap'
  /**
   * The target key cannot unwrap (an RSA public key without its private half): the stored crypto headers were checked
   * to equal the ones written, nothing more.
   */
  | 'headers';

/** A key's public facts in a rewrap result (never key material). */
export interface RewrapKeyInfo {
  /** The master key's display name. */
  readonly key: string;
  /** The material description: for `from`, the one the object stored; for `to`, the one written. */
  readonly matdesc: MatDesc;
  /** The wrap algorithm (unknown for the target of a dry run). */
  readonly wrapAlgorithm: string | undefined;
}

/** The outcome of one object's rewrap. */
export interface RewrapObjectResult {
  /** Object key. */
  readonly name: string;
  /** `rewrapped` (or, in a dry run, would be), `skipped` or `failed` (only in {@link EncryptionClient.rewrapPrefix} results). */
  readonly status: 'rewrapped' | 'skipped' | 'failed';
  /** True when nothing was written (dry run). */
  readonly dryRun: boolean;
  /** Why it was skipped. */
  readonly skipped?: RewrapSkipReason;
  /**
   * True for `already-under-target` decided without unwrapping: the target key cannot unwrap (public key only), the
   * object's material description equals the target's and none of the old keys opens it.
   */
  readonly presumed?: boolean;
  /** The key the object was under (when known). */
  readonly from?: RewrapKeyInfo;
  /** The key it is now under. */
  readonly to?: RewrapKeyInfo;
  /** How the rewrap was verified (rewrapped objects, not in a dry run). */
  readonly verified?: RewrapVerification;
  /** The error (failed objects). */
  readonly error?: CseError;
  /** A one-line reason for skipped and failed objects. */
  readonly reason?: string;
}

/** Options of `EncryptionClient.rewrap`. */
export interface RewrapOptions extends CallOptions {
  /** The new master key; its `description` becomes the object's material description. */
  readonly to: MasterKey;
  /** Decide and report, but write nothing (no CopyObject, no KMS Encrypt). */
  readonly dryRun?: boolean;
  /** The bucket (default: the client's); used by `EncryptionClient` only. */
  readonly bucket?: string;
}

/** Options of `EncryptionClient.rewrapPrefix`. */
export interface RewrapPrefixOptions extends RewrapOptions {
  /** Objects handled at once, 1–64 (default 4). */
  readonly parallel?: number;
  /** Called once per object, in completion order (progress and reporting). */
  readonly onObject?: (result: RewrapObjectResult) => void;
}

/** Options of {@link EncryptionClient.rewrap}: {@link RewrapOptions} plus the old keys. */
export interface RewrapObjectOptions extends RewrapOptions {
  /** The keys that open the objects' current envelopes (the target may be among them). */
  readonly keys: KeyRing;
}

/** The summary of {@link EncryptionClient.rewrapPrefix}. */
export interface RewrapPrefixResult {
  /** Objects handled (rewrapped + skipped + failed). */
  readonly total: number;
  /** Objects rewrapped (in a dry run: that would be). */
  readonly rewrapped: number;
  /** Objects skipped (unencrypted, or already under the target key). */
  readonly skipped: number;
  /** Objects that failed; the `failures` say why. */
  readonly failed: number;
  /** Every failed object with its error. */
  readonly failures: readonly RewrapObjectResult[];
  /** True for a dry run. */
  readonly dryRun: boolean;
}

function describe(location: ObjectLocation): string {
  return `oss://${location.bucket}/${location.key}`;
}

/** True unless the key says it cannot unwrap (an RSA public key). */
function canUnwrap(key: MasterKey): boolean {
  return key.canUnwrap !== false;
}

/**
 * Whether two keys are the same key: the same object, or RSA keys of the same public key. KMS keys are not compared
 * by id here: the same CMK under another encryption context is another key; the target's own unwrap decides.
 */
function sameKey(a: MasterKey, b: MasterKey): boolean {
  if (a === b) return true;
  if (a.kind !== 'rsa' || b.kind !== 'rsa') return false;
  const fa = (a as { readonly fingerprint?: unknown }).fingerprint;
  const fb = (b as { readonly fingerprint?: unknown }).fingerprint;
  return typeof fa === 'string' && fa !== '' && fa === fb;
}

function sameMaterial(a: ContentMaterial, b: ContentMaterial): boolean {
  return Buffer.from(a.key).equals(Buffer.from(b.key)) && Buffer.from(a.iv).equals(Buffer.from(b.iv));
}

function zero(material: ContentMaterial | null | undefined): void {
  material?.key.fill(0);
  material?.iv.fill(0);
}

/**
 * `matdesc` is what the object stores when given (the "from" side: the key that opened it may carry another
 * description, e.g. under the fallback policy), else the key's own (the "to" side: what is written).
 */
function keyInfo(key: MasterKey, wrapAlgorithm: string | undefined, stored?: MatDesc): RewrapKeyInfo {
  return { key: key.name, matdesc: stored ?? key.description, wrapAlgorithm };
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * The non-crypto headers a REPLACE copy must resend to keep the object as it is: user metadata (every
 * `x-oss-meta-*` that is not a header of the V2 envelope), the standard headers, storage class and server-side
 * encryption.
 */
export function carriedHeaders(headers: ResponseHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    if (lower.startsWith(USER_META_PREFIX) && !V2_NAMES.has(lower)) out[lower] = value;
  }
  for (const name of [...CARRIED_STANDARD_HEADERS, ...CARRIED_OSS_HEADERS]) {
    const value = headers[name];
    if (value !== undefined) out[name] = value;
  }
  return out;
}

/** The object's new envelope: the old one with the target's wrapped values, wrap algorithm and description. */
function rewrappedEnvelope(old: Envelope, wrapped: { wrapAlgorithm: string; wrappedKey: string; wrappedStart: string }, matdesc: MatDesc): Envelope {
  const empty = Object.keys(matdesc).length === 0;
  return {
    ...old,
    scheme: schemeOfWrapAlgorithm(wrapped.wrapAlgorithm, 'v2'),
    wrapAlgorithm: wrapped.wrapAlgorithm,
    wrappedKey: wrapped.wrappedKey,
    wrappedStart: wrapped.wrappedStart,
    matdesc: empty ? {} : { ...matdesc },
    matdescRaw: empty ? undefined : encodeMatDesc(matdesc),
  };
}

/**
 * The V2 envelope headers among `headers`. Headers named like another family's (e.g. `x-oss-meta-unencrypted-*`, a
 * V1 name) are user metadata on a V2 object: carried over, not compared as envelope.
 */
function v2CryptoHeaders(headers: ResponseHeaders, object: string): Record<string, string> {
  return Object.fromEntries(Object.entries(pickCryptoHeaders(headers, { object })).filter(([name]) => V2_NAMES.has(name)));
}

function sameRecord(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => b[k] === a[k]);
}

/** What is under the target key already, decided from the HEAD alone plus at most one unwrap per key. */
interface Opened {
  /** The key that opened the envelope (undefined when the object is presumed under a public-only target). */
  readonly key: MasterKey | undefined;
  /** The material; undefined when skipped. */
  readonly material: ContentMaterial | undefined;
  /** Set when the object is already under the target. */
  readonly skip: { readonly presumed: boolean } | undefined;
}

async function open(envelope: Envelope, options: RewrapObjectOptions, object: string): Promise<Opened> {
  const { to, keys } = options;
  // "Already under the target" needs the same material description (as a map) and the same key.
  const candidate = kindOfScheme(envelope.scheme) === to.kind && matDescEquals(envelope.matdesc, to.description);
  if (candidate && canUnwrap(to)) {
    let material: ContentMaterial | null = null;
    try {
      material = await to.unwrap(envelope, { object });
    } catch (e) {
      // A transient failure (KMS outage) cannot tell "not mine" from "mine": report it rather than guess.
      if (e instanceof CseError && e.retryable) throw e;
    }
    if (material !== null) {
      zero(material);
      return { key: to, material: undefined, skip: { presumed: false } };
    }
  }
  let opened;
  try {
    opened = await keys.unwrap(envelope, object);
  } catch (e) {
    // A public-only target cannot check its own envelopes: an object whose description is the target's and that no
    // old key opens is taken to be under the target already (a re-run after an interruption), and reported so.
    if (candidate && !canUnwrap(to) && e instanceof NoMatchingKeyError && !e.retryable) {
      return { key: undefined, material: undefined, skip: { presumed: true } };
    }
    throw e;
  }
  if (candidate && sameKey(opened.key, to)) {
    zero(opened.material);
    return { key: opened.key, material: undefined, skip: { presumed: false } };
  }
  return { key: opened.key, material: opened.material, skip: undefined };
}

/**
 * Re-wraps one object's data key under `options.to` (see the module documentation for the steps and checks).
 *
 * @param store - the object store
 * @param location - the object
 * @param options - target key, old keys, dry run, signal, timeout
 * @returns `rewrapped` (verified) or `skipped` with the reason
 * @throws NoMatchingKeyError ERR_CSE_NO_MATCHING_KEY when no old key opens the envelope; CseError
 *   ERR_CSE_UNSUPPORTED_OPERATION (legacy envelope), ERR_CSE_ENVELOPE_* (malformed envelope), ERR_CSE_KEY_UNUSABLE /
 *   ERR_CSE_KMS (the target cannot wrap), ERR_CSE_INTEGRITY (the new envelope does not unwrap to the same data key,
 *   or the stored object differs from what was written; the old envelope is restored when the envelope is at
 *   fault), ERR_CSE_ABORTED; TransferError (404 `NoSuchKey`; 412 when the object changed since it was read)
 */
export async function rewrapObject(store: ObjectStore, location: ObjectLocation, options: RewrapObjectOptions): Promise<RewrapObjectResult> {
  const object = location.key;
  const what = `rewrap of ${describe(location)}`;
  const call: CallOptions = { signal: options.signal, timeout: options.timeout };
  const dryRun = options.dryRun === true;
  throwIfAborted(options.signal, what);

  const head = await withRetries(async () => store.head(location, { headers: {} }, call), DEFAULT_RETRY_POLICY, options.signal, what);
  const version = detectEnvelopeVersion(head.headers, { object });
  if (version === null) {
    return { name: object, status: 'skipped', dryRun, skipped: 'not-encrypted', reason: 'not client-side encrypted' };
  }
  const envelope = parseEnvelope(head.headers, { object });
  if (version !== 'v2') {
    throw new CseError(
      ErrorCode.UNSUPPORTED_OPERATION,
      `the object uses the legacy ${version === 'v1' ? 'V1 (oss2 ≤ 2.10)' : 'hand-rolled guide'} format, which rewrap does not ` +
        'convert: read it with allowLegacy (CLI: --allow-legacy) and upload it again to move it to the current format',
      { object },
    );
  }
  const opened = await open(envelope, options, object);
  const from = opened.key === undefined ? undefined : keyInfo(opened.key, envelope.wrapAlgorithm, envelope.matdesc);
  if (opened.skip !== undefined) {
    return {
      name: object,
      status: 'skipped',
      dryRun,
      skipped: 'already-under-target',
      ...(opened.skip.presumed ? { presumed: true } : {}),
      ...(from === undefined ? {} : { from }),
      reason: opened.skip.presumed
        ? 'presumed already under the target key: its material description is the target\'s and no old key opens it ' +
          '(the target is a public key, so this was not verified)'
        : 'already under the target key',
    };
  }
  const material = opened.material;
  if (material === undefined) throw new CseError(ErrorCode.INVALID_ARGUMENT, 'internal: no material to rewrap', { object });
  try {
    if (dryRun) {
      return { name: object, status: 'rewrapped', dryRun, ...(from === undefined ? {} : { from }), to: keyInfo(options.to, undefined) };
    }
    const wrapped = await options.to.wrap(material);
    const next = rewrappedEnvelope(envelope, wrapped, options.to.description);
    const newCrypto = encodeEnvelope(next);
    const verification: RewrapVerification = canUnwrap(options.to) ? 'unwrap' : 'headers';
    // Before anything is written: the new envelope must give back this data key and IV.
    if (verification === 'unwrap') {
      const problem = await unwrapProblem(options.to, next, material, 'before writing it');
      if (problem !== undefined) throw integrityError(problem, object, '; nothing was written');
    }

    const carried = carriedHeaders(head.headers);
    const etag = head.headers[OssHeader.ETAG];
    const headers: Record<string, string> = {
      ...carried,
      ...newCrypto,
      [OssHeader.METADATA_DIRECTIVE]: 'REPLACE',
      ...(etag === undefined ? {} : { [COPY_SOURCE_IF_MATCH]: etag }),
    };
    let newEtag: string | undefined;
    try {
      newEtag = (await store.copy(location, location, { headers }, call)).etag;
    } catch (e) {
      if (e instanceof TransferError && e.status === 412) {
        throw new TransferError(`${what}: the object changed after it was read (ETag ${etag ?? '?'}); nothing was written, run again`, {
          status: 412,
          object,
          cause: e,
          ...(e.ossCode === undefined ? {} : { ossCode: e.ossCode }),
          ...(e.requestId === undefined ? {} : { requestId: e.requestId }),
        });
      }
      // A lost answer leaves the outcome unknown: look.
      if (!(e instanceof CseError && e.retryable) || options.signal?.aborted === true) throw e;
      const now = await store.head(location, { headers: {} }, call).catch(() => undefined);
      if (now === undefined || !sameRecord(v2CryptoHeaders(now.headers, object), newCrypto)) throw e;
    }

    const after = await withRetries(
      async () => store.head(location, { headers: newEtag === undefined ? {} : { 'If-Match': newEtag } }, call),
      DEFAULT_RETRY_POLICY,
      options.signal,
      what,
    );
    await verifyStored({ store, location, head, after, carried, newCrypto, material, options, call, verification });
    return {
      name: object,
      status: 'rewrapped',
      dryRun,
      ...(from === undefined ? {} : { from }),
      to: keyInfo(options.to, wrapped.wrapAlgorithm),
      verified: verification,
    };
  } finally {
    zero(material);
  }
}

/** Why a key does not give back `expected` from `envelope`; undefined when it does. */
interface UnwrapProblem {
  readonly message: string;
  readonly retryable: boolean;
  readonly cause?: unknown;
}

async function unwrapProblem(key: MasterKey, envelope: Envelope, expected: ContentMaterial, when: string): Promise<UnwrapProblem | undefined> {
  let got: ContentMaterial | null;
  try {
    // No object context here: the caller's error names the object once.
    got = await key.unwrap(envelope, {});
  } catch (e) {
    return {
      message: `the target key ${key.name} cannot unwrap the new envelope ${when}: ${messageOf(e)}`,
      retryable: e instanceof CseError && e.retryable,
      cause: e,
    };
  }
  const same = got !== null && sameMaterial(got, expected);
  zero(got);
  return same ? undefined : { message: `the target key ${key.name} does not unwrap the new envelope ${when} to the object's data key and IV`, retryable: false };
}

function integrityError(problem: UnwrapProblem, object: string, suffix = ''): CseError {
  return new CseError(ErrorCode.INTEGRITY, `${problem.message}${suffix}`, {
    object,
    retryable: problem.retryable,
    ...(problem.cause === undefined ? {} : { cause: problem.cause }),
  });
}

interface VerifyInput {
  readonly store: ObjectStore;
  readonly location: ObjectLocation;
  readonly head: StoreResponse;
  readonly after: StoreResponse;
  readonly carried: Readonly<Record<string, string>>;
  readonly newCrypto: Readonly<Record<string, string>>;
  readonly material: ContentMaterial;
  readonly options: RewrapObjectOptions;
  readonly call: CallOptions;
  readonly verification: RewrapVerification;
}

/** Step 5: the object as stored after the copy. Restores the old envelope when the new one is at fault. */
async function verifyStored(v: VerifyInput): Promise<void> {
  const object = v.location.key;
  const before = v.head.headers;
  const after = v.after.headers;
  // The content must be the one whose key was rewrapped.
  for (const name of [OssHeader.CONTENT_LENGTH, OssHeader.CRC64]) {
    if (before[name] !== undefined && after[name] !== undefined && before[name] !== after[name]) {
      throw new CseError(
        ErrorCode.INTEGRITY,
        `after the rewrap the object's ${name} is ${after[name]}, not ${before[name]}: it was replaced concurrently; check it`,
        { object },
      );
    }
  }
  let problem: UnwrapProblem | undefined;
  const stored = v2CryptoHeaders(after, object);
  if (!sameRecord(stored, v.newCrypto)) {
    const differing = [...new Set([...Object.keys(stored), ...Object.keys(v.newCrypto)])].filter((k) => stored[k] !== v.newCrypto[k]);
    problem = { message: `the stored envelope differs from the one written (${differing.join(', ')})`, retryable: false };
  } else if (v.verification === 'unwrap') {
    // From the HEAD's own headers (equal to those written, checked just above), as a reader would.
    problem = await unwrapProblem(v.options.to, parseEnvelope(after, { object }), v.material, 'as stored');
  }
  if (problem !== undefined) {
    const restored = await restore(v).then(
      () => 'the old envelope was written back',
      (e: unknown) => `writing the old envelope back failed too (${messageOf(e)}): the object may be unreadable, check it`,
    );
    throw integrityError(problem, object, `; ${restored}`);
  }
  const changed: string[] = [];
  for (const [name, value] of Object.entries(v.carried)) {
    if ((name === OssHeader.CONTENT_TYPE || name.startsWith(USER_META_PREFIX)) && after[name] !== value) changed.push(name);
  }
  for (const name of Object.keys(after)) {
    if (name.startsWith(USER_META_PREFIX) && !V2_NAMES.has(name) && v.carried[name] === undefined) changed.push(name);
  }
  if (changed.length > 0) {
    throw new CseError(
      ErrorCode.INTEGRITY,
      `the object was rewrapped, but these headers changed on the way: ${changed.join(', ')} (the envelope is correct)`,
      { object },
    );
  }
}

async function restore(v: VerifyInput): Promise<void> {
  const old = v2CryptoHeaders(v.head.headers, v.location.key);
  const etag = v.after.headers[OssHeader.ETAG];
  const headers: Record<string, string> = {
    ...v.carried,
    ...old,
    [OssHeader.METADATA_DIRECTIVE]: 'REPLACE',
    ...(etag === undefined ? {} : { [COPY_SOURCE_IF_MATCH]: etag }),
  };
  await v.store.copy(v.location, v.location, { headers }, v.call);
}

/**
 * Re-wraps every object under a prefix, `parallel` at a time; each object's outcome goes to `onObject` and failures
 * are collected, never thrown. Safe to run again after an interruption: objects already under the target are skipped.
 *
 * @param store - the object store
 * @param bucket - the bucket
 * @param prefix - the key prefix ('' for the whole bucket)
 * @param options - target key, old keys, dry run, parallel, onObject, signal, timeout
 * @returns the counts and the failures
 * @throws CseError ERR_CSE_INVALID_ARGUMENT (parallel), ERR_CSE_ABORTED (after the objects in flight settle);
 *   TransferError when a listing page fails
 */
export async function rewrapPrefix(
  store: ObjectStore,
  bucket: string,
  prefix: string,
  options: RewrapPrefixOptions & RewrapObjectOptions,
): Promise<RewrapPrefixResult> {
  const parallel = checkParallel(options.parallel, DEFAULT_REWRAP_PARALLEL);
  const what = `rewrap of oss://${bucket}/${prefix}`;
  const signal = options.signal;
  throwIfAborted(signal, what);
  const call: CallOptions = { signal, timeout: options.timeout };
  const listing = (async function* (): AsyncGenerator<ListedObject> {
    let token: string | undefined;
    do {
      const page = await withRetries(
        async () => store.listV2(bucket, { prefix, maxKeys: 1000, continuationToken: token }, call),
        DEFAULT_RETRY_POLICY,
        signal,
        what,
      );
      yield* page.objects;
      token = page.isTruncated && page.nextContinuationToken !== null ? page.nextContinuationToken : undefined;
    } while (token !== undefined);
  })();

  let rewrapped = 0;
  let skipped = 0;
  const failures: RewrapObjectResult[] = [];
  const dryRun = options.dryRun === true;
  let listingError: unknown;
  // A function, not a narrowed property: the signal can fire during any await.
  const aborted = (): boolean => signal?.aborted === true;
  const worker = async (): Promise<void> => {
    for (;;) {
      if (aborted() || listingError !== undefined) return;
      let next: IteratorResult<ListedObject>;
      try {
        next = await listing.next();
      } catch (e) {
        listingError ??= e;
        return;
      }
      if (next.done === true) return;
      let result: RewrapObjectResult;
      try {
        result = await rewrapObject(store, { bucket, key: next.value.name }, options);
      } catch (e) {
        // An object in flight when the signal fired is neither done nor failed: a re-run takes it up.
        if (aborted()) return;
        const error = e instanceof CseError ? e : new CseError(ErrorCode.TRANSFER, messageOf(e), { object: next.value.name, cause: e });
        result = { name: next.value.name, status: 'failed', dryRun, error, reason: `[${error.cseCode}] ${error.message}` };
      }
      if (result.status === 'rewrapped') rewrapped++;
      else if (result.status === 'skipped') skipped++;
      else failures.push(result);
      options.onObject?.(result);
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  if (signal?.aborted === true) throw abortedError(what, signal);
  if (listingError !== undefined) {
    throw listingError instanceof Error ? listingError : new CseError(ErrorCode.TRANSFER, `${what}: listing failed: ${messageOf(listingError)}`);
  }
  return { total: rewrapped + skipped + failures.length, rewrapped, skipped, failed: failures.length, failures, dryRun };
}
