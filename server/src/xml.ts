/**
 * The little XML this server needs: a writer for response bodies and a strict parser for the few request bodies OSS
 * takes (CompleteMultipartUpload, Delete). No DTDs, no external entities: a `<!DOCTYPE` is refused outright.
 *
 * @packageDocumentation
 */

/** A value in an XML document: text, or nested content. */
export type XmlValue = string | number | bigint | boolean | XmlContent;
/** Ordered child elements: `[name, value]` pairs (repeat a name for a list). */
export type XmlContent = ReadonlyArray<readonly [string, XmlValue]>;

/**
 * Escapes text for element content.
 * @param text - raw text
 * @returns escaped text
 */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => {
    switch (c) {
      case '&':
        return '&amp;';
      case '<':
        return '&lt;';
      case '>':
        return '&gt;';
      case '"':
        return '&quot;';
      default:
        return '&apos;';
    }
  });
}

function renderContent(content: XmlContent): string {
  let out = '';
  for (const [name, value] of content) {
    if (typeof value === 'object') {
      out += `<${name}>${renderContent(value)}</${name}>`;
    } else {
      const text = escapeXml(String(value));
      out += text === '' ? `<${name}></${name}>` : `<${name}>${text}</${name}>`;
    }
  }
  return out;
}

/**
 * Renders a complete document with an XML declaration.
 * @param root - root element name
 * @param content - the root's children
 * @returns the document text
 */
export function xmlDocument(root: string, content: XmlContent): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n${renderContent([[root, content]])}`;
}

/** A parsed element. Attributes are accepted and dropped (OSS request bodies have none that matter). */
export interface XmlElement {
  /** Element name. */
  readonly name: string;
  /** Child elements, in order. */
  readonly children: XmlElement[];
  /** Concatenated text content of this element (not of its children). */
  text: string;
}

/** Thrown for any malformed input; handlers turn it into `MalformedXML`. */
export class XmlSyntaxError extends Error {
  /** @param message - what is wrong */
  constructor(message: string) {
    super(message);
    this.name = 'XmlSyntaxError';
  }
}

const NAME = /^[A-Za-z_][\w.-]*(?::[\w.-]+)?/;
const MAX_DEPTH = 32;

function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);|&/g, (whole, entity: string | undefined) => {
    if (entity === undefined) throw new XmlSyntaxError('bare & in text');
    switch (entity) {
      case 'lt':
        return '<';
      case 'gt':
        return '>';
      case 'amp':
        return '&';
      case 'quot':
        return '"';
      case 'apos':
        return "'";
      default: {
        if (!entity.startsWith('#')) throw new XmlSyntaxError(`unknown entity ${whole}`);
        const code = entity.startsWith('#x') ? parseInt(entity.slice(2), 16) : parseInt(entity.slice(1), 10);
        if (!Number.isFinite(code) || code > 0x10ffff) throw new XmlSyntaxError(`bad character reference ${whole}`);
        return String.fromCodePoint(code);
      }
    }
  });
}

/**
 * Parses a document and returns its root element.
 * @param source - the document text
 * @returns the root element
 * @throws XmlSyntaxError when the text is not well-formed
 */
export function parseXml(source: string): XmlElement {
  let pos = source.charCodeAt(0) === 0xfeff ? 1 : 0;

  const skipMisc = (): void => {
    for (;;) {
      while (pos < source.length && /\s/.test(source[pos] ?? '')) pos++;
      if (source.startsWith('<?', pos)) {
        const end = source.indexOf('?>', pos + 2);
        if (end < 0) throw new XmlSyntaxError('unterminated processing instruction');
        pos = end + 2;
      } else if (source.startsWith('<!--', pos)) {
        const end = source.indexOf('-->', pos + 4);
        if (end < 0) throw new XmlSyntaxError('unterminated comment');
        pos = end + 3;
      } else if (source.startsWith('<!', pos) && !source.startsWith('<![CDATA[', pos)) {
        throw new XmlSyntaxError('DOCTYPE and declarations are not accepted');
      } else {
        return;
      }
    }
  };

  const parseElement = (depth: number): XmlElement => {
    if (depth > MAX_DEPTH) throw new XmlSyntaxError('nesting too deep');
    if (source[pos] !== '<') throw new XmlSyntaxError(`expected an element at ${pos}`);
    pos++;
    const nameMatch = NAME.exec(source.slice(pos, pos + 256));
    if (nameMatch === null) throw new XmlSyntaxError(`bad element name at ${pos}`);
    const name = nameMatch[0];
    pos += name.length;
    // Attributes: name="value" or name='value'; dropped.
    for (;;) {
      while (pos < source.length && /\s/.test(source[pos] ?? '')) pos++;
      if (source.startsWith('/>', pos)) {
        pos += 2;
        return { name, children: [], text: '' };
      }
      if (source[pos] === '>') {
        pos++;
        break;
      }
      const attr = /^([A-Za-z_][\w.:-]*)\s*=\s*("[^"<]*"|'[^'<]*')/.exec(source.slice(pos, pos + 4096));
      if (attr === null) throw new XmlSyntaxError(`bad attribute in <${name}>`);
      pos += attr[0].length;
    }
    const element: XmlElement = { name, children: [], text: '' };
    for (;;) {
      if (pos >= source.length) throw new XmlSyntaxError(`unterminated <${name}>`);
      if (source.startsWith('</', pos)) {
        pos += 2;
        if (!source.startsWith(name, pos)) throw new XmlSyntaxError(`mismatched end tag for <${name}>`);
        pos += name.length;
        while (pos < source.length && /\s/.test(source[pos] ?? '')) pos++;
        if (source[pos] !== '>') throw new XmlSyntaxError(`bad end tag for <${name}>`);
        pos++;
        return element;
      }
      if (source.startsWith('<!--', pos)) {
        const end = source.indexOf('-->', pos + 4);
        if (end < 0) throw new XmlSyntaxError('unterminated comment');
        pos = end + 3;
      } else if (source.startsWith('<![CDATA[', pos)) {
        const end = source.indexOf(']]>', pos + 9);
        if (end < 0) throw new XmlSyntaxError('unterminated CDATA');
        element.text += source.slice(pos + 9, end);
        pos = end + 3;
      } else if (source[pos] === '<') {
        if (source.startsWith('<?', pos) || source.startsWith('<!', pos)) {
          throw new XmlSyntaxError('unexpected markup in content');
        }
        element.children.push(parseElement(depth + 1));
      } else {
        const next = source.indexOf('<', pos);
        const end = next < 0 ? source.length : next;
        element.text += decodeEntities(source.slice(pos, end));
        pos = end;
      }
    }
  };

  skipMisc();
  const root = parseElement(0);
  skipMisc();
  if (pos !== source.length) throw new XmlSyntaxError('content after the root element');
  return root;
}

/**
 * The text of the first child named `name`, or undefined.
 * @param element - the parent
 * @param name - the child's name
 * @returns its text
 */
export function childText(element: XmlElement, name: string): string | undefined {
  return element.children.find((c) => c.name === name)?.text;
}
