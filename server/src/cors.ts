/**
 * Bucket CORS as OSS does it: PutBucketCors / GetBucketCors / DeleteBucketCors (`?cors` on a bucket), preflight
 * `OPTIONS` answered without a signature, and `Access-Control-*` headers on every other response whose `Origin`
 * matches a rule. A server-wide default rule (`startServer({ cors })`, `oss-cse serve --cors ORIGIN`) applies to
 * buckets without their own configuration, for local browser work.
 *
 * Rules follow OSS's documented model (PutBucketCors API page): up to 10 `CORSRule`s, each with `AllowedOrigin`
 * (one `*` wildcard allowed), `AllowedMethod` (GET, PUT, DELETE, POST, HEAD), `AllowedHeader` (one `*` wildcard
 * allowed, matched case-insensitively), `ExposeHeader` (no wildcard) and `MaxAgeSeconds`; the first matching rule
 * wins. The exposed list is the rule's fixed list, never computed per response: a per-response list lost the
 * client-side-encryption headers when Chromium revalidated a cached GET (ecosystem-facts.md, Browser).
 *
 * Configurations live in memory, and in `<dataDir>/bucket-cors.json` when the server has a data directory.
 *
 * @packageDocumentation
 */

import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type * as http from 'node:http';
import { readSmallBody, sendEmpty, sendXml, type RequestContext } from './context.js';
import { OssError } from './errors.js';
import { headerValue } from './request.js';
import { parseXml, XmlSyntaxError, type XmlContent, type XmlElement } from './xml.js';

/** One CORS rule. */
export interface CorsRule {
  /** `AllowedOrigin`s: exact origins, or patterns with one `*`. */
  readonly allowedOrigins: readonly string[];
  /** `AllowedMethod`s: GET, PUT, DELETE, POST, HEAD. */
  readonly allowedMethods: readonly string[];
  /** `AllowedHeader`s (one `*` allowed; matched case-insensitively against preflight request headers). */
  readonly allowedHeaders: readonly string[];
  /** `ExposeHeader`s: response headers the page may read. */
  readonly exposeHeaders: readonly string[];
  /** `MaxAgeSeconds`: how long a browser may cache the preflight answer. */
  readonly maxAgeSeconds?: number;
}

/** Methods a rule may allow (OSS's list). */
export const CORS_METHODS: readonly string[] = ['GET', 'PUT', 'DELETE', 'POST', 'HEAD'];

/** Most rules in one configuration (OSS's limit). */
export const MAX_CORS_RULES = 10;

/**
 * What the default rule exposes: what a client-side-encryption reader must see cross-origin (the ETag for multipart
 * and If-Match, the CRC-64 for integrity, the request id for support, Content-Range for ranged reads, which is not a
 * CORS-safelisted response header, and the nine V2 envelope headers).
 */
export const CSE_EXPOSE_HEADERS: readonly string[] = [
  'ETag',
  'Content-Range',
  'x-oss-request-id',
  'x-oss-hash-crc64ecma',
  'x-oss-object-type',
  'x-oss-next-append-position',
  ...[
    'key',
    'start',
    'cek-alg',
    'wrap-alg',
    'matdesc',
    'unencrypted-content-md5',
    'unencrypted-content-length',
    'data-size',
    'part-size',
  ].map((n) => `x-oss-meta-client-side-encryption-${n}`),
];

/**
 * The permissive rule `--cors ORIGIN` installs: every method, every request header, the {@link CSE_EXPOSE_HEADERS}.
 * @param origins - allowed origins (`*` for any)
 * @returns the rule
 */
export function permissiveCorsRule(origins: readonly string[]): CorsRule {
  return { allowedOrigins: origins, allowedMethods: CORS_METHODS, allowedHeaders: ['*'], exposeHeaders: CSE_EXPOSE_HEADERS, maxAgeSeconds: 600 };
}

/** `*` matches any run of characters; everything else literally. */
function wildcardMatch(pattern: string, value: string, caseInsensitive: boolean): boolean {
  const p = caseInsensitive ? pattern.toLowerCase() : pattern;
  const v = caseInsensitive ? value.toLowerCase() : value;
  const star = p.indexOf('*');
  if (star < 0) return p === v;
  const head = p.slice(0, star);
  const tail = p.slice(star + 1);
  return v.length >= head.length + tail.length && v.startsWith(head) && v.endsWith(tail);
}

