/**
 * `oss-cse rewrap`: key rotation over a prefix. Every object's data key is re-wrapped under a new master key by
 * rewriting only its metadata; the ciphertext never moves (`transfer/rewrap.ts`, FORMAT.md "Key rotation").
 *
 * @packageDocumentation
 */

import { parseArgs } from 'node:util';
import { encodeMatDesc } from '../../format/matdesc.js';
import type { MasterKey } from '../../keys/master-key.js';
import type { RewrapObjectResult } from '../../transfer/rewrap.js';
import type { Command } from '../command.js';
import { UsageError } from '../command.js';
import { buildKmsKey, resolveKmsSettings } from '../key-options.js';
import { loadRsaKeyFile, parseMatDescFlag, PASSPHRASE_ENV } from '../keys.js';
import { ONLINE_HELP, ONLINE_OPTIONS, parseOssUrl } from '../online.js';
import { interruptible } from '../interrupt.js';

const help = `Usage: oss-cse rewrap oss://BUCKET/PREFIX (--to-public-key NEW.pem | --to-kms-key-id ID) [--matdesc JSON]
                     [--dry-run] [--parallel N] [options]

Key rotation: re-wraps the data key of every object under PREFIX with a new master key by rewriting only the
object's metadata (one HEAD and one same-key CopyObject per object; the encrypted bytes are neither downloaded
nor uploaded), then checks the stored envelope before moving on. The current keys are given as for \`get\`
(--private-key, --kms-key-id, --keys). User metadata, Content-Type and the other headers are kept. Objects
already under the new key (same key, same description) and unencrypted objects are skipped, so a run that was
interrupted can simply be started again. An object changed by someone else during its rewrap is left alone
(the copy is conditional on its ETag) and reported as failed.

Each line on stderr is one object: rewrapped, skipped (why) or failed (why); a summary follows on stdout.
Exit code 1 when any object failed.

Options:
  --to-public-key PEM      the new RSA key. A private-key PEM lets each rewrap be verified by unwrapping the stored
                           envelope; with a public key only, the stored headers are compared to those written
  --to-kms-key-id ID       the new KMS key (key id, alias/NAME or ARN; --kms-region/--kms-endpoint apply)
                           With --keys and neither --to option, the keys file's "encrypt" key is the new key.
  --matdesc JSON           material description of the new key, e.g. '{"year":"2025"}'
  --dry-run                report what would be rewrapped; write nothing
  --parallel N             objects handled at once, 1-64 (default 4)

${ONLINE_HELP}
`;

const OPTIONS = {
  ...ONLINE_OPTIONS,
  'to-public-key': { type: 'string' },
  'to-kms-key-id': { type: 'string' },
  'dry-run': { type: 'boolean', default: false },
  parallel: { type: 'string' },
} as const;

function describeKey(info: { readonly key: string; readonly matdesc: Readonly<Record<string, string>> } | undefined): string {
  return info === undefined ? '?' : `${info.key} ${encodeMatDesc(info.matdesc)}`;
}

function line(url: string, r: RewrapObjectResult): string {
  switch (r.status) {
    case 'rewrapped':
      return `${r.dryRun ? 'would rewrap' : 'rewrapped'} ${url} (${describeKey(r.from)} -> ${describeKey(r.to)})`;
    case 'skipped':
      return `skipped ${url}: ${r.reason ?? r.skipped ?? ''}`;
    case 'failed':
      return `failed ${url}: ${r.reason ?? ''}`;
  }
}

function jsonOf(r: RewrapObjectResult): Record<string, unknown> {
  return {
    key: r.name,
    status: r.status,
    ...(r.skipped === undefined ? {} : { skipped: r.skipped }),
    ...(r.presumed === undefined ? {} : { presumed: r.presumed }),
    ...(r.reason === undefined ? {} : { reason: r.reason }),
    ...(r.error === undefined ? {} : { code: r.error.cseCode }),
    ...(r.from === undefined ? {} : { from: r.from }),
    ...(r.to === undefined ? {} : { to: r.to }),
    ...(r.verified === undefined ? {} : { verified: r.verified }),
  };
}

