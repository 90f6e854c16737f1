// A tiny hostile "OSS" for the cases the embedded server cannot lie about: a node:http listener on loopback whose
// answer to every request is whatever the current test handler writes (wrong Content-Range, a body longer or shorter
// than declared, absurd headers). It checks no signature. Paired with a real ali-oss client and EncryptionClient.
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import OSS from 'ali-oss';
import { EncryptionClient } from '../../src/client.js';
import { masterKey } from './support.js';

/** Writes the answer to one request. */
export type HostileHandler = (req: http.IncomingMessage, res: http.ServerResponse, body: Buffer) => void;

export interface HostileServer {
  /** The handler used for the next requests. */
  handler: HostileHandler;
  readonly client: EncryptionClient;
  readonly oss: OSS;
  /** `http://127.0.0.1:PORT`, for clients of its own (the CLI's --endpoint). */
  readonly endpoint: string;
  /** Requests received, as `METHOD path` with the Range header when present. */
  readonly seen: string[];
  close(): Promise<void>;
}

export async function startHostileServer(): Promise<HostileServer> {
  const seen: string[] = [];
  const state: { handler: HostileHandler } = {
    handler: (_req, res) => {
      res.writeHead(500).end();
    },
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push(`${req.method ?? '?'} ${req.url ?? '?'}${req.headers.range === undefined ? '' : ` ${req.headers.range}`}`);
      try {
        state.handler(req, res, Buffer.concat(chunks));
      } catch {
        res.destroy();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const agent = new http.Agent({ keepAlive: false });
  const oss = new OSS({
    endpoint: `http://127.0.0.1:${port}`,
    region: 'oss-cn-hangzhou',
    bucket: 'hostile',
    accessKeyId: 'id',
    accessKeySecret: 'secret',
    authorizationV4: true,
    secure: false,
    timeout: 5000,
    // @ts-expect-error `agent` is an ali-oss option (lib/client.js) missing from @types/ali-oss
    agent,
  });
  return {
    get handler() {
      return state.handler;
    },
    set handler(h: HostileHandler) {
      state.handler = h;
    },
    client: new EncryptionClient(oss, { masterKey }),
    oss,
    endpoint: `http://127.0.0.1:${port}`,
    seen,
    close: async () => {
      agent.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Answers a GET for a stored object: status, the object's headers plus `extra`, and `body` (all by the caller). */
export function answer(res: http.ServerResponse, status: number, headers: Record<string, string>, body: Uint8Array): void {
  res.writeHead(status, { 'x-oss-request-id': 'HOSTILE', etag: '"0123456789ABCDEF0123456789ABCDEF"', ...headers });
  res.end(body);
}
