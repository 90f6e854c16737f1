/**
 * Planning a read so that an encrypted object answers exactly what a plain client would get for the same request on
 * the plaintext, in one request (FORMAT.md §5.2, `oss-go-java.md` §6 "Recommendation for TS").
 *
 * 1. {@link planRead}: what to send. A `bytes=a-b` or `bytes=a-` range whose start is not a multiple of 16 is sent
 *    with its start rounded down (as the peers do; CTR itself does not need it) and its end unchanged. Everything
 *    else (no range, an aligned start, a suffix `bytes=-n`, a value OSS ignores) is sent exactly as the caller
 *    wrote it, and its answer is served as it is: it *is* what a plain client gets.
 * 2. {@link planServe}: what to return, from what the *response* says it carries (its `Content-Range`, or the whole
 *    object when it has none), never from what we asked for. But first the answer must be one the request allows
 *    (issue 14 item 1): with no Range sent, only the whole object; with a Range sent, the span OSS gives for it
 *    (under either range behaviour, FORMAT.md §5.1) or the whole object (OSS ignoring it). Anything else is
 *    `inconsistent`: a server that answers `bytes 16-199999/200000` or `bytes 0-99/200000` to a whole-object GET
 *    would otherwise have its prefix or tail served as if it were what was asked for, with the whole-object checks
 *    (length, CRC-64, MD5) skipped because the answer is not whole. For a widened range the caller's own view is
 *    `resolveRange(caller's range, object size, standard)` (FORMAT.md §5.1); if the received bytes contain it, it is
 *    cut out of them; otherwise a second request is needed.
 *
 * When a second request happens (the only case): default range behaviour, an open range `bytes=a-` whose start lies
 * in the last, partial 16-byte block's tail *past* the end of the object (`size ≤ a < ceil16(size)`). OSS ignores
 * the caller's range (start past the end → whole object), but honours our widened one (its aligned start is inside
 * the object), so the first answer holds only the tail of the object and the whole object must be fetched again
 * (unless that tail is the whole object: objects under 16 bytes). The second GET carries `If-Match` with the first
 * answer's ETag, so a concurrent overwrite fails (412) instead of mixing versions. A bounded range `a-b` never needs it: OSS decides on the end, which we send unchanged; with
 * `x-oss-range-behavior: standard` the answer is computed from the first response's total size.
 *
 * @packageDocumentation
 */

import { CseError, ErrorCode } from '../errors.js';
import { BLOCK_SIZE } from '../format/layout.js';
import { formatContentRange, parseRangeHeader, resolveRange, type ByteRange } from '../format/range.js';

/** A read as the caller asked for it, and the Range header to send for it. */
export interface ReadPlan {
  /** The caller's range (`undefined`: no Range header at all). */
  readonly range: ByteRange | undefined;
  /** Whether `x-oss-range-behavior: standard` is sent. */
  readonly standard: boolean;
  /** The Range header value to send (`undefined`: none). */
  readonly sendRange: string | undefined;
  /**
   * True when `sendRange` is the caller's own header, unchanged (no range, a suffix, an aligned start, or a value
   * OSS ignores): the response is then exactly what a plain client gets, and is served as it is.
   */
  readonly exact: boolean;
}

/**
 * Plans the request for a caller's `Range` header value.
 *
 * @param rangeHeader - the caller's Range value, or `undefined`
 * @param standard - whether the caller sends `x-oss-range-behavior: standard`
 * @throws CseError ERR_CSE_INVALID_ARGUMENT for several ranges in one header (`bytes=0-9,20-29`): the OSS
 *   documentation gives two different answers for them (FORMAT.md §5.1), so we refuse rather than guess
 */
export function planRead(rangeHeader: string | undefined, standard: boolean): ReadPlan {
  if (rangeHeader === undefined) return { range: undefined, standard, sendRange: undefined, exact: true };
  const range = parseRangeHeader(rangeHeader);
  const unchanged: ReadPlan = { range, standard, sendRange: rangeHeader, exact: true };
  switch (range.kind) {
    case 'invalid':
      if (range.reason === 'multiple') {
        throw new CseError(
          ErrorCode.INVALID_ARGUMENT,
          `several ranges in one Range header (${JSON.stringify(rangeHeader)}) are not supported: OSS documents ` +
            'two different answers for them; read each range separately',
          { header: 'range' },
        );
      }
      // Sent unchanged: whatever OSS makes of it is the answer.
      return unchanged;
    case 'suffix':
      return unchanged;
    case 'bounded':
      if (range.start % BLOCK_SIZE === 0) return unchanged;
      return { range, standard, sendRange: `bytes=${alignDown(range.start)}-${range.end}`, exact: false };
    case 'from':
      if (range.start % BLOCK_SIZE === 0) return unchanged;
      return { range, standard, sendRange: `bytes=${alignDown(range.start)}-`, exact: false };
  }
}

function alignDown(n: number): number {
  return n - (n % BLOCK_SIZE);
}

