/**
 * Conformance targets: the embedded server (default) or real OSS (`OSS_CSE_LIVE=1`). A target is an endpoint,
 * credentials and a bucket; the same cases run against either.
 *
 * Live variables: OSS_CSE_LIVE=1, OSS_CSE_LIVE_BUCKET, OSS_ACCESS_KEY_ID, OSS_ACCESS_KEY_SECRET, and optionally
 * OSS_CSE_LIVE_REGION (default oss-cn-hangzhou) and OSS_CSE_LIVE_ENDPOINT.
 */

import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import * as http from 'node:http';
import * as https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OSS from 'ali-oss';
import { startServer, type RunningServer } from '../../../server/src/index.js';

export type Signing = 'v1' | 'v4';

export interface ConformanceTarget {
  readonly name: string;
  /** Endpoint URL; undefined on live OSS means "derive from region". */
  readonly endpoint: string | undefined;
  readonly region: string;
  readonly bucket: string;
  readonly credentials: { readonly accessKeyId: string; readonly accessKeySecret: string };
  /** True for the embedded server: enables checks of this server's documented choices. */
  readonly local: boolean;
  /** Unique key prefix for this run. */
  readonly prefix: string;
  /** The embedded server, when local. */
  readonly server: RunningServer | undefined;
  close(): Promise<void>;
}

export const LIVE_SKIP_REASON =
  'live OSS conformance runs only with OSS_CSE_LIVE=1 (and OSS_CSE_LIVE_BUCKET, OSS_ACCESS_KEY_ID, OSS_ACCESS_KEY_SECRET)';

/** Starts an embedded server on a fresh data directory (or in memory). */
export async function localTarget(options: { memory?: boolean } = {}): Promise<ConformanceTarget> {
  const dir = options.memory === true ? undefined : await mkdtemp(join(tmpdir(), 'oss-cse-conformance-'));
  const bucket = 'conformance';
  const server = await startServer({
    ...(dir === undefined ? { memory: true } : { dataDir: dir }),
    buckets: [bucket],
    kms: false,
  });
  return {
    name: options.memory === true ? 'embedded server (memory)' : 'embedded server (disk)',
    endpoint: server.endpoint,
    region: 'oss-cn-hangzhou',
    bucket,
    credentials: server.credentials,
    local: true,
    prefix: `run-${randomBytes(4).toString('hex')}/`,
    server,
    close: async () => {
      await server.close();
      if (dir !== undefined) await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Real OSS from the environment; undefined unless OSS_CSE_LIVE=1. */
export function liveTarget(): ConformanceTarget | undefined {
  const env = process.env;
  if (env.OSS_CSE_LIVE !== '1') return undefined;
  const bucket = env.OSS_CSE_LIVE_BUCKET;
  const accessKeyId = env.OSS_ACCESS_KEY_ID;
  const accessKeySecret = env.OSS_ACCESS_KEY_SECRET;
  if (bucket === undefined || accessKeyId === undefined || accessKeySecret === undefined) {
    throw new Error('OSS_CSE_LIVE=1 needs OSS_CSE_LIVE_BUCKET, OSS_ACCESS_KEY_ID and OSS_ACCESS_KEY_SECRET');
  }
  return {
    name: 'live OSS',
    endpoint: env.OSS_CSE_LIVE_ENDPOINT,
    region: env.OSS_CSE_LIVE_REGION ?? 'oss-cn-hangzhou',
    bucket,
    credentials: { accessKeyId, accessKeySecret },
    local: false,
    prefix: `oss-cse-conformance/run-${randomBytes(4).toString('hex')}/`,
    server: undefined,
    close: async () => undefined,
  };
}

/** An ali-oss client for the target. */
export function ossClient(
  target: ConformanceTarget,
  signing: Signing,
  overrides: Partial<{ bucket: string; accessKeyId: string; accessKeySecret: string; endpoint: string; sldEnable: boolean }> = {},
): OSS {
  const endpoint = overrides.endpoint ?? target.endpoint;
  return new OSS({
    region: target.region,
    bucket: overrides.bucket ?? target.bucket,
    accessKeyId: overrides.accessKeyId ?? target.credentials.accessKeyId,
    accessKeySecret: overrides.accessKeySecret ?? target.credentials.accessKeySecret,
    authorizationV4: signing === 'v4',
    secure: target.local ? false : true,
    timeout: 30_000,
    ...(endpoint === undefined ? {} : { endpoint }),
    ...(overrides.sldEnable === true ? { sldEnable: true } : {}),
  });
}

/**
 * A client that can presign URLs: ali-oss refuses `signatureUrl` for IP endpoints, so locally it uses `localhost`
 * (path style with `sldEnable`, virtual-host style without).
 */
export function presignClient(target: ConformanceTarget, signing: Signing, style: 'path' | 'virtual-host'): OSS {
  if (!target.local || target.server === undefined) return ossClient(target, signing);
  return ossClient(target, signing, {
    endpoint: `http://localhost:${target.server.port}`,
    sldEnable: style === 'path',
  });
}

export interface RawResponse {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
}

/**
 * A plain HTTP(S) request. `connectTo` sends it to another address than the URL's host while keeping the URL's
 * Host header (for `bucket.localhost` URLs).
 */
export async function rawRequest(
  url: string,
  options: { method?: string; headers?: http.OutgoingHttpHeaders; body?: Buffer; connectTo?: { host: string; port: number } } = {},
): Promise<RawResponse> {
  const u = new URL(url);
  const mod = u.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.request(
      {
        method: options.method ?? 'GET',
        host: options.connectTo?.host ?? u.hostname,
        port: options.connectTo?.port ?? u.port,
        path: `${u.pathname}${u.search}`,
        headers: { host: u.host, ...options.headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

/**
 * A request signed with OSS V1 by this test code (independently of ali-oss and the server), sent with the path
 * exactly as given — no URL normalisation, so keys like `a/../b` reach the server as written.
 */
export async function signedRawRequest(
  target: ConformanceTarget,
  options: { method: string; bucket: string; key: string; rawPath: string; headers?: Record<string, string>; body?: Buffer },
): Promise<RawResponse> {
  const { createHmac } = await import('node:crypto');
  const headers: Record<string, string> = { date: new Date().toUTCString(), ...options.headers };
  const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  const ossHeaders = Object.keys(lower)
    .filter((k) => k.startsWith('x-oss-'))
    .sort()
    .map((k) => `${k}:${(lower[k] ?? '').trim()}`);
  const stringToSign = [
    options.method,
    lower['content-md5'] ?? '',
    lower['content-type'] ?? '',
    lower.date ?? '',
    ...ossHeaders,
    `/${options.bucket}/${options.key}`,
  ].join('\n');
  const signature = createHmac('sha1', target.credentials.accessKeySecret).update(stringToSign, 'utf8').digest('base64');
  const endpoint = new URL(target.endpoint ?? `https://${target.region}.aliyuncs.com`);
  const mod = endpoint.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.request(
      {
        method: options.method,
        host: endpoint.hostname,
        port: endpoint.port,
        path: options.rawPath,
        headers: {
          ...headers,
          host: `${options.bucket}.${target.region}.aliyuncs.com`,
          authorization: `OSS ${target.credentials.accessKeyId}:${signature}`,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}
