/**
 * OSS error responses: the codes, HTTP statuses and messages OSS uses, and the XML body it sends
 * (`<Error><Code/><Message/><RequestId/><HostId/>…</Error>`).
 *
 * @packageDocumentation
 */

import { xmlDocument, type XmlContent } from './xml.js';

/** Every OSS error code this server can answer with, with its HTTP status and default message. */
export const ErrorCodes = {
  AccessForbidden: [403, 'CORSResponse: This CORS request is not allowed.'],
  AccessDenied: [403, 'You have no right to access this object because of bucket acl.'],
  BucketAlreadyExists: [409, 'The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again.'],
  BucketNotEmpty: [409, 'The bucket you tried to delete is not empty.'],
  EntityTooLarge: [400, 'Your proposed upload exceeds the maximum allowed size.'],
  EntityTooSmall: [400, 'Your proposed upload smaller than the minimum allowed size.'],
  FileAlreadyExists: [409, 'The object you specified already exists and can not be overwritten.'],
  IncompleteBody: [400, 'You did not provide the number of bytes specified by the Content-Length HTTP header.'],
  // Not an OSS code (OSS never runs out of disk): the embedded server's answer to ENOSPC/EDQUOT, status 507 (RFC 4918
  // Insufficient Storage), with a message saying what happened so the client's error says it.
  InsufficientStorage: [507, 'The server disk is full: no space left to store this request.'],
  InternalError: [500, 'We encountered an internal error. Please try again.'],
  InvalidAccessKeyId: [403, 'The OSS Access Key Id you provided does not exist in our records.'],
  InvalidArgument: [400, 'Invalid argument.'],
  InvalidBucketName: [400, 'The specified bucket is not valid.'],
  InvalidDigest: [400, 'The Content-MD5 you specified is not valid.'],
  InvalidEncryptionRequest: [400, 'The client-side encryption request is invalid.'],
  InvalidObjectState: [403, "The operation is not valid for the object's state"],
  InvalidObjectName: [400, 'The specified object is not valid.'],
  InvalidPart: [400, "One or more of the specified parts could not be found or the specified entity tag might not have matched the part's entity tag."],
  InvalidPartOrder: [400, 'The list of parts was not in ascending order. Parts list must specified in order by part number.'],
  InvalidRange: [416, 'The requested range cannot be satisfied'],
  InvalidRequest: [400, 'The request is invalid.'],
  InvalidTag: [400, 'The tag provided was not a valid tag.'],
  InvalidURI: [400, 'Could not parse the specified URI.'],
  MalformedXML: [400, 'The XML you provided was not well-formed or did not validate against our published schema.'],
  MethodNotAllowed: [405, 'The specified method is not allowed against this resource.'],
  MissingArgument: [400, 'Missing Some Required Arguments.'],
  MissingContentLength: [411, 'You must provide the Content-Length HTTP header.'],
  NoSuchCORSConfiguration: [404, 'The CORS configuration does not exist.'],
  NoSuchBucket: [404, 'The specified bucket does not exist.'],
  NoSuchKey: [404, 'The specified key does not exist.'],
  NoSuchUpload: [404, 'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.'],
  NotImplemented: [501, 'A header or query you provided implies functionality that is not implemented.'],
  PreconditionFailed: [412, 'At least one of the pre-conditions you specified did not hold.'],
  RequestTimeTooSkewed: [403, 'The difference between the request time and the current time is too large.'],
  ServiceUnavailable: [503, 'The service is temporarily unavailable. Please try again later.'],
  SignatureDoesNotMatch: [403, 'The request signature we calculated does not match the signature you provided. Check your key and signing method.'],
  TooManyBuckets: [400, 'You have attempted to create more buckets than allowed.'],
} as const satisfies Record<string, readonly [number, string]>;

/** An OSS error code. */
export type ErrorCode = keyof typeof ErrorCodes;

/** Extra facts for an {@link OssError}. */
export interface OssErrorDetails {
  /** Replaces the default message. */
  readonly message?: string;
  /** Extra XML elements after `HostId`, in order (e.g. `Key`, `Condition`, `StringToSign`). */
  readonly fields?: ReadonlyArray<readonly [string, string]>;
  /** OSS's detailed error code (`EC`), e.g. `0005-00000419`. */
  readonly ec?: string;
}

/** An error answered to the client as OSS error XML. */
export class OssError extends Error {
  /** The OSS error code. */
  readonly code: ErrorCode;
  /** The HTTP status. */
  readonly status: number;
  /** Extra XML elements. */
  readonly fields: ReadonlyArray<readonly [string, string]>;
  /** OSS's detailed error code, when known. */
  readonly ec: string | undefined;

  /**
   * @param code - the OSS error code
   * @param details - message override, extra elements, EC
   */
  constructor(code: ErrorCode, details: OssErrorDetails = {}) {
    const [status, defaultMessage] = ErrorCodes[code];
    super(details.message ?? defaultMessage);
    this.name = 'OssError';
    this.code = code;
    this.status = status;
    this.fields = details.fields ?? [];
    this.ec = details.ec;
  }
}

/**
 * Renders the error body OSS sends.
 * @param error - the error
 * @param requestId - the `x-oss-request-id` of the response
 * @param hostId - the Host the client addressed
 * @returns the XML document
 */
export function renderError(error: OssError, requestId: string, hostId: string): string {
  const content: [string, string][] = [
    ['Code', error.code],
    ['Message', error.message],
    ['RequestId', requestId],
    ['HostId', hostId],
  ];
  for (const [name, value] of error.fields) content.push([name, value]);
  if (error.ec !== undefined) content.push(['EC', error.ec]);
  return xmlDocument('Error', content satisfies XmlContent);
}
