// The example app (examples/browser/, `npm run demo:browser`) as a user drives it in Chromium: pick a file, encrypt
// and upload it with progress, see it listed, download and decrypt it in the page; the key broker holds the key.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import puppeteer, { type Browser } from 'puppeteer-core';
import { CHROMIUM, ROOT, SKIP } from './support.js';

describe('examples/browser (npm run demo:browser)', { skip: SKIP, timeout: 180_000 }, () => {
  let demo: ChildProcess;
  let url: string;
  let browser: Browser;
  const dir = mkdtempSync(join(tmpdir(), 'oss-cse-demo-'));

  before(async () => {
    demo = spawn(process.execPath, [join(ROOT, 'examples', 'browser', 'demo.mjs'), '--port', '0'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    url = await new Promise<string>((resolve, reject) => {
      demo.stdout?.setEncoding('utf8').on('data', (d: string) => {
        out += d;
        const m = /open (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
        if (m?.[1] !== undefined) resolve(m[1]);
      });
      demo.once('exit', (code) => {
        reject(new Error(`demo exited with ${String(code)}: ${out}`));
      });
    });
    browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  });
  after(async () => {
    await browser.close();
    demo.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  });

  it('prints the URL, uploads a picked file encrypted with progress, lists it, and decrypts it in the page', async () => {
    const page = await browser.newPage();
    await page.goto(url);
    await page.waitForFunction('window.demoReady === true', { timeout: 30_000 });
    const file = join(dir, 'note.txt');
    const text = `a note encrypted in the page ${'x'.repeat(3_000_000)} end`;
    writeFileSync(file, text);
    const input = await page.$('#files');
    assert.ok(input !== null);
    await input.uploadFile(file);
    await page.click('#upload');
    await page.waitForFunction(`document.getElementById('status').textContent.startsWith('uploaded')`, { timeout: 60_000 });
    assert.equal(await page.$eval('#progress', (p) => (p as unknown as { value: number }).value), 1);
    await page.waitForSelector('button[data-name="note.txt"]');
    await page.click('button[data-name="note.txt"]');
    await page.waitForFunction(`document.getElementById('status').textContent.startsWith('decrypted')`, { timeout: 30_000 });
    const status = await page.$eval('#status', (e) => e.textContent);
    assert.match(status ?? '', new RegExp(`decrypted note.txt: ${text.length} bytes \\(RSA/NONE/PKCS1Padding\\)`));
    const preview = await page.$eval('#preview', (e) => e.textContent);
    assert.ok(preview?.startsWith('a note encrypted in the page xxx'));
  });
});
