/**
 * OSS (and KMS) credentials for a real endpoint, the way Alibaba Cloud users already keep them: `--profile NAME` (a
 * section of `~/.alibabacloud/credentials`), then `OSS_ACCESS_KEY_ID`/`OSS_ACCESS_KEY_SECRET` (ossutil's and
 * ali-oss's habit, which the official chain does not read), then the official default chain of
 * `@alicloud/credentials` (environment `ALIBABA_CLOUD_*`, OIDC, `~/.aliyun/config.json`, the shared credentials file
 * with `ALIBABA_CLOUD_PROFILE` or `[default]`, ECS RAM role, a credentials URI). Temporary (STS) credentials are
 * refreshed through the same provider. See docs/configuration.md and ecosystem facts "Credentials".
 *
 * @packageDocumentation
 */

import { CseError, ErrorCode } from '../errors.js';
import { CREDENTIALS_PACKAGE, defaultCredentialChain, importCredentials, resolveChainCredentials } from '../keys/credential-chain.js';

/** Credentials found for a target, and where they came from (never their values). */
export interface ResolvedCredentials {
  /** AccessKey ID. */
  readonly accessKeyId: string;
  /** AccessKey secret. */
  readonly accessKeySecret: string;
  /** STS token, for temporary credentials. */
  readonly securityToken: string | undefined;
  /** Where they came from, e.g. `profile prod`, `OSS_ACCESS_KEY_ID`, `default chain (default/env)`. */
  readonly source: string;
  /** Fetches fresh credentials (for STS refresh); absent for static ones from the environment. */
  readonly refresh: (() => Promise<{ accessKeyId: string; accessKeySecret: string; stsToken: string }>) | undefined;
}

/** The environment variables of ossutil and ali-oss (read before the official chain). */
export const OssCredentialEnv = {
  ACCESS_KEY_ID: 'OSS_ACCESS_KEY_ID',
  ACCESS_KEY_SECRET: 'OSS_ACCESS_KEY_SECRET',
  SESSION_TOKEN: 'OSS_SESSION_TOKEN',
} as const;

interface Provider {
  getCredentials(): Promise<{ accessKeyId?: string; accessKeySecret?: string; securityToken?: string; providerName?: string }>;
}

interface ProfileModule {
  ProfileCredentialsProvider: { builder(): { withProfileName(name: string): { build(): Provider } } };
}

/** The package's profile provider, loaded the way the library's adapter loads the package (keys/credential-chain.ts). */
async function profileProvider(name: string): Promise<Provider> {
  let ns: unknown;
  try {
    ns = await importCredentials();
  } catch (cause) {
    throw new CseError(ErrorCode.MISSING_DEPENDENCY, `--profile needs the optional package ${CREDENTIALS_PACKAGE}: npm install ${CREDENTIALS_PACKAGE}`, { cause });
  }
  const candidates = [ns, (ns as { default?: unknown } | null)?.default] as (Partial<ProfileModule> | null | undefined)[];
  const m = candidates.find((c) => c?.ProfileCredentialsProvider !== undefined);
  if (m?.ProfileCredentialsProvider === undefined) {
    throw new CseError(ErrorCode.MISSING_DEPENDENCY, `${CREDENTIALS_PACKAGE} exports no ProfileCredentialsProvider (expected version 2.x)`);
  }
  return m.ProfileCredentialsProvider.builder().withProfileName(name).build();
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

function firstLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0] ?? '';
}

/**
 * Finds credentials for `target` (used in messages).
 * @param env - the environment (for the `OSS_*` variables; the official chain reads the process's own)
 * @param profile - `--profile NAME` (or the configured profile)
 * @throws CseError ERR_CSE_INVALID_ARGUMENT when no source has credentials (the message lists where it looked)
 */
export async function resolveCredentials(env: NodeJS.ProcessEnv, profile: string | undefined, target: string): Promise<ResolvedCredentials> {
  if (profile === undefined) {
    const id = nonEmpty(env[OssCredentialEnv.ACCESS_KEY_ID]);
    const secret = nonEmpty(env[OssCredentialEnv.ACCESS_KEY_SECRET]);
    if (id !== undefined && secret !== undefined) {
      return { accessKeyId: id, accessKeySecret: secret, securityToken: nonEmpty(env[OssCredentialEnv.SESSION_TOKEN]), source: OssCredentialEnv.ACCESS_KEY_ID, refresh: undefined };
    }
  }
  const noCredentials = (e: unknown): CseError => {
    const where =
      profile === undefined
        ? `set ${OssCredentialEnv.ACCESS_KEY_ID} and ${OssCredentialEnv.ACCESS_KEY_SECRET} (or ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET), ` +
          'or add a [default] profile to ~/.alibabacloud/credentials (or pick one with --profile NAME)'
        : `check the [${profile}] section of ${nonEmpty(process.env.ALIBABA_CLOUD_CREDENTIALS_FILE) ?? '~/.alibabacloud/credentials'}`;
    return new CseError(ErrorCode.INVALID_ARGUMENT, `no credentials for ${target}: ${where} (${firstLine((e as { cause?: unknown }).cause ?? e)})`, { cause: e });
  };
  // The default chain goes through the library's adapter (keys/credential-chain.ts), so that the CLI and KmsMasterKey
  // find credentials the same way; --profile asks the package's profile provider for that one section.
  const fetch = async (): Promise<{ accessKeyId?: string; accessKeySecret?: string; securityToken?: string; providerName?: string }> => {
    if (profile !== undefined) return (await profileProvider(profile)).getCredentials();
    return resolveChainCredentials(await defaultCredentialChain());
  };
  let got;
  try {
    got = await fetch();
  } catch (e) {
    if (e instanceof CseError && e.cseCode === ErrorCode.MISSING_DEPENDENCY) throw e;
    throw noCredentials(e);
  }
  if (nonEmpty(got.accessKeyId) === undefined || nonEmpty(got.accessKeySecret) === undefined) {
    throw new CseError(ErrorCode.INVALID_ARGUMENT, `the credentials found for ${target} have no AccessKey ID or secret`);
  }
  const token = nonEmpty(got.securityToken);
  return {
    accessKeyId: got.accessKeyId ?? '',
    accessKeySecret: got.accessKeySecret ?? '',
    securityToken: token,
    source: profile === undefined ? `the default credential chain (${got.providerName ?? 'default'})` : `profile ${profile}`,
    // The provider caches and renews temporary credentials itself; ali-oss asks it again on its refresh interval.
    refresh:
      token === undefined
        ? undefined
        : async () => {
            const fresh = await fetch();
            return { accessKeyId: fresh.accessKeyId ?? '', accessKeySecret: fresh.accessKeySecret ?? '', stsToken: fresh.securityToken ?? '' };
          },
  };
}
