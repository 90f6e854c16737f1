/**
 * Gateway rows (issue 20): plain ali-oss put+get through `oss-cse gateway` (its own process, in front of the
 * embedded server) ÷ the same put+get with `EncryptionClient` straight to the server, which is what `oss-cse put/get`
 * run (without their process start-up, which would flatter the gateway). Both sides encrypt and decrypt once with the
 * same RSA key; the gateway side adds the extra hop and the gateway's own request parsing and signature check.
 */

import OSS from 'ali-oss';
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { BenchContext, RowGroup } from '../lib/context.js';
import { timed, type Side, type Target } from '../lib/measure.js';
import { childExecArgv } from '../lib/processes.js';
import { formatSize } from '../lib/units.js';
import { plainClient } from './server.js';

const TARGET: Target = { op: '<=', value: 1.3, source: 'issue 20: put+get through the gateway ≤ 1.3 × oss-cse put/get directly' };
const CHILD = fileURLToPath(new URL('../lib/gateway-child.ts', import.meta.url));

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
    try {
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
    }
  },
};
