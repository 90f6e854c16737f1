/**
 * The official SDKs side by side (issue 15, "The peers, for real"): `oss-cse put` / `oss-cse get` (the CLI, one
 * process per operation, RSA master key) against Go v1 `CryptoBucket`, Go v2 `EncryptionClient` and oss2 2.19.1
 * `CryptoBucket` doing the same with the same RSA key pair against the same embedded server, each a whole process:
 * put, get, and put then get, at 1 KiB, 1 MiB and 256 MiB (those of the run's `--sizes`). Peak RSS of each process
 * comes from `/usr/bin/time` when it exists.
 *
 * The peers are built outside the repository (`../shared/peers/README.md`: `PEERS=/tmp/oss-cse-peers bash setup.sh`);
 * without `$PEERS/bin/gopeer` or `$PEERS/py/peer.py` the rows are reported as skipped. Nothing here is needed by tests.
 */

import { execFile } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchContext, RowGroup } from '../lib/context.js';
import type { Sample } from '../lib/measure.js';
import { formatSize } from '../lib/units.js';

const SIZES = [1024, 1024 * 1024, 256 * 1024 * 1024];
const CLI = fileURLToPath(new URL('../../bin/oss-cse.js', import.meta.url));
const TIME = '/usr/bin/time';

interface Peer {
  readonly id: string;
  readonly label: string;
  /** argv of one operation (without the time wrapper). */
  argv(op: 'put' | 'get', file: string, key: string): { cmd: string; args: string[]; env?: NodeJS.ProcessEnv };
}

/** Runs a command, returns its wall time and peak RSS; throws with its stderr when it fails. */
async function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<Sample> {
  const useTime = existsSync(TIME);
  const [file, argv] = useTime ? [TIME, ['-f', 'peak-rss-kib %M', cmd, ...args]] : [cmd, args];
  const t0 = performance.now();
  const stderr = await new Promise<string>((resolve, reject) => {
    execFile(file, argv, { env, maxBuffer: 1 << 20 }, (error, _stdout, err) => {
      if (error) reject(new Error(`${cmd} ${args[0] ?? ''} ${args[1] ?? ''} failed: ${err.trim().split('\n').slice(-3).join(' | ')}`));
      else resolve(err);
    });
  });
  const seconds = (performance.now() - t0) / 1000;
  const kib = /peak-rss-kib (\d+)/.exec(stderr)?.[1];
  return kib === undefined ? { seconds } : { seconds, peakRssBytes: Number(kib) * 1024 };
}

