/**
 * Joining many CRC-64s of consecutive blocks into the CRC of the whole: a multipart object's CRC from its parts'
 * (what OSS reports for it), a download's from its ranges'.
 *
 * `crc64Combine` (crc64.ts) rebuilds the "append n zero bytes" operator on every call, a few milliseconds each: fine
 * for one join, 40 s for the 10,000 parts of a maximal upload. Every part but the last has the same length, so this
 * module builds each length's operator once and then joins a block with one 64×64 GF(2) matrix-vector product.
 *
 * @packageDocumentation
 */

/** The reflected ECMA-182 polynomial (the same constant as crc64.ts). */
const POLY = 0xc96c5795d7870f42n;

/** A 64×64 GF(2) matrix as its 64 columns. */
type Matrix = readonly bigint[];

function times(matrix: Matrix, vector: bigint): bigint {
  let sum = 0n;
  let v = vector;
  for (let i = 0; v !== 0n; i++, v >>= 1n) {
    if ((v & 1n) !== 0n) sum ^= matrix[i] ?? 0n;
  }
  return sum;
}

/** `a ∘ b` (first b, then a). */
function compose(a: Matrix, b: Matrix): bigint[] {
  return b.map((column) => times(a, column));
}

/** The operator that feeds one zero byte through the CRC register. */
const ONE_ZERO_BYTE: Matrix = ((): Matrix => {
  // One zero bit: shift right, XOR the polynomial when the bit shifted out was 1.
  const bit: bigint[] = [POLY];
  for (let i = 1; i < 64; i++) bit.push(1n << BigInt(i - 1));
  let m: Matrix = bit;
  for (let i = 0; i < 3; i++) m = compose(m, m); // 2, 4, 8 bits
  return m;
})();

const IDENTITY: Matrix = Array.from({ length: 64 }, (_, i) => 1n << BigInt(i));

/**
 * Joins CRC-64/ECMA-182 values of consecutive blocks. Caches the operator of each block length it meets, so joining
 * thousands of equal-length parts costs one operator build.
 */
export class Crc64Joiner {
  readonly #operators = new Map<number, Matrix>();

  /**
   * The CRC of `A‖B` from `crc(A)`, `crc(B)` and `|B|`.
   * @param crcA - CRC of the first block (0 for "nothing yet")
   * @param crcB - CRC of the second block
   * @param lengthB - byte length of the second block
   * @throws RangeError `expected a byte length, got …` when `lengthB` is not a non-negative safe integer (the CRCs
   *   are not checked, as in `crc64Combine`)
   */
  join(crcA: bigint, crcB: bigint, lengthB: number): bigint {
    if (!Number.isSafeInteger(lengthB) || lengthB < 0) throw new RangeError(`expected a byte length, got ${String(lengthB)}`);
    if (lengthB === 0) return crcA;
    return times(this.#operator(lengthB), crcA) ^ crcB;
  }

  /**
   * The CRC of a sequence of blocks, in order.
   * @param blocks - each block's CRC and length
   * @throws RangeError `expected a byte length, got …` as {@link Crc64Joiner.join}, for the first block whose `size`
   *   is not a non-negative safe integer
   */
  joinAll(blocks: Iterable<{ readonly crc64: bigint; readonly size: number }>): bigint {
    let crc = 0n;
    for (const b of blocks) crc = this.join(crc, b.crc64, b.size);
    return crc;
  }

  #operator(length: number): Matrix {
    const cached = this.#operators.get(length);
    if (cached !== undefined) return cached;
    let result: Matrix = IDENTITY;
    let base: Matrix = ONE_ZERO_BYTE;
    let n = length;
    while (n > 0) {
      if (n % 2 === 1) result = compose(base, result);
      n = Math.floor(n / 2);
      if (n > 0) base = compose(base, base);
    }
    this.#operators.set(length, result);
    return result;
  }
}
