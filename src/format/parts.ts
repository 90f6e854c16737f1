/**
 * Multipart layout: part sizes, part counts, part boundaries and the counter offset of each part (FORMAT.md §6).
 *
 * Every part of an encrypted multipart upload is encrypted independently with the counter
 * `IV + (partNumber − 1) · partSize / 16`, so every non-last part must be exactly `partSize` bytes and `partSize`
 * must be a multiple of 16 (`oss-go-java.md` §7, `oss2-python.md` §6). We never let `ali-oss` choose the part size:
 * its `_getPartSize` does not align to 16.
 *
 * @packageDocumentation
 */

import { CseError, ErrorCode } from '../errors.js';
import { BLOCK_SIZE } from './layout.js';

/** Smallest part size we write: 100 KiB, what oss2 writers enforce (`oss2-python.md` §6.1) and OSS's own minimum. */
export const MIN_PART_SIZE = 102_400;

/** Most parts in one multipart upload (OSS limit). */
export const MAX_PARTS = 10_000;

/** Largest part OSS accepts: 5 GiB. */
export const MAX_PART_SIZE = 5 * 1024 * 1024 * 1024;

/** Part size used when the caller states no preference: 10 MiB, oss2's default (`oss2-python.md` §6.1). */
export const DEFAULT_PART_SIZE = 10 * 1024 * 1024;

function invalid(message: string): never {
  throw new CseError(ErrorCode.INVALID_ARGUMENT, message);
}

function checkDataSize(dataSize: number): void {
  if (!Number.isSafeInteger(dataSize) || dataSize < 0) {
    invalid(`expected a non-negative integer data size, got ${String(dataSize)}`);
  }
}

/** The structural rule the counter maths needs: a positive integer multiple of 16. */
function checkPartSizeShape(partSize: number): void {
  if (!Number.isSafeInteger(partSize) || partSize <= 0) {
    invalid(`expected a positive integer part size, got ${String(partSize)}`);
  }
  if (partSize % BLOCK_SIZE !== 0) {
    invalid(`part size ${partSize} must be a multiple of ${BLOCK_SIZE} (each part starts on a whole counter block)`);
  }
}

function roundUpToBlock(n: number): number {
  return Math.ceil(n / BLOCK_SIZE) * BLOCK_SIZE;
}

/**
 * The number of parts `dataSize` bytes take. An upload always has at least one part (Complete needs one), so an empty
 * upload is one empty part.
 *
 * @throws CseError ERR_CSE_INVALID_ARGUMENT when `dataSize` is not a non-negative integer or `partSize` is not a
 *   positive multiple of 16
 */
export function partCount(dataSize: number, partSize: number): number {
  checkDataSize(dataSize);
  checkPartSizeShape(partSize);
  return Math.max(1, Math.ceil(dataSize / partSize));
}

/**
 * Checks a part size against every rule for writing: a multiple of 16, at least {@link MIN_PART_SIZE}, at most
 * {@link MAX_PART_SIZE}, and at most {@link MAX_PARTS} parts for `dataSize`.
 *
 * @throws CseError ERR_CSE_INVALID_ARGUMENT naming the rule that failed
 */
export function validatePartSize(partSize: number, dataSize: number): void {
  checkDataSize(dataSize);
  checkPartSizeShape(partSize);
  if (partSize < MIN_PART_SIZE) invalid(`part size ${partSize} is below the minimum of ${MIN_PART_SIZE} bytes (100 KiB)`);
  if (partSize > MAX_PART_SIZE) invalid(`part size ${partSize} is above the maximum of ${MAX_PART_SIZE} bytes (5 GiB)`);
  const parts = partCount(dataSize, partSize);
  if (parts > MAX_PARTS) {
    invalid(`part size ${partSize} splits ${dataSize} bytes into ${parts} parts, more than the ${MAX_PARTS} allowed`);
  }
}

/**
 * A valid part size for `dataSize`: `preferred` (default {@link DEFAULT_PART_SIZE}) rounded up to a multiple of 16,
 * raised to {@link MIN_PART_SIZE}, and raised further (to a multiple of 16) until the upload fits in
 * {@link MAX_PARTS} parts. The result always passes {@link validatePartSize}.
 *
 * @param dataSize - total plaintext size
 * @param preferred - the caller's part size, if any
 * @throws CseError ERR_CSE_INVALID_ARGUMENT when `dataSize` is not a non-negative integer, `preferred` is not a
 *   positive integer or exceeds {@link MAX_PART_SIZE}, or `dataSize` is too large for any part size (more than
 *   10,000 × 5 GiB)
 */
export function choosePartSize(dataSize: number, preferred?: number): number {
  checkDataSize(dataSize);
  if (preferred !== undefined) {
    if (!Number.isSafeInteger(preferred) || preferred <= 0) invalid(`expected a positive integer part size, got ${String(preferred)}`);
    if (preferred > MAX_PART_SIZE) invalid(`part size ${preferred} is above the maximum of ${MAX_PART_SIZE} bytes (5 GiB)`);
  }
  const size = Math.max(roundUpToBlock(preferred ?? DEFAULT_PART_SIZE), MIN_PART_SIZE, roundUpToBlock(Math.ceil(dataSize / MAX_PARTS)));
  if (size > MAX_PART_SIZE) {
    invalid(`${dataSize} bytes do not fit in ${MAX_PARTS} parts of at most ${MAX_PART_SIZE} bytes`);
  }
  return size;
}

/** The plaintext bytes of one part: `[start, end)`. */
export interface PartBounds {
  /** Offset of the part's first byte in the object. */
  readonly start: number;
  /** Offset just past the part's last byte (exclusive). */
  readonly end: number;
  /** `end − start`: `partSize` for every part but the last. */
  readonly size: number;
}

function checkPartNumber(partNumber: number): void {
  if (!Number.isSafeInteger(partNumber) || partNumber < 1 || partNumber > MAX_PARTS) {
    invalid(`part number must be an integer from 1 to ${MAX_PARTS}, got ${String(partNumber)}`);
  }
}

/**
 * Where part `partNumber` (1-based) lies in an object of `dataSize` bytes.
 *
 * @throws CseError ERR_CSE_INVALID_ARGUMENT when `partNumber` is not in `1..partCount(dataSize, partSize)`, or as
 *   {@link partCount}
 */
export function partBounds(partNumber: number, partSize: number, dataSize: number): PartBounds {
  checkPartNumber(partNumber);
  const count = partCount(dataSize, partSize);
  if (partNumber > count) invalid(`part number ${partNumber} is past the last part (${count}) of ${dataSize} bytes`);
  const start = (partNumber - 1) * partSize;
  const end = Math.min(start + partSize, dataSize);
  return { start, end, size: end - start };
}

/**
 * The plaintext offset at which part `partNumber` starts, `(partNumber − 1) · partSize`; its first counter block is
 * `counterAt(iv, offset)`, i.e. `IV + (partNumber − 1) · partSize / 16` (`oss-go-java.md` §7).
 *
 * @throws CseError ERR_CSE_INVALID_ARGUMENT when `partNumber` is not an integer ≥ 1, `partSize` is not a positive
 *   multiple of 16, or the offset is not a safe integer
 */
export function partCounterOffset(partNumber: number, partSize: number): number {
  checkPartNumber(partNumber);
  checkPartSizeShape(partSize);
  const offset = (partNumber - 1) * partSize;
  if (!Number.isSafeInteger(offset)) invalid(`part ${partNumber} of size ${partSize} starts beyond 2^53 bytes`);
  return offset;
}