/** The peers row group. */
export const peersRows: RowGroup = {
  name: 'peers',
  title: 'oss-cse CLI ÷ the official SDKs (Go v1, Go v2, oss2), whole processes, same server and key',
  async run(ctx: BenchContext): Promise<void> {
    const sizes = SIZES.filter((s) => ctx.options.objectSizes.includes(s));
    const peersDir = process.env['PEERS'];
    const gopeer = peersDir === undefined ? undefined : join(peersDir, 'bin', 'gopeer');
    const pyPeer = peersDir === undefined ? undefined : join(peersDir, 'py', 'peer.py');
    const haveGo = gopeer !== undefined && existsSync(gopeer);
    const havePy = pyPeer !== undefined && existsSync(pyPeer) && peersDir !== undefined && existsSync(join(peersDir, 'py', 'oss2-2.19.1'));
    const ids = (peer: string): string[] => sizes.flatMap((s) => ['put', 'get', 'put+get'].map((op) => `peers.${peer}.${op}.${formatSize(s).replace(' ', '')}`));
    if (!existsSync(join(fileURLToPath(new URL('../../dist/src/cli/main.js', import.meta.url))))) {
      for (const p of ['go-v1', 'go-v2', 'oss2']) for (const id of ids(p)) ctx.skip('peers', id, 'the CLI is not built (npm run build)');
      return;
    }
    if (!haveGo) for (const p of ['go-v1', 'go-v2']) for (const id of ids(p)) ctx.skip('peers', id, 'skipped: no $PEERS/bin/gopeer (see ../shared/peers/README.md)');
    if (!havePy) for (const id of ids('oss2')) ctx.skip('peers', id, 'skipped: no oss2 peer in $PEERS/py (see ../shared/peers/README.md)');
    if (!haveGo && !havePy) return;

    const server = await ctx.server('oss-memory');
    const dir = await mkdtemp(join(tmpdir(), 'oss-cse-bench-peers-'));
    try {
      const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: ctx.options.rsaBits });
      const pub = join(dir, 'pub.pem');
      const priv = join(dir, 'priv.pem');
      await writeFile(pub, publicKey.export({ type: 'pkcs1', format: 'pem' }));
      await writeFile(priv, privateKey.export({ type: 'pkcs1', format: 'pem' }));
      const { accessKeyId: ak, accessKeySecret: sk } = server.credentials;
      const bucket = server.bucket;
      const env: NodeJS.ProcessEnv = {
        ...process.env,
        OSS_ACCESS_KEY_ID: ak,
        OSS_ACCESS_KEY_SECRET: sk,
        OSS_CSE_HOME: join(dir, 'home'),
      };
      const ours = (op: 'put' | 'get', file: string, key: string): { cmd: string; args: string[] } => ({
        cmd: process.execPath,
        args:
          op === 'put'
            ? [CLI, 'put', file, `oss://${bucket}/${key}`, '--endpoint', server.endpoint, '--private-key', priv, '--quiet']
            : [CLI, 'get', `oss://${bucket}/${key}`, file, '--endpoint', server.endpoint, '--private-key', priv, '--quiet'],
      });
      const go = (version: 'v1' | 'v2'): Peer => ({
        id: `go-${version}`,
        label: `Go ${version}`,
        argv: (op, file, key) => ({
          cmd: gopeer ?? '',
          args: [version, op, '-endpoint', server.endpoint, '-ak', ak, '-sk', sk, '-bucket', bucket, '-key', key, '-file', file, '-pub', pub, '-priv', priv],
        }),
      });
      const oss2: Peer = {
        id: 'oss2',
        label: 'oss2 2.19.1',
        argv: (op, file, key) => ({
          // Debian's interpreter: setup.sh installs oss2's dependencies (crcmod, pycryptodome) with apt.
          cmd: existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3',
          args: [pyPeer ?? '', op, '--endpoint', server.endpoint, '--ak', ak, '--sk', sk, '--bucket', bucket, '--key', key, '--file', file, '--provider', 'rsa', '--pub', pub, '--priv', priv],
          env: { ...env, PYTHONPATH: `${join(peersDir ?? '', 'py', 'oss2-2.19.1')}:${join(peersDir ?? '', 'py', 'aliyun')}` },
        }),
      };
      const peers = [...(haveGo ? [go('v1'), go('v2')] : []), ...(havePy ? [oss2] : [])];
      for (const size of sizes) {
        const label = formatSize(size);
        const source = join(dir, `source-${size}.bin`);
        await writeFile(source, randomBytes(size));
        const out = join(dir, 'out.bin');
        const mine = { put: ours('put', source, 'peers/ours'), get: ours('get', out, 'peers/ours') };
        await run(mine.put.cmd, mine.put.args, env);
        for (const peer of peers) {
          const key = `peers/${peer.id}`;
          const theirs = { put: peer.argv('put', source, key), get: peer.argv('get', out, key) };
          const exec = async (c: { cmd: string; args: string[]; env?: NodeJS.ProcessEnv }): Promise<Sample> => run(c.cmd, c.args, c.env ?? env);
          try {
            await exec(theirs.put);
          } catch (e) {
            // A peer that cannot run (missing Python module, …) costs its own rows, not the group.
            const reason = `skipped: ${peer.label} failed to run: ${e instanceof Error ? e.message : String(e)}`;
            for (const op of ['put', 'get', 'put+get']) ctx.skip('peers', `peers.${peer.id}.${op}.${label.replace(' ', '')}`, reason);
            continue;
          }
          const both = async (a: typeof mine): Promise<Sample> => {
            const p = await exec(a.put);
            const g = await exec(a.get);
            return { seconds: p.seconds + g.seconds, ...(p.peakRssBytes === undefined || g.peakRssBytes === undefined ? {} : { peakRssBytes: Math.max(p.peakRssBytes, g.peakRssBytes) }) };
          };
          for (const op of ['put', 'get', 'put+get'] as const) {
            await ctx.compare({
              group: 'peers',
              id: `peers.${peer.id}.${op}.${label.replace(' ', '')}`,
              label: `÷ ${peer.label}: ${op} ${label}`,
              subject: `oss-cse ${op === 'put+get' ? 'put then get' : op} (CLI process, RSA)`,
              baseline: `${peer.label} ${op === 'put+get' ? 'put then get' : op} (its own process, RSA, same key and server)`,
              metric: 'time',
              unit: 'B',
              workPerUnit: size,
              batch: 1,
              a: async () => (op === 'put' ? exec(mine.put) : op === 'get' ? exec(mine.get) : both(mine)),
              b: async () => (op === 'put' ? exec(theirs.put) : op === 'get' ? exec(theirs.get) : both(theirs)),
              note: 'whole processes (start-up included: Node ≈ 0.1–0.2 s, Go ≈ 0.01 s, Python ≈ 0.2 s); peak RSS from /usr/bin/time',
            });
          }
        }
        await rm(source, { force: true });
        await rm(out, { force: true });
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
};
