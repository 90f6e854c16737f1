/** Counting the HTTP requests a side sends (issue 8 §2 "requests per operation"). */

import type { Sample, Side } from './measure.js';
import type { ServerProcess } from './processes.js';

/**
 * Wraps a side so its sample carries how many requests and new TCP connections the server received during the run.
 * The counters are read before and after the run over IPC, outside the timed region.
 */
export function countingRequests(server: ServerProcess, side: Side): Side {
  return async (batch: number): Promise<Sample> => {
    const before = await server.counters();
    const result = await side(batch);
    const after = await server.counters();
    const sample = typeof result === 'number' ? { seconds: result } : result;
    return { ...sample, requests: after.requests - before.requests, connections: after.connections - before.connections };
  };
}
