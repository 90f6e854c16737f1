/**
 * TEST-ONLY fault injection for the embedded OSS server (issue 9, item 1; CONFORMANCE.md "Fault injection").
 *
 * The switch is the `faults` option of `startServer`. The CLI never passes it and no environment variable enables it,
 * so a server started by `oss-cse serve` has no fault hook at all. With the option, every authenticated OSS request
 * (never a KMS request, never a request refused by parsing or authentication) goes through
 * {@link FaultInjector.intercept} before it is routed. The injector picks at most one fault per request, from the
 * explicit rules first and then from the seeded random schedule, logs it, and applies it.
 *
 * Two design rules keep the faults honest:
 *
 * - A fault never changes stored state beyond what the real failure would. Faults injected before the handler runs
 *   (errors, resets while an upload arrives) leave nothing behind: the handler either never runs or sees a broken
 *   body, and the stores already discard partial bodies. Faults on the response (resets, truncation, wrong headers)
 *   happen after the operation did what it does on real OSS. Only `replace-object` writes, and it writes exactly what
 *   a concurrent writer would: a whole new version of the object.
 * - Random decisions are a function of the seed and the request's identity (operation, bucket, key, part number,
 *   Range, and how many times that same request was seen before), not of the arrival order of unrelated requests.
 *   Concurrent transfers therefore see the same schedule from the same seed.
 *
 * One file over 600 lines on purpose: the fault schedule, its log and the response tap share private per-request state;
 * splitting them would export internals only tests use (the disk-full store is apart, in faults-disk.ts).
 *
 * @packageDocumentation
 */

import { createHash } from 'node:crypto';
import type * as http from 'node:http';
import type { Socket } from 'node:net';
import { Readable, Transform } from 'node:stream';
import type { RequestContext } from './context.js';
import { OssError, renderError } from './errors.js';
import { diskFullStore } from './faults-disk.js';
import { resolveRange } from './range.js';
import { headerValue, type RequestTarget } from './request.js';
import type { ObjectMeta } from './store/types.js';

/** Every operation a fault can target, as OSS names them. `Other` is anything the router refuses. */
export const FAULT_OPERATIONS = [
  'ListBuckets',
  'PutBucket',
  'DeleteBucket',
  'HeadBucket',
  'ListObjects',
  'ListObjectsV2',
  'DeleteMultipleObjects',
  'PutObject',
  'CopyObject',
  'GetObject',
  'HeadObject',
  'GetObjectMeta',
  'DeleteObject',
  'InitiateMultipartUpload',
  'UploadPart',
  'CompleteMultipartUpload',
  'AbortMultipartUpload',
  'ListParts',
  'ListMultipartUploads',
  'PutObjectTagging',
  'GetObjectTagging',
  'DeleteObjectTagging',
  'Other',
] as const;

/** An OSS operation name (see {@link FAULT_OPERATIONS}). */
export type FaultOperation = (typeof FAULT_OPERATIONS)[number];

/** Every fault kind. What each does, and to which requests it applies, is documented on {@link Fault}. */
export const FAULT_KINDS = [
  'internal-error',
  'service-unavailable',
  'lost-response',
  'reset-request',
  'reset-response',
  'truncate',
  'slow',
  'wrong-crc',
  'wrong-etag',
  'replace-object',
  'lying-range',
  'extra-bytes',
  'disk-full',
] as const;

/** A fault kind (see {@link FAULT_KINDS}). */
export type FaultKind = (typeof FAULT_KINDS)[number];

/**
 * Kinds a random schedule draws from when it names none: every kind that leaves stored state as it was.
 * `lost-response` (the operation commits, the answer is lost) and `replace-object` (the object changes) must be
 * asked for by name, and so must `disk-full` (added later: seeded schedules keep drawing what they drew before).
 */
export const DEFAULT_RANDOM_KINDS: readonly FaultKind[] = FAULT_KINDS.filter(
  (k) => k !== 'lost-response' && k !== 'replace-object' && k !== 'disk-full',
);

/** Longest header delay and longest total body throttling of one `slow` fault, in ms. */
export const MAX_SLOW_MS = 30_000;

/** Most extra bytes one `extra-bytes` fault appends. */
export const MAX_EXTRA_BYTES = 1024 * 1024;

/**
 * One fault. Faults that need a response body (`reset-response`, `truncate`, `extra-bytes`) apply to GET requests
 * (GetObject and the listings), never to writes, so they cannot hide a commit; use `lost-response` or
 * `afterCommit` for that. A fault that does not apply to a request is never chosen for it; one that turns out not to
 * apply when the response is written (say, `truncate` on an empty body or on a 404) is logged with `applied: false`.
 */
