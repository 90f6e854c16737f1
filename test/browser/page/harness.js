// Page-side half of the browser suites: loaded by index.html as a module next to ali-oss's browser build (global
// OSS) and the bundle (/oss-cse.js). Node drives it with page.evaluate(`T.fn(args)`); every function returns plain
// JSON (digests instead of bytes) and reports errors as { error: { name, code, message } }.
import * as cse from '/oss-cse.js';

/** The same generator as test/browser/support.ts `seededBytes`: mulberry32 words, little-endian. */
export function seededBytes(seed, size, offset = 0) {
  // Each 1 MiB block has its own seed, so any block can be made without the ones before it.
  const out = new Uint8Array(size);
  const BLOCK = 1 << 20;
  for (let at = 0; at < size; ) {
    const abs = offset + at;
    const block = Math.floor(abs / BLOCK);
    const within = abs % BLOCK;
    const n = Math.min(BLOCK - within, size - at);
    const bytes = blockBytes(seed, block);
    out.set(bytes.subarray(within, within + n), at);
    at += n;
  }
  return out;
}

const cache = new Map();
function blockBytes(seed, block) {
  const k = `${seed}:${block}`;
  const hit = cache.get(k);
  if (hit !== undefined) return hit;
  const words = new Uint32Array((1 << 20) / 4);
  let a = (seed * 0x9e3779b1 + block * 0x85ebca77) >>> 0;
  for (let i = 0; i < words.length; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    words[i] = (t ^ (t >>> 14)) >>> 0;
  }
  const bytes = new Uint8Array(words.buffer);
  if (cache.size > 4) cache.clear();
  cache.set(k, bytes);
  return bytes;
}

/** A ReadableStream of `size` seeded bytes, made 1 MiB at a time as it is read (`declared`: a wrong length to claim). */
export function seededStream(seed, size) {
  let at = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= size) {
        controller.close();
        return;
      }
      const n = Math.min(1 << 20, size - at);
      controller.enqueue(seededBytes(seed, n, at));
      at += n;
    },
  });
}

/** A File of `size` seeded bytes, built 1 MiB at a time (the page never holds the whole content). */
export function seededFile(seed, size, name = 'seeded.bin') {
  let blob = new Blob([]);
  const BLOCK = 1 << 20;
  for (let at = 0; at < size; at += BLOCK) blob = new Blob([blob, seededBytes(seed, Math.min(BLOCK, size - at), at)]);
  return new File([blob], name, { lastModified: 1_700_000_000_000 + seed });
}

async function sha256(bytes) {
  const d = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  return [...d].map((b) => b.toString(16).padStart(2, '0')).join('');
}

function b64(bytes) {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

function errorOf(e) {
  return { error: { name: e?.name, code: e?.code, message: String(e?.message ?? e), causeCode: e?.cause?.code, resumable: e?.resumable } };
}

let config;
export function configure(c) {
  config = c;
  localStorage.clear();
  return true;
}

/** `byName`: address the server as localhost (ali-oss presigns URLs only for host names, not IPs). */
function oss(byName = false) {
  return new OSS({
    endpoint: byName ? config.endpoint.replace('127.0.0.1', 'localhost') : config.endpoint,
    bucket: config.bucket,
    region: 'oss-cn-hangzhou',
    accessKeyId: config.accessKeyId,
    accessKeySecret: config.accessKeySecret,
    sldEnable: true,
    secure: false,
  });
}

function key(kind) {
  switch (kind) {
    case 'rsa-public':
      return new cse.RsaMasterKey({ publicKey: config.publicKey });
    case 'rsa-public-pkcs1pem':
      return new cse.RsaMasterKey({ publicKey: config.publicKeyPkcs1 });
    case 'oaep':
      return new cse.RsaMasterKey({ privateKey: config.privateKey, wrap: 'oaep' });
    case 'oaep-pkcs1pem':
      return new cse.RsaMasterKey({ privateKey: config.privateKeyPkcs1, wrap: 'oaep' });
    case 'broker':
      return new cse.KeyBrokerMasterKey({ url: config.brokerUrl, headers: { 'x-test-user': 'alice' } });
    default:
      throw new Error(`unknown key ${kind}`);
  }
}

/** A client writing with `write` and reading with the broker and the OAEP private key. */
function client(write = 'rsa-public', read = ['broker', 'oaep'], byName = false) {
  return new cse.EncryptionClient(oss(byName), { masterKey: key(write), decryptionKeys: read.map(key), allowLegacy: true });
}

export async function put({ name, size, seed, text, write }) {
  try {
    const data = text !== undefined ? text : seededBytes(seed, size);
    const r = await client(write).put(name, data);
    return { name: r.name, size: r.size, crc64: r.crc64, envelope: r.envelope, status: r.res.status };
  } catch (e) {
    return errorOf(e);
  }
}

export async function get({ name, range, headers, write, read, small }) {
  try {
    const r = await client(write, read).get(name, { ...(range === undefined ? {} : { range }), ...(headers === undefined ? {} : { headers }) });
    return {
      status: r.res.status,
      size: r.size,
      objectSize: r.objectSize,
      range: r.range,
      contentRange: r.res.headers['content-range'],
      encrypted: r.encrypted,
      sha256: await sha256(r.content),
      ...(small ? { base64: b64(r.content) } : {}),
    };
  } catch (e) {
    return errorOf(e);
  }
}

export async function getStream({ name, range, chunkSize, read }) {
  try {
    const r = await client('rsa-public', read).getStream(name, { ...(range === undefined ? {} : { range }), ...(chunkSize === undefined ? {} : { chunkSize }) });
    const reader = r.stream.getReader();
    const parts = [];
    let chunks = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      parts.push(value);
      chunks++;
    }
    const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      all.set(p, at);
      at += p.length;
    }
    return { size: r.size, objectSize: r.objectSize, chunks, length: all.length, sha256: await sha256(all) };
  } catch (e) {
    return errorOf(e);
  }
}

