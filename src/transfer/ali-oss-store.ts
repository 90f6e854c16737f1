/**
 * The {@link ObjectStore} port over the user's own `ali-oss` client: the only module that touches `ali-oss`.
 *
 * Where `ali-oss`'s public methods do not give us what we need (a raw GET with its real status and headers, a PUT
 * whose body is our ciphertext stream, a copy whose headers we control, a bucket chosen per call), we go through its
 * own request layer (`client.request(params)`, what `getStream` and `put` use), never a second HTTP client: the
 * user's endpoint, credentials, STS refresh, signing version, agents, proxy and timeouts all keep applying.
 *
 * Calls run on a light view of the client (`Object.create(client)`, one per bucket, reused): it can carry another
 * bucket and a User-Agent with the peers' `/OssEncryptionClient` suffix (`oss-go-java.md` §1); a call with a signal
 * gets a child view whose agents hand each outgoing `ClientRequest` to that signal, so that aborting destroys the
 * request in flight. A client built with
 * a custom `urllib` has no agents to hook: abort then takes effect at the next body chunk or between requests.
 *
 * One file over 600 lines on purpose: it is the only file that imports ali-oss (the dependency rule), so every
 * ObjectStore/MultipartStore method over ali-oss and the error conversion live here.
 *
 * @packageDocumentation
 */

import type { ClientRequest } from 'node:http';
import { Readable } from 'node:stream';
import OSS from 'ali-oss';
import { CseError, ErrorCode, TransferError } from '../errors.js';
import { OssHeader, USER_AGENT_SUFFIX } from '../format/headers.js';
import { abortedError, onAbort, throwIfAborted } from './abort.js';
import { hasCallback } from './callback.js';
import type {
  CompletePart,
  CompleteResponse,
  InitiateRequest,
  InitiateResponse,
  ListPartsPage,
  ListPartsQuery,
  ListUploadsPage,
  ListUploadsQuery,
  ListedEncryption,
  ListedPart,
  MultipartStore,
  UploadPartRequest,
  UploadPartResponse,
} from './multipart-store.js';
import type {
  BucketInfo,
  CallOptions,
  CopyRequest,
  CopyResponse,
  GetResponse,
  ListPage,
  ListQuery,
  ListV1Page,
  ListV1Query,
  ListedObject,
  ObjectLocation,
  ObjectStore,
  PutRequest,
  ReadRequest,
  ResponseHeaders,
  ResponseInfo,
  StoreResponse,
} from './store.js';

/** An `ali-oss` client instance (`new OSS({...})`), as the user constructs it. */
export type AliOssClient = OSS;

/** How to reach OSS (or an OSS-compatible endpoint) when building an `ali-oss` client for the caller. */
export interface OssConnectionOptions {
  /** Endpoint URL (`https://oss-cn-hangzhou.aliyuncs.com`, `http://127.0.0.1:9000`); derived from `region` when absent. */
  readonly endpoint?: string | undefined;
  /** Region, `cn-hangzhou` or `oss-cn-hangzhou`. With a region, requests are signed with OSS V4, otherwise V1. */
  readonly region?: string | undefined;
  /** Default bucket. */
  readonly bucket?: string | undefined;
  /** Access key id. */
  readonly accessKeyId: string;
  /** Access key secret. */
  readonly accessKeySecret: string;
  /** STS security token. */
  readonly stsToken?: string | undefined;
  /** Per-request timeout in milliseconds (default 60 s). */
  readonly timeout?: number | undefined;
  /** Fetches fresh temporary credentials; ali-oss calls it every `refreshSTSTokenInterval` (5 min) with `stsToken`. */
  readonly refreshSTSToken?:
    | (() => Promise<{
        /** AccessKey ID (`STS.…`). */
        accessKeyId: string;
        /** AccessKey secret. */
        accessKeySecret: string;
        /** Security token. */
        stsToken: string;
      }>)
    | undefined;
}

/**
 * Builds a plain `ali-oss` client (for the CLI and for callers who have no client of their own).
 * @throws CseError ERR_CSE_INVALID_ARGUMENT when neither endpoint nor region is given, or the endpoint is not a URL
 */
export function createOssClient(options: OssConnectionOptions): AliOssClient {
  const { endpoint } = options;
  if (endpoint === undefined && options.region === undefined) {
    throw new CseError(ErrorCode.INVALID_ARGUMENT, 'an OSS endpoint or region is required');
  }
  let secure = true;
  if (endpoint !== undefined) {
    let url: URL;
    try {
      url = new URL(endpoint.includes('://') ? endpoint : `https://${endpoint}`);
    } catch (e) {
      throw new CseError(ErrorCode.INVALID_ARGUMENT, `not an endpoint URL: ${JSON.stringify(endpoint)}`, { cause: e });
    }
    secure = url.protocol === 'https:';
  }
  const region =
    options.region === undefined ? undefined : options.region.startsWith('oss-') ? options.region : `oss-${options.region}`;
  return new OSS({
    accessKeyId: options.accessKeyId,
    accessKeySecret: options.accessKeySecret,
    secure,
    timeout: options.timeout ?? 60_000,
    // V4 signs the region: only when we know it.
    authorizationV4: region !== undefined,
    ...(endpoint === undefined ? {} : { endpoint }),
    ...(region === undefined ? {} : { region }),
    ...(options.bucket === undefined ? {} : { bucket: options.bucket }),
    ...(options.stsToken === undefined ? {} : { stsToken: options.stsToken }),
    ...(options.refreshSTSToken === undefined ? {} : { refreshSTSToken: options.refreshSTSToken }),
  });
}

/**
 * The request parameters `ali-oss`'s request layer takes (`lib/client.js` `request`, `createRequest`). Every field is
 * always present (undefined when unused; the request layer tests them for truthiness): objects of one shape keep
 * `createRequest`'s property reads monomorphic, where a spread-built object with optional fields cost it ~4 µs a call.
 */
