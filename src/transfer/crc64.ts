/**
 * CRC-64/ECMA-182 as OSS computes it for `x-oss-hash-crc64ecma`: the reflected form of polynomial
 * 0x42F0E1EBA9EA3693 (reversed: 0xC96C5795D7870F42), initial value and final XOR all ones. Check value of the ASCII
 * bytes `123456789`: 0x995DC9BBDF1939FA (`oss-go-java.md` §10: every SDK checks it over the ciphertext).
 *
 * Speed: inputs of 256 bytes and more go through a WebAssembly kernel (crc64-wasm.ts: native i64 tables, four
 * independent lanes per 2 KiB block joined with a precomputed zero-run operator), about twice the JavaScript loop;
 * shorter inputs, and runtimes without WebAssembly, use slicing-by-8 over two 32-bit halves ({@link sliceUpdate}, no
 * BigInt in the loop). BigInt appears only at the API edge and in {@link crc64Combine}, which is O(log n) matrix work.
 *
 * @packageDocumentation
 */

import { instantiateCrc64Kernel, LANE_BYTES, SCRATCH_BYTES, type Crc64Kernel } from './crc64-wasm.js';

/** The reflected polynomial, split in halves. */
const POLY_HI = 0xc96c5795;
const POLY_LO = 0xd7870f42;

/**
 * Eight 256-entry tables, `table[k * 256 + b]`, low and high halves kept apart. Int32 (not Uint32) so that every
 * value stays a small integer for the JIT: XOR only cares about the bits.
 */
const TABLE_LO = new Int32Array(8 * 256);
const TABLE_HI = new Int32Array(8 * 256);

(function buildTables(): void {
  for (let n = 0; n < 256; n++) {
    let lo = n;
    let hi = 0;
    for (let bit = 0; bit < 8; bit++) {
      const carry = lo & 1;
      lo = (lo >>> 1) | (hi << 31);
      hi = hi >>> 1;
      if (carry !== 0) {
        lo ^= POLY_LO;
        hi ^= POLY_HI;
      }
    }
    TABLE_LO[n] = lo;
    TABLE_HI[n] = hi;
  }
  // Table k advances a byte through k further zero bytes: T[k][b] = T[0][T[k-1][b] & 0xff] ^ (T[k-1][b] >> 8).
  for (let k = 1; k < 8; k++) {
    for (let n = 0; n < 256; n++) {
      const prevLo = TABLE_LO[(k - 1) * 256 + n] ?? 0;
      const prevHi = TABLE_HI[(k - 1) * 256 + n] ?? 0;
      const index = prevLo & 0xff;
      TABLE_LO[k * 256 + n] = ((prevLo >>> 8) | (prevHi << 24)) ^ (TABLE_LO[index] ?? 0);
      TABLE_HI[k * 256 + n] = (prevHi >>> 8) ^ (TABLE_HI[index] ?? 0);
    }
  }
})();

/** Whether 32-bit words can be read through an `Int32Array` view (the CRC is defined over little-endian words). */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

const MASK64 = (1n << 64n) - 1n;

/**
 * The JavaScript kernel: slicing-by-8 over two 32-bit halves, from register `(lo, hi)`. Used for short inputs (where
 * a call into WebAssembly costs more than it saves) and where WebAssembly is unavailable; the reference the
 * WebAssembly kernel is tested against.
 */
export function sliceUpdate(lo0: number, hi0: number, data: Uint8Array): { lo: number; hi: number } {
  const tl = TABLE_LO;
  const th = TABLE_HI;
  const n = data.length;
  let lo = lo0;
  let hi = hi0;
  let i = 0;
  // Single bytes up to a 4-byte boundary, so that the bulk can be read as aligned 32-bit words.
  while (i < n && ((data.byteOffset + i) & 3) !== 0) {
    const index = (lo ^ (data[i] as number)) & 0xff;
    lo = ((lo >>> 8) | (hi << 24)) ^ (tl[index] as number);
    hi = (hi >>> 8) ^ (th[index] as number);
    i++;
  }
  const blocks = (n - i) >>> 3;
  if (blocks > 0) {
    const words = LITTLE_ENDIAN ? new Int32Array(data.buffer, data.byteOffset + i, blocks * 2) : undefined;
    for (let b = 0; b < blocks; b++) {
      if (words !== undefined) {
        lo ^= words[2 * b] as number;
        hi ^= words[2 * b + 1] as number;
      } else {
        const p = i + 8 * b;
        lo ^= (data[p] as number) | ((data[p + 1] as number) << 8) | ((data[p + 2] as number) << 16) | ((data[p + 3] as number) << 24);
        hi ^= (data[p + 4] as number) | ((data[p + 5] as number) << 8) | ((data[p + 6] as number) << 16) | ((data[p + 7] as number) << 24);
      }
      // Slicing-by-8: byte j of the register goes through table 7 - j.
      const a0 = 1792 + (lo & 0xff);
      const a1 = 1536 + ((lo >>> 8) & 0xff);
      const a2 = 1280 + ((lo >>> 16) & 0xff);
      const a3 = 1024 + (lo >>> 24);
      const a4 = 768 + (hi & 0xff);
      const a5 = 512 + ((hi >>> 8) & 0xff);
      const a6 = 256 + ((hi >>> 16) & 0xff);
      const a7 = hi >>> 24;
      lo =
        (tl[a0] as number) ^ (tl[a1] as number) ^ (tl[a2] as number) ^ (tl[a3] as number) ^
        (tl[a4] as number) ^ (tl[a5] as number) ^ (tl[a6] as number) ^ (tl[a7] as number);
      hi =
        (th[a0] as number) ^ (th[a1] as number) ^ (th[a2] as number) ^ (th[a3] as number) ^
        (th[a4] as number) ^ (th[a5] as number) ^ (th[a6] as number) ^ (th[a7] as number);
    }
    i += blocks * 8;
  }
  while (i < n) {
    const index = (lo ^ (data[i] as number)) & 0xff;
    lo = ((lo >>> 8) | (hi << 24)) ^ (tl[index] as number);
    hi = (hi >>> 8) ^ (th[index] as number);
    i++;
  }
  return { lo, hi };
}

