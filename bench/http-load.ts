import { fork } from 'node:child_process';
import { Worker } from 'node:worker_threads';

export interface LoadResult {
  requests: number;
  errors: number;
  seconds: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /**
   * CPU time of the load generator, ms: its whole process (`process: true`), or its worker
   * thread alone (its garbage collector's helper threads are then counted with the server's).
   */
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
  /** Ends the load before `durationSec` once it settles (the requests in flight still complete). */
  until?: Promise<unknown>;
  /**
   * Run the load generator in a process of its own instead of a worker thread of this one, so
   * that the CPU of this process is the server's alone and the generator's is measured whole.
   */
  process?: boolean;
}

/** What the load's owner sends its generator to end the load before its duration. */
export const STOP_LOAD = 'stop';

const WORKER_FILE = new URL('./http-load.worker.js', import.meta.url);

/**
 * Closed-loop HTTP load from a worker thread or a child process (so the client does not share the
 * server's event loop): `connections` keep-alive requests in flight for `durationSec`, latency per
 * request.
 */
export async function runLoad({ process: ownProcess, until, ...options }: LoadOptions): Promise<LoadResult> {
  if (ownProcess) {
    const child = fork(WORKER_FILE, { stdio: 'inherit', serialization: 'advanced' });
    void until?.then(() => child.connected && child.send(STOP_LOAD));
    return new Promise((resolve, reject) => {
      let result: LoadResult | undefined;
      child.once('message', (message) => (result = message as LoadResult));
      child.once('error', reject);
      child.once('exit', (code) => (result ? resolve(result) : reject(new Error(`the load generator exited with code ${code} and no result`))));
      child.send(options);
    });
  }
  const worker = new Worker(WORKER_FILE, { workerData: options });
  void until?.then(() => worker.postMessage(STOP_LOAD));
  return new Promise((resolve, reject) => {
    worker.once('message', (result: LoadResult) => {
      resolve(result);
      // Its result is all the load gives: a thread left running would keep the bench from exiting.
      void worker.terminate();
    });
    worker.once('error', reject);
  });
}

export const formatLoad = (label: string, result: LoadResult): string =>
  `${label}: ${Math.round(result.requestsPerSecond)} req/s, p50 ${result.p50Ms.toFixed(2)} ms, p99 ${result.p99Ms.toFixed(2)} ms, ` +
  `max ${result.maxMs.toFixed(1)} ms (${result.requests} requests, ${result.errors} errors)`;
