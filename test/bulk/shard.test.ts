import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { inShard, parseShard, shardOfKey } from '../../src/bulk/shard.js';
import { CseError, ErrorCode } from '../../src/errors.js';

function assertInvalid(fn: () => unknown, text: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof CseError);
    assert.equal(e.cseCode, ErrorCode.INVALID_ARGUMENT);
    assert.ok(e.message.includes(JSON.stringify(text)), `message names the text: ${e.message}`);
    return true;
  });
}

test('parseShard accepts I/N with 0 <= I < N <= 65536', () => {
  assert.deepEqual(parseShard('0/1'), { index: 0, count: 1 });
  assert.deepEqual(parseShard('3/4'), { index: 3, count: 4 });
  assert.deepEqual(parseShard('65535/65536'), { index: 65535, count: 65536 });
  assert.deepEqual(parseShard('007/010'), { index: 7, count: 10 });
});

test('parseShard refuses every other spelling with ERR_CSE_INVALID_ARGUMENT naming the text', () => {
  for (const text of ['', '1', '/', '1/', '/4', '4/4', '5/4', '0/0', '0/65537', ' 0/4', '0/4 ', '0 /4', '+0/4', '-1/4', '0/+4', '0x1/4', '1e0/4',
    '1.0/4', '0/4/8', '0//4', '١/٤', '0/99999999999999999999']) {
    assertInvalid(() => parseShard(text), text);
  }
});

test('parseShard round-trips every valid I/N and never throws anything but CseError', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 65536 }).chain((n) => fc.tuple(fc.integer({ min: 0, max: n - 1 }), fc.constant(n))), ([i, n]) => {
      assert.deepEqual(parseShard(`${i}/${n}`), { index: i, count: n });
    }),
  );
  fc.assert(
    fc.property(fc.string(), (text) => {
      try {
        const s = parseShard(text);
        assert.ok(Number.isInteger(s.index) && Number.isInteger(s.count) && s.index >= 0 && s.index < s.count && s.count <= 65536);
      } catch (e) {
        assert.ok(e instanceof CseError && e.cseCode === ErrorCode.INVALID_ARGUMENT);
      }
    }),
  );
});

test('shards partition any key list: each key is in exactly one shard of N', () => {
  fc.assert(
    fc.property(fc.array(fc.string({ unit: 'binary' })), fc.integer({ min: 1, max: 16 }), (keys, count) => {
      for (const key of keys) {
        const owners = Array.from({ length: count }, (_, index) => index).filter((index) => inShard(key, { index, count }));
        assert.equal(owners.length, 1);
        assert.equal(owners[0], shardOfKey(key, count));
      }
    }),
  );
});

test('inShard without a shard accepts every key', () => {
  fc.assert(fc.property(fc.string({ unit: 'binary' }), (key) => inShard(key, undefined)));
});

test('10,000 fixed keys spread over 4 shards within 15% of 2,500 each', () => {
  const counts = [0, 0, 0, 0];
  for (let i = 0; i < 10_000; i++) counts[shardOfKey(`data/2024/object-${i}.bin`, 4)]! += 1;
  for (const c of counts) assert.ok(c >= 2125 && c <= 2875, `shard sizes ${counts.join(', ')}`);
});

test('shardOfKey is pinned: the hash can never change between versions', () => {
  // Known answers computed once, independently of this code, with Python:
  //   d = hashlib.sha256(key.encode('utf-8')).digest(); n = int.from_bytes(d[:6], 'big'); n % count
  // 'photos/2024/cat.jpg' → first 6 bytes 6385a22b70ce = 109425602556110; 'é/日本' → 24068fa95581 = 39610598643073.
  assert.equal(shardOfKey('photos/2024/cat.jpg', 1000), 110);
  assert.equal(shardOfKey('photos/2024/cat.jpg', 65536), 28878);
  assert.equal(shardOfKey('é/日本', 1000), 73);
  assert.equal(shardOfKey('é/日本', 65536), 21889);
  assert.equal(shardOfKey('anything', 1), 0);
});

test('shardOfKey refuses a count outside 1..65536', () => {
  for (const count of [0, -1, 1.5, 65537, Number.NaN]) {
    assert.throws(() => shardOfKey('k', count), (e: unknown) => e instanceof CseError && e.cseCode === ErrorCode.INVALID_ARGUMENT);
  }
});
