#!/usr/bin/env node
// `npm run demo:browser`: the browser example, all local. Starts the embedded OSS server (in memory, with a CORS rule
// for the page's origin), a key broker (createKeyBroker with a fresh RSA key that never leaves this process) and a
// static server for the page, then prints the URL. Needs `npm run build` (the page loads dist/browser/oss-cse.js).
//
// In production the page gets STS credentials from your server (AssumeRole) instead of /config, the bucket has the
// CORS rule from docs/browser.md, and authorize() checks the signed-in user against the object name.
import { existsSync, readFileSync } from 'node:fs';
import * as http from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { RsaMasterKey, createKeyBroker, generateRsaKeyPair } from 'oss-cse';
import { startServer } from 'oss-cse/server';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const bundle = join(root, 'dist', 'browser', 'oss-cse.js');
if (!existsSync(bundle)) {
  console.error('demo:browser needs the build: run `npm run build` first');
  process.exit(1);
}
const { values } = parseArgs({ options: { port: { type: 'string', default: '8080' } } });

const bucket = 'demo';
const { privateKeyPem } = await generateRsaKeyPair(2048);
const broker = createKeyBroker({
  masterKey: new RsaMasterKey({ privateKey: privateKeyPem, description: { app: 'browser-demo' } }),
  // A demo lets everyone in; a real application checks the session against request.object here.
  authorize: (request) => !request.object.startsWith('forbidden/'),
});

const files = {
  '/': ['index.html', 'text/html; charset=utf-8'],
  '/app.js': ['app.js', 'text/javascript'],
  '/oss-cse.js': [bundle, 'text/javascript'],
  '/aliyun-oss-sdk.min.js': [join(root, 'node_modules', 'ali-oss', 'dist', 'aliyun-oss-sdk.min.js'), 'text/javascript'],
};

let oss;
const pages = http.createServer((req, res) => {
  const path = (req.url ?? '/').split('?')[0];
  if (path === '/broker') return broker(req, res);
  if (path === '/config') {
    // Stand-in for an STS endpoint: the emulator's own key pair, the page's endpoint and bucket.
    res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
    res.end(JSON.stringify({ endpoint: oss.endpoint.replace('127.0.0.1', 'localhost'), bucket, ...oss.credentials }));
    return;
  }
  const entry = files[path];
  if (entry === undefined) {
    res.writeHead(404).end('not found');
    return;
  }
  const [file, type] = entry;
  res.writeHead(200, { 'Content-Type': type, 'Cache-Control': 'no-store' }).end(readFileSync(file.startsWith('/') ? file : join(here, file)));
});
await new Promise((resolve) => pages.listen(Number(values.port), '127.0.0.1', resolve));
const pageUrl = `http://127.0.0.1:${pages.address().port}/`;
oss = await startServer({ memory: true, buckets: [bucket], cors: pageUrl.slice(0, -1) });

console.log(`oss-cse browser demo: open ${pageUrl}`);
console.log(`  embedded OSS server ${oss.endpoint} (bucket ${bucket}, CORS for ${pageUrl.slice(0, -1)}), key broker ${pageUrl}broker`);
const stop = async () => {
  pages.close();
  pages.closeAllConnections();
  await oss.close();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
