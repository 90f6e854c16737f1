/**
 * The KMS side of the CLI's key options: the `--kms-key-id`, `--kms-region` and `--kms-endpoint` flags every command
 * that takes keys accepts, how the KMS region, endpoint and credentials are resolved, building {@link KmsMasterKey}s,
 * and the public description of a configured key for `oss-cse keys list` (never a secret).
 *
 * @packageDocumentation
 */

import { CseError, ErrorCode } from '../errors.js';
import { encodeMatDesc } from '../format/matdesc.js';
import type { MatDesc } from '../format/types.js';
import { classifyKmsError, createKmsClient, kmsRequest, KmsCredentialEnv, type KmsCredentials } from '../keys/kms-client.js';
import { KmsMasterKey, type KmsWriteForm } from '../keys/kms.js';
import type { MasterKey } from '../keys/master-key.js';

/** `parseArgs` options for KMS keys (part of every command that takes keys). */
export const KMS_OPTIONS = {
  'kms-key-id': { type: 'string', multiple: true },
  'kms-region': { type: 'string' },
  'kms-endpoint': { type: 'string' },
} as const;

/** The parsed values of {@link KMS_OPTIONS}. */
export interface KmsFlagValues {
  readonly 'kms-key-id'?: string[] | undefined;
  readonly 'kms-region'?: string | undefined;
  readonly 'kms-endpoint'?: string | undefined;
}

/** Environment variable with the default KMS region (as the Alibaba Cloud SDKs name it). */
export const KMS_REGION_ENV = 'ALIBABA_CLOUD_REGION_ID';

/** Environment variables of OSS credentials, used for KMS when the `ALIBABA_CLOUD_*` ones are not set. */
const OSS_CREDENTIAL_ENV = { id: 'OSS_ACCESS_KEY_ID', secret: 'OSS_ACCESS_KEY_SECRET', token: 'OSS_SESSION_TOKEN' } as const;

/** Help lines for {@link KMS_OPTIONS}; `defaultEndpoint` says where KMS calls go by default for this command. */
export function kmsHelp(defaultEndpoint: string): string {
  return `  --kms-key-id ID          KMS key (key id, alias/NAME or ARN) that decrypts; repeat for several keys; the first
                           one also encrypts when no --public-key is given
  --kms-region REGION      KMS region (default: $${KMS_REGION_ENV}, else the OSS region)
  --kms-endpoint URL       KMS endpoint, http(s)://host[:port]
                           (default: ${defaultEndpoint})
  KMS credentials: ${KmsCredentialEnv.ACCESS_KEY_ID} / ${KmsCredentialEnv.ACCESS_KEY_SECRET} (${KmsCredentialEnv.SECURITY_TOKEN} for STS),
  else ${OSS_CREDENTIAL_ENV.id} / ${OSS_CREDENTIAL_ENV.secret}.`;
}

/** What the target contributes to KMS settings (the embedded server serves KMS on its own port). */
export interface KmsDefaults {
  /** Region when no flag or environment variable gives one. */
  readonly region?: string | undefined;
  /** Endpoint when no `--kms-endpoint` is given. */
  readonly endpoint?: string | undefined;
  /** Credentials for that endpoint (always used with it), else a last resort after the environment's. */
  readonly credentials?: KmsCredentials | undefined;
  /** Where `credentials` come from, for `keys list` (e.g. `the embedded server`). */
  readonly credentialSource?: string | undefined;
}

