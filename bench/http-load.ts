import { Worker } from 'node:worker_threads';

export interface LoadResult {
  requests: number;
  errors: number;
  seconds: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** CPU time of the load generator's own thread, ms (to tell it apart from the server's). */
  clientCpuMs: number;
}

export interface LoadOptions {
  /** Absolute URLs, requested round-robin. */
  urls: string[];
  headers?: Record<string, string>;
  /**
   * Headers per request, taken in turn (request i gets `headerSets[i % length]`, merged over
   * `headers`): e.g. a pool of distinct service-auth tokens, as an AppView sends them.
   */
  headerSets?: Record<string, string>[];
  connections: number;
  durationSec: number;
  /** Time each connection waits after a response before its next request (a reader reading the page); none by default. */
  pauseMs?: number;
}

/**
 * Closed-loop HTTP load from a worker thread (so the client does not share the server's event
 * loop): `connections` keep-alive requests in flight for `durationSec`, latency per request.
 */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const worker = new Worker(new URL('./http-load.worker.js', import.meta.url), { workerData: options });
  return new Promise((resolve, reject) => {
    worker.once('message', (result: LoadResult) => resolve(result));
    worker.once('error', reject);
  });
}

export const formatLoad = (label: string, result: LoadResult): string =>
  `${label}: ${Math.round(result.requestsPerSecond)} req/s, p50 ${result.p50Ms.toFixed(2)} ms, p99 ${result.p99Ms.toFixed(2)} ms, ` +
  `max ${result.maxMs.toFixed(1)} ms (${result.requests} requests, ${result.errors} errors)`;
