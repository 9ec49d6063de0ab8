import { readFile } from 'node:fs/promises';
import type { AtpAgent } from '@atproto/api';
import type { AppConfig } from '#lib/config';
import type { Curation, FeedDefinition } from '#lib/curation';
import { Nsid } from '#lib/domain';
import { existingRecord, loginAs } from './records.js';

export class PublishingError extends Error {
  override name = 'PublishingError';
}

export interface PublishResult {
  uri: string;
  action: 'created' | 'updated' | 'deleted' | 'absent';
}

/** The fields of a feed's record that say what it is: a record that differs in one is written again. */
const DESCRIBING = ['did', 'displayName', 'description', 'acceptsInteractions', 'contentMode'] as const;

/**
 * Creates, updates and deletes the `app.bsky.feed.generator` records of the feeds of a curation
 * (the curation in force, see `readCurationInForce`) in the publisher's repository, so that
 * Bluesky clients can find them. The record key is the feed's short name; `did` is the feed
 * generator's service DID, as `describeFeedGenerator` says. `npm run feed:publish` and
 * `feed:unpublish` use it, and with `FEEDS_KEEP_PUBLISHED` the ranker keeps the records in step.
 */
export class FeedPublisher {
  private constructor(
    private readonly agent: AtpAgent,
    private readonly config: AppConfig,
  ) {}

  static async login(config: AppConfig, fetch?: typeof globalThis.fetch): Promise<FeedPublisher> {
    const { service, identifier, appPassword } = config.publishing;
    if (!identifier || !appPassword) throw new PublishingError('set BSKY_IDENTIFIER and BSKY_APP_PASSWORD to publish feeds');
    const agent = await loginAs(service, identifier, appPassword, { did: config.feedGenerator.publisherDid, what: 'FEEDGEN_PUBLISHER_DID', ...(fetch && { fetch }) });
    return new FeedPublisher(agent, config);
  }

  async publishAll(curation: Curation): Promise<PublishResult[]> {
    const avatar = await this.uploadAvatar();
    const results: PublishResult[] = [];
    for (const feed of curation.feeds.values()) results.push(await this.publish(feed, avatar));
    return results;
  }

  /**
   * Brings the records in step with `curation`: a feed without a record, or whose record says
   * something else (name, description, service), is written; a record of ours (its `did` is this
   * service) whose feed left the curation is deleted; the rest are left as they are. Returns what
   * it changed.
   */
  async keepInStep(curation: Curation): Promise<PublishResult[]> {
    const records = new Map<string, Record<string, unknown>>();
    for (let cursor: string | undefined, more = true; more; ) {
      const { data } = await this.agent.com.atproto.repo.listRecords({ repo: this.repo, collection: Nsid.generator, limit: 100, cursor });
      for (const record of data.records) records.set(record.uri.slice(record.uri.lastIndexOf('/') + 1), record.value);
      more = data.records.length > 0 && data.cursor !== undefined && data.cursor !== cursor;
      cursor = data.cursor;
    }
    const results: PublishResult[] = [];
    let avatar: Promise<unknown> | undefined;
    for (const feed of curation.feeds.values()) {
      const existing = records.get(feed.shortname);
      const wanted = this.recordOf(feed, existing, undefined);
      const differs = !existing || DESCRIBING.some((field) => existing[field] !== wanted[field]);
      const lacksAvatar = existing !== undefined && existing.avatar === undefined && this.config.publishing.avatarFile !== undefined;
      if (!differs && !lacksAvatar) continue;
      avatar ??= this.uploadAvatar();
      results.push(await this.publish(feed, await avatar, existing));
    }
    for (const [rkey, value] of records) {
      if (value.did !== this.config.feedGenerator.serviceDid || curation.feeds.has(rkey)) continue;
      await this.agent.com.atproto.repo.deleteRecord({ repo: this.repo, collection: Nsid.generator, rkey });
      results.push({ uri: this.uriOf(rkey), action: 'deleted' });
    }
    return results;
  }

  async unpublishAll(curation: Curation): Promise<PublishResult[]> {
    const results: PublishResult[] = [];
    for (const feed of curation.feeds.values()) {
      const existing = await existingRecord(this.agent, Nsid.generator, feed.shortname);
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

  /** `existing`: the record as it stands, when the caller has read it (`null`: read it here). */
  private async publish(feed: FeedDefinition, avatar: unknown, existing: Record<string, unknown> | undefined | null = null): Promise<PublishResult> {
    if (existing === null) existing = await existingRecord(this.agent, Nsid.generator, feed.shortname);
    const record = this.recordOf(feed, existing, avatar);
    await this.agent.com.atproto.repo.putRecord({ repo: this.repo, collection: Nsid.generator, rkey: feed.shortname, record });
    return { uri: this.uriOf(feed.shortname), action: existing ? 'updated' : 'created' };
  }

  /** The record of `feed`: a new avatar if one was uploaded, else the one it had; its first `createdAt`. */
  private recordOf(feed: FeedDefinition, existing: Record<string, unknown> | undefined, avatar: unknown): Record<string, unknown> {
    const kept = avatar ?? existing?.avatar;
    return {
      $type: Nsid.generator,
      did: this.config.feedGenerator.serviceDid,
      displayName: feed.displayName,
      description: feed.description || undefined,
      acceptsInteractions: true,
      contentMode: 'app.bsky.feed.defs#contentModeUnspecified',
      ...(kept ? { avatar: kept } : {}),
      createdAt: existing?.createdAt ?? new Date().toISOString(),
    };
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
