import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import type { AppConfig } from '#lib/config';
import { CurationStore, type CommunityDefinition, type Curation, type FeedDefinition } from '#lib/curation';
import { atUri, Nsid, parseAtUri } from '#lib/domain';
import { APP_CONFIG, LOGGER, Metrics, type Logger } from '#lib/platform';

/** How often the curator file is checked for changes. */
const WATCH_INTERVAL_MS = 1_000;

/**
 * The feeds and communities curators defined, addressed by feed AT-URI. Follows the curator file
 * without restart: a valid change takes effect within a second; a change with a mistake is
 * logged with its file, line and field, and the previous definitions stay in force.
 */
@Injectable()
export class FeedRegistry implements OnModuleInit, OnModuleDestroy {
  readonly store: CurationStore;
  private curation: Curation = { communities: new Map(), feeds: new Map(), funds: new Map() };
  private readonly log: Logger;
  /** Changes each time the definitions change; caches keyed on curation compare it. */
  version = 0;
  /** The last rejected change, for operators and the console. */
  lastProblem: string | undefined;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(LOGGER) logger: Logger,
    private readonly metrics: Metrics,
  ) {
    this.log = logger.child({ component: 'curation' });
    this.store = new CurationStore(config.feedGenerator.feedsFile);
  }

  async onModuleInit(): Promise<void> {
    this.replace((await this.store.load()).curation);
    this.store.watch(
      WATCH_INTERVAL_MS,
      (snapshot) => this.replace(snapshot.curation),
      (error) => {
        this.lastProblem = error.message;
        this.metrics.curationInvalid.set(1);
        this.log.error({ problems: error.problems }, 'curator file rejected; the previous definitions stay in force');
      },
    );
  }

  onModuleDestroy(): void {
    this.store.stop();
  }

  replace(curation: Curation): void {
    this.curation = curation;
    this.version += 1;
    this.lastProblem = undefined;
    this.metrics.curationInvalid.set(0);
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
