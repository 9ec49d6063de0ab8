import pLimit, { type LimitFunction } from 'p-limit';
import { CommunityTooLargeError, type BackfillCheckpointRepository, type CommunityRepository, type EventRepository, type NoteRepository } from '#lib/clickhouse';
import type { PipelineEventV1 } from '#lib/contracts';
import type { CommunityDefinition, Curation } from '#lib/curation';
import { Nsid, parseAtUri } from '#lib/domain';
import type { VerifiedHandleResolver } from '#lib/identity';
import { RepoUnavailableError, type NetworkReader, type RepoRecord } from '#lib/network';
import type { BackfillProgress, Logger, ProgressReport } from '#lib/platform';
import { BackfillWriteError, BackfillWriter } from './backfill.writer.js';
import { createdAtMs, keyTimeMs, recordEvent } from './record-events.js';

/** Hashtag membership looks back this far (as the membership queries do). */
const HASHTAG_WINDOW_US = 7 * 24 * 3600 * 1_000_000;
/** The collections of an account's recent history. */
const HISTORY_COLLECTIONS = [Nsid.post, Nsid.like, Nsid.repost] as const;
/**
 * Records of one collection an account makes in an hour, at most, as far as the backfill reads:
 * a like every 36 seconds around the clock, more than a person makes by hand. An account's history
 * is read up to the window's worth of them per collection, newest first; a bot's older ones are left.
 */
const MAX_RECORDS_PER_HOUR = 100;
/**
 * Follows of a follower read at most to find its follow of a seed account (newest first): more
 * than most accounts have at all. A follower who followed the seed before that many others joins
 * when it follows again, as one beyond BACKFILL_FOLLOWERS_CAP does.
 */
const FOLLOW_SCAN_MAX_RECORDS = 5_000;
/**
 * List items read at most from a list owner's repository (the items of all its lists: a block list
 * of tens of thousands beside a curated one); past it a warning says so.
 */
const LIST_ITEMS_MAX_RECORDS = 100_000;
/** How far a record's key may run behind its `createdAt` (the writer's clock against the app's) before the history listing stops. */
const KEY_CLOCK_MARGIN_MS = 3_600_000;
/**
 * Accounts (or followers) a run has under way, per request the reader may have in flight (its
 * `concurrency`): the reader bounds requests per host and in total, and an account waiting for a
 * slow host's turn holds no request. With no more accounts under way than requests, those of one
 * slow PDS would hold every place, and the accounts of every other host would wait for it.
 */
export const ACCOUNTS_PER_REQUEST = 8;

export interface BackfillRunnerDeps {
  reader: Pick<NetworkReader, 'listRecords' | 'getRecord' | 'followers' | 'createdAtOf'>;
  /** The event tables, written as a backfill's (`BackfillEventRepository`). */
  events: Pick<EventRepository, 'write'>;
  /** Where the members' creation times go (a young account's discount in notes reads them). */
  accounts: Pick<NoteRepository, 'recordCreatedAt' | 'createdAt'>;
  checkpoints: Pick<BackfillCheckpointRepository, 'covered' | 'markDone'>;
  communities: Pick<CommunityRepository, 'members'>;
  handles: Pick<VerifiedHandleResolver, 'resolve'>;
  progress: BackfillProgress;
  log: Logger;
  /** Accounts backfilled at once. */
  concurrency: number;
  /** Followers read at most per seed account. */
  followersCap: number;
  /** Unix ms now (default `Date.now`): when a pause in asking the PLC directory ends. */
  now?: () => number;
}

/** What one run did. */
export interface BackfillSummary {
  communities: string[];
  members: number;
  membershipRecords: number;
  accounts: { done: number; skipped: number; failed: number };
  /** Community sources that could not be read: the service runs again after a wait. */
  sourcesFailed: number;
  /** Members backfilled before (skipped) whose creation time this run found. */
  dated: number;
  records: number;
  seconds: number;
}

/** A run stopped before its end (shutdown). */
export class BackfillStoppedError extends Error {
  override name = 'BackfillStoppedError';
}

