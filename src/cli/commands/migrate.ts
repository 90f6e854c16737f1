/**
 * `oss-cse migrate`: brings every object under a prefix to the target state (issue #18) — plaintext and legacy V1
 * objects re-encrypted in place, V2 objects under another key re-wrapped, objects already under the target skipped —
 * with shards, an inventory as the key source, a journal to continue a killed run, and a JSONL report
 * (`bulk/migrate-object.ts`, `bulk/migrate-prefix.ts`).
 *
 * @packageDocumentation
 */

import { closeSync, openSync, writeSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { encodeMatDesc } from '../../format/matdesc.js';
import type { MasterKey } from '../../keys/master-key.js';
import { MIGRATION_ONLY_VALUES, type MigrateObjectResult, type MigratePrefixResult, type MigrationOnly } from '../../bulk/migrate-types.js';
import { parseShard, type Shard } from '../../bulk/shard.js';
import { CseError } from '../../errors.js';
import type { CliIo, Command } from '../command.js';
import { UsageError } from '../command.js';
import { formatBytes } from '../job-progress.js';
import { buildKmsKey, resolveKmsSettings } from '../key-options.js';
import { loadRsaKeyFile, parseMatDescFlag, PASSPHRASE_ENV } from '../keys.js';
import { ONLINE_HELP, ONLINE_OPTIONS, parseOssUrl } from '../online.js';
import { interruptible } from '../interrupt.js';
import { cleanMessage } from '../report.js';
import { parseByteSize } from '../transfer-options.js';

const help = `Usage: oss-cse migrate oss://BUCKET[/PREFIX] [--to-public-key PEM | --to-kms-key-id ID] [--matdesc JSON]
                      [--allow-legacy] [--only plaintext|v1|rewrap[,…]] [--dry-run] [--shard I/N]
                      [--inventory oss://BUCKET/…/manifest.json] [--journal FILE] [--report FILE.jsonl]
                      [--parallel N] [--rate OPS_PER_S] [--multipart-threshold SIZE] [--part-size SIZE]
                      [--staging-prefix P] [options]

Brings every object under PREFIX to the target state, in place: plaintext objects are encrypted (V2), legacy V1
objects (oss2 ≤ 2.10, with --allow-legacy) are re-encrypted under a fresh data key, V2 objects under another master
key are re-wrapped by a metadata-only copy (as \`rewrap\`), and objects already under the target key are skipped.
User metadata, Content-Type and the standard headers, storage class and object tags are kept. The current keys are
given as for \`get\` (with a --to key they may be left out: plaintext objects then migrate, and V1 or old-key
objects fail with ERR_CSE_NO_MATCHING_KEY); the target is --to-public-key / --to-kms-key-id, else the key \`put\`
would encrypt with.

Re-encryption never overwrites a concurrent writer's object unseen: the new content is written to a staging object
(under --staging-prefix), the original is checked to be unchanged (same ETag), then copied over. An object changed
in between is left alone and reported failed (ERR_CSE_CONCURRENT_MODIFICATION); the one remaining window is the
round trip between that check and the copy. On a versioned bucket every version is kept. Folder markers and
symlinks are skipped; archived objects fail (they are not restored).

Each failed object is one line on stderr (\`failed oss://BUCKET/KEY: [ERR_CSE_…] message\`), each migrated one too
unless --quiet (skipped ones with --verbose); a progress line shows on a terminal; a summary follows on stdout.
Exit code 0 when every object is in the target state or skipped, 1 when any object failed, 2 for a bad command line.

Options:
  --to-public-key PEM      the target RSA key (a private-key PEM lets rewraps be verified by unwrapping)
  --to-kms-key-id ID       the target KMS key (key id, alias/NAME or ARN; --kms-region/--kms-endpoint apply)
  --matdesc JSON           material description of the target key (of the --to key when given, else of the key
                           \`put\` would use)
  --only KINDS             migrate only these kinds, comma-separated: plaintext, v1, rewrap (others: skipped)
  --dry-run                classify and report what would be migrated; write nothing
  --shard I/N              only the keys of shard I of N (0-based; by SHA-256 of the key): run N workers with
                           I = 0…N-1, e.g. a Kubernetes Indexed Job's JOB_COMPLETION_INDEX
  --inventory URL          take the keys from an OSS inventory (oss://BUCKET/…/manifest.json) instead of listing;
                           it must be an inventory of the bucket migrated
  --journal FILE           record each finished object in FILE; a run killed or interrupted and started again
                           with the same FILE (and the same bucket, prefix, shard, target, --only and source)
                           does not look at finished objects again
  --report FILE.jsonl      append one JSON line per object (key, from, kind, bytes, result, code) and one summary
                           line per run ({"summary":true,…}); a resumed run appends to the same file
  --parallel N             objects migrated at once, 1-64 (default 4)
  --rate OPS_PER_S         start at most this many objects per second (default: no limit)
  --multipart-threshold SIZE  objects at least this large are re-encrypted by a multipart upload (default 1GiB)
  --part-size SIZE         part size of those (default: 10MiB, more for > 100 GiB)
  --staging-prefix P       key prefix of the staging objects (default .oss-cse-migrate/); never migrated itself
  --verbose                also print one line per skipped object

${ONLINE_HELP}
`;

const OPTIONS = {
  ...ONLINE_OPTIONS,
  'to-public-key': { type: 'string' },
  'to-kms-key-id': { type: 'string' },
  only: { type: 'string' },
  'dry-run': { type: 'boolean', default: false },
  shard: { type: 'string' },
  inventory: { type: 'string' },
  journal: { type: 'string' },
  report: { type: 'string' },
  parallel: { type: 'string' },
  rate: { type: 'string' },
  'multipart-threshold': { type: 'string' },
  'part-size': { type: 'string' },
  'staging-prefix': { type: 'string' },
  verbose: { type: 'boolean', default: false },
} as const;

function parallelOf(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^[0-9]+$/.test(value) || n < 1 || n > 64) throw new UsageError(`--parallel must be an integer from 1 to 64, got ${value}`);
  return n;
}

