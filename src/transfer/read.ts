/**
 * Reading an object through the encryption layer: one GET (a second only in the case documented in
 * `range-plan.ts`), the envelope taken from that GET's own headers (no HEAD first), the counter taken from the
 * response's `Content-Range` start (or 0 for a whole-object answer), the caller's view cut out and its
 * `Content-Range`/`Content-Length` rewritten, and the integrity checks of a whole-object read (length, CRC-64 of the
 * ciphertext against `x-oss-hash-crc64ecma`, and the writer's unencrypted length and MD5) run before the stream ends.
 *
 * @packageDocumentation
 */

import type { Readable } from 'node:stream';
import { CseError, ErrorCode, TransferError } from '../errors.js';
import { detectEnvelopeVersion, parseEnvelope } from '../format/envelope.js';
import { OssHeader } from '../format/headers.js';
import { parseContentRange } from '../format/range.js';
import type { Envelope } from '../format/types.js';
import type { KeyRing } from '../keys/key-ring.js';
import { openDecryptor, type Decryptor } from '../object-crypto.js';
import { abortedError } from './abort.js';
import { Crc64, parseCrc64Header } from './crc64.js';
import { planRead, planServe, type FetchedSpan, type ReadPlan } from './range-plan.js';
import type { GetResponse, ObjectLocation, ObjectStore, ResponseHeaders, ResponseInfo } from './store.js';

/** Standard request headers the read path looks at (HTTP names; OSS's own are in `format/headers.ts`). */
const RANGE = 'range';
const IF_MATCH = 'if-match';

/** Options of {@link readObject}. */
export interface ReadObjectOptions {
  /** Keys to decrypt with. */
  readonly keys: KeyRing;
  /** Accept legacy (V1, guide) envelopes. */
  readonly allowLegacy: boolean;
  /** Fail with ERR_CSE_NOT_ENCRYPTED instead of returning an unencrypted object as it is. */
  readonly requireEncrypted: boolean;
  /** The caller's request headers (any case): `Range`, `x-oss-range-behavior`, conditions, … */
  readonly headers: Readonly<Record<string, string>>;
  /** Query parameters (e.g. `versionId`). */
  readonly query?: Readonly<Record<string, string>> | undefined;
  /** Abort signal. */
  readonly signal?: AbortSignal | undefined;
  /** Per-request timeout (ms). */
  readonly timeout?: number | undefined;
}

/** The caller's view of a read. */
export interface ObjectRead {
  /** The status a plain client would get: 200, 206 or 304. */
  readonly status: 200 | 206 | 304;
  /** Response headers with `content-length` and `content-range` in the caller's view. */
  readonly headers: ResponseHeaders;
  /** The transport's record with the same status and headers. */
  readonly res: ResponseInfo;
  /** False when the object has no client-side-encryption headers (its bytes are returned as stored). */
  readonly encrypted: boolean;
  /** The parsed envelope of an encrypted object. */
  readonly envelope: Envelope | undefined;
  /** The caller's byte range `[start, start + size)` in an object of `total` bytes (`total` undefined for 304). */
  readonly start: number;
  /** Bytes the body yields. */
  readonly size: number;
  /** The object's size (undefined for 304, or a whole-object answer without Content-Length). */
  readonly total: number | undefined;
  /** True when the body is the whole object and whole-object checks run. */
  readonly complete: boolean;
  /** How many GET requests were made (1, or 2 in the case documented in `range-plan.ts`). */
  readonly requests: number;
  /**
   * The plaintext, verified as it goes: iteration throws ERR_CSE_INTEGRITY after the last chunk when a check
   * fails, ERR_CSE_TRANSFER when the connection breaks, ERR_CSE_ABORTED when the signal fires. Iterate it once.
   */
  readonly body: AsyncGenerator<Buffer, void, undefined>;
  /** Releases the response without reading it. */
  cancel(): void;
}

