/**
 * The request listener: request id, KMS hand-off, target parsing, authentication, routing, and OSS error responses.
 *
 * @packageDocumentation
 */

import { randomBytes } from 'node:crypto';
import type * as http from 'node:http';
import { authenticate } from './auth.js';
import { answerPreflight, applyCorsHeaders, forgetDeletedBucketCors, handleBucketCors, type CorsRegistry } from './cors.js';
import type { Owner, RequestContext } from './context.js';
import { OssError, renderError } from './errors.js';
import { operationOf, type FaultInjector } from './faults.js';
import { closeAfterResponse, type ConnectionGuard } from './guard.js';
import type { KmsService } from './kms/index.js';
import { parseTarget } from './request.js';
import { route } from './router.js';
import type { Store } from './store/types.js';

/** What the listener serves from. */
export interface ListenerState {
  readonly store: Store;
  /** AccessKeyId → AccessKeySecret. */
  readonly secrets: ReadonlyMap<string, string>;
  readonly owner: Owner;
  readonly region: string;
  readonly kms: KmsService | undefined;
  /** Where unexpected errors are reported. */
  readonly log: (line: string) => void;
  /** TEST-ONLY fault injection (`startServer({ faults })`); absent in normal operation. */
  readonly faults?: FaultInjector | undefined;
  /** Connection accounting (guard.ts): told which connections carry authenticated requests. */
  readonly guard?: ConnectionGuard | undefined;
  /** Bucket CORS rules (server/src/cors.ts); absent: no CORS headers, preflights refused. */
  readonly cors?: CorsRegistry | undefined;
  /** Observability hook (`ServerOptions.onRequest`): told about each answered OSS request once. */
  readonly onRequest?: ((entry: ServerRequestEntry) => void) | undefined;
}

/** One answered OSS request, as `ServerOptions.onRequest` sees it. */
export interface ServerRequestEntry {
  /** HTTP method. */
  readonly method: string;
  /**
   * The OSS operation as OSS names it (`PutObject`, `CopyObject`, `PutObjectTagging`, …; the names of
   * `FAULT_OPERATIONS`), `Other` for a request no operation matches (refused by the router, or a CORS preflight).
   */
  readonly operation: string;
  /** The bucket addressed, undefined at service level or when the request line could not be parsed. */
  readonly bucket: string | undefined;
  /** The object key addressed, undefined for service and bucket requests. */
  readonly key: string | undefined;
  /** The HTTP status of the answer. */
  readonly status: number;
}

/**
 * Arranges for `onRequest` to hear about this request once its answer's status is on the wire. A request whose
 * connection broke before any status was sent was not answered and is not reported.
 * @returns a function to fill in what the request addresses once it is parsed
 */
function reportWhenAnswered(
  state: ListenerState,
  req: http.IncomingMessage,
  res: http.ServerResponse,
): (target: { bucket: string | undefined; key: string | undefined; operation: string }) => void {
  const onRequest = state.onRequest;
  if (onRequest === undefined) return () => undefined;
  let addressed: { bucket: string | undefined; key: string | undefined; operation: string } = { bucket: undefined, key: undefined, operation: 'Other' };
  let reported = false;
  const report = (): void => {
    if (reported || !res.headersSent) return;
    reported = true;
    try {
      onRequest({ method: req.method ?? 'GET', ...addressed, status: res.statusCode });
    } catch (e) {
      // An observer's bug must never change what the client gets.
      state.log(`oss-cse server: onRequest hook threw: ${e instanceof Error ? e.message : String(e)}`);
    }
  };
  res.once('finish', report);
  res.once('close', report);
  return (target) => {
    addressed = target;
  };
}

/** @returns a request id in OSS's shape (24 uppercase hex digits) */
function newRequestId(): string {
  return randomBytes(12).toString('hex').toUpperCase();
}

/**
 * A URL for the KMS service to inspect. Only the query matters to it; the path is never used for object keys.
 * @returns the URL, or undefined when the request line cannot form one
 */
function kmsUrl(req: http.IncomingMessage): URL | undefined {
  try {
    return new URL(req.url ?? '/', `http://${req.headers.host ?? 'localhost'}`);
  } catch {
    return undefined;
  }
}

