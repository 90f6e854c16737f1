/**
 * Options and results of the bulk migration (issue #18): `migrateObject` brings one object to the target state,
 * `migratePrefix` every object under a prefix. Public API: the result of one object is also the line the CLI writes
 * to a `--report` file.
 *
 * @packageDocumentation
 */

import type { CseError } from '../errors.js';
import type { MatDesc } from '../format/types.js';
import type { MasterKey } from '../keys/master-key.js';
import type { CallOptions } from '../transfer/store.js';
import type { Shard } from './shard.js';

/** What an object is found to be by its HEAD. */
export type MigrationFrom =
  /** No client-side-encryption headers. */
  | 'plaintext'
  /** The legacy envelope of oss2 ≤ 2.10. */
  | 'v1'
  /** The legacy hand-rolled "guide" envelope. */
  | 'guide'
  /** The current envelope. */
  | 'v2'
  /** Not known: the HEAD failed, or the object is not one the migration handles (a symlink). */
  | 'unknown';

/**
 * What the migration does (or would do) with an object:
 * `plaintext` and `v1` re-encrypt the content (`v1` also covers the legacy guide form), `rewrap` re-wraps the data
 * key by a metadata-only copy, `target` means it is already under the target key (nothing to do), `none` that it is
 * not migrated at all (a folder marker, a symlink, or a HEAD that failed).
 */
export type MigrationKind = 'plaintext' | 'v1' | 'rewrap' | 'target' | 'none';

/** The kinds the `only` option selects among. */
export type MigrationOnly = 'plaintext' | 'v1' | 'rewrap';

/** Every value of {@link MigrationOnly}. */
export const MIGRATION_ONLY_VALUES: readonly MigrationOnly[] = ['plaintext', 'v1', 'rewrap'];

/** Why an object was skipped. */
export type MigrationSkipReason =
  /** Already a V2 object under the target key (same key, same material description). */
  | 'already-migrated'
  /** A 0-byte object whose key ends in '/' (a console "folder"). */
  | 'folder-marker'
  /** Not a Normal, Multipart or Appendable object (e.g. a Symlink). */
  | 'unsupported-type'
  /** Its kind is not among `only`. */
  | 'excluded'
  /**
   * The object no longer exists (deleted after the listing or the inventory named it): nothing to migrate. Only in
   * `migratePrefix` results; `migrateObject` of a missing object throws OSS's NoSuchKey error.
   */
  | 'not-found';

/** The outcome of one object. */
export type MigrationResultKind = 'migrated' | 'skipped' | 'failed';

/** A master key's public facts (never key material). */
export interface MigrationKeyInfo {
  /** The key's display name. */
  readonly key: string;
  /** Its material description. */
  readonly matdesc: MatDesc;
}

/** How an object's new content was written. */
export type MigrationMethod =
  /** One PutObject to the staging object, then CopyObject onto the original. */
  | 'put'
  /** An encrypted multipart upload to the staging object, then CopyObject onto the original. */
  | 'multipart'
  /** The data key re-wrapped by a same-key metadata copy (`rewrap`). */
  | 'rewrap';

/** The outcome of migrating one object. */
export interface MigrateObjectResult {
  /** Object key. */
  readonly key: string;
  /** What the object was. */
  readonly from: MigrationFrom;
  /** What the migration does with it (see {@link MigrationKind}). */
  readonly kind: MigrationKind;
  /** The target key, for migrated objects (in a dry run: would be migrated). */
  readonly to?: MigrationKeyInfo;
  /** `migrated` (in a dry run: would be), `skipped` or `failed`. */
  readonly result: MigrationResultKind;
  /** True when nothing was written (dry run). */
  readonly dryRun: boolean;
  /** The object's size in bytes, when known. */
  readonly size: number | undefined;
  /** Plaintext bytes re-encrypted and uploaded (0 for rewrap, skipped and dry-run objects). */
  readonly bytes: number;
  /** How the new content was written (migrated objects, not in a dry run). */
  readonly method?: MigrationMethod;
  /** The object's ETag after the migration (migrated objects) or as found (skipped ones). */
  readonly etag?: string;
  /** Why it was skipped. */
  readonly skipped?: MigrationSkipReason;
  /** A one-line reason for skipped and failed objects. */
  readonly reason?: string;
  /** The error (failed objects). */
  readonly error?: CseError;
}

