import { readFile } from 'node:fs/promises';
import { AtpAgent } from '@atproto/api';
import type { AppConfig } from '#lib/config';
import type { Curation, FeedDefinition } from '#lib/curation';
import { Nsid } from '#lib/domain';

export class PublishingError extends Error {
  override name = 'PublishingError';
}

export interface PublishResult {
  uri: string;
  action: 'created' | 'updated' | 'deleted' | 'absent';
}

/**
 * Creates, updates and deletes the `app.bsky.feed.generator` records of the feeds of a curation
 * (the curation in force, see `readCurationInForce`) in the publisher's repository, so that
 * Bluesky clients can find them. The record key is the feed's short name; `did` is the feed
 * generator's service DID, as `describeFeedGenerator` says.
 */
export class FeedPublisher {
  private constructor(
    private readonly agent: AtpAgent,
    private readonly config: AppConfig,
  ) {}

  static async login(config: AppConfig): Promise<FeedPublisher> {
    const { service, identifier, appPassword } = config.publishing;
    if (!identifier || !appPassword) throw new PublishingError('set BSKY_IDENTIFIER and BSKY_APP_PASSWORD to publish feeds');
    const agent = new AtpAgent({ service });
    await agent.login({ identifier, password: appPassword });
    const did = agent.session!.did;
    if (did !== config.feedGenerator.publisherDid) {
      throw new PublishingError(
        `the account ${identifier} is ${did}, but FEEDGEN_PUBLISHER_DID is ${config.feedGenerator.publisherDid}: ` +
          'the feed generator would not recognise the published feeds',
      );
    }
    return new FeedPublisher(agent, config);
  }

  async publishAll(curation: Curation): Promise<PublishResult[]> {
    const avatar = await this.uploadAvatar();
    const results: PublishResult[] = [];
    for (const feed of curation.feeds.values()) results.push(await this.publish(feed, avatar));
    return results;
  }

  async unpublishAll(curation: Curation): Promise<PublishResult[]> {
    const results: PublishResult[] = [];
    for (const feed of curation.feeds.values()) {
      const existing = await this.existing(feed.shortname);
      if (existing) {
        await this.agent.com.atproto.repo.deleteRecord({ repo: this.repo, collection: Nsid.generator, rkey: feed.shortname });
      }
      results.push({ uri: this.uriOf(feed.shortname), action: existing ? 'deleted' : 'absent' });
    }
    return results;
  }

  private get repo(): string {
    return this.agent.session!.did;
  }

  private uriOf(shortname: string): string {
    return `at://${this.repo}/${Nsid.generator}/${shortname}`;
  }

  private async publish(feed: FeedDefinition, avatar: unknown): Promise<PublishResult> {
    const existing = await this.existing(feed.shortname);
    const record = {
      $type: Nsid.generator,
      did: this.config.feedGenerator.serviceDid,
      displayName: feed.displayName,
      description: feed.description || undefined,
      acceptsInteractions: true,
      contentMode: 'app.bsky.feed.defs#contentModeUnspecified',
      ...(avatar ? { avatar } : {}),
      createdAt: (existing?.createdAt as string | undefined) ?? new Date().toISOString(),
    };
    await this.agent.com.atproto.repo.putRecord({ repo: this.repo, collection: Nsid.generator, rkey: feed.shortname, record });
    return { uri: this.uriOf(feed.shortname), action: existing ? 'updated' : 'created' };
  }

  private async existing(rkey: string): Promise<Record<string, unknown> | undefined> {
    try {
      const { data } = await this.agent.com.atproto.repo.getRecord({ repo: this.repo, collection: Nsid.generator, rkey });
      return data.value;
    } catch (error) {
      if ((error as { status?: number }).status === 400 || (error as { error?: string }).error === 'RecordNotFound') return undefined;
      throw error;
    }
  }

  private async uploadAvatar(): Promise<unknown> {
    const file = this.config.publishing.avatarFile;
    if (!file) return undefined;
    const bytes = await readFile(file);
    const encoding = file.toLowerCase().endsWith('.png') ? 'image/png' : 'image/jpeg';
    const { data } = await this.agent.uploadBlob(bytes, { encoding });
    return data.blob;
  }
}
