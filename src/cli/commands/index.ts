/**
 * The command registry. Add a command by importing it and listing it here.
 *
 * @packageDocumentation
 */

import type { Command } from '../command.js';
import { cat } from './cat.js';
import { config } from './config.js';
import { cp } from './cp.js';
import { decrypt } from './decrypt.js';
import { demo } from './demo.js';
import { encrypt } from './encrypt.js';
import { gateway } from './gateway.js';
import { get } from './get.js';
import { head } from './head.js';
import { inspect } from './inspect.js';
import { keygen } from './keygen.js';
import { keys } from './keys.js';
import { ls } from './ls.js';
import { mb } from './mb.js';
import { migrate } from './migrate.js';
import { put } from './put.js';
import { rb } from './rb.js';
import { rewrap } from './rewrap.js';
import { rm } from './rm.js';
import { uploads } from './uploads.js';
import { serve } from './serve.js';
import { sync } from './sync.js';

/** Every command, in the order `oss-cse --help` lists them. */
export const commands: readonly Command[] = [put, get, cp, sync, cat, head, ls, rm, mb, rb, uploads, rewrap, migrate, keys, keygen, config, encrypt, decrypt, inspect, serve, gateway, demo];
