/**
 * `oss-cse/browser`: client-side encryption for OSS in the page, byte-compatible with the Node library and the
 * official SDKs. One self-contained ESM file (dist/browser/oss-cse.js); it takes the user's ali-oss client and never
 * imports it. See docs/browser.md for STS, CORS and the key broker.
 *
 * ```js
 * import { EncryptionClient, KeyBrokerMasterKey } from 'oss-cse/browser';
 * const client = new EncryptionClient(new OSS({ region, bucket, accessKeyId, accessKeySecret, stsToken }), {
 *   masterKey: new KeyBrokerMasterKey({ url: '/cse-broker' }),
 * });
 * await client.put('notes/a.txt', file);
 * const { content } = await client.get('notes/a.txt', { range: { start: 0, end: 99 } });
 * ```
 *
 * @packageDocumentation
 * @module oss-cse/browser
 */

export { CseError, ErrorCode, NoMatchingKeyError, TransferError, isCseError } from '../../src/errors.js';
export type { CseErrorCode, KeyAttempt } from '../../src/errors.js';
export { EncryptionClient, summarizeEnvelope } from './client.js';
export type {
  BrowserGetOptions,
  BrowserGetResult,
  BrowserGetStreamOptions,
  BrowserGetStreamResult,
  BrowserHeadResult,
  BrowserPutInput,
  BrowserPutOptions,
  BrowserPutResult,
  BrowserRange,
  EncryptionClientOptions,
  EnvelopeSummary,
} from './client.js';
export { RsaMasterKey } from './keys.js';
export type { BrowserMasterKey, NewMaterial, RsaMasterKeyOptions } from './keys.js';
export { KeyBrokerMasterKey } from './broker.js';
export type { KeyBrokerMasterKeyOptions } from './broker.js';
export { LocalStorageCheckpointStore, MultipartUploadError } from './multipart.js';
export type { MultipartSource, BrowserCheckpoint, BrowserCheckpointStore, BrowserUploadProgress, MultipartUploadOptions, MultipartUploadResult } from './multipart.js';
export type { OssLike, OssResponse } from './oss.js';
export { Crc64, crc64Combine } from '../../src/transfer/crc64.js';
