// Test helpers for the keys tests: Envelope values built directly from the type (not through parseEnvelope), and the
// vector key files.
import { readFileSync } from 'node:fs';
import { CekAlgorithm, V2Header, WrapAlgorithm } from '../../../src/format/headers.js';
import type { Envelope, EnvelopeVersion, WrapScheme } from '../../../src/format/types.js';

export const VECTORS = new URL('../../vectors/', import.meta.url);

export function readVector(path: string): Buffer {
  return readFileSync(new URL(path, VECTORS));
}

export function readJson(path: string): any {
  return JSON.parse(readVector(path).toString('utf8'));
}

export const GO_KEYS = {
  privatePkcs1: readVector('go/keys/rsa2048-private-pkcs1.pem').toString(),
  privatePkcs8: readVector('go/keys/rsa2048-private-pkcs8.pem').toString(),
  publicPkcs1: readVector('go/keys/rsa2048-public-pkcs1.pem').toString(),
  publicPkix: readVector('go/keys/rsa2048-public-pkix.pem').toString(),
};

export const UPSTREAM_KEYS = {
  privatePkcs1: readVector('upstream/rsa1024-private-pkcs1.pem').toString(),
  privatePkcs8: readVector('upstream/rsa1024-private-pkcs8.pem').toString(),
  publicPkix: readVector('upstream/rsa1024-public-pkix.pem').toString(),
};

/** An Envelope with the given wrapped values; everything else absent. */
export function envelope(
  version: EnvelopeVersion,
  scheme: WrapScheme,
  wrappedKey: string,
  wrappedStart: string,
  wrapAlgorithm?: string,
): Envelope {
  return {
    version,
    scheme,
    wrapAlgorithm,
    cekAlgorithm: version === 'guide' ? undefined : CekAlgorithm.AES_CTR,
    wrappedKey,
    wrappedStart,
    matdesc: {},
    matdescRaw: undefined,
    unencryptedContentMd5: undefined,
    unencryptedContentLength: undefined,
    dataSize: undefined,
    partSize: undefined,
  };
}

/** A V2 envelope from recorded request/stored headers. */
export function v2FromHeaders(headers: Record<string, string>): Envelope {
  const wrapAlg = headers[V2Header.WRAP_ALG];
  const scheme: WrapScheme =
    wrapAlg === WrapAlgorithm.RSA_PKCS1 ? 'rsa-pkcs1' : wrapAlg === WrapAlgorithm.KMS ? 'kms' : 'rsa-oaep-sha1';
  return envelope('v2', scheme, headers[V2Header.KEY]!, headers[V2Header.START]!, wrapAlg);
}
