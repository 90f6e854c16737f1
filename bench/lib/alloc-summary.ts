/**
 * Summarises a V8 sampling heap profile (`HeapProfiler.stopSampling`) of N operations: bytes allocated per operation,
 * the heaviest allocating functions, and per allocation the nearest frame in our `src/` (what in our code asked for
 * it), so an allocation difference between two clients can be traced to code (issue 15).
 */

/** One node of V8's sampling heap profile tree. */
export interface SamplingNode {
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly selfSize: number;
  readonly id: number;
  readonly children: readonly SamplingNode[];
}

/** V8's sampling heap profile. */
export interface SamplingProfile {
  readonly head: SamplingNode;
}

const short = (url: string): string => url.replace(/^.*\/(src|server|node_modules|bench)\//, '$1/').replace(/^node:/, '');
const frameName = (n: SamplingNode): string =>
  `${n.callFrame.functionName || '(anonymous)'} ${short(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`;

/**
 * The report text: total KiB per op, top 25 allocating functions (self), top 25 nearest-`src/`-frame attributions.
 */
export function summariseAllocations(label: string, profile: SamplingProfile, ops: number): string {
  const self = new Map<string, number>();
  const bySrc = new Map<string, number>();
  const pairs = new Map<string, number>();
  let total = 0;
  const walk = (n: SamplingNode, nearestSrc: string | undefined): void => {
    const here = /\/src\//.test(n.callFrame.url) && !/node_modules/.test(n.callFrame.url) ? frameName(n) : nearestSrc;
    if (n.selfSize > 0) {
      total += n.selfSize;
      const f = frameName(n);
      self.set(f, (self.get(f) ?? 0) + n.selfSize);
      const s = here ?? '(no src/ frame)';
      bySrc.set(s, (bySrc.get(s) ?? 0) + n.selfSize);
      const pair = `${s}  <-  ${f}`;
      pairs.set(pair, (pairs.get(pair) ?? 0) + n.selfSize);
    }
    for (const c of n.children) walk(c, here);
  };
  walk(profile.head, undefined);
  const kib = (b: number): string => (b / ops / 1024).toFixed(2).padStart(7);
  const top = (m: Map<string, number>, limit = 25): string =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, limit)
      .map(([k, v]) => `  ${kib(v)} KiB/op  ${k}`)
      .join('\n');
  return `${label}: ${kib(total).trim()} KiB allocated per op (${ops} ops)\n top allocating functions (self):\n${top(self)}\n nearest src/ frame:\n${top(bySrc)}\n (nearest src/ frame <- allocating function):\n${top(pairs, 60)}\n`;
}
