/**
 * What every gateway handler gets, and the two ways an upstream answer goes back to the client.
 *
 * @packageDocumentation
 */

import type * as http from 'node:http';
import { pipeline } from 'node:stream/promises';
import type { RequestTarget } from '../../server/src/request.js';
import type { KeyRing } from '../../src/keys/key-ring.js';
import type { MasterKey } from '../../src/keys/master-key.js';
import { responseHeaders, type ResponseFilter } from './headers.js';
import type { Uploads } from './multipart.js';
import type { Upstream, UpstreamResponse } from './upstream.js';

/** The gateway's encryption settings. */
export interface CryptoSettings {
  /** Wraps the data key of every new object. */
  readonly masterKey: MasterKey;
  /** Unwraps on reads (the master key first). */
  readonly keyRing: KeyRing;
  /** Read legacy V1/guide envelopes. */
  readonly allowLegacy: boolean;
  /** Refuse to serve objects without an envelope. */
  readonly requireEncrypted: boolean;
  /** Show the envelope headers to clients (debugging). */
  readonly showEnvelope: boolean;
}

/** One client request being served. */
export interface GatewayContext {
  readonly req: http.IncomingMessage;
  readonly res: http.ServerResponse;
  readonly target: RequestTarget;
  readonly requestId: string;
  readonly upstream: Upstream;
  readonly crypto: CryptoSettings;
  readonly uploads: Uploads;
}

/**
 * Sends an upstream answer on unchanged except for the header filter (errors, listings, 304s, deletes).
 * @param ctx - the request
 * @param up - the upstream answer
 * @param filter - which headers to hide
 */
export async function relay(ctx: GatewayContext, up: UpstreamResponse, filter: ResponseFilter): Promise<void> {
  ctx.res.writeHead(up.status, responseHeaders(up.headers, filter));
  if (ctx.req.method === 'HEAD') {
    up.body.resume();
    ctx.res.end();
    return;
  }
  await pipeline(up.body, ctx.res);
}

/**
 * Sends a small body the gateway rewrote (XML), after the upstream answer's headers.
 * @param ctx - the request
 * @param up - the upstream answer (its body already read)
 * @param body - the new body
 */
export function sendRewritten(ctx: GatewayContext, up: UpstreamResponse, body: Buffer): void {
  const headers = responseHeaders(up.headers, { hideEnvelope: true, ciphertext: true });
  delete headers['content-length'];
  headers['content-length'] = body.length;
  ctx.res.writeHead(up.status, headers);
  ctx.res.end(body);
}

/**
 * Reads a whole (small) upstream body.
 * @param up - the answer
 * @param limit - refuse more than this many bytes
 * @returns the bytes
 * @throws Error when the body is larger than `limit`
 */
export async function readAll(up: UpstreamResponse, limit = 16 * 1024 * 1024): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of up.body as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > limit) {
      up.body.destroy();
      throw new Error(`upstream answer larger than ${limit} bytes`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/**
 * Yields each chunk one step late, so that a check that runs after the last input chunk can still fail the stream
 * before the last bytes are passed on (a body whose every byte went out would look complete to the receiver).
 * @param source - the chunks
 * @param atEnd - runs after the last input chunk, before the last output chunk; throws to fail
 */
export async function* holdLast(source: AsyncIterable<Buffer>, atEnd: () => void): AsyncGenerator<Buffer> {
  let pending: Buffer | undefined;
  for await (const chunk of source) {
    if (chunk.length === 0) continue;
    if (pending !== undefined) yield pending;
    pending = chunk;
  }
  atEnd();
  if (pending !== undefined) yield pending;
}