/**
 * Creation-time lookups that may fail in a row (each after the reader's own retries) before a run
 * pauses asking the PLC directory, and for how long: while it is down, a run of a large community
 * would otherwise make a request and its retries for every member. The members passed over are
 * asked again at the next run.
 */
const DIRECTORY_FAILURES_TO_PAUSE = 20;
const DIRECTORY_PAUSE_MS = 10 * 60_000;

/**
 * Backfills communities from the network: first their membership (list items, starter packs,
 * follows of seed accounts), then, for every member, the posts, likes and reposts inside the
 * longest window of the feeds that use the community, and its contentVisibilityDeclaration.
 *
 * @NOTE Everything is written as the pipeline events live ingest makes (`recordEvent`), through
 * `EventRepository`: same tables, same keys, so a live event for the same record replaces the
 * backfilled row. Its inserts are labelled as a backfill's (`BackfillEventRepository`), so that a
 * record's own date never says when the store first saw its account. An account's checkpoint is written only after its records are: a restart
 * refetches at most the accounts whose records were not yet written, never finished ones.
 *
 * @NOTE Each run has writes of its own (`BackfillWriter`), and ends only once its every account
 * task has: when a write fails for good, the accounts not started are left, and the run rejects
 * after the ones under way, so nothing of it runs on beside the next.
 */
export class BackfillRunner {
  private stopped = false;
  /** Creation-time lookups that failed in a row, and until when (unix ms) the run asks the PLC directory no more. */
  private directory = { failures: 0, pausedUntil: 0 };

  constructor(private readonly deps: BackfillRunnerDeps) {}

  /** Makes a run in progress stop between accounts and pages of its sources (it throws `BackfillStoppedError`). */
  stop(): void {
    this.stopped = true;
  }

  private throwIfStopped(): void {
    if (this.stopped) throw new BackfillStoppedError('backfill stopped before its end');
  }

  /** Backfills `communityIds` (default: every community some feed uses). */
  async run(curation: Curation, options: { communityIds?: string[]; report?: ProgressReport; nowMs?: number } = {}): Promise<BackfillSummary> {
    const started = performance.now();
    const nowMs = options.nowMs ?? Date.now();
    this.directory = { failures: 0, pausedUntil: 0 };
    const ids = options.communityIds ?? [...new Set([...curation.feeds.values()].flatMap((feed) => feed.communities))];
    const communities = ids.map((id) => curation.communities.get(id)).filter((community): community is CommunityDefinition => community !== undefined);
    const { progress, log } = this.deps;
    const writer = new BackfillWriter(this.deps);
    progress.start(communities.map((community) => community.id));
    try {
      const membershipRecords = await this.membership(communities, nowMs, writer);
      progress.state.phase = 'history';
      const windowHours = Math.max(0, ...[...curation.feeds.values()].filter((feed) => feed.communities.some((id) => ids.includes(id))).map((feed) => feed.windowHours));
      const sinceUs = (nowMs - windowHours * 3_600_000) * 1000;
      const members = await this.members(communities, nowMs);
      progress.state.accounts.total = members.length;
      const covered = await this.deps.checkpoints.covered(members, sinceUs);
      progress.state.accounts.skipped = covered.size;
      const bar = options.report?.phase(`backfill ${ids.join(', ')}`, members.length, 'accounts');
      bar?.update(progress.settled);
      const limit = pLimit(this.deps.concurrency);
      await this.eachLimited(
        members.filter((did) => !covered.has(did)),
        limit,
        async (did) => {
          await this.account(did, sinceUs, nowMs, writer);
          progress.accountSettled();
          bar?.update(progress.settled, `${progress.state.records} records`);
        },
      );
      const dated = await this.dateBackfilled([...covered], limit, writer);
      await writer.flush();
      if (this.stopped) throw new BackfillStoppedError('backfill stopped before its end');
      bar?.finish(`${progress.state.records} records, ${progress.state.accounts.failed} accounts failed`);
      progress.finish();
      const { done, skipped, failed } = progress.state.accounts;
      const summary = {
        communities: ids,
        members: members.length,
        membershipRecords,
        accounts: { done, skipped, failed },
        sourcesFailed: progress.state.sourcesFailed,
        dated,
        records: progress.state.records,
        seconds: (performance.now() - started) / 1000,
      };
      log.info(summary, 'backfill finished');
      return summary;
    } catch (error) {
      await writer.flush().catch(() => undefined);
      progress.finish(error);
      throw error;
    }
  }

