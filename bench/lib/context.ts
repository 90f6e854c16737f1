/** What a row group gets to work with, and what it must provide. */

import type { Comparison, MeasureSettings, RowResult } from './measure.js';
import type { BenchOptions } from './options.js';
import type { ServerProcess } from './processes.js';
import type { ServerKind } from './server-protocol.js';

/** A row that was not measured, and why (printed and recorded: never silently missing). */
export interface SkippedRow {
  readonly group: string;
  readonly id: string;
  readonly reason: string;
}

/** Services of the harness for the row groups. */
export interface BenchContext {
  readonly options: BenchOptions;
  readonly settings: MeasureSettings;
  /**
   * Measures a comparison, prints its line and records it. A comparison that fails is recorded as not measured
   * (with the error) and gives `undefined`, so one broken row does not end the run.
   */
  compare(c: Comparison): Promise<RowResult | undefined>;
  /** Records (and prints) a row that could not be measured. */
  skip(group: string, id: string, reason: string): void;
  /** Adds a note to the report (printed under the table and kept in the JSON). */
  note(text: string): void;
  /** Progress line on standard error. */
  log(line: string): void;
  /** The server child of this kind, started on first use and shared by the run. */
  server(kind: ServerKind): Promise<ServerProcess>;
  /** Results so far (a later group may build on an earlier one's figures). */
  readonly results: readonly RowResult[];
}

/**
 * A group of rows: one file in bench/rows/, listed in bench/rows/index.ts. Adding the multipart rows of [transfer]
 * is one more such file (its sides would use `runCaseInChild` for peak RSS).
 */
export interface RowGroup {
  /** Name used by `--only`/`--skip` and in the JSON. */
  readonly name: string;
  /** One line for the help and the report. */
  readonly title: string;
  run(ctx: BenchContext): Promise<void>;
}
