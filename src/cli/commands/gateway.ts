/**
 * `oss-cse gateway`: runs the encrypting OSS gateway (gateway/, docs/gateway.md) until SIGINT or SIGTERM.
 *
 * @packageDocumentation
 */

import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CseError, ErrorCode } from '../../errors.js';
import type { Command } from '../command.js';
import { UsageError, parsePositive } from '../command.js';
import { cseHome } from '../keys.js';
import { ONLINE_HELP, ONLINE_OPTIONS } from '../online.js';
import { serveUntilStopped, untilStopSignal } from '../interrupt.js';

const help = `Usage: oss-cse gateway [--host 127.0.0.1] [--port N] [--allow-remote]
                       [--endpoint URL | --region R] [key options as for put/get]
                       [--access-key-id ID --access-key-secret SECRET] [--show-envelope]
                       [--max-connections N] [--headers-timeout S] [--idle-timeout S]

Runs a local OSS endpoint that encrypts every object on its way up and decrypts it on its way down, so that
ossutil and plain OSS clients (ali-oss, oss2, the Go and Java SDKs) read and write client-side-encrypted objects
in the official format without knowing it. See docs/gateway.md.

When ready it prints one line:
  oss-cse gateway listening on http://HOST:PORT
followed, when no --access-key-id was given, by the credentials clients sign with:
  OSS_ACCESS_KEY_ID=...
  OSS_ACCESS_KEY_SECRET=...
Clients sign with these gateway credentials; the gateway checks their V1/V4 signatures and signs every upstream
request with the real credentials (the environment, as for put/get), which clients never see.
It stops cleanly on SIGINT (Ctrl-C) or SIGTERM; uploads still open are then lost (see docs/gateway.md).

Options:
  --host HOST                 interface to listen on (default 127.0.0.1: this machine only)
  --allow-remote              required for a --host other than a loopback address; the gateway speaks plain HTTP,
                              so put TLS in front of it (a warning is printed)
  --port N                    port (default 0: any free port)
  --access-key-id ID          the key id clients sign with (requires --access-key-secret)
  --access-key-secret SECRET  its secret; without both, a pair is generated once and stored in
                              $OSS_CSE_HOME/gateway/credentials.json (mode 0600)
  --show-envelope             show the x-oss-meta-client-side-encryption-* headers to clients (debugging)
  --max-connections N         most open client connections (default 1024, or half the open-file limit);
                              at the cap, idle connections that never authenticated make room for new ones
  --headers-timeout S         seconds a request's headers may take to arrive (default 30)
  --idle-timeout S            seconds of silence allowed while waiting for a client's body or for it to
                              read an answer (default 120); slow transfers that keep moving are never cut

Upstream and keys (--endpoint/--region, --public-key, --private-key, --kms-key-id, --keys, --allow-legacy,
--require-encrypted, --key-selection) work as for put and get; without --endpoint and --region the upstream is
the embedded server over $OSS_CSE_HOME/server.

${ONLINE_HELP}
`;

function parsePort(text: string): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) > 65535) throw new UsageError(`--port must be 0..65535, got ${JSON.stringify(text)}`);
  return Number(text);
}

// As in serve.ts (same flags, same spelling of the error).
/** True for addresses only this machine can reach. */
function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/**
 * `oss-cse gateway`. Resolves with exit code 0 after SIGINT/SIGTERM and a clean shutdown.
 * @throws UsageError for a bad command line (exit code 2)
 * @throws CseError ERR_CSE_IO when the gateway cannot start; as put/get for the upstream and the keys
 */
export const gateway: Command = {
  name: 'gateway',
  summary: 'run an OSS endpoint that encrypts and decrypts for unmodified OSS tools',
  help,
  async run(args, io) {
    const { values } = parseArgs({
      args: [...args],
      options: {
        ...ONLINE_OPTIONS,
        host: { type: 'string', default: '127.0.0.1' },
        port: { type: 'string', default: '0' },
        'allow-remote': { type: 'boolean', default: false },
        'access-key-id': { type: 'string' },
        'access-key-secret': { type: 'string' },
        'show-envelope': { type: 'boolean', default: false },
        'max-connections': { type: 'string' },
        'headers-timeout': { type: 'string' },
        'idle-timeout': { type: 'string' },
      },
      strict: true,
      allowPositionals: false,
    });
    const port = parsePort(values.port);
    const maxConnections = parsePositive('--max-connections', values['max-connections'], 1_000_000);
    const headersTimeout = parsePositive('--headers-timeout', values['headers-timeout'], 86_400);
    const idleTimeout = parsePositive('--idle-timeout', values['idle-timeout'], 86_400);
    if (values.host === '') throw new UsageError('--host must not be empty');
    if (!isLoopback(values.host) && !values['allow-remote']) {
      throw new UsageError(`--host ${values.host} is not a loopback address: add --allow-remote (and put TLS in front of the gateway)`);
    }
    const id = values['access-key-id'];
    const secret = values['access-key-secret'];
    if ((id === undefined) !== (secret === undefined)) throw new UsageError('--access-key-id and --access-key-secret go together');
    if (id === '' || secret === '') throw new UsageError('--access-key-id and --access-key-secret must not be empty');

    const signal = untilStopSignal();
    const { openSession } = await import('../target.js');
    const { startGateway } = await import('../../../gateway/src/index.js');
    const session = await openSession(values, io, undefined);
    try {
      let running;
      try {
        running = await startGateway({
          oss: session.oss,
          masterKey: session.keys.masterKey,
          decryptionKeys: session.keys.decryptionKeys,
          keySelection: values['key-selection'] === 'strict' ? 'strict' : 'fallback',
          allowLegacy: values['allow-legacy'],
          requireEncrypted: values['require-encrypted'],
          showEnvelope: values['show-envelope'],
          host: values.host,
          port,
          ...(maxConnections === undefined ? {} : { maxConnections }),
          ...(headersTimeout === undefined ? {} : { headersTimeoutMs: headersTimeout * 1000 }),
          ...(idleTimeout === undefined ? {} : { idleTimeoutMs: idleTimeout * 1000 }),
          ...(id !== undefined && secret !== undefined
            ? { credentials: { accessKeyId: id, accessKeySecret: secret } }
            : { credentialsDir: join(cseHome(io.env), 'gateway') }),
          log: (line) => io.stderr.write(line + '\n'),
        });
      } catch (e) {
        throw new CseError(ErrorCode.IO, `failed to start the gateway: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
      }
      if (!isLoopback(values.host)) {
        io.stderr.write(
          `warning: the gateway listens on ${values.host} over plain HTTP: requests, signatures and decrypted objects cross the network unencrypted; put TLS in front of it\n`,
        );
      }
      return await serveUntilStopped(io, 'gateway', running, id === undefined, signal);
    } finally {
      await session.close();
    }
  },
};
