/**
 * Where the online commands (`put`, `get`, `cat`, `head`, `ls`, `rm`, `mb`) send their requests: real OSS (or any
 * OSS-compatible endpoint) when an endpoint or region is configured, otherwise the embedded server, started in this
 * process on a free loopback port over `$OSS_CSE_HOME/server` with its stored credentials, so data persists between
 * commands. Commands load this module only when they run (it pulls in `ali-oss` and the server).
 *
 * @packageDocumentation
 */

import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { startServer, type RunningServer } from '../../server/src/index.js';
import { createOssClient, EncryptionClient, type AliOssClient } from '../client.js';
import { CseError, ErrorCode } from '../errors.js';
import type { KeySelectionPolicy } from '../keys/key-ring.js';
import type { CliIo } from './command.js';
import { cseHome, loadCliKeys, noKeyForRemoteMessage, NO_KEYS, planCliKeys, type CliKeyOptions, type CliKeys } from './keys.js';
import type { KmsDefaults } from './key-options.js';
import { UsageError } from './command.js';
import { TargetEnv, type OnlineValues } from './online.js';
import { withConfig } from './config.js';
import { resolveCredentials } from './credentials.js';

/** A connected target: the encryption client, the plain client under it, and how to release it. */
export interface Session {
  /** The encryption client. */
  readonly client: EncryptionClient;
  /** The plain ali-oss client it wraps (the demo reads raw bytes with it). */
  readonly oss: AliOssClient;
  /** The embedded server, when used. */
  readonly server: RunningServer | undefined;
  /** A one-line description of the target, for messages. */
  readonly where: string;
  /** The KMS defaults of this target (the embedded server's KMS emulator, or the OSS region and credentials). */
  readonly kmsDefaults: KmsDefaults;
  /** The keys the client was built with (and their listing). */
  readonly keys: CliKeys;
  /** Stops the embedded server (if any). */
  close(): Promise<void>;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

function keySelection(value: string | undefined): KeySelectionPolicy {
  if (value === undefined || value === 'fallback') return 'fallback';
  if (value === 'strict') return 'strict';
  throw new UsageError(`--key-selection must be fallback or strict, got ${value}`);
}

/** The region the embedded server reports (its default). */
const EMBEDDED_REGION = 'cn-hangzhou';

/** How long to wait for another oss-cse process to release the embedded server's data directory. */
const LOCK_WAIT_MS = 15_000;

/**
 * Starts the embedded server over `$OSS_CSE_HOME/server`, waiting a little while another oss-cse process holds it.
 * @throws CseError ERR_CSE_IO when it cannot start
 */
export async function startEmbedded(env: NodeJS.ProcessEnv): Promise<RunningServer> {
  const dataDir = join(cseHome(env), 'server');
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      return await startServer({ dataDir, host: '127.0.0.1', port: 0 });
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      if (/in use by process/.test(message) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
        continue;
      }
      throw new CseError(
        ErrorCode.IO,
        `cannot start the embedded server over ${dataDir}: ${message}` +
          (/in use by process/.test(message)
            ? ' (an `oss-cse serve` may be running there: point --endpoint at it, with its credentials in the environment)'
            : ''),
        { cause: e },
      );
    }
  }
}

/**
 * Whether a command needs a key: `required` (put, get, cat, rewrap: with no key given, the embedded server gets the
 * automatic pair, created on first use, and any other target is refused with exit 2); `optional` (ls, mb, rm, head,
 * uploads: the keys given are loaded and checked, but with none given no key is created or read).
 */
export type KeyNeed = 'required' | 'optional';

/** Options of {@link openSession} beyond the command line. */
export interface SessionOptions {
  /** Whether the command needs a key (default `required`). */
  readonly keys?: KeyNeed;
}

async function fileExists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Connects to the configured target and builds the encryption client with the configured keys.
 *
 * @param values - parsed command-line options
 * @param io - environment and streams (a note goes to stderr when a default key pair is created)
 * @param bucket - the default bucket
 * @param options - whether the command needs a key
 * @throws UsageError / CseError for bad options, missing credentials, unusable keys, a server that cannot start;
 *   UsageError (exit 2) when a command that needs a key has none for a target other than the embedded server
 */
