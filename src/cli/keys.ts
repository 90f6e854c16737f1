/**
 * Loading master keys from the files and flags the CLI takes.
 *
 * @packageDocumentation
 */

import { mkdir, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { CseError, ErrorCode } from '../errors.js';
import { parseMatDesc } from '../format/matdesc.js';
import type { MatDesc } from '../format/types.js';
import { RsaMasterKey, generateRsaKeyPair } from '../keys/rsa.js';
import type { CliIo } from './command.js';
import { readSmallFile, writeFileAtomic, writeFileExclusive } from './files.js';

const PRIVATE_PEM = /-----BEGIN (?:RSA |ENCRYPTED )?PRIVATE KEY-----/;

/** Environment variable holding the passphrase of encrypted private-key PEM files. */
export const PASSPHRASE_ENV = 'OSS_CSE_KEY_PASSPHRASE';

/** Options for {@link loadRsaKeyFile}. */
export interface LoadKeyOptions {
  /** Material description to attach. */
  readonly description?: MatDesc;
  /** Wrap with OAEP instead of PKCS#1 v1.5 (encryption only). */
  readonly wrap?: 'pkcs1' | 'oaep';
  /** Passphrase for an encrypted PEM. */
  readonly passphrase?: string;
}

/**
 * Loads an RSA master key from a PEM file (any of the four forms; a private key also encrypts).
 * @throws CseError ERR_CSE_IO, ERR_CSE_INVALID_KEY
 */
export async function loadRsaKeyFile(path: string, options: LoadKeyOptions = {}): Promise<RsaMasterKey> {
  const pem = (await readSmallFile(path, 'key file')).toString('utf8');
  const isPrivate = PRIVATE_PEM.test(pem);
  try {
    return new RsaMasterKey({
      ...(isPrivate ? { privateKey: pem } : { publicKey: pem }),
      ...(options.passphrase === undefined ? {} : { passphrase: options.passphrase }),
      ...(options.description === undefined ? {} : { description: options.description }),
      ...(options.wrap === undefined ? {} : { wrap: options.wrap }),
    });
  } catch (e) {
    if (e instanceof CseError) {
      throw new CseError(e.code, `cannot load key file ${path}: ${e.message}`, { cause: e });
    }
    throw new CseError(ErrorCode.INVALID_KEY, `cannot load key file ${path}`, { cause: e });
  }
}

/**
 * Parses a `--matdesc` value (a JSON object of strings).
 * @throws CseError ERR_CSE_ENVELOPE_BAD_MATDESC
 */
export function parseMatDescFlag(value: string | undefined): MatDesc | undefined {
  return value === undefined ? undefined : parseMatDesc(value, '--matdesc');
}

/** Environment variable of oss-cse's home directory (default keys, embedded server data). */
export const HOME_ENV = 'OSS_CSE_HOME';

/** `$OSS_CSE_HOME`, default `~/.oss-cse`. */
export function cseHome(env: NodeJS.ProcessEnv): string {
  const home = env[HOME_ENV];
  return home !== undefined && home !== '' ? resolve(home) : join(homedir(), '.oss-cse');
}

/** Environment variables naming key files for the online commands. */
export const KeyEnv = {
  PUBLIC_KEY: 'OSS_CSE_PUBLIC_KEY',
  /** One path, or several separated by the platform's path delimiter (`:` on POSIX). */
  PRIVATE_KEY: 'OSS_CSE_PRIVATE_KEY',
} as const;

/** Key options of the online commands. */
export interface CliKeyOptions {
  /** `--public-key`: the encrypting key. */
  readonly publicKey?: string | undefined;
  /** `--private-key` (repeatable): decryption keys; the first also encrypts without `--public-key`. */
  readonly privateKeys: readonly string[];
  /** `--keys`: a keys file. */
  readonly keysFile?: string | undefined;
  /** `--matdesc`: the encrypting key's description (with `--public-key`/`--private-key`). */
  readonly matdesc?: string | undefined;
}

/** The keys an online command uses. */
export interface CliKeys {
  /** Encrypts new objects (and decrypts, when it has a private key). */
  readonly masterKey: RsaMasterKey;
  /** Further keys to decrypt with. */
  readonly decryptionKeys: readonly RsaMasterKey[];
  /** Where they came from, for messages. */
  readonly source: string;
}

/** One entry of a keys file. */
interface KeysFileEntry {
  readonly type?: unknown;
  readonly privateKey?: unknown;
  readonly publicKey?: unknown;
  readonly description?: unknown;
  readonly encrypt?: unknown;
  readonly wrap?: unknown;
}

/**
 * Loads the keys of an online command: `--keys`, else `--public-key`/`--private-key` (or their environment
 * variables), else the default pair in `$OSS_CSE_HOME/keys`, created on first use (saying so once on stderr).
 *
 * @throws CseError ERR_CSE_IO, ERR_CSE_INVALID_KEY, ERR_CSE_INVALID_ARGUMENT (bad keys file), ERR_CSE_ENVELOPE_BAD_MATDESC
 */
export async function loadCliKeys(options: CliKeyOptions, io: CliIo, quiet: boolean): Promise<CliKeys> {
  const passphrase = io.env[PASSPHRASE_ENV];
  const common = passphrase === undefined ? {} : { passphrase };
  const description = parseMatDescFlag(options.matdesc);
  const publicPath = options.publicKey ?? nonEmpty(io.env[KeyEnv.PUBLIC_KEY]);
  const envPrivate = nonEmpty(io.env[KeyEnv.PRIVATE_KEY]);
  const privatePaths = options.privateKeys.length > 0 ? options.privateKeys : envPrivate === undefined ? [] : envPrivate.split(delimiter);
  if (options.keysFile !== undefined) {
    if (publicPath !== undefined || options.privateKeys.length > 0) {
      throw new CseError(ErrorCode.INVALID_ARGUMENT, '--keys and --public-key/--private-key exclude each other');
    }
    return loadKeysFile(options.keysFile, common);
  }
  if (publicPath !== undefined || privatePaths.length > 0) {
    const decryptionKeys: RsaMasterKey[] = [];
    for (const [i, path] of privatePaths.entries()) {
      const encrypting = i === 0 && publicPath === undefined;
      decryptionKeys.push(await loadRsaKeyFile(path, { ...common, ...(encrypting && description !== undefined ? { description } : {}) }));
    }
    const masterKey =
      publicPath !== undefined
        ? await loadRsaKeyFile(publicPath, { ...common, ...(description === undefined ? {} : { description }) })
        : decryptionKeys[0];
    if (masterKey === undefined) throw new CseError(ErrorCode.INVALID_ARGUMENT, 'no key given');
    return { masterKey, decryptionKeys: decryptionKeys.filter((k) => k !== masterKey), source: 'command line' };
  }
  const dir = join(cseHome(io.env), 'keys');
  const privatePath = join(dir, 'private.pem');
  if (!(await exists(privatePath))) {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const { privateKeyPem, publicKeyPem } = await generateRsaKeyPair(2048);
    // Exclusive creation: a concurrent first run must not replace a key the other process already encrypted with.
    const created = await writeFileExclusive(privatePath, privateKeyPem, 0o600);
    if (created) await writeFileAtomic(join(dir, 'public.pem'), publicKeyPem, 0o644);
    if (created && !quiet) {
      io.stderr.write(
        `oss-cse: created a new RSA key pair in ${dir} (private.pem decrypts your objects: back it up; ` +
          'without it they cannot be read)\n',
      );
    }
  }
  const masterKey = await loadRsaKeyFile(privatePath, { ...common, ...(description === undefined ? {} : { description }) });
  return { masterKey, decryptionKeys: [], source: privatePath };
}

async function loadKeysFile(path: string, common: { passphrase?: string }): Promise<CliKeys> {
  const text = (await readSmallFile(path, 'keys file')).toString('utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new CseError(ErrorCode.INVALID_ARGUMENT, `keys file ${path} is not JSON`, { cause: e });
  }
  const list = (parsed as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(list) || list.length === 0) {
    throw new CseError(ErrorCode.INVALID_ARGUMENT, `keys file ${path} must hold {"keys": [ … ]} with at least one key`);
  }
  const base = dirname(resolve(path));
  const keys: RsaMasterKey[] = [];
  let encrypting: RsaMasterKey | undefined;
  for (const [i, raw] of (list as unknown[]).entries()) {
    const where = `keys file ${path}, entry ${i}`;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new CseError(ErrorCode.INVALID_ARGUMENT, `${where}: expected an object`);
    const entry = raw as KeysFileEntry;
    if (entry.type !== undefined && entry.type !== 'rsa') {
      throw new CseError(
        ErrorCode.INVALID_ARGUMENT,
        `${where}: key type ${JSON.stringify(entry.type)} is not supported in keys files yet (only "rsa")`,
      );
    }
    const file = entry.privateKey ?? entry.publicKey;
    if (typeof file !== 'string' || file === '') {
      throw new CseError(ErrorCode.INVALID_ARGUMENT, `${where}: "privateKey" or "publicKey" (a PEM file path) is required`);
    }
    if (entry.wrap !== undefined && entry.wrap !== 'pkcs1' && entry.wrap !== 'oaep') {
      throw new CseError(ErrorCode.INVALID_ARGUMENT, `${where}: "wrap" must be "pkcs1" or "oaep"`);
    }
    let description: MatDesc | undefined;
    if (entry.description !== undefined) {
      try {
        description = parseMatDesc(JSON.stringify(entry.description), 'description');
      } catch (e) {
        throw new CseError(ErrorCode.INVALID_ARGUMENT, `${where}: "description" must be an object of strings`, { cause: e });
      }
    }
    const key = await loadRsaKeyFile(resolve(base, file), {
      ...common,
      ...(description === undefined ? {} : { description }),
      ...(entry.wrap === undefined ? {} : { wrap: entry.wrap }),
    });
    keys.push(key);
    if (entry.encrypt === true) {
      if (encrypting !== undefined) throw new CseError(ErrorCode.INVALID_ARGUMENT, `keys file ${path}: more than one entry has "encrypt": true`);
      encrypting = key;
    } else if (entry.encrypt !== undefined && entry.encrypt !== false) {
      throw new CseError(ErrorCode.INVALID_ARGUMENT, `${where}: "encrypt" must be true or false`);
    }
  }
  if (encrypting === undefined) {
    if (keys.length !== 1) throw new CseError(ErrorCode.INVALID_ARGUMENT, `keys file ${path}: mark the encrypting key with "encrypt": true`);
    encrypting = keys[0];
  }
  if (encrypting === undefined) throw new CseError(ErrorCode.INVALID_ARGUMENT, `keys file ${path}: no key`);
  const masterKey = encrypting;
  return { masterKey, decryptionKeys: keys.filter((k) => k !== masterKey), source: path };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
