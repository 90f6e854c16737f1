/**
 * Summarises V8 `.cpuprofile` files (from `node --cpu-prof`): self time per function and per file, heaviest first,
 * so a missed target can be traced to code before anyone guesses (issue 8 §3).
 *
 * Usage: node --import tsx bench/profile-summary.ts [--top N] [--callers NAME [--depth D]] FILE.cpuprofile [...]
 *
 * Profile a run with: node --expose-gc --cpu-prof --cpu-prof-dir=.tmp/prof --import tsx bench/run.ts --only e2e
 * (children inherit the flags: one file per process and thread). Node 20 refuses --cpu-prof in NODE_OPTIONS.
 */

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly children?: readonly number[];
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly startTime: number;
  readonly endTime: number;
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

/** Self time of one function or file. */
export interface Entry {
  readonly name: string;
  readonly ms: number;
  readonly share: number;
}

/** A profile's totals. */
export interface Summary {
  readonly totalMs: number;
  readonly idleMs: number;
  readonly functions: readonly Entry[];
  readonly files: readonly Entry[];
}

function shortUrl(url: string): string {
  if (url === '') return '(native)';
  const i = url.indexOf('/node_modules/');
  if (i >= 0) return url.slice(i + 1);
  const root = fileURLToPath(new URL('..', import.meta.url));
  const path = url.startsWith('file://') ? fileURLToPath(url) : url;
  return path.startsWith(root) ? path.slice(root.length) : path;
}

/**
 * Who calls a function: its self time split by the chain of its `depth` nearest callers.
 * @param match - substring of `functionName  file:line` as printed by the summary
 */
export function callers(profile: CpuProfile, match: string, depth = 4): Entry[] {
  const parent = new Map<number, number>();
  const byId = new Map<number, ProfileNode>();
  for (const n of profile.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  const label = (n: ProfileNode): string =>
    `${n.callFrame.functionName === '' ? '(anonymous)' : n.callFrame.functionName}  ${shortUrl(n.callFrame.url)}` +
    (n.callFrame.url === '' ? '' : `:${n.callFrame.lineNumber + 1}`);
  const out = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const node = byId.get(id);
    if (node === undefined || !label(node).includes(match)) return;
    const ms = (profile.timeDeltas[i] ?? 0) / 1000;
    total += ms;
    const chain: string[] = [];
    let p = parent.get(id);
    while (p !== undefined && chain.length < depth) {
      const pn = byId.get(p);
      if (pn === undefined) break;
      chain.push(label(pn));
      p = parent.get(p);
    }
    const key = chain.join('  <  ');
    out.set(key, (out.get(key) ?? 0) + ms);
  });
  return [...out.entries()].map(([name, ms]) => ({ name, ms, share: total === 0 ? 0 : ms / total })).sort((a, b) => b.ms - a.ms);
}

/** Adds up self time by function and by file. */
export function summarise(profile: CpuProfile): Summary {
  const byId = new Map<number, ProfileNode>();
  for (const n of profile.nodes) byId.set(n.id, n);
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => {
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000);
  });
  const fn = new Map<string, number>();
  const file = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (const [id, ms] of self) {
    const node = byId.get(id);
    if (node === undefined) continue;
    total += ms;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)') idle += ms;
    const where = shortUrl(url);
    const key = `${functionName === '' ? '(anonymous)' : functionName}  ${where}${url === '' ? '' : `:${lineNumber + 1}`}`;
    fn.set(key, (fn.get(key) ?? 0) + ms);
    file.set(where, (file.get(where) ?? 0) + ms);
  }
  const rank = (m: Map<string, number>): Entry[] =>
    [...m.entries()].map(([name, ms]) => ({ name, ms, share: total === 0 ? 0 : ms / total })).sort((a, b) => b.ms - a.ms);
  return { totalMs: total, idleMs: idle, functions: rank(fn), files: rank(file) };
}

function main(): void {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { top: { type: 'string' }, callers: { type: 'string' }, depth: { type: 'string' } },
  });
  const top = Number(values.top ?? 25);
  if (positionals.length === 0) {
    process.stderr.write('usage: node --import tsx bench/profile-summary.ts [--top N] FILE.cpuprofile [...]\n');
    process.exitCode = 2;
    return;
  }
  for (const path of positionals) {
    const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
    const s = summarise(profile);
    const line = (e: Entry): string => `${e.ms.toFixed(0).padStart(8)} ms ${(e.share * 100).toFixed(1).padStart(5)} %  ${e.name}`;
    process.stdout.write(`\n== ${path}: ${s.totalMs.toFixed(0)} ms sampled, ${s.idleMs.toFixed(0)} ms idle\n-- by function (self)\n`);
    for (const e of s.functions.slice(0, top)) process.stdout.write(line(e) + '\n');
    process.stdout.write('-- by file (self)\n');
    for (const e of s.files.slice(0, Math.min(top, 15))) process.stdout.write(line(e) + '\n');
    if (values.callers !== undefined) {
      process.stdout.write(`-- callers of ${values.callers}\n`);
      for (const e of callers(profile, values.callers, Number(values.depth ?? 4)).slice(0, top)) process.stdout.write(line(e) + '\n');
    }
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  // `… | head` closes the pipe early: that is not an error.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
    throw e;
  });
  main();
}
