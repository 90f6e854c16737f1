/**
 * The seam between {@link KmsMasterKey} and the official KMS SDK (`@alicloud/kms20160120`, an optional peer
 * dependency): the client shape we rely on, request objects the SDK accepts, the lazy loader, credential and endpoint
 * resolution, and the classification of the SDK's errors.
 *
 * Only this file knows how the SDK is loaded and configured; `kms.ts` talks to a {@link KmsClientLike}.
 *
 * @packageDocumentation
 */

import type { CredentialChain } from './credential-chain.js';
import { CseError, ErrorCode } from '../errors.js';

/** The npm package of the official KMS client, loaded lazily the first time a client must be built. */
export const KMS_SDK_PACKAGE = '@alicloud/kms20160120';

/**
 * What oss-cse passes to `encrypt`. Besides the typed fields, the object carries `encryptionContext` as a JSON string
 * when a context is set (KMS's documented form; see the note on {@link KmsClientLike}) and a `toMap()` giving the
 * KMS parameter names (`KeyId`, `Plaintext`, `EncryptionContext`), which the official client uses to build the query.
 */
export interface KmsEncryptRequest {
  /** The CMK: key id, `alias/<name>` or ARN. */
  readonly keyId: string;
  /** The text to encrypt (for OSS data keys: base64 of the raw bytes). */
  readonly plaintext: string;
  /** The encryption context as a JSON string, when one is set. */
  readonly encryptionContext?: unknown;
}

/** What oss-cse passes to `decrypt` (plus `encryptionContext` and `toMap()`, as for {@link KmsEncryptRequest}). */
export interface KmsDecryptRequest {
  /** The CiphertextBlob, a base64 string. */
  readonly ciphertextBlob: string;
  /** The encryption context as a JSON string, when one is set. */
  readonly encryptionContext?: unknown;
}

/** What oss-cse passes to `describeKey` (plus `toMap()`). */
export interface KmsDescribeKeyRequest {
  /** The CMK: key id, `alias/<name>` or ARN. */
  readonly keyId: string;
}

/** The fields of an Encrypt answer oss-cse reads (directly on the result, or under `body`). */
export interface KmsEncryptResult {
  /** The ciphertext blob (base64), stored as the header value. */
  readonly ciphertextBlob?: string;
  /** The key id that encrypted. */
  readonly keyId?: string;
  /** KMS request id, for error reports. */
  readonly requestId?: string;
}

/** The fields of a Decrypt answer oss-cse reads (directly on the result, or under `body`). */
export interface KmsDecryptResult {
  /** The plaintext given to Encrypt (here: base64 of the data key or IV). */
  readonly plaintext?: string;
  /** The key id that decrypted. */
  readonly keyId?: string;
  /** KMS request id, for error reports. */
  readonly requestId?: string;
}

/** The fields of a DescribeKey answer oss-cse reads (directly on the result, or under `body`). */
export interface KmsDescribeKeyResult {
  /** The key's metadata; only its key id is read. */
  readonly keyMetadata?: {
    /** The key id behind an alias or ARN. */
    readonly keyId?: string;
  };
}

/**
 * A KMS client: an instance of `@alicloud/kms20160120`'s client, or any object with the same methods.
 *
 * - Results are read from the returned object or from its `body` (newer SDK generations wrap answers in
 *   `{ headers, statusCode, body }`); camelCase or KMS's PascalCase field names are both accepted.
 * - Failures should throw as the official client does: an error whose `data` is the KMS JSON error body
 *   (`data.Code`, `data.RequestId`) for a KMS refusal, and a plain error without `data` for a network failure.
 * - `encryptionContext` is passed as the JSON **string** KMS documents. The 1.x client types it as an object and
 *   would flatten an object into `EncryptionContext.<name>` parameters, which KMS does not document (see
 *   server/src/kms/KMS.md), so a string is what must travel.
 * - `describeKey` is optional: it is used only to learn the key id behind an alias (see {@link KmsMasterKey}).
 */
