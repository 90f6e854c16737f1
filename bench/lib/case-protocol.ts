/** Messages between the benchmark and a case child (see case-child.ts). */

import type { Sample } from './measure.js';

/** What the parent asks a case child to run. */
export interface CaseRequest {
  /** `file:` URL of the case module. */
  readonly module: string;
  /** The exported async function to call. */
  readonly exportName: string;
  /** Its JSON argument. */
  readonly args: unknown;
}

/** The child's answer: the sample with its peak RSS, or the failure. */
export type CaseReply = { readonly sample: Sample } | { readonly error: string };