interface AliRequestParams {
  object: string | undefined;
  bucket: string;
  method: 'GET' | 'PUT' | 'HEAD' | 'DELETE' | 'POST';
  headers: Record<string, string>;
  subres: Record<string, string> | undefined;
  timeout: number | undefined;
  successStatuses: readonly number[];
  customResponse: boolean;
  xmlResponse: boolean;
  content: Buffer | undefined;
  stream: Readable | undefined;
  mime: string | undefined;
  /** Query parameters that are not signed sub-resources (`max-parts`, `prefix`, …). */
  query: Record<string, string> | undefined;
  /** Skip the Content-MD5 the request layer computes over `content`. */
  disabledMD5: boolean;
}

/** What `request` resolves to (urllib's result). */
interface AliRawResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  res: Readable & Record<string, unknown>;
  data: unknown;
}

/** The error shape `ali-oss` throws (`requestError`). */
interface AliError {
  name?: string;
  message?: string;
  status?: number;
  code?: string;
  requestId?: string;
  hostId?: string;
  ecCode?: string;
  params?: unknown;
}

interface AgentLike {
  addRequest(req: ClientRequest, options: unknown): void;
}

/** The internals of an `ali-oss` client this module relies on (stable across ali-oss 6.x). */
interface AliOssInternals {
  options: Record<string, unknown> & { bucket?: string | null };
  agent?: AgentLike;
  httpsAgent?: AgentLike;
  userAgent?: string;
  stsTokenFreshTime?: unknown;
  request(params: AliRequestParams): Promise<AliRawResult>;
  requestError(result: { status: number; headers: Record<string, unknown>; data: Buffer }): Promise<AliError>;
  _getReqUrl(params: { bucket: string; object: string }): string;
  delete(name: string, options: { timeout?: number }): Promise<{ res: ResponseInfo }>;
  putBucket(name: string, options: { timeout?: number }): Promise<{ res: ResponseInfo }>;
  deleteBucket(name: string, options: { timeout?: number }): Promise<{ res: ResponseInfo }>;
  listBuckets(
    query: Record<string, string | number> | null,
    options: { timeout?: number },
  ): Promise<{ buckets: { name: string; region?: string; creationDate?: string }[] | null; nextMarker?: string | null; isTruncated?: boolean }>;
  listV2(query: Record<string, string | number | boolean>, options: { timeout?: number }): Promise<AliListV2Result>;
  list(query: Record<string, string | number>, options: { timeout?: number }): Promise<AliListV1Result>;
}

interface AliListedObject {
  name: string;
  size: number;
  etag: string;
  lastModified: string;
  type: string;
  storageClass: string;
  owner: { id: string; displayName: string } | null;
}

interface AliListV1Result {
  res: ResponseInfo;
  objects: AliListedObject[];
  prefixes: string[] | null;
  isTruncated: boolean;
  nextMarker: string | null;
}

interface AliListV2Result {
  res: ResponseInfo;
  objects: AliListedObject[];
  prefixes: string[] | null;
  isTruncated: boolean;
  keyCount: number;
  nextContinuationToken: string | null;
}

/** Every status, so that the request layer hands us error responses with their bodies (we parse them ourselves). */
const ANY_STATUS: readonly number[] = Array.from({ length: 500 }, (_, i) => i + 100);

/** At most this many other-bucket views are kept (see `#viewFor`). */
const MAX_BUCKET_VIEWS = 16;

/** How much of an error body we read before giving up on it. */
const MAX_ERROR_BODY = 64 * 1024;

/** Options of {@link AliOssStore}. */
export interface AliOssStoreOptions {
  /** Append `/OssEncryptionClient` to the User-Agent, as the Go and Python SDKs do (default true). */
  readonly userAgentSuffix?: boolean;
}

/**
 * {@link ObjectStore} (and its multipart half, {@link MultipartStore}) over an `ali-oss` client.
 */
export class AliOssStore implements ObjectStore, MultipartStore {
  readonly #client: AliOssInternals;
  readonly #userAgent: string | undefined;
  /** The view for the client's own bucket, built on first use. */
  #ownView: AliOssInternals | undefined;
  /** Views for other buckets, by name. */
  readonly #bucketViews = new Map<string, AliOssInternals>();

  /**
   * @param client - the user's `ali-oss` instance (endpoint, credentials, default bucket)
   * @param options - User-Agent suffix
   * @throws CseError ERR_CSE_INVALID_ARGUMENT when `client` does not look like an `ali-oss` client
   */
  constructor(client: AliOssClient, options: AliOssStoreOptions = {}) {
    const internals = client as unknown as Partial<AliOssInternals> | null;
    if (
      typeof internals !== 'object' ||
      internals === null ||
      typeof internals.request !== 'function' ||
      typeof internals.requestError !== 'function' ||
      typeof internals.options !== 'object'
    ) {
      throw new CseError(ErrorCode.INVALID_ARGUMENT, 'expected an ali-oss client instance (new OSS({...}))');
    }
    this.#client = internals as AliOssInternals;
    const ua = this.#client.userAgent;
    this.#userAgent = options.userAgentSuffix === false || typeof ua !== 'string' ? undefined : `${ua}/${USER_AGENT_SUFFIX}`;
  }

  /** The bucket of the `ali-oss` client's options. */
  get defaultBucket(): string | undefined {
    const bucket = this.#client.options.bucket;
    return typeof bucket === 'string' && bucket !== '' ? bucket : undefined;
  }

  /**
   * {@inheritDoc ObjectStore.objectUrl}
   * @throws no CseError: the URL is built locally, without a request (`ali-oss` itself throws a plain `Error` only if
   *   its `endpoint` option was replaced by one that does not conform)
   */
  objectUrl(location: ObjectLocation): string {
    return this.#client._getReqUrl({ bucket: location.bucket, object: location.key });
  }