function countStars(s: string): number {
  return s.split('*').length - 1;
}

function invalid(message: string): OssError {
  return new OssError('InvalidArgument', { message });
}

/**
 * Parses a `CORSConfiguration` document as PutBucketCors takes it.
 * @param xml - the request body
 * @returns the rules
 * @throws OssError MalformedXML (not XML, wrong root, no rule) or InvalidArgument (a rule OSS would refuse)
 */
export function parseCorsConfiguration(xml: string): CorsRule[] {
  let root: XmlElement;
  try {
    root = parseXml(xml);
  } catch (e) {
    if (e instanceof XmlSyntaxError) throw new OssError('MalformedXML');
    throw e;
  }
  if (root.name !== 'CORSConfiguration') throw new OssError('MalformedXML');
  const rules = root.children.filter((c) => c.name === 'CORSRule');
  if (rules.length === 0) throw new OssError('MalformedXML', { message: 'A CORSConfiguration needs at least one CORSRule.' });
  if (rules.length > MAX_CORS_RULES) throw invalid(`A CORSConfiguration holds at most ${MAX_CORS_RULES} rules.`);
  return rules.map((rule) => {
    const all = (name: string): string[] => rule.children.filter((c) => c.name === name).map((c) => c.text.trim());
    const allowedOrigins = all('AllowedOrigin');
    const allowedMethods = all('AllowedMethod');
    const allowedHeaders = all('AllowedHeader');
    const exposeHeaders = all('ExposeHeader');
    const maxAge = all('MaxAgeSeconds');
    if (allowedOrigins.length === 0 || allowedMethods.length === 0) {
      throw invalid('Every CORSRule needs at least one AllowedOrigin and one AllowedMethod.');
    }
    for (const o of allowedOrigins) if (o === '' || countStars(o) > 1) throw invalid(`AllowedOrigin ${JSON.stringify(o)} is invalid (at most one *).`);
    for (const m of allowedMethods) if (!CORS_METHODS.includes(m)) throw invalid(`AllowedMethod ${JSON.stringify(m)} is not one of ${CORS_METHODS.join(', ')}.`);
    for (const h of allowedHeaders) if (countStars(h) > 1) throw invalid(`AllowedHeader ${JSON.stringify(h)} has more than one *.`);
    for (const h of exposeHeaders) if (h.includes('*') || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(h)) throw invalid(`ExposeHeader ${JSON.stringify(h)} is not a header name (no wildcards).`);
    if (maxAge.length > 1 || (maxAge.length === 1 && !/^\d{1,9}$/.test(maxAge[0] ?? ''))) throw invalid('MaxAgeSeconds must be one non-negative integer.');
    return {
      allowedOrigins,
      allowedMethods,
      allowedHeaders,
      exposeHeaders,
      ...(maxAge.length === 1 ? { maxAgeSeconds: Number(maxAge[0]) } : {}),
    };
  });
}

function ruleXml(rule: CorsRule): XmlContent {
  const content: [string, string | number][] = [];
  for (const o of rule.allowedOrigins) content.push(['AllowedOrigin', o]);
  for (const m of rule.allowedMethods) content.push(['AllowedMethod', m]);
  for (const h of rule.allowedHeaders) content.push(['AllowedHeader', h]);
  for (const h of rule.exposeHeaders) content.push(['ExposeHeader', h]);
  if (rule.maxAgeSeconds !== undefined) content.push(['MaxAgeSeconds', rule.maxAgeSeconds]);
  return content;
}

/** Bucket CORS configurations plus the optional server-wide default rule. */
export class CorsRegistry {
  readonly #rules = new Map<string, readonly CorsRule[]>();
  readonly #defaultRules: readonly CorsRule[];
  readonly #file: string | undefined;
  #writing: Promise<void> = Promise.resolve();

  private constructor(defaultRules: readonly CorsRule[], file: string | undefined) {
    this.#defaultRules = defaultRules;
    this.#file = file;
  }

