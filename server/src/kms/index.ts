/**
 * KMS emulator (placeholder interface; implementation in progress).
 *
 * @packageDocumentation
 */
import type * as http from 'node:http';

/** One access key accepted by the emulator. */
export interface KmsCredential {
  readonly accessKeyId: string;
  readonly accessKeySecret: string;
  readonly securityToken?: string;
}

/** Options of {@link createKmsService}. */
export interface KmsServiceOptions {
  /** Data directory; keys are kept under `<dataDir>/kms/`. Required unless `memory` is true. */
  dataDir?: string;
  /** Keep keys in memory only (tests). */
  memory?: boolean;
  /** Access keys whose signatures are accepted. */
  credentials: ReadonlyArray<KmsCredential>;
  /** Region reported in key ARNs; default `cn-hangzhou`. */
  region?: string;
}

/** A KMS RPC endpoint that can be mounted on any node:http listener. */
export interface KmsService {
  /** True when the request is a KMS RPC call (`Action` and `Version=2016-01-20` in the query). */
  isKmsRequest(req: http.IncomingMessage, url: URL): boolean;
  /** Answers one KMS RPC request. Never rejects; errors become KMS JSON error bodies. */
  handle(req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void>;
  /** Releases resources. */
  close(): Promise<void>;
}

/**
 * Creates a KMS emulator.
 *
 * @throws Error when the options are invalid.
 */
export function createKmsService(options: KmsServiceOptions): KmsService {
  void options;
  throw new Error('KMS emulator not implemented yet');
}
