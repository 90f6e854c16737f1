// Shared set-up for the end-to-end client tests: the embedded server (in memory), plain ali-oss clients whose HTTP
// requests are counted at the agent, and the fake-KMS master key of the Go vector `put-17-fakekms`.
import * as http from 'node:http';
import OSS from 'ali-oss';
import { startServer, type RunningServer } from '../../server/src/index.js';
import { CseError, ErrorCode } from '../../src/errors.js';
import { decodeBase64Strict } from '../../src/format/base64.js';
import type { ContentMaterial, Envelope, WrappedMaterial } from '../../src/format/types.js';
import type { MasterKey } from '../../src/keys/master-key.js';

export const BUCKET = 'client-e2e';

/** Counts the HTTP requests made through it (ali-oss hands every request to its agent). */
export class CountingAgent extends http.Agent {
  count = 0;
  readonly log: string[] = [];
  /** The User-Agent of each request. */
  readonly userAgents: string[] = [];
  constructor() {
    super({ keepAlive: true });
  }
  // `addRequest` is how a ClientRequest hands itself to its agent (not in @types/node).
  addRequest(req: http.ClientRequest, options: http.RequestOptions): void {
    this.count++;
    this.log.push(`${req.method} ${req.path}`);
    this.userAgents.push(String(req.getHeader('user-agent')));
    (http.Agent.prototype as unknown as { addRequest(r: http.ClientRequest, o: http.RequestOptions): void }).addRequest.call(this, req, options);
  }
}

export interface Harness {
  readonly server: RunningServer;
  readonly agent: CountingAgent;
  /** A plain ali-oss client (V4 signatures) whose requests `agent` counts. */
  readonly oss: OSS;
  /** Another plain client with V1 signatures. */
  readonly ossV1: OSS;
  close(): Promise<void>;
}

export async function startHarness(): Promise<Harness> {
  const server = await startServer({ memory: true, buckets: [BUCKET], kms: false });
  const agent = new CountingAgent();
  const make = (v4: boolean): OSS =>
    new OSS({
      endpoint: server.endpoint,
      region: 'oss-cn-hangzhou',
      bucket: BUCKET,
      accessKeyId: server.credentials.accessKeyId,
      accessKeySecret: server.credentials.accessKeySecret,
      authorizationV4: v4,
      secure: false,
      timeout: 30_000,
      // @ts-expect-error `agent` is an ali-oss option (lib/client.js) missing from @types/ali-oss
      agent,
    });
  return {
    server,
    agent,
    oss: make(true),
    ossV1: make(false),
    close: async () => {
      agent.destroy();
      await server.close();
    },
  };
}

/** The outcome of a read by either client, for comparison. */
export interface ReadOutcome {
  readonly status: number;
  readonly body: Buffer;
  readonly contentRange: string | undefined;
  readonly contentLength: string | undefined;
}

/** A plain ali-oss GET; a 416 comes back as `{ status: 416 }`. */
export async function plainGet(oss: OSS, name: string, headers: Record<string, string>): Promise<ReadOutcome> {
  try {
    const r = await oss.get(name, { headers });
    const h = r.res.headers as Record<string, string>;
    return { status: r.res.status, body: r.content as Buffer, contentRange: h['content-range'], contentLength: h['content-length'] };
  } catch (e) {
    if ((e as { status?: number }).status === 416) return { status: 416, body: Buffer.alloc(0), contentRange: undefined, contentLength: undefined };
    throw e;
  }
}

/** The rule of the Go vectors' fake KMS (test/vectors/go/README.md): blob = base64(JSON {k, p}), p = base64(raw). */
export class FakeVectorKms implements MasterKey {
  readonly kind = 'kms' as const;
  readonly name = 'fake-vector-kms';
  readonly description = { kms: 'fake' };
  async wrap(material: ContentMaterial): Promise<WrappedMaterial> {
    const blob = (raw: Uint8Array): string =>
      Buffer.from(JSON.stringify({ k: 'fake-cmk-id', p: Buffer.from(raw).toString('base64') })).toString('base64');
    return { wrapAlgorithm: 'KMS/ALICLOUD', wrappedKey: blob(material.key), wrappedStart: blob(material.iv) };
  }
  async unwrap(envelope: Envelope): Promise<ContentMaterial | null> {
    if (envelope.scheme !== 'kms') return null;
    const open = (value: string): Uint8Array => {
      const parsed = JSON.parse(Buffer.from(value, 'base64').toString('utf8')) as { p?: unknown };
      if (typeof parsed.p !== 'string') throw new CseError(ErrorCode.UNWRAP_FAILED, 'not a fake-KMS blob');
      return decodeBase64Strict(parsed.p);
    };
    return { key: open(envelope.wrappedKey), iv: open(envelope.wrappedStart) };
  }
}

/** The headers a vector object is stored with: its Content-Type and `x-oss-meta-*` request headers. */
export function storedHeaders(requestHeaders: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(requestHeaders)) {
    const lower = name.toLowerCase();
    if (lower.startsWith('x-oss-meta-') || lower === 'content-type') out[lower] = value;
  }
  return out;
}

/**
 * Range headers to try on an object of `size` bytes: every boundary offset as a start, with short, block-crossing,
 * last-byte and past-the-end ends; open ranges; suffixes (including longer than the object and -0); invalid forms.
 */
export function rangeMatrix(size: number): string[] {
  // Offsets past `size + 16` add nothing the ones at size..size+16 do not already cover.
  const offsets = [0, 1, 15, 16, 17, 31, 32, 33, 4095, 4096, 4097, size - 1, size, size + 1, size + 15, size + 16]
    .filter((o) => o >= 0 && o <= size + 16);
  const set = new Set<string>();
  for (const a of new Set(offsets)) {
    set.add(`bytes=${a}-`);
    for (const end of [a, a + 1, a + 16, a + 17, size - 1, size, size + 100]) {
      if (end >= a) set.add(`bytes=${a}-${end}`);
    }
  }
  for (const n of [0, 1, 15, 16, 17, 33, size - 1, size, size + 1, size + 100]) if (n >= 0) set.add(`bytes=-${n}`);
  for (const bad of ['bytes=5-2', 'bytes=abc', 'items=0-1', 'bytes=-', 'bytes= 1-2']) set.add(bad);
  return [...set];
}

/** Rounds up to a multiple of 16. */
export const ceil16 = (n: number): number => Math.ceil(n / 16) * 16;

/**
 * The one case where a read takes two requests (src/transfer/range-plan.ts): default range behaviour, `bytes=a-`
 * with `size ≤ a` whose aligned start is inside the object (and not 0, where the first answer is the whole object).
 */
export function mayRefetch(range: string, size: number, standard: boolean): boolean {
  const m = /^bytes=([0-9]+)-$/.exec(range);
  if (standard || m === null) return false;
  const a = Number(m[1]);
  const aligned = a - (a % 16);
  return a >= size && aligned < size && aligned > 0;
}

/** A short list of ranges for objects whose bytes another case already covers fully. */
export function rangeSample(size: number): string[] {
  return ['bytes=0-0', 'bytes=1-16', 'bytes=17-', 'bytes=-5', `bytes=${size}-`, `bytes=0-${size + 10}`, `bytes=${size + 3}-`];
}
