/**
 * One whole-process put+get through the gateway for the process gateway rows (issue 20's literal baseline is
 * `oss-cse put/get`, two process starts; this is the gateway side paying one): plain ali-oss uploads FILE to the
 * gateway and downloads it to OUT, then exits. Config in GATEWAY_PUTGET_CONFIG (JSON); exits non-zero when the
 * downloaded size is not the file's.
 */

import OSS from 'ali-oss';
import { stat } from 'node:fs/promises';

interface Config {
  readonly endpoint: string;
  readonly bucket: string;
  readonly accessKeyId: string;
  readonly accessKeySecret: string;
  readonly key: string;
  readonly file: string;
  readonly out: string;
}

const config = JSON.parse(process.env.GATEWAY_PUTGET_CONFIG ?? '{}') as Config;
const client = new OSS({
  region: 'oss-cn-hangzhou',
  bucket: config.bucket,
  endpoint: config.endpoint,
  accessKeyId: config.accessKeyId,
  accessKeySecret: config.accessKeySecret,
  secure: false,
  timeout: 600_000,
});
await client.put(config.key, config.file);
await client.get(config.key, config.out);
const [sent, received] = await Promise.all([stat(config.file), stat(config.out)]);
if (sent.size !== received.size) {
  process.stderr.write(`GET through the gateway: ${received.size} bytes, expected ${sent.size}\n`);
  process.exitCode = 1;
}
