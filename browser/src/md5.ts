/**
 * MD5 (RFC 1321), incremental. WebCrypto has no MD5, and the envelope's `unencrypted-content-md5` is checked against
 * the decrypted bytes of a whole-object read, as in Node (FORMAT.md §7 note). Used for integrity, never for keys.
 *
 * @packageDocumentation
 */

const S = [7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21];
const K = new Int32Array(64);
for (let i = 0; i < 64; i++) K[i] = Math.floor(Math.abs(Math.sin(i + 1)) * 0x1_0000_0000) | 0;

/** An incremental MD5. */
export class Md5 {
  readonly #state = new Int32Array([0x67452301, 0xefcdab89 | 0, 0x98badcfe | 0, 0x10325476]);
  readonly #block = new Uint8Array(64);
  readonly #words = new Int32Array(16);
  #used = 0;
  #length = 0;

  /**
   * Adds bytes.
   * @param data - the next bytes
   * @returns this
   */
  update(data: Uint8Array): this {
    this.#length += data.length;
    let i = 0;
    while (i < data.length) {
      const take = Math.min(64 - this.#used, data.length - i);
      this.#block.set(data.subarray(i, i + take), this.#used);
      this.#used += take;
      i += take;
      if (this.#used === 64) {
        this.#compress();
        this.#used = 0;
      }
    }
    return this;
  }

  /** @returns the 16-byte digest (the instance is spent) */
  digest(): Uint8Array {
    const bits = this.#length * 8;
    const pad = new Uint8Array(((this.#used < 56 ? 56 : 120) - this.#used) + 8);
    pad[0] = 0x80;
    const lo = bits % 0x1_0000_0000;
    const hi = Math.floor(bits / 0x1_0000_0000);
    const at = pad.length - 8;
    for (let b = 0; b < 4; b++) {
      pad[at + b] = (lo >>> (8 * b)) & 0xff;
      pad[at + 4 + b] = (hi >>> (8 * b)) & 0xff;
    }
    const saved = this.#length;
    this.update(pad);
    this.#length = saved;
    const out = new Uint8Array(16);
    for (let w = 0; w < 4; w++) for (let b = 0; b < 4; b++) out[w * 4 + b] = ((this.#state[w] ?? 0) >>> (8 * b)) & 0xff;
    return out;
  }

  #compress(): void {
    const x = this.#words;
    const blk = this.#block;
    for (let w = 0; w < 16; w++) {
      x[w] = (blk[w * 4] ?? 0) | ((blk[w * 4 + 1] ?? 0) << 8) | ((blk[w * 4 + 2] ?? 0) << 16) | ((blk[w * 4 + 3] ?? 0) << 24);
    }
    const st = this.#state;
    let a = st[0] ?? 0;
    let b = st[1] ?? 0;
    let c = st[2] ?? 0;
    let d = st[3] ?? 0;
    for (let i = 0; i < 64; i++) {
      let f: number;
      let g: number;
      if (i < 16) {
        f = (b & c) | (~b & d);
        g = i;
      } else if (i < 32) {
        f = (d & b) | (~d & c);
        g = (5 * i + 1) % 16;
      } else if (i < 48) {
        f = b ^ c ^ d;
        g = (3 * i + 5) % 16;
      } else {
        f = c ^ (b | ~d);
        g = (7 * i) % 16;
      }
      const s = S[(i >> 4) * 4 + (i % 4)] ?? 0;
      const sum = (a + f + (K[i] ?? 0) + (x[g] ?? 0)) | 0;
      a = d;
      d = c;
      c = b;
      b = (b + ((sum << s) | (sum >>> (32 - s)))) | 0;
    }
    st[0] = ((st[0] ?? 0) + a) | 0;
    st[1] = ((st[1] ?? 0) + b) | 0;
    st[2] = ((st[2] ?? 0) + c) | 0;
    st[3] = ((st[3] ?? 0) + d) | 0;
  }
}
