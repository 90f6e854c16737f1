/**
 * The bulk kernel of CRC-64/ECMA-182 as a small WebAssembly module, generated here from readable code (no binary
 * blob, no build step, nothing copied): JavaScript has no 64-bit integers outside BigInt, so its table-driven CRC
 * (crc64.ts) needs two 32-bit tables and twice the loads; WebAssembly has `i64`.
 *
 * Why lanes (issue 15): a single slicing-by-8 loop is bound by its chain of dependent loads (register → 8 table
 * loads → XOR → next register), ~1.3–1.5 GB/s here whatever the language. The kernel therefore splits every block of
 * `LANES × LANE_BYTES` bytes into {@link LANES} independent runs that the CPU interleaves, each one a slicing-by-8
 * loop with its own register; the first lane starts from the running CRC register, the others from 0. CRC without
 * the initial/final inversion is linear over GF(2), so the block's register is
 * `Z(Z(Z(r0) ^ r1) ^ r2) ^ r3`, where `Z` is "feed LANE_BYTES zero bytes" — a fixed 64×64 GF(2) matrix, applied
 * as eight 256-entry byte tables (the same idea as crc64-join.ts, precomputed for one length).
 *
 * Memory layout (one 64 KiB page for code data, then the scratch the caller copies input into):
 * - 0..15: the register (low 32 bits at 0, high 32 bits at 4), read and written by the caller around each call
 * - `SLICE_BASE`: 8 slicing tables × 256 × i64 (table t advances a byte through t further zero bytes)
 * - `ZERO_BASE`: 8 tables × 256 × i64, `Z` applied to byte k of the register
 * - `SCRATCH_BASE` … + `SCRATCH_BYTES`: input
 *
 * @packageDocumentation
 */

/**
 * Independent runs per block. Measured here (MB per CPU-second, 64 KiB chunks, load ≈ 12): 2 and 4 lanes both
 * ~2.4–2.7 GB/s, 6 and 8 lanes lower (register spills); a variant that stored the word and read its bytes back with
 * `i32.load8_u` instead of shifting and masking was ~15 % slower. The loop is now bound by instruction throughput
 * (about 4.5 instructions per byte: shift, mask, load, XOR per table lookup), not by the load chain.
 */
export const LANES = 4;
/** Bytes per lane and block (a multiple of 8). Small enough that a 16 KiB chunk is mostly lane blocks. */
export const LANE_BYTES = 512;
const SLICE_BASE = 1024;
const ZERO_BASE = SLICE_BASE + 8 * 2048;
/** Where the input goes. */
export const SCRATCH_BASE = 65536;
/** How much input one call takes. */
export const SCRATCH_BYTES = 65536;

// ---- a minimal WebAssembly binary encoder (just what this one function needs) ----

function uleb(n: number): number[] {
  const out: number[] = [];
  let v = n >>> 0;
  do {
    let byte = v & 0x7f;
    v >>>= 7;
    if (v !== 0) byte |= 0x80;
    out.push(byte);
  } while (v !== 0);
  return out;
}

function sleb(n: number): number[] {
  const out: number[] = [];
  let v = n | 0;
  for (;;) {
    const byte = v & 0x7f;
    v >>= 7;
    const done = (v === 0 && (byte & 0x40) === 0) || (v === -1 && (byte & 0x40) !== 0);
    out.push(done ? byte : byte | 0x80);
    if (done) return out;
  }
}

function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body];
}

