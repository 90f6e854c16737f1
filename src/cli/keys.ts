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
import type { MasterKey } from '../keys/master-key.js';
import { RsaMasterKey, generateRsaKeyPair } from '../keys/rsa.js';
import type { CliIo } from './command.js';
import {
  buildKmsKey,
  listKmsKey,
  listRsaKey,
  resolveKmsSettings,
  type KeyListing,
  type KmsDefaults,
  type KmsFlagValues,
  type KmsKeySpec,
} from './key-options.js';
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
  /** Called with {@link privateKeyFileWarning}'s message when a private key file is readable by other users. */
  readonly onWarning?: (message: string) => void;
  /** The flag that named the file, when it must hold a private key (a public key there is refused at once). */
  readonly expectPrivate?: string;
}

/** Any PEM key block. */
const ANY_KEY_PEM = /-----BEGIN (?:RSA |ENCRYPTED )?(?:PRIVATE|PUBLIC) KEY-----/;

/** Group and other permission bits. */
const GROUP_OTHER = 0o077;
/** Group and other write bits. */
const GROUP_OTHER_WRITE = 0o022;

/**
 * Checks the permissions of a private key file (POSIX only; on Windows there are no mode bits and nothing is checked).
 *
 * - Writable by group or others: refused. Someone else could swap the key, and since a private key file also
 *   encrypts (its public half), new objects would then be encrypted to their key.
 * - Readable by group or others: allowed, with a warning message returned (the CLI prints it on an interactive
 *   terminal): the file decrypts every object. A checked-out test key is often 0644, so this is not an error.
 *
 * @param path - the key file
 * @returns a warning for a group/world-readable file, or `undefined` when its mode is owner-only or unknown
 * @throws CseError ERR_CSE_INVALID_KEY when the file is group- or world-writable
 */
export async function privateKeyFileWarning(path: string): Promise<string | undefined> {
  if (process.platform === 'win32') return undefined;
  let mode: number;
  try {
    mode = (await stat(path)).mode & 0o777;
  } catch {
    return undefined; // reading the file reports the problem
  }
  const octal = `0${mode.toString(8)}`;
  if ((mode & GROUP_OTHER_WRITE) !== 0) {
    throw new CseError(
      ErrorCode.INVALID_KEY,
      `private key file ${path} is writable by other users (mode ${octal}): anyone who can replace it controls which key ` +
        `new objects are encrypted to; run chmod 600 ${path}`,
    );
  }
  if ((mode & GROUP_OTHER) !== 0) return `private key file ${path} is readable by other users (mode ${octal}); run chmod 600 ${path}`;
  return undefined;
}

/**
 * Loads an RSA master key from a PEM file (any of the four forms; a private key also encrypts). A private key file
 * is checked with {@link privateKeyFileWarning}: refused when others can write it, `options.onWarning` called when
 * others can read it.
 * @throws CseError ERR_CSE_IO, ERR_CSE_INVALID_KEY (including a group- or world-writable private key file)
 */
