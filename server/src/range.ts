/**
 * Range requests as OSS answers them (Alibaba Cloud docs "Use HTTP Range requests" and "HTTP status code 416";
 * oss-go-java.md §6):
 *
 * - one range `a-b`, `a-` or suffix `-n`;
 * - without `x-oss-range-behavior: standard`, a malformed or out-of-object range is ignored: 200 and the whole object;
 * - with it, an end past the object is clipped (206) and a start at or past the end is 416 `InvalidRange`;
 * - a syntactically invalid header (`byte=`, `5-2`, junk) is ignored in both modes;
 * - several ranges: OSS documents both "first range only" and 416. We answer the first range by default and 416 with
 *   `standard` (see CONFORMANCE.md).
 *
 * @packageDocumentation
 */

/** What to send for a GET. `start`/`end` are inclusive byte offsets. */
export type RangeDecision =
  | { readonly kind: 'full' }
  | { readonly kind: 'partial'; readonly start: number; readonly end: number }
  | { readonly kind: 'unsatisfiable' };

type Spec = { first: number; last: number | undefined } | { suffix: number };

const FULL: RangeDecision = { kind: 'full' };
const UNSATISFIABLE: RangeDecision = { kind: 'unsatisfiable' };

function parseSpec(text: string): Spec | undefined {
  const m = /^\s*(\d*)\s*-\s*(\d*)\s*$/.exec(text);
  if (m === null) return undefined;
  const [, a = '', b = ''] = m;
  if (a === '' && b === '') return undefined;
  if (a === '') return { suffix: Number(b) };
  const first = Number(a);
  if (b === '') return { first, last: undefined };
  const last = Number(b);
  if (last < first) return undefined;
  return { first, last };
}

/**
 * Decides what a GET with this Range header returns.
 * @param header - the `Range` request header, if any
 * @param size - the object's size in bytes
 * @param standard - whether `x-oss-range-behavior: standard` was sent
 * @returns full object, a byte range, or 416
 */
export function resolveRange(header: string | undefined, size: number, standard: boolean): RangeDecision {
  if (header === undefined) return FULL;
  const m = /^\s*bytes\s*=(.*)$/.exec(header);
  if (m === null) return FULL;
  const pieces = (m[1] ?? '').split(',');
  const specs: Spec[] = [];
  for (const piece of pieces) {
    const spec = parseSpec(piece);
    if (spec === undefined) return FULL;
    specs.push(spec);
  }
  const spec = specs[0];
  if (spec === undefined) return FULL;
  if (specs.length > 1 && standard) return UNSATISFIABLE;

  if ('suffix' in spec) {
    const n = spec.suffix;
    if (!standard) {
      if (n === 0 || n > size) return FULL;
      return { kind: 'partial', start: size - n, end: size - 1 };
    }
    if (n === 0 || size === 0) return UNSATISFIABLE;
    return { kind: 'partial', start: Math.max(0, size - n), end: size - 1 };
  }
  const { first, last } = spec;
  if (first >= size) return standard ? UNSATISFIABLE : FULL;
  if (last === undefined) return { kind: 'partial', start: first, end: size - 1 };
  if (last >= size) return standard ? { kind: 'partial', start: first, end: size - 1 } : FULL;
  return { kind: 'partial', start: first, end: last };
}
