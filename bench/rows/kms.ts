/**
 * KMS rows (issue 8 §2): a KMS master key's round trips against the KMS emulator (`startKmsServer`, in its own
 * process), in objects per second, against the official `@alicloud/kms20160120` client making the same calls
 * directly: what our key adds on top of the SDK and the network.
 */

import Kms from '@alicloud/kms20160120';
import { randomBytes } from 'node:crypto';
import { encodeBase64 } from '../../src/format/base64.js';
import { DataKeyCachingMasterKey } from '../../src/keys/data-key-cache.js';
import { KmsMasterKey } from '../../src/keys/kms.js';
import { sealEnvelope } from '../../src/object-crypto.js';
import type { BenchContext, RowGroup } from '../lib/context.js';
import { timed } from '../lib/measure.js';
import { countingRequests } from '../lib/requests.js';

const REGION = 'cn-hangzhou';

/** The KMS row group. */
export const kmsRows: RowGroup = {
  name: 'kms',
  title: 'KMS master key wrap/unwrap against the emulator ÷ the raw KMS SDK',
  async run(ctx: BenchContext): Promise<void> {
    const server = await ctx.server('kms');
    const keyId = server.keyId;
    if (keyId === undefined) throw new Error('the KMS child created no key');
    const master = new KmsMasterKey({ keyId, region: REGION, endpoint: server.endpoint, credentials: server.credentials });
    const raw = new Kms.default({ ...server.credentials, endpoint: server.hostPort, protocol: 'http', regionId: REGION } as any);
    const material = { key: randomBytes(32), iv: randomBytes(16) };
    const sealed = await sealEnvelope({ masterKey: master, contentMaterial: material });
    const blobs = [sealed.envelope.wrappedKey, sealed.envelope.wrappedStart];
    const plaintexts = [encodeBase64(material.key), encodeBase64(material.iv)];

    await ctx.compare({
      group: 'kms',
      id: 'kms.wrap',
      label: 'KMS wrap (key + IV), emulator',
      subject: 'KmsMasterKey.wrap',
      baseline: 'raw SDK: Encrypt(key), Encrypt(IV), in sequence',
      cpuBound: true,
      metric: 'speed',
      unit: 'op',
      workPerUnit: 1,
      a: countingRequests(server, async (batch) =>
        timed(async () => {
          for (let i = 0; i < batch; i++) await master.wrap(material);
        }),
      ),
      b: countingRequests(server, async (batch) =>
        timed(async () => {
          for (let i = 0; i < batch; i++) {
            for (const plaintext of plaintexts) await raw.encrypt(new Kms.EncryptRequest({ keyId, plaintext }));
          }
        }),
      ),
    });
    // Issue 15: the opt-in data-key cache. req/op is the number of KMS calls per PUT (the envelope of one 1 KiB PUT).
    const cached = new DataKeyCachingMasterKey(master, { maxAgeMs: 5 * 60_000, maxObjects: 1000, maxBytes: 1 << 30 });
    await ctx.compare({
      group: 'kms',
      id: 'kms.calls-per-put',
      label: 'KMS calls per PUT (1 KiB objects, envelope only)',
      subject: 'sealEnvelope with DataKeyCachingMasterKey (opt-in; 1000 objects, 1 GiB, 5 min per data key)',
      baseline: 'sealEnvelope with KmsMasterKey (fresh data key per object)',
      cpuBound: true,
      metric: 'speed',
      unit: 'op',
      workPerUnit: 1,
      a: countingRequests(server, async (batch) =>
        timed(async () => {
          for (let i = 0; i < batch; i++) await sealEnvelope({ masterKey: cached, plaintextLength: 1024 });
        }),
      ),
      b: countingRequests(server, async (batch) =>
        timed(async () => {
          for (let i = 0; i < batch; i++) await sealEnvelope({ masterKey: master, plaintextLength: 1024 });
        }),
      ),
      note: 'req/op = KMS calls per PUT: 1 + 1/N with the cache (each object still needs its own KMS-wrapped IV), 2 without',
    });
    cached.clear();
    await ctx.compare({
      group: 'kms',
      id: 'kms.unwrap',
      label: 'KMS unwrap (key + IV), emulator',
      subject: 'KmsMasterKey.unwrap',
      baseline: 'raw SDK: Decrypt(key), Decrypt(IV), in sequence',
      cpuBound: true,
      metric: 'speed',
      unit: 'op',
      workPerUnit: 1,
      a: countingRequests(server, async (batch) =>
        timed(async () => {
          for (let i = 0; i < batch; i++) await master.unwrap(sealed.envelope);
        }),
      ),
      b: countingRequests(server, async (batch) =>
        timed(async () => {
          for (let i = 0; i < batch; i++) {
            for (const ciphertextBlob of blobs) await raw.decrypt(new Kms.DecryptRequest({ ciphertextBlob }));
          }
        }),
      ),
    });
  },
};
