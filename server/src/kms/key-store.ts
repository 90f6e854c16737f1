/**
 * The emulator's keys: their secrets and metadata, in memory or persisted under `<dataDir>/kms/keys.json`.
 *
 * The file is small (one entry per key) and rewritten whole on every change: temp file (mode 0600) + fsync + rename +
 * fsync of the directory, so a crash leaves either the old or the new state, never a mix, and a key is durable before
 * CreateKey answers (issue 4 §3). One emulator process per data directory; concurrent processes are not coordinated.
 *
 * @packageDocumentation
 */
import { randomBytes, randomInt, randomUUID } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { assertRealDirSync, readNoFollowSync } from '../nofollow.js';
import { join } from 'node:path';
import { isUuid } from './ciphertext-blob.js';

/** Key specs of keys the emulator can create (symmetric only). */
export type KeySpec = 'Aliyun_AES_256' | 'Aliyun_AES_128';
/** Protection levels KMS knows; the emulator records the value and keeps every key in software. */
export type ProtectionLevel = 'SOFTWARE' | 'HSM';

/** One key: its identity, secret and metadata. */
export interface KeyRecord {
  readonly keyId: string;
  readonly keyVersionId: string;
  /** 32 bytes (Aliyun_AES_256) or 16 bytes (Aliyun_AES_128). Never leaves the emulator. */
  readonly secret: Buffer;
  readonly keySpec: KeySpec;
  readonly description: string;
  readonly protectionLevel: ProtectionLevel;
  /** `YYYY-MM-DDThh:mm:ssZ`. */
  readonly creationDate: string;
}

/** What {@link KeyStore.create} takes. */
export interface NewKey {
  readonly keySpec: KeySpec;
  readonly description: string;
  readonly protectionLevel: ProtectionLevel;
  readonly alias?: string | undefined;
}

const FILE_FORMAT = 'oss-cse-kms-emulator';
const FILE_VERSION = 1;
const KEY_SPECS: readonly string[] = ['Aliyun_AES_256', 'Aliyun_AES_128'];
const PROTECTION_LEVELS: readonly string[] = ['SOFTWARE', 'HSM'];
/** Alias names as KMS allows them after `alias/`: letters, digits, `_`, `-`, `/`, 1–255 characters. */
const ALIAS_NAME = /^[A-Za-z0-9_\-/]{1,255}$/;

/**
 * Tells whether `name` is a valid alias name (without the `alias/` prefix).
 *
 * @param name - the candidate
 */
export function isAliasName(name: string): boolean {
  return ALIAS_NAME.test(name) && !name.startsWith('/') && !name.endsWith('/') && !name.includes('//');
}

