/**
 * `oss-cse config set|get|list|unset`: the defaults in `$OSS_CSE_HOME/config.json`.
 *
 * @packageDocumentation
 */

import { parseArgs } from 'node:util';
import type { Command } from '../command.js';
import { UsageError } from '../command.js';
import { SETTINGS, configPath, readConfigSync, writeSetting } from '../config.js';

const width = Math.max(...SETTINGS.map((s) => s.name.length));

const help = `Usage: oss-cse config set NAME VALUE [VALUE ...] | get NAME | unset NAME | list [--json]

Keeps defaults for the options you would otherwise repeat, in $OSS_CSE_HOME/config.json (OSS_CSE_HOME
defaults to ~/.oss-cse). Precedence: command-line flags > environment variables > this file > built-in defaults.
Secrets never go here: credentials come from --profile / ~/.alibabacloud/credentials or the environment.

Settings (the environment variable that overrides each, if any):
${SETTINGS.map((s) => `  ${s.name.padEnd(width)}  ${s.description}${s.env === undefined ? '' : ` ($${s.env})`}`).join('\n')}

Options:
  --json                   print a JSON result (list, get)
`;

export const config: Command = {
  name: 'config',
  summary: 'defaults in $OSS_CSE_HOME/config.json: config set|get|unset|list',
  help,
  async run(args, io) {
    const { values, positionals } = parseArgs({ args: [...args], options: { json: { type: 'boolean', default: false }, quiet: { type: 'boolean', short: 'q', default: false } }, strict: true, allowPositionals: true });
    const [action, name, ...rest] = positionals;
    const known = (n: string | undefined): string => {
      if (n === undefined) throw new UsageError(`config ${action ?? ''} needs a setting NAME`);
      if (!SETTINGS.some((s) => s.name === n)) throw new UsageError(`unknown setting ${JSON.stringify(n)} (known: ${SETTINGS.map((s) => s.name).join(', ')})`);
      return n;
    };
    switch (action) {
      case 'list': {
        if (name !== undefined) throw new UsageError('config list takes no argument');
        const current = readConfigSync(io.env);
        if (values.json) io.stdout.write(JSON.stringify({ file: configPath(io.env), settings: current }) + '\n');
        else for (const [k, v] of Object.entries(current)) io.stdout.write(`${k} = ${Array.isArray(v) ? v.join(' ') : v}\n`);
        return 0;
      }
      case 'get': {
        const key = known(name);
        if (rest.length > 0) throw new UsageError('config get takes one NAME');
        const value = readConfigSync(io.env)[key];
        if (values.json) io.stdout.write(JSON.stringify({ name: key, value: value ?? null }) + '\n');
        else if (value !== undefined) io.stdout.write(`${Array.isArray(value) ? value.join(' ') : value}\n`);
        return value === undefined ? 1 : 0;
      }
      case 'set': {
        const key = known(name);
        if (rest.length === 0) throw new UsageError(`config set ${key} needs a VALUE`);
        const multiple = SETTINGS.find((s) => s.name === key)?.multiple === true;
        if (rest.length > 1 && !multiple) throw new UsageError(`${key} takes one VALUE`);
        if (key === 'key-selection' && rest[0] !== 'fallback' && rest[0] !== 'strict') throw new UsageError('key-selection must be fallback or strict');
        if (key === 'jobs' && !/^[1-9][0-9]*$/.test(rest[0] ?? '')) throw new UsageError('jobs must be a whole number ≥ 1');
        await writeSetting(io.env, key, multiple ? rest : rest[0]);
        if (!values.quiet && !values.json) io.stdout.write(`${key} = ${rest.join(' ')} (in ${configPath(io.env)})\n`);
        if (values.json) io.stdout.write(JSON.stringify({ name: key, value: multiple ? rest : rest[0] }) + '\n');
        return 0;
      }
      case 'unset': {
        const key = known(name);
        await writeSetting(io.env, key, undefined);
        if (values.json) io.stdout.write(JSON.stringify({ name: key, value: null }) + '\n');
        return 0;
      }
      default:
        throw new UsageError(action === undefined ? 'expected set, get, unset or list' : `unknown action ${JSON.stringify(action)}: expected set, get, unset or list`);
    }
  },
};
