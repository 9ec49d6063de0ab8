import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import type { AppConfig } from '#lib/config';
import { loadCurationFile, type CommunityDefinition, type Curation, type FeedDefinition } from '#lib/curation';
import { atUri, Nsid, parseAtUri } from '#lib/domain';
import { APP_CONFIG, LOGGER, type Logger } from '#lib/platform';

/** The feeds and communities curators defined, addressed by feed AT-URI. */
@Injectable()
export class FeedRegistry implements OnModuleInit {
  private curation: Curation = { communities: new Map(), feeds: new Map() };
  private readonly log: Logger;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(LOGGER) logger: Logger,
  ) {
    this.log = logger.child({ component: 'curation' });
  }

  async onModuleInit(): Promise<void> {
    this.replace(await loadCurationFile(this.config.feedGenerator.feedsFile));
  }

  replace(curation: Curation): void {
    this.curation = curation;
    this.log.info(
      { file: this.config.feedGenerator.feedsFile, feeds: [...curation.feeds.keys()], communities: [...curation.communities.keys()] },
      'curation loaded',
    );
  }

  get current(): Curation {
    return this.curation;
  }

  uriOf(feed: FeedDefinition): string {
    return atUri(this.config.feedGenerator.publisherDid, Nsid.generator, feed.shortname);
  }

  /** The feed an AT-URI names, if it is one of ours: our publisher, the generator collection, a known key. */
  byUri(uri: string): FeedDefinition | undefined {
    const parts = parseAtUri(uri);
    if (!parts || parts.did !== this.config.feedGenerator.publisherDid || parts.collection !== Nsid.generator) return undefined;
    return this.curation.feeds.get(parts.rkey);
  }

  feeds(): FeedDefinition[] {
    return [...this.curation.feeds.values()];
  }

  community(id: string): CommunityDefinition | undefined {
    return this.curation.communities.get(id);
  }
}
