/** Command-line flags of `npm run bench`. */

import { parseArgs } from 'node:util';
import { parseSize } from './units.js';

/** Everything a run is configured with (recorded in the JSON). */
export interface BenchOptions {
  readonly mode: 'quick' | 'full';
  /** Measured interleaved pairs per row. */
  readonly runs: number;
  /** Untimed pairs before them. */
  readonly warmup: number;
  /** Automatic batches aim at timed runs of about this many milliseconds. */
  readonly minSampleMs: number;
  /** Runs and run length of in-process CPU rows (cipher, CRC-64, RSA, KMS). */
  readonly cpuRuns: number;
  readonly cpuSampleMs: number;
  /** Row groups to run (all when undefined). */
  readonly only: readonly string[] | undefined;
  /** Row groups to leave out. */
  readonly skip: readonly string[];
  /** Cipher chunk sizes. */
  readonly chunkSizes: readonly number[];
  /** Bytes pushed through the cipher per unit of work. */
  readonly cipherBytes: number;
  /** Object sizes of the server and end-to-end rows. */
  readonly objectSizes: readonly number[];
  /** Stores of the server rows. */
  readonly stores: readonly ('memory' | 'disk')[];
  /** RSA modulus size. */
  readonly rsaBits: number;
  /** Objects of 16 KiB per run of the migration rows (issue 18: 10,000). */
  readonly migrateObjects: number;
  /** Where latest.json, latest.svg and latest.md go. */
  readonly outDir: string;
}

/** Usage text. */
export const USAGE = `Usage: npm run bench -- [flags]

  --quick               CI smoke: small sizes, 5 runs, short samples (seconds)
  --runs N              measured A/B pairs per row (default 7 full, 5 quick; figures need >= 5)
  --warmup N            untimed pairs first (default 2 full, 1 quick)
  --min-sample-ms N     auto batches aim at timed runs of N ms (default 250 full, 15 quick)
  --cpu-runs N          pairs for in-process CPU rows: cipher, crc64, rsa, kms (default 21 full, 5 quick)
  --cpu-sample-ms N     their run length (default 60 full, 15 quick)
  --only G[,G]          run only these row groups (cipher, crc64, rsa, kms, server, e2e, small, multipart, gateway,
                        migrate, peers)
  --skip G[,G]          leave these row groups out
  --chunks S[,S]        cipher chunk sizes (default 16KiB,64KiB,1MiB)
  --cipher-bytes S      bytes per cipher run (default 64MiB full, 2MiB quick)
  --sizes S[,S]         object sizes of server/e2e rows (default 1KiB,64KiB,1MiB,16MiB,256MiB full; 1KiB,1MiB quick)
  --stores memory,disk  embedded-server stores to measure (default both)
  --rsa-bits N          RSA key size (default 2048)
  --migrate-objects N   16 KiB objects per run of the migrate rows (default 10000 full, 200 quick)
  --out DIR             output directory (default bench/results)
  -h, --help            this text

Writes DIR/latest.json, DIR/latest.svg (ratio chart) and DIR/latest.md (the table).`;

function list(value: string | undefined): string[] | undefined {
  return value === undefined ? undefined : value.split(',').map((s) => s.trim()).filter((s) => s !== '');
}

function positiveInt(name: string, value: string | undefined, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < min) throw new Error(`--${name} needs a whole number >= ${min}, got ${JSON.stringify(value)}`);
  return n;
}

/**
 * Parses the flags.
 * @returns the options, or `'help'` when help was asked for
 * @throws Error for an unknown flag or a bad value (the message names the flag)
 */
export function parseOptions(argv: readonly string[], defaultOutDir: string): BenchOptions | 'help' {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: false,
    options: {
      quick: { type: 'boolean' },
      runs: { type: 'string' },
      warmup: { type: 'string' },
      'min-sample-ms': { type: 'string' },
      'cpu-runs': { type: 'string' },
      'cpu-sample-ms': { type: 'string' },
      only: { type: 'string' },
      skip: { type: 'string' },
      chunks: { type: 'string' },
      'cipher-bytes': { type: 'string' },
      sizes: { type: 'string' },
      stores: { type: 'string' },
      'rsa-bits': { type: 'string' },
      'migrate-objects': { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) return 'help';
  const quick = values.quick === true;
  const stores = list(values.stores) ?? ['memory', 'disk'];
  for (const s of stores) if (s !== 'memory' && s !== 'disk') throw new Error(`--stores takes memory and/or disk, got ${JSON.stringify(s)}`);
  return {
    mode: quick ? 'quick' : 'full',
    runs: positiveInt('runs', values.runs, quick ? 5 : 7),
    warmup: positiveInt('warmup', values.warmup, quick ? 1 : 2, 0),
    minSampleMs: positiveInt('min-sample-ms', values['min-sample-ms'], quick ? 15 : 250),
    cpuRuns: positiveInt('cpu-runs', values['cpu-runs'], quick ? 5 : 21),
    cpuSampleMs: positiveInt('cpu-sample-ms', values['cpu-sample-ms'], quick ? 15 : 60),
    only: list(values.only),
    skip: list(values.skip) ?? [],
    chunkSizes: (list(values.chunks) ?? ['16KiB', '64KiB', '1MiB']).map(parseSize),
    cipherBytes: parseSize(values['cipher-bytes'] ?? (quick ? '2MiB' : '64MiB')),
    objectSizes: (list(values.sizes) ?? (quick ? ['1KiB', '1MiB'] : ['1KiB', '64KiB', '1MiB', '16MiB', '256MiB'])).map(parseSize),
    stores: stores as ('memory' | 'disk')[],
    rsaBits: positiveInt('rsa-bits', values['rsa-bits'], 2048, 1024),
    migrateObjects: positiveInt('migrate-objects', values['migrate-objects'], quick ? 200 : 10_000),
    outDir: values.out ?? defaultOutDir,
  };
}
