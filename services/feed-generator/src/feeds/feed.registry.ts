import { Inject, Injectable } from '@nestjs/common';
import type { AppConfig } from '#lib/config';
import type { CommunityDefinition, Curation, FeedDefinition } from '#lib/curation';
import { atUri, Nsid, parseAtUri } from '#lib/domain';
import { APP_CONFIG, CurationService } from '#lib/platform';

/**
 * A feed or conversation addressed by name on the project's own routes (`/api/feeds/<name>/…`,
 * `/conversations/<name>`) that is not defined: 404. getFeedSkeleton answers its lexicon's
 * `UnknownFeed` instead.
 */
export class FeedNotFoundError extends Error {
  override name = 'FeedNotFoundError';
}

/** What the project's own routes address by name: any feed, a conversation or a digest. */
export type FeedKind = 'feed' | 'conversation' | 'digest';

/**
 * The feeds and communities curators defined, addressed by feed AT-URI: the curation in force in
 * this process (`CurationService`), which follows every change without restart, whichever
 * replica or curator file it came from.
 */
@Injectable()
export class FeedRegistry {
  /** Feeds found by `byUri`, for the curation they were found in: every request names its feed. */
  private found: { curation: Curation; feeds: Map<string, FeedDefinition> } | undefined;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    readonly curation: CurationService,
  ) {}

  /** Changes each time the definitions change; caches keyed on curation compare it. */
  get version(): number {
    return this.curation.generation;
  }

  /** The last rejected change, for operators and the console. */
  get lastProblem(): string | undefined {
    return this.curation.lastProblem;
  }

  get current(): Curation {
    return this.curation.current;
  }

  uriOf(feed: FeedDefinition): string {
    return atUri(this.config.feedGenerator.publisherDid, Nsid.generator, feed.shortname);
  }

  /** The feed an AT-URI names, if it is one of ours: our publisher, the generator collection, a known key. */
  byUri(uri: string): FeedDefinition | undefined {
    const curation = this.current;
    if (this.found?.curation !== curation) this.found = { curation, feeds: new Map() };
    // @NOTE Only feeds found are remembered (as many as the curation defines): URIs naming nothing are parsed each time.
    const known = this.found.feeds.get(uri);
    if (known !== undefined) return known;
    const parts = parseAtUri(uri);
    if (!parts || parts.did !== this.config.feedGenerator.publisherDid || parts.collection !== Nsid.generator) return undefined;
    const feed = curation.feeds.get(parts.rkey);
    if (feed !== undefined) this.found.feeds.set(uri, feed);
    return feed;
  }

  /** The feed named `name` (a conversation: a `deliberation` feed; a digest: a `digest` one); throws `FeedNotFoundError` when none is. */
  named(name: string, kind: FeedKind = 'feed'): FeedDefinition {
    const missing = this.missing(name, kind);
    if (missing) throw missing;
    return this.current.feeds.get(name)!;
  }

  /** Why no feed of `kind` is named `name`, or undefined when one is. */
  missing(name: string, kind: FeedKind = 'feed'): FeedNotFoundError | undefined {
    const feed = this.current.feeds.get(name);
    const found = kind === 'feed' ? feed : kind === 'conversation' ? feed?.deliberation : feed?.digest;
    return found ? undefined : new FeedNotFoundError(`no ${kind} named "${name}"`);
  }

  feeds(): FeedDefinition[] {
    return [...this.current.feeds.values()];
  }

  community(id: string): CommunityDefinition | undefined {
    return this.current.communities.get(id);
  }
}
