/**
 * Sharding of a bulk job across processes or machines: `--shard I/N` runs only the keys whose shard is `I`.
 *
 * The shard of a key must never depend on the process, machine, listing order or oss-cse version, otherwise two
 * workers of one job (or a resumed worker after an upgrade) would both skip or both process a key. Hence a fixed
 * cryptographic hash of the key bytes rather than anything locale- or runtime-dependent.
 *
 * @packageDocumentation
 */
import { createHash } from 'node:crypto';
import { CseError, ErrorCode } from '../errors.js';

/** One shard of a job: `index` in `[0, count)`. */
export interface Shard {
  /** 0-based shard number. */
  readonly index: number;
  /** Number of shards, 1 to {@link MAX_SHARDS}. */
  readonly count: number;
}

/** The largest accepted shard count. */
export const MAX_SHARDS = 65536;

// Plain decimal digits only: no sign, no spaces, no exponent, no hex, so "1/4" has exactly one spelling family.
const DECIMAL = /^[0-9]+$/;

/**
 * Parses `"I/N"`: decimal integers, `0 ≤ I < N ≤ 65536` (0-based, like a Kubernetes Indexed Job's
 * `JOB_COMPLETION_INDEX`).
 *
 * @param text - the option value, e.g. `"0/4"`
 * @returns the shard
 * @throws CseError ERR_CSE_INVALID_ARGUMENT when the text is not of that form or out of range (the message quotes it)
 */
export function parseShard(text: string): Shard {
  const bad = (why: string): CseError =>
    new CseError(ErrorCode.INVALID_ARGUMENT, `invalid shard ${JSON.stringify(text)}: ${why} (expected I/N with 0 <= I < N <= ${MAX_SHARDS}, e.g. 0/4)`);
  const parts = text.split('/');
  if (parts.length !== 2) throw bad('expected exactly one "/"');
  const [i, n] = parts as [string, string];
  if (!DECIMAL.test(i) || !DECIMAL.test(n)) throw bad('I and N must be decimal integers without sign or spaces');
  // Digit strings longer than 6 are out of range anyway; checking length first avoids precision questions.
  const index = i.length > 6 ? Number.POSITIVE_INFINITY : Number(i);
  const count = n.length > 6 ? Number.POSITIVE_INFINITY : Number(n);
  if (count < 1 || count > MAX_SHARDS) throw bad(`N must be between 1 and ${MAX_SHARDS}`);
  if (index >= count) throw bad('I must be less than N (shards are numbered from 0)');
  return { index, count };
}

/**
 * The shard of a key. Stable across processes, machines and versions: SHA-256 of the key's UTF-8 bytes, the first
 * 6 bytes read as a big-endian unsigned integer, modulo `count`.
 *
 * @param key - the object key
 * @param count - number of shards (integer ≥ 1)
 * @returns the shard index in `[0, count)`
 * @throws CseError ERR_CSE_INVALID_ARGUMENT when `count` is not an integer in `[1, 65536]`
 */
export function shardOfKey(key: string, count: number): number {
  if (!Number.isInteger(count) || count < 1 || count > MAX_SHARDS) {
    throw new CseError(ErrorCode.INVALID_ARGUMENT, `shard count ${count} is not an integer between 1 and ${MAX_SHARDS}`);
  }
  const digest = createHash('sha256').update(key, 'utf8').digest();
  // 48 bits fit exactly in a double, so the modulo is exact.
  return digest.readUIntBE(0, 6) % count;
}

/**
 * True when `shard` is undefined (no sharding) or the key falls in it.
 *
 * @param key - the object key
 * @param shard - the shard this worker runs, or undefined for all keys
 * @throws CseError ERR_CSE_INVALID_ARGUMENT when the shard's count is out of range
 */
export function inShard(key: string, shard: Shard | undefined): boolean {
  return shard === undefined || shardOfKey(key, shard.count) === shard.index;
}
