/**
 * The KMS master key (`KMS/ALICLOUD`): the data key and IV of an object wrapped by Alibaba Cloud KMS, through the
 * official `@alicloud/kms20160120` client (an optional peer dependency, loaded only when a client must be built).
 *
 * Wire forms (`oss-go-java.md` §2, `oss2-python.md` §2.3 and §3, FORMAT.md §2.1):
 * - **Go/Java form** (written by default): the data key and the IV are generated locally and each sent to KMS
 *   `Encrypt` as `Plaintext = base64(raw bytes)`; each header is the returned `CiphertextBlob`, as is.
 * - **oss2 V2 form** (oss2 ≥ 2.11): the header is base64 of the CiphertextBlob text (base64 twice); the data key
 *   came from `GenerateDataKey`, the IV from `Encrypt(base64(iv))`. Both decrypt to base64 of the raw bytes.
 * - **V1 form** (oss2 2.5–2.10, `x-oss-meta-oss-crypto-*`, wrap-alg `kms`): the key header is a GenerateDataKey
 *   blob as is (Decrypt → base64 of 32 bytes); the start header is the blob of `Encrypt(Plaintext="<decimal>")`, whose
 *   Decrypt Plaintext *is* the decimal initial counter, with no base64 step.
 *
 * The two V2 forms do not interoperate among the peers (oss2 cannot read Go/Java's, nor the reverse); we read both
 * and can write either (`writeForm`).
 *
 * One file over 600 lines on purpose: the two header forms (Go/Java and oss2), credential resolution and the key/IV
 * wraps share one lazily built client and its retry policy.
 *
 * @packageDocumentation
 */

import { setTimeout as sleep } from 'node:timers/promises';
import { CseError, ErrorCode, type CseErrorCode } from '../errors.js';
import { encodeBase64, isStrictBase64 } from '../format/base64.js';
import { kmsCiphertextBlob, type KmsBlobForm } from '../format/envelope.js';
import { V1Header, V2Header, WrapAlgorithm } from '../format/headers.js';
import { DATA_KEY_SIZE, IV_SIZE, counterBlockFromDecimal } from '../format/layout.js';
import { assertMatDesc } from '../format/matdesc.js';
import type { ContentMaterial, Envelope, MatDesc, WrappedMaterial } from '../format/types.js';
import {
  classifyKmsError,
  createKmsClient,
  importKmsSdk,
  isKmsClientLike,
  kmsRequest,
  parseKmsEndpoint,
  hasAnyEnvCredential,
  resolveKmsCredentials,
  type KmsClientLike,
  type KmsCredentials,
  type KmsSdkLoader,
} from './kms-client.js';
import type { MasterKey, UnwrapContext } from './master-key.js';
import { defaultCredentialChain, importCredentials, resolveChainCredentials, type CredentialsLoader } from './credential-chain.js';

/**
 * Which V2 form {@link KmsMasterKey.wrap} writes:
 * - `go` (default): header = CiphertextBlob, what Go, Java and C++ write and read;
 * - `oss2`: header = base64(CiphertextBlob), what oss2 ≥ 2.11 writes and reads (its `Decrypt` of a blob made by
 *   `Encrypt(base64(key))` gives the same Plaintext as one made by `GenerateDataKey`).
 */
export type KmsWriteForm = 'go' | 'oss2';

/** Retry policy for transient KMS failures (see {@link KmsMasterKey}). */
export interface KmsRetryOptions {
  /** Attempts per KMS call, the first included: an integer from 1 (no retry) to 10; default 3. */
  readonly attempts?: number;
  /** Delay before the first retry, in ms (0 to 60000); default 100. Each retry doubles it, up to `maxDelayMs`. */
  readonly baseDelayMs?: number;
  /** Longest delay between two attempts, in ms (`baseDelayMs` to 60000); default 1000. */
  readonly maxDelayMs?: number;
}

/** Options common to both ways of building a {@link KmsMasterKey}. */
export interface KmsMasterKeyCommonOptions {
  /** The customer master key: key id, `alias/<name>`, or an ARN (`acs:kms:<region>:<account>:key/<id>` or `:alias/<name>`). */
  readonly keyId: string;
  /** Material description written with objects this key encrypts (default `{}`). */
  readonly description?: MatDesc;
  /**
   * KMS encryption context (string → string), sent with every Encrypt and Decrypt as a JSON string. A blob made under
   * a context decrypts only under an equal one (compared as a map).
   */
  readonly encryptionContext?: Readonly<Record<string, string>>;
  /**
   * oss2's passphrase: adds `{"x-passphrase": passphrase}` to the encryption context (`oss2-python.md` §2.3). We build
   * it as proper JSON; oss2 concatenates the string without escaping, so a passphrase containing `"`, `\` or a control
   * character gives a different (or invalid) context there and cannot interoperate with oss2.
   */
  readonly passphrase?: string;
  /** The V2 form written by `wrap` (default `go`). Reading accepts every form. */
  readonly writeForm?: KmsWriteForm;
  /** Retries of transient KMS failures. */
  readonly retry?: KmsRetryOptions;
  /** Display name (default `kms:<keyId>`); never secret. */
  readonly name?: string;
}

