/**
 * `oss-cse keygen`: a new RSA key pair for client-side encryption.
 *
 * @packageDocumentation
 */

import { mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CseError, ErrorCode } from '../../errors.js';
import { generateRsaKeyPair } from '../../keys/rsa.js';
import type { Command } from '../command.js';
import { writeFileAtomic } from '../files.js';
import { UsageError } from '../command.js';

const help = `Usage: oss-cse keygen --out DIR [--bits 2048] [--force] [--json]

Generates an RSA key pair for wrapping data keys:
  DIR/private.pem   PKCS#8 private key, file mode 0600 (keep it secret; it decrypts your objects)
  DIR/public.pem    SPKI public key (enough to encrypt)

Options:
  --out DIR     directory to write into (created if missing)
  --bits N      modulus size: 2048 (default), 3072 or 4096
  --force       overwrite existing key files
  --json        print {"privateKey": PATH, "publicKey": PATH, "bits": N}
`;

export const keygen: Command = {
  name: 'keygen',
  summary: 'generate an RSA key pair (private.pem, public.pem)',
  help,
  async run(args, io) {
    const { values } = parseArgs({
      args: [...args],
      options: {
        out: { type: 'string' },
        bits: { type: 'string', default: '2048' },
        force: { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
      },
      strict: true,
      allowPositionals: false,
    });
    if (values.out === undefined) throw new UsageError('--out DIR is required');
    const bits = Number(values.bits);
    if (![2048, 3072, 4096].includes(bits)) throw new UsageError(`--bits must be 2048, 3072 or 4096, got ${values.bits}`);
    const privatePath = join(values.out, 'private.pem');
    const publicPath = join(values.out, 'public.pem');
    await mkdir(values.out, { recursive: true });
    if (!values.force) {
      for (const p of [privatePath, publicPath]) {
        if (await exists(p)) {
          throw new CseError(ErrorCode.IO, `${p} already exists; pass --force to overwrite`);
        }
      }
    }
    const { privateKeyPem, publicKeyPem } = await generateRsaKeyPair(bits);
    await writeFileAtomic(privatePath, privateKeyPem, 0o600);
    await writeFileAtomic(publicPath, publicKeyPem, 0o644);
    // On stderr, whatever the output format: every key created is announced with where it is and that it needs a
    // backup (SECURITY.md "Where keys come from").
    io.stderr.write(`oss-cse: created a new RSA key pair in ${values.out} (private.pem decrypts your objects: back it up; without it they cannot be read)\n`);
    if (values.json) {
      io.stdout.write(JSON.stringify({ privateKey: privatePath, publicKey: publicPath, bits }) + '\n');
    } else {
      io.stdout.write(`wrote ${privatePath} (private, mode 0600) and ${publicPath} (public), RSA-${bits}\n`);
    }
    return 0;
  },
};

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
