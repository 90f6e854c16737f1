/**
 * The public facts of an envelope, as `head`/`get`/`put` results report them: algorithms, material description and
 * declared sizes, never key material. Pure (format layer), so the Node client and the browser entry share one
 * definition.
 *
 * @packageDocumentation
 */

import type { Envelope, EnvelopeVersion, MatDesc, WrapScheme } from './types.js';

/** A public description of an object's envelope: algorithms, matdesc, declared sizes; never key material. */
export interface EnvelopeSummary {
  /** Header family: `v2`, or the legacy `v1`/`guide`. */
  readonly version: EnvelopeVersion;
  /** True for the legacy families. */
  readonly legacy: boolean;
  /** The wrap-alg header as stored (absent for the guide form). */
  readonly wrapAlgorithm: string | undefined;
  /** Normalised wrap scheme. */
  readonly wrapScheme: WrapScheme;
  /** The cek-alg header as stored. */
  readonly cekAlgorithm: string | undefined;
  /** The material description (`{}` when absent). */
  readonly matdesc: MatDesc;
  /** Declared plaintext length (`…-unencrypted-content-length`). */
  readonly unencryptedContentLength: number | undefined;
  /** Declared plaintext MD5 (`…-unencrypted-content-md5`, base64). */
  readonly unencryptedContentMd5: string | undefined;
  /** Multipart: total plaintext size. */
  readonly dataSize: number | undefined;
  /** Multipart: part size. */
  readonly partSize: number | undefined;
}

/**
 * The public facts of an envelope (no wrapped or unwrapped key material).
 * @param envelope - a parsed envelope
 */
export function summarizeEnvelope(envelope: Envelope): EnvelopeSummary {
  return {
    version: envelope.version,
    legacy: envelope.version !== 'v2',
    wrapAlgorithm: envelope.wrapAlgorithm,
    wrapScheme: envelope.scheme,
    cekAlgorithm: envelope.cekAlgorithm,
    matdesc: envelope.matdesc,
    unencryptedContentLength: envelope.unencryptedContentLength,
    unencryptedContentMd5: envelope.unencryptedContentMd5,
    dataSize: envelope.dataSize,
    partSize: envelope.partSize,
  };
}
