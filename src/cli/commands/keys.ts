/**
 * `oss-cse keys list`: what the key options configure (which key encrypts, which decrypt, their descriptions and
 * where they come from), without secrets and without any network call.
 *
 * @packageDocumentation
 */

import { stat } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import type { CliIo, Command } from '../command.js';
import { UsageError } from '../command.js';
import { createKmsKey, listKmsKey, listRsaKey, resolveKmsSettings, type KeyListing, type KmsDefaults } from '../key-options.js';
import { loadRsaKeyFile, planCliKeys, PASSPHRASE_ENV } from '../keys.js';
import { ONLINE_HELP, ONLINE_OPTIONS, TargetEnv, type OnlineValues } from '../online.js';

const help = `Usage: oss-cse keys list [key options] [--json]
       oss-cse keys create-kms [--description TEXT] [--kms-region REGION] [--kms-endpoint URL] [--json]

Shows the keys the same options configure for put/get/rewrap: the key that encrypts new objects, the keys that
decrypt (in the order they are tried when no description matches), each key's material description and where it
comes from: RSA key files with their fingerprints, KMS key ids with region, endpoint and the source of the
credentials. Never prints private keys, passphrases, credentials or encryption-context values, and makes no
network call (KMS keys are not contacted).

keys create-kms creates a symmetric KMS key (KMS CreateKey) and prints its id, ready for --kms-key-id or a
keys file. With no endpoint or region, in the embedded server's own KMS emulator (so that KMS can be tried
without a cloud account); otherwise in the KMS of --kms-endpoint / --kms-region, with the credentials below.
  --description TEXT       the key's description in KMS (not a material description)

${ONLINE_HELP}
`;

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

/** True when the online commands would use the embedded server (no endpoint or region anywhere). */
function isEmbedded(values: OnlineValues, env: NodeJS.ProcessEnv): boolean {
  return (
    nonEmpty(values.endpoint) === undefined &&
    nonEmpty(env[TargetEnv.ENDPOINT]) === undefined &&
    nonEmpty(values.region) === undefined &&
    nonEmpty(env[TargetEnv.REGION]) === undefined
  );
}

async function createKms(values: OnlineValues & { readonly description?: string | undefined }, io: CliIo): Promise<number> {
  const print = (keyId: string, where: string, material: string): number => {
    io.stdout.write(values.json ? JSON.stringify({ keyId, kms: where }) + '\n' : `${keyId}\n`);
    // Every key created is announced on stderr, whatever the output format (SECURITY.md "Where keys come from").
    io.stderr.write(`oss-cse: created KMS key ${keyId} in ${where}; ${material}\n`);
    return 0;
  };
  if (isEmbedded(values, io.env) && nonEmpty(values['kms-endpoint']) === undefined) {
    const { startEmbedded } = await import('../target.js');
    const server = await startEmbedded(io.env);
    try {
      const settings = resolveKmsSettings(values, io.env, {
        region: 'cn-hangzhou',
        endpoint: server.endpoint,
        credentials: { accessKeyId: server.credentials.accessKeyId, accessKeySecret: server.credentials.accessKeySecret },
      });
      return print(
        await createKmsKey(settings, values.description),
        'the embedded server',
        `its material is stored in ${server.dataDir ?? 'memory'}: back that directory up; without it the objects encrypted to this key cannot be read`,
      );
    } finally {
      await server.close();
    }
  }
  const region = (nonEmpty(values.region) ?? nonEmpty(io.env[TargetEnv.REGION]))?.replace(/^oss-/, '');
  const settings = resolveKmsSettings(values, io.env, { region });
  return print(
    await createKmsKey(settings, values.description),
    settings.endpoint ?? `kms.${settings.region ?? '?'}.aliyuncs.com`,
    'its material stays in KMS: never schedule its deletion while objects encrypted to it are kept',
  );
}

