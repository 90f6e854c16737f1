// Shared set-up of the gateway tests: the embedded server as a separate process (the upstream), an RSA key pair on
// disk (so `oss-cse get` can read what the gateway wrote), plain ali-oss clients, and an independent reader of the
// V2 envelope written here with node:crypto only (no code from src/), as test/interop/independent-reader does.
import assert from 'node:assert/strict';
import { constants, createDecipheriv, generateKeyPairSync, privateDecrypt } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import OSS from 'ali-oss';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const BIN = join(ROOT, 'bin', 'oss-cse.js');
export const SKIP = existsSync(join(ROOT, 'dist', 'src', 'cli', 'main.js')) ? undefined : 'needs the build output: run `npm run build` (npm test does)';
export const BUCKET = 'gw-test';

export interface Pair {
  readonly accessKeyId: string;
  readonly accessKeySecret: string;
}

export interface Child {
  readonly child: ChildProcess;
  readonly lines: string[];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
  stderr(): string;
}

/** Starts `node bin/oss-cse.js ARGS` and waits for `expectLines` lines on stdout. */
export async function startCli(args: string[], env: NodeJS.ProcessEnv, expectLines: number): Promise<Child> {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  const lines = await new Promise<string[]>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${args[0]} did not get ready: ${stderr}`)), 30_000);
    const check = (): void => {
      const done = stdout.split('\n').slice(0, -1);
      if (done.length >= expectLines) {
        clearTimeout(timer);
        resolve(done);
      }
    };
    child.stdout.on('data', check);
    child.once('exit', () => {
      clearTimeout(timer);
      reject(new Error(`${args[0]} exited early: ${stderr}`));
    });
  });
  return { child, lines, exited, stderr: () => stderr };
}

/** The credentials printed after a ready line. */
export function credentialsFrom(lines: string[]): Pair {
  const id = /^OSS_ACCESS_KEY_ID=(\S+)$/.exec(lines[1] ?? '');
  const secret = /^OSS_ACCESS_KEY_SECRET=(\S+)$/.exec(lines[2] ?? '');
  assert.ok(id && secret, `credential lines: ${lines.slice(1).join(' | ')}`);
  return { accessKeyId: id[1]!, accessKeySecret: secret[1]! };
}

/** The embedded server in its own process, in memory, with the test bucket. */
export async function startUpstream(): Promise<{ endpoint: string; credentials: Pair; stop: () => Promise<void> }> {
  const s = await startCli(['serve', '--memory', '--bucket', BUCKET], process.env, 3);
  const m = /^oss-cse server listening on (http:\/\/127\.0\.0\.1:\d+)$/.exec(s.lines[0] ?? '');
  assert.ok(m, s.lines[0]);
  return {
    endpoint: m[1]!,
    credentials: credentialsFrom(s.lines),
    stop: async () => {
      s.child.kill('SIGTERM');
      await s.exited;
    },
  };
}

/** An RSA key pair written to a fresh directory. */
export async function keyFiles(): Promise<{ dir: string; publicPem: string; privatePem: string; publicPath: string; privatePath: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'oss-cse-gw-'));
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  await writeFile(join(dir, 'public.pem'), publicKey);
  await writeFile(join(dir, 'private.pem'), privateKey, { mode: 0o600 });
  return { dir, publicPem: publicKey, privatePem: privateKey, publicPath: join(dir, 'public.pem'), privatePath: join(dir, 'private.pem') };
}

/** A plain ali-oss client (IP endpoint: virtual-host Host header, as ossutil-style clients send). */
export function plainClient(endpoint: string, credentials: Pair, options: { v4?: boolean } = {}): any {
  return new OSS({ endpoint, region: 'oss-cn-hangzhou', bucket: BUCKET, ...credentials, authorizationV4: options.v4 === true, timeout: 60_000 });
}

const P = 'x-oss-meta-client-side-encryption-';

/** RSAES-PKCS1-v1_5 decryption written plainly from RFC 8017 §7.2.2 (a test: timing does not matter). */
function pkcs1v15Decrypt(privateKeyPem: string, ciphertext: Buffer): Buffer {
  const em = privateDecrypt({ key: privateKeyPem, padding: constants.RSA_NO_PADDING }, ciphertext);
  assert.equal(em[0], 0x00);
  assert.equal(em[1], 0x02);
  const sep = em.indexOf(0x00, 2);
  assert.ok(sep >= 10);
  return em.subarray(sep + 1);
}

/**
 * Checks the V2 envelope of a stored object and decrypts it independently.
 * @returns the plaintext
 */
export function independentDecrypt(headers: Record<string, string>, ciphertext: Buffer, privatePem: string): Buffer {
  assert.equal(headers[`${P}cek-alg`], 'AES/CTR/NoPadding');
  assert.equal(headers[`${P}wrap-alg`], 'RSA/NONE/PKCS1Padding');
  assert.ok(headers[`${P}key`] && headers[`${P}start`], 'the V2 envelope is stored upstream');
  const key = pkcs1v15Decrypt(privatePem, Buffer.from(headers[`${P}key`]!, 'base64'));
  const iv = pkcs1v15Decrypt(privatePem, Buffer.from(headers[`${P}start`]!, 'base64'));
  assert.equal(key.length, 32);
  assert.equal(iv.length, 16);
  const d = createDecipheriv('aes-256-ctr', key, iv);
  return Buffer.concat([d.update(ciphertext), d.final()]);
}

/** Raw GET without exceptions: status, headers and body of any answer. */
export async function rawGet(client: any, key: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, string>; body: Buffer }> {
  try {
    const r = await client.get(key, { headers });
    return { status: r.res.status, headers: r.res.headers, body: Buffer.from(r.content ?? []) };
  } catch (e: any) {
    if (typeof e.status !== 'number' || e.status < 300) throw e;
    return { status: e.status, headers: e.headers ?? {}, body: Buffer.alloc(0) };
  }
}
