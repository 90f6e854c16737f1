/** What the numbers were measured on: they mean little without it (issue 8 §4). */

import { readFileSync } from 'node:fs';
import os from 'node:os';

/** Machine description recorded in every result file. */
export interface MachineInfo {
  readonly cpuModel: string;
  readonly cores: number;
  /** CPU flags that matter for the cipher rows (from /proc/cpuinfo where available). */
  readonly aesNi: boolean | undefined;
  readonly memoryBytes: number;
  readonly platform: string;
  readonly arch: string;
  readonly kernel: string;
  readonly node: string;
  readonly openssl: string;
  readonly v8: string;
  /**
   * Writing 64 MiB of freshly allocated memory vs the same memory again, in MB/s. On some VMs (Firecracker with free
   * page reporting) the first touch of new pages costs ~4 ms/MiB, which makes every large fresh allocation (a
   * whole-object Buffer, a one-shot `cipher.update` of a big buffer) expensive: read the big-object rows with it.
   */
  readonly memoryFirstTouchMBps: number;
  readonly memoryRewriteMBps: number;
  /** 1, 5 and 15-minute load averages when the run started: other work on the machine shows up here. */
  readonly loadAverageAtStart: readonly number[];
}

function cpuFlags(): string | undefined {
  try {
    const text = readFileSync('/proc/cpuinfo', 'utf8');
    return /^flags\s*:\s*(.*)$/m.exec(text)?.[1];
  } catch {
    return undefined;
  }
}

function firstTouch(): { first: number; again: number } {
  const size = 64 * 1024 * 1024;
  const buffer = Buffer.allocUnsafeSlow(size);
  let t = process.hrtime.bigint();
  buffer.fill(1);
  const first = Number(process.hrtime.bigint() - t) / 1e9;
  t = process.hrtime.bigint();
  buffer.fill(2);
  const again = Number(process.hrtime.bigint() - t) / 1e9;
  return { first: Math.round(size / first / 1e6), again: Math.round(size / again / 1e6) };
}

/** Collects the machine description. */
export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  const touch = firstTouch();
  const flags = cpuFlags();
  return {
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    cores: os.availableParallelism(),
    aesNi: flags === undefined ? undefined : flags.split(/\s+/).includes('aes'),
    memoryBytes: os.totalmem(),
    platform: os.platform(),
    arch: os.arch(),
    kernel: os.release(),
    node: process.versions.node,
    openssl: process.versions.openssl,
    v8: process.versions.v8,
    memoryFirstTouchMBps: touch.first,
    memoryRewriteMBps: touch.again,
    loadAverageAtStart: os.loadavg().map((x) => Math.round(x * 100) / 100),
  };
}