/**
 * Reads `location`, decrypting when it is encrypted.
 *
 * @throws CseError ERR_CSE_INTEGRITY (an answer the request does not allow, e.g. a 206 without Content-Range),
 *   ERR_CSE_RANGE_NOT_SATISFIABLE (a plain client gets 416), ERR_CSE_INVALID_ARGUMENT (several ranges),
 *   ERR_CSE_NOT_ENCRYPTED (with `requireEncrypted`), ERR_CSE_ENVELOPE_*, ERR_CSE_LEGACY_NOT_ALLOWED,
 *   ERR_CSE_NO_MATCHING_KEY, ERR_CSE_ABORTED; TransferError
 */
export async function readObject(store: ObjectStore, location: ObjectLocation, options: ReadObjectOptions): Promise<ObjectRead> {
  const { rangeValue, standard, others } = splitReadHeaders(options.headers);
  const plan = planRead(rangeValue, standard);
  const call = { signal: options.signal, timeout: options.timeout };
  // `others` is this call's own copy and the store copies what it sends: no further copy without a Range.
  let response = await store.get(
    location,
    { headers: plan.sendRange === undefined ? others : { ...others, Range: plan.sendRange }, query: options.query },
    call,
  );
  let requests = 1;
  try {
    if (response.status === 304) return notModified(response, location, requests);
    let fetched = fetchedSpan(response, location);
    let serve = fetched === undefined ? wholeUnknownSize(plan) : planServe(plan, fetched);
    if (serve.kind === 'refetch') {
      // Pin the second request to the object the first answer came from.
      const etag = response.headers[OssHeader.ETAG];
      response.body.destroy();
      const pinned = Object.fromEntries(Object.entries(others).filter(([name]) => name.toLowerCase() !== IF_MATCH));
      response = await store.get(
        location,
        { headers: etag === undefined ? others : { ...pinned, 'If-Match': etag }, query: options.query },
        call,
      );
      requests = 2;
      if (response.status === 304) return notModified(response, location, requests);
      fetched = fetchedSpan(response, location);
      // The second request carries no Range: only the whole object answers it (planServe says `inconsistent` otherwise).
      serve = fetched === undefined ? wholeUnknownSize(plan) : planServe(plan, fetched, { range: undefined });
      if (serve.kind === 'refetch') {
        throw new TransferError(`GET ${describe(location)}: the server did not return the whole object when asked`, {
          object: location.key,
          status: response.status,
        });
      }
    }
    if (serve.kind === 'inconsistent') {
      // Issue 14 item 1: never serve (or decrypt) an answer the request does not allow.
      throw inconsistentAnswer(location, serve.reason);
    }
    if (serve.kind === 'unsatisfiable') {
      // A plain client gets OSS's 416 InvalidRange here: the same shape (docs/errors.md).
      throw new TransferError(
        `the range ${JSON.stringify(rangeValue)} starts at or past the end of the ${serve.total}-byte object ` +
          '(x-oss-range-behavior: standard)',
        {
          object: location.key,
          status: 416,
          aliCode: 'InvalidRange',
          aliName: 'InvalidRangeError',
          cseCode: ErrorCode.RANGE_NOT_SATISFIABLE,
        },
      );
    }
    const version = detectEnvelopeVersion(response.headers, { object: location.key });
    const encrypted = version !== null;
    if (!encrypted && options.requireEncrypted) {
      throw new CseError(ErrorCode.NOT_ENCRYPTED, 'the object has no client-side-encryption headers (requireEncrypted is set)', {
        object: location.key,
      });
    }
    const envelope = encrypted ? parseEnvelope(response.headers, { object: location.key }) : undefined;
    const receivedStart = fetched?.start ?? 0;
    const expectedLength = fetched === undefined ? undefined : fetched.end - fetched.start + 1;
    const crcHeader = serve.complete && receivedStart === 0 ? wholeObjectCrc(response.headers, location) : undefined;
    // The key is unwrapped now (a wrong key fails the call, not the body's first read); the body is read lazily.
    const decryptor =
      envelope === undefined
        ? undefined
        : await openDecryptor(
            envelope,
            { masterKeys: options.keys, allowLegacy: options.allowLegacy, object: location.key, verifyIntegrity: serve.complete },
            receivedStart,
          );
    const headers = viewHeaders(response.headers, serve.status, serve.length, serve.contentRange);
    const body = readBody(response.body, {
      location,
      expectedLength,
      stopAfter: serve.skip + serve.length,
      crc: crcHeader,
      signal: options.signal,
      decryptor,
      skip: serve.skip,
      length: serve.length,
    });
    const current = response;
    return {
      status: serve.status,
      headers,
      res: { ...response.res, status: serve.status, headers },
      encrypted,
      envelope,
      start: serve.start,
      size: serve.length,
      total: fetched === undefined ? undefined : serve.total,
      complete: serve.complete,
      requests,
      body,
      cancel: () => {
        current.body.destroy();
      },
    };
  } catch (e) {
    response.body.destroy();
    throw e;
  }
}

