/**
 * An opt-in write-side cache of KMS-wrapped data keys (issue 15), the idea of the AWS Encryption SDK's caching
 * cryptographic materials manager applied to the OSS envelope: a burst of PUTs reuses one data key, wrapped by KMS
 * once, until the entry reaches its age, object-count or byte bound; each object still gets its own IV.
 *
 * KMS calls per PUT: the OSS envelope stores the IV wrapped by the master key as well (`…-start`, KMS Encrypt of
 * base64(IV): `oss-go-java.md` §2), and every object needs its own IV, so one KMS Encrypt per object remains: a PUT
 * costs 1 + 1/N calls instead of 2 (N = objects per cached key). Reusing the wrapped IV as well would reuse the
 * keystream: never done.
 *
 * IVs under a cached key never share a counter block (SECURITY.md, "Data-key cache (opt-in)"): every IV keeps the
 * SDKs' shape (bytes 8..11 zero); bytes 0..7 are a per-key random 64-bit start plus the object's sequence number
 * (mod 2^64), bytes 12..15 random. Two objects under one key therefore differ in bytes 0..7, and an object's counter
 * (IV + block index, 128-bit add) can only reach bytes 0..7 after 2^32 · 2^32 blocks, far beyond OSS's largest
 * object (48.8 TiB = 2^41.6 blocks): their keystreams are disjoint whatever their lengths.
 *
 * @packageDocumentation
 */

import { randomFillSync } from 'node:crypto';
import { randomContentMaterial, zeroMaterial } from '../cipher/material.js';
import { CseError, ErrorCode } from '../errors.js';
import { DATA_KEY_SIZE, IV_SIZE } from '../format/layout.js';
import { WrapAlgorithm } from '../format/headers.js';
import type { ContentMaterial, Envelope, MatDesc, WrappedMaterial } from '../format/types.js';
import type { KmsMasterKey } from './kms.js';
import type { MasterKeyKind, SealHint, SealedMaterial, UnwrapContext } from './master-key.js';
import type { MasterKey } from './master-key.js';

/** Most objects one cached data key may encrypt (the AWS SDK's limit on messages per data key). */
export const MAX_OBJECTS_PER_DATA_KEY = 2 ** 32;

/** The bounds of a {@link DataKeyCachingMasterKey}; all three are required. */
export interface DataKeyCacheOptions {
  /** Longest time in ms a data key is used for new objects after KMS wrapped it (a positive safe integer). */
  readonly maxAgeMs: number;
  /** Most objects encrypted under one data key (1 to {@link MAX_OBJECTS_PER_DATA_KEY}). */
  readonly maxObjects: number;
  /** Most plaintext bytes encrypted under one data key (a positive safe integer). */
  readonly maxBytes: number;
  /** Clock in ms (default `Date.now`); for tests. */
  readonly now?: () => number;
}

/** One cached data key. */
interface Entry {
  /** The cache's own copy of the key; zeroed when the entry retires. */
  readonly key: Uint8Array;
  readonly wrappedKey: string;
  readonly createdAt: number;
  /** Bytes 0..7 of the first IV, as an unsigned 64-bit number. */
  readonly ivBase: bigint;
  objects: number;
  bytes: number;
  retired: boolean;
}

/** One object's share of an entry, copied out when it is reserved. */
interface Reservation {
  /** A copy of the data key (the caller's to zero). */
  readonly key: Uint8Array;
  readonly wrappedKey: string;
  /** IV bytes 0..7 for this object: the entry's start plus its sequence number, mod 2^64. */
  readonly seq: bigint;
}

const MASK64 = (1n << 64n) - 1n;

