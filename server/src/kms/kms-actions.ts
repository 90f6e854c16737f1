/**
 * The KMS actions the emulator implements: Encrypt, Decrypt, GenerateDataKey, CreateKey, DescribeKey, ListKeys.
 * Parameter names, defaults, limits and response fields follow the KMS API reference (version 2016-01-20).
 *
 * @packageDocumentation
 */
import { randomBytes } from 'node:crypto';
import { canonicalContext, openBlob, parseBlob, sealBlob, type CanonicalContext } from './ciphertext-blob.js';
import { KmsError, KmsErrorCode } from './kms-error.js';
import { required } from './kms-request.js';
import type { KeyRecord, KeySpec, KeyStore, ProtectionLevel } from './key-store.js';

/** The actions the emulator answers. */
export const KMS_ACTIONS = ['Encrypt', 'Decrypt', 'GenerateDataKey', 'CreateKey', 'DescribeKey', 'ListKeys'] as const;
/** One of {@link KMS_ACTIONS}. */
export type KmsAction = (typeof KMS_ACTIONS)[number];

/** Largest `Plaintext` of Encrypt, in UTF-8 bytes (KMS: "a maximum of 6 KB"). */
export const MAX_PLAINTEXT_BYTES = 6 * 1024;
/** Largest `EncryptionContext` JSON text, in characters (KMS: "up to 8,192 characters"). */
export const MAX_CONTEXT_CHARS = 8192;
/** Largest `Description` of CreateKey, in characters. */
export const MAX_DESCRIPTION_CHARS = 8192;

/** What the actions work on. */
export interface ActionContext {
  readonly store: KeyStore;
  readonly region: string;
}

/** The JSON body of a successful answer, without `RequestId`. */
export type ActionResult = Record<string, unknown>;

function invalid(message: string): KmsError {
  return new KmsError(KmsErrorCode.InvalidParameter, message);
}

/**
 * Reads the encryption context: a JSON object of string values, given as the `EncryptionContext` parameter.
 *
 * `@alicloud/kms20160120` 1.x, when given an object, flattens it into `EncryptionContext.<name>=<value>` parameters
 * (rpc-util `flatMap`). KMS documents the context only as a JSON string, and whether KMS honours the flattened form
 * is not verified, so the emulator refuses it: a client relying on it would pass here and silently lose its context
 * binding (or fail to read oss2's objects) against real KMS. See KMS.md §"Encryption context".
 *
 * @throws KmsError InvalidParameter for the flattened form, non-JSON, a non-object, a non-string value, or > 8192 chars
 */
