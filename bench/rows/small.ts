/**
 * Small-object round trips (issue 15: "1 KiB put+get round trips in one process, ops/s ÷ Go v1's ≥ 1.5"): sequential
 * put-then-get of a 1 KiB buffer in one process, against the embedded server in its own process.
 *
 * - `EncryptionClient` (RSA master key) ÷ plain ali-oss put + get of the same bytes;
 * - `EncryptionClient` (KMS master key, the emulator in a third process) ÷ plain ali-oss;
 * - `EncryptionClient` (RSA) ÷ Go v1 `CryptoBucket` PutObject + GetObject (`gopeer v1 small -n N`: one Go process
 *   per timed run, timed inside the process, so Go's start-up is not counted), same key pair and server. Runs when
 *   `$PEERS/bin/gopeer` exists (`../shared/peers/README.md`), reported as skipped otherwise.
 *
 * All read as ops/s ÷ ops/s (higher is better). `bench/small-once.ts` is the same loop for profiling.
 */

import type OSS from 'ali-oss';
import { execFile } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EncryptionClient } from '../../src/client.js';
import { KmsMasterKey } from '../../src/keys/kms.js';
import { RsaMasterKey } from '../../src/keys/rsa.js';
import type { BenchContext, RowGroup } from '../lib/context.js';
import { timed, type Side, type Target } from '../lib/measure.js';
import { countingRequests } from '../lib/requests.js';
import { plainClient } from './server.js';

const SIZE = 1024;
const GO_TARGET: Target = { op: '>=', value: 1.5, source: 'issue 15: 1 KiB put+get round trips, ops/s ÷ Go v1 ≥ 1.5' };

/** `batch` put-then-get round trips of `body` under `key` with an EncryptionClient. */
function encRoundTrips(client: EncryptionClient, key: string, body: Buffer): Side {
  return async (batch) =>
    timed(async () => {
      for (let i = 0; i < batch; i++) {
        await client.put(key, body);
        const r = await client.get(key);
        if (r.content.length !== body.length) throw new Error(`GET ${key}: ${r.content.length} bytes, expected ${body.length}`);
      }
    });
}

/** The same with plain ali-oss (no encryption). */
function plainRoundTrips(oss: OSS, key: string, body: Buffer): Side {
  return async (batch) =>
    timed(async () => {
      for (let i = 0; i < batch; i++) {
        await oss.put(key, body);
        const r = await oss.get(key);
        if ((r.content as Buffer).length !== body.length) throw new Error(`GET ${key}: ${(r.content as Buffer).length} bytes, expected ${body.length}`);
      }
    });
}

/**
 * `gopeer v1 small -n batch`: the Go process times its own loop and prints "ok N round trips in T s (R per s)".
 * @throws Error when the driver fails or prints no time
 */
async function goRoundTrips(argv: readonly string[], batch: number): Promise<number> {
  const [cmd, ...rest] = argv;
  const out = await new Promise<string>((resolve, reject) => {
    execFile(cmd ?? '', [...rest.slice(0, 2), '-n', String(batch), ...rest.slice(2)], { maxBuffer: 1 << 20 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`gopeer v1 small failed: ${stderr.trim().split('\n').slice(-3).join(' | ')}`));
      else resolve(stdout);
    });
  });
  const seconds = /round trips in ([\d.]+) s/.exec(out)?.[1];
  if (seconds === undefined) throw new Error(`gopeer v1 small printed no time: ${out.trim()}`);
  return Number(seconds);
}