/** Splits the caller's headers into the Range value, the standard flag and everything else (sent as is). */
function splitReadHeaders(headers: Readonly<Record<string, string>>): {
  rangeValue: string | undefined;
  standard: boolean;
  others: Record<string, string>;
} {
  let rangeValue: string | undefined;
  let standard = false;
  const others: Record<string, string> = {};
  // for…in over own keys: no array of [name, value] pairs per call (a small GET's header maps are walked several
  // times; issue 15 measured the allocation per round trip).
  for (const name in headers) {
    if (!Object.hasOwn(headers, name)) continue;
    const value = headers[name] as string;
    const lower = name.toLowerCase();
    if (lower === RANGE) {
      rangeValue = value;
    } else {
      if (lower === OssHeader.RANGE_BEHAVIOR) standard = value.trim().toLowerCase() === 'standard';
      others[name] = value;
    }
  }
  return { rangeValue, standard, others };
}

function describe(location: ObjectLocation): string {
  return `oss://${location.bucket}/${location.key}`;
}

/** The answer is not one the request allows (issue 14 item 1): never serve or decrypt any of it. */
function inconsistentAnswer(location: ObjectLocation, reason: string): CseError {
  return new CseError(ErrorCode.INTEGRITY, `GET ${describe(location)}: the answer does not match the request: ${reason}`, {
    object: location.key,
    header: OssHeader.CONTENT_RANGE,
  });
}

/**
 * What the response carries, from its status and `Content-Range` (never from our request). A whole-object answer
 * without a `Content-Length` has an unknown size: `undefined`.
 *
 * The status and the header must agree (RFC 9110 §15.3.7, §14.4): a 206 without `Content-Range` does not say which
 * bytes it carries (taking it for the whole object would decrypt at counter 0 and cut a widened range at the wrong
 * offsets), and a 200 is the whole object, so a `Content-Range` on it must span the whole object. Either mismatch is
 * refused before any byte is decrypted.
 */
function fetchedSpan(response: GetResponse, location: ObjectLocation): FetchedSpan | undefined {
  const contentRange = response.headers[OssHeader.CONTENT_RANGE];
  if (contentRange !== undefined) {
    const parsed = parseContentRange(contentRange);
    if (parsed?.total === undefined) {
      throw new TransferError(`GET ${describe(location)}: unusable Content-Range ${JSON.stringify(contentRange)}`, {
        object: location.key,
        status: response.status,
      });
    }
    if (response.status === 200) {
      if (parsed.start !== 0 || parsed.end !== parsed.total - 1) {
        throw inconsistentAnswer(location, `a 200 (whole object) carries Content-Range ${JSON.stringify(contentRange)}, which is not the whole object`);
      }
      return { start: 0, end: parsed.total - 1, total: parsed.total, partial: false };
    }
    return { start: parsed.start, end: parsed.end, total: parsed.total, partial: true };
  }
  if (response.status === 206) {
    throw inconsistentAnswer(location, 'a 206 (partial content) without Content-Range does not say which bytes it carries');
  }
  const length = response.headers[OssHeader.CONTENT_LENGTH];
  if (length === undefined) return undefined;
  if (!/^[0-9]+$/.test(length) || !Number.isSafeInteger(Number(length))) {
    throw new TransferError(`GET ${describe(location)}: unusable Content-Length ${JSON.stringify(length)}`, {
      object: location.key,
      status: response.status,
    });
  }
  const total = Number(length);
  return { start: 0, end: total - 1, total, partial: false };
}