  /** List items, starter packs and follows that make the communities' members, written as events. */
  private async membership(communities: readonly CommunityDefinition[], nowMs: number, writer: BackfillWriter): Promise<number> {
    const lists = new Set(communities.flatMap((community) => community.members.lists));
    const packs: PipelineEventV1[] = [];
    for (const packUri of new Set(communities.flatMap((community) => community.members.starterPacks))) {
      const pack = parseAtUri(packUri);
      if (!pack || pack.collection !== Nsid.starterpack) continue;
      const record = await this.optional(packUri, () => this.deps.reader.getRecord(pack.did, Nsid.starterpack, pack.rkey));
      const event = record && recordEvent(pack.did, Nsid.starterpack, record, nowMs);
      if (!event || event.type !== 'starterpack' || event.op === 'delete') continue;
      packs.push(event);
      lists.add(event.list);
    }
    const items = await Promise.all([...lists].map((list) => this.listItems(list, nowMs)));
    const seeds = [...new Set(communities.flatMap((community) => community.members.followersOf))];
    // @NOTE concat, not push(...): a spread of a hundred thousand events overflows the call stack.
    const events = packs.concat(...items, await this.follows(seeds, nowMs));
    await writer.add(events);
    await writer.flush();
    this.deps.progress.state.records += events.length;
    return events.length;
  }

  /**
   * The items of `listUri` in its owner's repository: on AT Protocol only those make the list
   * (an item in another repo that names the list means nothing).
   */
  private async listItems(listUri: string, nowMs: number): Promise<PipelineEventV1[]> {
    const list = parseAtUri(listUri);
    if (!list || list.collection !== Nsid.list) return [];
    const events: PipelineEventV1[] = [];
    await this.optional(listUri, async () => {
      let read = 0;
      for await (const page of this.deps.reader.listRecords(list.did, Nsid.listitem, { maxRecords: LIST_ITEMS_MAX_RECORDS })) {
        this.throwIfStopped();
        read += page.length;
        if (read >= LIST_ITEMS_MAX_RECORDS) {
          this.deps.log.warn({ list: listUri, read }, 'the list owner has more list items (all its lists together) than a backfill reads: members of the list beyond them join when the list changes live');
        }
        for (const record of page) {
          if (record.value.list !== listUri) continue;
          const event = recordEvent(list.did, Nsid.listitem, record, nowMs);
          if (event) events.push(event);
        }
      }
    });
    return events;
  }

  /**
   * Follows of the seed accounts, as records: the AppView names the followers
   * (`app.bsky.graph.getFollowers`, up to the cap per seed), and each follower's own repository
   * holds the follow record, whose key a later unfollow deletes.
   */
  private async follows(seeds: readonly string[], nowMs: number): Promise<PipelineEventV1[]> {
    const seedsOf = new Map<string, Set<string>>();
    for (const seed of seeds) {
      const followers = await this.optional(seed, () => this.deps.reader.followers(seed, this.deps.followersCap));
      if (!followers) continue;
      if (followers.capped) {
        this.deps.log.warn({ seed, cap: this.deps.followersCap }, 'followers of a seed account reached BACKFILL_FOLLOWERS_CAP: the rest join only when they follow again');
      }
      for (const did of followers.dids) seedsOf.set(did, (seedsOf.get(did) ?? new Set()).add(seed));
    }
    const events: PipelineEventV1[] = [];
    const limit = pLimit(this.deps.concurrency);
    await Promise.all(
      [...seedsOf].map(([follower, wanted]) =>
        limit(() =>
          this.optional(follower, async () => {
            const left = new Set(wanted);
            const scan = { keepGoing: () => left.size > 0, maxRecords: FOLLOW_SCAN_MAX_RECORDS };
            for await (const page of this.deps.reader.listRecords(follower, Nsid.follow, scan)) {
              this.throwIfStopped();
              for (const record of page) {
                if (typeof record.value.subject !== 'string' || !left.delete(record.value.subject)) continue;
                const event = recordEvent(follower, Nsid.follow, record, nowMs);
                if (event) events.push(event);
              }
              if (left.size === 0) return;
            }
          }),
        ),
      ),
    );
    return events;
  }

