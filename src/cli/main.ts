/**
 * The CLI dispatcher: picks the command, runs it, turns errors into one line and an exit code.
 *
 * @packageDocumentation
 */

import { CseError } from '../errors.js';
import { ExitCode, UsageError, type CliIo } from './command.js';
import { commands } from './commands/index.js';

export { UsageError };

function topHelp(): string {
  const width = Math.max(...commands.map((c) => c.name.length), 4);
  const lines = commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
  return [
    'Usage: oss-cse <command> [options]',
    '',
    'Client-side encryption for Alibaba Cloud OSS, compatible with the official SDKs.',
    '',
    'Commands:',
    ...lines,
    '',
    'Run `oss-cse <command> --help` for a command\'s options.',
    '',
    'Exit codes: 0 success; 1 failure (a one-line `error [ERR_CSE_…]: …` on stderr); 2 bad command line.',
    'Add --debug to any command to print stack traces.',
  ].join('\n');
}

/**
 * Runs the CLI.
 * @param argv - the arguments after `node bin/oss-cse.js`
 * @param io - where to write (defaults to the process's streams)
 * @returns the exit code
 */
export async function main(
  argv: readonly string[],
  io: CliIo = { stdout: process.stdout, stderr: process.stderr, env: process.env },
): Promise<number> {
  const debug = argv.includes('--debug');
  const args = argv.filter((a) => a !== '--debug');
  const [name, ...rest] = args;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.stdout.write(topHelp() + '\n');
    return name === undefined ? ExitCode.USAGE : ExitCode.OK;
  }
  const command = commands.find((c) => c.name === name);
  if (command === undefined) {
    io.stderr.write(`error: unknown command ${JSON.stringify(name)}; run \`oss-cse --help\`\n`);
    return ExitCode.USAGE;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    io.stdout.write(command.help.trimEnd() + '\n');
    return ExitCode.OK;
  }
  try {
    return await command.run(rest, io);
  } catch (e) {
    return reportError(e, command.name, debug, io);
  }
}

function reportError(e: unknown, commandName: string, debug: boolean, io: CliIo): number {
  if (e instanceof UsageError) {
    io.stderr.write(`error: ${e.message}; run \`oss-cse ${commandName} --help\`\n`);
    return ExitCode.USAGE;
  }
  // parseArgs throws TypeErrors with these codes for unknown or malformed options.
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_')) {
    io.stderr.write(`error: ${(e as Error).message}; run \`oss-cse ${commandName} --help\`\n`);
    return ExitCode.USAGE;
  }
  const line =
    e instanceof CseError
      ? `error [${e.cseCode}]: ${oneLine(e.message)}`
      : `error [ERR_CSE_UNEXPECTED]: ${oneLine(e instanceof Error ? e.message : String(e))}`;
  io.stderr.write(line + '\n');
  if (debug && e instanceof Error && e.stack !== undefined) io.stderr.write(e.stack + '\n');
  return ExitCode.FAILURE;
}

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, ' ');
}
