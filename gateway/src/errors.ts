/**
 * Errors the gateway itself answers, as OSS error XML (the same document the embedded server renders, so clients
 * parse them the same way). Upstream errors are never re-rendered: they are forwarded as OSS sent them.
 *
 * @packageDocumentation
 */

import type * as http from 'node:http';
import { OssError, renderError } from '../../server/src/errors.js';
import { xmlDocument, type XmlContent } from '../../server/src/xml.js';
import { closeAfterResponse } from '../../server/src/guard.js';
import { CseError, ErrorCode } from '../../src/errors.js';

/** An error answered by the gateway, with a code OSS uses or a gateway-specific one that names the reason. */
export class GatewayError extends Error {
  /** The `Code` element. */
  readonly code: string;
  /** The HTTP status. */
  readonly status: number;
  /** Extra XML elements after `HostId`. */
  readonly fields: ReadonlyArray<readonly [string, string]>;

  /**
   * @param status - HTTP status
   * @param code - the `Code` element (`NotImplemented`, `InvalidArgument`, `InvalidPartSize`, …)
   * @param message - why, in words a user of ossutil understands
   * @param fields - extra elements (e.g. `PartNumber`)
   */
  constructor(status: number, code: string, message: string, fields: ReadonlyArray<readonly [string, string]> = []) {
    super(message);
    this.name = 'GatewayError';
    this.status = status;
    this.code = code;
    this.fields = fields;
  }
}

/** How each library error is told to an OSS client: status and `Code`. */
const CSE_ERRORS: ReadonlyMap<string, readonly [number, string]> = new Map([
  [ErrorCode.NOT_ENCRYPTED, [403, 'ObjectNotEncrypted']],
  [ErrorCode.LEGACY_NOT_ALLOWED, [403, 'LegacyEncryptionNotAllowed']],
  [ErrorCode.NO_MATCHING_KEY, [403, 'NoMatchingDecryptionKey']],
  [ErrorCode.UNWRAP_FAILED, [403, 'NoMatchingDecryptionKey']],
  [ErrorCode.UNWRAP_BAD_LENGTH, [500, 'InvalidEncryptionMetadata']],
  [ErrorCode.ENVELOPE_MISSING_HEADER, [500, 'InvalidEncryptionMetadata']],
  [ErrorCode.ENVELOPE_UNSUPPORTED_ALGORITHM, [500, 'InvalidEncryptionMetadata']],
  [ErrorCode.ENVELOPE_BAD_MATDESC, [500, 'InvalidEncryptionMetadata']],
  [ErrorCode.ENVELOPE_BAD_NUMBER, [500, 'InvalidEncryptionMetadata']],
  [ErrorCode.ENVELOPE_MALFORMED, [500, 'InvalidEncryptionMetadata']],
  [ErrorCode.KMS, [502, 'KmsError']],
  [ErrorCode.KEY_UNUSABLE, [500, 'EncryptionKeyUnusable']],
]);

/**
 * The gateway error for any failure before the response started.
 * @param e - what was thrown
 * @returns the error to answer
 */
export function toGatewayError(e: unknown): GatewayError | OssError {
  if (e instanceof GatewayError || e instanceof OssError) return e;
  if (e instanceof CseError) {
    const [status, code] = CSE_ERRORS.get(e.code) ?? [500, 'InternalError'];
    return new GatewayError(status, code, e.message, [['CseErrorCode', e.code]]);
  }
  return new GatewayError(503, 'ServiceUnavailable', `The gateway could not reach the upstream OSS endpoint: ${e instanceof Error ? e.message : String(e)}`);
}

/**
 * Answers an error as OSS does: XML body (for HEAD, base64 in `x-oss-err` and no body).
 * @param req - the request
 * @param res - its response (destroyed when the headers are already out)
 * @param error - the error
 * @param requestId - this request's id
 */
export function sendError(req: http.IncomingMessage, res: http.ServerResponse, error: GatewayError | OssError, requestId: string): void {
  if (res.headersSent) {
    res.destroy(error);
    return;
  }
  const host = req.headers.host ?? '';
  const xml =
    error instanceof OssError
      ? renderError(error, requestId, host)
      : xmlDocument('Error', [
          ['Code', error.code],
          ['Message', error.message],
          ['RequestId', requestId],
          ['HostId', host],
          ...error.fields,
        ] satisfies XmlContent);
  const body = Buffer.from(xml, 'utf8');
  const headers: http.OutgoingHttpHeaders = {
    'Content-Type': 'application/xml',
    'Content-Length': body.length,
    'x-oss-request-id': requestId,
    Server: 'oss-cse-gateway',
  };
  if (error instanceof OssError && error.ec !== undefined) headers['x-oss-ec'] = error.ec;
  if (req.method === 'HEAD') headers['x-oss-err'] = body.toString('base64');
  // A refusal before the body was (fully) read closes the connection once the answer is flushed instead of reading
  // the rest: draining let a client that declares 1 GiB and trickles hold the socket forever (server/src/guard.ts).
  closeAfterResponse(req, res);
  res.writeHead(error.status, headers);
  res.end(req.method === 'HEAD' ? undefined : body);
}

/**
 * The refusal of an operation that cannot work on client-side-encrypted objects.
 * @param operation - e.g. `AppendObject`
 * @param reason - why
 * @returns a 501 `NotImplemented` naming both
 */
export function refused(operation: string, reason: string): GatewayError {
  return new GatewayError(501, 'NotImplemented', `${operation} is not supported by the oss-cse gateway: ${reason}`, [['Operation', operation]]);
}