/**
 * The tables of "feed LANE_BYTES zero bytes through the register" (crc64-wasm.ts joins its lanes with them), by
 * register byte k: entry `k * 256 + b` is the operator applied to `b << 8k`. Built from the 64 basis vectors by
 * linearity (each one run through LANE_BYTES zero bytes), a few hundred microseconds once.
 */
function zeroOperatorTables(): [Int32Array, Int32Array] {
  const basisLo = new Int32Array(64);
  const basisHi = new Int32Array(64);
  for (let bit = 0; bit < 64; bit++) {
    let lo = bit < 32 ? 1 << bit : 0;
    let hi = bit < 32 ? 0 : 1 << (bit - 32);
    for (let z = 0; z < LANE_BYTES; z++) {
      const index = lo & 0xff;
      lo = ((lo >>> 8) | (hi << 24)) ^ (TABLE_LO[index] as number);
      hi = (hi >>> 8) ^ (TABLE_HI[index] as number);
    }
    basisLo[bit] = lo;
    basisHi[bit] = hi;
  }
  const outLo = new Int32Array(8 * 256);
  const outHi = new Int32Array(8 * 256);
  for (let k = 0; k < 8; k++) {
    for (let b = 0; b < 256; b++) {
      let lo = 0;
      let hi = 0;
      for (let bit = 0; bit < 8; bit++) {
        if ((b & (1 << bit)) !== 0) {
          lo ^= basisLo[8 * k + bit] as number;
          hi ^= basisHi[8 * k + bit] as number;
        }
      }
      outLo[k * 256 + b] = lo;
      outHi[k * 256 + b] = hi;
    }
  }
  return [outLo, outHi];
}

/** Below this many bytes the JavaScript loop is used (a call and copy into WebAssembly cost about as much). */
const WASM_MIN_BYTES = 256;

/** `undefined` before the first use, `null` where WebAssembly is unavailable. */
let kernelState: Crc64Kernel | null | undefined;

function getKernel(): Crc64Kernel | undefined {
  if (kernelState === undefined) {
    kernelState = (LITTLE_ENDIAN ? instantiateCrc64Kernel([TABLE_LO, TABLE_HI], zeroOperatorTables()) : undefined) ?? null;
  }
  return kernelState ?? undefined;
}

/**
 * An incremental CRC-64/ECMA-182 (OSS flavour). Feed bytes with {@link Crc64.update}; read the value with
 * {@link Crc64.digest} (a `bigint`) or {@link Crc64.toString} (the unsigned decimal string OSS sends).
 */
export class Crc64 {
  // The running register, pre-inverted (init all ones), as two unsigned 32-bit halves.
  #lo = -1;
  #hi = -1;
  #length = 0;