function vec(items: number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

/** Opcodes used below (WebAssembly core spec, §5.4 instructions). */
const op = {
  block: 0x02,
  loop: 0x03,
  end: 0x0b,
  br: 0x0c,
  brIf: 0x0d,
  localGet: 0x20,
  localSet: 0x21,
  localTee: 0x22,
  i32Load: 0x28,
  i64Load: 0x29,
  i32Load8u: 0x2d,
  i32Store: 0x36,
  i32Const: 0x41,
  i64Const: 0x42,
  i32LtU: 0x49,
  i32Add: 0x6a,
  i32Sub: 0x6b,
  i32And: 0x71,
  i32Xor: 0x73,
  i32Shl: 0x74,
  i32ShrU: 0x76,
  i64Or: 0x84,
  i64Xor: 0x85,
  i64Shl: 0x86,
  i64ShrU: 0x88,
  i32WrapI64: 0xa7,
  i64ExtendI32U: 0xad,
} as const;
const I32 = 0x7f;
const I64 = 0x7e;
const VOID = 0x40;

/** `memarg` of a load or store: alignment exponent and constant offset. */
function mem(align: number, offset: number): number[] {
  return [...uleb(align), ...uleb(offset)];
}

// Locals: parameters first.
const P = 0; // i32 input address (advances)
const N = 1; // i32 bytes left
const R = 2; // i64 running register
const W = 3; // i64 scratch word
const LO = 4; // i32 low half of the word being sliced
const HI = 5; // i32 high half
const J = 6; // i32 offset inside a lane
const LANE0 = 7; // i64 × LANES lane registers
const I32_LOCALS = 3; // LO, HI, J (plus the two i32 parameters)

/** `acc = XOR over k of table[(byte k of (lo, hi))]`, leaving the i64 on the stack; tables at `base`. */
function sliceLoads(base: number, reversed: boolean): number[] {
  const code: number[] = [];
  for (let k = 0; k < 8; k++) {
    const half = k < 4 ? LO : HI;
    const shift = (k % 4) * 8 - 3; // the byte, already scaled by 8 (i64 entries)
    code.push(op.localGet, half);
    if (shift < 0) code.push(op.i32Const, ...sleb(-shift), op.i32Shl);
    else code.push(op.i32Const, ...sleb(shift), op.i32ShrU);
    code.push(op.i32Const, ...sleb(0x7f8), op.i32And);
    // Slicing-by-8: byte k of the register goes through table 7 - k; the zero operator's tables are by byte k.
    const table = reversed ? 7 - k : k;
    code.push(op.i64Load, ...mem(3, base + table * 2048));
    if (k > 0) code.push(op.i64Xor);
  }
  return code;
}

/** Splits the i64 on the stack into LO and HI. */
function split(): number[] {
  return [
    op.localTee, W,
    op.i32WrapI64, op.localSet, LO,
    op.localGet, W, op.i64Const, ...sleb(32), op.i64ShrU, op.i32WrapI64, op.localSet, HI,
  ];
}

/** `update(p, n)`: runs the register at address 0 over `n` bytes at `p`. */
function updateBody(): number[] {
  const c: number[] = [];
  const blockBytes = LANES * LANE_BYTES;
  // R = register from memory (lo | hi << 32).
  c.push(op.i32Const, 0, op.i32Load, ...mem(2, 0), op.i64ExtendI32U);
  c.push(op.i32Const, 0, op.i32Load, ...mem(2, 4), op.i64ExtendI32U, op.i64Const, ...sleb(32), op.i64Shl, op.i64Or);
  c.push(op.localSet, R);

  // Lane blocks: while (n >= blockBytes).
  c.push(op.block, VOID, op.loop, VOID);
  c.push(op.localGet, N, op.i32Const, ...sleb(blockBytes), op.i32LtU, op.brIf, 1);
  c.push(op.localGet, R, op.localSet, LANE0);
  for (let l = 1; l < LANES; l++) c.push(op.i64Const, 0, op.localSet, LANE0 + l);
  c.push(op.i32Const, 0, op.localSet, J);
  c.push(op.loop, VOID);
  for (let l = 0; l < LANES; l++) {
    // word = load(p + j + l * LANE_BYTES) ^ lane register
    c.push(op.localGet, P, op.localGet, J, op.i32Add, op.i64Load, ...mem(3, l * LANE_BYTES));
    c.push(op.localGet, LANE0 + l, op.i64Xor, ...split());
    c.push(...sliceLoads(SLICE_BASE, true), op.localSet, LANE0 + l);
  }
  c.push(op.localGet, J, op.i32Const, 8, op.i32Add, op.localTee, J);
  c.push(op.i32Const, ...sleb(LANE_BYTES), op.i32LtU, op.brIf, 0, op.end);
  // Join the lanes: R = Z(…Z(Z(r0) ^ r1)…) ^ r(LANES-1).
  c.push(op.localGet, LANE0);
  for (let l = 1; l < LANES; l++) {
    c.push(...split(), ...sliceLoads(ZERO_BASE, false), op.localGet, LANE0 + l, op.i64Xor);
  }
  c.push(op.localSet, R);
  c.push(op.localGet, P, op.i32Const, ...sleb(blockBytes), op.i32Add, op.localSet, P);
  c.push(op.localGet, N, op.i32Const, ...sleb(blockBytes), op.i32Sub, op.localSet, N);
  c.push(op.br, 0, op.end, op.end);

  // Whole words: while (n >= 8), one slicing-by-8 step.
  c.push(op.block, VOID, op.loop, VOID);
  c.push(op.localGet, N, op.i32Const, 8, op.i32LtU, op.brIf, 1);
  c.push(op.localGet, P, op.i64Load, ...mem(3, 0), op.localGet, R, op.i64Xor, ...split());
  c.push(...sliceLoads(SLICE_BASE, true), op.localSet, R);
  c.push(op.localGet, P, op.i32Const, 8, op.i32Add, op.localSet, P);
  c.push(op.localGet, N, op.i32Const, 8, op.i32Sub, op.localSet, N);
  c.push(op.br, 0, op.end, op.end);

  // Last bytes: R = (R >> 8) ^ T0[(R ^ byte) & 0xff].
  c.push(op.block, VOID, op.loop, VOID);
  c.push(op.localGet, N, op.i32Const, 1, op.i32LtU, op.brIf, 1);
  c.push(op.localGet, R, op.i64Const, 8, op.i64ShrU);
  c.push(op.localGet, R, op.i32WrapI64, op.localGet, P, op.i32Load8u, ...mem(0, 0), op.i32Xor);
  c.push(op.i32Const, ...sleb(0xff), op.i32And, op.i32Const, 3, op.i32Shl);
  c.push(op.i64Load, ...mem(3, SLICE_BASE), op.i64Xor, op.localSet, R);
  c.push(op.localGet, P, op.i32Const, 1, op.i32Add, op.localSet, P);
  c.push(op.localGet, N, op.i32Const, 1, op.i32Sub, op.localSet, N);
  c.push(op.br, 0, op.end, op.end);

  // Register back to memory.
  c.push(op.i32Const, 0, op.localGet, R, op.i32WrapI64, op.i32Store, ...mem(2, 0));
  c.push(op.i32Const, 0, op.localGet, R, op.i64Const, ...sleb(32), op.i64ShrU, op.i32WrapI64, op.i32Store, ...mem(2, 4));
  c.push(op.end);
  const locals = vec([
    [...uleb(2), I64], // R, W
    [...uleb(I32_LOCALS), I32], // LO, HI, J
    [...uleb(LANES), I64], // lane registers
  ]);
  const body = [...locals, ...c];
  return [...uleb(body.length), ...body];
}

/** The module's bytes: one function `update(i32, i32)` and one exported memory of two pages. */
export function crc64WasmBytes(): Uint8Array {
  const pages = (SCRATCH_BASE + SCRATCH_BYTES) / 65536;
  const name = (s: string): number[] => vec(Array.from(s, (ch) => [ch.charCodeAt(0)]));
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version 1
    ...section(1, vec([[0x60, ...vec([[I32], [I32]]), ...vec([])]])), // type 0: (i32, i32) -> ()
    ...section(3, vec([[0]])), // function 0 has type 0
    ...section(5, vec([[0x01, ...uleb(pages), ...uleb(pages)]])), // memory: fixed size, never grows
    ...section(7, vec([
      [...name('update'), 0x00, 0],
      [...name('memory'), 0x02, 0],
    ])),
    ...section(10, vec([updateBody()])),
  ];
  return Uint8Array.from(bytes);
}

