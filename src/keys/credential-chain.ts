/**
 * Credentials from the official Alibaba Cloud default chain (`@alicloud/credentials`): environment variables, OIDC
 * (RRSA), the `aliyun` CLI profile, the shared credentials file, the ECS RAM role and a credentials URI, with STS
 * refresh, exactly as the official SDKs find them (reference: ecosystem notes on credentials). One small adapter, used
 * by {@link KmsMasterKey} when no explicit credentials are given, and exported for other callers (the CLI's OSS
 * credentials) so that every place resolves credentials the same way.
 *
 * `@alicloud/credentials` is an optional peer dependency, loaded on first use: only KMS (or OSS) without explicit
 * credentials needs it, and the KMS SDK (`@alicloud/kms20160120`, itself an optional peer) already brings it through
 * `@alicloud/openapi-client`. A missing package is ERR_CSE_MISSING_DEPENDENCY naming what to install.
 *
 * @packageDocumentation
 */

import { CseError, ErrorCode } from '../errors.js';

/** The official credentials package. */
export const CREDENTIALS_PACKAGE = '@alicloud/credentials';

/** Loads the credentials package (a test seam; default: a dynamic import of {@link CREDENTIALS_PACKAGE}). */
export type CredentialsLoader = () => Promise<unknown>;

/** The default loader. */
export const importCredentials: CredentialsLoader = async () => (await import(CREDENTIALS_PACKAGE)) as unknown;

/** One set of credentials, as the chain resolved it at that moment. */
export interface ChainCredentials {
  /** AccessKey ID. */
  readonly accessKeyId: string;
  /** AccessKey secret. */
  readonly accessKeySecret: string;
  /** STS security token, for temporary credentials. */
  readonly securityToken?: string;
  /** Which provider of the chain answered (`env`, `profile`, `ecs_ram_role`, …), when the package says. */
  readonly providerName?: string;
}

/** A credential source an official SDK client accepts as its `credential` option (an `@alicloud/credentials` Credential). */
export interface CredentialChain {
  /**
   * The current credentials (refreshed by the chain when they are temporary).
   * @throws whatever the chain's providers throw when none has credentials (a plain `Error` from
   *   `@alicloud/credentials`); {@link resolveChainCredentials} turns that into ERR_CSE_INVALID_ARGUMENT
   */
  getCredential(): Promise<unknown>;
}

type CredentialConstructor = new (config?: unknown) => CredentialChain;

function isModuleNotFound(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND';
}

/**
 * The official default credential chain: a `Credential` of `@alicloud/credentials` built without configuration. Hand
 * it to an official SDK client as `credential` (it refreshes STS credentials itself), or read it with
 * {@link resolveChainCredentials}.
 *
 * @param load - how to load the package (default: a dynamic import of `@alicloud/credentials`)
 * @throws CseError ERR_CSE_MISSING_DEPENDENCY when `@alicloud/credentials` cannot be loaded or exports no Credential
 *   class
 */
export async function defaultCredentialChain(load: CredentialsLoader = importCredentials): Promise<CredentialChain> {
  let ns: unknown;
  try {
    ns = await load();
  } catch (cause) {
    throw new CseError(
      ErrorCode.MISSING_DEPENDENCY,
      isModuleNotFound(cause)
        ? `credentials from the default chain need the optional package ${CREDENTIALS_PACKAGE}: npm install ${CREDENTIALS_PACKAGE} (or pass credentials explicitly)`
        : `could not load the optional package ${CREDENTIALS_PACKAGE} (reinstall it: npm install ${CREDENTIALS_PACKAGE})`,
      { cause },
    );
  }
  // ESM import of the CommonJS package: `{ default: exports }`, whose `default` is the class.
  const exp = (ns as { default?: unknown } | null)?.default;
  const Credential = [(exp as { default?: unknown } | null | undefined)?.default, exp].find((c) => typeof c === 'function') as
    | CredentialConstructor
    | undefined;
  if (Credential === undefined) {
    throw new CseError(ErrorCode.MISSING_DEPENDENCY, `${CREDENTIALS_PACKAGE} was loaded but exports no Credential class (expected version 2.x)`);
  }
  return new Credential();
}

/**
 * Asks a chain for its current credentials (for clients that take plain keys, such as `ali-oss`).
 *
 * @param chain - a chain from {@link defaultCredentialChain} (default: a new one)
 * @throws CseError ERR_CSE_INVALID_ARGUMENT when no provider of the chain has credentials (the message lists where
 *   the chain looked, never a value); ERR_CSE_MISSING_DEPENDENCY as {@link defaultCredentialChain}
 */
export async function resolveChainCredentials(chain?: CredentialChain): Promise<ChainCredentials> {
  const source = chain ?? (await defaultCredentialChain());
  let got: unknown;
  try {
    got = await source.getCredential();
  } catch (cause) {
    throw new CseError(
      ErrorCode.INVALID_ARGUMENT,
      'no credentials found by the Alibaba Cloud default chain (ALIBABA_CLOUD_ACCESS_KEY_ID/SECRET, OIDC, the aliyun CLI ' +
        'profile, ~/.alibabacloud/credentials.ini or ALIBABA_CLOUD_CREDENTIALS_FILE, the ECS RAM role): configure one, ' +
        'or pass credentials explicitly',
      { cause },
    );
  }
  const c = (got ?? {}) as Record<string, unknown>;
  const text = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
  const accessKeyId = text(c.accessKeyId);
  const accessKeySecret = text(c.accessKeySecret);
  if (accessKeyId === undefined || accessKeySecret === undefined) {
    throw new CseError(ErrorCode.INVALID_ARGUMENT, 'the Alibaba Cloud default credential chain answered without an access key id and secret');
  }
  const securityToken = text(c.securityToken);
  const providerName = text(c.providerName);
  return {
    accessKeyId,
    accessKeySecret,
    ...(securityToken === undefined ? {} : { securityToken }),
    ...(providerName === undefined ? {} : { providerName }),
  };
}
