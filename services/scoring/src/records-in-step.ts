import type { Logger, Metrics } from '#lib/platform';

/** After a failed write, the next waits this long, doubling with each failure in a row up to the most. */
const RETRY_FIRST_MS = 60_000;
const RETRY_MOST_MS = 3_600_000;

/** Which of our records on the network: the labeler's service record, or the feeds' generator records. */
export type PublishedRecords = 'labeler' | 'feeds';

/**
 * Keeps records of ours on the network (in an account's repository, on its PDS) in step with what
 * is in force here: `keepUp` starts a write when what is wanted differs from what the records were
 * last brought to, unless a write is under way or waiting to be retried.
 *
 * @NOTE Never in a run's way: the write goes on beside the runs, one at a time, and one that fails
 * (the PDS away, a refused password) is tried again after a wait that doubles from 1 min to 1 h.
 * `cg_published_records_stale{records}` is 1 from a failure until a write succeeds.
 */
export abstract class RecordsInStep {
  /** What the records were last found or made to say. */
  private inStep?: string;
  private writing?: Promise<void>;
  private failures = 0;
  private retryAtMs = 0;

  protected constructor(
    private readonly records: PublishedRecords,
    protected readonly log: Logger,
    private readonly metrics: Metrics,
  ) {}

  /** The write under way, if any, once it has ended (at shutdown, and for the tests). */
  async settled(): Promise<void> {
    await this.writing;
  }

  /** `wanted` is what the records should say, as a string; `write` makes them say it. */
  protected keepUp(wanted: string, write: () => Promise<void>, nowMs: number): void {
    if (this.writing || wanted === this.inStep || nowMs < this.retryAtMs) return;
    this.writing = this.attempt(wanted, write).finally(() => (this.writing = undefined));
  }

  private async attempt(wanted: string, write: () => Promise<void>): Promise<void> {
    try {
      await write();
      this.inStep = wanted;
      this.failures = 0;
      this.metrics.publishedRecordsStale.set({ records: this.records }, 0);
    } catch (error) {
      this.failures += 1;
      const waitMs = Math.min(RETRY_MOST_MS, RETRY_FIRST_MS * 2 ** (this.failures - 1));
      this.retryAtMs = Date.now() + waitMs;
      this.metrics.publishedRecordsStale.set({ records: this.records }, 1);
      this.log.warn({ records: this.records, err: (error as Error).message, retryInSeconds: waitMs / 1000 }, 'published records not brought in step; trying again after a wait');
    }
  }
}