  /**
   * {@inheritDoc ObjectStore.put}
   * @throws CseError ERR_CSE_INVALID_ARGUMENT when the bucket or the object key is empty; ERR_CSE_ABORTED when the signal fires; for a stream body that fails, its own CseError
   *   (e.g. ERR_CSE_INVALID_ARGUMENT or ERR_CSE_INTEGRITY from the encrypting stream), or ERR_CSE_IO for any other
   *   error; TransferError (ERR_CSE_TRANSFER) for an OSS error answer or a network failure
   */
  async put(location: ObjectLocation, request: PutRequest, options: CallOptions = {}): Promise<StoreResponse> {
    const what = `PUT ${describe(location)}`;
    const headers: Record<string, string> = { ...request.headers };
    const params = this.#base('PUT', location, headers, options, [200]);
    params.mime = request.mime;
    let stream: Readable | undefined;
    if (request.body.kind === 'bytes') {
      params.content = Buffer.from(request.body.bytes.buffer, request.body.bytes.byteOffset, request.body.bytes.byteLength);
    } else {
      stream = Readable.from(request.body.stream, { objectMode: false });
      params.stream = stream;
      if (request.body.length === undefined) headers['Transfer-Encoding'] = 'chunked';
      else headers['Content-Length'] = String(request.body.length);
    }
    const result = await this.#call(what, location, options, params, stream);
    const response = toStoreResponse(result);
    return hasCallback(headers) ? { ...response, callbackBody: bodyBytes(result.data) } : response;
  }

  /**
   * {@inheritDoc ObjectStore.get}
   * @throws CseError ERR_CSE_INVALID_ARGUMENT when the bucket or the object key is empty; ERR_CSE_RANGE_NOT_SATISFIABLE on a 416 (or OSS code `InvalidRange`); ERR_CSE_ABORTED when
   *   the signal fires before the answer (afterwards the body is destroyed with that error); TransferError
   *   (ERR_CSE_TRANSFER) for any other status than 200, 206 and 304, or a network failure
   */
  async get(location: ObjectLocation, request: ReadRequest, options: CallOptions = {}): Promise<GetResponse> {
    const what = `GET ${describe(location)}`;
    const params = this.#base('GET', location, { ...request.headers }, options, ANY_STATUS, request.query);
    params.customResponse = true;
    const signal = options.signal;
    const result = await this.#call(what, location, options, params);
    const body = result.res;
    if (result.status !== 200 && result.status !== 206 && result.status !== 304) {
      const data = await readBounded(body, MAX_ERROR_BODY);
      const aliError = await this.#client.requestError({ status: result.status, headers: result.headers, data });
      // ali-oss's own request layer attaches the request parameters to every error answer (`lib/client.js` request).
      aliError.params = params;
      throw convertError(aliError, what, location, signal);
    }
    // Keep the abort hook until the body is consumed or destroyed.
    const detach = onAbort(signal, () => body.destroy(abortedError(what, signal)));
    body.once('close', detach);
    const headers = normaliseHeaders(result.headers);
    return { status: result.status, headers, requestId: headers[OssHeader.REQUEST_ID], res: { status: result.status, headers }, body };
  }

  /**
   * {@inheritDoc ObjectStore.head}
   * @throws CseError ERR_CSE_INVALID_ARGUMENT when the bucket or the object key is empty; ERR_CSE_ABORTED when the signal fires; TransferError (ERR_CSE_TRANSFER) for any other
   *   status than 200 and 304 (404 has `ossCode` `NoSuchKey`) or a network failure
   */
  async head(location: ObjectLocation, request: ReadRequest, options: CallOptions = {}): Promise<StoreResponse> {
    const what = `HEAD ${describe(location)}`;
    const params = this.#base('HEAD', location, { ...request.headers }, options, [200, 304], request.query);
    return toStoreResponse(await this.#call(what, location, options, params));
  }

  /**
   * {@inheritDoc ObjectStore.delete}
   * @throws CseError ERR_CSE_INVALID_ARGUMENT when the bucket or the object key is empty; ERR_CSE_ABORTED when the
   *   signal fires; TransferError (ERR_CSE_TRANSFER) for an OSS error answer or a network failure
   */
  async delete(location: ObjectLocation, options: CallOptions = {}): Promise<StoreResponse> {
    const what = `DELETE ${describe(location)}`;
    // An empty key makes ali-oss send `DELETE /`, which is DeleteBucket: checked here like every other object call.
    checkKey(location);
    const result = await this.#viaClient(what, location, options, async (client) =>
      client.delete(location.key, timeoutOption(options)),
    );
    return fromInfo(result.res);
  }

  /**
   * {@inheritDoc ObjectStore.copy}
   * @throws CseError ERR_CSE_INVALID_ARGUMENT when the bucket or the key of `source` or `target` is empty;
   *   ERR_CSE_ABORTED when the signal fires; TransferError (ERR_CSE_TRANSFER) for an OSS error answer (404 `NoSuchKey`
   *   for a missing source, 412 for a failed copy-source condition, …) or a network failure
   */
  async copy(
    target: ObjectLocation,
    source: ObjectLocation,
    request: CopyRequest,
    options: CallOptions = {},
  ): Promise<CopyResponse> {
    const what = `COPY ${describe(source)} to ${describe(target)}`;
    checkKey(source);
    const headers: Record<string, string> = {
      ...request.headers,
      // ali-oss `_getSourceName`: /bucket/encodeURIComponent(key).
      'x-oss-copy-source': `/${source.bucket}/${encodeURIComponent(source.key)}`,
    };
    const params = this.#base('PUT', target, headers, options, [200, 304]);
    params.xmlResponse = true;
    const result = await this.#call(what, target, options, params);
    const data = (result.data ?? {}) as { ETag?: unknown; LastModified?: unknown };
    return {
      ...toStoreResponse(result),
      etag: typeof data.ETag === 'string' ? data.ETag : undefined,
      lastModified: typeof data.LastModified === 'string' ? data.LastModified : undefined,
    };
  }

