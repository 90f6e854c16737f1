/**
 * {@link KeyBrokerMasterKey}: the page asks the application's server (the Node half, `createKeyBroker` in
 * src/broker/) for new wrapped material or to unwrap an envelope, over `fetch`. The broker sees envelopes and object
 * names, never content. Protocol: docs/browser.md "Key broker protocol".
 *
 * @packageDocumentation
 */

import { CseError, ErrorCode } from '../../src/errors.js';
import { encodeEnvelope } from '../../src/format/envelope.js';
import type { ContentMaterial, Envelope, MatDesc } from '../../src/format/types.js';
import { decodeBase64Strict } from './base64.js';
import { type BrowserMasterKey, type NewMaterial } from './keys.js';

/** Options of {@link KeyBrokerMasterKey}. */
export interface KeyBrokerMasterKeyOptions {
  /** The broker's URL (absolute or relative to the page). */
  readonly url: string;
  /** Extra request headers (e.g. a CSRF token or `Authorization`). */
  readonly headers?: Readonly<Record<string, string>>;
  /** The `fetch` to use (default: the global one); e.g. one that adds credentials. */
  readonly fetch?: typeof fetch;
  /** The `credentials` mode of the request (default `same-origin`). */
  readonly credentials?: RequestCredentials;
  /** Display name for errors (default `key-broker <url>`). */
  readonly name?: string;
}

interface BrokerError {
  readonly error?: { readonly code?: unknown; readonly message?: unknown };
}

function field(body: Record<string, unknown>, name: string, what: string): string {
  const v = body[name];
  if (typeof v !== 'string') throw new CseError(ErrorCode.KEY_BROKER, `the key broker's ${what} answer has no string "${name}"`);
  return v;
}

/**
 * A master key held by the application's server. New objects get material the broker generated and wrapped with its
 * master key; reads send the object's envelope headers and get the data key and IV back, if the broker's
 * `authorize(request, envelope)` agrees. PKCS#1 v1.5 and KMS envelopes are opened this way.
 */
export class KeyBrokerMasterKey implements BrowserMasterKey {
  /** Display name. */
  readonly name: string;
  /** Empty: the broker decides which key fits an object. */
  readonly description: MatDesc = Object.freeze({});
  readonly #url: string;
  readonly #headers: Readonly<Record<string, string>>;
  readonly #fetch: typeof fetch;
  readonly #credentials: RequestCredentials;

  /**
   * @param options - the broker's URL, extra headers, a custom fetch
   * @throws CseError ERR_CSE_INVALID_ARGUMENT without a non-empty `url` or without any `fetch`
   */
  constructor(options: KeyBrokerMasterKeyOptions) {
    if (typeof options.url !== 'string' || options.url === '') throw new CseError(ErrorCode.INVALID_ARGUMENT, 'KeyBrokerMasterKey needs a url');
    const f = options.fetch ?? (typeof fetch === 'function' ? fetch.bind(globalThis) : undefined);
    if (f === undefined) throw new CseError(ErrorCode.INVALID_ARGUMENT, 'KeyBrokerMasterKey needs fetch (none is global here)');
    this.#url = options.url;
    this.#headers = { ...(options.headers ?? {}) };
    this.#fetch = f;
    this.#credentials = options.credentials ?? 'same-origin';
    this.name = options.name ?? `key-broker ${options.url}`;
  }

  async #call(request: Record<string, unknown>, object: string): Promise<{ status: number; body: Record<string, unknown> }> {
    let response: Response;
    try {
      response = await this.#fetch(this.#url, {
        method: 'POST',
        headers: { ...this.#headers, 'Content-Type': 'application/json' },
        body: JSON.stringify(request),
        credentials: this.#credentials,
        cache: 'no-store',
      });
    } catch (e) {
      throw new CseError(ErrorCode.KEY_BROKER, `the key broker ${this.#url} could not be reached`, { object, cause: e, retryable: true });
    }
    let body: unknown;
    try {
      body = await response.json();
    } catch (e) {
      throw new CseError(ErrorCode.KEY_BROKER, `the key broker answered ${response.status} without a JSON body`, { object, cause: e, retryable: response.status >= 500 });
    }
    if (typeof body !== 'object' || body === null) throw new CseError(ErrorCode.KEY_BROKER, 'the key broker answered JSON that is not an object', { object });
    return { status: response.status, body: body as Record<string, unknown> };
  }

  #fail(status: number, body: BrokerError, object: string): never {
    const code = typeof body.error?.code === 'string' ? body.error.code : '';
    const message = typeof body.error?.message === 'string' ? body.error.message : `HTTP ${status}`;
    if (status === 403) throw new CseError(ErrorCode.KEY_BROKER_REFUSED, `the key broker refused: ${message}`, { object });
    throw new CseError(ErrorCode.KEY_BROKER, `the key broker failed (${status}${code === '' ? '' : ` ${code}`}): ${message}`, { object, retryable: status >= 500 });
  }

  /**
   * Asks the broker for a new data key and IV, wrapped by its master key.
   * @throws CseError ERR_CSE_KEY_BROKER_REFUSED (authorize said no), ERR_CSE_KEY_BROKER (unreachable, error, bad answer)
   */
  async newMaterial(object: string): Promise<NewMaterial> {
    const { status, body } = await this.#call({ op: 'wrap', object }, object);
    if (status !== 200) this.#fail(status, body, object);
    const key = decodeBase64Strict(field(body, 'key', 'wrap'));
    const iv = decodeBase64Strict(field(body, 'iv', 'wrap'));
    if (key.length !== 32 || iv.length !== 16) throw new CseError(ErrorCode.KEY_BROKER, 'the key broker returned a data key or IV of the wrong length', { object });
    const matdesc: unknown = body.matdesc ?? {};
    if (typeof matdesc !== 'object' || matdesc === null || Object.values(matdesc).some((v) => typeof v !== 'string')) {
      throw new CseError(ErrorCode.KEY_BROKER, 'the key broker returned a matdesc that is not a map of strings', { object });
    }
    return {
      material: { key, iv },
      wrapped: {
        wrapAlgorithm: field(body, 'wrapAlgorithm', 'wrap'),
        wrappedKey: field(body, 'wrappedKey', 'wrap'),
        wrappedStart: field(body, 'wrappedStart', 'wrap'),
      },
      matdesc: matdesc as MatDesc,
    };
  }

  /**
   * Sends the object's envelope headers to the broker and returns the data key and IV; `null` when the broker has no
   * key for it.
   * @throws CseError ERR_CSE_KEY_BROKER_REFUSED, ERR_CSE_KEY_BROKER, ERR_CSE_UNWRAP_BAD_LENGTH
   */
  async unwrap(envelope: Envelope, object: string): Promise<ContentMaterial | null> {
    const { status, body } = await this.#call({ op: 'unwrap', object, headers: encodeEnvelope(envelope) }, object);
    if (status === 422 && (body as BrokerError).error?.code === ErrorCode.NO_MATCHING_KEY) return null;
    if (status !== 200) this.#fail(status, body, object);
    // The broker returns the initial counter block itself (for V1 and guide envelopes too, already converted).
    const key = decodeBase64Strict(field(body, 'key', 'unwrap'));
    const iv = decodeBase64Strict(field(body, 'iv', 'unwrap'));
    if (key.length !== 32 || iv.length !== 16) {
      throw new CseError(ErrorCode.UNWRAP_BAD_LENGTH, 'the key broker returned a data key or IV of the wrong length', { object });
    }
    return { key, iv };
  }
}
