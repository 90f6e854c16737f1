// Child process of test/hardening/load.test.ts: runs the embedded server on loopback with the disk store in the
// directory given as argv[2], reports `{ endpoint, credentials }` to the parent over IPC, then answers every `rss`
// message with its resident set size, so the parent can watch the server's memory while it is loaded.
import { startServer } from '../../server/src/index.js';

const dataDir = process.argv[2];
if (dataDir === undefined) throw new Error('usage: load-server.ts DATA_DIR');
const server = await startServer({ dataDir, buckets: ['load'], kms: false, log: () => undefined });
const send = (message: unknown): void => {
  process.send?.(message);
};
process.on('message', (m) => {
  if (m === 'rss') send({ rss: process.memoryUsage().rss });
  if (m === 'close') {
    void server.close().then(() => {
      process.disconnect();
    });
  }
});
send({ endpoint: server.endpoint, credentials: server.credentials, rss: process.memoryUsage().rss });
