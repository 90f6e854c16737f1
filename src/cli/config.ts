/**
 * The CLI's configuration file, `$OSS_CSE_HOME/config.json`: defaults for the options a user would otherwise repeat
 * (endpoint, region, profile, keys). Precedence: command-line flags > environment variables > this file > built-in
 * defaults (docs/configuration.md): a setting from the file is used only when neither its flag nor its environment
 * variable is given.
 *
 * @packageDocumentation
 */

import { join } from 'node:path';
import { CseError, ErrorCode } from '../errors.js';
import { UsageError } from './command.js';
import { readSmallFile, writeFileAtomic } from './files.js';
import { cseHome } from './keys.js';
import { readFileSync } from 'node:fs';

/** A setting: its name (= the flag's long name), the environment variable that overrides it, and what it is. */
export interface Setting {
  /** Name in the file and on the command line (`--NAME`). */
  readonly name: string;
  /** Environment variable with the same meaning, if any. */
  readonly env: string | undefined;
  /** One line for `config --help` and docs/configuration.md. */
  readonly description: string;
  /** True for flags that take several values (a list in the file). */
  readonly multiple?: boolean;
}

/** Every setting the file may hold. */
export const SETTINGS: readonly Setting[] = [
  { name: 'endpoint', env: 'OSS_ENDPOINT', description: 'OSS endpoint URL (with neither endpoint nor region: the embedded server)' },
  { name: 'region', env: 'OSS_REGION', description: 'OSS region, e.g. cn-hangzhou (requests signed with V4)' },
  { name: 'profile', env: 'ALIBABA_CLOUD_PROFILE', description: 'credentials profile in ~/.alibabacloud/credentials' },
  { name: 'keys', env: undefined, description: 'keys file (see `oss-cse keys --help`)' },
  { name: 'public-key', env: 'OSS_CSE_PUBLIC_KEY', description: 'RSA public key PEM that encrypts' },
  { name: 'private-key', env: 'OSS_CSE_PRIVATE_KEY', description: 'RSA private key PEM(s) that decrypt', multiple: true },
  { name: 'kms-key-id', env: undefined, description: 'KMS key id(s); the first encrypts', multiple: true },
  { name: 'kms-region', env: 'ALIBABA_CLOUD_REGION_ID', description: 'KMS region' },
  { name: 'kms-endpoint', env: undefined, description: 'KMS endpoint URL' },
  { name: 'key-selection', env: undefined, description: 'fallback or strict' },
  { name: 'jobs', env: undefined, description: 'files in flight for cp and sync (default 4)' },
];

/** The file's path. */
export function configPath(env: NodeJS.ProcessEnv): string {
  return join(cseHome(env), 'config.json');
}

/** The stored settings (name → string or list of strings). */
export type ConfigValues = Record<string, string | string[]>;

function parseConfig(text: string, path: string): ConfigValues {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new CseError(ErrorCode.INVALID_ARGUMENT, `${path} is not JSON: fix or remove it`, { cause: e });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new CseError(ErrorCode.INVALID_ARGUMENT, `${path} must hold a JSON object of setting → value`);
  }
  const out: ConfigValues = {};
  for (const [name, value] of Object.entries(parsed as Record<string, unknown>)) {
    if (!SETTINGS.some((s) => s.name === name)) throw new CseError(ErrorCode.INVALID_ARGUMENT, `${path}: unknown setting ${JSON.stringify(name)}`);
    if (typeof value === 'string' || (Array.isArray(value) && value.every((v) => typeof v === 'string'))) out[name] = value;
    else throw new CseError(ErrorCode.INVALID_ARGUMENT, `${path}: ${name} must be a string${SETTINGS.find((s) => s.name === name)?.multiple === true ? ' or a list of strings' : ''}`);
  }
  return out;
}

/**
 * Reads the file (an absent file is an empty configuration).
 * @throws CseError ERR_CSE_INVALID_ARGUMENT for a malformed file
 */
export function readConfigSync(env: NodeJS.ProcessEnv): ConfigValues {
  const path = configPath(env);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as { code?: unknown }).code === 'ENOENT') return {};
    throw new CseError(ErrorCode.IO, `cannot read ${path}: ${(e as Error).message}`, { cause: e });
  }
  return parseConfig(text, path);
}

/**
 * Changes one setting (`undefined` removes it) and writes the file atomically.
 * @throws UsageError for an unknown setting; CseError ERR_CSE_IO, ERR_CSE_INVALID_ARGUMENT
 */
export async function writeSetting(env: NodeJS.ProcessEnv, name: string, value: string | string[] | undefined): Promise<void> {
  if (!SETTINGS.some((s) => s.name === name)) throw new UsageError(`unknown setting ${JSON.stringify(name)} (known: ${SETTINGS.map((s) => s.name).join(', ')})`);
  const path = configPath(env);
  let current: ConfigValues = {};
  const keep = (c: ConfigValues): ConfigValues => Object.fromEntries(Object.entries(c).filter(([k]) => k !== name));
  try {
    current = parseConfig((await readSmallFile(path, 'configuration')).toString('utf8'), path);
  } catch (e) {
    if (!(e instanceof CseError && e.code === ErrorCode.IO && /ENOENT/.test(e.message))) throw e;
  }
  current = value === undefined ? keep(current) : { ...current, [name]: value };
  const { mkdir } = await import('node:fs/promises');
  await mkdir(cseHome(env), { recursive: true });
  await writeFileAtomic(path, JSON.stringify(current, null, 2) + '\n', 0o600);
}

/**
 * Fills the options a command line left out from the configuration file, skipping any whose environment variable is
 * set (flags > environment > file > defaults).
 * @param values - the parsed options
 * @param env - the environment
 * @throws CseError for a malformed file
 */
export function withConfig<T extends object>(values: T, env: NodeJS.ProcessEnv): T {
  const config = readConfigSync(env);
  const out = { ...values } as Record<string, unknown>;
  for (const setting of SETTINGS) {
    const stored = config[setting.name];
    if (stored === undefined || out[setting.name] !== undefined) continue;
    if (setting.env !== undefined && env[setting.env] !== undefined && env[setting.env] !== '') continue;
    out[setting.name] = setting.multiple === true ? (Array.isArray(stored) ? stored : [stored]) : Array.isArray(stored) ? stored[0] : stored;
  }
  return out as T;
}
