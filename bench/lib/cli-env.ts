/** The environment the benchmark runs `bin/oss-cse.js` in. */

import type { ServerProcess } from './processes.js';

/**
 * The CLI's environment for a bench row: the server's credentials and a fresh home, and every other variable the
 * CLI reads for keys, endpoints and credentials emptied, so nothing of the developer's own set-up leaks into a
 * measured run.
 * @param server - the server whose credentials the CLI signs with
 * @param home - a fresh OSS_CSE_HOME
 */
export function isolatedCliEnv(server: Pick<ServerProcess, 'credentials'>, home: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    OSS_ENDPOINT: '',
    OSS_REGION: '',
    OSS_CSE_PUBLIC_KEY: '',
    OSS_CSE_PRIVATE_KEY: '',
    OSS_SESSION_TOKEN: '',
    ALIBABA_CLOUD_SECURITY_TOKEN: '',
    ALIBABA_CLOUD_ACCESS_KEY_ID: '',
    ALIBABA_CLOUD_ACCESS_KEY_SECRET: '',
    OSS_CSE_HOME: home,
    OSS_ACCESS_KEY_ID: server.credentials.accessKeyId,
    OSS_ACCESS_KEY_SECRET: server.credentials.accessKeySecret,
  };
}