export type Fault =
  /**
   * 500 `InternalError` / 503 `ServiceUnavailable` with OSS error XML. By default answered instead of running the
   * operation (nothing changes). With `afterCommit`, the operation runs and its success answer is replaced by the
   * error, as when OSS commits and then fails to answer. Any operation.
   */
  | { readonly kind: 'internal-error' | 'service-unavailable'; readonly afterCommit?: boolean }
  /** The operation runs (and commits), then the connection is reset before any of the answer is sent. Any operation. */
  | { readonly kind: 'lost-response' }
  /**
   * The connection is reset (TCP RST) while the request body arrives, after `afterBytes` bytes of it (default 0). The
   * handler never sees a complete body, so nothing is stored. PUT/POST with a body (PutObject, UploadPart,
   * CompleteMultipartUpload, DeleteMultipleObjects, …).
   */
  | { readonly kind: 'reset-request'; readonly afterBytes?: number }
  /**
   * Status and headers are sent, then `afterBytes` bytes of the body (default: `afterFraction` of it, default half),
   * then the connection is reset (TCP RST). An empty body is reset before the headers. GET requests.
   */
  | { readonly kind: 'reset-response'; readonly afterBytes?: number; readonly afterFraction?: number }
  /**
   * Status and headers (with the full, correct Content-Length) are sent, then only `keepBytes` bytes of the body
   * (default: `keepFraction` of it, default half; always fewer than declared), then the connection is closed
   * cleanly (FIN). The client can only notice by counting. GET requests with a non-empty body.
   */
  | { readonly kind: 'truncate'; readonly keepBytes?: number; readonly keepFraction?: number }
  /**
   * Waits `delayMs` (default 500) before the request is handled, so before the headers; with `bytesPerSecond`,
   * throttles the response body to that rate, for at most `maxThrottleMs` (default and cap {@link MAX_SLOW_MS}) in
   * total, after which the rest goes at full speed. Any operation.
   */
  | { readonly kind: 'slow'; readonly delayMs?: number; readonly bytesPerSecond?: number; readonly maxThrottleMs?: number }
  /**
   * The `x-oss-hash-crc64ecma` response header carries a wrong value (the body is right). GetObject, HeadObject,
   * GetObjectMeta, PutObject, UploadPart, CompleteMultipartUpload, CopyObject.
   */
  | { readonly kind: 'wrong-crc' }
  /**
   * The `ETag` response header carries a different tag of the same shape (the object is unchanged, so If-Match with
   * the real tag still succeeds). GetObject, HeadObject, GetObjectMeta, PutObject, UploadPart, CompleteMultipartUpload.
   */
  | { readonly kind: 'wrong-etag' }
  /**
   * Before the request is handled the object is really replaced, as by a concurrent writer: by `body`, or by default
   * by its own bytes with every bit flipped (same size; a single zero byte for an empty object). Metadata is kept,
   * the ETag, CRC and Last-Modified are those of the new bytes, and the object becomes `Normal`. The request then
   * sees the new object: If-Match with the old ETag fails with 412 PreconditionFailed, as on OSS. GetObject,
   * HeadObject, GetObjectMeta on an existing object.
   */
  | { readonly kind: 'replace-object'; readonly body?: Uint8Array }
  /**
   * The server answers a byte range other than the one asked for, moved by `shift` bytes (default 1; the other
   * direction when the moved range would leave the object), with a Content-Range that matches what is sent. GetObject
   * with a Range the server would honour, on an object larger than the range.
   */
  | { readonly kind: 'lying-range'; readonly shift?: number }
  /**
   * The body is sent with chunked framing instead of Content-Length, followed by `count` (default 16, at most
   * {@link MAX_EXTRA_BYTES}) extra bytes, so the client receives more bytes than Content-Range or the object size
   * says. (A body longer than its Content-Length cannot be sent over HTTP/1.1: the surplus would be parsed as the
   * next response on the connection.) GET requests.
   */
  | { readonly kind: 'extra-bytes'; readonly count?: number }
  /**
   * The store's disk fills up during this request: its writes fail with Node's `ENOSPC` system error once
   * `afterBytes` (default 0) bytes of the request body have been staged, or, when the whole body fits, when the
   * object, part or upload is committed. The store cleans up as on a real full disk (the partial body is deleted,
   * nothing becomes visible); the server answers 507 `InsufficientStorage`. PutObject, UploadPart, CopyObject,
   * InitiateMultipartUpload, CompleteMultipartUpload.
   */
  | { readonly kind: 'disk-full'; readonly afterBytes?: number };

/** Which requests a rule or schedule looks at. Every given filter must match. */
export interface FaultTarget {
  /** Only these operations (default: any). */
  readonly operations?: readonly FaultOperation[];
  /** Only this bucket. */
  readonly bucket?: string;
  /** Only this exact object key. */
  readonly key?: string;
  /** Only object keys starting with this. */
  readonly keyPrefix?: string;
}

/**
 * An explicit fault: which requests, which fault, how often. A request *matches* a rule when it passes the target
 * filters and the fault applies to it; the rule then fires on the matches it selects with `nth`, `probability` and
 * `times`. The first rule that fires wins.
 */
export interface FaultRule extends FaultTarget {
  /** The fault; a bare kind means that kind with its defaults. */
  readonly fault: FaultKind | Fault;
  /** Fire only on these matches, counted from 1 in arrival order (e.g. `2` or `[1, 3]`). */
  readonly nth?: number | readonly number[];
  /** Fire with this probability (0–1), decided from the plan's `seed` and the request's identity. */
  readonly probability?: number;
  /** Fire at most this many times (default: no limit besides `nth`). */
  readonly times?: number;
}

/** A seeded random schedule: each matching request suffers a fault with probability `rate`. */
export interface RandomFaultSchedule extends FaultTarget {
  /** Seed (an integer); the same seed and the same requests give the same faults. Print it when a test fails. */
  readonly seed: number;
  /** Probability (0–1) that a matching request gets a fault. */
  readonly rate: number;
  /** Kinds to draw from (default {@link DEFAULT_RANDOM_KINDS}); only kinds that apply to a request are drawn. */
  readonly kinds?: readonly FaultKind[];
  /** Stop after this many faults. */
  readonly maxFaults?: number;
  /** Upper bound of a random `slow` fault's header delay and of its throttling time, in ms (default 250). */
  readonly maxDelayMs?: number;
}

/** What to inject: explicit rules first, then the random schedule. An empty plan injects nothing. */
export interface FaultPlan {
  /** Explicit rules, tried in order; the first matching one applies. */
  readonly rules?: readonly FaultRule[];
  /** Random faults on top of the rules. */
  readonly random?: RandomFaultSchedule;
  /** Seed for rules with a `probability` (default 0). */
  readonly seed?: number;
}

/** One injected fault. */
export interface FaultLogEntry {
  /** Which OSS request it was: 1 for the first request the controller saw, counting requests without faults too. */
  readonly seq: number;
  /** The OSS operation of the request. */
  readonly operation: FaultOperation;
  /** Its bucket, if any. */
  readonly bucket: string | undefined;
  /** Its object key, if any. */
  readonly key: string | undefined;
  /** The part number of an UploadPart. */
  readonly partNumber: number | undefined;
  /** The fault injected. */
  readonly kind: FaultKind;
  /** Whether an explicit rule or the random schedule chose it. */
  readonly source: 'rule' | 'random';
  /** Index of the rule in `plan.rules`, for `source: 'rule'`. */
  readonly rule: number | undefined;
  /** The parameters used, e.g. `afterBytes=5000`. */
  readonly detail: string;
  /** False when the fault could not take effect after all (e.g. a body fault on an error answer or empty body). */
  readonly applied: boolean;
}

/** Counters since the controller was created. */
export interface FaultStats {
  /** OSS requests seen. */
  readonly requests: number;
  /** OSS requests seen, per operation. */
  readonly byOperation: Readonly<Partial<Record<FaultOperation, number>>>;
  /** Faults logged (applied or not). */
  readonly faults: number;
  /** Faults that took effect, per kind. */
  readonly appliedByKind: Readonly<Partial<Record<FaultKind, number>>>;
}

