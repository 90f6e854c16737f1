// Runs the real CLI entry (bin/oss-cse.js, which loads the build in dist/; `npm test` builds first).
import { spawn } from 'node:child_process';

export const BIN = new URL('../../bin/oss-cse.js', import.meta.url).pathname;

/**
 * The environment for a CLI run against `server`: every variable that could point the CLI elsewhere or give it keys
 * or credentials is blanked (so the developer's own settings never leak in), `OSS_CSE_HOME` is `home`, and the OSS
 * credentials are the server's.
 */
export function cliEnv(server: { readonly credentials: { readonly accessKeyId: string; readonly accessKeySecret: string } }, home: string): NodeJS.ProcessEnv {
  const blank = ['OSS_ENDPOINT', 'OSS_REGION', 'OSS_CSE_PUBLIC_KEY', 'OSS_CSE_PRIVATE_KEY', 'OSS_SESSION_TOKEN', 'ALIBABA_CLOUD_SECURITY_TOKEN',
    'ALIBABA_CLOUD_ACCESS_KEY_ID', 'ALIBABA_CLOUD_ACCESS_KEY_SECRET'];
  return {
    ...Object.fromEntries(blank.map((k) => [k, ''])),
    OSS_CSE_HOME: home,
    OSS_ACCESS_KEY_ID: server.credentials.accessKeyId,
    OSS_ACCESS_KEY_SECRET: server.credentials.accessKeySecret,
  };
}

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export function runCli(args: readonly string[], env: NodeJS.ProcessEnv = {}, input?: string): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, stdio: 'pipe' });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input ?? '');
  });
}
