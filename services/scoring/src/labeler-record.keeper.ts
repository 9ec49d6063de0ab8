import { Inject, Injectable } from '@nestjs/common';
import { AtpAgent } from '@atproto/api';
import type { AppConfig } from '#lib/config';
import type { Curation } from '#lib/curation';
import { putLabelerRecord, type CommunityNaming } from '#lib/labels';
import { boundedFetch } from '#lib/network';
import { APP_CONFIG, LOGGER, Metrics, type Logger } from '#lib/platform';

/** A request to the labeler account's PDS that takes longer is abandoned (and tried again later). */
const PDS_TIMEOUT_MS = 10_000;
/** The most a PDS answer may hold: a service record with hundreds of communities is far below. */
const PDS_ANSWER_MAX_BYTES = 4 * 1024 * 1024;
/** After a failed write, the next waits this long, doubling with each failure in a row up to the most. */
const RETRY_FIRST_MS = 60_000;
const RETRY_MOST_MS = 3_600_000;

/**
 * Keeps the labeler account's `app.bsky.labeler.service` record declaring the label values of the
 * communities in force, with their names (see `putLabelerRecord`), when `LABELER_APP_PASSWORD` is
 * set: the Bluesky app shows only the values a labeler declares, so without it a community added
 * in the console would be labelled where nobody sees it. The ranker that emits the labels calls it
 * after each run; it writes only when the communities changed since the record was last in step.
 *
 * @NOTE Never in a run's way: the write goes on beside the runs, one at a time, bounded in time,
 * and a PDS that is away or refuses the password is tried again after a wait that doubles (1 min
 * to 1 h). `cg_labeler_record_stale` is 1 while the record may declare other values.
 */
@Injectable()
export class LabelerRecordKeeper {
  private readonly log: Logger;
  /** The communities (ids and names) the record was last found or made to declare. */
  private inStep?: string;
  private writing?: Promise<void>;
  private failures = 0;
  private retryAtMs = 0;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(LOGGER) logger: Logger,
    private readonly metrics: Metrics,
  ) {
    this.log = logger.child({ component: 'labeler' });
  }

  get enabled(): boolean {
    return this.config.labeler.did !== undefined && this.config.labeler.appPassword !== undefined;
  }

  /** Starts bringing the record in step with `curation`'s communities, unless it is, or a write is under way or waiting to be retried. */
  keepUpWith(curation: Curation, nowMs = Date.now()): void {
    if (!this.enabled || this.writing) return;
    const communities = [...curation.communities.values()].map(({ id, name }) => ({ id, name }));
    const wanted = JSON.stringify(communities);
    if (wanted === this.inStep || nowMs < this.retryAtMs) return;
    this.writing = this.write(communities, wanted).finally(() => (this.writing = undefined));
  }

  /** The write under way, if any, once it has ended (at shutdown, and for the tests). */
  async settled(): Promise<void> {
    await this.writing;
  }

  private async write(communities: CommunityNaming[], wanted: string): Promise<void> {
    const { did, appPassword } = this.config.labeler;
    try {
      const agent = new AtpAgent({ service: this.config.publishing.service, fetch: boundedFetch(PDS_TIMEOUT_MS, PDS_ANSWER_MAX_BYTES) });
      await agent.login({ identifier: did!, password: appPassword! });
      if (agent.session?.did !== did) throw new Error(`the password logs in as ${agent.session?.did}, not LABELER_DID ${did}`);
      const result = await putLabelerRecord(agent, communities);
      this.inStep = wanted;
      this.failures = 0;
      this.metrics.labelerRecordStale.set(0);
      if (result.written) this.log.info({ record: result.uri, labelValues: result.labelValues.length }, 'labeler record updated: it declares the label values of the communities in force');
    } catch (error) {
      this.failures += 1;
      const waitMs = Math.min(RETRY_MOST_MS, RETRY_FIRST_MS * 2 ** (this.failures - 1));
      this.retryAtMs = Date.now() + waitMs;
      this.metrics.labelerRecordStale.set(1);
      this.log.warn(
        { err: (error as Error).message, retryInSeconds: waitMs / 1000 },
        'labeler record not updated: the Bluesky app shows only the label values it declares',
      );
    }
  }
}
