/**
 * Embedded-server rows (issue 8 §3: "the embedded server must not be the bottleneck of these measurements"): plain
 * `ali-oss` put/get against `startServer` (memory and disk stores) ÷ the same client against a bare `node:http`
 * sink/source that only keeps and returns the bytes. A ratio near 1 means the server adds little; a large ratio
 * means the end-to-end rows partly measure the server, and by how much.
 */

import OSS from 'ali-oss';
import { randomBytes } from 'node:crypto';
import type { BenchContext, RowGroup } from '../lib/context.js';
import { timed, type Side } from '../lib/measure.js';
import type { ServerProcess } from '../lib/processes.js';
import { countingRequests } from '../lib/requests.js';
import { formatSize } from '../lib/units.js';

/**
 * A plain ali-oss client for a server child (path-style: the endpoint is an IP address).
 * @param server - the server child
 */
export function plainClient(server: ServerProcess): OSS {
  return new OSS({
    region: 'oss-cn-hangzhou',
    bucket: server.bucket,
    endpoint: server.endpoint,
    accessKeyId: server.credentials.accessKeyId,
    accessKeySecret: server.credentials.accessKeySecret,
    secure: false,
    timeout: 600_000,
  });
}

/** ali-oss put of `body` under `key`, `batch` times. */
export function plainPut(client: OSS, key: string, body: Buffer): Side {
  return async (batch) =>
    timed(async () => {
      for (let i = 0; i < batch; i++) await client.put(key, body);
    });
}

/**
 * ali-oss get of `key`, `batch` times, checking the length.
 * @throws Error when a GET returns the wrong number of bytes
 */
export function plainGet(client: OSS, key: string, size: number): Side {
  return async (batch) =>
    timed(async () => {
      for (let i = 0; i < batch; i++) {
        const r = await client.get(key);
        if ((r.content as Buffer).length !== size) throw new Error(`GET ${key}: ${(r.content as Buffer).length} bytes, expected ${size}`);
      }
    });
}

/** The server row group. */
export const serverRows: RowGroup = {
  name: 'server',
  title: 'embedded server alone: ali-oss put/get ÷ the same against a bare node:http sink',
  async run(ctx: BenchContext): Promise<void> {
    const sink = await ctx.server('sink');
    const sinkClient = plainClient(sink);
    for (const store of ctx.options.stores) {
      const server = await ctx.server(store === 'memory' ? 'oss-memory' : 'oss-disk');
      const client = plainClient(server);
      for (const size of ctx.options.objectSizes) {
        const label = formatSize(size);
        const key = `server-row/${size}`;
        const body = randomBytes(size);
        await client.put(key, body);
        await sinkClient.put(key, body);
        await ctx.compare({
          group: 'server',
          id: `server.${store}.put.${label.replace(' ', '')}`,
          label: `PUT ${label} (${store} store)`,
          subject: `ali-oss put → embedded server (${store} store)`,
          baseline: 'ali-oss put → bare node:http sink',
          metric: 'time',
          unit: 'B',
          workPerUnit: size,
          a: countingRequests(server, plainPut(client, key, body)),
          b: countingRequests(sink, plainPut(sinkClient, key, body)),
        });
        await ctx.compare({
          group: 'server',
          id: `server.${store}.get.${label.replace(' ', '')}`,
          label: `GET ${label} (${store} store)`,
          subject: `ali-oss get ← embedded server (${store} store)`,
          baseline: 'ali-oss get ← bare node:http source',
          metric: 'time',
          unit: 'B',
          workPerUnit: size,
          a: countingRequests(server, plainGet(client, key, size)),
          b: countingRequests(sink, plainGet(sinkClient, key, size)),
        });
        await client.delete(key);
      }
    }
  },
};