export interface KmsClientLike {
  /** KMS `Encrypt`. */
  encrypt(request: KmsEncryptRequest): Promise<KmsEncryptResult | { readonly body?: KmsEncryptResult }>;
  /** KMS `Decrypt`. */
  decrypt(request: KmsDecryptRequest): Promise<KmsDecryptResult | { readonly body?: KmsDecryptResult }>;
  /** KMS `DescribeKey` (optional). */
  describeKey?(request: KmsDescribeKeyRequest): Promise<KmsDescribeKeyResult | { readonly body?: KmsDescribeKeyResult }>;
}

/** An Alibaba Cloud access key, optionally with an STS security token. */
export interface KmsCredentials {
  /** AccessKey ID (`STS.…` for STS credentials). */
  readonly accessKeyId: string;
  /** AccessKey secret. */
  readonly accessKeySecret: string;
  /** STS security token, for temporary credentials. */
  readonly securityToken?: string;
}

/** The environment variables the Alibaba Cloud SDKs read credentials from. */
export const KmsCredentialEnv = {
  ACCESS_KEY_ID: 'ALIBABA_CLOUD_ACCESS_KEY_ID',
  ACCESS_KEY_SECRET: 'ALIBABA_CLOUD_ACCESS_KEY_SECRET',
  SECURITY_TOKEN: 'ALIBABA_CLOUD_SECURITY_TOKEN',
} as const;

function nonEmptyString(x: unknown): x is string {
  return typeof x === 'string' && x !== '';
}

/**
 * The credentials to sign KMS requests with: the explicit ones when given, else the environment variables
 * `ALIBABA_CLOUD_ACCESS_KEY_ID`, `ALIBABA_CLOUD_ACCESS_KEY_SECRET` and (for STS) `ALIBABA_CLOUD_SECURITY_TOKEN`, as
 * the Alibaba Cloud SDKs read them. Error messages name variables and fields, never their values.
 *
 * @param explicit - credentials given by the caller
 * @param env - the environment (default `process.env`)
 * @throws CseError ERR_CSE_INVALID_ARGUMENT when explicit credentials are malformed, or none are given and the
 *   environment lacks the access key id or secret
 */
export function resolveKmsCredentials(explicit: KmsCredentials | undefined, env: NodeJS.ProcessEnv = process.env): KmsCredentials {
  if (explicit !== undefined) {
    if (typeof explicit !== 'object' || (explicit as unknown) === null) {
      throw new CseError(ErrorCode.INVALID_ARGUMENT, 'credentials must be an object { accessKeyId, accessKeySecret, securityToken? }');
    }
    if (!nonEmptyString(explicit.accessKeyId) || !nonEmptyString(explicit.accessKeySecret)) {
      throw new CseError(ErrorCode.INVALID_ARGUMENT, 'credentials need a non-empty accessKeyId and accessKeySecret');
    }
    const token: unknown = explicit.securityToken;
    if (token !== undefined && !nonEmptyString(token)) {
      throw new CseError(ErrorCode.INVALID_ARGUMENT, 'credentials.securityToken must be a non-empty string when given');
    }
    return token === undefined
      ? { accessKeyId: explicit.accessKeyId, accessKeySecret: explicit.accessKeySecret }
      : { accessKeyId: explicit.accessKeyId, accessKeySecret: explicit.accessKeySecret, securityToken: token };
  }
  const id = env[KmsCredentialEnv.ACCESS_KEY_ID];
  const secret = env[KmsCredentialEnv.ACCESS_KEY_SECRET];
  const token = env[KmsCredentialEnv.SECURITY_TOKEN];
  const missing = [
    ...(nonEmptyString(id) ? [] : [KmsCredentialEnv.ACCESS_KEY_ID]),
    ...(nonEmptyString(secret) ? [] : [KmsCredentialEnv.ACCESS_KEY_SECRET]),
  ];
  if (!nonEmptyString(id) || !nonEmptyString(secret)) {
    throw new CseError(
      ErrorCode.INVALID_ARGUMENT,
      `no KMS credentials: pass credentials { accessKeyId, accessKeySecret, securityToken? } or set ${missing.join(' and ')}` +
        ` (and ${KmsCredentialEnv.SECURITY_TOKEN} for STS credentials)`,
    );
  }
  return nonEmptyString(token) ? { accessKeyId: id, accessKeySecret: secret, securityToken: token } : { accessKeyId: id, accessKeySecret: secret };
}