/**
 * The CRC-64 a whole-object answer declares. Absent: `undefined` (objects written by some tools have none). Present
 * but unparsable: an integrity error, not a silently skipped check (issue 14 item 1): a server or proxy that mangles
 * it could otherwise switch the check off.
 */
function wholeObjectCrc(headers: ResponseHeaders, location: ObjectLocation): bigint | undefined {
  const value = headers[OssHeader.CRC64];
  if (value === undefined) return undefined;
  const crc = parseCrc64Header(value);
  if (crc === undefined) {
    throw new CseError(
      ErrorCode.INTEGRITY,
      `GET ${describe(location)}: the whole-object answer carries an unusable CRC-64 ${JSON.stringify(value)}, so it cannot be checked`,
      { object: location.key, header: OssHeader.CRC64 },
    );
  }
  return crc;
}

/** A whole-object answer of unknown length: fine when the caller asked for the whole object. */
function wholeUnknownSize(plan: ReadPlan): ReturnType<typeof planServe> {
  if (plan.range !== undefined) {
    throw new TransferError('the response has neither Content-Range nor Content-Length; cannot serve a range from it');
  }
  return {
    kind: 'serve',
    status: 200,
    skip: 0,
    length: Number.MAX_SAFE_INTEGER,
    contentRange: undefined,
    start: 0,
    total: Number.MAX_SAFE_INTEGER,
    complete: true,
  };
}

function notModified(response: GetResponse, location: ObjectLocation, requests: number): ObjectRead {
  response.body.resume();
  const encrypted = detectEnvelopeVersion(response.headers, { object: location.key }) !== null;
  return {
    status: 304,
    headers: response.headers,
    res: response.res,
    encrypted,
    envelope: encrypted ? parseEnvelope(response.headers, { object: location.key }) : undefined,
    start: 0,
    size: 0,
    total: undefined,
    complete: false,
    requests,
    body: empty(),
    cancel: () => {
      response.body.destroy();
    },
  };
}

async function* empty(): AsyncGenerator<Buffer, void, undefined> {
  // Nothing to yield.
}

interface BodyOptions {
  readonly location: ObjectLocation;
  /** Bytes the response must carry (from its headers), when known. */
  readonly expectedLength: number | undefined;
  /** Stop reading once this many bytes have arrived (the caller's view ends there). */
  readonly stopAfter: number;
  /** The whole-object CRC-64 to check, when the body is the whole object and the header was sent. */
  readonly crc: bigint | undefined;
  readonly signal: AbortSignal | undefined;
  /** Decrypts the received bytes (undefined: the object is not encrypted, its bytes pass through). */
  readonly decryptor: Decryptor | undefined;
  /** Bytes of the response before the caller's view. */
  readonly skip: number;
  /** Bytes of the caller's view. */
  readonly length: number;
}

/**
 * The caller's plaintext view of the response body, with every check of the read: the length the headers promised
 * (a truncated body is an integrity error, not a short file), the whole-object CRC-64 of the ciphertext, then the
 * writer's plaintext length and MD5 (the decryptor's `finish`), all before the generator completes.
 *
 * One generator does what three chained ones did (transport checks → decrypt → cut out the view): per object that
 * was six extra generator steps and their promises, a visible share of a 1 KiB GET in the CPU profile.
 */
