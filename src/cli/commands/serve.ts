/**
 * `oss-cse serve`: runs the embedded OSS-compatible server (and its KMS emulator) until SIGINT or SIGTERM.
 *
 * @packageDocumentation
 */

import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startServer, type RunningServer } from '../../../server/src/index.js';
import { CseError, ErrorCode } from '../../errors.js';
import type { CliIo, Command } from '../command.js';
import { UsageError, parsePositive } from '../command.js';
import { serveUntilStopped, untilStopSignal } from '../interrupt.js';

const help = `Usage: oss-cse serve [--host 127.0.0.1] [--port 0] [--data DIR | --memory]
                     [--access-key-id ID --access-key-secret SECRET] [--bucket NAME ...]
                     [--max-connections N] [--headers-timeout S] [--idle-timeout S]
                     [--cors ORIGIN ...]

Runs a local OSS-compatible server (buckets, objects, multipart uploads, OSS V1/V4 signatures)
with a KMS emulator on the same port, for trying oss-cse and running tests without a cloud account.
See server/CONFORMANCE.md for what it supports.

When ready it prints one line:
  oss-cse server listening on http://HOST:PORT
followed, when no credentials were given, by the credentials it accepts:
  OSS_ACCESS_KEY_ID=...
  OSS_ACCESS_KEY_SECRET=...
It stops cleanly on SIGINT (Ctrl-C) or SIGTERM.

Options:
  --host HOST                 interface to listen on (default 127.0.0.1: this machine only)
  --port N                    port (default 0: any free port)
  --data DIR                  data directory (default $OSS_CSE_HOME/server, OSS_CSE_HOME defaults to ~/.oss-cse)
  --memory                    keep everything in memory; nothing is written and nothing survives a restart
  --access-key-id ID          accept this access key id (requires --access-key-secret)
  --access-key-secret SECRET  its secret; without both, a key pair is generated once and stored in
                              DIR/credentials.json (mode 0600), or generated per run with --memory
  --bucket NAME               create this bucket at start if missing (repeatable)
  --max-connections N         most open client connections (default 1024, or half the open-file limit);
                              at the cap, idle connections that never authenticated make room for new ones
  --headers-timeout S         seconds a request's headers may take to arrive (default 30)
  --idle-timeout S            seconds of silence allowed while waiting for a client's body or for it to
                              read an answer (default 120); slow transfers that keep moving are never cut
  --cors ORIGIN               let pages from ORIGIN (e.g. http://127.0.0.1:8080, or * for any) use the
                              server: preflights answered, every method and header allowed, and ETag,
                              Content-Range, x-oss-request-id, x-oss-hash-crc64ecma and the
                              x-oss-meta-client-side-encryption-* headers exposed (repeatable; buckets
                              with their own PutBucketCors rules use those instead)
`;

function dataDirFor(io: CliIo, explicit: string | undefined): string {
  if (explicit !== undefined) return resolve(explicit);
  const home = io.env.OSS_CSE_HOME;
  return join(home !== undefined && home !== '' ? resolve(home) : join(homedir(), '.oss-cse'), 'server');
}

function parsePort(text: string): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) > 65535) throw new UsageError(`--port must be 0..65535, got ${JSON.stringify(text)}`);
  return Number(text);
}

/**
 * `oss-cse serve`. Resolves with exit code 0 after SIGINT/SIGTERM and a clean shutdown.
 * @throws UsageError for a bad command line (exit code 2)
 * @throws CseError ERR_CSE_IO when the server cannot start (address in use, data directory locked or unreadable)
 */
export const serve: Command = {
  name: 'serve',
  summary: 'run the local OSS-compatible server and KMS emulator',
  help,
  async run(args, io) {
    const { values } = parseArgs({
      args: [...args],
      options: {
        host: { type: 'string', default: '127.0.0.1' },
        port: { type: 'string', default: '0' },
        data: { type: 'string' },
        memory: { type: 'boolean', default: false },
        'access-key-id': { type: 'string' },
        'access-key-secret': { type: 'string' },
        bucket: { type: 'string', multiple: true, default: [] },
        'max-connections': { type: 'string' },
        'headers-timeout': { type: 'string' },
        'idle-timeout': { type: 'string' },
        cors: { type: 'string', multiple: true, default: [] },
      },
      strict: true,
      allowPositionals: false,
    });
    const port = parsePort(values.port);
    const maxConnections = parsePositive('--max-connections', values['max-connections'], 1_000_000);
    const headersTimeout = parsePositive('--headers-timeout', values['headers-timeout'], 86_400);
    const idleTimeout = parsePositive('--idle-timeout', values['idle-timeout'], 86_400);
    if (values.host === '') throw new UsageError('--host must not be empty');
    if (values.memory && values.data !== undefined) throw new UsageError('--memory and --data exclude each other');
    const id = values['access-key-id'];
    const secret = values['access-key-secret'];
    if ((id === undefined) !== (secret === undefined)) {
      throw new UsageError('--access-key-id and --access-key-secret go together');
    }
    if (id === '' || secret === '') throw new UsageError('--access-key-id and --access-key-secret must not be empty');
    for (const bucket of values.bucket) {
      if (!/^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/.test(bucket)) {
        throw new UsageError(`--bucket ${JSON.stringify(bucket)} is not a valid bucket name (3-63 of a-z, 0-9, -)`);
      }
    }

    for (const origin of values.cors) {
      if (origin === '' || origin.split('*').length > 2) {
        throw new UsageError(`--cors ${JSON.stringify(origin)} is not an origin (e.g. http://127.0.0.1:8080, or *; at most one *)`);
      }
    }

    const signal = untilStopSignal();
    let server: RunningServer;
    try {
      server = await startServer({
        host: values.host,
        port,
        ...(values.memory ? { memory: true } : { dataDir: dataDirFor(io, values.data) }),
        ...(id !== undefined && secret !== undefined ? { credentials: { accessKeyId: id, accessKeySecret: secret } } : {}),
        buckets: values.bucket,
        ...(maxConnections === undefined ? {} : { maxConnections }),
        ...(headersTimeout === undefined ? {} : { headersTimeoutMs: headersTimeout * 1000 }),
        ...(idleTimeout === undefined ? {} : { idleTimeoutMs: idleTimeout * 1000 }),
        ...(values.cors.length > 0 ? { cors: values.cors } : {}),
        log: (line) => io.stderr.write(line + '\n'),
      });
    } catch (e) {
      throw new CseError(ErrorCode.IO, `failed to start the server: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
    return serveUntilStopped(io, 'server', server, id === undefined, signal);
  },
};
