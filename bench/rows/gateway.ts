/**
 * Gateway rows (issue 20): plain ali-oss put+get through `oss-cse gateway` (its own process, in front of the
 * embedded server) ÷ the same put+get with `EncryptionClient` straight to the server, which is what `oss-cse put/get`
 * run (without their process start-up, which would flatter the gateway). Both sides encrypt and decrypt once with the
 * same RSA key; the gateway side adds the extra hop and the gateway's own request parsing and signature check.
 *
 * Beside them, the literal baseline as whole processes on both sides (each pays one process start per
 * operation it runs): A = one child running plain ali-oss put+get of a file through the running gateway, B =
 * `oss-cse put FILE oss://BUCKET/KEY` then `oss-cse get oss://BUCKET/KEY OUT` against the same upstream with the same
 * RSA key.
 */

import OSS from 'ali-oss';
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchContext, RowGroup } from '../lib/context.js';
import { timed, type Side, type Target } from '../lib/measure.js';
import { childExecArgv } from '../lib/processes.js';
import { formatSize } from '../lib/units.js';
import { isolatedCliEnv } from '../lib/cli-env.js';
import { plainClient } from './server.js';

const TARGET: Target = { op: '<=', value: 1.3, source: 'issue 20: put+get through the gateway ≤ 1.3 × oss-cse put/get directly' };
const CHILD = fileURLToPath(new URL('../lib/gateway-child.ts', import.meta.url));
const PUTGET_CHILD = fileURLToPath(new URL('../lib/gateway-putget-child.ts', import.meta.url));
const CLI = fileURLToPath(new URL('../../bin/oss-cse.js', import.meta.url));

/**
 * Runs one process to completion.
 * @throws Error when it exits other than with 0 (its stderr in the message)
 */
async function runProcess(args: readonly string[], env: NodeJS.ProcessEnv): Promise<void> {
  const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (c) => resolve(c));
  });
  if (code !== 0) throw new Error(`${args.join(' ')} exited with ${code}\n${stderr}`);
}

interface GatewayChild {
  readonly child: ChildProcess;
  readonly endpoint: string;
  readonly credentials: { accessKeyId: string; accessKeySecret: string };
}

async function startGatewayChild(config: object): Promise<GatewayChild> {
  const child = spawn(process.execPath, [...childExecArgv(), CHILD], {
    env: { ...process.env, GATEWAY_CHILD_CONFIG: JSON.stringify(config) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const line = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const nl = out.indexOf('\n');
      if (nl >= 0) resolve(out.slice(0, nl));
    });
    child.once('exit', (code) => reject(new Error(`gateway child exited with ${code}`)));
  });
  const ready = JSON.parse(line) as { endpoint: string; credentials: { accessKeyId: string; accessKeySecret: string } };
  return { child, ...ready };
}

