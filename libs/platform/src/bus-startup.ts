import { setTimeout as sleep } from 'node:timers/promises';
import { partsOf, type AppConfig } from '#lib/config';
import type { MessageBus } from '#lib/contracts';
import type { Logger } from './logger.js';

/** Pause between whole attempts of a step taken in the background (each attempt waits for the bus itself first). */
const BACKGROUND_RETRY_MS = 5_000;

/**
 * The steps a process takes with the message bus as it starts (creating topics, subscribing, the
 * control plane), awaited before it listens, or, for a process that only serves feeds and found the
 * bus away, taken in the background.
 *
 * @NOTE A feed generator serves from ClickHouse: the bus carries viewer feedback between replicas
 * and curation announcements (each process also polls the curation). Waiting for Kafka at start
 * made a feed generator restarted during a Kafka outage (a deploy, a node drained) fail its start
 * after the bus's start timeout and restart again, so a pipeline outage became a feeds outage.
 * Every other part needs the bus to do anything, and waits for it (then fails its start) as before.
 */
export class BusStartup {
  /** The bus could not be reached at start and this process serves without it: steps go on in the background. */
  private away = false;
  private readonly stopping = new AbortController();
  private readonly background = new Set<Promise<void>>();
  private readonly log: Logger;

  constructor(
    private readonly config: AppConfig,
    logger: Logger,
  ) {
    this.log = logger.child({ component: 'bus-startup' });
  }

  /** Decides, once, whether this process waits for `bus`: only a serving process on an unreachable Kafka does not. */
  async check(bus: MessageBus): Promise<void> {
    const parts = partsOf(this.config);
    if (this.config.bus.kind !== 'kafka' || parts.size !== 1 || !parts.has('feed-generator')) return;
    if (await bus.ping()) return;
    this.away = true;
    this.log.warn(
      {},
      'the message bus is unreachable: serving feeds without it; viewer feedback between replicas and curation announcements resume once it is back (the curation is polled meanwhile)',
    );
  }

  /**
   * Takes a start step: awaited, or with the bus away, retried in the background until it succeeds
   * or the process stops (`once`: tried once in the background, a failure logged).
   */
  async step(what: string, attempt: () => Promise<void>, options: { once?: boolean } = {}): Promise<void> {
    if (!this.away) return attempt();
    const running = this.retry(what, attempt, options.once ?? false);
    this.background.add(running);
    void running.finally(() => this.background.delete(running));
  }

  /** Ends the background steps: what is under way is abandoned by the bus's own close. */
  async stop(): Promise<void> {
    this.stopping.abort();
    await Promise.allSettled([...this.background]);
  }

  private async retry(what: string, attempt: () => Promise<void>, once: boolean): Promise<void> {
    const stopped = this.stopping.signal;
    for (;;) {
      try {
        await attempt();
        if (!stopped.aborted) this.log.info({ step: what }, 'message bus start step done');
        return;
      } catch (error) {
        if (stopped.aborted) return;
        this.log.warn({ step: what, err: (error as Error).message }, once ? 'message bus start step failed' : 'message bus start step failed; trying again');
        if (once) return;
        await sleep(BACKGROUND_RETRY_MS, undefined, { signal: stopped }).catch(() => undefined);
        if (stopped.aborted) return;
      }
    }
  }
}
