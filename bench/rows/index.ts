/** Every row group, in run order. A new group (the multipart rows of [transfer]) is one file plus one line here. */

import type { RowGroup } from '../lib/context.js';
import { cipherRows } from './cipher.js';
import { crc64Rows } from './crc64.js';
import { e2eRows } from './e2e.js';
import { gatewayRows } from './gateway.js';
import { kmsRows } from './kms.js';
import { migrateRows } from './migrate.js';
import { multipartRows } from './multipart.js';
import { peersRows } from './peers.js';
import { rsaRows } from './rsa.js';
import { serverRows } from './server.js';
import { smallRows } from './small.js';

/** All row groups. */
export const ROW_GROUPS: readonly RowGroup[] = [
  cipherRows,
  crc64Rows,
  rsaRows,
  kmsRows,
  serverRows,
  e2eRows,
  smallRows,
  multipartRows,
  gatewayRows,
  migrateRows,
  peersRows,
];
