/**
 * KMS error answers: the codes, their HTTP status, and the JSON body KMS sends.
 *
 * Alibaba Cloud's RPC gateway answers an error with a 4xx/5xx status and a JSON body carrying `RequestId`, `HostId`,
 * `Code` and `Message` (KMS "Sample responses" page; the official client reads `Code`, `Message` and `RequestId`, see
 * KMS.md §"How the official client surfaces errors").
 *
 * @packageDocumentation
 */

/**
 * The error codes the emulator answers with, and their HTTP status. Codes and statuses follow Alibaba Cloud's RPC
 * gateway and the KMS API reference where those document them; KMS.md lists which ones are emulator choices.
 */
export const KmsErrorCode = {
  /** A required request parameter is absent. */
  MissingParameter: { code: 'MissingParameter', status: 400 },
  /** A request parameter has a value outside its domain. */
  InvalidParameter: { code: 'InvalidParameter', status: 400 },
  /** `Action` names no operation of this emulator. */
  InvalidActionNotFound: { code: 'InvalidAction.NotFound', status: 404 },
  /** `Timestamp` is missing or not `YYYY-MM-DDThh:mm:ssZ`. */
  IllegalTimestamp: { code: 'IllegalTimestamp', status: 400 },
  /** `Timestamp` is more than 15 minutes away from the server clock. */
  TimestampExpired: { code: 'InvalidTimeStamp.Expired', status: 400 },
  /** `SignatureNonce` was already seen within the replay window. */
  SignatureNonceUsed: { code: 'SignatureNonceUsed', status: 400 },
  /** `Signature`, `SignatureMethod` or `SignatureVersion` is missing or not HMAC-SHA1 / 1.0. */
  IncompleteSignature: { code: 'IncompleteSignature', status: 400 },
  /** The signature does not match the one computed with the access key's secret. */
  SignatureDoesNotMatch: { code: 'SignatureDoesNotMatch', status: 400 },
  /** `AccessKeyId` is unknown. */
  AccessKeyNotFound: { code: 'InvalidAccessKeyId.NotFound', status: 404 },
  /** The STS token is missing, unexpected or does not belong to the access key. */
  SecurityTokenMismatch: { code: 'InvalidSecurityToken.MismatchWithAccessKey', status: 400 },
  /** Too many requests inside the nonce replay window (KMS.md "Request signing"): retry later. */
  Throttling: { code: 'Rejected.Throttling', status: 400 },
  /** The key named by `KeyId` does not exist. */
  KeyNotFound: { code: 'Forbidden.KeyNotFound', status: 404 },
  /** The CiphertextBlob is malformed, tampered with, from another KMS, or bound to another encryption context. */
  InvalidCiphertext: { code: 'InvalidCiphertext', status: 400 },
  /** The emulator failed unexpectedly. */
  InternalFailure: { code: 'InternalFailure', status: 500 },
} as const;

/** One entry of {@link KmsErrorCode}. */
export type KmsErrorKind = (typeof KmsErrorCode)[keyof typeof KmsErrorCode];

/**
 * An error that is answered to the client as a KMS JSON error body.
 */
export class KmsError extends Error {
  /** The KMS error code (e.g. `InvalidCiphertext`). */
  readonly code: string;
  /** The HTTP status of the answer. */
  readonly status: number;

  /**
   * @param kind - code and status, usually one of {@link KmsErrorCode}
   * @param message - the `Message` of the answer; must never contain key material
   */
  constructor(kind: { readonly code: string; readonly status: number }, message: string) {
    super(message);
    this.name = 'KmsError';
    this.code = kind.code;
    this.status = kind.status;
  }
}

/** The JSON body of a KMS error answer. */
export interface KmsErrorBody {
  readonly RequestId: string;
  readonly HostId: string;
  readonly Code: string;
  readonly Message: string;
}

/**
 * Builds the JSON body of an error answer.
 *
 * @param error - the error to report
 * @param requestId - the request id, also sent as `x-acs-request-id`
 * @param hostId - the host the client addressed (KMS echoes its endpoint host)
 */
export function errorBody(error: KmsError, requestId: string, hostId: string): KmsErrorBody {
  return { RequestId: requestId, HostId: hostId, Code: error.code, Message: error.message };
}
