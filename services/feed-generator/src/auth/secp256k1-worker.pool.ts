import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/** Bytes per job besides the message: its length (u32), the compact signature and the uncompressed key. */
const SIG_BYTES = 64;
const POINT_BYTES = 65;
/** The name its threads carry (in /proc and profilers), so their CPU can be told apart. */
export const SIGNATURE_THREAD_NAME = 'secp256k1';

/**
 * The worker's module (`secp256k1.worker.ts`): the compiled file in `dist`, the source itself where
 * the source runs (under Jest, which cannot hand a worker its transform; Node strips the types).
 */
const WORKER_FILE = new URL(import.meta.url.endsWith('.ts') ? './secp256k1.worker.ts' : './secp256k1.worker.js', import.meta.url);

interface Job {
  msg: Uint8Array;
  sig: Uint8Array;
  point: Uint8Array;
  resolve: (valid: boolean) => void;
  reject: (error: Error) => void;
}

export class Secp256k1PoolClosedError extends Error {
  override name = 'Secp256k1PoolClosedError';
}

/**
 * secp256k1 signature checks (libsecp256k1) on worker threads, so the event loop that serves
 * requests does not spend ~70 µs of every authenticated request on one.
 *
 * @NOTE Each worker has at most one batch at a time. Jobs wait in a queue while every worker is
 * busy and go as one message (one transferred buffer) to the first worker that answers: under
 * load the batches grow by themselves and the cost of messaging (a wake-up on each side) is
 * shared by many requests; when idle, a job is sent at the next `setImmediate`.
 * A worker that dies fails its jobs and the pool stops taking new ones (`usable` turns false):
 * callers then verify on their own thread.
 */
export class Secp256k1WorkerPool {
  /** Messages sent to workers and the checks they carried. */
  readonly stats = { batches: 0, jobs: 0 };
  private readonly workers: Worker[];
  /** Workers without a batch. */
  private readonly idle: Worker[];
  private readonly inFlight = new Map<number, { worker: Worker; jobs: Job[] }>();
  private queue: Job[] = [];
  private scheduled = false;
  private nextId = 0;
  private broken: Error | undefined;

  constructor(threads: number, bindingPath = createRequire(import.meta.url).resolve('secp256k1/bindings')) {
    if (!(Number.isInteger(threads) && threads >= 1)) throw new RangeError('Secp256k1WorkerPool: threads must be a positive integer');
    this.workers = Array.from({ length: threads }, () => {
      const worker = new Worker(WORKER_FILE, { name: SIGNATURE_THREAD_NAME, workerData: { bindingPath, sigBytes: SIG_BYTES, pointBytes: POINT_BYTES } });
      // Never what keeps a process alive; `close` is still the way to stop it.
      worker.unref();
      worker.on('message', ({ id, results }: { id: number; results: Uint8Array }) => this.settle(id, results));
      worker.on('error', (error) => this.fail(error));
      worker.on('exit', (code) => this.fail(new Secp256k1PoolClosedError(`signature worker exited with code ${code}`)));
      return worker;
    });
    this.idle = [...this.workers];
  }

  /** False once closed or once a worker failed. */
  get usable(): boolean {
    return this.broken === undefined;
  }

  /** `point`: the uncompressed public key (65 bytes); `sig`: compact r‖s (64 bytes). */
  verify(msg: Uint8Array, sig: Uint8Array, point: Uint8Array): Promise<boolean> {
    if (this.broken) return Promise.reject(this.broken);
    return new Promise((resolve, reject) => {
      this.queue.push({ msg, sig, point, resolve, reject });
      if (!this.scheduled && this.idle.length > 0) {
        this.scheduled = true;
        setImmediate(() => {
          this.scheduled = false;
          this.send();
        });
      }
    });
  }

  async close(): Promise<void> {
    this.fail(new Secp256k1PoolClosedError('signature worker pool closed'));
    await Promise.all(this.workers.map((worker) => worker.terminate()));
  }

  private send(): void {
    if (this.queue.length === 0 || this.broken) return;
    const worker = this.idle.pop();
    if (!worker) return;
    const jobs = this.queue;
    this.queue = [];
    let size = 0;
    for (const job of jobs) size += 4 + job.msg.length + SIG_BYTES + POINT_BYTES;
    const buffer = new ArrayBuffer(size);
    const bytes = new Uint8Array(buffer);
    const view = new DataView(buffer);
    let offset = 0;
    for (const job of jobs) {
      view.setUint32(offset, job.msg.length);
      offset += 4;
      bytes.set(job.msg, offset);
      offset += job.msg.length;
      bytes.set(job.sig, offset);
      offset += SIG_BYTES;
      bytes.set(job.point, offset);
      offset += POINT_BYTES;
    }
    const id = this.nextId++;
    this.inFlight.set(id, { worker, jobs });
    this.stats.batches += 1;
    this.stats.jobs += jobs.length;
    worker.postMessage({ id, buffer, count: jobs.length }, [buffer]);
  }

  private settle(id: number, results: Uint8Array): void {
    const batch = this.inFlight.get(id);
    if (!batch) return;
    this.inFlight.delete(id);
    this.idle.push(batch.worker);
    // What queued up meanwhile goes at once, as the next batch.
    this.send();
    batch.jobs.forEach((job, index) => job.resolve(results[index] === 1));
  }

  private fail(error: Error): void {
    this.broken ??= error;
    const jobs = [...this.queue, ...[...this.inFlight.values()].flatMap((batch) => batch.jobs)];
    this.queue = [];
    this.inFlight.clear();
    for (const job of jobs) job.reject(error);
  }
}
