/**
 * What `put --checkpoint/--resume` adds around the library's resumable multipart upload so that an upload started
 * with only a public key can always be finished or cleaned up (docs/resume.md):
 *
 * - at the start, a note (stderr, once) when the encrypting key is a public key whose private half is not given:
 *   resuming will need it, named by its fingerprint;
 * - `--restart`: the recorded upload is aborted on OSS and the checkpoint deleted before a new upload starts;
 * - a resume that cannot unwrap the recorded envelope fails with a message naming exactly what to do: the private
 *   key of that fingerprint, or `--restart`;
 * - the library's `alreadyComplete` / `restartedFrom` outcomes of a recorded upload gone from OSS, said on stderr.
 *
 * @packageDocumentation
 */

import { CseError, ErrorCode, TransferError } from '../errors.js';
import { FileCheckpointStore, parseUploadCheckpoint, type CheckpointKeyInfo, type UploadCheckpoint } from '../transfer/checkpoint.js';
import type { EncryptionClient } from '../client.js';
import type { CliIo } from './command.js';
import type { CliKeys } from './keys.js';

/** The checkpoint a `put` uses, as found before the upload starts. */
export interface UploadResumeState {
  /** The checkpoint file. */
  readonly path: string;
  /** Its record, when one exists (the upload will be resumed from it). */
  readonly saved: UploadCheckpoint | undefined;
}

/** The encrypting key when it is an RSA public key whose private half no configured key holds. */
export function publicOnlyKey(keys: CliKeys): CheckpointKeyInfo | undefined {
  const encrypting = keys.listing.find((l) => l.role === 'encrypt');
  if (encrypting === undefined || encrypting.kind !== 'rsa' || encrypting.canDecrypt) return undefined;
  const fingerprint = encrypting.fingerprint;
  if (keys.listing.some((l) => l.canDecrypt && l.fingerprint !== undefined && l.fingerprint === fingerprint)) return undefined;
  return { name: encrypting.name, fingerprint };
}

function describeKey(key: CheckpointKeyInfo): string {
  return key.fingerprint === undefined ? key.name : `${key.name} (SHA-256 fingerprint ${key.fingerprint})`;
}

/**
 * Reads the checkpoint, and with `--restart` aborts its upload on OSS and deletes it (saying so on stderr).
 * @throws CseError ERR_CSE_IO / ERR_CSE_MULTIPART (unreadable or corrupt checkpoint, one of another object);
 *   TransferError when the abort fails (other than the upload being gone already)
 */
export async function prepareUploadCheckpoint(
  io: CliIo,
  client: EncryptionClient,
  target: { readonly bucket: string; readonly key: string },
  path: string,
  restart: boolean,
): Promise<UploadResumeState> {
  const store = new FileCheckpointStore(path, parseUploadCheckpoint);
  const saved = await store.load();
  if (saved === undefined || !restart) return { path, saved };
  if (saved.bucket !== target.bucket || saved.key !== target.key) {
    throw new CseError(
      ErrorCode.MULTIPART,
      `checkpoint ${path} records an upload to oss://${saved.bucket}/${saved.key}, not oss://${target.bucket}/${target.key}: --restart leaves it alone`,
      { object: target.key },
    );
  }
  try {
    await client.abortMultipartUpload(saved.key, saved.uploadId);
  } catch (e) {
    // Already gone (completed, aborted or expired): nothing to abort.
    if (!(e instanceof TransferError && e.ossCode === 'NoSuchUpload')) throw e;
  }
  await store.remove();
  io.stderr.write(`oss-cse: --restart: aborted upload ${saved.uploadId} recorded in ${path} and deleted the checkpoint; uploading from the start\n`);
  return { path, saved: undefined };
}

/** The note at the start of a checkpointed put whose encrypting key is public only. */
export function publicKeyNote(io: CliIo, key: CheckpointKeyInfo): void {
  io.stderr.write(
    `oss-cse: note: only the public half of RSA key ${describeKey(key)} is given: if this upload is interrupted, ` +
      'resuming it will need the private key of that key pair (--private-key FILE), or --restart to abort it and start over\n',
  );
}

/**
 * Turns a resume that could not unwrap the recorded envelope into an error naming what to do; other errors pass.
 * @param e - what the upload threw
 * @param state - the checkpoint as found at the start
 * @param current - this run's public-only encrypting key, when it is one (named when the record predates `wrappedBy`)
 */
export function explainResumeFailure(e: unknown, state: UploadResumeState, current: CheckpointKeyInfo | undefined, target: string): unknown {
  const saved = state.saved;
  if (saved === undefined || !(e instanceof CseError)) return e;
  if (e.code !== ErrorCode.NO_MATCHING_KEY && e.code !== ErrorCode.KEY_UNUSABLE) return e;
  const wrappedBy = saved.wrappedBy ?? current;
  const which =
    wrappedBy === undefined
      ? 'the key pair it was started with'
      : `${wrappedBy.fingerprint === undefined ? 'key' : 'RSA key'} ${describeKey(wrappedBy)}${saved.wrappedBy === undefined ? ' (this run\'s key; the checkpoint does not name one)' : ''}`;
  const flag =
    wrappedBy?.fingerprint === undefined && wrappedBy?.name.startsWith('kms:') === true
      ? `--kms-key-id ${wrappedBy.name.slice(4)}`
      : `--private-key FILE (the private key of ${wrappedBy?.fingerprint === undefined ? 'that pair' : `fingerprint ${wrappedBy.fingerprint}`}; \`oss-cse keys list --private-key FILE\` shows a file's fingerprint)`;
  return new CseError(
    e.code,
    `cannot resume upload ${saved.uploadId} of ${target} recorded in ${state.path}: its data key is wrapped by ${which}, ` +
      `and no key given here can unwrap it; nothing was sent and the upload is kept. To finish it, run the same command ` +
      `with ${flag}; or add --restart to abort it on OSS, delete the checkpoint and upload again from the start`,
    { object: saved.key, cause: e },
  );
}