/**
 * True when the environment names the access key id or the secret: both make the first provider of the default
 * chain; one alone is a misconfiguration that {@link resolveKmsCredentials} reports, never a reason to fall through to
 * other credentials silently.
 */
export function hasAnyEnvCredential(env: NodeJS.ProcessEnv): boolean {
  return nonEmptyString(env[KmsCredentialEnv.ACCESS_KEY_ID]) || nonEmptyString(env[KmsCredentialEnv.ACCESS_KEY_SECRET]);
}

/** Where the KMS client connects: the `host[:port]` and the scheme. */
export interface KmsEndpoint {
  /** `host` or `host:port` (IPv6 in brackets). */
  readonly host: string;
  /** `http` or `https`. */
  readonly protocol: 'http' | 'https';
}

const HOST_PORT = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$/;

/**
 * Parses a KMS endpoint: an `http://` or `https://` URL (no credentials, path `/` or none, no query or fragment), or
 * a bare `host[:port]`, which means HTTPS (real KMS; use an `http://` URL for a local emulator).
 *
 * @param endpoint - e.g. `https://kms.cn-hangzhou.aliyuncs.com`, `http://127.0.0.1:9000`, `kms-vpc.cn-hangzhou.aliyuncs.com`
 * @throws CseError ERR_CSE_INVALID_ARGUMENT for anything else
 */
