/**
 * RSA rows (issue 8 §2): wrapping and unwrapping one object's data key and IV with {@link RsaMasterKey}, in objects
 * per second, against the bare RSA operations they are made of: two raw `publicEncrypt` / `privateDecrypt` calls
 * with `RSA_NO_PADDING` (one for the key, one for the IV), i.e. the modular exponentiations and nothing else.
 * The uniformity rows (issue 14 item 5) time a failing unwrap (bad `-key`, bad `-start`) against a good one: both
 * private operations always run, so each ratio should be close to 1 (it was ~0.5 for a bad `-key` when `-start`
 * was only decrypted after `-key` succeeded).
 */

import { constants, generateKeyPairSync, privateDecrypt, publicEncrypt, randomBytes } from 'node:crypto';
import { RsaMasterKey } from '../../src/keys/rsa.js';
import { openEnvelope, sealEnvelope } from '../../src/object-crypto.js';
import type { BenchContext, RowGroup } from '../lib/context.js';
import { timed } from '../lib/measure.js';

/** The RSA row group. */
export const rsaRows: RowGroup = {
  name: 'rsa',
  title: 'RSA master key wrap/unwrap per object ÷ raw RSA operations',
  async run(ctx: BenchContext): Promise<void> {
    const bits = ctx.options.rsaBits;
    const pair = generateKeyPairSync('rsa', { modulusLength: bits });
    const master = new RsaMasterKey({ privateKey: pair.privateKey });
    const k = Math.ceil(bits / 8);
    // NO_PADDING needs a k-byte input below n: a leading zero byte guarantees that.
    const block = Buffer.concat([Buffer.alloc(1), randomBytes(k - 1)]);
    const rawWrapped = publicEncrypt({ key: pair.publicKey, padding: constants.RSA_NO_PADDING }, block);
    const sealed = await sealEnvelope({ masterKey: master });
    const rawEncrypt2 = async (batch: number) =>
      timed(() => {
        for (let i = 0; i < batch; i++) {
          publicEncrypt({ key: pair.publicKey, padding: constants.RSA_NO_PADDING }, block);
          publicEncrypt({ key: pair.publicKey, padding: constants.RSA_NO_PADDING }, block);
        }
      });
    const rawDecrypt2 = async (batch: number) =>
      timed(() => {
        for (let i = 0; i < batch; i++) {
          privateDecrypt({ key: pair.privateKey, padding: constants.RSA_NO_PADDING }, rawWrapped);
          privateDecrypt({ key: pair.privateKey, padding: constants.RSA_NO_PADDING }, rawWrapped);
        }
      });
    const material = { key: randomBytes(32), iv: randomBytes(16) };

    await ctx.compare({
      group: 'rsa',
      id: `rsa.wrap.${bits}`,
      label: `RSA-${bits} wrap (key + IV)`,
      subject: 'RsaMasterKey.wrap (PKCS#1 v1.5, base64)',
      baseline: '2 × raw publicEncrypt NO_PADDING',
      cpuBound: true,
      metric: 'speed',
      unit: 'op',
      workPerUnit: 1,
      a: async (batch) =>
        timed(async () => {
          for (let i = 0; i < batch; i++) await master.wrap(material);
        }),
      b: rawEncrypt2,
    });
    await ctx.compare({
      group: 'rsa',
      id: `rsa.unwrap.${bits}`,
      label: `RSA-${bits} unwrap (key + IV)`,
      subject: 'RsaMasterKey.unwrap (NO_PADDING + constant-shape PKCS#1 check)',
      baseline: '2 × raw privateDecrypt NO_PADDING',
      cpuBound: true,
      metric: 'speed',
      unit: 'op',
      workPerUnit: 1,
      a: async (batch) =>
        timed(async () => {
          for (let i = 0; i < batch; i++) await master.unwrap(sealed.envelope);
        }),
      b: rawDecrypt2,
      note: 'peer-performance.md: oss2 190–240, Go 257 objects/s on this machine class',
    });
    // A k-byte value below n whose decryption is noise: what a wrong key or a damaged header gives.
    const noise = Buffer.concat([Buffer.alloc(1), randomBytes(k - 1)]).toString('base64');
    const badKey = { ...sealed.envelope, wrappedKey: noise };
    const badStart = { ...sealed.envelope, wrappedStart: noise };
    const unwrapTimes = (envelope: typeof sealed.envelope, expectFailure: boolean) => async (batch: number) =>
      timed(async () => {
        for (let i = 0; i < batch; i++) {
          try {
            await master.unwrap(envelope);
            if (expectFailure) throw new Error('a bad envelope unwrapped');
          } catch (e) {
            if (!expectFailure) throw e;
          }
        }
      });
    for (const [which, envelope] of [
      ['key', badKey],
      ['start', badStart],
    ] as const) {
      await ctx.compare({
        group: 'rsa',
        id: `rsa.unwrap-bad-${which}.${bits}`,
        label: `RSA-${bits} unwrap failing on -${which} ÷ succeeding`,
        subject: `RsaMasterKey.unwrap, bad -${which} (throws)`,
        baseline: 'RsaMasterKey.unwrap, good envelope',
        cpuBound: true,
        metric: 'time',
        unit: 'op',
        workPerUnit: 1,
        a: unwrapTimes(envelope, true),
        b: unwrapTimes(sealed.envelope, false),
        note: 'issue 14 item 5: should be close to 1 (both private operations always run)',
      });
    }
    await ctx.compare({
      group: 'rsa',
      id: `rsa.open.${bits}`,
      label: `RSA-${bits} openEnvelope (headers → material)`,
      subject: 'openEnvelope: parse headers, pick key, unwrap',
      baseline: '2 × raw privateDecrypt NO_PADDING',
      cpuBound: true,
      metric: 'speed',
      unit: 'op',
      workPerUnit: 1,
      a: async (batch) =>
        timed(async () => {
          for (let i = 0; i < batch; i++) await openEnvelope(sealed.headers, { masterKeys: [master] });
        }),
      b: rawDecrypt2,
    });
  },
};
