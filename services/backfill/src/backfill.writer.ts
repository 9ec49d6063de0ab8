import { backoffMs, retry } from '@atproto/common';
import { isRowError, type BackfillCheckpointRepository, type EventRepository, type NoteRepository } from '#lib/clickhouse';
import type { PipelineEventV1 } from '#lib/contracts';

/** Events written at once: ClickHouse wants few large inserts. */
const FLUSH_EVENTS = 10_000;
/** Accounts whose records wait at most for a write (their checkpoints are written right after). */
const FLUSH_ACCOUNTS = 50;
/** Tries again of a write that failed on ClickHouse's side (away, restarting, overloaded). */
const WRITE_RETRIES = 5;
/** Wait before the first try again; it doubles with each further one (with jitter): about 1, 2, 4, 8, 16 s. */
const WRITE_RETRY_BASE_MS = 1_000;
const WRITE_RETRY_MAX_MS = 30_000;

/** An account whose records are all written, from `sinceUs` on. */
export interface BackfillCheckpoint {
  did: string;
  sinceUs: number;
  records: number;
}

/** A write that failed after every try; the run that made it stops, and nothing after it is checkpointed. */
export class BackfillWriteError extends Error {
  override name = 'BackfillWriteError';
}

/**
 * The writes of one backfill run: events in inserts of up to `FLUSH_EVENTS`, and each account's
 * checkpoint only after every event queued before it. One write at a time, each tried again with
 * backoff while ClickHouse fails on its side (not when it refuses the rows: `isRowError`).
 *
 * @NOTE Once a write has failed for good, every later flush fails with it: an account's events
 * may span several writes, and a checkpoint written after a lost one would skip records for ever.
 * The accounts not checkpointed are read again by the next run.
 */
export class BackfillWriter {
  private events: PipelineEventV1[] = [];
  private done: BackfillCheckpoint[] = [];
  private created: { did: string; createdUs: number }[] = [];
  private flushing: Promise<void> = Promise.resolve();
  private failure?: BackfillWriteError;

  constructor(
    private readonly store: {
      events: Pick<EventRepository, 'write'>;
      checkpoints: Pick<BackfillCheckpointRepository, 'markDone'>;
      accounts: Pick<NoteRepository, 'recordCreatedAt'>;
    },
  ) {}

  /** Queues `events`; writes once enough wait. */
  async add(events: readonly PipelineEventV1[]): Promise<void> {
    for (const event of events) this.events.push(event);
    if (this.events.length >= FLUSH_EVENTS) await this.flush();
  }

  /** Queues an account's checkpoint, written after every event queued so far. */
  async accountDone(checkpoint: BackfillCheckpoint): Promise<void> {
    this.done.push(checkpoint);
    if (this.done.length >= FLUSH_ACCOUNTS) await this.flush();
  }

  /** Queues an account's creation time (by its PLC directory), written before any checkpoint queued after it; writes once enough wait. */
  async accountCreated(account: { did: string; createdUs: number }): Promise<void> {
    this.created.push(account);
    if (this.created.length >= FLUSH_ACCOUNTS) await this.flush();
  }

  /** Writes what waits: the events and the accounts' creation times, then the checkpoints. */
  flush(): Promise<void> {
    const next = this.flushing.then(async () => {
      if (this.failure) throw this.failure;
      const { events, done, created } = this;
      this.events = [];
      this.done = [];
      this.created = [];
      try {
        for (let i = 0; i < events.length; i += FLUSH_EVENTS) {
          const batch = events.slice(i, i + FLUSH_EVENTS);
          await retrying(() => this.store.events.write(batch));
        }
        for (let i = 0; i < created.length; i += FLUSH_EVENTS) await retrying(() => this.store.accounts.recordCreatedAt(created.slice(i, i + FLUSH_EVENTS)));
        await retrying(() => this.store.checkpoints.markDone(done));
      } catch (error) {
        this.failure = new BackfillWriteError(`backfill write failed: ${(error as Error).message}`, { cause: error });
        throw this.failure;
      }
    });
    this.flushing = next.catch(() => undefined);
    return next;
  }
}

function retrying(write: () => Promise<void>): Promise<void> {
  return retry(write, {
    maxRetries: WRITE_RETRIES,
    retryable: (error) => !isRowError(error),
    getWaitMs: (retries) => backoffMs(retries, WRITE_RETRY_BASE_MS, WRITE_RETRY_MAX_MS),
  });
}
