/**
 * Choosing the master key for an object: by material description, compared as a map, found by lookup.
 *
 * The peers disagree here (`oss-go-java.md` §8, `oss2-python.md` §5): Go compares the matdesc header as a raw string,
 * Java and Go v2 silently fall back to a default key, oss2 needs an exact dict. We compare parsed maps (a missing
 * header equals `{}`), look the matching key up instead of trying every key, and make the no-match policy explicit.
 *
 * @packageDocumentation
 */

import { CseError, ErrorCode, NoMatchingKeyError, type KeyAttempt } from '../errors.js';
import { encodeMatDesc } from '../format/matdesc.js';
import type { ContentMaterial, Envelope, WrapScheme } from '../format/types.js';
import type { MasterKey, MasterKeyKind } from './master-key.js';

/**
 * What to do when no configured key's description equals the object's matdesc:
 * - `fallback` (default, like Java and Go v2): try the keys of the object's wrap kind in order; if all fail, throw one
 *   {@link NoMatchingKeyError} listing each key and its reason;
 * - `strict`: throw that error at once, trying no key.
 */
export type KeySelectionPolicy = 'fallback' | 'strict';

/** Options of {@link KeyRing}. */
export interface KeyRingOptions {
  /** The no-match policy; default `fallback`. */
  readonly policy?: KeySelectionPolicy;
}

/** The result of {@link KeyRing.unwrap}: the material and the key that unwrapped it. */
export interface UnwrapResult {
  /** The plaintext data key and initial counter block; zero it after use. */
  readonly material: ContentMaterial;
  /** The master key that unwrapped the envelope. */
  readonly key: MasterKey;
}

/** The kind of master key that can unwrap a wrap scheme. */
export function kindOfScheme(scheme: WrapScheme): MasterKeyKind {
  return scheme === 'kms' ? 'kms' : 'rsa';
}

/**
 * A set of master keys for decryption, indexed by canonical material description.
 */
export class KeyRing {
  /** The keys, in the order given. */
  readonly keys: readonly MasterKey[];
  /** The no-match policy. */
  readonly policy: KeySelectionPolicy;
  readonly #byDescription = new Map<string, MasterKey[]>();

  /**
   * @param keys - the keys to decrypt with, in fallback order
   * @param options - the no-match policy
   * @throws CseError ERR_CSE_INVALID_ARGUMENT when a key's description is not a map of well-formed strings (it could
   *   never be matched against an object's matdesc)
   */
  constructor(keys: readonly MasterKey[], options: KeyRingOptions = {}) {
    this.keys = [...keys];
    this.policy = options.policy ?? 'fallback';
    for (const key of this.keys) {
      const id = `${key.kind}\n${encodeMatDesc(key.description)}`;
      const list = this.#byDescription.get(id);
      if (list === undefined) this.#byDescription.set(id, [key]);
      else list.push(key);
    }
  }

  /**
   * Unwraps an envelope with the key whose description matches it, or by the ring's fallback policy.
   *
   * @param envelope - the parsed envelope
   * @param object - the object key, for error messages
   * @throws NoMatchingKeyError ERR_CSE_NO_MATCHING_KEY when no key could unwrap it (lists each key's reason; marked
   *   `retryable` when one of the keys failed transiently)
   */
  async unwrap(envelope: Envelope, object?: string): Promise<UnwrapResult> {
    const kind = kindOfScheme(envelope.scheme);
    const objectDescription = encodeMatDesc(envelope.matdesc);
    const context = object === undefined ? {} : { object };
    const attempts: KeyAttempt[] = [];
    const tried = new Set<MasterKey>();

    const attempt = async (key: MasterKey): Promise<ContentMaterial | undefined> => {
      tried.add(key);
      try {
        const material = await key.unwrap(envelope, context);
        if (material !== null) return material;
        attempts.push(describe(key, `not applicable to wrap scheme ${envelope.scheme}`));
      } catch (e) {
        attempts.push(describe(key, e instanceof Error ? e.message : String(e), e));
      }
      return undefined;
    };

    for (const key of this.#byDescription.get(`${kind}\n${objectDescription}`) ?? []) {
      const material = await attempt(key);
      if (material !== undefined) return { material, key };
    }
    const others = this.keys.filter((k) => k.kind === kind && !tried.has(k));
    if (this.policy === 'strict') {
      for (const key of others) attempts.push(describe(key, 'description does not match (strict policy: not tried)'));
    } else {
      for (const key of others) {
        const material = await attempt(key);
        if (material !== undefined) return { material, key };
      }
    }
    for (const key of this.keys) {
      if (key.kind !== kind) attempts.push(describe(key, `a ${key.kind} key cannot unwrap a ${kind} envelope`));
    }
    // Retryable when a key failed transiently (KMS outage): a later attempt may succeed where this one could not.
    const retryable = attempts.some((a) => a.error instanceof CseError && a.error.retryable);
    throw new NoMatchingKeyError(objectDescription, attempts, retryable ? { ...context, retryable } : context);
  }
}

function describe(key: MasterKey, reason: string, error?: unknown): KeyAttempt {
  const base = { key: key.name, description: encodeMatDesc(key.description), reason };
  return error === undefined ? base : { ...base, error };
}

/**
 * Checks that a list of keys is usable as a key ring.
 * @throws CseError ERR_CSE_INVALID_ARGUMENT when the list is empty
 */
export function requireKeys(keys: readonly MasterKey[], what: string): void {
  if (keys.length === 0) {
    throw new CseError(ErrorCode.INVALID_ARGUMENT, `${what}: expected at least one master key`);
  }
}
