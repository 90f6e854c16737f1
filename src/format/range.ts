/**
 * OSS `Range` semantics as pure functions, so that an encrypted read can return exactly what a plain client would get
 * for the same request, and so that decryption starts from the offset the *response* says it carries (FORMAT.md §5,
 * `oss-go-java.md` §6 "OSS semantics" and "Recommendation for TS").
 *
 * @packageDocumentation
 */

import { CseError, ErrorCode } from '../errors.js';
import { BLOCK_SIZE } from './layout.js';

/**
 * A parsed `Range` request header.
 * - `bounded`: `bytes=start-end` (both inclusive);
 * - `from`: `bytes=start-` (to the end of the object);
 * - `suffix`: `bytes=-length` (the last `length` bytes);
 * - `invalid`: anything else. OSS ignores such a header and answers 200 with the whole object. `reason` says why:
 *   `multiple` (more than one range: refuse these in the client, the OSS documentation contradicts itself on them,
 *   FORMAT.md §5.1), `reversed` (`start > end`), `syntax` (everything else).
 *
 * Numbers above `Number.MAX_SAFE_INTEGER` are clamped to it: no object is that large, so the outcome is unchanged.
 */
export type ByteRange =
  | {
      /** `bytes=start-end`. */
      readonly kind: 'bounded';
      /** First byte. */
      readonly start: number;
      /** Last byte (inclusive). */
      readonly end: number;
    }
  | {
      /** `bytes=start-`. */
      readonly kind: 'from';
      /** First byte. */
      readonly start: number;
    }
  | {
      /** `bytes=-length`: the last `length` bytes. */
      readonly kind: 'suffix';
      /** How many bytes from the end. */
      readonly length: number;
    }
  | {
      /** A header OSS ignores (whole object, 200). */
      readonly kind: 'invalid';
      /** Why it is ignored. */
      readonly reason: 'syntax' | 'multiple' | 'reversed';
    };

/**
 * What OSS answers to a range request:
 * - `206` with the inclusive byte interval `[start, end]` and a `Content-Range`;
 * - `200`: the range was ignored, the whole object comes back without `Content-Range`;
 * - `416`: `InvalidRange` (only with `x-oss-range-behavior: standard`).
 */
export type RangeResolution =
  | {
      /** Partial content. */
      readonly status: 206;
      /** First byte. */
      readonly start: number;
      /** Last byte (inclusive). */
      readonly end: number;
    }
  | {
      /** The whole object. */
      readonly status: 200;
    }
  | {
      /** Range not satisfiable. */
      readonly status: 416;
    };

/** A parsed `Content-Range: bytes start-end/total` response header; `total` is `undefined` for `*`. */
export interface ContentRange {
  /** First byte, inclusive. */
  readonly start: number;
  /** Last byte, inclusive. */
  readonly end: number;
  /** Full object size, or `undefined` when the server sent `*`. */
  readonly total: number | undefined;
}

const MAX = Number.MAX_SAFE_INTEGER;

function clampedNumber(digits: string): number {
  const n = Number(digits);
  return n > MAX ? MAX : n;
}

/**
 * Parses a `Range` request header value. Never throws: whatever OSS would ignore comes back as
 * `{ kind: 'invalid' }`.
 *
 * Accepted: the unit `bytes` in any case (RFC 9110 §14.1), then `=`, one range of decimal digits (leading zeros
 * allowed); spaces or tabs around the whole value are ignored, none inside.
 *
 * @param value - e.g. `bytes=0-499`, `bytes=500-`, `bytes=-500`
 */
export function parseRangeHeader(value: string): ByteRange {
  const v = value.replace(/^[ \t]+|[ \t]+$/g, '');
  const eq = v.indexOf('=');
  if (eq < 0 || v.slice(0, eq).toLowerCase() !== 'bytes') return { kind: 'invalid', reason: 'syntax' };
  const set = v.slice(eq + 1);
  if (set.includes(',')) return { kind: 'invalid', reason: 'multiple' };
  const m = /^([0-9]*)-([0-9]*)$/.exec(set);
  if (m === null) return { kind: 'invalid', reason: 'syntax' };
  const [, a = '', b = ''] = m;
  if (a === '' && b === '') return { kind: 'invalid', reason: 'syntax' };
  if (a === '') return { kind: 'suffix', length: clampedNumber(b) };
  if (b === '') return { kind: 'from', start: clampedNumber(a) };
  // Compare exactly before clamping, so that huge reversed ranges stay reversed.
  if (BigInt(a) > BigInt(b)) return { kind: 'invalid', reason: 'reversed' };
  return { kind: 'bounded', start: clampedNumber(a), end: clampedNumber(b) };
}

/**
 * What OSS answers to `range` on an object of `objectSize` bytes (FORMAT.md §5.1).
 *
 * Default behaviour (no `x-oss-range-behavior: standard`): a range any of whose requested bytes lies outside
 * `[0, objectSize)` is ignored (200, whole object): `a-b` needs `b < size`, `a-` needs `a < size`, `-n` needs
 * `0 < n ≤ size`. Invalid ranges are ignored. An empty object therefore always answers 200.
 *
 * Standard behaviour: the end is clipped to the object (206); a start at or past the end of the object is 416, as is
 * `-0`; `-n` with `n > size` returns the whole object as 206 (RFC 9110 §14.1.2). Invalid ranges are still ignored
 * (200). An empty object answers 416 to every valid range (our choice; see FORMAT.md §5.1).
 *
 * @param range - from {@link parseRangeHeader}
 * @param objectSize - the object's size in bytes
 * @param standard - whether `x-oss-range-behavior: standard` is sent
 * @throws CseError ERR_CSE_INVALID_ARGUMENT when `objectSize` is not a non-negative safe integer
 */
