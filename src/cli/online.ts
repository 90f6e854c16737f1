/**
 * The light half of the online commands' plumbing (no `ali-oss`, no server loaded): `oss://bucket/key` parsing, the
 * shared options and their help. `target.ts` holds the sessions and is loaded only when a command runs.
 *
 * @packageDocumentation
 */

import { HOME_ENV, PASSPHRASE_ENV } from './keys.js';
import { KMS_OPTIONS, kmsHelp, type KmsFlagValues } from './key-options.js';
import { UsageError } from './command.js';

/** A parsed `oss://bucket/key` (the key may be empty: `oss://bucket`, `oss://bucket/`). */
export interface OssUrl {
  /** Bucket name. */
  readonly bucket: string;
  /** Object key or prefix ('' for the whole bucket). */
  readonly key: string;
}

/**
 * Parses `oss://bucket[/key]`.
 * @throws UsageError for anything else
 */
export function parseOssUrl(value: string, what: string): OssUrl {
  const m = /^oss:\/\/([^/]+)(?:\/(.*))?$/s.exec(value);
  if (m?.[1] === undefined) throw new UsageError(`${what} must look like oss://bucket/key, got ${JSON.stringify(value)}`);
  const bucket = m[1];
  if (!/^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/.test(bucket)) {
    throw new UsageError(`${JSON.stringify(bucket)} is not a valid bucket name (3-63 of a-z, 0-9, -)`);
  }
  return { bucket, key: m[2] ?? '' };
}

/** Environment variables the target reads. */
export const TargetEnv = {
  ENDPOINT: 'OSS_ENDPOINT',
  REGION: 'OSS_REGION',
  ACCESS_KEY_ID: 'OSS_ACCESS_KEY_ID',
  ACCESS_KEY_SECRET: 'OSS_ACCESS_KEY_SECRET',
  SESSION_TOKEN: 'OSS_SESSION_TOKEN',
  ALIBABA_ACCESS_KEY_ID: 'ALIBABA_CLOUD_ACCESS_KEY_ID',
  ALIBABA_ACCESS_KEY_SECRET: 'ALIBABA_CLOUD_ACCESS_KEY_SECRET',
  ALIBABA_SECURITY_TOKEN: 'ALIBABA_CLOUD_SECURITY_TOKEN',
  HOME: HOME_ENV,
} as const;

/** `parseArgs` options shared by the online commands (target, keys, output). */
export const ONLINE_OPTIONS = {
  endpoint: { type: 'string' },
  region: { type: 'string' },
  profile: { type: 'string' },
  'public-key': { type: 'string' },
  'private-key': { type: 'string', multiple: true },
  keys: { type: 'string' },
  matdesc: { type: 'string' },
  ...KMS_OPTIONS,
  'allow-legacy': { type: 'boolean', default: false },
  'key-selection': { type: 'string' },
  'require-encrypted': { type: 'boolean', default: false },
  json: { type: 'boolean', default: false },
  quiet: { type: 'boolean', short: 'q', default: false },
} as const;

/** The help text for {@link ONLINE_OPTIONS}. */
export const ONLINE_HELP = `Target (default: the embedded server, see below):
  --endpoint URL           OSS endpoint, e.g. https://oss-cn-hangzhou.aliyuncs.com (env ${TargetEnv.ENDPOINT})
  --region REGION          OSS region, e.g. cn-hangzhou; requests are then signed with OSS V4 (env ${TargetEnv.REGION})
  --profile NAME           credentials from the [NAME] section of ~/.alibabacloud/credentials (env ALIBABA_CLOUD_PROFILE)
  Credentials: --profile, else ${TargetEnv.ACCESS_KEY_ID} / ${TargetEnv.ACCESS_KEY_SECRET} (${TargetEnv.SESSION_TOKEN} for STS), else
  the official default chain (${TargetEnv.ALIBABA_ACCESS_KEY_ID} / ${TargetEnv.ALIBABA_ACCESS_KEY_SECRET} /
  ${TargetEnv.ALIBABA_SECURITY_TOKEN}, OIDC, ~/.alibabacloud/credentials [default], ECS RAM role); STS credentials
  are refreshed. Defaults for these options may live in $${TargetEnv.HOME}/config.json (\`oss-cse config\`).
  With neither endpoint nor region, oss-cse starts its embedded OSS-compatible server in-process over
  $${TargetEnv.HOME}/server (${TargetEnv.HOME} defaults to ~/.oss-cse), so data persists between commands.

Keys (with the embedded server and no key given: the key pair in $${TargetEnv.HOME}/keys, created by the first
command that encrypts or decrypts, with a note on stderr to back it up; any other target needs a key given,
else exit 2; ls, mb, rm, head and uploads need no key and never create one):
  --public-key PEM         RSA public key that encrypts new objects (env OSS_CSE_PUBLIC_KEY)
  --private-key PEM        RSA private key that decrypts; repeat for several keys; the first one also
                           encrypts when no --public-key is given (env OSS_CSE_PRIVATE_KEY, paths separated by ':');
                           an encrypted PEM's passphrase comes from $${PASSPHRASE_ENV}
${kmsHelp('with the embedded server, its own KMS emulator; else kms.REGION.aliyuncs.com')}
  --keys FILE              a keys file: {"keys": [{"type": "kms", "keyId": "…", "description": {"year": "2025"},
                           "encrypt": true}, {"privateKey": "old.pem", "description": {"year": "2024"}}]}
                           (paths relative to the file; "publicKey" for encrypt-only entries; "wrap": "oaep";
                           KMS entries may set "region", "endpoint", "encryptionContext", "writeForm": "oss2")
  --matdesc JSON           material description of the encrypting key given by --public-key/--private-key/--kms-key-id
  --key-selection POLICY   fallback (default: try every key when none matches the object's description) or strict
  --allow-legacy           read legacy objects (oss2 ≤ 2.10 V1 format, hand-rolled guide form)
  --require-encrypted      fail on objects without client-side-encryption headers

Output:
  --json                   print a JSON result
  --quiet, -q              print nothing on success (no progress bar either)

Exit codes: 0 success; 1 failure (a one-line \`error [ERR_CSE_…]: …\` on stderr); 2 bad command line;
130 interrupted.`;

/** The parsed values of {@link ONLINE_OPTIONS}. */
export interface OnlineValues extends KmsFlagValues {
  readonly endpoint?: string | undefined;
  readonly region?: string | undefined;
  readonly profile?: string | undefined;
  readonly 'public-key'?: string | undefined;
  readonly 'private-key'?: string[] | undefined;
  readonly keys?: string | undefined;
  readonly matdesc?: string | undefined;
  readonly 'allow-legacy'?: boolean | undefined;
  readonly 'key-selection'?: string | undefined;
  readonly 'require-encrypted'?: boolean | undefined;
  readonly json?: boolean | undefined;
  readonly quiet?: boolean | undefined;
}
