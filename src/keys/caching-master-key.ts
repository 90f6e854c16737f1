/**
 * An opt-in cache of unwrapped content material in front of another master key.
 *
 * Every encrypted GET unwraps the object's data key and IV: two RSA private-key operations or two KMS Decrypt calls.
 * Readers that open the same object many times (ranged reads of one large file, hot objects) pay that each time. The
 * AWS Encryption SDK answers this with an opt-in caching materials manager bounded by entry count and age; this is
 * the same idea as a {@link MasterKey} wrapper, so nothing else in the library has to know about it.
 *
 * @packageDocumentation
 */

import { createHash } from 'node:crypto';
import { zeroMaterial } from '../cipher/material.js';
import { CseError, ErrorCode } from '../errors.js';
import type { ContentMaterial, Envelope, MatDesc, WrappedMaterial } from '../format/types.js';
import type { MasterKey, MasterKeyKind, UnwrapContext } from './master-key.js';

/** Largest {@link CachingMasterKeyOptions.maxEntries} accepted (each entry holds 48 secret bytes plus bookkeeping). */
export const MAX_CACHE_ENTRIES = 100_000;

/** How to bound a {@link CachingMasterKey}. Both limits are required: an unbounded cache of data keys is refused. */
export interface CachingMasterKeyOptions {
  /** Most entries kept (a positive integer up to {@link MAX_CACHE_ENTRIES}); the least recently used go first. */
  readonly maxEntries: number;
  /**
   * Longest time, in milliseconds from the unwrap that filled it, an entry is used and kept (a positive integer). Age
   * is not renewed by hits: after `maxAgeMs` the inner key is asked again, so a revoked key or KMS permission is
   * noticed within that time.
   */
  readonly maxAgeMs: number;
  /** Clock in milliseconds (default `Date.now`); for tests. */
  readonly now?: () => number;
}

/** One cached unwrap: the cache's own copy of the material and when it was made. */
interface Entry {
  readonly digest: string;
  readonly material: ContentMaterial;
  readonly createdAt: number;
}

/** One unwrap in progress, shared by concurrent callers asking for the same envelope. */
interface Flight {
  readonly promise: Promise<ContentMaterial | null>;
  /** Callers still to copy the result; the last one zeroes the shared result. */
  waiters: number;
}

/** Largest delay `setTimeout` takes (about 24.8 days); longer delays fire at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * A {@link MasterKey} that remembers what its inner key unwrapped, so that reading the same object again skips the
 * RSA private-key operations or KMS Decrypt calls. Off unless you build one; `wrap` is never cached.
 *
 * - The cache key is a SHA-256 over an unambiguous, length-prefixed encoding of every field of the {@link Envelope}
 *   (version, wrap scheme, wrap and CEK algorithm headers, wrapped key and start, matdesc as a map and as the raw
 *   header, and the informational length/MD5/part fields). That is a superset of what any key's unwrap reads, so two
 *   envelopes that could unwrap differently never share an entry; the envelope of one object is the same on every
 *   read, so the extra fields cost no hits. The cache belongs to one inner key, so the key itself needs no place in it.
 * - Only successful unwraps are cached; `null` ("not mine") and errors go back to the caller and are asked again
 *   next time.
 * - Every caller gets its own copy of the material (the client zeroes material after use); the cache keeps the inner
 *   key's result as its own copy and zeroes it when the entry expires, is evicted or {@link CachingMasterKey.clear}
 *   is called. Expired entries are swept by an unreferenced timer as well as on use, so a data key does not outlive
 *   `maxAgeMs` in the cache even when the key sits idle.
 * - Concurrent misses for the same envelope share one inner unwrap (single flight); each caller still gets a copy.
 *
 * Trade-off (see SECURITY.md, "Unwrap cache (opt-in)"): plaintext data keys of recently read objects stay in process
 * memory for up to `maxAgeMs`, and an RSA key that was removed or a KMS permission that was revoked keeps working for
 * the cached objects until their entries expire.
 *
 * The name, kind, description and `canUnwrap` are the inner key's, so key listings, key-ring matching and error
 * messages do not change when a key is wrapped.
 */