/** Resolved KMS settings shared by the command's KMS keys (a keys-file entry may override region and endpoint). */
export interface KmsSettings {
  /** Region id, when known. */
  readonly region: string | undefined;
  /** Endpoint URL, when not the regional default. */
  readonly endpoint: string | undefined;
  /** Credentials, when any were found. */
  readonly credentials: KmsCredentials | undefined;
  /** Where the credentials come from (a variable name or the target), never their values. */
  readonly credentialSource: string | undefined;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

function fromEnv(env: NodeJS.ProcessEnv, id: string, secret: string, token: string): KmsCredentials | undefined {
  const accessKeyId = nonEmpty(env[id]);
  const accessKeySecret = nonEmpty(env[secret]);
  if (accessKeyId === undefined || accessKeySecret === undefined) return undefined;
  const securityToken = nonEmpty(env[token]);
  return securityToken === undefined ? { accessKeyId, accessKeySecret } : { accessKeyId, accessKeySecret, securityToken };
}

/**
 * Resolves the KMS region, endpoint and credentials: flags first, then the environment, then the target's defaults.
 * With the target's default endpoint (the embedded server) its credentials are used, since no other would be accepted
 * there; otherwise `ALIBABA_CLOUD_*`, then `OSS_*` credentials, then the target's.
 *
 * @param flags - `--kms-region`, `--kms-endpoint`
 * @param env - the environment
 * @param defaults - the target's contribution
 */
export function resolveKmsSettings(flags: KmsFlagValues, env: NodeJS.ProcessEnv, defaults: KmsDefaults = {}): KmsSettings {
  const region = nonEmpty(flags['kms-region']) ?? nonEmpty(env[KMS_REGION_ENV]) ?? defaults.region;
  const flagEndpoint = nonEmpty(flags['kms-endpoint']);
  const endpoint = flagEndpoint ?? defaults.endpoint;
  if (flagEndpoint === undefined && defaults.endpoint !== undefined) {
    return { region, endpoint, credentials: defaults.credentials, credentialSource: defaults.credentialSource };
  }
  const alibaba = fromEnv(env, KmsCredentialEnv.ACCESS_KEY_ID, KmsCredentialEnv.ACCESS_KEY_SECRET, KmsCredentialEnv.SECURITY_TOKEN);
  if (alibaba !== undefined) return { region, endpoint, credentials: alibaba, credentialSource: KmsCredentialEnv.ACCESS_KEY_ID };
  const oss = fromEnv(env, OSS_CREDENTIAL_ENV.id, OSS_CREDENTIAL_ENV.secret, OSS_CREDENTIAL_ENV.token);
  if (oss !== undefined) return { region, endpoint, credentials: oss, credentialSource: OSS_CREDENTIAL_ENV.id };
  return { region, endpoint, credentials: defaults.credentials, credentialSource: defaults.credentialSource };
}

/** A KMS key as configured (flag or keys-file entry), before it is built. */
export interface KmsKeySpec {
  /** Key id, `alias/NAME` or ARN. */
  readonly keyId: string;
  /** Material description. */
  readonly description?: MatDesc | undefined;
  /** Region override (keys file). */
  readonly region?: string | undefined;
  /** Endpoint override (keys file). */
  readonly endpoint?: string | undefined;
  /** KMS encryption context (keys file). */
  readonly encryptionContext?: Readonly<Record<string, string>> | undefined;
  /** Which V2 form to write (keys file; default `go`). */
  readonly writeForm?: KmsWriteForm | undefined;
}

/**
 * The region of a KMS call with an explicit endpoint and no region given: the endpoint decides where requests go, so
 * no region is required; it is read from a regional host name (`kms[-vpc].REGION.aliyuncs.com`), else a nominal one
 * (the SDK wants some region id; it does not change the requests sent to the endpoint).
 */
export function regionOfEndpoint(endpoint: string | undefined): string | undefined {
  if (endpoint === undefined) return undefined;
  return /(?:^|\/\/)kms(?:-vpc)?\.([a-z0-9-]+)\.aliyuncs\.com/.exec(endpoint)?.[1] ?? 'cn-hangzhou';
}

/**
 * Builds a KMS master key from its spec and the resolved settings.
 * @throws CseError ERR_CSE_INVALID_ARGUMENT when no region or no credentials are known, or an option is malformed
 */
export function buildKmsKey(spec: KmsKeySpec, settings: KmsSettings): KmsMasterKey {
  const region = spec.region ?? settings.region ?? regionOfEndpoint(spec.endpoint ?? settings.endpoint);
  if (region === undefined) {
    throw new CseError(
      ErrorCode.INVALID_ARGUMENT,
      `KMS key ${spec.keyId} needs a region or an endpoint: give --kms-region or --kms-endpoint (or set ${KMS_REGION_ENV}, or an OSS --region)`,
    );
  }
  if (settings.credentials === undefined) {
    throw new CseError(
      ErrorCode.INVALID_ARGUMENT,
      `KMS key ${spec.keyId} needs credentials: set ${KmsCredentialEnv.ACCESS_KEY_ID} and ${KmsCredentialEnv.ACCESS_KEY_SECRET} ` +
        `(or ${OSS_CREDENTIAL_ENV.id} and ${OSS_CREDENTIAL_ENV.secret})`,
    );
  }
  const endpoint = spec.endpoint ?? settings.endpoint;
  return new KmsMasterKey({
    keyId: spec.keyId,
    region,
    credentials: settings.credentials,
    ...(endpoint === undefined ? {} : { endpoint }),
    ...(spec.description === undefined ? {} : { description: spec.description }),
    ...(spec.encryptionContext === undefined ? {} : { encryptionContext: spec.encryptionContext }),
    ...(spec.writeForm === undefined ? {} : { writeForm: spec.writeForm }),
  });
}

/** A configured key's public facts, as `oss-cse keys list` prints them. */
export interface KeyListing {
  /** `encrypt` for the key new objects are encrypted with (it may decrypt too), else `decrypt`. */
  readonly role: 'encrypt' | 'decrypt';
  /** `rsa` or `kms`. */
  readonly kind: 'rsa' | 'kms';
  /** Display name (`rsa-2048:<fingerprint prefix>`, `kms:<key id>`). */
  readonly name: string;
  /** Material description, compact JSON. */
  readonly description: string;
  /** Whether it can decrypt (an RSA public key cannot). */
  readonly canDecrypt: boolean;
  /** RSA: the PEM file. */
  readonly file?: string;
  /** RSA: SHA-256 of the public key (SPKI DER), hex. */
  readonly fingerprint?: string;
  /** RSA: the wrap padding written. */
  readonly wrap?: string;
  /** KMS: key id, alias or ARN. */
  readonly keyId?: string;
  /** KMS: region. */
  readonly region?: string;
  /** KMS: endpoint (absent: the regional one). */
  readonly endpoint?: string;
  /** KMS: where the credentials come from (never their values). */
  readonly credentials?: string;
  /** KMS: names of the encryption-context entries (values not shown). */
  readonly encryptionContext?: readonly string[];
  /** KMS: the V2 form written. */
  readonly writeForm?: string;
}

/**
 * The listing of an RSA key.
 * @param key - the loaded key
 * @param role - whether it encrypts
 * @param file - the PEM file it came from
 */
export function listRsaKey(key: MasterKey, role: 'encrypt' | 'decrypt', file: string | undefined): KeyListing {
  const rsa = key as MasterKey & { readonly fingerprint?: unknown; readonly wrapPadding?: unknown };
  return {
    role,
    kind: key.kind,
    name: key.name,
    description: encodeMatDesc(key.description),
    canDecrypt: key.canUnwrap !== false,
    ...(file === undefined ? {} : { file }),
    ...(typeof rsa.fingerprint === 'string' ? { fingerprint: rsa.fingerprint } : {}),
    ...(typeof rsa.wrapPadding === 'string' ? { wrap: rsa.wrapPadding } : {}),
  };
}

/**
 * The listing of a KMS key from its configuration (no client is built and no credentials are needed, so that a
 * configuration can be inspected anywhere).
 * @param spec - the key as configured
 * @param role - whether it encrypts
 * @param settings - the resolved KMS settings
 */
export function listKmsKey(spec: KmsKeySpec, role: 'encrypt' | 'decrypt', settings: KmsSettings): KeyListing {
  const region = spec.region ?? settings.region;
  const endpoint = spec.endpoint ?? settings.endpoint;
  return {
    role,
    kind: 'kms',
    name: `kms:${spec.keyId}`,
    description: encodeMatDesc(spec.description ?? {}),
    canDecrypt: true,
    keyId: spec.keyId,
    ...(region === undefined ? {} : { region }),
    ...(endpoint === undefined ? {} : { endpoint }),
    credentials: settings.credentialSource ?? (settings.credentials === undefined ? 'none found' : 'given'),
    ...(spec.encryptionContext === undefined ? {} : { encryptionContext: Object.keys(spec.encryptionContext) }),
    writeForm: spec.writeForm ?? 'go',
  };
}

/**
 * Creates a KMS key (KMS `CreateKey`, symmetric, for ENCRYPT/DECRYPT) with the resolved settings and returns its id:
 * a convenience for the embedded server's KMS emulator and for trying things out; production keys are usually made
 * in the console or by infrastructure tooling.
 *
 * @param settings - region, endpoint and credentials
 * @param description - the key's description in KMS (not a material description)
 * @throws CseError ERR_CSE_INVALID_ARGUMENT (no region or credentials), ERR_CSE_MISSING_DEPENDENCY (no SDK),
 *   ERR_CSE_KMS (KMS refused or could not be reached; the message has the KMS code and request id, never secrets)
 */
export async function createKmsKey(settings: KmsSettings, description: string | undefined): Promise<string> {
  const region = settings.region ?? regionOfEndpoint(settings.endpoint);
  if (region === undefined) {
    throw new CseError(ErrorCode.INVALID_ARGUMENT, `creating a KMS key needs a region or an endpoint: give --kms-region or --kms-endpoint (or set ${KMS_REGION_ENV})`);
  }
  if (settings.credentials === undefined) {
    throw new CseError(ErrorCode.INVALID_ARGUMENT, `creating a KMS key needs credentials: set ${KmsCredentialEnv.ACCESS_KEY_ID} and ${KmsCredentialEnv.ACCESS_KEY_SECRET}`);
  }
  const client = await createKmsClient({
    region,
    credentials: settings.credentials,
    ...(settings.endpoint === undefined ? {} : { endpoint: settings.endpoint }),
  });
  const create = (client as { createKey?: (request: unknown) => Promise<unknown> }).createKey?.bind(client);
  if (create === undefined) throw new CseError(ErrorCode.MISSING_DEPENDENCY, 'the KMS client has no createKey (expected @alicloud/kms20160120 1.x)');
  let answer: unknown;
  try {
    answer = await create(kmsRequest({ description }, { description: 'Description' }));
  } catch (e) {
    const info = classifyKmsError(e);
    const what = info.kmsCode ?? info.networkCode ?? 'no answer';
    throw new CseError(ErrorCode.KMS, `KMS CreateKey failed: ${what}${info.requestId === undefined ? '' : ` (RequestId ${info.requestId})`}`, {
      retryable: info.retryable,
      cause: e,
    });
  }
  const body = (answer as { body?: unknown } | null)?.body ?? answer;
  const meta = (body as { keyMetadata?: unknown; KeyMetadata?: unknown } | null);
  const metadata = (meta?.keyMetadata ?? meta?.KeyMetadata) as { keyId?: unknown; KeyId?: unknown } | undefined;
  const id = metadata?.keyId ?? metadata?.KeyId;
  if (typeof id !== 'string' || id === '') throw new CseError(ErrorCode.KMS, 'KMS CreateKey answered without a KeyId');
  return id;
}
