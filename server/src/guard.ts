/**
 * The HTTP front's defences against being starved (issue 14, item 7; CONFORMANCE.md "Connections and timeouts"):
 *
 * - **Limits and timeouts** ({@link resolveLimits}): headers must arrive within `headersTimeoutMs`; while the server
 *   waits for the client (a request body that stops arriving, a response the client stops reading) no byte may be
 *   idle for longer than `idleTimeoutMs`. There is no total time cap by default (`requestTimeoutMs` 0), so a
 *   multi-GiB upload at a slow but moving pace is never cut; the idle timer is held while the server itself is busy
 *   (fsync, assembling a multipart object), so slow disks do not cut anybody either.
 * - **A connection cap** ({@link ConnectionGuard}): at most `maxConnections` sockets are open. When a new connection
 *   finds the cap reached, the oldest idle connection that never carried an authenticated request (a slow-header
 *   squatter, or a socket left over after a refusal) is closed to make room; when there is none, the new connection
 *   is closed. Connections with a request in flight, and idle keep-alive connections of clients that authenticated,
 *   are never closed for room, so authenticated clients keep being served under a flood.
 * - **Refusals close the connection** ({@link closeAfterResponse}): a request answered with an error before its body
 *   was read gets `Connection: close`, and Node destroys the socket once the answer is flushed; the body is never
 *   read. (Before, the server drained it to keep the connection alive: a client declaring 1 GiB and trickling held
 *   its socket forever.)
 *
 * @packageDocumentation
 */

import { readFileSync } from 'node:fs';
import type * as http from 'node:http';
import type { Socket } from 'node:net';

/** Connection limits and timeouts of the embedded server (all in ms except `maxConnections`). */
export interface ConnectionLimits {
  /** Most open client connections. */
  readonly maxConnections: number;
  /** Time allowed for a request's headers to arrive. */
  readonly headersTimeoutMs: number;
  /** Longest silence while the server waits for the client (request body, reading the response). */
  readonly idleTimeoutMs: number;
  /** Total time allowed to receive a whole request (headers and body); 0 = no cap. */
  readonly requestTimeoutMs: number;
  /** How long an idle keep-alive connection is kept between requests. */
  readonly keepAliveTimeoutMs: number;
}

/** Default cap on connections, lowered to half the process's file-descriptor limit when that is smaller. */
export const DEFAULT_MAX_CONNECTIONS = 1024;
/** Default {@link ConnectionLimits.headersTimeoutMs}. */
export const DEFAULT_HEADERS_TIMEOUT_MS = 30_000;
/** Default {@link ConnectionLimits.idleTimeoutMs}: above ali-oss's 60 s request timeout, so the client gives up first. */
export const DEFAULT_IDLE_TIMEOUT_MS = 120_000;
/**
 * Default {@link ConnectionLimits.keepAliveTimeoutMs}: above ali-oss's 15 s free-socket timeout (agentkeepalive), so
 * the client always closes an idle socket first; with Node's 5 s default a reused socket can meet a server-side close
 * mid-request (EPIPE).
 */
export const DEFAULT_KEEP_ALIVE_TIMEOUT_MS = 65_000;
/** A connection must have been idle this long before it can be closed to make room for a new one. */
const EVICTION_GRACE_MS = 1000;
/** At most one "connection limit reached" log line per this period. */
const LOG_EVERY_MS = 60_000;

/**
 * The soft limit on open file descriptors, from /proc/self/limits (Linux); undefined elsewhere.
 * @returns the limit, or undefined when unknown or unlimited
 */
function fileDescriptorLimit(): number | undefined {
  try {
    const m = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    return m === null ? undefined : Number(m[1]);
  } catch {
    return undefined;
  }
}

function checkMs(value: number | undefined, name: string, min: number): void {
  if (value !== undefined && (!Number.isSafeInteger(value) || value < min || value > 2 ** 31 - 1)) {
    throw new RangeError(`${name} must be an integer number of ms ≥ ${min}, got ${String(value)}`);
  }
}

/**
 * Fills in the defaults and checks the given limits.
 * @param given - the server options' limits (any may be absent)
 * @returns the complete limits
 * @throws RangeError when a value is not a positive integer (`requestTimeoutMs` may be 0)
 */
export function resolveLimits(given: Partial<ConnectionLimits>): ConnectionLimits {
  if (given.maxConnections !== undefined && (!Number.isSafeInteger(given.maxConnections) || given.maxConnections < 1)) {
    throw new RangeError(`maxConnections must be a positive integer, got ${String(given.maxConnections)}`);
  }
  checkMs(given.headersTimeoutMs, 'headersTimeoutMs', 1);
  checkMs(given.idleTimeoutMs, 'idleTimeoutMs', 1);
  checkMs(given.requestTimeoutMs, 'requestTimeoutMs', 0);
  checkMs(given.keepAliveTimeoutMs, 'keepAliveTimeoutMs', 1);
  let maxConnections = given.maxConnections;
  if (maxConnections === undefined) {
    // Each connection costs a descriptor and a request in flight one or two more (object files): keep half free.
    const fds = fileDescriptorLimit();
    maxConnections = fds === undefined ? DEFAULT_MAX_CONNECTIONS : Math.max(16, Math.min(DEFAULT_MAX_CONNECTIONS, Math.floor(fds / 2)));
  }
  return {
    maxConnections,
    headersTimeoutMs: given.headersTimeoutMs ?? DEFAULT_HEADERS_TIMEOUT_MS,
    idleTimeoutMs: given.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
    requestTimeoutMs: given.requestTimeoutMs ?? 0,
    keepAliveTimeoutMs: given.keepAliveTimeoutMs ?? DEFAULT_KEEP_ALIVE_TIMEOUT_MS,
  };
}