/** The runtime handle of a server started with the `faults` option (`server.faults`). */
export interface FaultController {
  /**
   * Replaces the plan; rule counters and random occurrence counts start again. The log and `seq` carry on.
   * @param plan - the new plan
   * @throws RangeError when the plan is malformed (unknown kind or operation, rate or probability outside 0–1,
   *   `nth`/`times`/sizes not non-negative integers, …)
   */
  set(plan: FaultPlan): void;
  /** Stops injecting (the same as `set({})`): the server behaves normally again. The log is kept. */
  clear(): void;
  /** @returns a copy of every fault injected so far, in order */
  log(): FaultLogEntry[];
  /** Empties the log (`seq` keeps counting). */
  resetLog(): void;
  /** @returns request and fault counters */
  stats(): FaultStats;
}

/** The controller plus the hook the listener calls. */
export interface FaultInjector extends FaultController {
  /**
   * Called for every authenticated OSS request before it is routed. Installs the chosen fault; may wait (`slow`) or
   * write (`replace-object`).
   * @param ctx - the request
   * @returns the context to route: `ctx`, or for `disk-full` a copy whose store fails writes with ENOSPC
   * @throws OssError InternalError / ServiceUnavailable for an error fault answered instead of the operation
   */
  intercept(ctx: RequestContext): Promise<RequestContext>;
}

/**
 * mulberry32: a small, fast 32-bit PRNG (good enough for schedules; not for anything secret).
 * @param seed - any number; only its low 32 bits are used
 * @returns a function giving uniform numbers in [0, 1)
 */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Names the operation a request asks for, the same way the router decides (router.ts).
 * @param method - HTTP method
 * @param target - bucket, key and query
 * @param headers - request headers (for `x-oss-copy-source`)
 * @returns the operation, or `Other` for what the router refuses
 */
