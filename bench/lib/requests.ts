/** Counting the HTTP requests a side sends (issue 8 §2 "requests per operation"). */

import type { Sample, Side } from './measure.js';
import type { ServerProcess } from './processes.js';

/**
 * Wraps a side so its sample carries how many requests the server received during the run. The count is read
 * before and after the run over IPC, outside the timed region.
 */
export function countingRequests(server: ServerProcess, side: Side): Side {
  return async (batch: number): Promise<Sample> => {
    const before = await server.requests();
    const result = await side(batch);
    const after = await server.requests();
    const sample = typeof result === 'number' ? { seconds: result } : result;
    return { ...sample, requests: after - before };
  };
}
