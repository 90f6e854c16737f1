/**
 * Migrating every object under a prefix (issue #18): the keys come from a listing (ListObjectsV2 pages) or from an
 * OSS inventory, are filtered by shard, by the staging prefix (never migrated) and by the journal (keys an earlier
 * run finished), and flow through a bounded queue to `parallel` workers: the key set is never collected, so memory
 * does not grow with the bucket. Every outcome goes to the journal and to `onObject`; failures are collected, not
 * thrown.
 *
 * @packageDocumentation
 */

import { CseError, ErrorCode, TransferError } from '../errors.js';
import { detectEnvelopeVersion } from '../format/envelope.js';
import { encodeMatDesc } from '../format/matdesc.js';
import { abortedError, throwIfAborted } from '../transfer/abort.js';
import { checkParallel, DEFAULT_RETRY_POLICY, withRetries } from '../transfer/retry.js';
import type { MultipartStore } from '../transfer/multipart-store.js';
import type { CallOptions, ObjectStore } from '../transfer/store.js';
import { readInventory, type InventorySource } from './inventory.js';
import { MigrationJournal } from './journal.js';
import { asCseError, checkStagingPrefix, failureContextOf, migrateObject, shardOfStagingKey, type MigrateObjectOptions } from './migrate-object.js';
import {
  DEFAULT_MIGRATE_PARALLEL,
  type MigratePrefixOptions,
  type MigratePrefixResult,
  type MigrateObjectResult,
  type MigrationFrom,
  type MigrationKind,
} from './migrate-types.js';
import { RateLimiter } from './rate.js';
import { inShard, type Shard } from './shard.js';

/** {@link MigratePrefixOptions} with the target and keys filled in by the client. */
export type MigratePrefixRunOptions = Omit<MigratePrefixOptions, 'to' | 'bucket'> & MigrateObjectOptions;

