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

  /** The feed named `shortname`; throws `FeedNotFoundError` when none is. */
  named(shortname: string): FeedDefinition {
    const feed = this.current.feeds.get(shortname);
    if (!feed) throw new FeedNotFoundError(`no feed named "${shortname}"`);
    return feed;
  }

  /** The conversation (a `deliberation` feed) named `name`; throws `FeedNotFoundError` when none is. */
  conversation(name: string): FeedDefinition {
    const missing = this.missingConversation(name);
    if (missing) throw missing;
    return this.current.feeds.get(name)!;
  }

  /** Why no conversation is named `name`, or undefined when one is. */
  missingConversation(name: string): FeedNotFoundError | undefined {
    return this.current.feeds.get(name)?.deliberation ? undefined : new FeedNotFoundError(`no conversation named "${name}"`);
  }

  /** Why no digest is named `name`, or undefined when one is. */
  missingDigest(name: string): FeedNotFoundError | undefined {
    return this.current.feeds.get(name)?.digest ? undefined : new FeedNotFoundError(`no digest named "${name}"`);
  }

  feeds(): FeedDefinition[] {
    return [...this.current.feeds.values()];
  }

  community(id: string): CommunityDefinition | undefined {
    return this.current.communities.get(id);
  }
}