function text(l: KeyListing): string {
  const where =
    l.kind === 'rsa'
      ? `${l.canDecrypt ? 'private' : 'public'} key ${l.file ?? ''}` +
        (l.fingerprint === undefined ? '' : `, sha256 ${l.fingerprint}`) +
        (l.wrap === undefined ? '' : `, wraps with ${l.wrap}`)
      : `KMS key ${l.keyId ?? ''}, region ${l.region ?? '(none)'}, endpoint ${l.endpoint ?? 'regional default'}, ` +
        `credentials from ${l.credentials ?? '?'}` +
        (l.encryptionContext === undefined ? '' : `, encryption context with ${l.encryptionContext.join(', ')}`) +
        (l.writeForm === undefined || l.writeForm === 'go' ? '' : `, writes the ${l.writeForm} form`);
  return `${l.role === 'encrypt' ? 'encrypts' : 'decrypts'}  ${l.name}  ${l.description}\n          ${where}`;
}

export const keys: Command = {
  name: 'keys',
  summary: 'show the configured keys (no secrets): keys list; create a KMS key: keys create-kms',
  help,
  async run(args, io) {
    const { values, positionals } = parseArgs({
      args: [...args],
      options: { ...ONLINE_OPTIONS, description: { type: 'string' } },
      strict: true,
      allowPositionals: true,
    });
    const sub = positionals.length === 1 ? positionals[0] : undefined;
    if (sub !== 'list' && sub !== 'create-kms') throw new UsageError('expected `keys list` or `keys create-kms`');
    if (sub === 'create-kms') return createKms(values, io);
    if (values.description !== undefined) throw new UsageError('--description goes with `keys create-kms`');
    const plan = await planCliKeys(
      {
        publicKey: values['public-key'],
        privateKeys: values['private-key'] ?? [],
        keysFile: values.keys,
        matdesc: values.matdesc,
        kmsKeyIds: values['kms-key-id'] ?? [],
      },
      io.env,
    );
    const embedded = isEmbedded(values, io.env);
    // Described, not contacted: the embedded server is not started for a listing.
    const defaults: KmsDefaults = embedded
      ? { region: 'cn-hangzhou', endpoint: 'the embedded server', credentialSource: 'the embedded server' }
      : { region: (nonEmpty(values.region) ?? nonEmpty(io.env[TargetEnv.REGION]))?.replace(/^oss-/, '') };
    const settings = resolveKmsSettings(values, io.env, defaults);
    if (plan.defaultPair !== undefined && !embedded) {
      // The automatic pair serves the embedded server only (SECURITY.md "Where keys come from").
      if (values.json) io.stdout.write(JSON.stringify({ source: null, keys: [], defaultPair: null }) + '\n');
      else io.stdout.write('no keys configured for this target; give --public-key, --private-key, --kms-key-id or --keys (the automatic key pair is only for the embedded server)\n');
      return 0;
    }
    if (plan.defaultPair !== undefined && !(await exists(plan.defaultPair))) {
      if (values.json) io.stdout.write(JSON.stringify({ source: null, keys: [], defaultPair: plan.defaultPair }) + '\n');
      else io.stdout.write(`no keys configured; the first command that needs one creates a key pair at ${plan.defaultPair}\n`);
      return 0;
    }
    const passphrase = io.env[PASSPHRASE_ENV];
    const listing: KeyListing[] = [];
    for (const [i, spec] of plan.specs.entries()) {
      const role = i === plan.encrypting ? 'encrypt' : 'decrypt';
      if (spec.kind === 'kms') {
        listing.push(listKmsKey(spec, role, settings));
        continue;
      }
      const key = await loadRsaKeyFile(spec.path, {
        ...(passphrase === undefined ? {} : { passphrase }),
        ...(spec.description === undefined ? {} : { description: spec.description }),
        ...(spec.wrap === undefined ? {} : { wrap: spec.wrap }),
      });
      listing.push(listRsaKey(key, role, spec.path));
    }
    const ordered = [...listing.filter((l) => l.role === 'encrypt'), ...listing.filter((l) => l.role !== 'encrypt')];
    const selection = values['key-selection'] ?? 'fallback';
    if (values.json) {
      io.stdout.write(JSON.stringify({ source: plan.source, keySelection: selection, keys: ordered }) + '\n');
    } else {
      io.stdout.write(`keys from ${plan.source} (key selection: ${selection})\n`);
      for (const l of ordered) io.stdout.write(`${text(l)}\n`);
    }
    return 0;
  },
};
