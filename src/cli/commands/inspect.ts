/**
 * `oss-cse inspect`: describe an object's encryption envelope from its headers. Never prints key material.
 *
 * @packageDocumentation
 */

import { parseArgs } from 'node:util';
import { CseError, ErrorCode } from '../../errors.js';
import { encodeMatDesc } from '../../format/matdesc.js';
import { parseEnvelope } from '../../format/envelope.js';
import type { Envelope } from '../../format/types.js';
import type { Command } from '../command.js';
import { readMetaFile } from '../files.js';
import { UsageError } from '../command.js';

const help = `Usage: oss-cse inspect --meta META.json [--json]

Describes the client-side-encryption envelope in an object's headers: format (V2, V1 or the legacy guide
form), content and wrap algorithms, material description, declared sizes. Prints no key material (not even
the wrapped key). An object without encryption headers is reported as unencrypted (exit code 1).

Options:
  --meta FILE   the object's headers as a JSON object of header → value
  --json        print the description as JSON
`;

/** What `inspect` reports: public envelope facts only. */
export function describeEnvelope(envelope: Envelope): Record<string, string | number | boolean | null> {
  return {
    format: envelope.version === 'v2' ? 'V2' : envelope.version === 'v1' ? 'V1' : 'guide',
    legacy: envelope.version !== 'v2',
    cekAlgorithm: envelope.cekAlgorithm ?? null,
    wrapAlgorithm: envelope.wrapAlgorithm ?? null,
    wrapScheme: envelope.scheme,
    matdesc: encodeMatDesc(envelope.matdesc),
    unencryptedContentLength: envelope.unencryptedContentLength ?? null,
    unencryptedContentMd5: envelope.unencryptedContentMd5 !== undefined,
    dataSize: envelope.dataSize ?? null,
    partSize: envelope.partSize ?? null,
  };
}

export const inspect: Command = {
  name: 'inspect',
  summary: 'describe an object\'s encryption envelope (no key material)',
  help,
  async run(args, io) {
    const { values } = parseArgs({
      args: [...args],
      options: { meta: { type: 'string' }, json: { type: 'boolean', default: false } },
      strict: true,
      allowPositionals: false,
    });
    if (values.meta === undefined) throw new UsageError('--meta FILE is required');
    const headers = await readMetaFile(values.meta);
    let envelope: Envelope;
    try {
      envelope = parseEnvelope(headers);
    } catch (e) {
      if (e instanceof CseError && e.cseCode === ErrorCode.NOT_ENCRYPTED) {
        throw new CseError(ErrorCode.NOT_ENCRYPTED, `${values.meta} describes an unencrypted object: no client-side-encryption headers`);
      }
      throw e;
    }
    const info = describeEnvelope(envelope);
    if (values.json) {
      // docs/cli-json.md: matdesc is an object in every JSON result.
      io.stdout.write(JSON.stringify({ ...info, matdesc: envelope.matdesc }) + '\n');
    } else {
      const width = Math.max(...Object.keys(info).map((k) => k.length));
      for (const [k, v] of Object.entries(info)) {
        io.stdout.write(`${k.padEnd(width)}  ${v === null ? '-' : String(v)}\n`);
      }
    }
    return 0;
  },
};