  /** Members of the communities now (membership as the feeds resolve it), with verified handles. */
  private async members(communities: readonly CommunityDefinition[], nowMs: number): Promise<string[]> {
    const all = new Set<string>();
    for (const { id, members: sources } of communities) {
      const verified = await this.deps.handles.resolve(sources.handles);
      let members: string[];
      try {
        members = await this.deps.communities.members({ ...sources, dids: [...sources.dids, ...verified] }, nowMs * 1000 - HASHTAG_WINDOW_US);
      } catch (error) {
        // A community over the members bound counts as empty here too: the others are backfilled.
        if (!(error instanceof CommunityTooLargeError)) throw error;
        this.deps.log.error({ community: id, maxMembers: error.maxMembers, err: error.message }, 'community over the members bound: its members are not backfilled');
        continue;
      }
      for (const did of members) all.add(did);
    }
    return [...all];
  }

  /**
   * One account's posts, likes and reposts since `sinceUs` (at most the window's worth of
   * `MAX_RECORDS_PER_HOUR` per collection), queued page by page, then its checkpoint.
   */
  private async account(did: string, sinceUs: number, nowMs: number, writer: BackfillWriter): Promise<void> {
    const { progress } = this.deps;
    const sinceMs = sinceUs / 1000;
    // A record that does not say when it was made is outside the window: it cannot show it is inside.
    const inWindow = (record: RepoRecord) => (createdAtMs(record) ?? Number.NEGATIVE_INFINITY) >= sinceMs;
    // @NOTE Records are listed by key, newest first, and a key (a TID) is the time the record was
    // made by the writer's clock: the listing stops at the first key older than the window (less a
    // margin for clocks), not at the first record whose own `createdAt` is, which one backdated or
    // undated record would make end early. A key that is no TID falls back to `createdAt`.
    const keepGoing = (record: RepoRecord) => (keyTimeMs(record.rkey) ?? createdAtMs(record) ?? Number.NEGATIVE_INFINITY) >= sinceMs - KEY_CLOCK_MARGIN_MS;
    const maxRecords = Math.ceil(((nowMs - sinceMs) / 3_600_000) * MAX_RECORDS_PER_HOUR);
    let records = 0;
    let gone = false;
    try {
      for (const collection of HISTORY_COLLECTIONS) {
        for await (const page of this.deps.reader.listRecords(did, collection, { keepGoing, maxRecords })) {
          // Stopped: an account under way is left unfinished (not checkpointed), read again next run.
          this.throwIfStopped();
          const events: PipelineEventV1[] = [];
          for (const record of page) {
            const event = inWindow(record) ? recordEvent(did, collection, record, nowMs) : undefined;
            if (event) events.push(event);
          }
          records += events.length;
          await writer.add(events);
        }
      }
      // What the account asks of algorithmic feeds; none means nothing asked.
      const declaration = await this.deps.reader.getRecord(did, Nsid.visibility, 'self');
      const event = declaration && recordEvent(did, Nsid.visibility, declaration, nowMs);
      if (event) {
        records += 1;
        await writer.add([event]);
      }
    } catch (error) {
      if (error instanceof BackfillWriteError || error instanceof BackfillStoppedError) throw error;
      if (!(error instanceof RepoUnavailableError)) {
        progress.state.accounts.failed += 1;
        this.deps.log.warn({ did, err: (error as Error).message }, 'backfill of an account failed; the next run tries again');
        return;
      }
      // @NOTE Nothing to read now (deactivated, taken down, no DID document): done for this run, with
      // the records read so far, but not checkpointed. An account may come back, and a checkpoint
      // would keep its history out until checkpoints are cleared; reading it again costs a run a
      // request or two.
      gone = true;
      this.deps.log.debug({ did, err: error.message }, 'repository unavailable; the next run reads it again');
    }
    progress.state.accounts.done += 1;
    progress.state.records += records;
    if (gone) return;
    const createdUs = await this.createdUs(did);
    if (createdUs !== undefined) await writer.accountCreated({ did, createdUs });
    await writer.accountDone({ did, sinceUs, records });
  }