/** What a response carries: the inclusive interval `[start, end]` of an object of `total` bytes. */
export interface FetchedSpan {
  /** First byte carried. */
  readonly start: number;
  /** Last byte carried, inclusive (`start - 1` when nothing is carried, e.g. an empty object). */
  readonly end: number;
  /** The object's size. */
  readonly total: number;
  /** True when the response is a 206 with a `Content-Range`; false for a whole-object answer. */
  readonly partial: boolean;
}

/** How to answer the caller from a response. */
export type ServePlan =
  | {
      readonly kind: 'serve';
      /** The status a plain client gets. */
      readonly status: 200 | 206;
      /** Bytes to drop from the start of the received body. */
      readonly skip: number;
      /** Bytes to return after that. */
      readonly length: number;
      /** The caller's `Content-Range` (206 only). */
      readonly contentRange: string | undefined;
      /** The first returned byte's offset in the object. */
      readonly start: number;
      /** The object's size. */
      readonly total: number;
      /** True when the returned bytes are the whole object (whole-object integrity checks apply). */
      readonly complete: boolean;
    }
  | { readonly kind: 'refetch' }
  | { readonly kind: 'unsatisfiable'; readonly total: number }
  | {
      readonly kind: 'inconsistent';
      /** What was answered and what the request allowed, for the error message. */
      readonly reason: string;
    };

/**
 * Whether a response carrying `fetched` is an answer the request `sent` allows: the whole object, or exactly the
 * span OSS gives for `sent` on an object of `fetched.total` bytes with either range behaviour (a server that does not
 * honour `x-oss-range-behavior`, or honours RFC 9110 clipping without it, still answers consistently), reading the
 * header strictly or with its blanks skipped.
 *
 * @returns `undefined` when consistent, else why not (for the error message)
 */
export function checkAnswerConsistent(sent: string | undefined, standard: boolean, fetched: FetchedSpan): string | undefined {
  const total = fetched.total;
  const whole = fetched.start === 0 && fetched.end === total - 1;
  if (whole) return undefined;
  const carried = fetched.partial ? `Content-Range bytes ${fetched.start}-${fetched.end}/${total}` : `${fetched.end + 1} bytes`;
  if (sent === undefined) return `no Range was sent, so only the whole ${total}-byte object is a valid answer; got ${carried}`;
  const range = parseRangeHeader(sent);
  // Servers differ on blanks inside the value (`bytes= 1-2`): ours is strict (FORMAT.md §5.1), the embedded server
  // and RFC-minded ones skip them. Either reading of the header is an answer to it.
  const readings = [range, parseRangeHeader(sent.replace(/[ \t]/g, ''))];
  for (const reading of readings) {
    for (const behaviour of [standard, !standard]) {
      const r = resolveRange(reading, total, behaviour);
      if (r.status === 206 && r.start === fetched.start && r.end === fetched.end) return undefined;
    }
  }
  const expected = resolveRange(range, total, standard);
  const allowed = expected.status === 206 ? `bytes ${expected.start}-${expected.end}/${total} or the whole object` : 'the whole object';
  return `Range ${JSON.stringify(sent)} allows ${allowed}; got ${carried}`;
}

/**
 * Decides what to return for `plan` given what the response carries.
 *
 * @param plan - from {@link planRead}
 * @param fetched - the response's span (from its `Content-Range`, or the whole object)
 * @param sent - the request the response answers: `{ range }` with the Range header it carried (default
 *   `{ range: plan.sendRange }`; `{ range: undefined }` for the second, whole-object request of the refetch case)
 * @returns serve (with the bytes to skip and keep), refetch (the caller's answer is not inside what arrived),
 *   unsatisfiable (a plain client gets 416), or inconsistent (the answer is not one the request allows: never serve it)
 */
export function planServe(
  plan: ReadPlan,
  fetched: FetchedSpan,
  sent: { readonly range: string | undefined } = { range: plan.sendRange },
): ServePlan {
  const total = fetched.total;
  const reason = checkAnswerConsistent(sent.range, plan.standard, fetched);
  if (reason !== undefined) return { kind: 'inconsistent', reason };
  if (plan.exact && sent.range === plan.sendRange) {
    // The caller's own request, answered consistently: serve the response as it is.
    const length = fetched.end - fetched.start + 1;
    return {
      kind: 'serve',
      status: fetched.partial ? 206 : 200,
      skip: 0,
      length,
      contentRange: fetched.partial ? formatContentRange(fetched.start, fetched.end, total) : undefined,
      start: fetched.start,
      total,
      complete: fetched.start === 0 && fetched.end === total - 1,
    };
  }
  const view = plan.range === undefined ? ({ status: 200 } as const) : resolveRange(plan.range, total, plan.standard);
  if (view.status === 416) return { kind: 'unsatisfiable', total };
  const start = view.status === 206 ? view.start : 0;
  const end = view.status === 206 ? view.end : total - 1;
  if (start < fetched.start || end > fetched.end) return { kind: 'refetch' };
  return {
    kind: 'serve',
    status: view.status,
    skip: start - fetched.start,
    length: end - start + 1,
    contentRange: view.status === 206 ? formatContentRange(start, end, total) : undefined,
    start,
    total,
    complete: start === 0 && end === total - 1,
  };
}