/**
 * The `http.createServer` options for these limits.
 * @param limits - the limits
 * @returns server options (Node enforces the headers and request timeouts itself)
 */
export function serverOptions(limits: ConnectionLimits): http.ServerOptions {
  return {
    maxHeaderSize: 64 * 1024,
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    // Node checks the two timeouts above only this often (default 30 s, which would double a short headers timeout).
    connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.floor(limits.headersTimeoutMs / 4))),
  };
}

interface Connection {
  /** When the connection last became idle (opened, or its last response finished). */
  idleSince: number;
  /** The request in flight, if any. */
  current: { readonly req: http.IncomingMessage; readonly res: http.ServerResponse } | undefined;
  /** True once a request on it passed authentication. */
  trusted: boolean;
}

/** Connection accounting of one server (see the module comment). */
export class ConnectionGuard {
  readonly #limits: ConnectionLimits;
  readonly #log: (line: string) => void;
  readonly #open = new Map<Socket, Connection>();
  #lastLog = -Infinity;

  /**
   * Installs the guard on a server created with {@link serverOptions}.
   * @param server - the HTTP server
   * @param limits - its limits
   * @param log - where "limit reached" is reported (at most once a minute)
   */
  constructor(server: http.Server, limits: ConnectionLimits, log: (line: string) => void) {
    this.#limits = limits;
    this.#log = log;
    server.timeout = limits.idleTimeoutMs;
    server.on('connection', (socket: Socket) => {
      this.#admit(socket);
    });
    server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
      this.#started(req, res);
    });
    // With a 'timeout' listener Node leaves the decision to us instead of destroying the socket.
    server.on('timeout', (socket: Socket) => {
      this.#idle(socket);
    });
  }

  /** Open connections now. */
  get size(): number {
    return this.#open.size;
  }

  /**
   * Marks the connection of an authenticated request, so it is never closed to make room.
   * @param req - the request that passed authentication
   */
  trust(req: http.IncomingMessage): void {
    const connection = this.#open.get(req.socket);
    if (connection !== undefined) connection.trusted = true;
  }

  #admit(socket: Socket): void {
    const now = Date.now();
    if (this.#open.size >= this.#limits.maxConnections) {
      const victim = this.#evictable(now);
      if (victim === undefined) {
        this.#report(`connection limit (${this.#limits.maxConnections}) reached: refusing new connections until some close`);
        socket.destroy();
        return;
      }
      this.#report(`connection limit (${this.#limits.maxConnections}) reached: closing idle unauthenticated connections for new ones`);
      this.#open.delete(victim);
      victim.destroy();
    }
    this.#open.set(socket, { idleSince: now, current: undefined, trusted: false });
    socket.once('close', () => {
      this.#open.delete(socket);
    });
  }

  /** The oldest connection idle for longer than the grace period that never carried an authenticated request. */
  #evictable(now: number): Socket | undefined {
    let oldest: [Socket, number] | undefined;
    for (const [socket, c] of this.#open) {
      if (c.current !== undefined || c.trusted || now - c.idleSince < EVICTION_GRACE_MS) continue;
      if (oldest === undefined || c.idleSince < oldest[1]) oldest = [socket, c.idleSince];
    }
    return oldest?.[0];
  }

  #started(req: http.IncomingMessage, res: http.ServerResponse): void {
    const connection = this.#open.get(req.socket);
    if (connection === undefined) return;
    connection.current = { req, res };
    res.once('close', () => {
      if (connection.current?.res === res) {
        connection.current = undefined;
        connection.idleSince = Date.now();
      }
    });
  }

  /** The socket was silent for `idleTimeoutMs`: close it unless the silence is the server's own doing. */
  #idle(socket: Socket): void {
    const current = this.#open.get(socket)?.current;
    if (current !== undefined && !current.res.writableNeedDrain && (current.req.complete || current.req.readableLength > 0)) {
      // Body received (or bytes waiting that the server has not consumed yet) and no unread response data: the
      // server is busy (disk), not the client. Look again after another period.
      socket.setTimeout(this.#limits.idleTimeoutMs);
      return;
    }
    socket.destroy();
  }

  #report(line: string): void {
    const now = Date.now();
    if (now - this.#lastLog < LOG_EVERY_MS) return;
    this.#lastLog = now;
    this.#log(`oss-cse server: ${line}`);
  }
}

/**
 * For an answer sent before the request body was read (a refusal): asks Node to close the connection once the
 * answer is flushed (`Connection: close`), so the unread body is never read. Call before `writeHead`.
 * @param req - the request
 * @param res - its response, headers not yet sent
 */
export function closeAfterResponse(req: http.IncomingMessage, res: http.ServerResponse): void {
  if (req.complete || res.headersSent) return;
  // Node then skips draining the body for keep-alive and calls socket.destroySoon() once the answer is flushed.
  res.setHeader('Connection', 'close');
}