  /**
   * {@inheritDoc ObjectStore.listV1}
   * @throws CseError ERR_CSE_ABORTED when the signal fires; TransferError (ERR_CSE_TRANSFER) for an OSS error answer
   *   (404 `NoSuchBucket`, …) or a network failure, and for an empty bucket name (which `ali-oss` refuses before sending)
   */
  async listV1(bucket: string, query: ListV1Query, options: CallOptions = {}): Promise<ListV1Page> {
    const location = { bucket, key: '' };
    const q: Record<string, string | number> = {};
    if (query.prefix !== undefined) q.prefix = query.prefix;
    if (query.delimiter !== undefined) q.delimiter = query.delimiter;
    if (query.maxKeys !== undefined) q['max-keys'] = query.maxKeys;
    if (query.marker !== undefined) q.marker = query.marker;
    const result = await this.#viaClient(`LIST oss://${bucket}/${query.prefix ?? ''}`, location, options, async (client) =>
      client.list(q, timeoutOption(options)),
    );
    return {
      ...fromInfo(result.res),
      objects: result.objects.map(listed),
      prefixes: result.prefixes ?? [],
      isTruncated: result.isTruncated,
      nextMarker: result.nextMarker,
    };
  }

  /**
   * {@inheritDoc ObjectStore.listV2}
   * @throws CseError ERR_CSE_ABORTED when the signal fires; TransferError (ERR_CSE_TRANSFER) for an OSS error answer
   *   (404 `NoSuchBucket`, …) or a network failure, and for an empty bucket name (which `ali-oss` refuses before sending)
   */
  async listV2(bucket: string, query: ListQuery, options: CallOptions = {}): Promise<ListPage> {
    const location = { bucket, key: '' };
    const q: Record<string, string | number | boolean> = {};
    if (query.prefix !== undefined) q.prefix = query.prefix;
    if (query.delimiter !== undefined) q.delimiter = query.delimiter;
    if (query.maxKeys !== undefined) q['max-keys'] = query.maxKeys;
    if (query.continuationToken !== undefined) q['continuation-token'] = query.continuationToken;
    if (query.startAfter !== undefined) q['start-after'] = query.startAfter;
    if (query.fetchOwner === true) q['fetch-owner'] = true;
    const result = await this.#viaClient(`LIST oss://${bucket}/${query.prefix ?? ''}`, location, options, async (client) =>
      client.listV2(q, timeoutOption(options)),
    );
    return {
      ...fromInfo(result.res),
      objects: result.objects.map(listed),
      prefixes: result.prefixes ?? [],
      isTruncated: result.isTruncated,
      nextContinuationToken: result.nextContinuationToken,
      keyCount: result.keyCount,
    };
  }

  /**
   * {@inheritDoc ObjectStore.getTagging}
   * @throws CseError ERR_CSE_INVALID_ARGUMENT when the bucket or the object key is empty; ERR_CSE_ABORTED when the
   *   signal fires; TransferError (ERR_CSE_TRANSFER) for an OSS error answer (404 `NoSuchKey`, …) or a network failure
   */
  async getTagging(location: ObjectLocation, options: CallOptions = {}): Promise<Readonly<Record<string, string>>> {
    const what = `GetObjectTagging ${describe(location)}`;
    const params = this.#base('GET', location, {}, options, [200], { tagging: '' });
    params.xmlResponse = true;
    const result = await this.#call(what, location, options, params);
    const tagSet = xmlRecord(xmlRecord(result.data).TagSet);
    const tags: Record<string, string> = {};
    for (const raw of xmlList(tagSet.Tag)) {
      const tag = xmlRecord(raw);
      const key = xmlText(tag.Key);
      if (key !== undefined) tags[key] = xmlText(tag.Value) ?? '';
    }
    return tags;
  }

  /**
   * {@inheritDoc ObjectStore.putBucket}
   * @throws CseError ERR_CSE_ABORTED when the signal fires; TransferError (ERR_CSE_TRANSFER) for an OSS error answer
   *   (409 `BucketAlreadyExists`, …) or a network failure, and for a bucket name `ali-oss` refuses before sending
   */
  async putBucket(bucket: string, options: CallOptions = {}): Promise<StoreResponse> {
    const location = { bucket, key: '' };
    const result = await this.#viaClient(`PUT bucket ${bucket}`, location, options, async (client) =>
      client.putBucket(bucket, timeoutOption(options)),
    );
    return fromInfo(result.res);
  }

  /**
   * {@inheritDoc ObjectStore.listBuckets}
   * @throws CseError ERR_CSE_ABORTED when the signal fires; TransferError (ERR_CSE_TRANSFER) for an OSS error answer or
   *   a network failure
   */
  async listBuckets(options: CallOptions = {}): Promise<readonly BucketInfo[]> {
    const out: BucketInfo[] = [];
    let marker: string | undefined;
    do {
      const page = await this.#viaClient('ListBuckets', { bucket: '', key: '' }, options, async (client) =>
        client.listBuckets({ 'max-keys': 1000, ...(marker === undefined ? {} : { marker }) }, timeoutOption(options)),
      );
      for (const b of page.buckets ?? []) out.push({ name: b.name, region: b.region, creationDate: b.creationDate });
      marker = page.isTruncated === true && typeof page.nextMarker === 'string' && page.nextMarker !== '' ? page.nextMarker : undefined;
    } while (marker !== undefined);
    return out;
  }

  /**
   * {@inheritDoc ObjectStore.deleteBucket}
   * @throws CseError ERR_CSE_ABORTED when the signal fires; TransferError (ERR_CSE_TRANSFER) for an OSS error answer
   *   (404 `NoSuchBucket`, 409 `BucketNotEmpty`) or a network failure
   */
  async deleteBucket(bucket: string, options: CallOptions = {}): Promise<StoreResponse> {
    const result = await this.#viaClient(`DELETE bucket ${bucket}`, { bucket, key: '' }, options, async (client) =>
      client.deleteBucket(bucket, timeoutOption(options)),
    );
    return fromInfo(result.res);
  }

  /**
   * {@inheritDoc MultipartStore.initiateMultipartUpload}
   * @throws CseError ERR_CSE_INVALID_ARGUMENT when the bucket or the object key is empty; ERR_CSE_ABORTED when the signal fires; TransferError (ERR_CSE_TRANSFER) for an OSS error
   *   answer, a network failure, or an answer without an `UploadId`
   */
  async initiateMultipartUpload(location: ObjectLocation, request: InitiateRequest, options: CallOptions = {}): Promise<InitiateResponse> {
    const what = `InitiateMultipartUpload ${describe(location)}`;
    const params = this.#base('POST', location, { ...request.headers }, options, [200], { uploads: '' });
    params.xmlResponse = true;
    params.mime = request.mime;
    const result = await this.#call(what, location, options, params);
    const uploadId = xmlText(xmlRecord(result.data).UploadId);
    if (uploadId === undefined || uploadId === '') {
      throw new TransferError(`${what}: the answer carries no UploadId`, { object: location.key, status: result.status });
    }
    return { ...toStoreResponse(result), uploadId };
  }

  /**
   * {@inheritDoc MultipartStore.uploadPart}
   * @throws CseError ERR_CSE_INVALID_ARGUMENT when the bucket or the object key is empty, or a stream body comes without its length; ERR_CSE_ABORTED when the signal fires; for a
   *   stream body that fails, its own CseError (e.g. ERR_CSE_INTEGRITY from the encrypting stream), or ERR_CSE_IO for
   *   any other error; TransferError (ERR_CSE_TRANSFER) for an OSS error answer (404 `NoSuchUpload`, 400
   *   `InvalidEncryptionRequest`, …), a network failure, or an answer without an ETag
   */
  async uploadPart(location: ObjectLocation, request: UploadPartRequest, options: CallOptions = {}): Promise<UploadPartResponse> {
    const what = `UploadPart ${request.partNumber} of ${describe(location)}`;
    const headers: Record<string, string> = { ...request.headers };
    const params = this.#base('PUT', location, headers, options, [200], {
      partNumber: String(request.partNumber),
      uploadId: request.uploadId,
    });
    // The part's CRC-64 is checked against OSS's instead; an MD5 over every part would cost a second pass.
    params.disabledMD5 = true;
    let stream: Readable | undefined;
    if (request.body.kind === 'bytes') {
      const bytes = request.body.bytes;
      params.content = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    } else {
      if (request.body.length === undefined) {
        throw new CseError(ErrorCode.INVALID_ARGUMENT, `${what}: a part body needs its length`, { object: location.key });
      }
      stream = Readable.from(request.body.stream, { objectMode: false });
      params.stream = stream;
      headers['Content-Length'] = String(request.body.length);
    }
    const result = await this.#call(what, location, options, params, stream);
    const response = toStoreResponse(result);
    const etag = response.headers[OssHeader.ETAG];
    if (etag === undefined || etag === '') {
      throw new TransferError(`${what}: the answer carries no ETag (is ETag an exposed header?)`, {
        object: location.key,
        status: result.status,
      });
    }
    return { ...response, etag };
  }

  /**
   * {@inheritDoc MultipartStore.completeMultipartUpload}
   * @throws CseError ERR_CSE_INVALID_ARGUMENT when the bucket or the object key is empty; ERR_CSE_ABORTED when the signal fires; TransferError (ERR_CSE_TRANSFER) for an OSS error
   *   answer (404 `NoSuchUpload`, 400 `InvalidPart`, `InvalidPartOrder`, …) or a network failure
   */
  async completeMultipartUpload(
    location: ObjectLocation,
    uploadId: string,
    parts: readonly CompletePart[],
    options: CallOptions = {},
    headers: Readonly<Record<string, string>> = {},
  ): Promise<CompleteResponse> {
    const what = `CompleteMultipartUpload ${describe(location)}`;
    // With an upload callback OSS answers with the callback server's body, not XML (ali-oss `completeMultipartUpload`).
    const callback = hasCallback(headers);
    const xml = [
      '<?xml version="1.0" encoding="UTF-8"?>',
      '<CompleteMultipartUpload>',
      ...parts.map((p) => `<Part><PartNumber>${p.partNumber}</PartNumber><ETag>${escapeXml(p.etag)}</ETag></Part>`),
      '</CompleteMultipartUpload>',
    ].join('\n');
    const params = this.#base('POST', location, {}, options, [200], { uploadId });
    params.content = Buffer.from(xml, 'utf8');
    params.mime = 'xml';
    params.xmlResponse = !callback;
    Object.assign(params.headers, headers);
    const result = await this.#call(what, location, options, params);
    const response = toStoreResponse(result);
    if (callback) return { ...response, etag: response.headers[OssHeader.ETAG], callbackBody: bodyBytes(result.data) };
    return { ...response, etag: response.headers[OssHeader.ETAG] ?? xmlText(xmlRecord(result.data).ETag) };
  }

  /**
   * {@inheritDoc MultipartStore.abortMultipartUpload}
   * @throws CseError ERR_CSE_INVALID_ARGUMENT when the bucket or the object key is empty; ERR_CSE_ABORTED when the signal fires; TransferError (ERR_CSE_TRANSFER) for an OSS error
   *   answer (404 `NoSuchUpload`, …) or a network failure
   */
  async abortMultipartUpload(location: ObjectLocation, uploadId: string, options: CallOptions = {}): Promise<StoreResponse> {
    const what = `AbortMultipartUpload ${describe(location)}`;
    const params = this.#base('DELETE', location, {}, options, [204], { uploadId });
    return toStoreResponse(await this.#call(what, location, options, params));
  }

  /**
   * {@inheritDoc MultipartStore.listParts}
   * @throws CseError ERR_CSE_INVALID_ARGUMENT when the bucket or the object key is empty; ERR_CSE_ABORTED when the signal fires; TransferError (ERR_CSE_TRANSFER) for an OSS error
   *   answer (404 `NoSuchUpload`, …) or a network failure
   */
  async listParts(location: ObjectLocation, uploadId: string, query: ListPartsQuery, options: CallOptions = {}): Promise<ListPartsPage> {
    const what = `ListParts ${describe(location)}`;
    const params = this.#base('GET', location, {}, options, [200], { uploadId });
    params.xmlResponse = true;
    const q: Record<string, string> = {};
    if (query.maxParts !== undefined) q['max-parts'] = String(query.maxParts);
    if (query.partNumberMarker !== undefined) q['part-number-marker'] = String(query.partNumberMarker);
    if (Object.keys(q).length > 0) params.query = q;
    const result = await this.#call(what, location, options, params);
    const data = xmlRecord(result.data);
    const parts: ListedPart[] = xmlList(data.Part).map((raw) => {
      const p = xmlRecord(raw);
      return {
        partNumber: Number(xmlText(p.PartNumber)),
        etag: xmlText(p.ETag) ?? '',
        size: Number(xmlText(p.Size)),
        lastModified: xmlText(p.LastModified) ?? '',
        crc64: xmlText(p.HashCrc64ecma),
      };
    });
    const encryption: ListedEncryption = {
      key: xmlText(data.ClientEncryptionKey),
      start: xmlText(data.ClientEncryptionStart),
      cekAlg: xmlText(data.ClientEncryptionCekAlg),
      wrapAlg: xmlText(data.ClientEncryptionWrapAlg),
      dataSize: xmlText(data.ClientEncryptionDataSize),
      partSize: xmlText(data.ClientEncryptionPartSize),
    };
    const marker = xmlText(data.NextPartNumberMarker);
    return {
      ...toStoreResponse(result),
      parts,
      isTruncated: xmlText(data.IsTruncated) === 'true',
      nextPartNumberMarker: marker === undefined || !/^[0-9]+$/.test(marker) ? undefined : Number(marker),
      encryption: Object.values(encryption).some((v) => v !== undefined) ? encryption : undefined,
    };
  }

  /**
   * {@inheritDoc MultipartStore.listMultipartUploads}
   * @throws CseError ERR_CSE_INVALID_ARGUMENT when `bucket` is empty; ERR_CSE_ABORTED when the signal fires;
   *   TransferError (ERR_CSE_TRANSFER) for an OSS error answer (404 `NoSuchBucket`, …) or a network failure
   */
  async listMultipartUploads(bucket: string, query: ListUploadsQuery, options: CallOptions = {}): Promise<ListUploadsPage> {
    const location = { bucket, key: '' };
    const what = `ListMultipartUploads oss://${bucket}/${query.prefix ?? ''}`;
    if (bucket === '') throw new CseError(ErrorCode.INVALID_ARGUMENT, 'no bucket: set `bucket` on the ali-oss client or pass options.bucket');
    const q: Record<string, string> = {};
    if (query.prefix !== undefined) q.prefix = query.prefix;
    if (query.maxUploads !== undefined) q['max-uploads'] = String(query.maxUploads);
    if (query.keyMarker !== undefined) q['key-marker'] = query.keyMarker;
    if (query.uploadIdMarker !== undefined) q['upload-id-marker'] = query.uploadIdMarker;
    const params = requestParams('GET', bucket, undefined, {}, options, [200], { uploads: '' });
    params.xmlResponse = true;
    if (Object.keys(q).length > 0) params.query = q;
    const result = await this.#call(what, location, options, params);
    const data = xmlRecord(result.data);
    return {
      ...toStoreResponse(result),
      uploads: xmlList(data.Upload).map((raw) => {
        const u = xmlRecord(raw);
        return { key: xmlText(u.Key) ?? '', uploadId: xmlText(u.UploadId) ?? '', initiated: xmlText(u.Initiated) ?? '' };
      }),
      isTruncated: xmlText(data.IsTruncated) === 'true',
      nextKeyMarker: nonEmpty(xmlText(data.NextKeyMarker)),
      nextUploadIdMarker: nonEmpty(xmlText(data.NextUploadIdMarker)),
    };
  }

  /** The parameters of a request on one object (its key checked). */
  #base(
    method: AliRequestParams['method'],
    location: ObjectLocation,
    headers: Record<string, string>,
    options: CallOptions,
    successStatuses: readonly number[],
    query?: Readonly<Record<string, string>>,
  ): AliRequestParams {
    checkKey(location);
    return requestParams(method, location.bucket, location.key, headers, options, successStatuses, query);
  }

  /** Runs one request through the client's request layer, with abort hooks; converts every failure. */
  async #call(
    what: string,
    location: ObjectLocation,
    options: CallOptions,
    params: AliRequestParams,
    uploadStream?: Readable,
  ): Promise<AliRawResult> {
    return this.#viaClient(what, location, options, async (client) => client.request(params), uploadStream);
  }

  async #viaClient<T>(
    what: string,
    location: ObjectLocation,
    options: CallOptions,
    run: (client: AliOssInternals) => Promise<T>,
    uploadStream?: Readable,
  ): Promise<T> {
    const signal = options.signal;
    throwIfAborted(signal, what);
    // An upload body that fails (our encryption checks, the caller's source) reaches ali-oss as a generic request
    // error: keep the original to report it.
    let bodyError: unknown;
    uploadStream?.once('error', (e: unknown) => {
      bodyError = e;
    });
    // The live-request set and the abort hook exist only for a call with a signal (most calls have none).
    let client: AliOssInternals;
    let detach: (() => void) | undefined;
    if (signal === undefined) {
      client = this.#derive(location.bucket, undefined, undefined);
    } else {
      const live = new Set<ClientRequest>();
      client = this.#derive(location.bucket, live, signal);
      detach = onAbort(signal, () => {
        const error = abortedError(what, signal);
        for (const req of live) req.destroy(error);
        uploadStream?.destroy(error);
      });
    }
    try {
      return await run(client);
    } catch (e) {
      uploadStream?.destroy();
      if (signal?.aborted === true) throw abortedError(what, signal);
      if (bodyError instanceof CseError) throw bodyError;
      if (bodyError !== undefined) {
        throw new CseError(ErrorCode.IO, `${what}: reading the body failed: ${errorMessage(bodyError)}`, {
          ...(location.key === '' ? {} : { object: location.key }),
          cause: bodyError,
        });
      }
      throw convertError(e, what, location, signal);
    } finally {
      detach?.();
    }
  }

  /**
   * The view of the client a call runs on: bucket, User-Agent and abortable agents.
   *
   * The bucket/User-Agent views are built once and reused: a view made per call with its own accessor closures gets
   * a hidden class of its own, so every property read `ali-oss` makes on `this` (options, agents, urllib, …) missed
   * its inline caches; the CPU profile of a 1 KiB GET showed that as ~10 % of the call. Only a call with a signal
   * still gets a fresh (shape-stable) child view, whose agents know that call's live requests.
   */
  #derive(bucket: string, live: Set<ClientRequest> | undefined, signal: AbortSignal | undefined): AliOssInternals {
    const view = this.#viewFor(bucket);
    if (live === undefined) return view;
    const base = this.#client;
    const call = Object.create(view) as AliOssInternals;
    for (const name of ['agent', 'httpsAgent'] as const) {
      const agent = base[name];
      if (agent === undefined || typeof agent.addRequest !== 'function') continue;
      const hooked = Object.create(agent) as AgentLike;
      hooked.addRequest = (req: ClientRequest, opts: unknown): void => {
        if (signal?.aborted === true) {
          req.destroy(abortedError('request', signal));
        } else {
          live.add(req);
          req.once('close', () => live.delete(req));
        }
        agent.addRequest(req, opts);
      };
      call[name] = hooked;
    }
    return call;
  }

  /** The shared view for `bucket` (the client's own bucket, or another one read through a proxy of its options). */
  #viewFor(bucket: string): AliOssInternals {
    const base = this.#client;
    if (bucket === base.options.bucket) return (this.#ownView ??= this.#makeView(undefined));
    let view = this.#bucketViews.get(bucket);
    if (view === undefined) {
      // Bounded: a caller cycling through many buckets rebuilds views instead of growing this map.
      if (this.#bucketViews.size >= MAX_BUCKET_VIEWS) this.#bucketViews.clear();
      view = this.#makeView(bucket);
      this.#bucketViews.set(bucket, view);
    }
    return view;
  }

  #makeView(bucket: string | undefined): AliOssInternals {
    const base = this.#client;
    const view = Object.create(base) as AliOssInternals;
    if (bucket !== undefined) {
      // Reads see the other bucket; writes (STS refresh) still land in the real options.
      view.options = new Proxy(base.options, {
        get: (target, prop, receiver) => (prop === 'bucket' ? bucket : Reflect.get(target, prop, receiver) as unknown),
      });
    }
    // ali-oss records the STS refresh time on `this`: keep it on the real client.
    Object.defineProperty(view, 'stsTokenFreshTime', {
      get: () => base.stsTokenFreshTime,
      set: (v: unknown) => {
        base.stsTokenFreshTime = v;
      },
    });
    if (this.#userAgent !== undefined) view.userAgent = this.#userAgent;
    return view;
  }
}

