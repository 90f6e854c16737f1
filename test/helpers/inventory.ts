// Writes an OSS bucket inventory exactly as OSS lays it out, so bulk tests can feed `--inventory` / readInventory
// without a real OSS: manifest.json, manifest.checksum and gzip-compressed CSV data files under
// <prefix>/<sourceBucket>/<inventoryId>/<YYYY-MM-DDTHH-MMZ>/.
import { createHash, randomUUID } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import type OSS from 'ali-oss';
import type { InventorySource } from '../../src/bulk/inventory.js';

/** The columns OSS writes when every optional field is selected. */
export const INVENTORY_COLUMNS = ['Bucket', 'Key', 'Size', 'StorageClass', 'LastModifiedDate', 'ETag', 'IsMultipartUploaded', 'EncryptionStatus'];

/** One object the inventory lists. */
export interface InventoryObject {
  readonly key: string;
  readonly size: number;
  /** Written as given (e.g. `"5EB6…"` with quotes, as HEAD returns it, or bare hex). */
  readonly etag: string;
  readonly storageClass?: string;
}

/** What {@link writeInventory} writes. */
export interface WriteInventoryOptions {
  /** The bucket the inventory describes. */
  readonly sourceBucket: string;
  /** The inventory's destination prefix (no trailing slash needed). */
  readonly prefix: string;
  readonly inventoryId: string;
  readonly entries: readonly InventoryObject[];
  /** Split into this many data files (default 1); later files may be empty. */
  readonly files?: number;
  /** gzip the data files (default true, like OSS); false writes `.csv` files. */
  readonly gzip?: boolean;
}

function quote(value: string): string {
  return `"${value.replace(/"/g, '""')}"`;
}

function folderTime(d: Date): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())}T${p(d.getUTCHours())}-${p(d.getUTCMinutes())}Z`;
}

/** The CSV text of some entries (every value double-quoted, key URL-encoded, CRLF-free lines). */
export function inventoryCsv(sourceBucket: string, entries: readonly InventoryObject[]): string {
  return entries
    .map((e) =>
      [sourceBucket, encodeURIComponent(e.key), String(e.size), e.storageClass ?? 'Standard', '2024-01-02T03-04-05Z', e.etag, 'false', 'false']
        .map(quote)
        .join(','),
    )
    .map((line) => `${line}\n`)
    .join('');
}

/**
 * Writes an inventory of `entries` with `oss` (an ali-oss client on the destination bucket).
 * @returns the key of manifest.json
 */
export async function writeInventory(oss: OSS, options: WriteInventoryOptions): Promise<string> {
  const prefix = options.prefix.replace(/\/+$/, '');
  const folder = `${prefix === '' ? '' : `${prefix}/`}${options.sourceBucket}/${options.inventoryId}/${folderTime(new Date())}`;
  const count = Math.max(1, options.files ?? 1);
  const gzip = options.gzip ?? true;
  const per = Math.ceil(options.entries.length / count);
  const files: { key: string; size: number; MD5checksum: string }[] = [];
  for (let i = 0; i < count; i++) {
    const text = inventoryCsv(options.sourceBucket, options.entries.slice(i * per, (i + 1) * per));
    const body = gzip ? gzipSync(Buffer.from(text, 'utf8')) : Buffer.from(text, 'utf8');
    const key = `${folder}/data/${randomUUID()}.csv${gzip ? '.gz' : ''}`;
    await oss.put(key, body);
    files.push({ key, size: body.length, MD5checksum: createHash('md5').update(body).digest('hex').toUpperCase() });
  }
  const manifest = Buffer.from(
    JSON.stringify({
      creationTimestamp: String(Math.floor(Date.now() / 1000)),
      destinationBucket: (oss as unknown as { options: { bucket: string } }).options.bucket,
      fileFormat: 'CSV',
      fileSchema: INVENTORY_COLUMNS.join(', '),
      files,
      sourceBucket: options.sourceBucket,
      version: '2019-09-01',
    }),
    'utf8',
  );
  const manifestKey = `${folder}/manifest.json`;
  await oss.put(manifestKey, manifest);
  await oss.put(`${folder}/manifest.checksum`, Buffer.from(createHash('md5').update(manifest).digest('hex').toUpperCase()));
  return manifestKey;
}

/** An {@link InventorySource} over an ali-oss client: `getStream`, 404 → null. */
export function ossInventorySource(oss: OSS): InventorySource {
  return {
    async open(key) {
      try {
        const { stream } = await oss.getStream(key);
        return stream as AsyncIterable<Uint8Array>;
      } catch (e) {
        if ((e as { status?: unknown }).status === 404) return null;
        throw e;
      }
    },
  };
}
