/** Median, minimum and maximum of a set of runs: the only summary the benchmark reports. */
export interface Spread {
  readonly median: number;
  readonly min: number;
  readonly max: number;
}

/**
 * Median (mean of the two middle values for an even count), min and max.
 * @throws Error for an empty list or a value that is not finite
 */
export function spread(values: readonly number[]): Spread {
  if (values.length === 0) throw new Error('spread of no values');
  if (values.some((v) => !Number.isFinite(v))) throw new Error(`non-finite value among ${values.join(', ')}`);
  const sorted = [...values].sort((x, y) => x - y);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median, min: sorted[0]!, max: sorted[sorted.length - 1]! };
}