export function parseKmsEndpoint(endpoint: string): KmsEndpoint {
  const bad = (why: string): never => {
    throw new CseError(ErrorCode.INVALID_ARGUMENT, `invalid KMS endpoint ${JSON.stringify(endpoint)}: ${why}`);
  };
  if (typeof endpoint !== 'string' || endpoint === '') return bad('expected an http(s) URL or host:port');
  if (endpoint.includes('://')) {
    let url: URL;
    try {
      url = new URL(endpoint);
    } catch {
      return bad('not a valid URL');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return bad('the scheme must be http or https');
    if (url.username !== '' || url.password !== '') return bad('credentials do not belong in the endpoint');
    // The RPC API always calls path "/": a URL with another path points at something else.
    if (url.pathname !== '/' || url.search !== '' || url.hash !== '') return bad('expected no path, query or fragment');
    return { host: url.host, protocol: url.protocol === 'http:' ? 'http' : 'https' };
  }
  if (!HOST_PORT.test(endpoint)) return bad('expected an http(s) URL or host[:port]');
  const port = /:([0-9]{1,5})$/.exec(endpoint)?.[1];
  if (port !== undefined && (Number(port) < 1 || Number(port) > 65535)) return bad('the port must be 1 to 65535');
  return { host: endpoint, protocol: 'https' };
}

/** Loads the SDK module; the default is a dynamic `import('@alicloud/kms20160120')`. */
export type KmsSdkLoader = () => Promise<unknown>;

/** The default loader: dynamic `import()`, so the package is needed only when a client must be built. */
export const importKmsSdk: KmsSdkLoader = async () => (await import(KMS_SDK_PACKAGE)) as unknown;

/** How to build a client (see {@link createKmsClient}). */
export interface KmsClientConfig {
  /** Region id, e.g. `cn-hangzhou`. */
  readonly region: string;
  /** The endpoint (see {@link parseKmsEndpoint}); default: the SDK's regional endpoint `kms.<region>.aliyuncs.com`. */
  readonly endpoint?: string;
  /** Resolved credentials (or `credential`). */
  readonly credentials?: KmsCredentials;
  /** A credential source the SDK asks itself (the official default chain, `keys/credential-chain.ts`). */
  readonly credential?: CredentialChain;
}

function isModuleNotFound(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND';
}

type ClientConstructor = new (config: Record<string, unknown>) => unknown;

/** Finds the client class in the module namespace: ESM import of the CJS module gives `{ default: exports }`. */
function clientClassOf(ns: unknown): ClientConstructor | undefined {
  const candidates: unknown[] = [];
  const exp = (ns as { default?: unknown } | null)?.default;
  candidates.push((exp as { default?: unknown } | null | undefined)?.default, exp, (ns as { Client?: unknown } | null)?.Client);
  for (const c of candidates) {
    if (typeof c === 'function') return c as ClientConstructor;
  }
  return undefined;
}

/** True when `x` has the `encrypt` and `decrypt` methods of a {@link KmsClientLike}. */
export function isKmsClientLike(x: unknown): x is KmsClientLike {
  const c = x as { encrypt?: unknown; decrypt?: unknown } | null;
  return typeof c === 'object' && c !== null && typeof c.encrypt === 'function' && typeof c.decrypt === 'function';
}

/**
 * Builds an official KMS client, loading `@alicloud/kms20160120` on first use.
 *
 * @param config - region, endpoint and credentials
 * @param load - how to load the SDK module (default {@link importKmsSdk})
 * @throws CseError ERR_CSE_MISSING_DEPENDENCY when the package cannot be loaded (the message says what to install);
 *   ERR_CSE_INVALID_ARGUMENT for a bad endpoint or when the SDK refuses the configuration
 */
export async function createKmsClient(config: KmsClientConfig, load: KmsSdkLoader = importKmsSdk): Promise<KmsClientLike> {
  const endpoint = config.endpoint === undefined ? undefined : parseKmsEndpoint(config.endpoint);
  let ns: unknown;
  try {
    ns = await load();
  } catch (cause) {
    throw new CseError(
      ErrorCode.MISSING_DEPENDENCY,
      isModuleNotFound(cause)
        ? `KMS master keys need the optional package ${KMS_SDK_PACKAGE}, which is not installed: npm install ${KMS_SDK_PACKAGE}`
        : `could not load the optional package ${KMS_SDK_PACKAGE} (reinstall it: npm install ${KMS_SDK_PACKAGE})`,
      { cause },
    );
  }
  const Client = clientClassOf(ns);
  if (Client === undefined) {
    throw new CseError(
      ErrorCode.MISSING_DEPENDENCY,
      `${KMS_SDK_PACKAGE} was loaded but exports no client class (expected version 1.x: npm install ${KMS_SDK_PACKAGE}@^1.2.0)`,
    );
  }
  const { credentials } = config;
  if (credentials === undefined && config.credential === undefined) {
    throw new CseError(ErrorCode.INVALID_ARGUMENT, 'a KMS client needs credentials or a credential chain');
  }
  // A fresh plain object: the client reads it as its Config and writes `type` into it.
  const sdkConfig: Record<string, unknown> = {
    ...(credentials === undefined
      ? { credential: config.credential }
      : { accessKeyId: credentials.accessKeyId, accessKeySecret: credentials.accessKeySecret }),
    regionId: config.region,
    ...(credentials?.securityToken === undefined ? {} : { securityToken: credentials.securityToken }),
    ...(endpoint === undefined ? { protocol: 'https' } : { endpoint: endpoint.host, protocol: endpoint.protocol }),
  };
  let client: unknown;
  try {
    client = new Client(sdkConfig);
  } catch (cause) {
    // The SDK's messages name parameters, not their values.
    throw new CseError(ErrorCode.INVALID_ARGUMENT, `${KMS_SDK_PACKAGE} refused the client configuration`, { cause });
  }
  if (!isKmsClientLike(client)) {
    throw new CseError(ErrorCode.MISSING_DEPENDENCY, `${KMS_SDK_PACKAGE} built a client without encrypt/decrypt (expected version 1.x)`);
  }
  return client;
}

/**
 * A request object both the official client and look-alikes accept: the camelCase fields as own properties, plus a
 * non-enumerable `toMap()` with KMS's parameter names. The 1.x client builds its query with `$tea.toMap(request)`,
 * which calls `toMap()` on objects that are not its own `Model` class (the path it keeps for models from another
 * tea version), and `validateModel` is a no-op there.
 */
export function kmsRequest<T extends Readonly<Record<string, string | undefined>>>(fields: T, names: Readonly<Record<keyof T & string, string>>): T {
  const own: Record<string, string> = {};
  for (const [k, v] of Object.entries(fields)) if (v !== undefined) own[k] = v;
  Object.defineProperty(own, 'toMap', {
    enumerable: false,
    value: (): Record<string, string> => {
      const map: Record<string, string> = {};
      for (const [k, v] of Object.entries(own)) {
        const name = (names as Readonly<Record<string, string>>)[k];
        if (name !== undefined) map[name] = v;
      }
      return map;
    },
  });
  Object.defineProperty(own, 'validate', { enumerable: false, value: (): void => undefined });
  return own as T;
}

/** How a failed KMS call is classified (see {@link classifyKmsError}). */
export interface KmsFailureInfo {
  /** The KMS error code (`data.Code`, e.g. `InvalidCiphertext`), when KMS answered. */
  readonly kmsCode: string | undefined;
  /** The KMS request id, when KMS answered. */
  readonly requestId: string | undefined;
  /** The error's own `code` when KMS did not answer (e.g. `ECONNRESET`). */
  readonly networkCode: string | undefined;
  /** True when the same call may succeed later. */
  readonly retryable: boolean;
}

/** KMS codes worth retrying: the service or its gateway is momentarily unable, not refusing. */
function isTransientKmsCode(code: string): boolean {
  return (
    code.startsWith('ServiceUnavailable') ||
    code === 'InternalFailure' ||
    code === 'InternalError' ||
    code.startsWith('Throttling') ||
    code === 'Rejected.Throttling'
  );
}

/**
 * Classifies an error thrown by a KMS client (rules in server/src/kms/KMS.md, "How the official client surfaces
 * errors"): with a KMS answer (`data.Code`), only `ServiceUnavailable*`, `InternalFailure`/`InternalError` and
 * `Throttling*` are retryable; `InvalidCiphertext`, `Forbidden.*`, `InvalidAccessKeyId.*`, `SignatureDoesNotMatch`,
 * `Invalid*`, `MissingParameter` and every other code are not. Without a KMS answer the failure is the network's
 * (socket error, timeout, a proxy's non-JSON page) and is retryable, except for programming errors
 * (`ReferenceError`, `RangeError`, and a `TypeError` without a `cause`, unlike fetch's network `TypeError`).
 */
export function classifyKmsError(e: unknown): KmsFailureInfo {
  const err = (typeof e === 'object' && e !== null ? e : {}) as { data?: unknown; code?: unknown; cause?: unknown };
  const data = typeof err.data === 'object' && err.data !== null ? (err.data as Record<string, unknown>) : undefined;
  const rawCode = data?.Code ?? data?.code;
  const rawRequestId = data?.RequestId ?? data?.requestId;
  const requestId = nonEmptyString(rawRequestId) ? rawRequestId : undefined;
  if (nonEmptyString(rawCode)) {
    return { kmsCode: rawCode, requestId, networkCode: undefined, retryable: isTransientKmsCode(rawCode) };
  }
  const networkCode = nonEmptyString(err.code) ? err.code : undefined;
  const programming = e instanceof ReferenceError || e instanceof RangeError || (e instanceof TypeError && err.cause === undefined && networkCode === undefined);
  return { kmsCode: undefined, requestId, networkCode, retryable: !programming };
}