/**
 * A {@link MasterKey} in front of a {@link KmsMasterKey} that reuses one KMS-wrapped data key for many new objects.
 * Off unless you build one. Reads (`unwrap`) and explicit `wrap` calls go to the KMS key unchanged; only
 * {@link DataKeyCachingMasterKey.sealMaterial}, which the write path uses for new objects, is cached.
 *
 * - An object whose length is unknown before the upload (a stream without a declared length), or larger than
 *   `maxBytes`, gets fresh material (two KMS calls), as the AWS SDK bypasses its cache for unknown lengths.
 * - The entry retires (its key zeroed) when a new object would exceed `maxObjects` or `maxBytes`, when `maxAgeMs`
 *   has passed (also by an unreferenced timer when idle), or on {@link DataKeyCachingMasterKey.clear}.
 * - Concurrent PUTs that find no entry share one KMS call for the data key.
 *
 * Trade-off (SECURITY.md): one data key protects up to `maxObjects` objects, so exposing one object's data key
 * (e.g. to a reader allowed only that object) exposes every object written under the same key; and the plaintext
 * data key stays in memory for up to `maxAgeMs`.
 */
export class DataKeyCachingMasterKey implements MasterKey {
  /** The KMS key that wraps. */
  readonly inner: KmsMasterKey;
  /** The age bound in ms. */
  readonly maxAgeMs: number;
  /** The object-count bound. */
  readonly maxObjects: number;
  /** The byte bound. */
  readonly maxBytes: number;
  readonly #now: () => number;
  #entry: Entry | undefined;
  #pending: Promise<Entry> | undefined;
  #timer: NodeJS.Timeout | undefined;

