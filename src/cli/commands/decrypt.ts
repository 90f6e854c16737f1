/**
 * `oss-cse decrypt`: decrypt a local ciphertext offline, given its metadata headers.
 *
 * @packageDocumentation
 */

import { createReadStream } from 'node:fs';
import { parseArgs } from 'node:util';
import { decryptObject } from '../../object-crypto.js';
import type { MasterKey } from '../../keys/master-key.js';
import type { Command } from '../command.js';
import { readMetaFile, writeFileAtomic } from '../files.js';
import { KMS_OPTIONS, kmsHelp } from '../key-options.js';
import { loadOfflineKeys, PASSPHRASE_ENV } from '../keys.js';
import { UsageError } from '../command.js';

const help = `Usage: oss-cse decrypt --in FILE --out FILE --meta META.json
                      (--private-key PEM … | --kms-key-id ID … | --keys FILE) [--offset N] [--allow-legacy] [--json]

Decrypts a ciphertext written by oss-cse or any official OSS SDK (oss2, Go, Java, C++), given the object's
headers as a JSON object of header → value (as written by \`oss-cse encrypt --meta-out\`).
The key whose material description equals the object's is used; otherwise each key is tried in turn, and
one error lists every key's reason. Nothing is written at --out unless decryption and every check succeed.

Options:
  --in FILE            ciphertext (the whole object, or a ranged slice of it with --offset)
  --out FILE           where to write the plaintext
  --meta FILE          the object's headers (JSON)
  --private-key PEM    RSA private key (PKCS#1 or PKCS#8 PEM); repeat for several keys
  --kms-key-id ID      KMS key; repeat for several (KMS Decrypt is the only network call)
  --kms-region REGION  KMS region (default: $ALIBABA_CLOUD_REGION_ID, else $OSS_REGION)
  --kms-endpoint URL   KMS endpoint, http(s)://host[:port] (default: kms.REGION.aliyuncs.com)
  --keys FILE          a keys file (see \`oss-cse put --help\`): every key in it decrypts
  --offset N           plaintext offset the --in slice starts at (ranged reads); default 0
  --allow-legacy       accept legacy objects (oss2 ≤ 2.10 V1 format, hand-rolled guide format): their
                       counters start at 1..10 with no random IV (see SECURITY.md)
  --json               print a JSON summary

Environment: ${PASSPHRASE_ENV} passphrase of encrypted private-key PEMs.
${kmsHelp('kms.REGION.aliyuncs.com').split('\n').slice(-2).join('\n')}
`;

export const decrypt: Command = {
  name: 'decrypt',
  summary: 'decrypt a local ciphertext offline, given its metadata JSON',
  help,
  async run(args, io) {
    const { values } = parseArgs({
      args: [...args],
      options: {
        in: { type: 'string' },
        out: { type: 'string' },
        meta: { type: 'string' },
        'private-key': { type: 'string', multiple: true },
        ...KMS_OPTIONS,
        keys: { type: 'string' },
        offset: { type: 'string' },
        'allow-legacy': { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
      },
      strict: true,
      allowPositionals: false,
    });
    const input = values.in;
    const output = values.out;
    const metaPath = values.meta;
    const keyPaths = values['private-key'] ?? [];
    if (input === undefined) throw new UsageError('--in FILE is required');
    if (output === undefined) throw new UsageError('--out FILE is required');
    if (metaPath === undefined) throw new UsageError('--meta FILE is required');
    const kmsIds = values['kms-key-id'] ?? [];
    if (keyPaths.length === 0 && kmsIds.length === 0 && values.keys === undefined) {
      throw new UsageError('give at least one key: --private-key PEM, --kms-key-id ID or --keys FILE');
    }
    let offset = 0;
    if (values.offset !== undefined) {
      if (!/^[0-9]+$/.test(values.offset) || !Number.isSafeInteger(Number(values.offset))) {
        throw new UsageError(`--offset must be a non-negative integer, got ${values.offset}`);
      }
      offset = Number(values.offset);
    }
    const headers = await readMetaFile(metaPath);
    const loaded = await loadOfflineKeys({ privateKeys: keyPaths, keysFile: values.keys, kmsKeyIds: kmsIds, kms: values }, io);
    const keys: MasterKey[] = [loaded.masterKey, ...loaded.decryptionKeys];
    let bytes = 0;
    const source = createReadStream(input, { highWaterMark: 1 << 20 });
    let plaintext;
    try {
      plaintext = await decryptObject(
        { headers, body: source, offset },
        { masterKeys: keys, allowLegacy: values['allow-legacy'], object: input },
      );
    } catch (e) {
      source.destroy();
      throw e;
    }
    await writeFileAtomic(output, countBytes(plaintext, (n) => (bytes += n)));
    if (values.json) {
      io.stdout.write(JSON.stringify({ in: input, out: output, bytes, offset }) + '\n');
    } else {
      io.stdout.write(`decrypted ${bytes} bytes from ${input} to ${output}\n`);
    }
    return 0;
  },
};

async function* countBytes(source: AsyncIterable<Buffer>, add: (n: number) => void): AsyncGenerator<Buffer> {
  for await (const chunk of source) {
    add(chunk.length);
    yield chunk;
  }
}