/** Formats a time as KMS dates are written (`2024-01-02T03:04:05Z`). */
export function kmsDate(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

interface StoredKey {
  keyId: string;
  keyVersionId: string;
  secret: string;
  keySpec: string;
  description: string;
  protectionLevel: string;
  creationDate: string;
}

interface StoredState {
  format: string;
  version: number;
  accountId: string;
  keys: StoredKey[];
  aliases: Record<string, string>;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

interface LoadedState {
  accountId: string;
  keys: KeyRecord[];
  aliases: Map<string, string>;
}

function parseState(text: string, file: string): LoadedState {
  const fail = (why: string): never => {
    throw new Error(`KMS emulator state ${file} is invalid: ${why}`);
  };
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return fail('not JSON');
  }
  if (!isRecord(data) || data.format !== FILE_FORMAT) return fail(`not an ${FILE_FORMAT} file`);
  if (data.version !== FILE_VERSION) return fail(`unsupported version ${String(data.version)}`);
  if (typeof data.accountId !== 'string' || !/^\d{16}$/.test(data.accountId)) return fail('bad accountId');
  if (!Array.isArray(data.keys) || !isRecord(data.aliases)) return fail('keys or aliases missing');
  const keys: KeyRecord[] = [];
  const ids = new Set<string>();
  for (const entry of data.keys as unknown[]) {
    if (!isRecord(entry)) return fail('a key entry is not an object');
    const { keyId, keyVersionId, secret, keySpec, description, protectionLevel, creationDate } = entry;
    if (typeof keyId !== 'string' || !isUuid(keyId) || ids.has(keyId)) return fail('bad or duplicate keyId');
    if (typeof keyVersionId !== 'string' || !isUuid(keyVersionId)) return fail(`bad keyVersionId of ${keyId}`);
    if (typeof keySpec !== 'string' || !KEY_SPECS.includes(keySpec)) return fail(`bad keySpec of ${keyId}`);
    if (typeof secret !== 'string') return fail(`bad secret of ${keyId}`);
    const bytes = Buffer.from(secret, 'base64');
    if (bytes.toString('base64') !== secret || bytes.length !== (keySpec === 'Aliyun_AES_128' ? 16 : 32)) {
      return fail(`bad secret of ${keyId}`);
    }
    if (typeof description !== 'string') return fail(`bad description of ${keyId}`);
    if (typeof protectionLevel !== 'string' || !PROTECTION_LEVELS.includes(protectionLevel)) {
      return fail(`bad protectionLevel of ${keyId}`);
    }
    if (typeof creationDate !== 'string') return fail(`bad creationDate of ${keyId}`);
    ids.add(keyId);
    keys.push({
      keyId,
      keyVersionId,
      secret: bytes,
      keySpec: keySpec as KeySpec,
      description,
      protectionLevel: protectionLevel as ProtectionLevel,
      creationDate,
    });
  }
  const aliases = new Map<string, string>();
  for (const [name, keyId] of Object.entries(data.aliases)) {
    if (!isAliasName(name) || typeof keyId !== 'string' || !ids.has(keyId)) return fail(`bad alias ${name}`);
    aliases.set(name, keyId);
  }
  return { accountId: data.accountId, keys, aliases };
}

/**
 * The set of keys, with optional persistence.
 */
export class KeyStore {
  /** A 16-digit account id used in ARNs and as `Creator`; stable across restarts once a key exists. */
  readonly accountId: string;
  readonly #keys = new Map<string, KeyRecord>();
  readonly #aliases = new Map<string, string>();
  readonly #dir: string | null;
  readonly #now: () => number;
  #writes: Promise<void> = Promise.resolve();

  private constructor(dir: string | null, now: () => number, accountId: string) {
    this.#dir = dir;
    this.#now = now;
    this.accountId = accountId;
  }

  /**
   * Opens a store.
   *
   * @param dataDir - the data directory (keys live in `<dataDir>/kms/`), or null for memory only
   * @param now - the clock (ms since the epoch)
   * @throws Error when the state file exists but cannot be read or is invalid (never silently discarded);
   *   SymlinkError when `kms/` or `kms/keys.json` is a symbolic link
   */
  static open(dataDir: string | null, now: () => number): KeyStore {
    if (dataDir === null) return new KeyStore(null, now, randomAccountId());
    const dir = join(dataDir, 'kms');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    // Never through a link planted in the data directory (nofollow.ts): keys would be read from, or written to, a
    // place the user did not choose.
    assertRealDirSync(dir);
    const file = join(dir, 'keys.json');
    let text: string | null = null;
    try {
      text = readNoFollowSync(file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    if (text === null) return new KeyStore(dir, now, randomAccountId());
    const state = parseState(text, file);
    const store = new KeyStore(dir, now, state.accountId);
    for (const key of state.keys) store.#keys.set(key.keyId, key);
    for (const [name, keyId] of state.aliases) store.#aliases.set(name, keyId);
    return store;
  }

  /** The number of keys. */
  get size(): number {
    return this.#keys.size;
  }

  /** Every key, in creation order. */
  list(): KeyRecord[] {
    return [...this.#keys.values()];
  }

  /** The key with this id, if any. */
  get(keyId: string): KeyRecord | undefined {
    return this.#keys.get(keyId);
  }

  /** The key id an alias name (without `alias/`) points to, if any. */
  aliasTarget(name: string): string | undefined {
    return this.#aliases.get(name);
  }

  /** The alias names (without `alias/`) of a key. */
  aliasesOf(keyId: string): string[] {
    return [...this.#aliases].filter(([, id]) => id === keyId).map(([name]) => name);
  }

  /**
   * Creates a key (and optionally an alias for it) and persists it before resolving.
   *
   * @throws Error when the alias is invalid or taken, or when persisting fails (the key is then not created)
   */
  async create(spec: NewKey): Promise<KeyRecord> {
    if (spec.alias !== undefined) {
      if (!isAliasName(spec.alias)) throw new Error(`invalid alias name: ${spec.alias}`);
      if (this.#aliases.has(spec.alias)) throw new Error(`alias already exists: alias/${spec.alias}`);
    }
    const key: KeyRecord = {
      keyId: randomUUID(),
      keyVersionId: randomUUID(),
      secret: randomBytes(spec.keySpec === 'Aliyun_AES_128' ? 16 : 32),
      keySpec: spec.keySpec,
      description: spec.description,
      protectionLevel: spec.protectionLevel,
      creationDate: kmsDate(this.#now()),
    };
    this.#keys.set(key.keyId, key);
    if (spec.alias !== undefined) this.#aliases.set(spec.alias, key.keyId);
    try {
      await this.#persist();
    } catch (error) {
      this.#keys.delete(key.keyId);
      if (spec.alias !== undefined) this.#aliases.delete(spec.alias);
      throw error;
    }
    return key;
  }

  /** Resolves when every pending write has finished (successfully or not). */
  async flush(): Promise<void> {
    await this.#writes.catch(() => undefined);
  }

  async #persist(): Promise<void> {
    const dir = this.#dir;
    if (dir === null) return;
    // Writes are chained so two CreateKey calls never race on the rename, and each write snapshots the state when it
    // runs: the last write always holds every key created so far.
    const write = this.#writes
      .catch(() => undefined)
      .then(async () => {
        await writeFileAtomic(dir, 'keys.json', this.#serialize());
      });
    this.#writes = write;
    await write;
  }

  #serialize(): string {
    const state: StoredState = {
      format: FILE_FORMAT,
      version: FILE_VERSION,
      accountId: this.accountId,
      keys: this.list().map((k) => ({
        keyId: k.keyId,
        keyVersionId: k.keyVersionId,
        secret: k.secret.toString('base64'),
        keySpec: k.keySpec,
        description: k.description,
        protectionLevel: k.protectionLevel,
        creationDate: k.creationDate,
      })),
      aliases: Object.fromEntries(this.#aliases),
    };
    return `${JSON.stringify(state, null, 2)}\n`;
  }
}

function randomAccountId(): string {
  // 16 digits, not starting with 0, like Alibaba Cloud account ids.
  let id = String(randomInt(1, 10));
  for (let i = 0; i < 15; i++) id += String(randomInt(0, 10));
  return id;
}

async function writeFileAtomic(dir: string, name: string, text: string): Promise<void> {
  const temp = join(dir, `.${name}.${randomUUID()}.tmp`);
  const handle = await open(temp, 'wx', 0o600);
  try {
    await handle.writeFile(text, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(temp, join(dir, name));
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
  // fsync the directory so the rename itself survives a crash (not supported on every platform: best effort).
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // Windows cannot open a directory for fsync; the rename is still atomic there.
  }
}
