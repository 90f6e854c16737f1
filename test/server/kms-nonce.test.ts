// KMS replay protection over its whole window, whatever the volume (issue 14, item 7): a SignatureNonce is refused for
// 30 minutes after first use even after hundreds of thousands of other requests, expired nonces are dropped by time,
// and a full cache refuses new requests (Rejected.Throttling) instead of forgetting a nonce. Requests are signed here
// independently of the server (RPC signature v1 as Alibaba Cloud documents it).
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, test } from 'node:test';
import { KmsError } from '../../server/src/kms/kms-error.js';
import { authenticate, NonceCache, NONCE_RETENTION_MS, type Credential } from '../../server/src/kms/kms-request.js';

const AK: Credential = { accessKeyId: 'nonce-ak', accessKeySecret: 'nonce-secret' };
const CREDENTIALS = new Map([[AK.accessKeyId, AK]]);
const T0 = Date.UTC(2026, 0, 10, 12, 0, 0);
const MINUTE = 60_000;

function enc(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** A signed DescribeKey request stamped `stampedAt`, carrying `nonce`. */
function request(nonce: string, stampedAt: number): Map<string, string> {
  const params: Record<string, string> = {
    Action: 'DescribeKey',
    Version: '2016-01-20',
    Format: 'JSON',
    KeyId: 'alias/x',
    AccessKeyId: AK.accessKeyId,
    SignatureMethod: 'HMAC-SHA1',
    SignatureVersion: '1.0',
    SignatureNonce: nonce,
    Timestamp: new Date(stampedAt).toISOString().replace(/\.\d{3}Z$/, 'Z'),
  };
  const canonical = Object.keys(params)
    .sort()
    .map((k) => `${enc(k)}=${enc(params[k]!)}`)
    .join('&');
  const signature = createHmac('sha1', `${AK.accessKeySecret}&`).update(`POST&${enc('/')}&${enc(canonical)}`).digest('base64');
  return new Map([...Object.entries(params), ['Signature', signature]]);
}

function codeOf(fn: () => unknown): string {
  try {
    fn();
    return 'accepted';
  } catch (e) {
    assert.ok(e instanceof KmsError, String(e));
    return e.code;
  }
}

describe('KMS SignatureNonce replay window', () => {
  test('a nonce stays refused for its whole window even after 150,000 other requests', () => {
    const nonces = new NonceCache();
    const auth = (params: Map<string, string>, now: number): string => codeOf(() => authenticate(params, { method: 'POST', credentials: CREDENTIALS, now, nonces }));
    const captured = request('captured-nonce', T0);
    assert.equal(auth(captured, T0), 'accepted');
    // 150,000 fresh requests over the next 10 minutes: more than any fixed count cap of 100,000.
    const others = 150_000;
    for (let i = 0; i < others; i++) {
      const now = T0 + Math.floor((i * 10 * MINUTE) / others);
      assert.equal(auth(request(`n-${i}`, now), now), 'accepted');
    }
    // Replayed 14 minutes later: its Timestamp is still inside the 15-minute window, so only the nonce stops it.
    assert.equal(auth(captured, T0 + 14 * MINUTE), 'SignatureNonceUsed');
    assert.equal(auth(request('n-0', T0 + 14 * MINUTE), T0 + 14 * MINUTE), 'SignatureNonceUsed');
  });

  test('nonces expire by time: memory returns to empty after the window and a nonce may then be reused', () => {
    const nonces = new NonceCache();
    for (let i = 0; i < 10_000; i++) assert.equal(nonces.use(`k-${i}`, T0 + i), 'fresh');
    assert.equal(nonces.use('k-0', T0 + NONCE_RETENTION_MS - 1), 'replay');
    assert.equal(nonces.size, 10_000);
    const later = T0 + NONCE_RETENTION_MS + 2 * MINUTE;
    assert.equal(nonces.use('k-0', later), 'fresh', 'reusable once the window is over');
    assert.equal(nonces.size, 1, 'every expired nonce was dropped');
  });

  test('a full cache refuses new requests with Rejected.Throttling and forgets nothing inside the window', () => {
    const nonces = new NonceCache(1000);
    const auth = (params: Map<string, string>, now: number): string => codeOf(() => authenticate(params, { method: 'POST', credentials: CREDENTIALS, now, nonces }));
    for (let i = 0; i < 1000; i++) assert.equal(auth(request(`f-${i}`, T0), T0), 'accepted');
    assert.equal(auth(request('one-too-many', T0 + MINUTE), T0 + MINUTE), 'Rejected.Throttling');
    assert.equal(auth(request('f-0', T0 + MINUTE), T0 + MINUTE), 'SignatureNonceUsed', 'the oldest nonce is still remembered');
    const after = T0 + NONCE_RETENTION_MS + MINUTE;
    assert.equal(auth(request('one-too-many', after), after), 'accepted', 'room again once the window has passed');
  });
});