/** What the caller gets: the call, the register words and the input window. */
export interface Crc64Kernel {
  /** Runs the register (in `register[0]` low, `register[1]` high) over `n` bytes already at `SCRATCH_BASE`. */
  readonly update: (n: number) => void;
  readonly register: Int32Array;
  readonly scratch: Uint8Array;
}

interface WasmGlobal {
  readonly Module: new (bytes: Uint8Array) => object;
  readonly Instance: new (module: object, imports: object) => { readonly exports: Record<string, unknown> };
}

/**
 * Instantiates the kernel with the given tables, or returns `undefined` where WebAssembly is unavailable or refused
 * (e.g. a content security policy without `wasm-unsafe-eval`): the caller then keeps its JavaScript loop.
 *
 * @param slicing - the 8 slicing tables, `[lo, hi]` 32-bit halves, `table[t * 256 + b]`
 * @param zeros - the 8 tables of "feed LANE_BYTES zero bytes", by register byte, in the same form
 */
export function instantiateCrc64Kernel(
  slicing: readonly [Int32Array, Int32Array],
  zeros: readonly [Int32Array, Int32Array],
): Crc64Kernel | undefined {
  const wasm = (globalThis as { WebAssembly?: WasmGlobal }).WebAssembly;
  if (wasm === undefined) return undefined;
  try {
    const instance = new wasm.Instance(new wasm.Module(crc64WasmBytes()), {});
    const update = instance.exports['update'] as (p: number, n: number) => void;
    const memory = instance.exports['memory'] as { readonly buffer: ArrayBuffer };
    const words = new Int32Array(memory.buffer);
    // i64 entries are little-endian in WebAssembly memory: low word first.
    for (const [base, [lo, hi]] of [[SLICE_BASE, slicing], [ZERO_BASE, zeros]] as const) {
      for (let i = 0; i < 2048; i++) {
        words[base / 4 + 2 * i] = lo[i] ?? 0;
        words[base / 4 + 2 * i + 1] = hi[i] ?? 0;
      }
    }
    return {
      update: (n: number) => {
        update(SCRATCH_BASE, n);
      },
      register: words.subarray(0, 2),
      scratch: new Uint8Array(memory.buffer, SCRATCH_BASE, SCRATCH_BYTES),
    };
  } catch {
    return undefined;
  }
}