function parallelOf(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^[0-9]+$/.test(value) || n < 1 || n > 64) throw new UsageError(`--parallel must be an integer from 1 to 64, got ${value}`);
  return n;
}

export const rewrap: Command = {
  name: 'rewrap',
  summary: 'key rotation without moving data: rewrap oss://bucket/prefix --to-kms-key-id ID',
  help,
  async run(args, io) {
    const { values, positionals } = parseArgs({ args: [...args], options: OPTIONS, strict: true, allowPositionals: true });
    if (positionals.length !== 1) throw new UsageError('expected oss://BUCKET/PREFIX');
    const where = parseOssUrl(positionals[0] ?? '', 'the prefix');
    const toPublic = values['to-public-key'];
    const toKms = values['to-kms-key-id'];
    if (toPublic !== undefined && toKms !== undefined) throw new UsageError('give --to-public-key or --to-kms-key-id, not both');
    if (toPublic === undefined && toKms === undefined) {
      if (values.keys === undefined) throw new UsageError('give the new key: --to-public-key PEM or --to-kms-key-id ID');
      if (values.matdesc !== undefined) throw new UsageError('--matdesc describes the --to key; a keys file entry has its own "description"');
    }
    const description = parseMatDescFlag(values.matdesc);
    const parallel = parallelOf(values.parallel);
    const quiet = values.quiet || values.json;
    const { withSession } = await import('../target.js');
    // --matdesc belongs to the new key here, not to the session's encrypting key.
    return withSession({ ...values, matdesc: undefined }, io, where.bucket, async (session) => {
      let to: MasterKey;
      if (toKms !== undefined) {
        to = buildKmsKey({ keyId: toKms, description }, resolveKmsSettings(values, io.env, session.kmsDefaults));
      } else if (toPublic !== undefined) {
        const passphrase = io.env[PASSPHRASE_ENV];
        to = await loadRsaKeyFile(toPublic, {
          ...(description === undefined ? {} : { description }),
          ...(passphrase === undefined ? {} : { passphrase }),
        });
      } else {
        to = session.keys.masterKey;
      }
      if (to.canUnwrap === false && !quiet) {
        io.stderr.write(
          `oss-cse: note: ${to.name} is a public key: each rewrap is checked against the headers written, not by ` +
            'unwrapping (give the private-key PEM to verify by unwrapping)\n',
        );
      }
      const results: RewrapObjectResult[] = [];
      let count = 0;
      // The objects in flight finish or stop; a re-run skips what is done and continues.
      const { signal, run } = interruptible('run the same command again to continue', (name) => {
        io.stderr.write(`oss-cse: ${name}: finishing the objects in flight (run the same command again to continue)\n`);
      });
      const summary = await run(
        session.client.rewrapPrefix(where.key, {
          to,
          dryRun: values['dry-run'],
          signal,
          ...(parallel === undefined ? {} : { parallel }),
          onObject: (r) => {
            count++;
            if (values.json) results.push(r);
            else if (!values.quiet || r.status === 'failed') io.stderr.write(`[${count}] ${line(`oss://${where.bucket}/${r.name}`, r)}\n`);
          },
        }),
      );
      const target = { key: to.name, matdesc: to.description };
      if (values.json) {
        io.stdout.write(
          JSON.stringify({
            prefix: `oss://${where.bucket}/${where.key}`,
            dryRun: summary.dryRun,
            target,
            total: summary.total,
            rewrapped: summary.rewrapped,
            skipped: summary.skipped,
            failed: summary.failed,
            objects: results.map(jsonOf),
          }) + '\n',
        );
      } else if (!values.quiet) {
        const verb = summary.dryRun ? 'would rewrap' : 'rewrapped';
        io.stdout.write(
          `${summary.dryRun ? 'dry run: ' : ''}${verb} ${summary.rewrapped}, skipped ${summary.skipped}, failed ${summary.failed} ` +
            `of ${summary.total} object(s) under oss://${where.bucket}/${where.key} (new key ${describeKey(target)})\n`,
        );
        for (const f of summary.failures) io.stdout.write(`  failed ${f.name}: ${f.reason ?? ''}\n`);
      }
      return summary.failed > 0 ? 1 : 0;
    });
  },
};