/** A {@link KmsMasterKey} over a client the caller built. */
export interface KmsMasterKeyClientOptions extends KmsMasterKeyCommonOptions {
  /** An `@alicloud/kms20160120` client, or any object with the same `encrypt`/`decrypt` (see {@link KmsClientLike}). */
  readonly client: KmsClientLike;
}

/** A {@link KmsMasterKey} whose client oss-cse builds (loading `@alicloud/kms20160120` on first use). */
export interface KmsMasterKeyEndpointOptions extends KmsMasterKeyCommonOptions {
  /** Region id, e.g. `cn-hangzhou`. */
  readonly region: string;
  /**
   * The KMS endpoint: an `http(s)://host[:port]` URL or a bare `host[:port]` (HTTPS). Default: the regional endpoint
   * `kms.<region>.aliyuncs.com` over HTTPS.
   */
  readonly endpoint?: string;
  /**
   * Credentials. Default: the environment variables `ALIBABA_CLOUD_ACCESS_KEY_ID`, `ALIBABA_CLOUD_ACCESS_KEY_SECRET`
   * and, for STS credentials, `ALIBABA_CLOUD_SECURITY_TOKEN` (read when the key is constructed); without them, the
   * official default chain of `@alicloud/credentials` (OIDC, the aliyun CLI profile, the credentials file, the ECS RAM
   * role, …, with STS refresh), resolved when the first KMS request is made (`keys/credential-chain.ts`).
   */
  readonly credentials?: KmsCredentials;
  /** How to load the SDK module (default: dynamic `import('@alicloud/kms20160120')`); for bundlers and tests. */
  readonly loadSdk?: KmsSdkLoader;
  /** How to load `@alicloud/credentials` for the default chain (default: a dynamic import); for bundlers and tests. */
  readonly loadCredentials?: CredentialsLoader;
}

/** How to build a {@link KmsMasterKey}: either a ready client, or a region (plus endpoint and credentials). */
export type KmsMasterKeyOptions = KmsMasterKeyClientOptions | KmsMasterKeyEndpointOptions;

/** The KMS actions oss-cse calls. */
export type KmsAction = 'Encrypt' | 'Decrypt' | 'DescribeKey';

/** Details of a failed KMS call. */
export interface KmsRequestErrorDetails {
  /** The action that failed. */
  readonly action: KmsAction;
  /** The KMS error code (`InvalidCiphertext`, `Forbidden.KeyNotFound`…), when KMS answered. */
  readonly kmsCode: string | undefined;
  /** The KMS request id, when KMS answered. */
  readonly requestId: string | undefined;
  /** How many attempts were made. */
  readonly attempts: number;
}

/**
 * A KMS call failed. `code` is ERR_CSE_UNWRAP_FAILED when KMS refused a CiphertextBlob (`InvalidCiphertext`: not
 * made by KMS under this encryption context, or damaged), ERR_CSE_KMS otherwise; `retryable` tells a transient
 * failure (outage, throttling, network) from a refusal. Messages carry the KMS code and request id, never the KMS
 * message (a gateway's SignatureDoesNotMatch message echoes the signed parameters, data keys included) and never
 * plaintext; `cause` is the client's error, with the plaintext sent to Encrypt redacted from it.
 */
export class KmsRequestError extends CseError {
  /** The action that failed. */
  readonly action: KmsAction;
  /** The KMS error code, when KMS answered. */
  readonly kmsCode: string | undefined;
  /** The KMS request id, when KMS answered. */
  readonly requestId: string | undefined;
  /** How many attempts were made. */
  readonly attempts: number;

  /**
   * @param code - ERR_CSE_KMS or ERR_CSE_UNWRAP_FAILED
   * @param message - what failed
   * @param details - action, KMS code, request id, attempts, plus object, header, retryable and cause
   */
  constructor(
    code: CseErrorCode,
    message: string,
    details: KmsRequestErrorDetails & { readonly object?: string; readonly header?: string; readonly retryable: boolean; readonly cause?: unknown },
  ) {
    super(code, message, {
      ...(details.object === undefined ? {} : { object: details.object }),
      ...(details.header === undefined ? {} : { header: details.header }),
      retryable: details.retryable,
      ...(details.cause === undefined ? {} : { cause: details.cause }),
    });
    this.name = 'KmsRequestError';
    this.action = details.action;
    this.kmsCode = details.kmsCode;
    this.requestId = details.requestId;
    this.attempts = details.attempts;
  }
}

