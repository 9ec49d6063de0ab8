import { Inject, Injectable } from '@nestjs/common';
import type { AppConfig } from '#lib/config';
import type { Curation } from '#lib/curation';
import { FeedPublisher, pdsFetch } from '#lib/network';
import { APP_CONFIG, LOGGER, Metrics, type Logger } from '#lib/platform';
import { RecordsInStep } from './records-in-step.js';

/**
 * With `FEEDS_KEEP_PUBLISHED`, keeps the publisher's `app.bsky.feed.generator` records in step with
 * the feeds in force (see `FeedPublisher.keepInStep`): a feed a curator adds in the console can be
 * found and followed in the Bluesky app without `npm run feed:publish`, a renamed one says its new
 * name, and one removed is no longer offered. The ranker that does the shared work calls it after
 * each run; it writes only when the feeds changed since the records were last in step.
 */
@Injectable()
export class FeedRecordsKeeper extends RecordsInStep {
  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig, @Inject(LOGGER) logger: Logger, metrics: Metrics) {
    super('feeds', logger.child({ component: 'publishing' }), metrics);
  }

  get enabled(): boolean {
    return this.config.publishing.keepPublished;
  }

  keepUpWith(curation: Curation, nowMs = Date.now()): void {
    if (!this.enabled) return;
    const feeds = [...curation.feeds.values()].map(({ shortname, displayName, description }) => [shortname, displayName, description]);
    this.keepUp(JSON.stringify(feeds), async () => {
      const publisher = await FeedPublisher.login(this.config, pdsFetch());
      for (const { uri, action } of await publisher.keepInStep(curation)) this.log.info({ uri, action }, 'feed record brought in step with the curation');
    }, nowMs);
  }
}