  /**
   * @param options - default origins (none: no default rule) and the data directory to persist into
   * @returns the registry, with the saved configurations loaded
   * @throws SyntaxError when `bucket-cors.json` exists but is not JSON; Node's system errors when it cannot be read
   */
  static async open(options: { readonly defaultOrigins?: readonly string[]; readonly dataDir?: string }): Promise<CorsRegistry> {
    const origins = options.defaultOrigins ?? [];
    const file = options.dataDir === undefined ? undefined : join(options.dataDir, 'bucket-cors.json');
    const registry = new CorsRegistry(origins.length === 0 ? [] : [permissiveCorsRule(origins)], file);
    if (file !== undefined) {
      let text: string | undefined;
      try {
        text = await readFile(file, 'utf8');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      }
      if (text !== undefined) {
        const saved = JSON.parse(text) as Record<string, CorsRule[]>;
        for (const [bucket, rules] of Object.entries(saved)) registry.#rules.set(bucket, rules);
      }
    }
    return registry;
  }

  /**
   * The rules that apply to a bucket (its own, else the default).
   * @param bucket - bucket name, or undefined for service-level requests
   * @returns the rules
   */
  rulesFor(bucket: string | undefined): readonly CorsRule[] {
    return (bucket === undefined ? undefined : this.#rules.get(bucket)) ?? this.#defaultRules;
  }

  /** @returns the bucket's own configuration, if any */
  get(bucket: string): readonly CorsRule[] | undefined {
    return this.#rules.get(bucket);
  }

  /**
   * Replaces (or with `undefined`, removes) a bucket's configuration and persists the change.
   * @throws Node's system errors when the file cannot be written
   */
  async set(bucket: string, rules: readonly CorsRule[] | undefined): Promise<void> {
    if (rules === undefined) this.#rules.delete(bucket);
    else this.#rules.set(bucket, rules);
    const file = this.#file;
    if (file === undefined) return;
    const snapshot = JSON.stringify(Object.fromEntries(this.#rules));
    // One write at a time, in order: the last configuration set is the one on disk.
    this.#writing = this.#writing.catch(() => undefined).then(async () => {
      await writeFile(`${file}.tmp`, snapshot);
      await rename(`${file}.tmp`, file);
    });
    await this.#writing;
  }
}

function matchRule(rules: readonly CorsRule[], origin: string, method: string, requestHeaders: readonly string[]): CorsRule | undefined {
  return rules.find(
    (r) =>
      r.allowedOrigins.some((o) => wildcardMatch(o, origin, false)) &&
      r.allowedMethods.includes(method) &&
      requestHeaders.every((h) => r.allowedHeaders.some((a) => wildcardMatch(a, h, true))),
  );
}

function allowOrigin(rule: CorsRule, origin: string): string {
  return rule.allowedOrigins.includes('*') ? '*' : origin;
}

/**
 * Answers a preflight `OPTIONS` (no signature, as OSS): 200 with the `Access-Control-*` headers when a rule allows the
 * origin, the requested method and every requested header; otherwise 403 AccessForbidden.
 * @param registry - the rules
 * @param bucket - the bucket addressed (undefined at the service level)
 * @param req - the request
 * @param res - the response
 * @throws OssError AccessForbidden when no rule allows the request (or Origin / Access-Control-Request-Method is missing)
 */
export function answerPreflight(registry: CorsRegistry, bucket: string | undefined, req: http.IncomingMessage, res: http.ServerResponse): void {
  const origin = headerValue(req.headers, 'origin');
  const method = headerValue(req.headers, 'access-control-request-method');
  const requested = (headerValue(req.headers, 'access-control-request-headers') ?? '')
    .split(',')
    .map((h) => h.trim())
    .filter((h) => h !== '');
  const rule = origin === undefined || method === undefined ? undefined : matchRule(registry.rulesFor(bucket), origin, method, requested);
  if (rule === undefined || origin === undefined) {
    throw new OssError('AccessForbidden', {
      message:
        'CORSResponse: This CORS request is not allowed. This is usually because the evaluation of Origin, request method / ' +
        "Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.",
    });
  }
  const headers: http.OutgoingHttpHeaders = {
    'Access-Control-Allow-Origin': allowOrigin(rule, origin),
    'Access-Control-Allow-Methods': rule.allowedMethods.join(', '),
    Vary: 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers',
    'Content-Length': 0,
  };
  if (requested.length > 0) headers['Access-Control-Allow-Headers'] = requested.join(', ');
  if (rule.exposeHeaders.length > 0) headers['Access-Control-Expose-Headers'] = rule.exposeHeaders.join(', ');
  if (rule.maxAgeSeconds !== undefined) headers['Access-Control-Max-Age'] = String(rule.maxAgeSeconds);
  res.writeHead(200, headers);
  res.end();
}

/**
 * Sets the `Access-Control-*` headers of an actual (non-preflight) cross-origin request whose origin and method a rule
 * allows; they are set before any handler runs, so error answers carry them too (a page can read the OSS error).
 * @param registry - the rules
 * @param bucket - the bucket addressed
 * @param req - the request
 * @param res - the response
 */
export function applyCorsHeaders(registry: CorsRegistry, bucket: string | undefined, req: http.IncomingMessage, res: http.ServerResponse): void {
  const origin = headerValue(req.headers, 'origin');
  if (origin === undefined) return;
  const rule = matchRule(registry.rulesFor(bucket), origin, req.method ?? 'GET', []);
  if (rule === undefined) return;
  res.setHeader('Access-Control-Allow-Origin', allowOrigin(rule, origin));
  res.setHeader('Access-Control-Allow-Methods', rule.allowedMethods.join(', '));
  if (rule.exposeHeaders.length > 0) res.setHeader('Access-Control-Expose-Headers', rule.exposeHeaders.join(', '));
  if (rule.maxAgeSeconds !== undefined) res.setHeader('Access-Control-Max-Age', String(rule.maxAgeSeconds));
  res.setHeader('Vary', 'Origin');
}

/**
 * PutBucketCors / GetBucketCors / DeleteBucketCors, for an authenticated request on a bucket with `?cors`.
 * @param registry - the rules
 * @param ctx - the request
 * @returns true when the request was a `?cors` bucket request (and has been answered)
 * @throws OssError NoSuchBucket, NoSuchCORSConfiguration (GET without one), MalformedXML, InvalidArgument,
 *   MethodNotAllowed
 */
export async function handleBucketCors(registry: CorsRegistry, ctx: RequestContext): Promise<boolean> {
  const { bucket, key, params } = ctx.target;
  if (bucket === undefined || key !== undefined || !params.has('cors')) return false;
  if (ctx.store.getBucket(bucket) === undefined) throw new OssError('NoSuchBucket', { fields: [['BucketName', bucket]] });
  switch (ctx.req.method) {
    case 'PUT': {
      const rules = parseCorsConfiguration((await readSmallBody(ctx)).toString('utf8'));
      await registry.set(bucket, rules);
      sendEmpty(ctx, 200);
      return true;
    }
    case 'GET': {
      const rules = registry.get(bucket);
      if (rules === undefined) throw new OssError('NoSuchCORSConfiguration', { fields: [['BucketName', bucket]] });
      sendXml(ctx, 'CORSConfiguration', [
        ...rules.map((r) => ['CORSRule', ruleXml(r)] as const),
        ['ResponseVary', 'false'],
      ]);
      return true;
    }
    case 'DELETE':
      await registry.set(bucket, undefined);
      sendEmpty(ctx, 204);
      return true;
    default:
      throw new OssError('MethodNotAllowed', { fields: [['Method', ctx.req.method ?? '']] });
  }
}

/**
 * After a successful DeleteBucket, drops the bucket's CORS configuration (a bucket created again starts without one,
 * as on OSS).
 * @param registry - the rules
 * @param ctx - the request just answered
 * @throws Node's system errors when the configuration file cannot be written
 */
export async function forgetDeletedBucketCors(registry: CorsRegistry, ctx: RequestContext): Promise<void> {
  const { bucket, key } = ctx.target;
  if (ctx.req.method === 'DELETE' && bucket !== undefined && key === undefined && ctx.res.statusCode === 204 && registry.get(bucket) !== undefined) {
    await registry.set(bucket, undefined);
  }
}
