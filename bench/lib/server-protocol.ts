/** Messages between the benchmark and its server child processes (see server-child.ts). */

/** Which server a child runs. */
export type ServerKind = 'oss-memory' | 'oss-disk' | 'oss-memory-latency' | 'sink' | 'kms';

/**
 * Added before every request of the `oss-memory-latency` server: a stand-in for the round trip to a real OSS
 * endpoint (loopback has almost none, so rows that are about hiding latency need some).
 */
export const BENCH_LATENCY_MS = 10;

/** The bucket every OSS-like server child serves. */
export const BENCH_BUCKET = 'bench';

/** First message of a child: it is listening. */
export interface ReadyMessage {
  readonly type: 'ready';
  readonly kind: ServerKind;
  readonly port: number;
  /** The access key the server accepts (ignored by the sink). */
  readonly credentials: { readonly accessKeyId: string; readonly accessKeySecret: string };
  /** KMS only: the key created for the run. */
  readonly keyId?: string;
}

/** A request from the parent. */
export interface ParentRequest {
  readonly id: number;
  readonly cmd: 'requests' | 'close';
}

/** A child's answer to a {@link ParentRequest}. */
export type ChildReply =
  | { readonly id: number; readonly requests: number; readonly connections: number }
  | { readonly id: number; readonly closed: true };