function sendError(res: http.ServerResponse, req: http.IncomingMessage, error: OssError, requestId: string, log: (line: string) => void): void {
  if (res.headersSent) {
    // Mid-body failure: the status is gone, so the only honest signal is a broken connection.
    res.destroy(error);
    return;
  }
  const xml = renderError(error, requestId, req.headers.host ?? '');
  const body = Buffer.from(xml, 'utf8');
  const headers: http.OutgoingHttpHeaders = {
    'Content-Type': 'application/xml',
    'Content-Length': body.length,
    'x-oss-request-id': requestId,
    Server: 'AliyunOSS',
  };
  if (error.ec !== undefined) headers['x-oss-ec'] = error.ec;
  if (req.method === 'HEAD') {
    // HEAD has no body; OSS puts the error document, base64, in x-oss-err (ali-oss reads it).
    headers['x-oss-err'] = body.toString('base64');
  }
  // A refusal before the body was read closes the connection instead of reading the body (guard.ts).
  closeAfterResponse(req, res);
  try {
    res.writeHead(error.status, headers);
    res.end(req.method === 'HEAD' ? undefined : body);
  } catch (e) {
    log(`oss-cse server: could not send error response: ${String(e)}`);
    res.destroy();
  }
}

/** True for the system errors of a full disk or an exhausted quota. */
function isDiskFull(e: unknown): boolean {
  const code = typeof e === 'object' && e !== null ? (e as { code?: unknown }).code : undefined;
  return code === 'ENOSPC' || code === 'EDQUOT';
}

/**
 * Creates the request listener for `http.createServer`.
 * @param state - store, credentials, owner, KMS
 * @returns the listener
 */
export function createListener(state: ListenerState): http.RequestListener {
  return (req, res) => {
    void handle(state, req, res);
  };
}

async function handle(state: ListenerState, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const requestId = newRequestId();
  try {
    if (state.kms !== undefined) {
      const url = kmsUrl(req);
      if (url !== undefined && state.kms.isKmsRequest(req, url)) {
        await state.kms.handle(req, res, url);
        return;
      }
    }
    res.setHeader('x-oss-request-id', requestId);
    res.setHeader('Server', 'AliyunOSS');
    const addressed = reportWhenAnswered(state, req, res);
    const target = parseTarget(req);
    const method = req.method ?? 'GET';
    addressed({
      bucket: target.bucket,
      key: target.key,
      operation: method === 'OPTIONS' ? 'Other' : operationOf(method, target, req.headers),
    });
    // CORS before authentication, as OSS: a preflight carries no signature, and an actual request's error answer
    // must carry the Access-Control-* headers for the page to read it.
    if (state.cors !== undefined) {
      if (method === 'OPTIONS') {
        answerPreflight(state.cors, target.bucket, req, res);
        return;
      }
      applyCorsHeaders(state.cors, target.bucket, req, res);
    }
    const now = Date.now();
    authenticate({ method, bucket: target.bucket, key: target.key, headers: req.headers, query: target.query }, state.secrets, now);
    state.guard?.trust(req);
    const ctx: RequestContext = {
      req,
      res,
      target,
      requestId,
      store: state.store,
      owner: state.owner,
      region: state.region,
      now,
    };
    // Only after authentication, and never for KMS: a fault is something that happens to a valid OSS request.
    const routed = state.faults === undefined ? ctx : await state.faults.intercept(ctx);
    if (state.cors !== undefined && (await handleBucketCors(state.cors, routed))) return;
    await route(routed);
    if (state.cors !== undefined) await forgetDeletedBucketCors(state.cors, routed);
  } catch (e) {
    if (e instanceof OssError) {
      sendError(res, req, e, requestId, state.log);
      return;
    }
    if (isDiskFull(e) && !res.headersSent) {
      // Answered (and the connection then closed, the body unread), never reset: the client must learn why.
      state.log(`oss-cse server: disk full (${(e as NodeJS.ErrnoException).code ?? ''}) on ${req.method ?? ''} ${req.url ?? ''}: ${e instanceof Error ? e.message : String(e)}`);
      sendError(res, req, new OssError('InsufficientStorage', { fields: [['Reason', (e as NodeJS.ErrnoException).code ?? 'ENOSPC']] }), requestId, state.log);
      return;
    }
    // A request whose body was read to the end is destroyed too (autoDestroy): only an incomplete one means the client
    // went away. An error after a complete body (say, a link refused in the data directory) is still answered.
    // A connection already gone (the client left, or a test fault reset it mid-answer) has no one left to answer:
    // sending an error then would only run the answer path, and its fault hooks, a second time.
    const gone = res.destroyed || res.socket === null || res.socket.destroyed;
    if (res.headersSent || gone || (req.destroyed && !req.complete)) {
      // The client went away or the body stream broke: nothing left to answer.
      res.destroy();
      return;
    }
    state.log(`oss-cse server: internal error on ${req.method ?? ''} ${req.url ?? ''}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    sendError(res, req, new OssError('InternalError'), requestId, state.log);
  }
}