const DEFAULT_RETRY = { attempts: 3, baseDelayMs: 100, maxDelayMs: 1000 } as const;
const MAX_ATTEMPTS = 10;
const MAX_DELAY_MS = 60_000;
/** KMS's limit on the EncryptionContext parameter. */
const MAX_CONTEXT_LENGTH = 8192;
/** The context key oss2 puts its passphrase under (`oss2-python.md` §2.3). */
const PASSPHRASE_CONTEXT_KEY = 'x-passphrase';

const ENCRYPT_NAMES = { keyId: 'KeyId', plaintext: 'Plaintext', encryptionContext: 'EncryptionContext' } as const;
const DECRYPT_NAMES = { ciphertextBlob: 'CiphertextBlob', encryptionContext: 'EncryptionContext' } as const;
const DESCRIBE_NAMES = { keyId: 'KeyId' } as const;

interface ResolvedRetry {
  readonly attempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

function invalid(message: string): never {
  throw new CseError(ErrorCode.INVALID_ARGUMENT, message);
}

function resolveRetry(retry: KmsRetryOptions | undefined): ResolvedRetry {
  if (retry === undefined) return DEFAULT_RETRY;
  if (typeof retry !== 'object' || (retry as unknown) === null) invalid('retry must be an object { attempts?, baseDelayMs?, maxDelayMs? }');
  const attempts = retry.attempts ?? DEFAULT_RETRY.attempts;
  const baseDelayMs = retry.baseDelayMs ?? DEFAULT_RETRY.baseDelayMs;
  const maxDelayMs = retry.maxDelayMs ?? Math.max(DEFAULT_RETRY.maxDelayMs, baseDelayMs);
  if (!Number.isSafeInteger(attempts) || attempts < 1 || attempts > MAX_ATTEMPTS) {
    invalid(`retry.attempts: expected an integer from 1 to ${MAX_ATTEMPTS}, got ${String(attempts)}`);
  }
  if (!Number.isFinite(baseDelayMs) || baseDelayMs < 0 || baseDelayMs > MAX_DELAY_MS) {
    invalid(`retry.baseDelayMs: expected 0 to ${MAX_DELAY_MS}, got ${String(baseDelayMs)}`);
  }
  if (!Number.isFinite(maxDelayMs) || maxDelayMs < baseDelayMs || maxDelayMs > MAX_DELAY_MS) {
    invalid(`retry.maxDelayMs: expected baseDelayMs (${baseDelayMs}) to ${MAX_DELAY_MS}, got ${String(maxDelayMs)}`);
  }
  return { attempts, baseDelayMs, maxDelayMs };
}

/**
 * The delay before retry number `retry` (1-based): exponential, capped, with "equal jitter" (half fixed, half
 * random) so that clients failing together do not retry together.
 */
function backoff(policy: ResolvedRetry, retry: number): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (retry - 1));
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

function copyDescription(description: MatDesc | undefined): MatDesc {
  if (description === undefined) return Object.freeze({});
  assertMatDesc(description);
  return Object.freeze({ ...description });
}

/** The encryption context as the JSON string KMS documents, or `undefined` when empty (the parameter is omitted). */
function buildContext(context: Readonly<Record<string, string>> | undefined, passphrase: string | undefined): string | undefined {
  const out: Record<string, string> = {};
  if (passphrase !== undefined) {
    if (typeof passphrase !== 'string' || passphrase === '') invalid('passphrase must be a non-empty string');
    // First, so that a passphrase-only context is byte-identical to oss2's '{"x-passphrase":"…"}' (safe characters).
    out[PASSPHRASE_CONTEXT_KEY] = passphrase;
  }
  if (context !== undefined) {
    if (typeof context !== 'object' || (context as unknown) === null || Array.isArray(context)) {
      invalid('encryptionContext must be an object of string values');
    }
    for (const [k, v] of Object.entries(context)) {
      if (k === '') invalid('encryptionContext keys must not be empty');
      if (typeof v !== 'string') invalid(`encryptionContext value for ${JSON.stringify(k)} must be a string`);
      if (k === PASSPHRASE_CONTEXT_KEY && passphrase !== undefined) {
        invalid(`encryptionContext must not contain ${JSON.stringify(PASSPHRASE_CONTEXT_KEY)} when a passphrase is given`);
      }
      out[k] = v;
    }
  }
  if (Object.keys(out).length === 0) return undefined;
  const json = JSON.stringify(out);
  if (json.length > MAX_CONTEXT_LENGTH) invalid(`the encryption context is ${json.length} characters of JSON, more than KMS's ${MAX_CONTEXT_LENGTH}`);
  return json;
}

/** Which key id a Decrypt answer must name: a fixed id, or (for aliases) one to learn. */
type KeyIdentity = { readonly kind: 'id'; readonly id: string } | { readonly kind: 'alias' };