function rateOf(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^[0-9]+(\.[0-9]+)?$/.test(value) || !(n > 0) || !Number.isFinite(n)) throw new UsageError(`--rate must be a positive number of objects per second, got ${value}`);
  return n;
}

function onlyOf(value: string | undefined): MigrationOnly[] | undefined {
  if (value === undefined) return undefined;
  const kinds = value.split(',').map((s) => s.trim());
  for (const kind of kinds) {
    if (!(MIGRATION_ONLY_VALUES as readonly string[]).includes(kind)) {
      throw new UsageError(`--only takes plaintext, v1 and rewrap (comma-separated), got ${JSON.stringify(kind)}`);
    }
  }
  return [...new Set(kinds)] as MigrationOnly[];
}

function shardOf(value: string | undefined): Shard | undefined {
  if (value === undefined) return undefined;
  try {
    return parseShard(value);
  } catch (e) {
    throw new UsageError(`--shard: ${e instanceof Error ? e.message : String(e)}`);
  }
}

function describeKey(key: { readonly key: string; readonly matdesc: Readonly<Record<string, string>> }): string {
  return `${key.key} ${encodeMatDesc(key.matdesc)}`;
}

function codeOf(error: CseError | undefined): string | undefined {
  return error?.cseCode;
}

/** One `--report` line for an object. */
export function reportLine(bucket: string, r: MigrateObjectResult): Record<string, unknown> {
  return {
    bucket,
    key: r.key,
    from: r.from,
    kind: r.kind,
    ...(r.to === undefined ? {} : { to: describeKey(r.to) }),
    result: r.result,
    dryRun: r.dryRun,
    ...(r.size === undefined ? {} : { size: r.size }),
    bytes: r.bytes,
    ...(r.method === undefined ? {} : { method: r.method }),
    ...(r.skipped === undefined ? {} : { skipped: r.skipped }),
    ...(r.error === undefined ? {} : { code: codeOf(r.error) }),
    ...(r.reason === undefined ? {} : { reason: cleanMessage(r.reason) }),
  };
}

function summaryJson(url: string, shard: Shard | undefined, target: string, s: MigratePrefixResult): Record<string, unknown> {
  return {
    prefix: url,
    ...(shard === undefined ? {} : { shard: `${shard.index}/${shard.count}` }),
    target,
    dryRun: s.dryRun,
    total: s.total,
    migrated: s.migrated,
    skipped: s.skipped,
    failed: s.failed,
    resumed: s.resumed,
    bytes: s.bytes,
    byFrom: s.byFrom,
    byKind: s.byKind,
    stagingRemoved: s.stagingRemoved,
    failures: s.failures.map((f) => ({ key: f.key, code: codeOf(f.error), message: cleanMessage(f.error?.message ?? f.reason ?? '') })),
  };
}

