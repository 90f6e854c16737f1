/**
 * The server's XML writer and its strict request-body parser.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { childText, parseXml, xmlDocument, XmlSyntaxError } from '../../server/src/xml.js';

const RUNS = process.env.SLOW ? 1000 : 25;

describe('server XML', () => {
  it('round-trips any text through the writer and the parser', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 40 }), (text) => {
        // XML 1.0 cannot carry most control characters; everything else must survive.
        const clean = Array.from(text, (ch) => ((ch.codePointAt(0) ?? 0) >= 0x20 || ch === '\t' || ch === '\n' || ch === '\r' ? ch : '')).join('');
        const doc = xmlDocument('Root', [['Key', clean], ['List', [['Item', 'a'], ['Item', 'b']]]]);
        const root = parseXml(doc);
        assert.equal(childText(root, 'Key'), clean);
        assert.deepEqual(root.children.find((c) => c.name === 'List')?.children.map((c) => c.text), ['a', 'b']);
      }),
      { numRuns: RUNS },
    );
  });

  it('parses what ali-oss sends for CompleteMultipartUpload and Delete', () => {
    const complete = parseXml('<?xml version="1.0" encoding="UTF-8"?>\n<CompleteMultipartUpload>\n<Part>\n<PartNumber>1</PartNumber>\n<ETag>"AB"</ETag>\n</Part>\n</CompleteMultipartUpload>');
    assert.equal(complete.name, 'CompleteMultipartUpload');
    assert.equal(childText(complete.children[0]!, 'ETag'), '"AB"');
    const del = parseXml('<?xml version="1.0" encoding="UTF-8"?><Delete><Quiet>false</Quiet><Object><Key>a&amp;b&lt;c&gt;&#x41;&#66;</Key></Object></Delete>');
    assert.equal(childText(del.children[1]!, 'Key'), 'a&b<c>AB');
  });

  it('refuses DOCTYPEs, unknown entities, bare ampersands, mismatched tags and trailing content', () => {
    for (const bad of [
      '<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>',
      '<x>&nbsp;</x>',
      '<x>a & b</x>',
      '<x><y></x></y>',
      '<x></x><y></y>',
      '<x>',
      '',
      'text',
      '<x a="1></x>',
    ]) {
      assert.throws(() => parseXml(bad), XmlSyntaxError, bad);
    }
  });

  it('limits nesting depth', () => {
    assert.throws(() => parseXml('<a>'.repeat(100) + '</a>'.repeat(100)), XmlSyntaxError);
  });
});
