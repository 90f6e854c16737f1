/**
 * CRC-64/ECMA rows (issue 8 §2): the client's CRC-64 (src/transfer/crc64.ts) over ciphertext, in MB/s, against the
 * cost it is added to (raw AES-CTR over the same bytes) and against the embedded server's own CRC-64
 * (server/src/crc64.ts, which every PUT to the server pays). Its share of an end-to-end GET is an e2e row.
 */

import { createCipheriv, randomBytes } from 'node:crypto';
import { Crc64 as ServerCrc64 } from '../../server/src/crc64.js';
import type { BenchContext, RowGroup } from '../lib/context.js';
import { timed } from '../lib/measure.js';

/** The client's CRC-64 module, when the transfer layer has one. */
export interface ClientCrc64 {
  readonly Crc64: new () => { update(data: Uint8Array): unknown; digest(): bigint };
}

/**
 * Loads src/transfer/crc64.ts.
 * @returns the module, or the reason it cannot be used
 */
export async function loadClientCrc64(): Promise<ClientCrc64 | string> {
  try {
    const mod = (await import('../../src/transfer/crc64.js')) as Partial<ClientCrc64>;
    if (typeof mod.Crc64 !== 'function') return 'src/transfer/crc64.ts exports no Crc64 class';
    // Check value of CRC-64/XZ ("123456789"), so a broken CRC is never timed as a fast one.
    const check = new mod.Crc64().update(Buffer.from('123456789')) as { digest(): bigint };
    if (check.digest() !== 0x995dc9bbdf1939fan) return 'src/transfer/crc64.ts gives a wrong check value';
    return mod as ClientCrc64;
  } catch (e) {
    return `src/transfer/crc64.ts cannot be loaded (${e instanceof Error ? e.message : String(e)})`;
  }
}

/** The CRC-64 row group. */
export const crc64Rows: RowGroup = {
  name: 'crc64',
  title: 'CRC-64/ECMA over ciphertext (client implementation)',
  async run(ctx: BenchContext): Promise<void> {
    const crc = await loadClientCrc64();
    if (typeof crc === 'string') {
      ctx.skip('crc64', 'crc64.speed', crc);
      return;
    }
    const total = ctx.options.cipherBytes;
    const chunk = 64 * 1024;
    const key = randomBytes(32);
    const iv = randomBytes(16);
    const data = createCipheriv('aes-256-ctr', key, iv).update(randomBytes(total));
    const chunks: Buffer[] = [];
    for (let i = 0; i < data.length; i += chunk) chunks.push(data.subarray(i, i + chunk));
    const clientCrc = async (batch: number) =>
      timed(() => {
        for (let i = 0; i < batch; i++) {
          const h = new crc.Crc64();
          for (const c of chunks) h.update(c);
          h.digest();
        }
      });
    await ctx.compare({
      group: 'crc64',
      id: 'crc64.vs-aes',
      label: 'CRC-64 over ciphertext, 64 KiB chunks',
      subject: 'src/transfer/crc64.ts Crc64.update (WebAssembly kernel)',
      baseline: 'raw AES-256-CTR over the same bytes (sync loop)',
      cpuBound: true,
      metric: 'speed',
      unit: 'B',
      workPerUnit: total,
      a: clientCrc,
      b: async (batch) =>
        timed(() => {
          for (let i = 0; i < batch; i++) {
            const c = createCipheriv('aes-256-ctr', key, iv);
            for (const x of chunks) c.update(x);
          }
        }),
      note: 'ratio < 1 means the CRC is slower than the AES it accompanies; see the e2e share row for what it costs a GET',
    });
    await ctx.compare({
      group: 'crc64',
      id: 'crc64.vs-server',
      label: 'CRC-64: client vs embedded server',
      subject: 'src/transfer/crc64.ts (WebAssembly kernel, 4 lanes; JS slicing-by-8 below 256 B)',
      baseline: 'server/src/crc64.ts (JS slicing-by-8, the embedded server, on every PUT)',
      cpuBound: true,
      metric: 'speed',
      unit: 'B',
      workPerUnit: total,
      a: clientCrc,
      b: async (batch) =>
        timed(() => {
          for (let i = 0; i < batch; i++) {
            const h = new ServerCrc64();
            for (const c of chunks) h.update(c);
            h.digest();
          }
        }),
    });
  },
};