export class CachingMasterKey implements MasterKey {
  /** The key that does the real work. */
  readonly inner: MasterKey;
  /** The entry bound. */
  readonly maxEntries: number;
  /** The age bound in milliseconds. */
  readonly maxAgeMs: number;

  readonly #now: () => number;
  /** Entries by digest in access order: the first is the least recently used. */
  readonly #lru = new Map<string, Entry>();
  /** The same entries in creation order, which is expiry order since hits do not renew age. */
  readonly #byAge = new Map<string, Entry>();
  readonly #flights = new Map<string, Flight>();
  /** Bumped by {@link CachingMasterKey.clear}: unwraps that started before it do not fill the cache. */
  #generation = 0;
  #timer: NodeJS.Timeout | undefined;
  #timerAt = Infinity;

  /**
   * @param inner - the master key to cache unwraps of (an {@link RsaMasterKey}, a {@link KmsMasterKey}, …)
   * @param options - the bounds (both required) and an optional clock
   * @throws CseError ERR_CSE_INVALID_ARGUMENT when `inner` is not a master key, `maxEntries` is not an integer from
   *   1 to {@link MAX_CACHE_ENTRIES}, `maxAgeMs` is not a positive safe integer, or `now` is not a function
   */
  constructor(inner: MasterKey, options: CachingMasterKeyOptions) {
    const candidate = inner as Partial<MasterKey> | null | undefined;
    if (typeof candidate !== 'object' || candidate === null || typeof candidate.unwrap !== 'function' || typeof candidate.wrap !== 'function') {
      throw new CseError(ErrorCode.INVALID_ARGUMENT, 'CachingMasterKey: expected a master key to wrap (e.g. an RsaMasterKey)');
    }
    if (typeof options !== 'object' || (options as unknown) === null) {
      throw new CseError(ErrorCode.INVALID_ARGUMENT, 'CachingMasterKey: expected options { maxEntries, maxAgeMs }');
    }
    const { maxEntries, maxAgeMs, now } = options;
    if (!Number.isSafeInteger(maxEntries) || maxEntries < 1 || maxEntries > MAX_CACHE_ENTRIES) {
      throw new CseError(
        ErrorCode.INVALID_ARGUMENT,
        `CachingMasterKey: maxEntries must be an integer from 1 to ${MAX_CACHE_ENTRIES}, got ${String(maxEntries)}`,
      );
    }
    if (!Number.isSafeInteger(maxAgeMs) || maxAgeMs < 1) {
      throw new CseError(ErrorCode.INVALID_ARGUMENT, `CachingMasterKey: maxAgeMs must be a positive integer, got ${String(maxAgeMs)}`);
    }
    if (now !== undefined && typeof now !== 'function') {
      throw new CseError(ErrorCode.INVALID_ARGUMENT, 'CachingMasterKey: now must be a function returning milliseconds');
    }
    this.inner = inner;
    this.maxEntries = maxEntries;
    this.maxAgeMs = maxAgeMs;
    this.#now = now ?? Date.now;
  }

  /** The inner key's kind. */
  get kind(): MasterKeyKind {
    return this.inner.kind;
  }

  /** The inner key's name, unchanged, so listings and error messages read the same with or without the cache. */
  get name(): string {
    return this.inner.name;
  }

  /** The inner key's material description. */
  get description(): MatDesc {
    return this.inner.description;
  }

  /** Whether the inner key can unwrap (`false` only when it says so). */
  get canUnwrap(): boolean {
    return this.inner.canUnwrap !== false;
  }

  /**
   * The inner key's fingerprint when it has one (RSA keys), so that tools comparing keys by fingerprint (rewrap, key
   * listings) see the wrapper and its inner key as the same key.
   */
  get fingerprint(): string | undefined {
    const f = (this.inner as { readonly fingerprint?: unknown }).fingerprint;
    return typeof f === 'string' ? f : undefined;
  }

  /** How many entries the cache holds now (expired ones are dropped first). */
  get size(): number {
    this.#sweep();
    return this.#lru.size;
  }

