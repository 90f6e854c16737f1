/**
 * Properties of the `x-oss-tagging` / `x-oss-storage-class` header parsers (server/src/handlers/tagging.ts): valid
 * tag sets round-trip through URL query encoding, and arbitrary header text is either a tag set within OSS's limits
 * or an OSS error, never another exception.
 */

import assert from 'node:assert/strict';
import * as http from 'node:http';
import { Socket } from 'node:net';
import { test } from 'node:test';
import fc from 'fast-check';
import { OssError } from '../../server/src/errors.js';
import { MAX_TAG_KEY, MAX_TAG_VALUE, MAX_TAGS, requestedStorageClass, requestedTags, STORAGE_CLASSES } from '../../server/src/handlers/tagging.js';

function withHeaders(headers: http.IncomingHttpHeaders): http.IncomingMessage {
  const req = new http.IncomingMessage(new Socket());
  req.headers = headers;
  return req;
}

const TAG_ALPHABET = ['a', 'b', 'c', 'X', 'Y', 'Z', '0', '1', '9', ' ', '+', '-', '=', '.', '_', ':', '/'];
const tagText = (min: number, max: number): fc.Arbitrary<string> =>
  fc.array(fc.constantFrom(...TAG_ALPHABET), { minLength: min, maxLength: max }).map((chars) => chars.join(''));

test('a valid tag set, URL-encoded into x-oss-tagging, parses back to the same pairs in order', () => {
  fc.assert(
    fc.property(fc.uniqueArray(fc.tuple(tagText(1, MAX_TAG_KEY), tagText(0, MAX_TAG_VALUE)), { maxLength: MAX_TAGS, selector: ([k]) => k }), (tags) => {
      const header = tags.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
      const parsed = requestedTags(withHeaders({ 'x-oss-tagging': header }));
      assert.deepEqual(parsed, tags.length === 0 ? [] : tags);
    }),
  );
});

test('any x-oss-tagging text gives tags within the OSS limits or an OssError, nothing else', () => {
  fc.assert(
    fc.property(fc.oneof(fc.string({ maxLength: 300 }), fc.stringMatching(/^[a-z%=&+0-9A-F]{0,80}$/)), (header) => {
      let parsed;
      try {
        parsed = requestedTags(withHeaders({ 'x-oss-tagging': header }));
      } catch (e) {
        assert.ok(e instanceof OssError, `unexpected ${String(e)}`);
        assert.ok(e.code === 'InvalidTag' || e.code === 'InvalidArgument');
        return;
      }
      assert.ok(parsed !== undefined && parsed.length <= MAX_TAGS);
      assert.equal(new Set(parsed.map(([k]) => k)).size, parsed.length);
      for (const [k, v] of parsed) {
        assert.ok(k.length >= 1 && k.length <= MAX_TAG_KEY && v.length <= MAX_TAG_VALUE);
        assert.match(k + v, /^[A-Za-z0-9 +\-=._:/]*$/);
      }
    }),
  );
  assert.equal(requestedTags(withHeaders({})), undefined);
});

test('x-oss-storage-class accepts exactly the five OSS spellings', () => {
  for (const value of STORAGE_CLASSES) assert.equal(requestedStorageClass(withHeaders({ 'x-oss-storage-class': value })), value);
  assert.equal(requestedStorageClass(withHeaders({})), undefined);
  fc.assert(
    fc.property(fc.string({ maxLength: 20 }), (value) => {
      fc.pre(!(STORAGE_CLASSES as readonly string[]).includes(value));
      assert.throws(() => requestedStorageClass(withHeaders({ 'x-oss-storage-class': value })), (e: unknown) => e instanceof OssError && e.code === 'InvalidArgument');
    }),
  );
});