/** Request parameters of the one shape {@link AliRequestParams} describes; callers then set the fields they use. */
function requestParams(
  method: AliRequestParams['method'],
  bucket: string,
  object: string | undefined,
  headers: Record<string, string>,
  options: CallOptions,
  successStatuses: readonly number[],
  query: Readonly<Record<string, string>> | undefined,
): AliRequestParams {
  const subres = query !== undefined && Object.keys(query).length > 0 ? { ...query } : undefined;
  return {
    object,
    bucket,
    method,
    headers,
    subres,
    timeout: options.timeout,
    successStatuses,
    customResponse: false,
    xmlResponse: false,
    content: undefined,
    stream: undefined,
    mime: undefined,
    query: undefined,
    disabledMD5: false,
  };
}

/** An element of an xml2js (`explicitArray: false`) result as a record. */
function xmlRecord(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

/** An xml2js element that may appear once (an object) or several times (an array). */
function xmlList(value: unknown): unknown[] {
  if (value === undefined || value === null) return [];
  return Array.isArray(value) ? (value as unknown[]) : [value];
}

/** An xml2js leaf as text (an empty element is `''`). */
function xmlText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  return undefined;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === '' ? undefined : value;
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function listed(o: AliListedObject): ListedObject {
  return {
    name: o.name,
    size: o.size,
    etag: o.etag,
    lastModified: o.lastModified,
    type: o.type,
    storageClass: o.storageClass,
    owner: o.owner ?? null,
  };
}

function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function timeoutOption(options: CallOptions): { timeout?: number } {
  return options.timeout === undefined ? {} : { timeout: options.timeout };
}

function describe(location: ObjectLocation): string {
  return `oss://${location.bucket}/${location.key}`;
}

function checkKey(location: ObjectLocation): void {
  if (typeof location.bucket !== 'string' || location.bucket === '') {
    throw new CseError(ErrorCode.INVALID_ARGUMENT, 'no bucket: set `bucket` on the ali-oss client or pass options.bucket');
  }
  if (typeof location.key !== 'string' || location.key.replace(/^\/+/, '') === '') {
    throw new CseError(ErrorCode.INVALID_ARGUMENT, `expected a non-empty object key, got ${JSON.stringify(location.key)}`);
  }
  // ali-oss builds the request URL with WHATWG rules, which resolve `.` and `..` segments: `a/../b` is sent as `/b`,
  // `x/..` as `/` (the bucket itself: a DELETE would be DeleteBucket). OSS allows such keys, but through ali-oss the
  // request would reach another resource, so they are refused before anything is sent.
  if (location.key.split('/').some((segment) => segment === '.' || segment === '..')) {
    throw new CseError(
      ErrorCode.INVALID_ARGUMENT,
      `object key ${JSON.stringify(location.key)} has a "." or ".." path segment: ali-oss would resolve it and address another object`,
      { object: location.key },
    );
  }
}

/** Lower-case names, single string values. */
export function normaliseHeaders(raw: Readonly<Record<string, unknown>>): ResponseHeaders {
  const out: Record<string, string> = {};
  // for…in over own keys: no array of [name, value] pairs per response (issue 15, allocation per small round trip).
  for (const name in raw) {
    if (!Object.hasOwn(raw, name)) continue;
    const value = raw[name];
    if (value === undefined || value === null) continue;
    out[name.toLowerCase()] = Array.isArray(value) ? value.map(String).join(', ') : headerText(value);
  }
  return out;
}

function headerText(value: unknown): string {
  return typeof value === 'string' ? value : typeof value === 'number' ? String(value) : JSON.stringify(value);
}

function toStoreResponse(result: AliRawResult): StoreResponse {
  const headers = normaliseHeaders(result.headers);
  const raw = result.res as unknown as Partial<ResponseInfo> | undefined;
  const res: ResponseInfo =
    raw !== undefined && typeof raw === 'object' && typeof raw.status === 'number'
      ? { ...raw, status: result.status, headers }
      : { status: result.status, headers };
  return { status: result.status, headers, requestId: headers[OssHeader.REQUEST_ID], res };
}

function fromInfo(info: ResponseInfo): StoreResponse {
  const headers = normaliseHeaders(info.headers);
  return { status: info.status, headers, requestId: headers[OssHeader.REQUEST_ID], res: { ...info, headers } };
}

async function readBounded(stream: Readable, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      chunks.push(chunk);
      size += chunk.length;
      if (size >= limit) break;
    }
  } catch {
    // A broken error body still leaves us the status and headers.
  } finally {
    stream.destroy();
  }
  return Buffer.concat(chunks).subarray(0, limit);
}