/** Where the keys come from. */
interface KeySource {
  readonly keys: AsyncIterable<string>;
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * Splits `oss://BUCKET/KEY`.
 * @throws CseError ERR_CSE_INVALID_ARGUMENT
 */
export function parseInventoryUrl(url: string): { readonly bucket: string; readonly key: string } {
  const m = /^oss:\/\/([^/]+)\/(.+)$/.exec(url);
  if (m === null || m[1] === undefined || m[2] === undefined) {
    throw new CseError(ErrorCode.INVALID_ARGUMENT, `inventory: expected oss://BUCKET/…/manifest.json, got ${JSON.stringify(url)}`);
  }
  return { bucket: m[1], key: m[2] };
}

async function* listKeys(store: ObjectStore, bucket: string, prefix: string, call: CallOptions): AsyncGenerator<string> {
  const what = `listing of oss://${bucket}/${prefix}`;
  let token: string | undefined;
  do {
    const page = await withRetries(
      async () => store.listV2(bucket, { prefix, maxKeys: 1000, continuationToken: token }, call),
      DEFAULT_RETRY_POLICY,
      call.signal,
      what,
    );
    for (const o of page.objects) yield o.name;
    token = page.isTruncated && page.nextContinuationToken !== null ? page.nextContinuationToken : undefined;
  } while (token !== undefined);
}

/** An {@link InventorySource} over the store's GetObject: the inventory's objects, streamed. */
export function storeInventorySource(store: ObjectStore, bucket: string, call: CallOptions): InventorySource {
  return {
    async open(key, signal) {
      try {
        const r = await store.get({ bucket, key }, { headers: {} }, { ...call, signal: signal ?? call.signal });
        return r.body as AsyncIterable<Uint8Array>;
      } catch (e) {
        if (e instanceof TransferError && e.status === 404) return null;
        throw e;
      }
    },
  };
}

async function inventoryKeys(store: ObjectStore, bucket: string, prefix: string, url: string, call: CallOptions): Promise<KeySource> {
  const where = parseInventoryUrl(url);
  const { manifest, entries } = await readInventory(storeInventorySource(store, where.bucket, call), where.key, call.signal === undefined ? {} : { signal: call.signal });
  if (manifest.sourceBucket !== bucket) {
    throw new CseError(
      ErrorCode.INVENTORY,
      `the inventory ${url} lists the bucket ${manifest.sourceBucket}, not ${bucket}: give an inventory of the bucket being migrated`,
    );
  }
  return {
    keys: (async function* (): AsyncGenerator<string> {
      for await (const entry of entries) if (entry.key.startsWith(prefix)) yield entry.key;
    })(),
  };
}

/** The journal's identity: a journal is only ever continued by the same migration. */
export function journalIdentity(
  bucket: string,
  prefix: string,
  options: Pick<MigratePrefixRunOptions, 'shard' | 'to' | 'only' | 'inventory' | 'allowLegacy'>,
): Record<string, string> {
  const shard: Shard | undefined = options.shard;
  return {
    kind: 'oss-cse-migrate',
    bucket,
    prefix,
    shard: shard === undefined ? 'all' : `${shard.index}/${shard.count}`,
    target: `${options.to.name} ${encodeMatDesc(options.to.description)}`,
    only: options.only === undefined ? 'all' : [...options.only].sort().join(','),
    source: options.inventory ?? 'listing',
  };
}

/**
 * Removes the staging objects (and aborts the multipart uploads to them) that an earlier, killed run of this shard
 * left behind (written before this run started, V2-encrypted; a staging object's name says which shard its key
 * belongs to). An object still in flight in a concurrent run over
 * another prefix with the same staging prefix would lose its staged content and be reported failed there, never
 * damaged: its copy is conditional on the staging object.
 */
async function removeLeftovers(store: ObjectStore, bucket: string, stagingPrefix: string, shard: Shard | undefined, started: number, call: CallOptions): Promise<number> {
  await abortLeftoverUploads(store, bucket, stagingPrefix, shard, started, call);
  let removed = 0;
  for await (const name of leftoverNames(store, bucket, stagingPrefix, shard, started, call)) {
    // Only what the migration writes is removed: a staging object always carries a V2 envelope. A user's object that
    // happens to be named like one (a content-addressed blob under a custom staging prefix) is left alone.
    const head = await store.head({ bucket, key: name }, { headers: {} }, call).catch((e: unknown) => {
      if (e instanceof TransferError && e.status === 404) return undefined;
      throw e;
    });
    if (head === undefined || detectEnvelopeVersion(head.headers, { object: name }) !== 'v2') continue;
    await store.delete({ bucket, key: name }, call);
    removed++;
  }
  return removed;
}

/** Whether a staging name belongs to this run's shard (every staging name when the run is not sharded). */
function ownStaging(name: string, stagingPrefix: string, shard: Shard | undefined): boolean {
  return shard === undefined ? shardOfStagingKey(name, stagingPrefix, 1) !== undefined : shardOfStagingKey(name, stagingPrefix, shard.count) === shard.index;
}

/**
 * Aborts the multipart uploads to staging objects of this shard that a killed run left (initiated before this run
 * started): they are invisible in listings but cost storage until aborted. Stores without multipart: nothing to do.
 */
async function abortLeftoverUploads(store: ObjectStore, bucket: string, stagingPrefix: string, shard: Shard | undefined, started: number, call: CallOptions): Promise<void> {
  const m = store as ObjectStore & Partial<MultipartStore>;
  if (typeof m.listMultipartUploads !== 'function' || typeof m.abortMultipartUpload !== 'function') return;
  let keyMarker: string | undefined;
  let uploadIdMarker: string | undefined;
  for (;;) {
    const page = await m.listMultipartUploads(bucket, { prefix: stagingPrefix, maxUploads: 1000, keyMarker, uploadIdMarker }, call);
    for (const u of page.uploads) {
      if (ownStaging(u.key, stagingPrefix, shard) && Date.parse(u.initiated) < started) {
        await m.abortMultipartUpload({ bucket, key: u.key }, u.uploadId, call).catch(() => undefined);
      }
    }
    if (!page.isTruncated || page.nextKeyMarker === undefined) return;
    keyMarker = page.nextKeyMarker;
    uploadIdMarker = page.nextUploadIdMarker;
  }
}

async function* leftoverNames(store: ObjectStore, bucket: string, stagingPrefix: string, shard: Shard | undefined, started: number, call: CallOptions): AsyncGenerator<string> {
  let token: string | undefined;
  do {
    const page = await store.listV2(bucket, { prefix: stagingPrefix, maxKeys: 1000, continuationToken: token }, call);
    for (const o of page.objects) {
      if (ownStaging(o.name, stagingPrefix, shard) && Date.parse(o.lastModified) < started) yield o.name;
    }
    token = page.isTruncated && page.nextContinuationToken !== null ? page.nextContinuationToken : undefined;
  } while (token !== undefined);
}

function counters<K extends string>(names: readonly K[]): Record<K, number> {
  return Object.fromEntries(names.map((n) => [n, 0])) as Record<K, number>;
}

/**
 * Migrates every object under `prefix` of `bucket`, `parallel` at a time (see the module documentation).
 *
 * @param store - the object store
 * @param bucket - the bucket
 * @param prefix - the key prefix ('' for the whole bucket)
 * @param options - target and old keys, legacy policy, only, dry run, shard, inventory, journal, parallel, rate,
 *   onObject, signal
 * @returns the counts and the failures
 * @throws CseError ERR_CSE_INVALID_ARGUMENT (parallel, rate, staging prefix, a journal with a dry run),
 *   ERR_CSE_INVENTORY (the inventory cannot be read or is of another bucket), ERR_CSE_JOURNAL (a journal of another
 *   migration), ERR_CSE_IO (the journal cannot be written), ERR_CSE_ABORTED (after the objects in flight settle);
 *   TransferError when a listing page fails; what `onObject` throws (after the objects in flight settle)
 */
export async function migratePrefix(store: ObjectStore, bucket: string, prefix: string, options: MigratePrefixRunOptions): Promise<MigratePrefixResult> {
  const started = Date.now();
  const parallel = checkParallel(options.parallel, DEFAULT_MIGRATE_PARALLEL);
  const stagingPrefix = checkStagingPrefix(options.stagingPrefix);
  const limiter = options.rate === undefined ? undefined : new RateLimiter(options.rate);
  const dryRun = options.dryRun === true;
  const what = `migration of oss://${bucket}/${prefix}`;
  const signal = options.signal;
  throwIfAborted(signal, what);
  if (dryRun && options.journal !== undefined) {
    throw new CseError(ErrorCode.INVALID_ARGUMENT, 'a dry run writes nothing, a journal included: run it without a journal');
  }
  const call: CallOptions = { signal, timeout: options.timeout };
  const source: KeySource =
    options.inventory === undefined ? { keys: listKeys(store, bucket, prefix, call) } : await inventoryKeys(store, bucket, prefix, options.inventory, call);
  const journal = options.journal === undefined ? undefined : await MigrationJournal.open(options.journal, journalIdentity(bucket, prefix, options));
  try {
    const stagingRemoved = dryRun ? 0 : await removeLeftovers(store, bucket, stagingPrefix, options.shard, started, call);
    // A HEAD cannot tell a missing object from a missing bucket (no body: both are NoSuchKey), and a 404 below counts
    // as "deleted since it was listed". A listing source or the clean-up above has already listed the bucket; a dry
    // run from an inventory lists it once here, so that a wrong bucket fails instead of every key being "not found".
    if (dryRun && options.inventory !== undefined) await store.listV2(bucket, { prefix: stagingPrefix, maxKeys: 1 }, call);
    const keys = (async function* (): AsyncGenerator<string> {
      for await (const key of source.keys) {
        // Staging objects are never migrated. Other objects under a custom staging prefix go on to migrateObject,
        // which refuses them: reported failed, not silently left out of a run that would then look complete.
        if (shardOfStagingKey(key, stagingPrefix, 1) !== undefined || !inShard(key, options.shard)) continue;
        yield key;
      }
    })();

    let migrated = 0;
    let skipped = 0;
    let resumed = 0;
    let bytes = 0;
    const failures: MigrateObjectResult[] = [];
    const byFrom = counters<MigrationFrom>(['plaintext', 'v1', 'guide', 'v2', 'unknown']);
    const byKind = counters<MigrationKind>(['plaintext', 'v1', 'rewrap', 'target', 'none']);
    let sourceError: unknown;
    let journalError: unknown;
    let callbackError: unknown;
    const aborted = (): boolean => signal?.aborted === true;
    const stop = (): boolean => aborted() || sourceError !== undefined || journalError !== undefined || callbackError !== undefined;
    const worker = async (): Promise<void> => {
      for (;;) {
        if (stop()) return;
        let next: IteratorResult<string>;
        try {
          // Workers share one iterator: an async generator queues the calls, so each key goes to one worker and at
          // most `parallel` keys are out of the listing at a time.
          next = await keys.next();
        } catch (e) {
          sourceError ??= e;
          return;
        }
        if (next.done === true) return;
        const key = next.value;
        if (journal?.has(key) === true) {
          resumed++;
          continue;
        }
        let result: MigrateObjectResult;
        try {
          await limiter?.take(signal);
          result = await migrateObject(store, { bucket, key }, { ...options, missingIsSkipped: true });
        } catch (e) {
          // An object in flight when the signal fired is neither done nor failed: a re-run takes it up.
          if (aborted()) return;
          const error = asCseError(e, key);
          // What the object was, when its HEAD classified it before the failure (else unknown).
          const found = failureContextOf(e);
          result = {
            key,
            from: found?.from ?? 'unknown',
            kind: found?.kind ?? 'none',
            result: 'failed',
            dryRun,
            size: found?.size,
            ...(found?.etag === undefined ? {} : { etag: found.etag }),
            bytes: 0,
            error,
            reason: `[${error.cseCode}] ${error.message}`,
          };
        }
        if (result.result === 'migrated') migrated++;
        else if (result.result === 'skipped') skipped++;
        else failures.push(result);
        bytes += result.bytes;
        byFrom[result.from]++;
        byKind[result.kind]++;
        // The caller hears first, the journal records after: a run killed in between does the object again (it is
        // then skipped as already migrated), where the other order could lose the caller's record of it.
        try {
          options.onObject?.(result);
        } catch (e) {
          // Rethrown once every worker has stopped: a rejection now would leave the other objects in flight running
          // (and writing) after the run has returned.
          callbackError ??= { error: e };
        }
        try {
          await journal?.record({ key, result: result.result, ...(result.etag === undefined ? {} : { etag: result.etag }) });
        } catch (e) {
          journalError ??= e;
        }
      }
    };
    await Promise.all(Array.from({ length: parallel }, worker));
    if (callbackError !== undefined) throw (callbackError as { error: unknown }).error;
    if (journalError !== undefined) throw asCseError(journalError, '');
    if (aborted()) throw abortedError(what, signal);
    if (sourceError !== undefined) {
      throw sourceError instanceof Error ? sourceError : new CseError(ErrorCode.TRANSFER, `${what}: listing failed: ${messageOf(sourceError)}`);
    }
    return { total: migrated + skipped + failures.length, migrated, skipped, failed: failures.length, resumed, bytes, byFrom, byKind, failures, stagingRemoved, dryRun };
  } finally {
    await journal?.close();
  }
}
