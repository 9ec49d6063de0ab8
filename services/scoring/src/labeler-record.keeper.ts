import { Inject, Injectable } from '@nestjs/common';
import type { AppConfig } from '#lib/config';
import { labelledCommunities, type Curation } from '#lib/curation';
import { loginAs, pdsFetch, putLabelerRecord } from '#lib/network';
import { APP_CONFIG, LOGGER, Metrics, type Logger } from '#lib/platform';
import { RecordsInStep } from './records-in-step.js';

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
    const communities = labelledCommunities(curation).map(({ id, name }) => ({ id, name }));
    this.keepUp(JSON.stringify(communities), async () => {
      const { did, appPassword } = this.config.labeler;
      const agent = await loginAs(this.config.publishing.service, did!, appPassword!, { did, what: 'LABELER_DID', fetch: pdsFetch() });
      const result = await putLabelerRecord(agent, communities);
      if (result.written) this.log.info({ record: result.uri, labelValues: result.labelValues.length }, 'labeler record updated: it declares the label values of the communities in force');
    }, nowMs);
  }
}