/** Network-level failures worth retrying (ali-oss reports them with status -1 or -2, or Node error codes). */
const RETRYABLE_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'ENOTFOUND',
  'RequestError',
  'ConnectionTimeoutError',
  'ResponseTimeoutError',
  'ResponseError',
  'SocketAssignTimeoutError',
]);

/**
 * Converts whatever `ali-oss` (or the network) threw into our error types, keeping ali-oss's `name`, `code`,
 * `status`, `requestId`, `hostId`, `ecCode` and `params` (docs/errors.md): ported error handling then takes the same
 * branch. A 416 (`InvalidRange`) is classified `ERR_CSE_RANGE_NOT_SATISFIABLE`, everything else `ERR_CSE_TRANSFER`.
 * @internal
 */
export function convertError(e: unknown, what: string, location: ObjectLocation, signal: AbortSignal | undefined): CseError {
  if (e instanceof CseError) return e;
  if (signal?.aborted === true) return abortedError(what, signal);
  const err = (typeof e === 'object' && e !== null ? e : {}) as AliError;
  const status = typeof err.status === 'number' ? err.status : undefined;
  const code = nonEmptyString(err.code);
  const name = nonEmptyString(err.name);
  const requestId = nonEmptyString(err.requestId);
  const hostId = nonEmptyString(err.hostId);
  const ecCode = nonEmptyString(err.ecCode);
  const object = location.key === '' ? {} : { object: location.key };
  const message = typeof err.message === 'string' ? err.message : String(e);
  const network = status === undefined || status < 100;
  const range = status === 416 || code === 'InvalidRange';
  const retryable =
    !range && (network || (status >= 500 && status !== 501) || status === 429 || (code !== undefined && RETRYABLE_CODES.has(code)));
  const parts = range
    ? [`${what}: the requested range is not satisfiable (${message})`]
    : [
        `${what} failed`,
        network ? '' : ` with HTTP ${status}`,
        code === undefined ? '' : ` ${code}`,
        `: ${message}`,
        requestId === undefined ? '' : ` (request id ${requestId})`,
      ];
  return new TransferError(parts.join(''), {
    ...object,
    ...(status === undefined ? {} : { status }),
    // An OSS code is one from an answer; a network failure's `code` is urllib's error name.
    ...(code === undefined || network ? {} : { ossCode: code }),
    ...(code === undefined ? {} : { aliCode: code }),
    ...(name === undefined || name === 'Error' ? {} : { aliName: name }),
    ...(requestId === undefined ? {} : { requestId }),
    ...(hostId === undefined ? {} : { hostId }),
    ...(ecCode === undefined ? {} : { ecCode }),
    ...(err.params === undefined ? {} : { params: err.params }),
    ...(range ? { cseCode: ErrorCode.RANGE_NOT_SATISFIABLE } : {}),
    retryable,
    cause: e,
  });
}

function bodyBytes(data: unknown): Uint8Array | undefined {
  if (data instanceof Uint8Array) return data;
  return typeof data === 'string' ? Buffer.from(data, 'utf8') : undefined;
}

function nonEmptyString(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}
