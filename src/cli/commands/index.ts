/**
 * The command registry. Add a command by importing it and listing it here.
 *
 * @packageDocumentation
 */

import type { Command } from '../command.js';

/** Every command, in the order `oss-cse --help` lists them. */
export const commands: readonly Command[] = [];