  /**
   * Wraps with the inner key; never cached (every object gets fresh material).
   * @throws whatever the inner key's `wrap` throws (CseError ERR_CSE_KEY_UNUSABLE, ERR_CSE_KMS, …)
   */
  async wrap(material: ContentMaterial): Promise<WrappedMaterial> {
    return this.inner.wrap(material);
  }

  /**
   * Unwraps from the cache when an entry for this envelope is younger than `maxAgeMs`, else with the inner key
   * (caching a success).
   *
   * @param envelope - the parsed envelope
   * @param context - the object key, for the inner key's error messages
   * @returns a fresh copy of the content material that the caller owns (and should zero), or `null` when the inner
   *   key says the envelope is not its kind
   * @throws whatever the inner key's `unwrap` throws (CseError ERR_CSE_UNWRAP_FAILED, ERR_CSE_KMS, …); never cached
   */
  async unwrap(envelope: Envelope, context: UnwrapContext = {}): Promise<ContentMaterial | null> {
    this.#sweep();
    const digest = envelopeDigest(envelope);
    if (digest === undefined) return this.inner.unwrap(envelope, context);
    const entry = this.#lru.get(digest);
    if (entry !== undefined) {
      // Move to the most recently used end.
      this.#lru.delete(digest);
      this.#lru.set(digest, entry);
      return copyMaterial(entry.material);
    }
    let flight = this.#flights.get(digest);
    if (flight === undefined) {
      const started: Flight = {
        // Leaves the table before any caller resumes, so nobody joins a flight whose result is being zeroed.
        promise: this.#fill(digest, envelope, context).finally(() => {
          if (this.#flights.get(digest) === started) this.#flights.delete(digest);
        }),
        waiters: 0,
      };
      this.#flights.set(digest, started);
      flight = started;
    }
    flight.waiters++;
    let result: ContentMaterial | null;
    try {
      result = await flight.promise;
    } catch (error) {
      flight.waiters--;
      throw error;
    }
    if (result === null) {
      flight.waiters--;
      return null;
    }
    // The shared result is copied synchronously after the await, and zeroed by the last caller to copy it.
    const copy = copyMaterial(result);
    if (--flight.waiters === 0) zeroMaterial(result);
    return copy;
  }

  /** Zeroes and drops every entry. Unwraps in progress finish for their callers but do not fill the cache. */
  clear(): void {
    this.#generation++;
    this.#flights.clear();
    for (const entry of this.#lru.values()) zeroMaterial(entry.material);
    this.#lru.clear();
    this.#byAge.clear();
    this.#cancelTimer();
  }

  /** Runs the inner unwrap for a miss and stores a success (unless `clear` ran meanwhile). */
  async #fill(digest: string, envelope: Envelope, context: UnwrapContext): Promise<ContentMaterial | null> {
    const generation = this.#generation;
    const material = await this.inner.unwrap(envelope, context);
    if (material === null) return null;
    // The callers share a copy (zeroed by the last of them); the cache keeps the inner key's own result, which the
    // MasterKey contract hands to the caller to own.
    const shared = copyMaterial(material);
    if (generation === this.#generation) this.#insert(digest, material);
    else zeroMaterial(material);
    return shared;
  }

  #insert(digest: string, material: ContentMaterial): void {
    this.#drop(digest);
    const entry: Entry = { digest, material, createdAt: this.#now() };
    this.#lru.set(digest, entry);
    this.#byAge.set(digest, entry);
    while (this.#lru.size > this.maxEntries) {
      const oldest = this.#lru.keys().next();
      if (oldest.done === true) break;
      this.#drop(oldest.value);
    }
    this.#schedule();
  }

  /** Zeroes and removes one entry, if present. */
  #drop(digest: string): void {
    const entry = this.#lru.get(digest);
    if (entry === undefined) return;
    zeroMaterial(entry.material);
    this.#lru.delete(digest);
    this.#byAge.delete(digest);
  }

  /** Drops the expired entries: they lead the creation-order map. */
  #sweep(): void {
    const now = this.#now();
    for (const entry of this.#byAge.values()) {
      if (now - entry.createdAt < this.maxAgeMs) break;
      this.#drop(entry.digest);
    }
  }

  /** Arms one unreferenced timer for the oldest entry's expiry, so idle entries are zeroed on time too. */
  #schedule(): void {
    const oldest = this.#byAge.values().next();
    if (oldest.done === true) {
      this.#cancelTimer();
      return;
    }
    const at = oldest.value.createdAt + this.maxAgeMs;
    if (this.#timer !== undefined && this.#timerAt <= at) return;
    this.#cancelTimer();
    const delay = Math.min(MAX_TIMER_MS, Math.max(0, at - this.#now()));
    this.#timerAt = at;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#timerAt = Infinity;
      this.#sweep();
      this.#schedule();
    }, delay);
    // Never keeps the process alive: the timer only wipes memory that exits with the process anyway.
    this.#timer.unref();
  }

  #cancelTimer(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Infinity;
  }
}