async function* readBody(body: Readable, check: BodyOptions): AsyncGenerator<Buffer, void, undefined> {
  const crc = check.crc === undefined ? undefined : new Crc64();
  const decryptor = check.decryptor;
  let received = 0;
  let toSkip = check.skip;
  let left = check.length;
  const what = `GET ${describe(check.location)}`;
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      crc?.update(chunk);
      received += chunk.length;
      if (check.expectedLength !== undefined && received > check.expectedLength) {
        throw new CseError(
          ErrorCode.INTEGRITY,
          `${what}: the body is longer than the ${check.expectedLength} bytes its headers announce`,
          { object: check.location.key },
        );
      }
      // Past the view, the rest is still decrypted: the plaintext length and MD5 cover the whole object.
      let out: Buffer = decryptor === undefined ? chunk : decryptor.update(chunk);
      if (left > 0 && out.length > 0) {
        if (toSkip > 0) {
          if (out.length <= toSkip) {
            toSkip -= out.length;
            out = EMPTY;
          } else {
            out = out.subarray(toSkip);
            toSkip = 0;
          }
        }
        if (out.length > 0) {
          const piece = out.length > left ? out.subarray(0, left) : out;
          left -= piece.length;
          yield piece;
        }
      }
      // Stop early only when the response carries more than the caller's view. When every expected byte has
      // arrived, let the loop see the end: destroying a response before its end closes the keep-alive socket, and a
      // ranged GET would then pay a new TCP connection every time (measured by the benchmark: 0.98 per GET).
      if (crc === undefined && received >= check.stopAfter && received !== check.expectedLength) break;
    }
  } catch (e) {
    if (e instanceof CseError) throw e;
    if (check.signal?.aborted === true) throw abortedError(what, check.signal);
    // Over HTTP/1.1 a body cut short of its Content-Length surfaces here (Node reports the early close as an error).
    const cut = check.expectedLength === undefined ? '' : ` of ${check.expectedLength} (truncated)`;
    throw new TransferError(
      `${what}: the connection failed after ${received}${cut} bytes: ${e instanceof Error ? e.message : String(e)}`,
      { object: check.location.key, retryable: true, cause: e },
    );
  } finally {
    body.destroy();
  }
  if (received < check.stopAfter && check.expectedLength !== undefined && received < check.expectedLength) {
    throw new CseError(
      ErrorCode.INTEGRITY,
      `${what}: the body ended after ${received} of ${check.expectedLength} bytes (truncated)`,
      { object: check.location.key, header: OssHeader.CONTENT_LENGTH },
    );
  }
  if (crc !== undefined && check.crc !== undefined && crc.digest() !== check.crc) {
    throw new CseError(
      ErrorCode.INTEGRITY,
      `${what}: the CRC-64 of the received bytes (${crc.toString()}) differs from the object's (${check.crc.toString()})`,
      { object: check.location.key, header: OssHeader.CRC64 },
    );
  }
  decryptor?.finish();
}

const EMPTY = Buffer.alloc(0);

/** The caller's view of the response headers: its Content-Length and Content-Range. */
function viewHeaders(headers: ResponseHeaders, status: 200 | 206, length: number, contentRange: string | undefined): ResponseHeaders {
  const partial = status === 206 && contentRange !== undefined;
  // OSS sends no Content-MD5 with a 206 (server/CONFORMANCE.md): one from a wider answer would describe other bytes.
  const dropped: string = partial ? OssHeader.CONTENT_MD5 : OssHeader.CONTENT_RANGE;
  const out: Record<string, string> = {};
  for (const name in headers) if (name !== dropped && Object.hasOwn(headers, name)) out[name] = headers[name] as string;
  if (length !== Number.MAX_SAFE_INTEGER) out[OssHeader.CONTENT_LENGTH] = String(length);
  if (partial) out[OssHeader.CONTENT_RANGE] = contentRange;
  return out;
}
