/**
 * How the CLI reports a failure: one line `error [ERR_CSE_…]: message` on stderr (or, with `--json`, one JSON object
 * `{"error": {"code", "message"}}`), with the HTTP library's diagnostics (request dumps, `agent status`, response
 * headers) cut from the message unless `--debug` is given. See docs/cli-json.md.
 *
 * @packageDocumentation
 */

import { CseError } from '../errors.js';
import { UsageError } from './command.js';

/** The code of a bad command line (exit code 2); the CLI's own, not a library error code. */
export const USAGE_CODE = 'ERR_CSE_USAGE';

/** The code of a failure that is not a CseError (a bug, or something nobody expected). */
export const UNEXPECTED_CODE = 'ERR_CSE_UNEXPECTED';

/** What is printed for a failure. */
export interface Failure {
  /** `ERR_CSE_…` (never a provider's code such as NoSuchKey: that goes in the message). */
  readonly code: string;
  /** One line. */
  readonly message: string;
}

/**
 * The stable oss-cse code of an error. A CseError may carry its code in `cseCode` while `code` holds the provider's
 * (`NoSuchKey`, as ali-oss users expect): the `ERR_CSE_` one is preferred either way.
 */
export function cseCodeOf(e: unknown): string {
  if (e instanceof UsageError) return USAGE_CODE;
  const fields = (typeof e === 'object' && e !== null ? e : {}) as { cseCode?: unknown; code?: unknown };
  for (const value of [fields.cseCode, fields.code]) if (typeof value === 'string' && value.startsWith('ERR_CSE_')) return value;
  return UNEXPECTED_CODE;
}

/**
 * Removes what urllib appends to a network error's message (`, GET url -1 (connected: …, agent status: {…}, …)` and
 * the response headers), and folds the rest onto one line.
 */
export function cleanMessage(message: string): string {
  return message
    .replace(/ \(req "[a-z]+"\)/g, '')
    .replace(/, [A-Z]+ [a-z]+:\/\/\S*? -?\d+ \(connected: [^)]*\)(?:\s*headers: \{[^\n]*?\}(?=$| \(|\n))?/g, '')
    .replace(/\s*\n\s*/g, ' ')
    .trim();
}

let debugMode = false;

/** Set by the dispatcher for `--debug`: messages keep the HTTP library's diagnostics. */
export function setDebug(on: boolean): void {
  debugMode = on;
}

/** The {@link Failure} for an error (`debug` defaults to the dispatcher's `--debug`). */
export function failureOf(e: unknown, debug: boolean = debugMode): Failure {
  const raw = e instanceof Error ? e.message : String(e);
  const message = debug ? raw.replace(/\s*\n\s*/g, ' ') : cleanMessage(raw);
  return { code: cseCodeOf(e), message: e instanceof CseError || e instanceof UsageError ? message : message || 'unexpected failure' };
}

/** Formats a failure for stderr: the `error [CODE]: message` line, or the JSON object. */
export function formatFailure(failure: Failure, json: boolean): string {
  if (json) return JSON.stringify({ error: { code: failure.code, message: failure.message } }) + '\n';
  return failure.code === USAGE_CODE ? `error: ${failure.message}\n` : `error [${failure.code}]: ${failure.message}\n`;
}