export async function openSession(flags: OnlineValues, io: CliIo, bucket: string | undefined, options: SessionOptions = {}): Promise<Session> {
  const env = io.env;
  const values = withConfig(flags, env);
  const endpoint = nonEmpty(values.endpoint) ?? nonEmpty(env[TargetEnv.ENDPOINT]);
  const region = nonEmpty(values.region) ?? nonEmpty(env[TargetEnv.REGION]);
  const policy = keySelection(values['key-selection']);
  const keyOptions: CliKeyOptions = {
    publicKey: values['public-key'],
    privateKeys: values['private-key'] ?? [],
    keysFile: values.keys,
    matdesc: values.matdesc,
    kmsKeyIds: values['kms-key-id'] ?? [],
    kms: values,
  };
  const need = options.keys ?? 'required';
  const plan = await planCliKeys(keyOptions, env);
  const embedded = endpoint === undefined && region === undefined;
  // No key given (the plan falls back to the automatic pair): a command that needs none uses none, and the automatic
  // pair is created (or used) only for the embedded server (SECURITY.md "Where keys come from").
  const keyless = plan.defaultPair !== undefined && need === 'optional';
  if (plan.defaultPair !== undefined && need === 'required' && !embedded) {
    throw new UsageError(noKeyForRemoteMessage(endpoint ?? `region ${region ?? ''}`, plan.defaultPair, await fileExists(plan.defaultPair)));
  }
  const loadKeys = async (kmsDefaults: KmsDefaults): Promise<CliKeys> =>
    keyless ? NO_KEYS : loadCliKeys(keyOptions, io, values.quiet === true, { kmsDefaults, plan, createDefault: embedded });
  const clientOptionsOf = (keys: CliKeys) => ({
    masterKey: keys.masterKey,
    decryptionKeys: keys.decryptionKeys,
    keySelection: policy,
    allowLegacy: values['allow-legacy'] === true,
    requireEncrypted: values['require-encrypted'] === true,
  });
  if (embedded) {
    const server = await startEmbedded(env);
    try {
      // The embedded server answers KMS on the same port, with the same credentials (server/src/kms/KMS.md).
      const kmsDefaults: KmsDefaults = {
        region: EMBEDDED_REGION,
        endpoint: server.endpoint,
        credentials: { accessKeyId: server.credentials.accessKeyId, accessKeySecret: server.credentials.accessKeySecret },
        credentialSource: 'the embedded server',
      };
      const keys = await loadKeys(kmsDefaults);
      const oss = createOssClient({
        endpoint: server.endpoint,
        region: EMBEDDED_REGION,
        bucket,
        accessKeyId: server.credentials.accessKeyId,
        accessKeySecret: server.credentials.accessKeySecret,
      });
      return {
        client: new EncryptionClient(oss, clientOptionsOf(keys)),
        oss,
        server,
        kmsDefaults,
        keys,
        where: `the embedded server (${server.dataDir ?? 'memory'})`,
        close: async () => server.close(),
      };
    } catch (e) {
      await server.close();
      throw e;
    }
  }
  const target = endpoint ?? `region ${region ?? ''}`;
  const credentials = await resolveCredentials(env, nonEmpty(values.profile), target);
  const { accessKeyId, accessKeySecret } = credentials;
  const stsToken = credentials.securityToken;
  const kmsDefaults: KmsDefaults = {
    region: region?.replace(/^oss-/, ''),
    credentials: stsToken === undefined ? { accessKeyId, accessKeySecret } : { accessKeyId, accessKeySecret, securityToken: stsToken },
    credentialSource: credentials.source,
  };
  const keys = await loadKeys(kmsDefaults);
  const oss = createOssClient({
    endpoint,
    region,
    bucket,
    accessKeyId,
    accessKeySecret,
    stsToken,
    ...(credentials.refresh === undefined ? {} : { refreshSTSToken: credentials.refresh }),
  });
  return {
    client: new EncryptionClient(oss, clientOptionsOf(keys)),
    oss,
    server: undefined,
    kmsDefaults,
    keys,
    where: target,
    close: async () => {
      // Nothing to release for a remote target.
    },
  };
}

/**
 * Runs `fn` with a session and always releases it.
 * @param options - whether the command needs a key (default `required`)
 * @throws whatever `openSession` or `fn` throws
 */
export async function withSession<T>(
  values: OnlineValues,
  io: CliIo,
  bucket: string | undefined,
  fn: (session: Session) => Promise<T>,
  options: SessionOptions = {},
): Promise<T> {
  const session = await openSession(values, io, bucket, options);
  try {
    return await fn(session);
  } finally {
    await session.close();
  }
}
