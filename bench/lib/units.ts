/**
 * Byte sizes for flags and labels: `1KiB`, `64 KiB`, `256MiB`, `1GiB`, or a plain number of bytes.
 */

const UNITS: Readonly<Record<string, number>> = {
  '': 1,
  b: 1,
  kib: 1024,
  k: 1024,
  kb: 1000,
  mib: 1024 ** 2,
  m: 1024 ** 2,
  mb: 1000 ** 2,
  gib: 1024 ** 3,
  g: 1024 ** 3,
  gb: 1000 ** 3,
};

/**
 * Parses a size such as `64KiB` or `1048576`.
 * @throws Error for anything that is not a positive whole number of bytes
 */
export function parseSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const unit = m === null ? undefined : UNITS[(m[2] ?? '').toLowerCase()];
  if (m === null || unit === undefined) throw new Error(`not a size: ${JSON.stringify(text)} (examples: 1KiB, 64KiB, 256MiB)`);
  const bytes = Number(m[1]) * unit;
  if (!Number.isSafeInteger(bytes) || bytes <= 0) throw new Error(`not a positive whole number of bytes: ${JSON.stringify(text)}`);
  return bytes;
}

/** `65536` → `64 KiB`; exact binary units when they fit, else one decimal. */
export function formatSize(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let i = 0;
  while (value >= 1024 && i < units.length - 1) {
    value /= 1024;
    i++;
  }
  return `${Number.isInteger(value) ? value : value.toFixed(1)} ${units[i] ?? 'B'}`;
}

/** A rate for a table cell: bytes/s as MB/s (10^6, as `openssl speed` and the peer notes use), ops/s as ops/s. */
export function formatRate(perSecond: number, unit: 'B' | 'op'): string {
  if (unit === 'B') return `${(perSecond / 1e6).toFixed(perSecond >= 1e9 ? 0 : 1)} MB/s`;
  return `${perSecond >= 100 ? perSecond.toFixed(0) : perSecond.toFixed(1)} op/s`;
}