  /**
   * Adds bytes.
   * @param data - the next bytes
   * @returns this, for chaining
   * @throws TypeError `expected a Uint8Array` when `data` is not a `Uint8Array` (a `Buffer` is one); the state is
   *   unchanged
   */
  update(data: Uint8Array): this {
    if (!(data instanceof Uint8Array)) throw new TypeError('expected a Uint8Array');
    const n = data.length;
    const kernel = n >= WASM_MIN_BYTES ? getKernel() : undefined;
    if (kernel === undefined) {
      const r = sliceUpdate(this.#lo, this.#hi, data);
      this.#lo = r.lo;
      this.#hi = r.hi;
    } else {
      const reg = kernel.register;
      reg[0] = this.#lo;
      reg[1] = this.#hi;
      // The input is copied into the module's memory (WebAssembly cannot read a Buffer in place): a memcpy of data
      // that is in cache, a few per cent of the CRC.
      for (let i = 0; i < n; i += SCRATCH_BYTES) {
        const piece = data.subarray(i, Math.min(n, i + SCRATCH_BYTES));
        kernel.scratch.set(piece);
        kernel.update(piece.length);
      }
      this.#lo = reg[0];
      this.#hi = reg[1];
    }
    this.#length += n;
    return this;
  }

  /** How many bytes have been fed. */
  get length(): number {
    return this.#length;
  }

  /** The CRC of everything fed so far (the hasher can keep going). */
  digest(): bigint {
    return (BigInt((~this.#hi) >>> 0) << 32n) | BigInt((~this.#lo) >>> 0);
  }

  /** The CRC as OSS sends it: an unsigned decimal string. */
  toString(): string {
    return this.digest().toString();
  }
}

/**
 * CRC-64/ECMA-182 of `data` (OSS flavour).
 * @param data - the bytes
 * @returns the CRC as an unsigned 64-bit `bigint`
 * @throws TypeError `expected a Uint8Array` when `data` is not a `Uint8Array` (a `Buffer` is one)
 */
export function crc64(data: Uint8Array): bigint {
  return new Crc64().update(data).digest();
}

/** 64×64 GF(2) matrix times vector: the XOR of the columns selected by `vector`'s bits. */
function matrixTimes(matrix: readonly bigint[], vector: bigint): bigint {
  let sum = 0n;
  let v = vector;
  for (let i = 0; v !== 0n; i++, v >>= 1n) {
    if ((v & 1n) !== 0n) sum ^= matrix[i] ?? 0n;
  }
  return sum;
}

function matrixSquare(matrix: readonly bigint[]): bigint[] {
  const out: bigint[] = new Array<bigint>(64);
  for (let i = 0; i < 64; i++) out[i] = matrixTimes(matrix, matrix[i] ?? 0n);
  return out;
}

/**
 * The CRC of the concatenation `A‖B` from `crc(A)`, `crc(B)` and `|B|`, without the data (zlib's `crc32_combine`
 * method, in 64 bits): the multipart object's CRC from its parts' CRCs, as OSS derives it.
 *
 * @param crcA - CRC of the first block
 * @param crcB - CRC of the second block
 * @param lengthB - byte length of the second block (a non-negative safe integer)
 * @returns the CRC of both blocks in order
 * @throws RangeError `expected a byte length, got …` when `lengthB` is not a non-negative safe integer (checked
 *   first); RangeError `expected 64-bit unsigned CRCs` when `crcA` or `crcB` is below 0 or above 2^64−1. Nothing
 *   else: the CRCs are not type-checked, so a `number` where a `bigint` belongs fails with the engine's `TypeError`
 *   about mixing BigInt and other types (or, with `lengthB` 0, `crcA` comes back as given).
 */
export function crc64Combine(crcA: bigint, crcB: bigint, lengthB: number): bigint {
  if (!Number.isSafeInteger(lengthB) || lengthB < 0) throw new RangeError(`expected a byte length, got ${String(lengthB)}`);
  if (crcA < 0n || crcA > MASK64 || crcB < 0n || crcB > MASK64) throw new RangeError('expected 64-bit unsigned CRCs');
  if (lengthB === 0) return crcA;
  // odd: the operator for one zero bit; even: for two zero bits.
  let odd: bigint[] = new Array<bigint>(64);
  odd[0] = (BigInt(POLY_HI) << 32n) | BigInt(POLY_LO);
  for (let i = 1; i < 64; i++) odd[i] = 1n << BigInt(i - 1);
  let even = matrixSquare(odd); // two zero bits
  odd = matrixSquare(even); // four zero bits
  let crc = crcA;
  let remaining = lengthB;
  // Apply len2 zero bytes to crcA: square the operator each round (first round: one byte = eight bits).
  do {
    even = matrixSquare(odd);
    if (remaining % 2 === 1) crc = matrixTimes(even, crc);
    remaining = Math.floor(remaining / 2);
    if (remaining === 0) break;
    odd = matrixSquare(even);
    if (remaining % 2 === 1) crc = matrixTimes(odd, crc);
    remaining = Math.floor(remaining / 2);
  } while (remaining !== 0);
  return crc ^ crcB;
}

/**
 * Parses an `x-oss-hash-crc64ecma` header value (unsigned decimal).
 * @returns the CRC, or `undefined` when the value is absent or not a decimal number below 2^64
 */
export function parseCrc64Header(value: string | undefined): bigint | undefined {
  if (value === undefined || !/^[0-9]{1,20}$/.test(value.trim())) return undefined;
  const n = BigInt(value.trim());
  return n > MASK64 ? undefined : n;
}