export async function loadRsaKeyFile(path: string, options: LoadKeyOptions = {}): Promise<RsaMasterKey> {
  const pem = (await readSmallFile(path, 'key file')).toString('utf8');
  const isPrivate = PRIVATE_PEM.test(pem);
  if (!ANY_KEY_PEM.test(pem)) {
    throw new CseError(ErrorCode.INVALID_KEY, `${path} is not a PEM key file (no -----BEGIN … PRIVATE KEY----- or PUBLIC KEY----- block)`);
  }
  if (!isPrivate && options.expectPrivate !== undefined) {
    throw new CseError(
      ErrorCode.INVALID_KEY,
      `${options.expectPrivate} ${path} holds a public key, which cannot decrypt: give the private key of the pair there ` +
        '(or pass the public key with --public-key to encrypt only)',
    );
  }
  if (isPrivate) {
    const warning = await privateKeyFileWarning(path);
    if (warning !== undefined) options.onWarning?.(warning);
  }
  try {
    return new RsaMasterKey({
      ...(isPrivate ? { privateKey: pem } : { publicKey: pem }),
      ...(options.passphrase === undefined ? {} : { passphrase: options.passphrase }),
      ...(options.description === undefined ? {} : { description: options.description }),
      ...(options.wrap === undefined ? {} : { wrap: options.wrap }),
    });
  } catch (e) {
    if (e instanceof CseError) {
      // The passphrase can only come from the environment: name the variable where it is missing or wrong.
      const hint = /passphrase/.test(e.message) ? ` (set ${PASSPHRASE_ENV} to the PEM's passphrase)` : '';
      throw new CseError(e.cseCode, `cannot load key file ${path}: ${e.message}${hint}`, { cause: e });
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

/** Key options of the online commands (and, partly, of the offline ones). */
export interface CliKeyOptions {
  /** `--public-key`: the encrypting key. */
  readonly publicKey?: string | undefined;
  /** `--private-key` (repeatable): decryption keys; the first also encrypts when nothing else is said to. */
  readonly privateKeys: readonly string[];
  /** `--keys`: a keys file. */
  readonly keysFile?: string | undefined;
  /** `--matdesc`: the encrypting key's description (with `--public-key`/`--private-key`/`--kms-key-id`). */
  readonly matdesc?: string | undefined;
  /** `--kms-key-id` (repeatable): KMS keys; the first encrypts when no `--public-key` is given. */
  readonly kmsKeyIds?: readonly string[] | undefined;
  /** `--kms-region`, `--kms-endpoint`. */
  readonly kms?: KmsFlagValues | undefined;
}

/** The keys a command uses. */
export interface CliKeys {
  /** Encrypts new objects (and decrypts, when it can). */
  readonly masterKey: MasterKey;
  /** Further keys to decrypt with. */
  readonly decryptionKeys: readonly MasterKey[];
  /** Where they came from, for messages. */
  readonly source: string;
  /** Each key's public facts (the encrypting key first), for `keys list`. */
  readonly listing: readonly KeyListing[];
}

/** One configured key, before it is loaded. */
export type KeySpec =
  | {
      readonly kind: 'rsa';
      readonly path: string;
      readonly description?: MatDesc | undefined;
      readonly wrap?: 'pkcs1' | 'oaep' | undefined;
      /** Given as a private key (`--private-key`, `OSS_CSE_PRIVATE_KEY`): a public key there is refused at once. */
      readonly expectPrivate?: boolean | undefined;
    }
  | ({ readonly kind: 'kms' } & KmsKeySpec);

/** What the key options say, before any key file is read (except the keys file itself). */
export interface KeyPlan {
  /** The keys, in fallback order. */
  readonly specs: readonly KeySpec[];
  /** Index in `specs` of the encrypting key. */
  readonly encrypting: number;
  /** Where they came from, for messages. */
  readonly source: string;
  /** Set when nothing was configured: the default pair in `$OSS_CSE_HOME/keys` (its private key path). */
  readonly defaultPair?: string;
}

/** Options of {@link loadCliKeys} beyond the flags. */
export interface LoadCliKeysOptions {
  /** The target's KMS defaults (the embedded server's KMS emulator). */
  readonly kmsDefaults?: KmsDefaults | undefined;
  /** Create the default key pair when it does not exist (default true). */
  readonly createDefault?: boolean;
  /** The plan, when the caller already made it with {@link planCliKeys} (it is not made again). */
  readonly plan?: KeyPlan | undefined;
}

/**
 * The master key of a session whose command needs none (`ls`, `mb`, `rm`, `head`, `uploads`) when no key is
 * configured: the encryption client requires one, and this one can do nothing — it wraps nothing (a clear error, should
 * such a command ever try) and recognises no envelope — so that these commands never create a key pair nor depend on
 * one (SECURITY.md "Where keys come from").
 */
export const NO_KEY: MasterKey = Object.freeze({
  kind: 'rsa' as const,
  name: 'none (no key configured)',
  description: Object.freeze({}),
  canUnwrap: false,
  async wrap(): Promise<never> {
    return Promise.reject(new CseError(ErrorCode.INVALID_ARGUMENT, 'no key configured: give --public-key, --private-key, --kms-key-id or --keys'));
  },
  async unwrap(): Promise<null> {
    return Promise.resolve(null);
  },
});

/** The keys of a session whose command needs none and was given none (see {@link NO_KEY}). */
export const NO_KEYS: CliKeys = Object.freeze({ masterKey: NO_KEY, decryptionKeys: [], source: 'none', listing: [] });

/**
 * The exit-2 message for a command that needs a key, run against real OSS (or any endpoint other than the embedded
 * server) with none given: the automatic pair belongs to the embedded server only, so that data sent to a real bucket
 * is never encrypted to a key created on the spot in a home directory that may be thrown away (a CI runner).
 *
 * @param target - the endpoint or region, for the message
 * @param defaultPair - the automatic pair's private key path (named when it exists, to be given explicitly)
 * @param pairExists - whether that file exists
 */
export function noKeyForRemoteMessage(target: string, defaultPair: string, pairExists: boolean): string {
  return (
    `no key given for ${target}: give one with --public-key FILE (encrypt only), --private-key FILE, --kms-key-id ID or ` +
    `--keys FILE (or ${KeyEnv.PUBLIC_KEY} / ${KeyEnv.PRIVATE_KEY}), or create a pair with \`oss-cse keygen --out DIR\` and ` +
    `back up DIR/private.pem; a key pair is created automatically only for the embedded server` +
    (pairExists ? ` (to use that pair here, give it explicitly: --private-key ${defaultPair})` : '')
  );
}

/** One entry of a keys file. */
interface KeysFileEntry {
  readonly type?: unknown;
  readonly privateKey?: unknown;
  readonly publicKey?: unknown;
  readonly description?: unknown;
  readonly encrypt?: unknown;
  readonly wrap?: unknown;
  readonly keyId?: unknown;
  readonly region?: unknown;
  readonly endpoint?: unknown;
  readonly encryptionContext?: unknown;
  readonly writeForm?: unknown;
}

/**
 * Reads the key options into a plan: `--keys`, else the flags (`--public-key`, `--kms-key-id`, `--private-key`, and
 * the `OSS_CSE_PUBLIC_KEY`/`OSS_CSE_PRIVATE_KEY` variables), else the default pair. The encrypting key is
 * `--public-key`, else the first `--kms-key-id` (adding KMS beside RSA keys usually means moving to KMS while reading
 * the old RSA objects), else `$OSS_CSE_PUBLIC_KEY`, else the first private key.
 *
 * @throws CseError ERR_CSE_IO, ERR_CSE_INVALID_ARGUMENT (bad keys file, conflicting options), ERR_CSE_ENVELOPE_BAD_MATDESC
 */
export async function planCliKeys(options: CliKeyOptions, env: NodeJS.ProcessEnv): Promise<KeyPlan> {
  const description = parseMatDescFlag(options.matdesc);
  const kmsIds = options.kmsKeyIds ?? [];
  const publicFlag = options.publicKey;
  const envPublic = nonEmpty(env[KeyEnv.PUBLIC_KEY]);
  const envPrivate = nonEmpty(env[KeyEnv.PRIVATE_KEY]);
  const privatePaths = options.privateKeys.length > 0 ? options.privateKeys : envPrivate === undefined ? [] : envPrivate.split(delimiter);
  if (options.keysFile !== undefined) {
    if (publicFlag !== undefined || options.privateKeys.length > 0 || kmsIds.length > 0) {
      throw new CseError(ErrorCode.INVALID_ARGUMENT, '--keys and --public-key/--private-key/--kms-key-id exclude each other');
    }
    if (description !== undefined) {
      throw new CseError(ErrorCode.INVALID_ARGUMENT, '--matdesc does not apply to a keys file: give each entry its "description"');
    }
    return planKeysFile(options.keysFile);
  }
  const specs: KeySpec[] = [];
  let encrypting: number | undefined;
  const add = (spec: KeySpec, encrypts: boolean): void => {
    if (encrypts) encrypting = specs.length;
    specs.push(spec);
  };
  const described = <T extends object>(spec: T, encrypts: boolean): T => (encrypts && description !== undefined ? { ...spec, description } : spec);
  const publicPath = publicFlag ?? (kmsIds.length > 0 ? undefined : envPublic);
  if (publicPath !== undefined) add(described({ kind: 'rsa', path: publicPath }, true), true);
  for (const [i, keyId] of kmsIds.entries()) {
    const encrypts = encrypting === undefined && i === 0;
    add(described({ kind: 'kms', keyId }, encrypts), encrypts);
  }
  for (const [i, path] of privatePaths.entries()) {
    const encrypts = encrypting === undefined && i === 0;
    add(described({ kind: 'rsa', path, expectPrivate: true }, encrypts), encrypts);
  }
  if (encrypting !== undefined) return { specs, encrypting, source: 'command line' };
  const privatePath = join(cseHome(env), 'keys', 'private.pem');
  return {
    specs: [described({ kind: 'rsa', path: privatePath }, true)],
    encrypting: 0,
    source: privatePath,
    defaultPair: privatePath,
  };
}

/**
 * Loads the keys of a command (see {@link planCliKeys} for which ones), creating the default pair in
 * `$OSS_CSE_HOME/keys` on first use (saying so once on stderr, always: a new key must be backed up).
 *
 * @param options - the key flags
 * @param io - environment and stderr
 * @param _quiet - kept for callers; `--quiet` no longer silences the note that a key pair was created
 * @param more - the target's KMS defaults; whether to create the default pair
 * @throws CseError ERR_CSE_IO, ERR_CSE_INVALID_KEY, ERR_CSE_INVALID_ARGUMENT (bad keys file, KMS key without region or
 *   credentials), ERR_CSE_ENVELOPE_BAD_MATDESC
 */
export async function loadCliKeys(options: CliKeyOptions, io: CliIo, _quiet: boolean, more: LoadCliKeysOptions = {}): Promise<CliKeys> {
  const plan = more.plan ?? (await planCliKeys(options, io.env));
  if (plan.defaultPair !== undefined && more.createDefault !== false) await ensureDefaultPair(plan.defaultPair, io);
  // An empty variable is no passphrase (the message then says the PEM needs one).
  const passphrase = io.env[PASSPHRASE_ENV] === '' ? undefined : io.env[PASSPHRASE_ENV];
  // The readable-by-others warning is for a person at a terminal (SECURITY.md "Key files"); scripts and piped
  // output stay clean. Group/world-writable private key files are refused either way.
  const interactive = (io.stderr as { isTTY?: boolean }).isTTY === true;
  const onWarning = (message: string): void => {
    if (interactive) io.stderr.write(`oss-cse: warning: ${message}\n`);
  };
  const common = passphrase === undefined ? { onWarning } : { passphrase, onWarning };
  const settings = resolveKmsSettings(options.kms ?? {}, io.env, more.kmsDefaults);
  const keys: MasterKey[] = [];
  const listing: KeyListing[] = [];
  for (const [i, spec] of plan.specs.entries()) {
    const role = i === plan.encrypting ? 'encrypt' : 'decrypt';
    if (spec.kind === 'kms') {
      keys.push(buildKmsKey(spec, settings));
      listing.push(listKmsKey(spec, role, settings));
    } else {
      const key = await loadRsaKeyFile(spec.path, {
        ...common,
        ...(spec.expectPrivate === true ? { expectPrivate: '--private-key' } : {}),
        ...(spec.description === undefined ? {} : { description: spec.description }),
        ...(spec.wrap === undefined ? {} : { wrap: spec.wrap }),
      });
      keys.push(key);
      listing.push(listRsaKey(key, role, spec.path));
    }
  }
  const masterKey = keys[plan.encrypting];
  if (masterKey === undefined) throw new CseError(ErrorCode.INVALID_ARGUMENT, 'no key given');
  const encryptingListing = listing[plan.encrypting];
  return {
    masterKey,
    decryptionKeys: keys.filter((k) => k !== masterKey),
    source: plan.source,
    listing: encryptingListing === undefined ? listing : [encryptingListing, ...listing.filter((l) => l !== encryptingListing)],
  };
}

/**
 * Loads the keys of an offline command (`encrypt`, `decrypt`): only what the flags name (no `OSS_CSE_*_KEY`
 * variables, no default pair); KMS region from `--kms-region`, `ALIBABA_CLOUD_REGION_ID` or `OSS_REGION`.
 *
 * @throws CseError as {@link loadCliKeys}; ERR_CSE_INVALID_ARGUMENT when no key is given
 */
export async function loadOfflineKeys(options: CliKeyOptions, io: CliIo): Promise<CliKeys> {
  if (options.publicKey === undefined && options.privateKeys.length === 0 && options.keysFile === undefined && (options.kmsKeyIds ?? []).length === 0) {
    throw new CseError(ErrorCode.INVALID_ARGUMENT, 'no key given');
  }
  const ignored = new Set<string>([KeyEnv.PUBLIC_KEY, KeyEnv.PRIVATE_KEY]);
  const env = Object.fromEntries(Object.entries(io.env).filter(([name]) => !ignored.has(name)));
  const region = nonEmpty(io.env.OSS_REGION)?.replace(/^oss-/, '');
  return loadCliKeys(options, { ...io, env }, true, { createDefault: false, kmsDefaults: { region } });
}

async function ensureDefaultPair(privatePath: string, io: CliIo): Promise<void> {
  if (await exists(privatePath)) return;
  const dir = dirname(privatePath);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const { privateKeyPem, publicKeyPem } = await generateRsaKeyPair(2048);
  // Exclusive creation: a concurrent first run must not replace a key the other process already encrypted with.
  const created = await writeFileExclusive(privatePath, privateKeyPem, 0o600);
  if (created) await writeFileAtomic(join(dir, 'public.pem'), publicKeyPem, 0o644);
  // Said even with --quiet or --json (on stderr, so no output format changes): a key nobody knows about is a key
  // nobody backs up, and objects encrypted to it are lost with it (SECURITY.md "Where keys come from").
  if (created) {
    io.stderr.write(
      `oss-cse: created a new RSA key pair in ${dir} (private.pem decrypts your objects: back it up; ` +
        'without it they cannot be read)\n',
    );
  }
}

function stringMap(value: unknown, where: string, what: string): Record<string, string> {
  try {
    return { ...parseMatDesc(JSON.stringify(value), what) };
  } catch (e) {
    throw new CseError(ErrorCode.INVALID_ARGUMENT, `${where}: "${what}" must be an object of strings`, { cause: e });
  }
}

function optionalString(value: unknown, where: string, what: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value === '') throw new CseError(ErrorCode.INVALID_ARGUMENT, `${where}: "${what}" must be a non-empty string`);
  return value;
}

/**
 * Reads a keys file: `{"keys": [entry, …]}`, where an entry is an RSA key
 * `{"privateKey" | "publicKey": "file.pem", "description"?, "wrap"?: "pkcs1" | "oaep", "encrypt"?: true}` (paths
 * relative to the file) or a KMS key `{"type": "kms", "keyId": "…", "region"?, "endpoint"?, "description"?,
 * "encryptionContext"?, "writeForm"?: "go" | "oss2", "encrypt"?: true}`. Credentials never go in the file.
 *
 * @throws CseError ERR_CSE_IO, ERR_CSE_INVALID_ARGUMENT
 */
export async function planKeysFile(path: string): Promise<KeyPlan> {
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
  const specs: KeySpec[] = [];
  let encrypting: number | undefined;
  for (const [i, raw] of (list as unknown[]).entries()) {
    const where = `keys file ${path}, entry ${i}`;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new CseError(ErrorCode.INVALID_ARGUMENT, `${where}: expected an object`);
    const entry = raw as KeysFileEntry;
    const description = entry.description === undefined ? undefined : stringMap(entry.description, where, 'description');
    if (entry.type === 'kms') {
      const keyId = optionalString(entry.keyId, where, 'keyId');
      if (keyId === undefined) throw new CseError(ErrorCode.INVALID_ARGUMENT, `${where}: "keyId" (a KMS key id, alias/NAME or ARN) is required`);
      if (entry.privateKey !== undefined || entry.publicKey !== undefined || entry.wrap !== undefined) {
        throw new CseError(ErrorCode.INVALID_ARGUMENT, `${where}: a KMS entry takes no "privateKey", "publicKey" or "wrap"`);
      }
      if (entry.writeForm !== undefined && entry.writeForm !== 'go' && entry.writeForm !== 'oss2') {
        throw new CseError(ErrorCode.INVALID_ARGUMENT, `${where}: "writeForm" must be "go" or "oss2"`);
      }
      const region = optionalString(entry.region, where, 'region');
      const endpoint = optionalString(entry.endpoint, where, 'endpoint');
      specs.push({
        kind: 'kms',
        keyId,
        description,
        region,
        endpoint,
        encryptionContext: entry.encryptionContext === undefined ? undefined : stringMap(entry.encryptionContext, where, 'encryptionContext'),
        writeForm: entry.writeForm,
      });
    } else if (entry.type === undefined || entry.type === 'rsa') {
      if (entry.keyId !== undefined || entry.region !== undefined || entry.endpoint !== undefined || entry.encryptionContext !== undefined) {
        throw new CseError(ErrorCode.INVALID_ARGUMENT, `${where}: "keyId", "region", "endpoint" and "encryptionContext" need "type": "kms"`);
      }
      const file = entry.privateKey ?? entry.publicKey;
      if (typeof file !== 'string' || file === '') {
        throw new CseError(ErrorCode.INVALID_ARGUMENT, `${where}: "privateKey" or "publicKey" (a PEM file path) is required`);
      }
      if (entry.wrap !== undefined && entry.wrap !== 'pkcs1' && entry.wrap !== 'oaep') {
        throw new CseError(ErrorCode.INVALID_ARGUMENT, `${where}: "wrap" must be "pkcs1" or "oaep"`);
      }
      specs.push({ kind: 'rsa', path: resolve(base, file), description, wrap: entry.wrap });
    } else {
      throw new CseError(ErrorCode.INVALID_ARGUMENT, `${where}: "type" must be "rsa" (the default) or "kms", got ${JSON.stringify(entry.type)}`);
    }
    if (entry.encrypt === true) {
      if (encrypting !== undefined) throw new CseError(ErrorCode.INVALID_ARGUMENT, `keys file ${path}: more than one entry has "encrypt": true`);
      encrypting = i;
    } else if (entry.encrypt !== undefined && entry.encrypt !== false) {
      throw new CseError(ErrorCode.INVALID_ARGUMENT, `${where}: "encrypt" must be true or false`);
    }
  }
  if (encrypting === undefined) {
    if (specs.length !== 1) throw new CseError(ErrorCode.INVALID_ARGUMENT, `keys file ${path}: mark the encrypting key with "encrypt": true`);
    encrypting = 0;
  }
  return { specs, encrypting, source: path };
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