export function resolveRange(range: ByteRange, objectSize: number, standard: boolean): RangeResolution {
  if (!Number.isSafeInteger(objectSize) || objectSize < 0) {
    throw new CseError(ErrorCode.INVALID_ARGUMENT, `expected a non-negative integer object size, got ${String(objectSize)}`);
  }
  const size = objectSize;
  const whole: RangeResolution = { status: 200 };
  const unsatisfiable: RangeResolution = { status: 416 };
  const part = (start: number, end: number): RangeResolution => ({ status: 206, start, end });
  switch (range.kind) {
    case 'invalid':
      return whole;
    case 'bounded':
      if (standard) return range.start >= size ? unsatisfiable : part(range.start, Math.min(range.end, size - 1));
      return range.end < size ? part(range.start, range.end) : whole;
    case 'from':
      if (range.start < size) return part(range.start, size - 1);
      return standard ? unsatisfiable : whole;
    case 'suffix':
      if (standard) return range.length === 0 || size === 0 ? unsatisfiable : part(Math.max(0, size - range.length), size - 1);
      return range.length > 0 && range.length <= size ? part(size - range.length, size - 1) : whole;
  }
}

/**
 * Parses a `Content-Range` response header, strictly: `bytes start-end/total` or `bytes start-end/*` with
 * `start ≤ end` and `end < total`. The unsatisfied form `bytes *\/total` and anything else give `null`.
 *
 * @param value - the header value
 */
export function parseContentRange(value: string): ContentRange | null {
  const m = /^bytes ([0-9]+)-([0-9]+)\/([0-9]+|\*)$/i.exec(value.trim());
  if (m === null) return null;
  const [, a = '', b = '', t = ''] = m;
  const start = Number(a);
  const end = Number(b);
  const total = t === '*' ? undefined : Number(t);
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start > end) return null;
  if (total !== undefined && (!Number.isSafeInteger(total) || end >= total)) return null;
  return { start, end, total };
}

/** What to ask OSS for to read plaintext from `plaintextStart`, and how many decrypted bytes to drop. */
export interface AlignedFetchRange {
  /** `floor(plaintextStart / 16) * 16`: the ciphertext offset to request. */
  readonly fetchStart: number;
  /** The inclusive end to request: the caller's end, unchanged (`undefined` for "to the end"). */
  readonly fetchEnd: number | undefined;
  /** `plaintextStart - fetchStart`, in `[0, 16)`. */
  readonly skip: number;
}

function checkOffset(n: number, what: string): void {
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new CseError(ErrorCode.INVALID_ARGUMENT, `expected a non-negative integer ${what}, got ${String(n)}`);
  }
}

/**
 * The block-aligned request for a plaintext range. CTR itself needs no alignment (`counterAt` handles any offset);
 * aligning keeps the first counter block whole and matches what the peers send (`oss-go-java.md` §6). The counter
 * must still be derived from the *response* (its `Content-Range` start, or 0 on a 200), never from this request.
 *
 * @param plaintextStart - first wanted byte
 * @param plaintextEnd - last wanted byte, inclusive (omit for "to the end")
 * @throws CseError ERR_CSE_INVALID_ARGUMENT when an offset is not a non-negative integer or `end < start`
 */
export function alignedFetchRange(plaintextStart: number, plaintextEnd?: number): AlignedFetchRange {
  checkOffset(plaintextStart, 'range start');
  if (plaintextEnd !== undefined) {
    checkOffset(plaintextEnd, 'range end');
    if (plaintextEnd < plaintextStart) {
      throw new CseError(ErrorCode.INVALID_ARGUMENT, `range end ${plaintextEnd} is before its start ${plaintextStart}`);
    }
  }
  const skip = plaintextStart % BLOCK_SIZE;
  return { fetchStart: plaintextStart - skip, fetchEnd: plaintextEnd, skip };
}

/**
 * The `Range` header value for `[start, end]` (`bytes=start-end`, or `bytes=start-` without an end).
 *
 * @throws CseError ERR_CSE_INVALID_ARGUMENT when an offset is not a non-negative integer or `end < start`
 */
export function formatRangeHeader(start: number, end?: number): string {
  alignedFetchRange(start, end);
  return `bytes=${start}-${end === undefined ? '' : String(end)}`;
}

/**
 * The `Content-Range` header value for `[start, end]` of an object of `total` bytes (`bytes start-end/total`), for
 * answering a caller with the plaintext range it asked for.
 *
 * @throws CseError ERR_CSE_INVALID_ARGUMENT unless `0 ≤ start ≤ end < total` are integers
 */
export function formatContentRange(start: number, end: number, total: number): string {
  alignedFetchRange(start, end);
  checkOffset(total, 'total size');
  if (end >= total) throw new CseError(ErrorCode.INVALID_ARGUMENT, `range end ${end} is not inside an object of ${total} bytes`);
  return `bytes ${start}-${end}/${total}`;
}
