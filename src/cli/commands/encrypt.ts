/**
 * `oss-cse encrypt`: encrypt a local file offline, writing the ciphertext and its metadata headers.
 *
 * @packageDocumentation
 */

import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { CseError, ErrorCode } from '../../errors.js';
import { encryptObject } from '../../object-crypto.js';
import type { Command } from '../command.js';
import { writeFileAtomic } from '../files.js';
import type { MasterKey } from '../../keys/master-key.js';
import { KMS_OPTIONS, kmsHelp } from '../key-options.js';
import { loadOfflineKeys, loadRsaKeyFile, parseMatDescFlag, PASSPHRASE_ENV } from '../keys.js';
import { UsageError } from '../command.js';

const help = `Usage: oss-cse encrypt --in FILE --out FILE --meta-out META.json
                      (--public-key PEM | --kms-key-id ID | --keys FILE) [--matdesc JSON] [--wrap oaep] [--json]

Encrypts FILE offline, the way an official SDK would before uploading it: a fresh AES-256 data key and IV,
wrapped with the RSA public key, or by KMS (the only network call: KMS Encrypt). Writes the ciphertext (same length as FILE) to --out and the object's
x-oss-meta-client-side-encryption-* headers, as a JSON object of header → value, to --meta-out.
Nothing is written at --out or --meta-out unless everything succeeds.

Options:
  --in FILE            plaintext to encrypt
  --out FILE           where to write the ciphertext
  --meta-out FILE      where to write the metadata headers (JSON)
  --public-key PEM     RSA public key (PKCS#1 or SPKI PEM); a private key PEM also works
  --kms-key-id ID      KMS key that wraps the data key (instead of --public-key)
  --kms-region REGION  KMS region (default: $ALIBABA_CLOUD_REGION_ID, else $OSS_REGION)
  --kms-endpoint URL   KMS endpoint, http(s)://host[:port] (default: kms.REGION.aliyuncs.com)
  --keys FILE          a keys file (see \`oss-cse put --help\`): its "encrypt" key is used
  --matdesc JSON       material description stored with the object, e.g. '{"owner":"ops"}'
  --wrap oaep          wrap with RSA-OAEP-SHA1 (readable by oss2 LocalRsaProvider) instead of PKCS#1 v1.5
                       (RSA/NONE/PKCS1Padding, readable by every SDK; the default)
  --json               print a JSON summary

Environment: ${PASSPHRASE_ENV} passphrase of an encrypted private-key PEM.
${kmsHelp('kms.REGION.aliyuncs.com').split('\n').slice(-2).join('\n')}
`;

export const encrypt: Command = {
  name: 'encrypt',
  summary: 'encrypt a local file offline (ciphertext + metadata JSON)',
  help,
  async run(args, io) {
    const { values } = parseArgs({
      args: [...args],
      options: {
        in: { type: 'string' },
        out: { type: 'string' },
        'meta-out': { type: 'string' },
        'public-key': { type: 'string' },
        matdesc: { type: 'string' },
        ...KMS_OPTIONS,
        keys: { type: 'string' },
        wrap: { type: 'string' },
        json: { type: 'boolean', default: false },
      },
      strict: true,
      allowPositionals: false,
    });
    const input = values.in;
    const output = values.out;
    const metaOut = values['meta-out'];
    const keyPath = values['public-key'];
    if (input === undefined) throw new UsageError('--in FILE is required');
    if (output === undefined) throw new UsageError('--out FILE is required');
    if (metaOut === undefined) throw new UsageError('--meta-out FILE is required');
    const kmsIds = values['kms-key-id'] ?? [];
    const given = [keyPath !== undefined, kmsIds.length > 0, values.keys !== undefined].filter(Boolean).length;
    if (given !== 1) throw new UsageError('give one key: --public-key PEM, --kms-key-id ID or --keys FILE');
    if (kmsIds.length > 1) throw new UsageError('encrypt takes one --kms-key-id');
    if (values.wrap !== undefined && values.wrap !== 'oaep' && values.wrap !== 'pkcs1') {
      throw new UsageError(`--wrap must be oaep or pkcs1, got ${values.wrap}`);
    }
    if (values.wrap !== undefined && keyPath === undefined) throw new UsageError('--wrap applies to --public-key');
    const description = parseMatDescFlag(values.matdesc);
    const passphrase = io.env[PASSPHRASE_ENV];
    const masterKey: MasterKey =
      keyPath === undefined
        ? (await loadOfflineKeys({ privateKeys: [], keysFile: values.keys, matdesc: values.matdesc, kmsKeyIds: kmsIds, kms: values }, io)).masterKey
        : await loadRsaKeyFile(keyPath, {
            ...(description === undefined ? {} : { description }),
            ...(values.wrap === undefined ? {} : { wrap: values.wrap }),
            ...(passphrase === undefined ? {} : { passphrase }),
          });
    let size: number;
    try {
      size = (await stat(input)).size;
    } catch (e) {
      throw new CseError(ErrorCode.IO, `cannot read input ${input}: ${(e as Error).message}`, { cause: e });
    }
    const source = createReadStream(input, { highWaterMark: 1 << 20 });
    let encrypted;
    try {
      encrypted = await encryptObject(source, { masterKey, unencryptedContentLength: size });
    } catch (e) {
      source.destroy();
      throw e;
    }
    const { headers, body } = encrypted;
    await writeFileAtomic(output, body);
    await writeFileAtomic(metaOut, JSON.stringify(headers, null, 2) + '\n');
    if (values.json) {
      io.stdout.write(JSON.stringify({ in: input, out: output, metaOut, bytes: size, key: masterKey.name, headers }) + '\n');
    } else {
      io.stdout.write(`encrypted ${size} bytes from ${input} to ${output} with ${masterKey.name}; metadata in ${metaOut}\n`);
    }
    return 0;
  },
};
