/**
 * The CLI dispatcher: picks the command, runs it, turns errors into one line (or one JSON object) and an exit code.
 *
 * @packageDocumentation
 */

import { ExitCode, UsageError, type CliIo } from './command.js';
import { commands } from './commands/index.js';
import { exitOnStopSignals, signalExitCode, stopSignal } from './interrupt.js';
import { failureOf, formatFailure, setDebug } from './report.js';
import { closest, optionsInHelp } from './suggest.js';
import { packageVersion } from './version.js';

export { UsageError };

/** Words that are not commands in the registry but work like them. */
const BUILTINS = ['help', 'version'];

function topHelp(): string {
  const width = Math.max(...commands.map((c) => c.name.length), 7);
  const lines = commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
  return [
    'Usage: oss-cse <command> [options]',
    '',
    'Client-side encryption for Alibaba Cloud OSS, compatible with the official SDKs.',
    '',
    'Commands:',
    ...lines,
    `  ${'help'.padEnd(width)}  the help of a command: help COMMAND (the same as COMMAND --help)`,
    `  ${'version'.padEnd(width)}  print the version (also --version, -v)`,
    '',
    'Run `oss-cse <command> --help` for a command\'s options.',
    '',
    'Exit codes: 0 success; 1 failure (a one-line `error [ERR_CSE_…]: …` on stderr, or with --json one JSON',
    'object {"error": {"code", "message"}}); 2 bad command line; 130 interrupted (Ctrl-C), 143 SIGTERM.',
    'Add --debug to any command to print stack traces and the HTTP library\'s diagnostics.',
  ].join('\n');
}

/**
 * Keeps the terminal for oss-cse's own lines: ali-oss's HTTP library (urllib) writes `[urllib:warn] … callback
 * twice` diagnostics with console.warn; they are dropped unless `--debug`.
 */
function silenceThirdPartyWarnings(): void {
  const warn = console.warn.bind(console);
  console.warn = (...args: unknown[]): void => {
    if (typeof args[0] === 'string' && args[0].startsWith('[urllib:')) return;
    warn(...args);
  };
}

/** A closed standard output (`oss-cse cat … | head`) ends the process quietly instead of with an EPIPE trace. */
function quietOnClosedStdout(stdout: NodeJS.WritableStream): void {
  stdout.on('error', (e: unknown) => {
    if ((e as { code?: unknown } | null)?.code === 'EPIPE') process.exit(0);
    throw e;
  });
}

/**
 * Runs the CLI.
 * @param argv - the arguments after `node bin/oss-cse.js`
 * @param io - where to write (defaults to the process's streams; then signals, EPIPE and third-party warnings are
 *   handled process-wide too)
 * @returns the exit code
 */
export async function main(
  argv: readonly string[],
  io: CliIo = { stdout: process.stdout, stderr: process.stderr, env: process.env },
): Promise<number> {
  const debug = argv.includes('--debug');
  const json = argv.includes('--json');
  setDebug(debug);
  if (io.stdout === process.stdout) {
    exitOnStopSignals();
    quietOnClosedStdout(io.stdout);
    if (!debug) silenceThirdPartyWarnings();
  }
  const args = argv.filter((a) => a !== '--debug');
  const [first, ...rest] = args;
  if (first === undefined || first === '--help' || first === '-h') {
    io.stdout.write(topHelp() + '\n');
    return first === undefined ? ExitCode.USAGE : ExitCode.OK;
  }
  if (first === '--version' || first === '-v' || first === 'version') {
    io.stdout.write(json ? JSON.stringify({ version: packageVersion() }) + '\n' : `oss-cse ${packageVersion()}\n`);
    return ExitCode.OK;
  }
  if (first === 'help') {
    const topic = rest.find((a) => !a.startsWith('-'));
    if (topic === undefined) {
      io.stdout.write(topHelp() + '\n');
      return ExitCode.OK;
    }
    const command = commands.find((c) => c.name === topic);
    if (command === undefined) return usage(io, json, unknownCommand(topic));
    io.stdout.write(command.help.trimEnd() + '\n');
    return ExitCode.OK;
  }
  const command = commands.find((c) => c.name === first);
  if (command === undefined) return usage(io, json, unknownCommand(first));
  if (rest.includes('--help') || rest.includes('-h')) {
    io.stdout.write(command.help.trimEnd() + '\n');
    return ExitCode.OK;
  }
  let code: number;
  try {
    code = await command.run(rest, io);
  } catch (e) {
    code = reportError(e, command.name, command.help, debug, json, io);
  }
  const signal = stopSignal();
  return signal === undefined ? code : signalExitCode(signal);
}

function unknownCommand(word: string): string {
  const names = [...commands.map((c) => c.name), ...BUILTINS];
  const guess = word.startsWith('-') ? closest(word, ['--help', '--version']) : closest(word, names);
  return `unknown ${word.startsWith('-') ? 'option' : 'command'} ${JSON.stringify(word)}${guess === undefined ? '' : `; did you mean ${guess}?`}; run \`oss-cse --help\``;
}

function usage(io: CliIo, json: boolean, message: string): number {
  io.stderr.write(formatFailure(failureOf(new UsageError(message), false), json));
  return ExitCode.USAGE;
}

function reportError(e: unknown, commandName: string, help: string, debug: boolean, json: boolean, io: CliIo): number {
  // parseArgs throws TypeErrors with these codes for unknown or malformed options.
  const parseCode = (e as { code?: unknown } | null)?.code;
  if (e instanceof UsageError || (typeof parseCode === 'string' && parseCode.startsWith('ERR_PARSE_ARGS_'))) {
    let message = (e as Error).message.replace(/\s*\n\s*/g, ' ');
    const unknown = /^Unknown option '([^']+)'/.exec(message)?.[1];
    if (unknown !== undefined) {
      const guess = closest(unknown, optionsInHelp(help));
      message = `unknown option ${unknown}${guess === undefined ? '' : `; did you mean ${guess}?`}`;
    }
    return usage(io, json, `${message}; run \`oss-cse ${commandName} --help\``);
  }
  io.stderr.write(formatFailure(failureOf(e, debug), json));
  if (debug && e instanceof Error && e.stack !== undefined) io.stderr.write(e.stack + '\n');
  return ExitCode.FAILURE;
}
