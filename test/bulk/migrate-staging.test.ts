// The staging name of a key carries the key's shard: a run cleans up exactly the leftovers of its own shard.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { checkStagingPrefix, encodeTagging, shardOfStagingKey, stagingKey } from '../../src/bulk/migrate-object.js';
import { shardOfKey } from '../../src/bulk/shard.js';

test('the shard read from a staging name equals the shard of the key it stages, for any key and shard count', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'binary', minLength: 1, maxLength: 200 }), fc.integer({ min: 1, max: 65536 }), (key, count) => {
      assert.equal(shardOfStagingKey(stagingKey(key, 'p/'), 'p/', count), shardOfKey(key, count));
    }),
  );
});

test('names that are not staging names have no shard', () => {
  assert.equal(shardOfStagingKey('other/abc', '.oss-cse-migrate/', 3), undefined);
  assert.equal(shardOfStagingKey('.oss-cse-migrate/not-a-hash', '.oss-cse-migrate/', 3), undefined);
  assert.equal(shardOfStagingKey(`.oss-cse-migrate/${'A'.repeat(64)}`, '.oss-cse-migrate/', 3), undefined);
});

test('staging names are deterministic and distinct per key', () => {
  assert.equal(stagingKey('a/b'), stagingKey('a/b'));
  assert.notEqual(stagingKey('a/b'), stagingKey('a/c'));
  assert.match(stagingKey('a/b'), /^\.oss-cse-migrate\/[0-9a-f]{64}$/);
});

test('a staging prefix must be a non-empty key prefix', () => {
  assert.throws(() => checkStagingPrefix(''), { cseCode: 'ERR_CSE_INVALID_ARGUMENT' });
  assert.throws(() => checkStagingPrefix('/abs/'), { cseCode: 'ERR_CSE_INVALID_ARGUMENT' });
  assert.equal(checkStagingPrefix(undefined), '.oss-cse-migrate/');
});

test('tags are sent URL-encoded as OSS takes them in x-oss-tagging', () => {
  assert.equal(encodeTagging({ 'a b': 'c&d', k: '' }), 'a%20b=c%26d&k=');
  assert.equal(encodeTagging({}), '');
});
