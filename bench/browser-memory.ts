/**
 * Memory of a large browser upload (issue 19: "a 1 GiB File uploads in parts with bounded heap growth"): headless
 * Chromium makes `--size` seeded bytes 1 MiB at a time, as a ReadableStream (`--source stream`, default) or a File
 * (`--source file`; the bytes live in the browser process's blob storage), then `EncryptionClient.multipartUpload` sends it to the embedded server.
 * Reported: the page's JS heap (`performance.memory`, precise) before and at its peak, sampled at every finished
 * part, and the renderer process's resident memory (VmRSS of chromium `--type=renderer` processes, from /proc,
 * every 100 ms) before the upload and at its peak. The object is then read back by the Node library and compared.
 *
 * Usage: node --import tsx bench/browser-memory.ts [--size 1GiB] [--part-size 10MiB] [--parallel 4] [--source stream|file]
 * Uses the browser test harness (test/browser/support.ts): needs `npm run build` and Debian's chromium.
 */

import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { EncryptionClient, RsaMasterKey } from '../src/index.js';
import { vectorKeys } from '../test/helpers/vectors.js';
import { SKIP, seededBytes, startHarness } from '../test/browser/support.js';
import { formatSize, parseSize } from './lib/units.js';

const { values } = parseArgs({
  options: {
    size: { type: 'string', default: '1GiB' },
    'part-size': { type: 'string', default: '10MiB' },
    parallel: { type: 'string', default: '4' },
    // file: a File built in the page 1 MiB at a time (Chromium keeps its bytes in blob storage; headless Chromium 156
    // here failed to read a 1 GiB one back: NotReadableError); stream: a ReadableStream generated as it is read.
    source: { type: 'string', default: 'stream' },
  },
});
const size = parseSize(values.size);
const partSize = parseSize(values['part-size']);
const parallel = Number(values.parallel);

function rendererRss(): number {
  let total = 0;
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (!cmd.includes('chromium') || !cmd.includes('--type=renderer')) continue;
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (m !== null) total += Number(m[1]) * 1024;
    } catch {
      // The process ended between listing and reading.
    }
  }
  return total;
}

if (SKIP !== undefined) {
  console.error(`browser-memory: ${SKIP}`);
  process.exit(2);
}
const h = await startHarness({ protocolTimeoutMs: 3_600_000 });
try {
  await h.page.evaluate('T.heap()');
  const rssBase = rendererRss();
  let rssPeak = rssBase;
  const timer = setInterval(() => {
    rssPeak = Math.max(rssPeak, rendererRss());
  }, 100);
  const r = await h.call('bigUpload', { name: 'bench/big.bin', size, seed: 99, partSize, parallel, byName: true, source: values.source });
  clearInterval(timer);
  if (r.error !== undefined) throw new Error(JSON.stringify(r.error));
  // Read back with the Node library, streamed, and compare with the same seeded generator.
  const node = new EncryptionClient(h.oss, { masterKey: new RsaMasterKey({ privateKey: vectorKeys.privatePkcs8() }) });
  const got = await node.getStream('bench/big.bin');
  const a = createHash('sha256');
  for await (const c of got.stream as AsyncIterable<Buffer>) a.update(c);
  const b = createHash('sha256');
  for (let at = 0; at < size; at += 1 << 20) b.update(seededBytes(99, Math.min(1 << 20, size - at), at));
  const same = a.digest('hex') === b.digest('hex');
  const line = (label: string, v: string): void => {
    console.log(`${label.padEnd(34)} ${v}`);
  };
  line('source', `${values.source} of ${formatSize(size)} in ${r.parts} parts of ${formatSize(partSize)}, parallel ${parallel}`);
  line('upload time', `${(r.ms / 1000).toFixed(1)} s (${(size / 1048576 / (r.ms / 1000)).toFixed(1)} MiB/s)`);
  line('page JS heap: before → peak', `${formatSize(r.heapBase)} → ${formatSize(r.heapPeak)} (+${formatSize(r.heapPeak - r.heapBase)})`);
  line('renderer RSS: before → peak', `${formatSize(rssBase)} → ${formatSize(rssPeak)} (+${formatSize(rssPeak - rssBase)})`);
  line('read back by Node, SHA-256 equal', String(same));
  if (!same) process.exitCode = 1;
} finally {
  await h.close();
}
