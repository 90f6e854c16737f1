/** Peak resident set size as the OS counts it. */

import { readFileSync } from 'node:fs';

/**
 * Peak RSS (`VmHWM` in /proc/<pid>/status) of a process, in bytes.
 * @param pid - the process, default this one
 * @returns bytes, or undefined where /proc is not available or the process is gone
 */
export function peakRssOf(pid: number | 'self' = 'self'): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = /^VmHWM:\s*(\d+)\s*kB/m.exec(status)?.[1];
    return kib === undefined ? undefined : Number(kib) * 1024;
  } catch {
    return undefined;
  }
}

/** This process's peak RSS in bytes: `VmHWM` where available, else `getrusage` (`maxRSS`, KiB on every platform Node runs on). */
export function ownPeakRss(): number {
  return peakRssOf('self') ?? process.resourceUsage().maxRSS * 1024;
}