/** An append-only JSONL file written line by line (a killed run keeps every line it finished). */
class ReportFile {
  readonly #fd: number;
  constructor(path: string) {
    this.#fd = openSync(path, 'a', 0o600);
  }
  write(value: Record<string, unknown>): void {
    writeSync(this.#fd, JSON.stringify(value) + '\n');
  }
  close(): void {
    closeSync(this.#fd);
  }
}

/** The progress line on a terminal: objects done and bytes re-encrypted (the total is not known while listing). */
function progressLine(io: CliIo, enabled: boolean): { update(done: number, failed: number, bytes: number): void; print(text: string): void; end(): void } {
  const tty = (io.stderr as Partial<Pick<NodeJS.WriteStream, 'isTTY'>>).isTTY ?? false;
  const live = enabled && tty;
  let shown = '';
  let last = 0;
  const clear = (): void => {
    if (shown !== '') io.stderr.write('\r\x1b[K');
  };
  return {
    update(done, failed, bytes) {
      if (!live || Date.now() - last < 200) return;
      last = Date.now();
      shown = `${done} object(s), ${failed} failed, ${formatBytes(bytes)} re-encrypted`;
      io.stderr.write(`\r\x1b[K${shown}`);
    },
    print(text) {
      if (live) clear();
      io.stderr.write(text);
      if (live && shown !== '') io.stderr.write(shown);
    },
    end() {
      if (live) clear();
      shown = '';
    },
  };
}

async function targetKey(
  values: { readonly 'to-public-key'?: string | undefined; readonly 'to-kms-key-id'?: string | undefined },
  description: Readonly<Record<string, string>> | undefined,
  io: CliIo,
  session: { readonly keys: { readonly masterKey: MasterKey }; readonly kmsDefaults: Parameters<typeof resolveKmsSettings>[2] },
  flags: Parameters<typeof resolveKmsSettings>[0],
): Promise<MasterKey> {
  const toKms = values['to-kms-key-id'];
  const toPublic = values['to-public-key'];
  if (toKms !== undefined) return buildKmsKey({ keyId: toKms, description }, resolveKmsSettings(flags, io.env, session.kmsDefaults));
  if (toPublic !== undefined) {
    const passphrase = io.env[PASSPHRASE_ENV];
    return loadRsaKeyFile(toPublic, { ...(description === undefined ? {} : { description }), ...(passphrase === undefined ? {} : { passphrase }) });
  }
  return session.keys.masterKey;
}

export const migrate: Command = {
  name: 'migrate',
  summary: 'bring every object under oss://bucket/prefix to the target encryption state, in place',
  help,
  async run(args, io) {
    const { values, positionals } = parseArgs({ args: [...args], options: OPTIONS, strict: true, allowPositionals: true });
    if (positionals.length !== 1) throw new UsageError('expected oss://BUCKET[/PREFIX]');
    const where = parseOssUrl(positionals[0] ?? '', 'the prefix');
    if (values['to-public-key'] !== undefined && values['to-kms-key-id'] !== undefined) throw new UsageError('give --to-public-key or --to-kms-key-id, not both');
    const explicitTarget = values['to-public-key'] !== undefined || values['to-kms-key-id'] !== undefined;
    const description = explicitTarget ? parseMatDescFlag(values.matdesc) : undefined;
    const parallel = parallelOf(values.parallel);
    const rate = rateOf(values.rate);
    const only = onlyOf(values.only);
    const shard = shardOf(values.shard);
    const dryRun = values['dry-run'];
    if (dryRun && values.journal !== undefined) throw new UsageError('--dry-run writes nothing: give --journal only to a real run');
    const inventory = values.inventory;
    if (inventory !== undefined && !/^oss:\/\/[^/]+\/.+/.test(inventory)) throw new UsageError(`--inventory expects oss://BUCKET/…/manifest.json, got ${inventory}`);
    const multipartThreshold = values['multipart-threshold'] === undefined ? undefined : parseByteSize(values['multipart-threshold'], '--multipart-threshold');
    if (multipartThreshold === 0) throw new UsageError('--multipart-threshold must be at least 1 byte');
    const partSize = values['part-size'] === undefined ? undefined : parseByteSize(values['part-size'], '--part-size');
    const stagingPrefix = values['staging-prefix'];
    if (stagingPrefix !== undefined && (stagingPrefix === '' || stagingPrefix.startsWith('/'))) throw new UsageError('--staging-prefix must be a non-empty key prefix without a leading /');
    const quiet = values.quiet || values.json;
    const url = `oss://${where.bucket}/${where.key}`;
    const { withSession } = await import('../target.js');
    // An explicit --to key takes --matdesc; otherwise --matdesc describes the session's encrypting key, as for put.
    const sessionFlags = explicitTarget ? { ...values, matdesc: undefined } : values;
    return withSession(sessionFlags, io, where.bucket, async (session) => {
      const to = await targetKey(values, description, io, session, values);
      const target = describeKey({ key: to.name, matdesc: to.description });
      const report = values.report === undefined ? undefined : new ReportFile(values.report);
      const progress = progressLine(io, !quiet);
      let done = 0;
      let failed = 0;
      let bytes = 0;
      const { signal, run } = interruptible('run the same command again to continue', (name) => {
        progress.print(`oss-cse: ${name}: finishing the objects in flight (run the same command again, with the same --journal, to continue)\n`);
      });
      try {
        const summary = await run(
          session.client.migratePrefix(where.key, {
            to,
            allowLegacy: values['allow-legacy'],
            dryRun,
            signal,
            ...(only === undefined ? {} : { only }),
            ...(shard === undefined ? {} : { shard }),
            ...(inventory === undefined ? {} : { inventory }),
            ...(values.journal === undefined ? {} : { journal: values.journal }),
            ...(parallel === undefined ? {} : { parallel }),
            ...(rate === undefined ? {} : { rate }),
            ...(multipartThreshold === undefined ? {} : { multipartThreshold }),
            ...(partSize === undefined ? {} : { partSize }),
            ...(stagingPrefix === undefined ? {} : { stagingPrefix }),
            onObject: (r) => {
              done++;
              bytes += r.bytes;
              report?.write(reportLine(where.bucket, r));
              const object = `oss://${where.bucket}/${r.key}`;
              if (r.result === 'failed') {
                failed++;
                const code = codeOf(r.error) ?? 'ERR_CSE_UNEXPECTED';
                progress.print(`failed ${object}: [${code}] ${cleanMessage(r.error?.message ?? r.reason ?? '')}\n`);
              } else if (r.result === 'migrated' && !quiet) {
                progress.print(`${r.dryRun ? 'would migrate' : 'migrated'} ${object} (${r.from} -> ${target})\n`);
              } else if (r.result === 'skipped' && values.verbose && !quiet) {
                progress.print(`skipped ${object}: ${r.reason ?? r.skipped ?? ''}\n`);
              }
              progress.update(done, failed, bytes);
            },
          }),
        );
        progress.end();
        const json = summaryJson(url, shard, target, summary);
        // The report's summary counts; the failed objects are its own lines.
        const { failures: _failures, ...counts } = json;
        report?.write({ summary: true, ...counts });
        if (values.json) {
          io.stdout.write(JSON.stringify(json) + '\n');
        } else if (!values.quiet) {
          const verb = summary.dryRun ? 'would migrate' : 'migrated';
          const resumed = summary.resumed > 0 ? `; ${summary.resumed} finished earlier (journal)` : '';
          io.stdout.write(
            `${summary.dryRun ? 'dry run: ' : ''}${verb} ${summary.migrated}, skipped ${summary.skipped}, failed ${summary.failed} of ` +
              `${summary.total} object(s) under ${url}${shard === undefined ? '' : ` (shard ${shard.index}/${shard.count})`}${resumed}; ` +
              `${formatBytes(summary.bytes)} re-encrypted (target key ${target})\n`,
          );
          for (const f of summary.failures) io.stdout.write(`  failed ${f.key}: [${codeOf(f.error) ?? 'ERR_CSE_UNEXPECTED'}] ${cleanMessage(f.error?.message ?? f.reason ?? '')}\n`);
        }
        return summary.failed > 0 ? 1 : 0;
      } finally {
        progress.end();
        report?.close();
      }
      // With an explicit --to key the current keys are needed only for V1 and old-key objects: a bucket of plaintext
      // objects migrates with the target key alone (an object no key opens fails with ERR_CSE_NO_MATCHING_KEY).
    }, explicitTarget ? { keys: 'optional' } : {});
  },
};
