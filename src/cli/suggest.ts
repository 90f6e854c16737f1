/**
 * "Did you mean …?" for unknown commands and options. The CLI parses its options with `node:util` `parseArgs` in every
 * command; it has no suggestions, and moving fifteen commands to another parser to get them would rewrite all of
 * them, so this adds the one missing piece: an edit distance over the known names.
 *
 * @packageDocumentation
 */

/** Levenshtein distance (insert, delete, substitute; each costs 1). */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current[j] = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + cost);
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/**
 * The closest known name to `word`, when close enough to be a typo (at most a third of its length, at least 1 edit
 * allowed; a known name that starts with `word` also counts), else undefined.
 */
export function closest(word: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const name of known) {
    const d = name.startsWith(word) && word.length >= 3 ? 0.5 : editDistance(word, name);
    if (d < bestDistance) {
      best = name;
      bestDistance = d;
    }
  }
  return bestDistance <= Math.max(1, Math.floor(word.length / 3)) ? best : undefined;
}

/** The long options (`--name`) and short ones (`-x`) a help text mentions. */
export function optionsInHelp(help: string): string[] {
  return [...new Set([...help.matchAll(/(?<![\w-])(--[a-z][a-z0-9-]*|-[a-zA-Z])(?![\w-])/g)].map((m) => m[1] ?? ''))];
}