/** Options of {@link EncryptionClient.migrateObject}. */
export interface MigrateOptions extends CallOptions {
  /** The target master key (default: the client's encrypting master key). */
  readonly to?: MasterKey;
  /** Migrate legacy V1 / guide objects (else they fail with ERR_CSE_LEGACY_NOT_ALLOWED). */
  readonly allowLegacy?: boolean;
  /** Only these kinds are migrated; the others are skipped as `excluded` (default: all). */
  readonly only?: readonly MigrationOnly[];
  /** Classify and report, but write nothing. */
  readonly dryRun?: boolean;
  /**
   * Key prefix of the staging objects (default {@link DEFAULT_STAGING_PREFIX}): an object's new content is written
   * to `<stagingPrefix><sha256hex(key)>` first. Never listed or migrated itself.
   */
  readonly stagingPrefix?: string;
  /** Objects at least this large are uploaded in parts (default 1 GiB, as `oss-cse put`). */
  readonly multipartThreshold?: number;
  /** Part size for those (default: chosen from the size, 10 MiB or more). */
  readonly partSize?: number;
  /** The bucket (default: the client's). */
  readonly bucket?: string;
}

/** Options of {@link EncryptionClient.migratePrefix}. */
export interface MigratePrefixOptions extends MigrateOptions {
  /** Objects migrated at once, 1–64 (default 4). */
  readonly parallel?: number;
  /** At most this many objects started per second (default: unlimited). */
  readonly rate?: number;
  /** Only the keys of this shard (see `shardOfKey`): N cooperating workers each take one. */
  readonly shard?: Shard;
  /**
   * Take the keys from an OSS inventory instead of listing: `oss://BUCKET/…/manifest.json` (the inventory's source
   * bucket must be the bucket migrated; its entries are filtered by the prefix).
   */
  readonly inventory?: string;
  /**
   * A journal file: keys it records as finished are not looked at again, and every outcome is recorded, so a
   * killed run restarted with the same journal continues where it stopped.
   */
  readonly journal?: string;
  /** Called once per object looked at, in completion order (not for keys the journal skips). */
  readonly onObject?: (result: MigrateObjectResult) => void;
}

/** The summary of {@link EncryptionClient.migratePrefix}. */
export interface MigratePrefixResult {
  /** Objects looked at in this run (migrated + skipped + failed). */
  readonly total: number;
  /** Objects migrated (in a dry run: that would be). */
  readonly migrated: number;
  /** Objects skipped. */
  readonly skipped: number;
  /** Objects that failed; `failures` says why. */
  readonly failed: number;
  /** Keys not looked at because the journal records them as finished by an earlier run. */
  readonly resumed: number;
  /** Plaintext bytes re-encrypted and uploaded. */
  readonly bytes: number;
  /** Objects looked at, by what they were. */
  readonly byFrom: Readonly<Record<MigrationFrom, number>>;
  /** Objects looked at, by what the migration did with them. */
  readonly byKind: Readonly<Record<MigrationKind, number>>;
  /** Every failed object. */
  readonly failures: readonly MigrateObjectResult[];
  /** Staging objects left by an earlier, killed run that this run removed. */
  readonly stagingRemoved: number;
  /** True for a dry run. */
  readonly dryRun: boolean;
}

/** The staging prefix unless `stagingPrefix` says otherwise. */
export const DEFAULT_STAGING_PREFIX = '.oss-cse-migrate/';

/**
 * Objects at least this large are re-encrypted by a multipart upload: the same 1 GiB as `oss-cse put`
 * (`cli/transfer-options.ts` MULTIPART_UPLOAD_THRESHOLD, measured there), repeated here because the library does
 * not depend on the CLI.
 */
export const DEFAULT_MIGRATE_MULTIPART_THRESHOLD = 1024 ** 3;

/** Objects in flight at once in {@link EncryptionClient.migratePrefix} unless `parallel` says otherwise. */
export const DEFAULT_MIGRATE_PARALLEL = 4;