  /**
   * `task` for each of `dids`, `limit` at a time. The first that throws stops those not begun (as
   * `stop` does), and is thrown once those under way are done: nothing of a run goes on beside the next.
   */
  private async eachLimited(dids: readonly string[], limit: LimitFunction, task: (did: string) => Promise<void>): Promise<void> {
    const halt = new AbortController();
    await Promise.all(
      dids.map((did) =>
        limit(async () => {
          if (this.stopped || halt.signal.aborted) return;
          await task(did).catch((error: unknown) => halt.abort(error));
        }),
      ),
    );
    halt.signal.throwIfAborted();
  }

  /**
   * Creation times of members a backfill had done before: those checkpointed before creation times
   * were read, and those whose directory did not answer then, asked again at each run (a DID of
   * another method has none to ask for). Returns how many were found.
   *
   * @NOTE Written as they are found, not at the end: the first run after an upgrade asks about
   * every member, hours of requests for a large community, which a restart would otherwise lose.
   */
  private async dateBackfilled(backfilled: readonly string[], limit: LimitFunction, writer: BackfillWriter): Promise<number> {
    const plc = backfilled.filter((did) => did.startsWith('did:plc:'));
    if (plc.length === 0) return 0;
    const known = await this.deps.accounts.createdAt(plc);
    let found = 0;
    await this.eachLimited(
      plc.filter((did) => !known.has(did)),
      limit,
      async (did) => {
        const createdUs = await this.createdUs(did);
        if (createdUs === undefined) return;
        found += 1;
        await writer.accountCreated({ did, createdUs });
      },
    );
    return found;
  }

  /**
   * When the account was created, by its PLC directory: a member backfilled today is as old as it
   * is, not a young account for a month. A directory that does not answer leaves the account to be
   * aged by when the store first saw it, as before; the account's records are written all the same.
   */
  private async createdUs(did: string): Promise<number | undefined> {
    // Only a did:plc has a directory to ask; the others say nothing of the directory's health.
    if (!did.startsWith('did:plc:')) return undefined;
    const now = this.deps.now ?? Date.now;
    if (now() < this.directory.pausedUntil) return undefined;
    try {
      const ms = await this.deps.reader.createdAtOf(did);
      this.directory.failures = 0;
      return ms === undefined ? undefined : ms * 1000;
    } catch (error) {
      this.deps.log.debug({ did, err: (error as Error).message }, 'creation time not read from the PLC directory');
      this.directory.failures += 1;
      if (this.directory.failures >= DIRECTORY_FAILURES_TO_PAUSE) {
        this.directory = { failures: 0, pausedUntil: now() + DIRECTORY_PAUSE_MS };
        this.deps.log.warn(
          { failures: DIRECTORY_FAILURES_TO_PAUSE, pauseMs: DIRECTORY_PAUSE_MS, err: (error as Error).message },
          'the PLC directory failed creation-time lookups in a row; the run asks it again after a pause (the members passed over, next run)',
        );
      }
      return undefined;
    }
  }

  /** Runs a read whose failure only this source suffers: logged, and the run goes on. */
  /**
   * Reads one community source; one that cannot be read is counted (`sourcesFailed`: the run is
   * tried again) and the others are read on. A repository that is gone counts for nothing.
   */
  private async optional<T>(source: string, read: () => Promise<T>): Promise<T | undefined> {
    this.throwIfStopped();
    try {
      return await read();
    } catch (error) {
      if (error instanceof BackfillStoppedError) throw error;
      if (error instanceof RepoUnavailableError) return undefined;
      this.deps.progress.state.sourcesFailed += 1;
      this.deps.log.warn({ source, err: (error as Error).message }, 'backfill could not read a community source; the run is tried again');
      return undefined;
    }
  }
}
