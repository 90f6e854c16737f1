/**
 * The gateway in its own process for the gateway rows (as users run it: `oss-cse gateway` is one process, its clients
 * others). Started by bench/rows/gateway.ts with the upstream and key in GATEWAY_CHILD_CONFIG (JSON); prints one JSON
 * line `{ endpoint, credentials }` when ready; stops on SIGTERM.
 */

import { startGateway } from '../../gateway/src/index.js';
import { createOssClient } from '../../src/client.js';
import { RsaMasterKey } from '../../src/keys/rsa.js';

interface Config {
  readonly endpoint: string;
  readonly accessKeyId: string;
  readonly accessKeySecret: string;
  readonly privateKeyPem: string;
}

const config = JSON.parse(process.env.GATEWAY_CHILD_CONFIG ?? '{}') as Config;
const oss = createOssClient({ endpoint: config.endpoint, accessKeyId: config.accessKeyId, accessKeySecret: config.accessKeySecret, timeout: 600_000 });
const gateway = await startGateway({ oss, masterKey: new RsaMasterKey({ privateKey: config.privateKeyPem }) });
process.stdout.write(JSON.stringify({ endpoint: gateway.endpoint, credentials: gateway.credentials }) + '\n');
process.once('SIGTERM', () => {
  void gateway.close().then(() => process.exit(0));
});