function copyMaterial(m: ContentMaterial): ContentMaterial {
  return { key: new Uint8Array(m.key), iv: new Uint8Array(m.iv) };
}

/** How each envelope field is encoded into the cache key. Typed over every key of Envelope, so a new field must be added here. */
const ENVELOPE_FIELDS: { readonly [K in keyof Envelope]-?: 'text' | 'number' | 'map' } = {
  version: 'text',
  scheme: 'text',
  wrapAlgorithm: 'text',
  cekAlgorithm: 'text',
  wrappedKey: 'text',
  wrappedStart: 'text',
  matdesc: 'map',
  matdescRaw: 'text',
  unencryptedContentMd5: 'text',
  unencryptedContentLength: 'number',
  dataSize: 'number',
  partSize: 'number',
};
const FIELD_ORDER = (Object.keys(ENVELOPE_FIELDS) as (keyof Envelope)[]).sort();

/**
 * SHA-256 (hex) of the envelope's fields, each tagged with its index and presence, strings as length-prefixed
 * UTF-16 code units (so lone surrogates stay distinct, which UTF-8 would fold into U+FFFD), numbers as IEEE 754 bytes,
 * the matdesc as a count and its entries sorted by key.
 *
 * @param envelope - the envelope
 * @returns the digest, or `undefined` when a field does not have the type {@link Envelope} declares (an envelope
 *   built by hand): such an envelope is unwrapped without the cache
 */
export function envelopeDigest(envelope: Envelope): string | undefined {
  // The whole encoding is built as one UTF-16 string and hashed in a single update: one native call per envelope
  // instead of ~40 (each small `hash.update` crossed into C++; that was most of a cache hit's cost on a ranged GET).
  // Every string is length-prefixed and `utf16le` writes code units as they are, so the encoding stays injective.
  const parts: string[] = [];
  let index = 0;
  for (const field of FIELD_ORDER) {
    const value: unknown = envelope[field];
    parts.push(String.fromCharCode(index++));
    if (value === undefined) {
      parts.push('\u0000');
      continue;
    }
    parts.push('\u0001');
    const kind = ENVELOPE_FIELDS[field];
    if (kind === 'text') {
      if (typeof value !== 'string') return undefined;
      pushText(parts, value);
    } else if (kind === 'number') {
      if (typeof value !== 'number') return undefined;
      NUMBER_VIEW.setFloat64(0, value);
      for (let i = 0; i < 8; i += 2) parts.push(String.fromCharCode(NUMBER_VIEW.getUint16(i)));
    } else {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
      const entries = Object.entries(value as Record<string, unknown>);
      entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      pushLength(parts, entries.length);
      for (const [k, v] of entries) {
        if (typeof v !== 'string') return undefined;
        pushText(parts, k);
        pushText(parts, v);
      }
    }
  }
  return createHash('sha256').update(Buffer.from(parts.join(''), 'utf16le')).digest('hex');
}

const NUMBER_VIEW = new DataView(new ArrayBuffer(8));

/** A 32-bit length as two UTF-16 code units (high, low). */
function pushLength(parts: string[], n: number): void {
  parts.push(String.fromCharCode(n >>> 16, n & 0xffff));
}

function pushText(parts: string[], s: string): void {
  pushLength(parts, s.length);
  parts.push(s);
}
