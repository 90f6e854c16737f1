/**
 * TEST-ONLY: the `disk-full` fault (faults.ts): a view of a store whose disk fills up during one request.
 *
 * Writes fail with the same error Node raises on a full disk (`ENOSPC`, errno -28). In the on-disk store the body
 * staging fails inside the store's own write pipeline (FsStore.stageBody's test parameter), with the request as its
 * source, so the store and the handler go through exactly what a failing write stream causes: the partial body is
 * deleted, nothing is committed, and the request must still be answerable.
 * When the whole body fits, the commit fails instead, before the store writes anything.
 *
 * @packageDocumentation
 */

import { FsStore } from './store/fs-store.js';
import type { StagedBody, Store } from './store/types.js';

/**
 * An error shaped like Node's for a write on a full disk.
 * @returns the error (`code` `ENOSPC`)
 */
export function noSpaceError(): NodeJS.ErrnoException {
  const error: NodeJS.ErrnoException = new Error('ENOSPC: no space left on device, write');
  error.code = 'ENOSPC';
  error.errno = -28;
  error.syscall = 'write';
  return error;
}

async function* fillAfter(source: AsyncIterable<Uint8Array>, afterBytes: number): AsyncGenerator<Uint8Array> {
  let written = 0;
  for await (const chunk of source) {
    if (written + chunk.length > afterBytes) {
      if (afterBytes > written) yield chunk.subarray(0, afterBytes - written);
      throw noSpaceError();
    }
    written += chunk.length;
    yield chunk;
  }
}

/**
 * A store whose writes fail with ENOSPC after `afterBytes` staged bytes, and at any commit.
 * @param store - the real store (reads and deletes go to it unchanged)
 * @param afterBytes - body bytes that still fit
 * @returns the view, for one request
 */
export function diskFullStore(store: Store, afterBytes: number): Store {
  const fail = async (staged?: StagedBody): Promise<never> => {
    await staged?.discard();
    throw noSpaceError();
  };
  return new Proxy(store, {
    get(target, property, receiver) {
      switch (property) {
        case 'stageBody':
          // The on-disk store fails inside its own write pipeline, with the request itself as the source (as on a
          // real full disk); other stores see a source that fails.
          return async (source: AsyncIterable<Uint8Array>, maxBytes: number) =>
            target instanceof FsStore
              ? target.stageBody(source, maxBytes, { failAfter: afterBytes, error: noSpaceError })
              : target.stageBody(fillAfter(source, afterBytes), maxBytes);
        case 'putObject':
          return async (_bucket: string, staged: StagedBody) => fail(staged);
        case 'putPart':
          return async (_bucket: string, _uploadId: string, staged: StagedBody) => fail(staged);
        case 'createBucket':
        case 'createUpload':
        case 'completeUpload':
        case 'replaceMetadata':
          return async () => fail();
        default: {
          const value: unknown = Reflect.get(target, property, receiver);
          return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
        }
      }
    },
  });
}