export function readContext(params: ReadonlyMap<string, string>): CanonicalContext {
  for (const name of params.keys()) {
    if (name.startsWith('EncryptionContext.')) {
      throw invalid(
        `EncryptionContext must be a JSON string such as {"name":"value"}; the flattened parameter "${name}" ` +
          '(sent by @alicloud/kms20160120 1.x when given an object) is not accepted.',
      );
    }
  }
  const text = params.get('EncryptionContext') ?? '';
  if (text === '') return canonicalContext(new Map());
  if (text.length > MAX_CONTEXT_CHARS) {
    throw invalid(`EncryptionContext is longer than ${MAX_CONTEXT_CHARS} characters.`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw invalid('EncryptionContext is not valid JSON.');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw invalid('EncryptionContext must be a JSON object of string values.');
  }
  const pairs = new Map<string, string>();
  for (const [name, value] of Object.entries(parsed)) {
    if (typeof value !== 'string') throw invalid(`EncryptionContext value of "${name}" is not a string.`);
    pairs.set(name, value);
  }
  return canonicalContext(pairs);
}

function arn(ctx: ActionContext, keyId: string): string {
  return `acs:kms:${ctx.region}:${ctx.store.accountId}:key/${keyId}`;
}

/**
 * Finds the key a `KeyId` parameter names: a key id, `alias/<name>`, or an ARN (`acs:kms:<region>:<account>:key/<id>`
 * or `…:alias/<name>`) of this region and account.
 *
 * @throws KmsError Forbidden.KeyNotFound when nothing matches
 */
export function resolveKey(ctx: ActionContext, keyId: string): KeyRecord {
  let ref = keyId;
  const prefix = `acs:kms:${ctx.region}:${ctx.store.accountId}:`;
  if (ref.startsWith(prefix)) {
    ref = ref.slice(prefix.length);
    if (ref.startsWith('key/')) ref = ref.slice(4);
  }
  const target = ref.startsWith('alias/') ? ctx.store.aliasTarget(ref.slice(6)) : ref;
  const key = target === undefined ? undefined : ctx.store.get(target);
  if (key === undefined) {
    throw new KmsError(KmsErrorCode.KeyNotFound, `The specified Key is not found: ${keyId}`);
  }
  return key;
}

/** The `KeyMetadata` object of DescribeKey and CreateKey. */
export function keyMetadata(ctx: ActionContext, key: KeyRecord): ActionResult {
  return {
    CreationDate: key.creationDate,
    Description: key.description,
    KeyId: key.keyId,
    KeyState: 'Enabled',
    KeyUsage: 'ENCRYPT/DECRYPT',
    DeleteDate: '',
    Creator: ctx.store.accountId,
    Arn: arn(ctx, key.keyId),
    Origin: 'Aliyun_KMS',
    MaterialExpireTime: '',
    ProtectionLevel: key.protectionLevel,
    PrimaryKeyVersion: key.keyVersionId,
    LastRotationDate: key.creationDate,
    AutomaticRotation: 'Disabled',
    KeySpec: key.keySpec,
  };
}

function encrypt(ctx: ActionContext, params: ReadonlyMap<string, string>): ActionResult {
  const key = resolveKey(ctx, required(params, 'KeyId'));
  const plaintext = required(params, 'Plaintext');
  const size = Buffer.byteLength(plaintext, 'utf8');
  if (size > MAX_PLAINTEXT_BYTES) {
    throw invalid(`Plaintext must be at most ${MAX_PLAINTEXT_BYTES} bytes, got ${size}.`);
  }
  const context = readContext(params);
  const blob = sealBlob({ keyId: key.keyId, keyVersionId: key.keyVersionId, secret: key.secret, context, plaintext });
  return { KeyId: key.keyId, KeyVersionId: key.keyVersionId, CiphertextBlob: blob };
}

function decrypt(ctx: ActionContext, params: ReadonlyMap<string, string>): ActionResult {
  const blobText = required(params, 'CiphertextBlob');
  const context = readContext(params);
  const blob = parseBlob(blobText);
  // A blob naming a key this emulator does not hold is as undecryptable as a forged one: Decrypt takes no KeyId, so
  // "key not found" would only reveal that the blob came from another KMS (KMS.md §"Error codes").
  const key = blob === null ? undefined : ctx.store.get(blob.keyId);
  const plaintext =
    blob === null || key === undefined || key.keyVersionId !== blob.keyVersionId
      ? null
      : openBlob(blob, key.secret, context);
  if (blob === null || key === undefined || plaintext === null) {
    throw new KmsError(
      KmsErrorCode.InvalidCiphertext,
      'The specified CiphertextBlob is invalid: it is malformed, was modified, comes from another KMS, or was made ' +
        'under another EncryptionContext.',
    );
  }
  return { KeyId: key.keyId, KeyVersionId: key.keyVersionId, Plaintext: plaintext };
}

function integerParam(params: ReadonlyMap<string, string>, name: string, min: number, max: number): number | null {
  const text = params.get(name);
  if (text === undefined || text === '') return null;
  if (!/^\d{1,9}$/.test(text) || Number(text) < min || Number(text) > max) {
    throw invalid(`${name} must be an integer from ${min} to ${max}, got "${text}".`);
  }
  return Number(text);
}

function generateDataKey(ctx: ActionContext, params: ReadonlyMap<string, string>): ActionResult {
  const key = resolveKey(ctx, required(params, 'KeyId'));
  const keySpec = params.get('KeySpec') ?? '';
  if (keySpec !== '' && keySpec !== 'AES_256' && keySpec !== 'AES_128') {
    throw invalid(`KeySpec must be AES_256 or AES_128, got "${keySpec}".`);
  }
  // NumberOfBytes wins over KeySpec; with neither, a 256-bit key (KMS API reference, GenerateDataKey).
  const count = integerParam(params, 'NumberOfBytes', 1, 1024) ?? (keySpec === 'AES_128' ? 16 : 32);
  const context = readContext(params);
  const plaintext = randomBytes(count).toString('base64');
  const blob = sealBlob({ keyId: key.keyId, keyVersionId: key.keyVersionId, secret: key.secret, context, plaintext });
  return { KeyId: key.keyId, KeyVersionId: key.keyVersionId, Plaintext: plaintext, CiphertextBlob: blob };
}

function unsupported(name: string, value: string): KmsError {
  return invalid(`${name} "${value}" is not supported by the oss-cse KMS emulator (symmetric keys only).`);
}

/** Reads CreateKey's parameters into a key spec (shared with the programmatic `createKey`). */
export function readCreateKeyParams(params: ReadonlyMap<string, string>): {
  keySpec: KeySpec;
  description: string;
  protectionLevel: ProtectionLevel;
} {
  const keySpec = params.get('KeySpec') || 'Aliyun_AES_256';
  if (keySpec !== 'Aliyun_AES_256' && keySpec !== 'Aliyun_AES_128') throw unsupported('KeySpec', keySpec);
  const keyUsage = params.get('KeyUsage') || 'ENCRYPT/DECRYPT';
  if (keyUsage !== 'ENCRYPT/DECRYPT') throw unsupported('KeyUsage', keyUsage);
  const origin = params.get('Origin') || 'Aliyun_KMS';
  if (origin !== 'Aliyun_KMS') throw unsupported('Origin', origin);
  const protectionLevel = params.get('ProtectionLevel') || 'SOFTWARE';
  if (protectionLevel !== 'SOFTWARE' && protectionLevel !== 'HSM') {
    throw invalid(`ProtectionLevel must be SOFTWARE or HSM, got "${protectionLevel}".`);
  }
  const rotation = params.get('EnableAutomaticRotation') || 'false';
  if (rotation !== 'false' && rotation !== 'true') {
    throw invalid(`EnableAutomaticRotation must be true or false, got "${rotation}".`);
  }
  if (rotation === 'true') throw unsupported('EnableAutomaticRotation', rotation);
  const description = params.get('Description') ?? '';
  if (description.length > MAX_DESCRIPTION_CHARS) {
    throw invalid(`Description is longer than ${MAX_DESCRIPTION_CHARS} characters.`);
  }
  return { keySpec, description, protectionLevel };
}

async function createKey(ctx: ActionContext, params: ReadonlyMap<string, string>): Promise<ActionResult> {
  const spec = readCreateKeyParams(params);
  let key: KeyRecord;
  try {
    key = await ctx.store.create(spec);
  } catch {
    throw new KmsError(KmsErrorCode.InternalFailure, 'The key could not be stored.');
  }
  return { KeyMetadata: keyMetadata(ctx, key) };
}

function describeKey(ctx: ActionContext, params: ReadonlyMap<string, string>): ActionResult {
  return { KeyMetadata: keyMetadata(ctx, resolveKey(ctx, required(params, 'KeyId'))) };
}

function listKeys(ctx: ActionContext, params: ReadonlyMap<string, string>): ActionResult {
  const pageNumber = integerParam(params, 'PageNumber', 1, 100_000_000) ?? 1;
  const pageSize = integerParam(params, 'PageSize', 1, 100) ?? 10;
  const all = ctx.store.list();
  const page = all.slice((pageNumber - 1) * pageSize, pageNumber * pageSize);
  return {
    Keys: { Key: page.map((k) => ({ KeyId: k.keyId, KeyArn: arn(ctx, k.keyId) })) },
    TotalCount: all.length,
    PageNumber: pageNumber,
    PageSize: pageSize,
  };
}

/** Tells whether `action` is one of {@link KMS_ACTIONS}. */
export function isKmsAction(action: string): action is KmsAction {
  return (KMS_ACTIONS as readonly string[]).includes(action);
}

/**
 * Runs one action.
 *
 * @returns the answer's fields (the caller adds `RequestId`)
 * @throws KmsError with the action's error code
 */
export async function runAction(
  action: KmsAction,
  ctx: ActionContext,
  params: ReadonlyMap<string, string>,
): Promise<ActionResult> {
  switch (action) {
    case 'Encrypt':
      return encrypt(ctx, params);
    case 'Decrypt':
      return decrypt(ctx, params);
    case 'GenerateDataKey':
      return generateDataKey(ctx, params);
    case 'CreateKey':
      return createKey(ctx, params);
    case 'DescribeKey':
      return describeKey(ctx, params);
    case 'ListKeys':
      return listKeys(ctx, params);
  }
}