export async function head({ name }) {
  try {
    const r = await client().head(name);
    return { status: r.status, size: r.size, encrypted: r.encrypted, envelope: r.envelope, meta: r.meta };
  } catch (e) {
    return errorOf(e);
  }
}

/**
 * Multipart upload of a seeded File. `abortAfterParts`: abort through the signal once that many parts are done.
 * `failAfterParts`: make the checkpoint store throw after that many saves (a crash stand-in).
 */
export async function multipart({ name, size, seed, partSize, parallel, write, abortAfterParts, checkpoint, read, byName, stream, declaredSize }) {
  const file = stream ? seededStream(seed, size) : seededFile(seed, size);
  const controller = new AbortController();
  const events = [];
  try {
    const r = await client(write, read, byName).multipartUpload(name, file, {
      partSize,
      parallel,
      signal: controller.signal,
      ...(checkpoint ? { checkpoint: true } : {}),
      ...(stream ? { size: declaredSize ?? size } : {}),
      progress: (fraction, info) => {
        events.push({ fraction, partsDone: info.partsDone });
        if (abortAfterParts !== undefined && info.partsDone >= abortAfterParts) controller.abort(new Error('stop'));
      },
    });
    return { size: r.size, parts: r.parts, resumedParts: r.resumedParts, crc64: r.crc64, envelope: r.envelope, uploadId: r.uploadId, events };
  } catch (e) {
    return { ...errorOf(e), events, checkpoints: Object.keys(localStorage).filter((k) => k.startsWith('oss-cse:checkpoint:')) };
  }
}

/** Heap figures for the memory measurement. */
export function heap() {
  return { used: performance.memory?.usedJSHeapSize, total: performance.memory?.totalJSHeapSize };
}

export async function bigUpload({ name, size, seed, partSize, parallel, byName, source }) {
  const file = source === 'stream' ? seededStream(seed, size) : seededFile(seed, size, 'big.bin');
  const base = heap().used ?? 0;
  let peak = base;
  const started = performance.now();
  try {
    const r = await client('rsa-public', ['broker'], byName).multipartUpload(name, file, {
      partSize,
      parallel,
      ...(source === 'stream' ? { size } : {}),
      progress: () => {
        const h = heap().used ?? 0;
        if (h > peak) peak = h;
      },
    });
    return { size: r.size, parts: r.parts, crc64: r.crc64, heapBase: base, heapPeak: peak, ms: performance.now() - started };
  } catch (e) {
    return errorOf(e);
  }
}

/** What the bundle exports, for the contract check. */
export function exportsOf() {
  return Object.keys(cse).sort();
}

/** Constructor misuse gives typed errors. */
export function constructorErrors() {
  const out = {};
  const attempt = (label, f) => {
    try {
      f();
      out[label] = 'no error';
    } catch (e) {
      out[label] = e.code;
    }
  };
  attempt('no client', () => new cse.EncryptionClient({}, { masterKey: key('rsa-public') }));
  attempt('no key', () => new cse.EncryptionClient(oss(), {}));
  attempt('both pems', () => new cse.RsaMasterKey({ publicKey: config.publicKey, privateKey: config.privateKey }));
  attempt('bad pem', () => new cse.RsaMasterKey({ publicKey: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----' }));
  attempt('bad wrap', () => new cse.RsaMasterKey({ publicKey: config.publicKey, wrap: 'none' }));
  attempt('no url', () => new cse.KeyBrokerMasterKey({}));
  return out;
}

window.T = { configure, put, get, getStream, head, multipart, bigUpload, heap, exportsOf, constructorErrors };
window.ready = true;