function identityOf(keyId: string): KeyIdentity {
  if (keyId.startsWith('alias/')) return { kind: 'alias' };
  if (keyId.startsWith('acs:kms:')) {
    const alias = keyId.indexOf(':alias/');
    if (alias >= 0) return { kind: 'alias' };
    const at = keyId.lastIndexOf(':key/');
    if (at >= 0 && at + 5 < keyId.length) return { kind: 'id', id: keyId.slice(at + 5) };
    invalid(`keyId ${JSON.stringify(keyId)} is an ARN naming neither key/<id> nor alias/<name>`);
  }
  return { kind: 'id', id: keyId };
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null;
}

/** The answer's fields: on the result itself, or under `body` (newer SDK generations). */
function answerOf(result: unknown): Record<string, unknown> {
  if (!isRecord(result)) return {};
  return isRecord(result.body) ? result.body : result;
}

function field(answer: Record<string, unknown>, camel: string, pascal: string): unknown {
  return answer[camel] ?? answer[pascal];
}

/** RFC 3986 percent-encoding, as the RPC signer applies it (once to the values, again to the whole query). */
function percentEncode(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/**
 * Removes a secret (the base64 data key or IV sent to Encrypt) from a client error before it is kept as `cause`:
 * the gateway's SignatureDoesNotMatch message echoes the string to sign, with every parameter percent-encoded twice.
 */
function redact(error: unknown, secret: string): unknown {
  if (!isRecord(error)) return error;
  const spellings = [secret, percentEncode(secret), percentEncode(percentEncode(secret))];
  const scrub = (s: string): string => spellings.reduce((acc, sp) => acc.split(sp).join('[redacted]'), s);
  const e = error as { message?: unknown; stack?: unknown; data?: unknown };
  try {
    if (typeof e.message === 'string') e.message = scrub(e.message);
    if (typeof e.stack === 'string') e.stack = scrub(e.stack);
    if (isRecord(e.data)) {
      for (const k of Object.keys(e.data)) {
        const v = e.data[k];
        if (typeof v === 'string') e.data[k] = scrub(v);
        // tea's UnretryableError keeps the whole last request, query included.
        else if (k === 'lastRequest') e.data[k] = '[redacted]';
      }
    }
  } catch {
    // A frozen error cannot be scrubbed: do not keep it.
    return undefined;
  }
  return error;
}

/** Where each envelope version keeps the wrapped key and start. */
const HEADERS = {
  v2: { key: V2Header.KEY, start: V2Header.START },
  v1: { key: V1Header.KEY, start: V1Header.START },
} as const;

/** The result of decrypting one header value. */
interface Decrypted {
  readonly plaintext: string;
  readonly form: KmsBlobForm;
}

/**
 * An Alibaba Cloud KMS master key (see the module doc for the wire forms).
 *
 * Reading:
 * - `unwrap` returns `null` for envelopes of another wrap scheme (RSA) and throws for KMS envelopes it cannot open.
 * - V2 form detection follows `kmsCiphertextBlob` (FORMAT.md §2.1): when the base64-decoded header is itself base64
 *   text, the header is taken as oss2's form and its decoded text is sent to Decrypt; otherwise the header itself is.
 *   A real CiphertextBlob decodes to binary, so oss2's form is always recognised and a Go/Java blob is essentially
 *   never mistaken for it; but a KMS whose blobs decode to base64 text would make a Go/Java header look like oss2's.
 *   So when the oss2 reading is refused with `InvalidCiphertext`, the header itself is tried once more before
 *   failing (a wrong context then costs two Decrypt calls per header; the form that worked for the key header is
 *   tried first for the start header).
 * - Decrypt needs no key id, so KMS would open any blob the credentials may decrypt. The key id KMS answers is
 *   compared with this key's: a blob under another key is an ERR_CSE_UNWRAP_FAILED error naming that key (a key ring
 *   and key rotation must know which key an object is under). For an alias the id is learned from this key's own
 *   Encrypt answers or, when the client has `describeKey`, from DescribeKey; when neither can tell (DescribeKey
 *   refused, e.g. no permission), the check is skipped.
 *
 * Errors: KMS refusals and outages are {@link KmsRequestError}s (a {@link CseError}) with `retryable` set; transient
 * failures (`ServiceUnavailable*`, `InternalFailure`/`InternalError`, `Throttling*`, network errors) are retried with
 * exponential backoff and jitter up to `retry.attempts` times per call; refusals (`InvalidCiphertext`, `Forbidden.*`,
 * `InvalidAccessKeyId.*`, `SignatureDoesNotMatch`, `Invalid*`, `MissingParameter`…) are not retried.
 */
export class KmsMasterKey implements MasterKey {
  /** Always `'kms'`. */
  readonly kind = 'kms' as const;
  /** Display name (`kms:<keyId>` by default); never secret. */
  readonly name: string;
  /** Material description written with objects this key encrypts. */
  readonly description: MatDesc;
  /** The customer master key id, alias or ARN, as given. */
  readonly keyId: string;
  /** The V2 form `wrap` writes. */
  readonly writeForm: KmsWriteForm;
  /** The region, when oss-cse builds the client (`undefined` with a given client). */
  readonly region: string | undefined;
  /** The endpoint as given, when oss-cse builds the client with one. */
  readonly endpoint: string | undefined;
  /** True when an oss2 passphrase is part of the encryption context. */
  readonly hasPassphrase: boolean;

  readonly #context: string | undefined;
  readonly #retry: ResolvedRetry;
  readonly #identity: KeyIdentity;
  readonly #makeClient: () => Promise<KmsClientLike>;
  #client: Promise<KmsClientLike> | undefined;
  /** For an alias: the key id behind it, once known (`null`: could not be learned, check skipped). */
  #aliasTarget: string | null | undefined;

  /**
   * @param options - key id and client (or region, endpoint, credentials), description, encryption context,
   *   passphrase, write form, retry policy, name
   * @throws CseError ERR_CSE_INVALID_ARGUMENT for a missing or malformed option, both or neither of `client` and
   *   `region`, a bad endpoint, or no credentials (neither given nor in the environment)
   */
  constructor(options: KmsMasterKeyOptions) {
    if (typeof options !== 'object' || (options as unknown) === null) invalid('expected KmsMasterKey options');
    const { keyId } = options;
    if (typeof keyId !== 'string' || keyId === '' || /\s/.test(keyId)) invalid('keyId must be a non-empty string without spaces');
    this.keyId = keyId;
    this.#identity = identityOf(keyId);
    const writeForm: unknown = options.writeForm ?? 'go';
    if (writeForm !== 'go' && writeForm !== 'oss2') invalid(`writeForm must be 'go' or 'oss2', got ${JSON.stringify(writeForm)}`);
    this.writeForm = writeForm;
    this.#retry = resolveRetry(options.retry);
    this.#context = buildContext(options.encryptionContext, options.passphrase);
    this.hasPassphrase = options.passphrase !== undefined;
    this.description = copyDescription(options.description);
    if (options.name !== undefined && (typeof options.name !== 'string' || options.name === '')) invalid('name must be a non-empty string');
    this.name = options.name ?? `kms:${keyId}`;

    const given = 'client' in options ? (options.client as unknown) : undefined;
    const region = 'region' in options ? (options.region as unknown) : undefined;
    if (given !== undefined && region !== undefined) invalid('give either client or region (with endpoint and credentials), not both');
    if (given !== undefined) {
      if (!isKmsClientLike(given)) {
        invalid('client must be a KMS client with encrypt and decrypt methods (e.g. from @alicloud/kms20160120)');
      }
      const client = given;
      this.region = undefined;
      this.endpoint = undefined;
      this.#makeClient = async () => Promise.resolve(client);
      return;
    }
    if (region === undefined) invalid('a KMS master key needs a client, or a region (with optional endpoint and credentials)');
    if (typeof region !== 'string' || !/^[a-z0-9][a-z0-9-]*$/.test(region)) invalid(`region must be a region id such as cn-hangzhou, got ${JSON.stringify(region)}`);
    const o = options as KmsMasterKeyEndpointOptions;
    if (o.endpoint !== undefined) parseKmsEndpoint(o.endpoint);
    // Explicit credentials, else the environment (both checked now: a lone id or secret is an error naming the missing
    // variable); else, with neither variable set, the official chain, on first use.
    const fromChain = o.credentials === undefined && !hasAnyEnvCredential(process.env);
    const credentials = fromChain ? undefined : resolveKmsCredentials(o.credentials);
    const load = o.loadSdk ?? importKmsSdk;
    if (typeof load !== 'function') invalid('loadSdk must be a function');
    const loadCredentials = o.loadCredentials ?? importCredentials;
    if (typeof loadCredentials !== 'function') invalid('loadCredentials must be a function');
    this.region = region;
    this.endpoint = o.endpoint;
    const endpoint = o.endpoint === undefined ? {} : { endpoint: o.endpoint };
    this.#makeClient = async () => {
      if (credentials !== undefined) return createKmsClient({ region, credentials, ...endpoint }, load);
      const chain = await defaultCredentialChain(loadCredentials);
      // Fail here with a clear message when the chain has nothing, rather than as a KMS signing error later.
      await resolveChainCredentials(chain);
      return createKmsClient({ region, credential: chain, ...endpoint }, load);
    };
  }

  /** The client, built on first use; a failed build is not remembered, so installing the SDK later works. */
  async #getClient(): Promise<KmsClientLike> {
    if (this.#client === undefined) {
      const pending = this.#makeClient();
      this.#client = pending;
      pending.catch(() => {
        if (this.#client === pending) this.#client = undefined;
      });
    }
    return this.#client;
  }

  /**
   * Runs one KMS call with the retry policy. Returns the answer's fields.
   *
   * @param secret - the plaintext sent (Encrypt), redacted from a kept error
   */
  async #call(
    action: KmsAction,
    run: (client: KmsClientLike) => Promise<unknown>,
    where: { readonly object?: string; readonly header?: string },
    secret?: string,
  ): Promise<Record<string, unknown>> {
    const client = await this.#getClient();
    for (let attempt = 1; ; attempt++) {
      try {
        return answerOf(await run(client));
      } catch (error) {
        const info = classifyKmsError(error);
        if (!info.retryable || attempt >= this.#retry.attempts) {
          throw this.#requestError(action, info, attempt, where, secret === undefined ? error : redact(error, secret));
        }
        await sleep(backoff(this.#retry, attempt));
      }
    }
  }

  #requestError(
    action: KmsAction,
    info: ReturnType<typeof classifyKmsError>,
    attempts: number,
    where: { readonly object?: string; readonly header?: string },
    cause: unknown,
  ): KmsRequestError {
    const refused = info.kmsCode === 'InvalidCiphertext';
    const what =
      info.kmsCode !== undefined
        ? `KMS answered ${info.kmsCode}${info.requestId === undefined ? '' : ` (RequestId ${info.requestId})`}`
        : `no KMS answer (${info.networkCode ?? (cause instanceof Error ? cause.name : 'unknown error')})`;
    const tries = attempts > 1 ? ` after ${attempts} attempts` : '';
    const hint = refused
      ? ': the value was not made by KMS under this encryption context (wrong passphrase or context?), or is damaged'
      : '';
    return new KmsRequestError(refused ? ErrorCode.UNWRAP_FAILED : ErrorCode.KMS, `KMS ${action} with key ${this.name} failed${tries}: ${what}${hint}`, {
      action,
      kmsCode: info.kmsCode,
      requestId: info.requestId,
      attempts,
      retryable: info.retryable,
      cause,
      ...where,
    });
  }

  #malformed(action: KmsAction, what: string, answer: Record<string, unknown>, where: { readonly object?: string; readonly header?: string }): KmsRequestError {
    const rid = field(answer, 'requestId', 'RequestId');
    const requestId = typeof rid === 'string' && rid !== '' ? rid : undefined;
    return new KmsRequestError(
      ErrorCode.KMS,
      `KMS ${action} with key ${this.name} gave a malformed answer: ${what}${requestId === undefined ? '' : ` (RequestId ${requestId})`}`,
      { action, kmsCode: undefined, requestId, attempts: 1, retryable: false, ...where },
    );
  }

  /** KMS Encrypt of `plaintext`; returns the CiphertextBlob. */
  async #encrypt(plaintext: string, header: string): Promise<string> {
    const request = kmsRequest(
      { keyId: this.keyId, plaintext, ...(this.#context === undefined ? {} : { encryptionContext: this.#context }) },
      ENCRYPT_NAMES,
    );
    const where = { header };
    const answer = await this.#call('Encrypt', async (c) => c.encrypt(request), where, plaintext);
    const blob = field(answer, 'ciphertextBlob', 'CiphertextBlob');
    if (typeof blob !== 'string' || blob === '' || !isStrictBase64(blob)) {
      throw this.#malformed('Encrypt', 'CiphertextBlob is missing or not base64', answer, where);
    }
    const answeredKeyId = field(answer, 'keyId', 'KeyId');
    if (this.#identity.kind === 'alias' && typeof answeredKeyId === 'string' && answeredKeyId !== '') this.#aliasTarget = answeredKeyId;
    return blob;
  }

  /**
   * Wraps a data key and IV (V2, `KMS/ALICLOUD`): each is sent to KMS Encrypt as base64 of the raw bytes, key first
   * (Go's order); the headers are the CiphertextBlobs (`go` form) or base64 of them (`oss2` form).
   *
   * @param material - 32-byte key and 16-byte IV
   * @throws CseError ERR_CSE_INVALID_KEY unless the key is 32 bytes; ERR_CSE_INVALID_ARGUMENT unless the IV is 16
   *   bytes; ERR_CSE_MISSING_DEPENDENCY when the SDK must be loaded and is not installed; {@link KmsRequestError}
   *   ERR_CSE_KMS when KMS refuses or cannot be reached (after retries)
   */
  async wrap(material: ContentMaterial): Promise<WrappedMaterial> {
    if (!(material.key instanceof Uint8Array) || material.key.length !== DATA_KEY_SIZE) {
      throw new CseError(ErrorCode.INVALID_KEY, `expected a ${DATA_KEY_SIZE}-byte data key to wrap`);
    }
    if (!(material.iv instanceof Uint8Array) || material.iv.length !== IV_SIZE) {
      throw new CseError(ErrorCode.INVALID_ARGUMENT, `expected a ${IV_SIZE}-byte IV to wrap`);
    }
    const wrappedKey = await this.wrapDataKey(material.key);
    const wrappedStart = await this.wrapIv(material.iv);
    return { wrapAlgorithm: WrapAlgorithm.KMS, wrappedKey, wrappedStart };
  }

  /**
   * The V2 key header alone: one KMS Encrypt of base64(key), in this key's write form. With {@link wrapIv} it is
   * what {@link KmsMasterKey.wrap} does; the data-key cache (data-key-cache.ts) calls the two separately.
   * @throws CseError ERR_CSE_INVALID_KEY unless the key is 32 bytes; otherwise as {@link KmsMasterKey.wrap}
   */
  async wrapDataKey(key: Uint8Array): Promise<string> {
    if (!(key instanceof Uint8Array) || key.length !== DATA_KEY_SIZE) {
      throw new CseError(ErrorCode.INVALID_KEY, `expected a ${DATA_KEY_SIZE}-byte data key to wrap`);
    }
    return this.#toHeader(await this.#encrypt(encodeBase64(key), V2Header.KEY));
  }

  /**
   * The V2 start (IV) header alone: one KMS Encrypt of base64(iv), in this key's write form.
   * @throws CseError ERR_CSE_INVALID_ARGUMENT unless the IV is 16 bytes; otherwise as {@link KmsMasterKey.wrap}
   */
  async wrapIv(iv: Uint8Array): Promise<string> {
    if (!(iv instanceof Uint8Array) || iv.length !== IV_SIZE) {
      throw new CseError(ErrorCode.INVALID_ARGUMENT, `expected a ${IV_SIZE}-byte IV to wrap`);
    }
    return this.#toHeader(await this.#encrypt(encodeBase64(iv), V2Header.START));
  }

  #toHeader(blob: string): string {
    return this.writeForm === 'go' ? blob : Buffer.from(blob, 'latin1').toString('base64');
  }

  /** The key id a Decrypt answer must name, or `undefined` when it cannot be known (alias not resolvable). */
  async #expectedKeyId(object: string | undefined): Promise<string | undefined> {
    if (this.#identity.kind === 'id') return this.#identity.id;
    if (this.#aliasTarget !== undefined) return this.#aliasTarget ?? undefined;
    const client = await this.#getClient();
    const describe = client.describeKey?.bind(client);
    if (describe === undefined) {
      this.#aliasTarget = null;
      return undefined;
    }
    const request = kmsRequest({ keyId: this.keyId }, DESCRIBE_NAMES);
    try {
      const answer = await this.#call('DescribeKey', async () => describe(request), object === undefined ? {} : { object });
      const meta = field(answer, 'keyMetadata', 'KeyMetadata');
      const id = isRecord(meta) ? field(meta, 'keyId', 'KeyId') : undefined;
      this.#aliasTarget = typeof id === 'string' && id !== '' ? id : null;
    } catch (error) {
      // A transient failure is worth reporting (a retry may succeed); a refusal (e.g. no kms:DescribeKey permission)
      // only means the alias cannot be checked.
      if (error instanceof CseError && error.retryable) throw error;
      this.#aliasTarget = null;
    }
    return this.#aliasTarget ?? undefined;
  }

  /** One Decrypt of `blob`; checks the answer and the key id it names. */
  async #decryptBlob(blob: string, header: string, object: string | undefined): Promise<string> {
    const where = { header, ...(object === undefined ? {} : { object }) };
    const request = kmsRequest(
      { ciphertextBlob: blob, ...(this.#context === undefined ? {} : { encryptionContext: this.#context }) },
      DECRYPT_NAMES,
    );
    const answer = await this.#call('Decrypt', async (c) => c.decrypt(request), where);
    const plaintext = field(answer, 'plaintext', 'Plaintext');
    if (typeof plaintext !== 'string') throw this.#malformed('Decrypt', 'Plaintext is missing', answer, where);
    const expected = await this.#expectedKeyId(object);
    if (expected !== undefined) {
      const got = field(answer, 'keyId', 'KeyId');
      if (typeof got !== 'string' || got === '') throw this.#malformed('Decrypt', 'KeyId is missing', answer, where);
      if (got !== expected) {
        throw new CseError(
          ErrorCode.UNWRAP_FAILED,
          `the value is wrapped under KMS key ${got}, not under ${this.name}; configure a KMS master key for ${got} to read it`,
          where,
        );
      }
    }
    return plaintext;
  }

  /**
   * Decrypts one header value. V2: in the detected form first and, for an oss2-looking header refused as
   * InvalidCiphertext, as the Go/Java form too (see the class doc). `prefer` puts a form first (the key header's).
   */
  async #decryptHeader(
    value: string,
    version: 'v1' | 'v2',
    header: string,
    object: string | undefined,
    prefer: KmsBlobForm | undefined,
  ): Promise<Decrypted> {
    let detected: { readonly blob: string; readonly form: KmsBlobForm };
    try {
      detected = kmsCiphertextBlob(value, version);
    } catch (cause) {
      throw new CseError(ErrorCode.ENVELOPE_BAD_BASE64, 'the wrapped value is not valid base64', {
        header,
        ...(object === undefined ? {} : { object }),
        cause,
      });
    }
    if (detected.form === 'blob') return { plaintext: await this.#decryptBlob(detected.blob, header, object), form: 'blob' };
    const tries: { readonly blob: string; readonly form: KmsBlobForm }[] = [detected, { blob: value, form: 'blob' }];
    if (prefer === 'blob') tries.reverse();
    let first: unknown;
    for (const t of tries) {
      try {
        return { plaintext: await this.#decryptBlob(t.blob, header, object), form: t.form };
      } catch (error) {
        if (!(error instanceof KmsRequestError && error.kmsCode === 'InvalidCiphertext')) throw error;
        first ??= error;
      }
    }
    throw first;
  }

  /**
   * Unwraps a KMS envelope: V2 in either form (the 16-byte IV), or V1 (the decimal start counter as a counter block).
   *
   * @returns the material, or `null` for an envelope of another wrap scheme
   * @throws CseError ERR_CSE_UNWRAP_FAILED when KMS refuses the blob (other key, other context, damaged) or it is
   *   under another key id; ERR_CSE_UNWRAP_BAD_LENGTH for a key that is not 32 bytes or an IV that is not 16;
   *   ERR_CSE_ENVELOPE_BAD_NUMBER for a V1 start that is not a decimal counter; ERR_CSE_KMS (retryable or not)
   *   when KMS fails; ERR_CSE_MISSING_DEPENDENCY when the SDK is not installed
   */
  async unwrap(envelope: Envelope, context: UnwrapContext = {}): Promise<ContentMaterial | null> {
    if (envelope.scheme !== 'kms' || envelope.version === 'guide') return null;
    const { version } = envelope;
    const { object } = context;
    const headers = HEADERS[version];
    const where = (header: string): { object?: string; header: string } => (object === undefined ? { header } : { object, header });

    const keyText = await this.#decryptHeader(envelope.wrappedKey, version, headers.key, object, undefined);
    const key = this.#decodeRaw(keyText.plaintext, DATA_KEY_SIZE, 'data key', where(headers.key));
    try {
      const start = await this.#decryptHeader(envelope.wrappedStart, version, headers.start, object, keyText.form);
      if (version === 'v2') return { key, iv: this.#decodeRaw(start.plaintext, IV_SIZE, 'IV', where(headers.start)) };
      // V1: Decrypt gives the decimal start itself (oss2 ≤ 2.10 sent Plaintext="8"; `oss2-python.md` §3.1, §3.2).
      try {
        return { key, iv: counterBlockFromDecimal(start.plaintext, headers.start) };
      } catch (cause) {
        throw new CseError(
          cause instanceof CseError ? cause.cseCode : ErrorCode.ENVELOPE_BAD_NUMBER,
          `KMS key ${this.name} unwrapped a V1 start that is not a decimal counter below 2^128`,
          { ...where(headers.start), cause },
        );
      }
    } catch (error) {
      key.fill(0);
      throw error;
    }
  }

  /** Decodes a Decrypt Plaintext that must be base64 of `size` raw bytes. */
  #decodeRaw(plaintext: string, size: number, what: string, where: { object?: string; header: string }): Uint8Array {
    if (!isStrictBase64(plaintext)) {
      throw new CseError(ErrorCode.UNWRAP_FAILED, `KMS key ${this.name} unwrapped a ${what} that is not base64 (not written by an OSS SDK?)`, where);
    }
    // Copy out of the decoder's Buffer (small ones live in Node's shared pool) and wipe it, so no stray copy of the
    // key stays in the pool. The Plaintext string itself cannot be wiped (JavaScript strings are immutable).
    const decoded = Buffer.from(plaintext, 'base64');
    const raw = new Uint8Array(decoded);
    decoded.fill(0);
    if (raw.length !== size) {
      const got = raw.length;
      raw.fill(0);
      throw new CseError(ErrorCode.UNWRAP_BAD_LENGTH, `KMS key ${this.name} unwrapped a ${got}-byte ${what}, expected ${size}`, where);
    }
    return raw;
  }
}