export function operationOf(method: string, target: RequestTarget, headers: http.IncomingHttpHeaders): FaultOperation {
  const { bucket, key, params } = target;
  if (bucket === undefined) return method === 'GET' ? 'ListBuckets' : 'Other';
  if (key === undefined) {
    switch (method) {
      case 'PUT':
        return 'PutBucket';
      case 'DELETE':
        return 'DeleteBucket';
      case 'HEAD':
        return 'HeadBucket';
      case 'GET':
        if (params.has('uploads')) return 'ListMultipartUploads';
        return params.get('list-type') === '2' ? 'ListObjectsV2' : 'ListObjects';
      case 'POST':
        return params.has('delete') ? 'DeleteMultipleObjects' : 'Other';
      default:
        return 'Other';
    }
  }
  switch (method) {
    case 'PUT':
      if (params.has('uploadId') || params.has('partNumber')) return 'UploadPart';
      if (params.has('tagging')) return 'PutObjectTagging';
      return headerValue(headers, 'x-oss-copy-source') !== undefined ? 'CopyObject' : 'PutObject';
    case 'GET':
      if (params.has('tagging')) return 'GetObjectTagging';
      return params.has('uploadId') ? 'ListParts' : 'GetObject';
    case 'HEAD':
      return params.has('objectMeta') ? 'GetObjectMeta' : 'HeadObject';
    case 'DELETE':
      if (params.has('tagging')) return 'DeleteObjectTagging';
      return params.has('uploadId') ? 'AbortMultipartUpload' : 'DeleteObject';
    case 'POST':
      if (params.has('uploads')) return 'InitiateMultipartUpload';
      return params.has('uploadId') ? 'CompleteMultipartUpload' : 'Other';
    default:
      return 'Other';
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Plan validation

const KIND_SET = new Set<string>(FAULT_KINDS);
const OPERATION_SET = new Set<string>(FAULT_OPERATIONS);

function planError(message: string): RangeError {
  return new RangeError(`fault plan: ${message}`);
}

function checkCount(value: number | undefined, what: string, min: number): void {
  if (value !== undefined && (!Number.isSafeInteger(value) || value < min)) {
    throw planError(`${what} must be an integer ≥ ${min}, got ${String(value)}`);
  }
}

function checkFraction(value: number | undefined, what: string): void {
  if (value !== undefined && !(typeof value === 'number' && value >= 0 && value <= 1)) {
    throw planError(`${what} must be a number from 0 to 1, got ${String(value)}`);
  }
}

/** `Array.isArray` without widening a readonly array to `any[]`. */
function isList(value: unknown): value is readonly unknown[] {
  return Array.isArray(value);
}

function checkTarget(target: FaultTarget, where: string): void {
  if (target.operations !== undefined) {
    if (!isList(target.operations)) throw planError(`${where}.operations must be an array`);
    for (const op of target.operations) {
      if (!OPERATION_SET.has(op)) throw planError(`${where}.operations: unknown operation ${JSON.stringify(op)}`);
    }
  }
  for (const field of ['bucket', 'key', 'keyPrefix'] as const) {
    const value = target[field];
    if (value !== undefined && typeof value !== 'string') throw planError(`${where}.${field} must be a string`);
  }
}

function normalizeFault(fault: FaultKind | Fault, where: string): Fault {
  const f = (typeof fault === 'string' ? { kind: fault } : fault) as Fault | null;
  if (typeof f !== 'object' || f === null || !KIND_SET.has(f.kind)) {
    throw planError(`${where}: unknown fault kind ${JSON.stringify(typeof fault === 'string' ? fault : (f as { kind?: unknown } | null)?.kind)}`);
  }
  switch (f.kind) {
    case 'reset-request':
      checkCount(f.afterBytes, `${where}.afterBytes`, 0);
      break;
    case 'reset-response':
      checkCount(f.afterBytes, `${where}.afterBytes`, 0);
      checkFraction(f.afterFraction, `${where}.afterFraction`);
      break;
    case 'truncate':
      checkCount(f.keepBytes, `${where}.keepBytes`, 0);
      checkFraction(f.keepFraction, `${where}.keepFraction`);
      break;
    case 'slow':
      checkCount(f.delayMs, `${where}.delayMs`, 0);
      checkCount(f.bytesPerSecond, `${where}.bytesPerSecond`, 1);
      checkCount(f.maxThrottleMs, `${where}.maxThrottleMs`, 0);
      if ((f.delayMs ?? 0) > MAX_SLOW_MS || (f.maxThrottleMs ?? 0) > MAX_SLOW_MS) {
        throw planError(`${where}: delays are limited to ${MAX_SLOW_MS} ms`);
      }
      break;
    case 'lying-range':
      if (f.shift !== undefined && (!Number.isSafeInteger(f.shift) || f.shift === 0)) {
        throw planError(`${where}.shift must be a non-zero integer, got ${String(f.shift)}`);
      }
      break;
    case 'extra-bytes':
      checkCount(f.count, `${where}.count`, 1);
      if ((f.count ?? 0) > MAX_EXTRA_BYTES) throw planError(`${where}.count is limited to ${MAX_EXTRA_BYTES}`);
      break;
    case 'replace-object':
      if (f.body !== undefined && !(f.body instanceof Uint8Array)) throw planError(`${where}.body must be a Uint8Array`);
      break;
    case 'disk-full':
      checkCount(f.afterBytes, `${where}.afterBytes`, 0);
      break;
    default:
      break;
  }
  return f;
}

interface CompiledRule {
  readonly index: number;
  readonly rule: FaultRule;
  readonly fault: Fault;
  readonly nth: ReadonlySet<number> | undefined;
  matches: number;
  fired: number;
}

interface CompiledPlan {
  readonly rules: CompiledRule[];
  readonly random: RandomFaultSchedule | undefined;
  readonly randomKinds: readonly FaultKind[];
  readonly seed: number;
  randomFired: number;
  /** How many times each request identity was seen (only kept when decisions are seeded). */
  readonly occurrences: Map<string, number>;
  readonly seeded: boolean;
}

function compilePlan(plan: FaultPlan): CompiledPlan {
  if (typeof plan !== 'object') throw planError('the plan must be an object');
  if (plan.seed !== undefined && !Number.isSafeInteger(plan.seed)) throw planError(`seed must be an integer, got ${String(plan.seed)}`);
  if (plan.rules !== undefined && !isList(plan.rules)) throw planError('rules must be an array');
  const rules = (plan.rules ?? []).map((rule, index): CompiledRule => {
    const where = `rules[${index}]`;
    checkTarget(rule, where);
    const fault = normalizeFault(rule.fault, `${where}.fault`);
    checkFraction(rule.probability, `${where}.probability`);
    checkCount(rule.times, `${where}.times`, 0);
    let nth: Set<number> | undefined;
    if (rule.nth !== undefined) {
      const list = typeof rule.nth === 'number' ? [rule.nth] : rule.nth;
      if (!isList(list) || list.length === 0) throw planError(`${where}.nth must be a number or a non-empty array`);
      for (const n of list) checkCount(n, `${where}.nth`, 1);
      nth = new Set(list);
    }
    return { index, rule, fault, nth, matches: 0, fired: 0 };
  });
  const random = plan.random;
  let randomKinds: readonly FaultKind[] = [];
  if (random !== undefined) {
    checkTarget(random, 'random');
    if (!Number.isSafeInteger(random.seed)) throw planError(`random.seed must be an integer, got ${String(random.seed)}`);
    if (typeof random.rate !== 'number') throw planError('random.rate is required (a number from 0 to 1)');
    checkFraction(random.rate, 'random.rate');
    checkCount(random.maxFaults, 'random.maxFaults', 0);
    checkCount(random.maxDelayMs, 'random.maxDelayMs', 0);
    if ((random.maxDelayMs ?? 0) > MAX_SLOW_MS) throw planError(`random.maxDelayMs is limited to ${MAX_SLOW_MS} ms`);
    if (random.kinds !== undefined) {
      if (!isList(random.kinds) || random.kinds.length === 0) throw planError('random.kinds must be a non-empty array');
      for (const k of random.kinds) if (!KIND_SET.has(k)) throw planError(`random.kinds: unknown fault kind ${JSON.stringify(k)}`);
    }
    randomKinds = random.kinds ?? DEFAULT_RANDOM_KINDS;
  }
  return {
    rules,
    random,
    randomKinds,
    seed: plan.seed ?? 0,
    randomFired: 0,
    occurrences: new Map(),
    seeded: random !== undefined || rules.some((r) => r.rule.probability !== undefined),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Which faults apply to a request

/** Facts about a request gathered once, before any fault is chosen. */
interface RequestFacts {
  readonly operation: FaultOperation;
  readonly method: string;
  readonly bucket: string | undefined;
  readonly key: string | undefined;
  readonly partNumber: number | undefined;
  readonly range: string | undefined;
  /** The declared request body length; undefined for chunked; 0 when there is none. */
  readonly bodyLength: number | undefined;
  /** The object the request addresses, for object reads. */
  readonly object: ObjectMeta | undefined;
  /** Identity for seeded decisions (without the occurrence count). */
  readonly identity: string;
}

const CRC_OPERATIONS = new Set<FaultOperation>(['GetObject', 'HeadObject', 'GetObjectMeta', 'PutObject', 'UploadPart', 'CompleteMultipartUpload', 'CopyObject']);
const ETAG_OPERATIONS = new Set<FaultOperation>(['GetObject', 'HeadObject', 'GetObjectMeta', 'PutObject', 'UploadPart', 'CompleteMultipartUpload']);
const OBJECT_READS = new Set<FaultOperation>(['GetObject', 'HeadObject', 'GetObjectMeta']);
const DISK_WRITES = new Set<FaultOperation>(['PutObject', 'UploadPart', 'CopyObject', 'InitiateMultipartUpload', 'CompleteMultipartUpload']);

function factsOf(ctx: RequestContext, operation: FaultOperation): RequestFacts {
  const method = ctx.req.method ?? 'GET';
  const { bucket, key } = ctx.target;
  const partText = operation === 'UploadPart' ? ctx.target.params.get('partNumber') : undefined;
  const partNumber = partText !== undefined && /^\d{1,5}$/.test(partText) ? Number(partText) : undefined;
  const range = operation === 'GetObject' ? headerValue(ctx.req.headers, 'range') : undefined;
  const lengthText = headerValue(ctx.req.headers, 'content-length');
  const chunked = /\bchunked\b/i.test(headerValue(ctx.req.headers, 'transfer-encoding') ?? '');
  const bodyLength = lengthText !== undefined && /^\d+$/.test(lengthText) ? Number(lengthText) : chunked ? undefined : 0;
  let object: ObjectMeta | undefined;
  if (OBJECT_READS.has(operation) && bucket !== undefined && key !== undefined && ctx.store.getBucket(bucket) !== undefined) {
    object = ctx.store.getObject(bucket, key);
  }
  const identity = JSON.stringify([operation, bucket ?? '', key ?? '', partNumber ?? 0, range ?? '']);
  return { operation, method, bucket, key, partNumber, range, bodyLength, object, identity };
}

/** The range a lying-range fault sends instead, or undefined when there is none to send. */
function lyingRange(facts: RequestFacts, shift: number, standard: boolean): { start: number; end: number } | undefined {
  const size = facts.object?.size;
  if (size === undefined || facts.range === undefined) return undefined;
  const asked = resolveRange(facts.range, size, standard);
  if (asked.kind !== 'partial') return undefined;
  const length = asked.end - asked.start + 1;
  if (length >= size) return undefined;
  const sign = shift > 0 ? 1 : -1;
  const magnitude = Math.min(Math.abs(shift), size - length);
  // The asked-for direction first, then the other one, then the smallest move that fits.
  for (const s of [sign * magnitude, -sign * magnitude, sign, -sign]) {
    const start = asked.start + s;
    const end = asked.end + s;
    if (start >= 0 && end <= size - 1) return { start, end };
  }
  return undefined;
}

function applies(kind: FaultKind, facts: RequestFacts, standard: boolean): boolean {
  switch (kind) {
    case 'internal-error':
    case 'service-unavailable':
    case 'lost-response':
    case 'slow':
      return true;
    case 'reset-request':
      return (facts.method === 'PUT' || facts.method === 'POST') && facts.bodyLength !== 0;
    case 'reset-response':
    case 'truncate':
    case 'extra-bytes':
      return facts.method === 'GET';
    case 'wrong-crc':
      return CRC_OPERATIONS.has(facts.operation);
    case 'wrong-etag':
      return ETAG_OPERATIONS.has(facts.operation);
    case 'replace-object':
      return facts.object !== undefined;
    case 'lying-range':
      return lyingRange(facts, 1, standard) !== undefined;
    case 'disk-full':
      return DISK_WRITES.has(facts.operation);
  }
}

function targets(target: FaultTarget, facts: RequestFacts): boolean {
  if (target.operations !== undefined && !target.operations.includes(facts.operation)) return false;
  if (target.bucket !== undefined && target.bucket !== facts.bucket) return false;
  if (target.key !== undefined && target.key !== facts.key) return false;
  if (target.keyPrefix !== undefined && !(facts.key ?? '').startsWith(target.keyPrefix)) return false;
  return true;
}

/** A seeded PRNG for one decision about one request. */
function decisionRandom(seed: number, identity: string, occurrence: number, salt: string): () => number {
  const digest = createHash('sha256').update(`${seed}\u0000${salt}\u0000${identity}\u0000${occurrence}`).digest();
  return mulberry32(digest.readUInt32BE(0));
}

/** Fills in a randomly drawn fault's parameters. */
function randomFault(kind: FaultKind, rng: () => number, facts: RequestFacts, maxDelayMs: number): Fault {
  switch (kind) {
    case 'reset-request':
      return { kind, afterBytes: Math.floor(rng() * (facts.bodyLength ?? 0)) };
    case 'reset-response':
      return { kind, afterFraction: rng() };
    case 'truncate':
      return { kind, keepFraction: rng() };
    case 'slow': {
      const delayMs = Math.floor(rng() * (maxDelayMs + 1));
      const throttle = rng() < 0.5;
      const bytesPerSecond = 2 ** (20 + Math.floor(rng() * 4)); // 1–8 MiB/s
      return throttle ? { kind, delayMs, bytesPerSecond, maxThrottleMs: maxDelayMs } : { kind, delayMs };
    }
    case 'lying-range': {
      const magnitude = 1 + Math.floor(rng() * 16);
      return { kind, shift: rng() < 0.5 ? -magnitude : magnitude };
    }
    case 'extra-bytes':
      return { kind, count: 1 + Math.floor(rng() * 64) };
    case 'disk-full':
      return { kind, afterBytes: Math.floor(rng() * (facts.bodyLength ?? 0)) };
    default:
      return { kind };
  }
}

function describeFault(fault: Fault): string {
  const { kind: _kind, ...params } = fault;
  return Object.entries(params)
    .map(([name, value]) => `${name}=${value instanceof Uint8Array ? `<${value.length} bytes>` : String(value)}`)
    .join(' ');
}

// ---------------------------------------------------------------------------------------------------------------
// Applying faults

/** A delay that does not keep the process alive on its own (a closed server must not wait out a slow fault). */
const sleep = async (ms: number): Promise<void> =>
  new Promise((resolve) => {
    setTimeout(resolve, ms).unref();
  });

/** Resets the connection (TCP RST where Node allows it, so the peer sees ECONNRESET). */
function resetSocket(socket: Socket | null | undefined): void {
  if (socket === null || socket === undefined || socket.destroyed) return;
  if (typeof socket.resetAndDestroy === 'function') socket.resetAndDestroy();
  else socket.destroy();
}

/**
 * Cuts the request body after `afterBytes` bytes by resetting the connection. The HTTP parser hands body bytes to
 * the request with `push()`; wrapping it on this one request is the only place the bytes can be counted before the
 * handler reads them (the server consumes the socket natively, so the socket emits no `data` events).
 */
function resetRequestBody(req: http.IncomingMessage, afterBytes: number): void {
  let received = req.readableLength;
  let fired = false;
  const fire = (): void => {
    fired = true;
    resetSocket(req.socket);
  };
  if (received >= afterBytes || req.complete) {
    // Nothing (more) to wait for: the handler has not read a byte yet, so resetting now still cuts the upload.
    fire();
    return;
  }
  const push = req.push.bind(req);
  req.push = (chunk: unknown, encoding?: BufferEncoding): boolean => {
    if (fired) return false;
    if (chunk === null) {
      // The whole body arrived before the limit: cut it before the handler sees its end.
      fire();
      return false;
    }
    const bytes = chunk as Buffer;
    if (received + bytes.length >= afterBytes) {
      const keep = afterBytes - received;
      if (keep > 0) push(bytes.subarray(0, keep));
      received = afterBytes;
      fire();
      return false;
    }
    received += bytes.length;
    return push(chunk, encoding);
  };
}

/** What the tap does once the handler writes its status and headers. */
type HeadDecision =
  | { readonly action: 'pass' }
  | { readonly action: 'headers'; readonly status: number; readonly headers: http.OutgoingHttpHeaders; readonly body?: BodyPlan }
  | { readonly action: 'reset' }
  | { readonly action: 'error'; readonly error: OssError };

/** How the tap delivers the body. */
interface BodyPlan {
  /** Deliver this many bytes, then stop. */
  readonly limit?: number;
  /** How to stop at the limit: RST or a clean close. */
  readonly stop?: 'reset' | 'close';
  /** Append these bytes at the end. */
  readonly extra?: Buffer;
  /** Throttle to this rate… */
  readonly bytesPerSecond?: number;
  /** …for at most this long in total. */
  readonly maxThrottleMs?: number;
}

type WriteCallback = (error?: Error | null) => void;

function headerLookup(headers: http.OutgoingHttpHeaders, res: http.ServerResponse, name: string): [string | undefined, string | undefined] {
  for (const [k, v] of Object.entries(headers)) {
    if (k.toLowerCase() === name && v !== undefined) return [k, String(v)];
  }
  const set = res.getHeader(name);
  return [undefined, set === undefined ? undefined : String(set)];
}

function setHeaderValue(headers: Record<string, http.OutgoingHttpHeader | undefined>, res: http.ServerResponse, key: string | undefined, name: string, value: string): void {
  if (key !== undefined) headers[key] = value;
  else res.setHeader(name, value);
}

function statusOk(status: number): boolean {
  return status >= 200 && status < 300;
}

/**
 * Intercepts one response: the handler's `writeHead`, `write` and `end` on this response object go through the tap,
 * which may change the status line and headers, deliver the body slowly, stop it early, append to it, or replace
 * the whole answer. Only responses with a fault get a tap.
 */
function tapResponse(ctx: RequestContext, decide: (status: number, headers: http.OutgoingHttpHeaders) => HeadDecision): void {
  const res = ctx.res;
  const originalWriteHead = res.writeHead.bind(res) as (status: number, headers?: http.OutgoingHttpHeaders) => http.ServerResponse;
  const originalWrite = res.write.bind(res) as (chunk: Buffer, callback: WriteCallback) => boolean;
  const originalEnd = res.end.bind(res) as (chunkOrCallback?: Buffer | (() => void)) => http.ServerResponse;
  const patched = res as unknown as Record<'writeHead' | 'write' | 'end', unknown>;
  const detach = (): void => {
    Reflect.deleteProperty(res, 'writeHead');
    Reflect.deleteProperty(res, 'write');
    Reflect.deleteProperty(res, 'end');
  };

  let swallowing = false;
  let plan: BodyPlan = {};
  let sent = 0;
  let throttledMs = 0;
  let stopped = false;
  const queue: ({ chunk: Buffer; callback: WriteCallback | undefined } | { end: true; chunk: Buffer | undefined; callback: (() => void) | undefined })[] = [];
  let pumping = false;
  let needDrain = false;

  const writeAndWait = async (chunk: Buffer): Promise<void> =>
    new Promise((resolve) => {
      if (res.destroyed) {
        stopped = true;
        resolve();
        return;
      }
      const onClose = (): void => {
        stopped = true;
        resolve();
      };
      res.once('close', onClose);
      originalWrite(chunk, () => {
        res.off('close', onClose);
        resolve();
      });
    });

  /** Read through a function: `deliver` changes `stopped` across awaits, which narrowing cannot see. */
  const halted = (): boolean => stopped;
  const stop = (): void => {
    stopped = true;
    swallowing = true;
    if (plan.stop === 'reset') resetSocket(res.socket);
    else res.socket?.destroySoon(); // FIN once the bytes already written are flushed
  };

  const deliver = async (chunk: Buffer): Promise<void> => {
    let piece = chunk;
    let atLimit = false;
    if (plan.limit !== undefined && sent + piece.length >= plan.limit) {
      piece = piece.subarray(0, plan.limit - sent);
      atLimit = true;
    }
    const rate = plan.bytesPerSecond;
    if (rate === undefined) {
      if (piece.length > 0) await writeAndWait(piece);
      sent += piece.length;
    } else {
      // Slices of ~50 ms at the given rate while the throttling budget lasts, then the rest at once.
      const slice = Math.max(1, Math.floor(rate / 20));
      for (let at = 0; at < piece.length && !halted(); ) {
        const budget = (plan.maxThrottleMs ?? MAX_SLOW_MS) - throttledMs;
        const part = piece.subarray(at, budget > 0 ? at + slice : piece.length);
        await writeAndWait(part);
        sent += part.length;
        at += part.length;
        if (budget > 0) {
          const wait = Math.min(budget, (part.length / rate) * 1000);
          throttledMs += wait;
          await sleep(wait);
        }
      }
    }
    if (atLimit && !stopped) stop();
  };

  const pump = async (): Promise<void> => {
    for (let op = queue.shift(); op !== undefined; op = queue.shift()) {
      if (stopped) {
        op.callback?.();
        continue;
      }
      if (op.chunk !== undefined) await deliver(op.chunk);
      if ('end' in op) {
        if (halted()) {
          op.callback?.();
          continue;
        }
        if (plan.limit !== undefined) {
          // The body ended before the limit: stop rather than complete it.
          stop();
          op.callback?.();
          continue;
        }
        if (plan.extra !== undefined) await writeAndWait(plan.extra);
        originalEnd(op.callback);
      } else {
        op.callback?.();
      }
    }
    pumping = false;
    if (needDrain && !stopped) {
      needDrain = false;
      res.emit('drain');
    }
  };

  const enqueue = (op: (typeof queue)[number]): void => {
    queue.push(op);
    if (!pumping) {
      pumping = true;
      void pump();
    }
  };

  const toBuffer = (chunk: unknown, encoding: unknown): Buffer | undefined => {
    if (chunk === undefined || chunk === null || typeof chunk === 'function') return undefined;
    if (typeof chunk === 'string') return Buffer.from(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
    return Buffer.from(chunk as Uint8Array);
  };

  patched.writeHead = (status: number, a?: unknown, b?: unknown): http.ServerResponse => {
    const given = (typeof a === 'object' && a !== null ? a : typeof b === 'object' && b !== null ? b : {}) as http.OutgoingHttpHeaders;
    if (Array.isArray(given)) {
      detach();
      return originalWriteHead(status, given);
    }
    const decision = decide(status, given);
    switch (decision.action) {
      case 'pass':
        detach();
        return originalWriteHead(status, given);
      case 'headers':
        if (decision.body === undefined) {
          detach();
          return originalWriteHead(decision.status, decision.headers);
        }
        plan = decision.body;
        return originalWriteHead(decision.status, decision.headers);
      case 'reset':
        swallowing = true;
        resetSocket(res.socket);
        return res;
      case 'error': {
        swallowing = true;
        const xml = Buffer.from(renderError(decision.error, ctx.requestId, ctx.target.host), 'utf8');
        const headers: http.OutgoingHttpHeaders = { 'Content-Type': 'application/xml', 'Content-Length': xml.length };
        if (ctx.req.method === 'HEAD') headers['x-oss-err'] = xml.toString('base64');
        for (const name of res.getHeaderNames()) {
          if (name !== 'x-oss-request-id' && name !== 'server') res.removeHeader(name);
        }
        originalWriteHead(decision.error.status, headers);
        originalEnd(ctx.req.method === 'HEAD' ? undefined : xml);
        return res;
      }
    }
  };
  patched.write = (chunk: unknown, encoding?: unknown, callback?: unknown): boolean => {
    const cb = (typeof encoding === 'function' ? encoding : callback) as WriteCallback | undefined;
    if (swallowing) {
      if (cb !== undefined) process.nextTick(cb);
      return true;
    }
    const buffer = toBuffer(chunk, encoding) ?? Buffer.alloc(0);
    needDrain = true;
    enqueue({ chunk: buffer, callback: cb });
    return false;
  };
  patched.end = (chunk?: unknown, encoding?: unknown, callback?: unknown): http.ServerResponse => {
    const cb = [chunk, encoding, callback].find((x) => typeof x === 'function') as (() => void) | undefined;
    if (swallowing) {
      if (cb !== undefined) process.nextTick(cb);
      return res;
    }
    enqueue({ end: true, chunk: toBuffer(chunk, encoding), callback: cb });
    return res;
  };
}

/** A different ETag of the same shape: the first hex digit changed. */
function otherEtag(etag: string): string {
  const m = /^("?)([0-9A-Fa-f])(.*)$/.exec(etag);
  if (m === null) return `"0${etag.replace(/"/g, '')}"`;
  const [, quote = '', first = '0', rest = ''] = m;
  const changed = ((parseInt(first, 16) + 1) % 16).toString(16).toUpperCase();
  return `${quote}${changed}${rest}`;
}

/** Replaces an object by new bytes, keeping its metadata, as a concurrent PutObject would. */
async function replaceObject(ctx: RequestContext, bucket: string, key: string, body: Uint8Array | undefined): Promise<boolean> {
  const reader = await ctx.store.openObject(bucket, key);
  if (reader === undefined) return false;
  const old = reader.meta;
  let source: AsyncIterable<Uint8Array>;
  if (body !== undefined) {
    await reader.close();
    source = Readable.from([Buffer.from(body)]);
  } else if (old.size === 0) {
    await reader.close();
    source = Readable.from([Buffer.alloc(1)]);
  } else {
    const flip = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        const out = Buffer.allocUnsafe(chunk.length);
        for (let i = 0; i < chunk.length; i++) out[i] = (chunk[i] ?? 0) ^ 0xff;
        callback(null, out);
      },
    });
    source = reader.stream(0, old.size - 1).pipe(flip);
  }
  const staged = await ctx.store.stageBody(source, Number.MAX_SAFE_INTEGER);
  try {
    const meta: ObjectMeta = {
      ...old,
      size: staged.digest.size,
      etag: staged.digest.md5.toString('hex').toUpperCase(),
      crc64: staged.digest.crc64.toString(),
      contentMd5: staged.digest.md5.toString('base64'),
      lastModified: Math.floor(ctx.now / 1000) * 1000,
      type: 'Normal',
    };
    await ctx.store.putObject(bucket, staged, meta, false);
  } finally {
    await staged.discard();
  }
  return true;
}

type MutableEntry = { -readonly [K in keyof FaultLogEntry]: FaultLogEntry[K] };

/**
 * Creates the injector behind `startServer({ faults })`.
 * @param plan - the initial plan (`{}` for none)
 * @returns the injector (the listener's hook and the test's controller)
 * @throws RangeError when the plan is malformed
 */
export function createFaultInjector(plan: FaultPlan = {}): FaultInjector {
  let compiled = compilePlan(plan);
  let entries: MutableEntry[] = [];
  let requests = 0;
  let faults = 0;
  const byOperation: Partial<Record<FaultOperation, number>> = {};
  const appliedByKind: Partial<Record<FaultKind, number>> = {};

  const choose = (facts: RequestFacts, standard: boolean): { fault: Fault; source: 'rule' | 'random'; rule: number | undefined } | undefined => {
    const current = compiled;
    let occurrence = 0;
    if (current.seeded) {
      occurrence = current.occurrences.get(facts.identity) ?? 0;
      current.occurrences.set(facts.identity, occurrence + 1);
    }
    for (const rule of current.rules) {
      if (!targets(rule.rule, facts) || !applies(rule.fault.kind, facts, standard)) continue;
      rule.matches++;
      if (rule.nth !== undefined && !rule.nth.has(rule.matches)) continue;
      if (rule.rule.times !== undefined && rule.fired >= rule.rule.times) continue;
      if (rule.rule.probability !== undefined) {
        const rng = decisionRandom(current.seed, facts.identity, occurrence, `rule ${rule.index}`);
        if (!(rng() < rule.rule.probability)) continue;
      }
      rule.fired++;
      return { fault: rule.fault, source: 'rule', rule: rule.index };
    }
    const random = current.random;
    if (random === undefined || !targets(random, facts)) return undefined;
    if (random.maxFaults !== undefined && current.randomFired >= random.maxFaults) return undefined;
    const rng = decisionRandom(random.seed, facts.identity, occurrence, 'random');
    if (!(rng() < random.rate)) return undefined;
    const kinds = current.randomKinds.filter((k) => applies(k, facts, standard));
    const kind = kinds[Math.floor(rng() * kinds.length)];
    if (kind === undefined) return undefined;
    current.randomFired++;
    return { fault: randomFault(kind, rng, facts, random.maxDelayMs ?? 250), source: 'random', rule: undefined };
  };

  const markApplied = (entry: MutableEntry, applied: boolean): void => {
    if (entry.applied === applied) return;
    entry.applied = applied;
    appliedByKind[entry.kind] = (appliedByKind[entry.kind] ?? 0) + (applied ? 1 : -1);
  };

  const apply = async (ctx: RequestContext, facts: RequestFacts, fault: Fault, entry: MutableEntry, standard: boolean): Promise<void> => {
    const onlyOk = (status: number): boolean => {
      if (statusOk(status)) return true;
      markApplied(entry, false);
      return false;
    };
    switch (fault.kind) {
      case 'internal-error':
      case 'service-unavailable': {
        const error = new OssError(fault.kind === 'internal-error' ? 'InternalError' : 'ServiceUnavailable');
        if (fault.afterCommit !== true) throw error;
        tapResponse(ctx, (status) => (onlyOk(status) ? { action: 'error', error } : { action: 'pass' }));
        return;
      }
      case 'lost-response':
        tapResponse(ctx, () => ({ action: 'reset' }));
        return;
      case 'reset-request':
        resetRequestBody(ctx.req, fault.afterBytes ?? 0);
        return;
      case 'reset-response':
      case 'truncate':
        tapResponse(ctx, (status, headers) => {
          if (!onlyOk(status)) return { action: 'pass' };
          const size = Number(headerLookup(headers, ctx.res, 'content-length')[1] ?? 'NaN');
          if (!Number.isSafeInteger(size)) {
            markApplied(entry, false);
            return { action: 'pass' };
          }
          if (fault.kind === 'reset-response') {
            if (size === 0) return { action: 'reset' };
            const after = fault.afterBytes ?? Math.floor((fault.afterFraction ?? 0.5) * size);
            return { action: 'headers', status, headers, body: { limit: Math.min(after, size - 1), stop: 'reset' } };
          }
          if (size === 0) {
            markApplied(entry, false);
            return { action: 'pass' };
          }
          const keep = fault.keepBytes ?? Math.floor((fault.keepFraction ?? 0.5) * size);
          return { action: 'headers', status, headers, body: { limit: Math.min(keep, size - 1), stop: 'close' } };
        });
        return;
      case 'slow':
        if (fault.bytesPerSecond !== undefined) {
          const body: BodyPlan = { bytesPerSecond: fault.bytesPerSecond, maxThrottleMs: Math.min(fault.maxThrottleMs ?? MAX_SLOW_MS, MAX_SLOW_MS) };
          tapResponse(ctx, (status, headers) => ({ action: 'headers', status, headers, body }));
        }
        await sleep(Math.min(fault.delayMs ?? 500, MAX_SLOW_MS));
        return;
      case 'wrong-crc':
      case 'wrong-etag':
        tapResponse(ctx, (status, headers) => {
          if (!onlyOk(status)) return { action: 'pass' };
          const name = fault.kind === 'wrong-crc' ? 'x-oss-hash-crc64ecma' : 'etag';
          const [key, value] = headerLookup(headers, ctx.res, name);
          if (value === undefined) {
            markApplied(entry, false);
            return { action: 'pass' };
          }
          let wrong: string;
          if (fault.kind === 'wrong-etag') wrong = otherEtag(value);
          else {
            const real = /^\d+$/.test(value) ? BigInt(value) : 0n;
            wrong = (real ^ (1n + BigInt(Math.floor(mulberry32(entry.seq)() * 2 ** 32)))).toString();
          }
          const copy = { ...headers };
          setHeaderValue(copy, ctx.res, key, name, wrong);
          return { action: 'headers', status, headers: copy };
        });
        return;
      case 'replace-object': {
        const { bucket, key } = facts;
        const replaced = bucket !== undefined && key !== undefined && (await replaceObject(ctx, bucket, key, fault.body));
        if (!replaced) markApplied(entry, false);
        return;
      }
      case 'lying-range': {
        const lie = lyingRange(facts, fault.shift ?? 1, standard);
        if (lie === undefined) {
          markApplied(entry, false);
          return;
        }
        // Authentication already ran, so the header can be rewritten: the handler then answers, with a matching
        // Content-Range, a range the client did not ask for.
        ctx.req.headers.range = `bytes=${lie.start}-${lie.end}`;
        return;
      }
      case 'disk-full':
        // Applied by intercept, which routes the request to a store whose disk is full.
        return;
      case 'extra-bytes': {
        const count = fault.count ?? 16;
        const extra = Buffer.alloc(count);
        const rng = mulberry32(entry.seq);
        for (let i = 0; i < count; i++) extra[i] = Math.floor(rng() * 256);
        tapResponse(ctx, (status, headers) => {
          if (!onlyOk(status)) return { action: 'pass' };
          // No Content-Length: Node frames the body with chunked encoding, which can carry the surplus.
          const copy = Object.fromEntries(Object.entries(headers).filter(([k]) => k.toLowerCase() !== 'content-length'));
          ctx.res.removeHeader('content-length');
          return { action: 'headers', status, headers: copy, body: { extra } };
        });
        return;
      }
    }
  };

  return {
    set(next) {
      compiled = compilePlan(next);
    },
    clear() {
      compiled = compilePlan({});
    },
    log() {
      return entries.map((e) => ({ ...e }));
    },
    resetLog() {
      entries = [];
    },
    stats() {
      return { requests, byOperation: { ...byOperation }, faults, appliedByKind: { ...appliedByKind } };
    },
    async intercept(ctx) {
      requests++;
      const seq = requests;
      const method = ctx.req.method ?? 'GET';
      const operation = operationOf(method, ctx.target, ctx.req.headers);
      byOperation[operation] = (byOperation[operation] ?? 0) + 1;
      if (compiled.rules.length === 0 && compiled.random === undefined) return ctx;
      const facts = factsOf(ctx, operation);
      const standard = (headerValue(ctx.req.headers, 'x-oss-range-behavior') ?? '').toLowerCase() === 'standard';
      const chosen = choose(facts, standard);
      if (chosen === undefined) return ctx;
      faults++;
      const entry: MutableEntry = {
        seq,
        operation,
        bucket: facts.bucket,
        key: facts.key,
        partNumber: facts.partNumber,
        kind: chosen.fault.kind,
        source: chosen.source,
        rule: chosen.rule,
        detail: describeFault(chosen.fault),
        applied: false,
      };
      entries.push(entry);
      markApplied(entry, true);
      // Everything up to here is synchronous, so a reset-request patch is in place before any body byte arrives.
      await apply(ctx, facts, chosen.fault, entry, standard);
      return chosen.fault.kind === 'disk-full' ? { ...ctx, store: diskFullStore(ctx.store, chosen.fault.afterBytes ?? 0) } : ctx;
    },
  };
}
