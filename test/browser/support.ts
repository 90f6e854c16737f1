// Harness of the browser suites: the embedded server (CORS for any origin), a page server on another port (the test
// page, the bundle, ali-oss's browser build, and a key broker from createKeyBroker), and headless Debian chromium
// driven by puppeteer-core. The page's half is test/browser/page/harness.js.
import { existsSync, readFileSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import OSS from 'ali-oss';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { createKeyBroker, RsaMasterKey, type KeyBrokerRequest } from '../../src/index.js';
import { startServer, type RunningServer } from '../../server/src/index.js';
import { vectorKeys } from '../helpers/vectors.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const BUNDLE = join(ROOT, 'dist', 'browser', 'oss-cse.js');
export const CHROMIUM = process.env.OSS_CSE_CHROMIUM ?? '/usr/bin/chromium';
export const BUCKET = 'web';

/** Why the browser suites cannot run here, or undefined when they can. */
export const SKIP: string | undefined = !existsSync(BUNDLE)
  ? 'needs the browser bundle: run `npm run build` (npm test does)'
  : !existsSync(CHROMIUM)
    ? `needs chromium at ${CHROMIUM} (apt-get install chromium; .ci/run does)`
    : undefined;

/** Same generator as the page's `seededBytes` (harness.js): per-1-MiB-block mulberry32 words, little-endian. */
export function seededBytes(seed: number, size: number, offset = 0): Buffer {
  const out = Buffer.alloc(size);
  const BLOCK = 1 << 20;
  for (let at = 0; at < size; ) {
    const abs = offset + at;
    const block = Math.floor(abs / BLOCK);
    const within = abs % BLOCK;
    const n = Math.min(BLOCK - within, size - at);
    const words = new Uint32Array(BLOCK / 4);
    // Doubles then >>> 0, as the page does (exact for the small seeds and block numbers used).
    let a = (seed * 0x9e3779b1 + block * 0x85ebca77) >>> 0;
    for (let i = 0; i < words.length; i++) {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      words[i] = (t ^ (t >>> 14)) >>> 0;
    }
    Buffer.from(words.buffer).copy(out, at, within, within + n);
    at += n;
  }
  return out;
}

export interface BrokerLogEntry {
  readonly operation: string;
  readonly object: string;
  readonly user: string | undefined;
}

export interface Harness {
  readonly server: RunningServer;
  readonly browser: Browser;
  readonly page: Page;
  readonly pageUrl: string;
  readonly brokerLog: BrokerLogEntry[];
  /** Node's ali-oss client on the same bucket. */
  readonly oss: OSS;
  /** Calls `T.<fn>(args)` in the page. */
  call<T = any>(fn: string, args?: unknown): Promise<T>;
  close(): Promise<void>;
}

const STATIC: Record<string, { file: string; type: string }> = {
  '/': { file: join(ROOT, 'test', 'browser', 'page', 'index.html'), type: 'text/html; charset=utf-8' },
  '/harness.js': { file: join(ROOT, 'test', 'browser', 'page', 'harness.js'), type: 'text/javascript' },
  '/oss-cse.js': { file: BUNDLE, type: 'text/javascript' },
  '/aliyun-oss-sdk.min.js': { file: join(ROOT, 'node_modules', 'ali-oss', 'dist', 'aliyun-oss-sdk.min.js'), type: 'text/javascript' },
};

async function listen(server: http.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

/**
 * Starts everything and opens the test page.
 * @param options - extra chromium flags
 */
export async function startHarness(options: { readonly chromiumArgs?: readonly string[]; readonly protocolTimeoutMs?: number } = {}): Promise<Harness> {
  const server = await startServer({ memory: true, buckets: [BUCKET], cors: '*' });
  const brokerLog: BrokerLogEntry[] = [];
  const broker = createKeyBroker({
    masterKey: new RsaMasterKey({ privateKey: vectorKeys.privatePkcs8(), description: { owner: 'broker' } }),
    decryptionKeys: [new RsaMasterKey({ privateKey: vectorKeys.privatePkcs8() })],
    allowLegacy: true,
    authorize: (request: KeyBrokerRequest) => {
      const user = request.http.headers['x-test-user'];
      brokerLog.push({ operation: request.operation, object: request.object, user: typeof user === 'string' ? user : undefined });
      return !request.object.startsWith('forbidden/');
    },
    log: () => undefined,
  });
  const pages = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (path === '/broker') {
      broker(req, res);
      return;
    }
    const entry = STATIC[path];
    if (entry === undefined) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'Content-Type': entry.type, 'Cache-Control': 'no-store' }).end(readFileSync(entry.file));
  });
  const port = await listen(pages);
  const pageUrl = `http://127.0.0.1:${port}/`;
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    protocolTimeout: options.protocolTimeoutMs ?? 180_000,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--enable-precise-memory-info', ...(options.chromiumArgs ?? [])],
  });
  const page = await browser.newPage();
  const consoleErrors: string[] = [];
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  await page.goto(pageUrl);
  await page.waitForFunction('window.ready === true', { timeout: 30_000 }).catch((e: unknown) => {
    throw new Error(`the test page did not load: ${consoleErrors.join('; ')} ${String(e)}`);
  });
  const keyText = (f: () => string): string => f();
  await page.evaluate(
    `T.configure(${JSON.stringify({
      endpoint: server.endpoint,
      bucket: BUCKET,
      ...server.credentials,
      publicKey: keyText(vectorKeys.publicSpki),
      publicKeyPkcs1: keyText(vectorKeys.publicPkcs1),
      privateKey: keyText(vectorKeys.privatePkcs8),
      privateKeyPkcs1: keyText(vectorKeys.privatePkcs1),
      brokerUrl: '/broker',
    })})`,
  );
  const oss = new OSS({ endpoint: server.endpoint, bucket: BUCKET, region: 'oss-cn-hangzhou', ...server.credentials });
  return {
    server,
    browser,
    page,
    pageUrl,
    brokerLog,
    oss,
    call: async <T>(fn: string, args?: unknown): Promise<T> => (await page.evaluate(`T.${fn}(${args === undefined ? '' : JSON.stringify(args)})`)) as T,
    close: async () => {
      await browser.close();
      await new Promise<void>((resolve) => {
        pages.close(() => {
          resolve();
        });
        pages.closeAllConnections();
      });
      await server.close();
    },
  };
}
