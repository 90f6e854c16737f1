/**
 * Child-process entry for one measured case (see `runCaseInChild`): imports the case module, runs the named export
 * once, and answers with its sample plus this process's peak RSS read from the OS.
 */

import type { CaseReply, CaseRequest } from './case-protocol.js';
import type { Sample } from './measure.js';
import { ownPeakRss } from './peak-rss.js';

function reply(message: CaseReply): void {
  if (process.send === undefined) throw new Error('case-child must be started with an IPC channel (child_process.fork)');
  process.send(message);
}

process.once('message', (raw: unknown) => {
  const request = raw as CaseRequest;
  void (async (): Promise<void> => {
    try {
      const mod = (await import(request.module)) as Record<string, unknown>;
      const fn = mod[request.exportName];
      if (typeof fn !== 'function') throw new Error(`${request.module} has no exported function ${request.exportName}`);
      const result = await (fn as (args: unknown) => Promise<Sample | number>)(request.args);
      const sample: Sample = typeof result === 'number' ? { seconds: result } : result;
      reply({ sample: { ...sample, peakRssBytes: ownPeakRss() } });
    } catch (e) {
      reply({ error: e instanceof Error ? (e.stack ?? e.message) : String(e) });
    }
  })();
});
