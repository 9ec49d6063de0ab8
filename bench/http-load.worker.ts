import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { Agent, type Dispatcher } from 'undici';
import { STOP_LOAD, type LoadOptions, type LoadResult } from './http-load.js';

/**
 * The load generator of http-load.ts: on a worker thread (options in `workerData`, the result
 * posted back), or in a process of its own (options and result over the IPC channel).
 */
async function run(options: LoadOptions, inOwnProcess: boolean, stopped: Promise<void>): Promise<LoadResult> {
  const headerSets = options.headerSets?.length ? options.headerSets.map((set) => ({ ...options.headers, ...set })) : undefined;
  const dispatcher = new Agent({ connections: options.connections, pipelining: 1, keepAliveTimeout: 30_000 });
  const targets = options.urls.map((url) => {
    const parsed = new URL(url);
    return { origin: parsed.origin, path: parsed.pathname + parsed.search };
  });
  const latencies: number[] = [];
  let errors = 0;
  let next = 0;
  let deadline = performance.now() + options.durationSec * 1000;
  void stopped.then(() => (deadline = 0));

  async function loop(): Promise<void> {
    while (performance.now() < deadline) {
      const index = next++;
      const target = targets[index % targets.length]!;
      const headers = headerSets ? headerSets[index % headerSets.length] : options.headers;
      const started = performance.now();
      try {
        if ((await get(dispatcher, target, headers)) !== 200) errors += 1;
      } catch {
        errors += 1;
      }
      latencies.push(performance.now() - started);
      if (options.pauseMs) await new Promise((resolve) => setTimeout(resolve, options.pauseMs));
    }
  }

  const started = performance.now();
  // In a process of its own every thread is the load generator's (its garbage collector's too);
  // on a worker thread only that thread can be told apart from the server's.
  const cpu = inOwnProcess ? process.cpuUsage() : process.threadCpuUsage();
  await Promise.all(Array.from({ length: options.connections }, loop));
  const seconds = (performance.now() - started) / 1000;
  const clientCpu = inOwnProcess ? process.cpuUsage(cpu) : process.threadCpuUsage(cpu);
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  await dispatcher.close();
  return {
    requests: latencies.length,
    errors,
    seconds,
    requestsPerSecond: latencies.length / seconds,
    p50Ms: at(0.5),
    p99Ms: at(0.99),
    maxMs: latencies.at(-1) ?? 0,
    clientCpuMs: (clientCpu.user + clientCpu.system) / 1000,
  };
}

/**
 * One GET, its body read and dropped; resolves with the status.
 * @NOTE `dispatch` with a handler rather than `request()`: `request()` wraps every response body in
 * a stream, which cost the generator ~25 µs of CPU a request against ~15 µs here (a local server's
 * 4 KB answers, 16 connections); on a shared machine the generator's CPU is taken from the server.
 */
function get(dispatcher: Dispatcher, target: { origin: string; path: string }, headers: Record<string, string> | undefined): Promise<number> {
  return new Promise((resolve, reject) => {
    let status = 0;
    dispatcher.dispatch(
      { origin: target.origin, path: target.path, method: 'GET', ...(headers && { headers }) },
      {
        onRequestStart: () => undefined,
        onResponseStart: (_controller, statusCode) => (status = statusCode),
        onResponseData: () => undefined,
        onResponseEnd: () => resolve(status),
        onResponseError: (_controller, error) => reject(error),
      },
    );
  });
}

if (!isMainThread) {
  const port = parentPort!;
  const stopped = new Promise<void>((resolve) => port.once('message', (message) => message === STOP_LOAD && resolve()));
  port.postMessage(await run(workerData as LoadOptions, false, stopped));
  port.removeAllListeners('message');
} else if (process.send) {
  const send = process.send.bind(process);
  let stop: () => void = () => undefined;
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  process.on('message', (message: LoadOptions | typeof STOP_LOAD) => {
    if (message === STOP_LOAD) stop();
    else void run(message, true, stopped).then((result) => send(result, () => process.disconnect()));
  });
}
