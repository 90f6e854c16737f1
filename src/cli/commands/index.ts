/**
 * The command registry. Add a command by importing it and listing it here.
 *
 * @packageDocumentation
 */

import type { Command } from '../command.js';
import { decrypt } from './decrypt.js';
import { encrypt } from './encrypt.js';
import { inspect } from './inspect.js';
import { keygen } from './keygen.js';
import { serve } from './serve.js';

/** Every command, in the order `oss-cse --help` lists them. */
export const commands: readonly Command[] = [keygen, encrypt, decrypt, inspect, serve];
