import { Inject, Injectable } from '@nestjs/common';
import { AtpAgent } from '@atproto/api';
import type { AppConfig } from '#lib/config';
import type { Curation } from '#lib/curation';
import { putLabelerRecord } from '#lib/labels';
import { boundedFetch } from '#lib/network';
import { APP_CONFIG, LOGGER, Metrics, type Logger } from '#lib/platform';
import { RecordsInStep } from './records-in-step.js';

/** A request to a PDS that takes longer is abandoned (and tried again later). */
export const PDS_TIMEOUT_MS = 10_000;
/** The most a PDS answer may hold: a page of records or a service record with hundreds of communities is far below. */
export const PDS_ANSWER_MAX_BYTES = 4 * 1024 * 1024;

/**
 * Keeps the labeler account's `app.bsky.labeler.service` record declaring the label values of the
 * communities in force, with their names (see `putLabelerRecord`), when `LABELER_APP_PASSWORD` is
 * set: the Bluesky app shows only the values a labeler declares, so without it a community added
 * in the console would be labelled where nobody sees it. The ranker that emits the labels calls it
 * after each run; it writes only when the communities changed since the record was last in step.
 */
@Injectable()
export class LabelerRecordKeeper extends RecordsInStep {
  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig, @Inject(LOGGER) logger: Logger, metrics: Metrics) {
    super('labeler', logger.child({ component: 'labeler' }), metrics);
  }

  get enabled(): boolean {
    return this.config.labeler.did !== undefined && this.config.labeler.appPassword !== undefined;
  }

  keepUpWith(curation: Curation, nowMs = Date.now()): void {
    if (!this.enabled) return;
    const communities = [...curation.communities.values()].map(({ id, name }) => ({ id, name }));
    this.keepUp(JSON.stringify(communities), async () => {
      const { did, appPassword } = this.config.labeler;
      const agent = new AtpAgent({ service: this.config.publishing.service, fetch: boundedFetch(PDS_TIMEOUT_MS, PDS_ANSWER_MAX_BYTES) });
      await agent.login({ identifier: did!, password: appPassword! });
      if (agent.session?.did !== did) throw new Error(`LABELER_APP_PASSWORD logs in as ${agent.session?.did}, not LABELER_DID ${did}`);
      const result = await putLabelerRecord(agent, communities);
      if (result.written) this.log.info({ record: result.uri, labelValues: result.labelValues.length }, 'labeler record updated: it declares the label values of the communities in force');
    }, nowMs);
  }
}