/** The small-object row group. */
export const smallRows: RowGroup = {
  name: 'small',
  title: '1 KiB put+get round trips in one process: EncryptionClient ÷ plain ali-oss, ÷ Go v1',
  async run(ctx: BenchContext): Promise<void> {
    if (!ctx.options.objectSizes.includes(SIZE)) {
      for (const id of ['small.rsa.1KiB', 'small.kms.1KiB', 'small.go-v1.1KiB']) ctx.skip('small', id, '--sizes does not include 1KiB');
      return;
    }
    const server = await ctx.server('oss-memory');
    const oss = plainClient(server);
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: ctx.options.rsaBits });
    const rsaClient = new EncryptionClient(oss, { masterKey: new RsaMasterKey({ privateKey }) });
    const body = randomBytes(SIZE);
    const counted = (side: Side): Side => countingRequests(server, side);
    const plain = counted(plainRoundTrips(oss, 'small/plain', body));
    const rsa = counted(encRoundTrips(rsaClient, 'small/rsa', body));

    await ctx.compare({
      group: 'small',
      id: 'small.rsa.1KiB',
      label: '1 KiB put+get round trips, RSA',
      subject: 'EncryptionClient put(buffer) then get, RSA-2048 master key',
      baseline: 'ali-oss put(buffer) then get (no encryption)',
      metric: 'speed',
      unit: 'op',
      workPerUnit: 1,
      a: rsa,
      b: plain,
      note: 'sequential round trips; the RSA unwrap is two private operations (key and IV), ~0.25 ms each',
    });

    const kms = await ctx.server('kms');
    if (kms.keyId === undefined) {
      ctx.skip('small', 'small.kms.1KiB', 'the KMS child created no key');
    } else {
      const master = new KmsMasterKey({ keyId: kms.keyId, region: 'cn-hangzhou', endpoint: kms.endpoint, credentials: kms.credentials });
      const kmsClient = new EncryptionClient(oss, { masterKey: master });
      await ctx.compare({
        group: 'small',
        id: 'small.kms.1KiB',
        label: '1 KiB put+get round trips, KMS',
        subject: 'EncryptionClient put(buffer) then get, KMS master key (emulator, own process)',
        baseline: 'ali-oss put(buffer) then get (no encryption)',
        metric: 'speed',
        unit: 'op',
        workPerUnit: 1,
        a: counted(encRoundTrips(kmsClient, 'small/kms', body)),
        b: plain,
        note: 'req/op counts OSS requests only; each round trip also makes 2 KMS Encrypt + 2 KMS Decrypt calls',
      });
      await kmsClient.delete('small/kms');
    }

    const peers = process.env['PEERS'];
    const gopeer = peers === undefined ? undefined : join(peers, 'bin', 'gopeer');
    if (gopeer === undefined || !existsSync(gopeer)) {
      ctx.skip('small', 'small.go-v1.1KiB', 'skipped: no $PEERS/bin/gopeer (see ../shared/peers/README.md)');
    } else {
      const dir = await mkdtemp(join(tmpdir(), 'oss-cse-bench-small-'));
      try {
        const pub = join(dir, 'pub.pem');
        const priv = join(dir, 'priv.pem');
        const file = join(dir, '1k.bin');
        await writeFile(pub, publicKey.export({ type: 'pkcs1', format: 'pem' }));
        await writeFile(priv, privateKey.export({ type: 'pkcs1', format: 'pem' }));
        await writeFile(file, body);
        const { accessKeyId: ak, accessKeySecret: sk } = server.credentials;
        const argv = [gopeer, 'v1', 'small', '-endpoint', server.endpoint, '-ak', ak, '-sk', sk, '-bucket', server.bucket, '-key', 'small/go', '-file', file, '-pub', pub, '-priv', priv];
        await ctx.compare({
          group: 'small',
          id: 'small.go-v1.1KiB',
          label: '1 KiB put+get round trips ÷ Go v1, RSA',
          subject: 'EncryptionClient put(buffer) then get, RSA-2048 (in process)',
          baseline: 'Go v1 CryptoBucket PutObject then GetObject, same key (gopeer v1 small, timed inside the process)',
          metric: 'speed',
          unit: 'op',
          workPerUnit: 1,
          a: rsa,
          b: counted(async (batch) => goRoundTrips(argv, batch)),
          target: GO_TARGET,
          note: 'Go v1 sends HEAD + GET per read (3 requests per round trip) and writes a fresh key per round trip',
        });
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    }
    await rsaClient.delete('small/rsa');
    await oss.delete('small/plain');
  },
};