  /**
   * @param inner - the KMS master key
   * @param options - the three bounds and an optional clock
   * @throws CseError ERR_CSE_INVALID_ARGUMENT when `inner` cannot wrap a key and an IV separately (not a
   *   {@link KmsMasterKey}) or a bound is missing or out of range
   */
  constructor(inner: KmsMasterKey, options: DataKeyCacheOptions) {
    const candidate = inner as Partial<KmsMasterKey> | null | undefined;
    if (typeof candidate !== 'object' || candidate === null || typeof candidate.wrapDataKey !== 'function' || typeof candidate.wrapIv !== 'function') {
      throw new CseError(ErrorCode.INVALID_ARGUMENT, 'DataKeyCachingMasterKey: expected a KmsMasterKey to wrap');
    }
    if (typeof options !== 'object' || (options as unknown) === null) {
      throw new CseError(ErrorCode.INVALID_ARGUMENT, 'DataKeyCachingMasterKey: expected options { maxAgeMs, maxObjects, maxBytes }');
    }
    const { maxAgeMs, maxObjects, maxBytes, now } = options;
    const positive = (value: unknown, name: string, max = Number.MAX_SAFE_INTEGER): number => {
      if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1 || value > max) {
        throw new CseError(ErrorCode.INVALID_ARGUMENT, `DataKeyCachingMasterKey: ${name} must be an integer from 1 to ${max}, got ${String(value)}`);
      }
      return value;
    };
    this.maxAgeMs = positive(maxAgeMs, 'maxAgeMs');
    this.maxObjects = positive(maxObjects, 'maxObjects', MAX_OBJECTS_PER_DATA_KEY);
    this.maxBytes = positive(maxBytes, 'maxBytes');
    if (now !== undefined && typeof now !== 'function') {
      throw new CseError(ErrorCode.INVALID_ARGUMENT, 'DataKeyCachingMasterKey: now must be a function returning milliseconds');
    }
    this.inner = inner;
    this.#now = now ?? Date.now;
  }

  /** Always `kms`. */
  get kind(): MasterKeyKind {
    return this.inner.kind;
  }

  /** The KMS key's name. */
  get name(): string {
    return this.inner.name;
  }

  /** The KMS key's material description. */
  get description(): MatDesc {
    return this.inner.description;
  }

  /**
   * Wraps caller-chosen material with the KMS key (not cached: two KMS calls).
   * @throws CseError as {@link KmsMasterKey.wrap}
   */
  async wrap(material: ContentMaterial): Promise<WrappedMaterial> {
    return this.inner.wrap(material);
  }

  /**
   * Unwraps through the KMS key (reads are not cached here; see `CachingMasterKey` for that).
   * @throws CseError as {@link KmsMasterKey.unwrap}
   */
  async unwrap(envelope: Envelope, context?: UnwrapContext): Promise<ContentMaterial | null> {
    return this.inner.unwrap(envelope, context);
  }

  /**
   * Material for a new object: the cached data key (wrapped once) with a fresh IV wrapped now, or fresh material
   * when the length is unknown or larger than `maxBytes`.
   * @throws CseError ERR_CSE_INVALID_ARGUMENT for a length that is not a non-negative safe integer; as
   *   {@link KmsMasterKey.wrap} for KMS failures (nothing is cached from a failed call)
   */
  async sealMaterial(hint: SealHint): Promise<SealedMaterial> {
    const length = hint.plaintextLength;
    if (length !== undefined && (!Number.isSafeInteger(length) || length < 0)) {
      throw new CseError(ErrorCode.INVALID_ARGUMENT, `expected a plaintext length, got ${String(length)}`);
    }
    if (length === undefined || length > this.maxBytes) {
      const material = randomContentMaterial();
      try {
        return { material, wrapped: await this.inner.wrap(material) };
      } catch (e) {
        zeroMaterial(material);
        throw e;
      }
    }
    // Everything per object comes from the reservation itself: the entry may serve (or retire, zeroing its key)
    // other callers before this one resumes after the await.
    const { key, wrappedKey, seq } = await this.#take(length);
    const iv = new Uint8Array(IV_SIZE);
    randomFillSync(iv, 12, 4);
    // Bytes 0..7: the entry's start plus this object's sequence number; bytes 8..11 stay zero (SDK IV shape).
    new DataView(iv.buffer).setBigUint64(0, seq, false);
    const material = { key, iv };
    try {
      const wrappedStart = await this.inner.wrapIv(iv);
      return { material, wrapped: { wrapAlgorithm: WrapAlgorithm.KMS, wrappedKey, wrappedStart } };
    } catch (e) {
      zeroMaterial(material);
      throw e;
    }
  }

  /** Zeroes and drops the cached data key (new objects then get a new one). */
  clear(): void {
    this.#retire();
  }

  /**
   * Reserves one object of `length` bytes on a live entry, making a new entry when needed. The key copy and the IV
   * sequence are taken in the same synchronous step as the reservation: the caller resumes a microtask later, by
   * which time concurrent callers may have reserved further objects or retired (zeroed) the entry.
   */
  async #take(length: number): Promise<Reservation> {
    for (;;) {
      const entry = this.#entry;
      if (entry !== undefined && !entry.retired) {
        const fresh = this.#now() - entry.createdAt < this.maxAgeMs;
        if (fresh && entry.objects < this.maxObjects && entry.bytes + length <= this.maxBytes) {
          const seq = (entry.ivBase + BigInt(entry.objects)) & MASK64;
          entry.objects++;
          entry.bytes += length;
          return { key: Uint8Array.from(entry.key), wrappedKey: entry.wrappedKey, seq };
        }
        this.#retire();
      }
      // Single flight: concurrent misses wait for the one KMS call, then compete for the new entry's budget.
      this.#pending ??= this.#create().finally(() => {
        this.#pending = undefined;
      });
      await this.#pending;
    }
  }

  async #create(): Promise<Entry> {
    const key = new Uint8Array(DATA_KEY_SIZE);
    do randomFillSync(key);
    while (key[0] === 0); // the Java SDK's rule (material.ts)
    let wrappedKey: string;
    try {
      wrappedKey = await this.inner.wrapDataKey(key);
    } catch (e) {
      key.fill(0);
      throw e;
    }
    const base = new Uint8Array(8);
    randomFillSync(base);
    const entry: Entry = {
      key,
      wrappedKey,
      createdAt: this.#now(),
      ivBase: new DataView(base.buffer).getBigUint64(0, false),
      objects: 0,
      bytes: 0,
      retired: false,
    };
    this.#retire();
    this.#entry = entry;
    // The key must not outlive maxAgeMs in memory when no PUT comes to notice its age.
    this.#timer = setTimeout(() => {
      if (this.#entry === entry) this.#retire();
    }, Math.min(this.maxAgeMs, 2 ** 31 - 1));
    this.#timer.unref();
    return entry;
  }

  #retire(): void {
    const entry = this.#entry;
    if (entry !== undefined) {
      entry.retired = true;
      entry.key.fill(0);
    }
    this.#entry = undefined;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
