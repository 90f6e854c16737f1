/**
 * `oss-cse demo` (`npm run demo`): the whole job on the embedded server, narrated: a key pair, an encrypted upload,
 * the ciphertext and crypto headers as a plain client sees them, the decrypted download and a range read.
 *
 * @packageDocumentation
 */

import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CseError, ErrorCode, isCseError } from '../../errors.js';
import type { CliIo, Command } from '../command.js';
import { HOME_ENV, KeyEnv } from '../keys.js';
import { TargetEnv } from '../online.js';
import type { Session } from '../target.js';

const help = `Usage: oss-cse demo [--keep]

Runs oss-cse end to end on the embedded OSS server, with nothing to configure: creates an RSA key pair,
encrypts and uploads a sample text, shows what OSS stores (ciphertext, read back with a plain ali-oss
client) and the encryption headers, downloads and decrypts it, and reads a byte range. Every step is
checked; the exit code is 0 when all pass.

It runs in $${HOME_ENV} when that is set (the bucket, object and keys then stay there); otherwise in a
temporary directory that is removed at the end (kept with --keep).
`;

const BUCKET = 'oss-cse-demo';
const KEY = 'demo/sample.txt';

function sample(): Buffer {
  const lines: string[] = [];
  for (let i = 1; i <= 1500; i++) {
    lines.push(`line ${String(i).padStart(4, '0')}: client-side encryption keeps this text readable only to the key holder.`);
  }
  return Buffer.from(lines.join('\n') + '\n', 'utf8');
}

function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

function check(ok: boolean, what: string): string {
  if (!ok) throw new CseError(ErrorCode.INTEGRITY, `demo check failed: ${what}`);
  return 'yes';
}

function hex(data: Uint8Array): string {
  return Buffer.from(data).toString('hex').replace(/(..)/g, '$1 ').trim();
}

export const demo: Command = {
  name: 'demo',
  summary: 'run the whole job on the embedded server, narrated (npm run demo)',
  help,
  async run(args, io) {
    const { values } = parseArgs({ args: [...args], options: { keep: { type: 'boolean', default: false } }, strict: true });
    const given = io.env[HOME_ENV];
    const home = given !== undefined && given !== '' ? given : await mkdtemp(join(tmpdir(), 'oss-cse-demo-'));
    const temporary = home !== given;
    const out = (line = ''): void => {
      io.stdout.write(line + '\n');
    };
    // The demo always uses the embedded server and the default key pair of its home.
    const env: NodeJS.ProcessEnv = {
      ...io.env,
      [HOME_ENV]: home,
      [TargetEnv.ENDPOINT]: '',
      [TargetEnv.REGION]: '',
      [KeyEnv.PUBLIC_KEY]: '',
      [KeyEnv.PRIVATE_KEY]: '',
    };
    const demoIo: CliIo = { stdout: io.stdout, stderr: io.stdout, env };
    try {
      out('oss-cse demo: client-side encryption for Alibaba Cloud OSS, on the embedded OSS-compatible server');
      out();
      out(`1. Home directory ${home}${temporary ? ' (temporary)' : ''}`);
      const { openSession } = await import('../target.js');
      const session = await openSession({ quiet: false }, demoIo, BUCKET);
      try {
        await runSteps(session, out);
      } finally {
        await session.close();
      }
      out();
      out('Demo OK: the object is stored encrypted, and only the key holder reads it back, whole or by range.');
      if (temporary && !values.keep) out(`(removed ${home}; set ${HOME_ENV} to keep the server data and keys)`);
      return 0;
    } finally {
      if (temporary && !values.keep) await rm(home, { recursive: true, force: true });
    }
  },
};

async function runSteps(session: Session, out: (line?: string) => void): Promise<void> {
  const { client, oss, server } = session;
  out(`2. Embedded OSS server listening on ${server?.endpoint ?? '?'} (data in ${server?.dataDir ?? '?'})`);
  out(`3. Encrypting key: ${client.keyRing.keys[0]?.name ?? '?'} (RSA key pair in the home's keys/ directory)`);
  try {
    await client.putBucket(BUCKET);
    out(`4. Created bucket oss://${BUCKET}`);
  } catch (e) {
    if (!(isCseError(e) && (e as { ossCode?: string }).ossCode === 'BucketAlreadyExists')) throw e;
    out(`4. Bucket oss://${BUCKET} already exists`);
  }

  const plaintext = sample();
  const put = await client.put(KEY, plaintext, { contentLength: plaintext.length, meta: { purpose: 'demo' } });
  out(`5. Encrypted on this machine and uploaded ${put.size} bytes to oss://${BUCKET}/${KEY} (CRC-64 checked: ${put.crc64})`);

  const raw = await oss.get(KEY);
  const stored = raw.content as Buffer;
  const headers = raw.res.headers as Record<string, string>;
  out('6. What OSS stores, read with a plain ali-oss client (no key):');
  out(`     plaintext starts   ${JSON.stringify(plaintext.subarray(0, 40).toString('utf8'))}`);
  out(`     stored bytes start ${hex(stored.subarray(0, 20))} …`);
  out(`     stored size ${stored.length} bytes (AES-CTR adds none); stored bytes equal the plaintext? ${stored.equals(plaintext) ? 'YES' : 'no'}`);
  check(!stored.equals(plaintext) && stored.length === plaintext.length, 'OSS must hold ciphertext of the same length');
  out('   and the headers stored with it (the data key and IV travel wrapped by your RSA key):');
  for (const [name, value] of Object.entries(headers).sort(([a], [b]) => a.localeCompare(b))) {
    if (!name.startsWith('x-oss-meta-')) continue;
    const shown = value.length > 48 ? `${value.slice(0, 24)}…(${value.length} characters)` : value;
    out(`     ${name}: ${shown}`);
  }

  const whole = await client.get(KEY);
  out(`7. Downloaded and decrypted with EncryptionClient: ${whole.content.length} bytes; same SHA-256 as the original? ${check(
    sha256(whole.content) === sha256(plaintext),
    'the decrypted download must equal the original',
  )}`);

  const start = 1000;
  const end = 1099;
  const ranged = await client.get(KEY, { headers: { Range: `bytes=${start}-${end}` } });
  out(`8. Range read bytes=${start}-${end}: HTTP ${ranged.res.status}, Content-Range ${ranged.res.headers['content-range'] ?? '-'}`);
  out(`     ${JSON.stringify(ranged.content.toString('utf8'))}`);
  out(`     equals the plaintext's bytes ${start}..${end}? ${check(ranged.content.equals(plaintext.subarray(start, end + 1)), 'the range must equal the plaintext slice')}`);
}