/** The gateway row group. */
export const gatewayRows: RowGroup = {
  name: 'gateway',
  title: 'encrypting gateway: plain ali-oss through oss-cse gateway ÷ EncryptionClient directly',
  async run(ctx: BenchContext): Promise<void> {
    const server = await ctx.server('oss-memory');
    const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const privateKeyPem = pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const gateway = await startGatewayChild({ endpoint: server.endpoint, ...server.credentials, privateKeyPem });
    const dir = await mkdtemp(join(tmpdir(), 'oss-cse-bench-gateway-'));
    try {
      const home = join(dir, 'home');
      const keyFile = join(dir, 'private.pem');
      await writeFile(keyFile, privateKeyPem, { mode: 0o600 });
      const cliEnv = isolatedCliEnv(server, home);
      const { EncryptionClient } = await import('../../src/client.js');
      const { RsaMasterKey } = await import('../../src/keys/rsa.js');
      const direct = new EncryptionClient(plainClient(server), { masterKey: new RsaMasterKey({ privateKey: privateKeyPem }) });
      const viaGateway = new OSS({
        region: 'oss-cn-hangzhou',
        bucket: server.bucket,
        endpoint: gateway.endpoint,
        ...gateway.credentials,
        secure: false,
        timeout: 600_000,
      });
      for (const size of ctx.options.objectSizes) {
        const label = formatSize(size);
        const body = randomBytes(size);
        const check = (n: number, what: string): void => {
          if (n !== size) throw new Error(`${what}: ${n} bytes, expected ${size}`);
        };
        const gatewaySide: Side = async (batch) =>
          timed(async () => {
            for (let i = 0; i < batch; i++) {
              await viaGateway.put('gateway/bench', body);
              check(((await viaGateway.get('gateway/bench')).content as Buffer).length, 'GET through the gateway');
            }
          });
        const directSide: Side = async (batch) =>
          timed(async () => {
            for (let i = 0; i < batch; i++) {
              await direct.put('gateway/direct', body);
              check((await direct.get('gateway/direct')).content.length, 'EncryptionClient GET');
            }
          });
        await ctx.compare({
          group: 'gateway',
          id: `gateway.putget.${label.replace(' ', '')}`,
          label: `PUT+GET ${label} through the gateway`,
          subject: 'ali-oss put+get through oss-cse gateway (separate process)',
          baseline: 'EncryptionClient put+get directly (what oss-cse put/get run)',
          metric: 'time',
          unit: 'B',
          workPerUnit: size,
          a: gatewaySide,
          b: directSide,
          target: TARGET,
        });
      }
      for (const size of ctx.options.objectSizes) {
        const label = formatSize(size);
        const tag = label.replace(' ', '');
        const file = join(dir, `body-${tag}`);
        await writeFile(file, randomBytes(size));
        const gatewayOut = join(dir, `gateway-out-${tag}`);
        const cliOut = join(dir, `cli-out-${tag}`);
        const checkFile = async (path: string, what: string): Promise<void> => {
          const n = (await stat(path)).size;
          if (n !== size) throw new Error(`${what}: ${n} bytes, expected ${size}`);
        };
        const childConfig = JSON.stringify({
          endpoint: gateway.endpoint,
          bucket: server.bucket,
          ...gateway.credentials,
          key: `gateway/process-${tag}`,
          file,
          out: gatewayOut,
        });
        const gatewayProcess: Side = async (batch) =>
          timed(async () => {
            for (let i = 0; i < batch; i++) {
              await runProcess([...childExecArgv(), PUTGET_CHILD], { ...process.env, GATEWAY_PUTGET_CONFIG: childConfig });
            }
          });
        const remote = `oss://${server.bucket}/gateway/cli-${tag}`;
        const common = ['--endpoint', server.endpoint, '--private-key', keyFile];
        const cliProcesses: Side = async (batch) =>
          timed(async () => {
            for (let i = 0; i < batch; i++) {
              await runProcess([CLI, 'put', file, remote, ...common], cliEnv);
              await runProcess([CLI, 'get', remote, cliOut, ...common], cliEnv);
            }
          });
        await ctx.compare({
          group: 'gateway',
          id: `gateway.putget-processes.${tag}`,
          label: `PUT+GET ${label} through the gateway ÷ oss-cse put/get (processes)`,
          subject: 'one process: plain ali-oss put+get of a file through oss-cse gateway (running in its own process)',
          baseline: '`oss-cse put FILE oss://…` then `oss-cse get oss://… OUT` (two processes, same upstream and RSA key)',
          metric: 'time',
          unit: 'B',
          workPerUnit: size,
          a: gatewayProcess,
          b: cliProcesses,
          target: TARGET,
          note: 'issue 20 literal baseline; the gateway-side child runs with the bench loader (tsx), the CLI from dist/ (npm run build first)',
        });
        await checkFile(gatewayOut, 'GET through the gateway (process)');
        await checkFile(cliOut, 'oss-cse get');
      }
      // Bounded memory: the gateway streams, so its peak RSS must not follow the object size.
      const status = await readFile(`/proc/${gateway.child.pid ?? 0}/status`, 'utf8').catch(() => '');
      const peak = /^VmHWM:\s+(\d+) kB/m.exec(status)?.[1];
      if (peak !== undefined) {
        const largest = formatSize(Math.max(...ctx.options.objectSizes));
        ctx.note(`gateway process peak RSS ${(Number(peak) / 1024).toFixed(1)} MiB after the rows above (objects up to ${largest})`);
      }
    } finally {
      gateway.child.kill('SIGTERM');
      await new Promise((resolve) => gateway.child.once('exit', resolve));
      await rm(dir, { recursive: true, force: true });
    }
  },
};
