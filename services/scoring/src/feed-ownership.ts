import { setTimeout as sleep } from 'node:timers/promises';
import { Inject, Injectable } from '@nestjs/common';
import { type ClaimKind, RankerClaimRepository } from '#lib/clickhouse';
import { LOGGER, type Logger } from '#lib/platform';
import { RANKER_ASSIGNMENT, type RankerAssignment } from './ranker-assignment.js';

/** The name the shared work (labels, fund settlement: `RankerAssignment.ownsShared`) takes epochs and claims under. */
export const SHARED_WORK = 'shared-work';

/** Tries at taking a feed's epoch, and at finding a free snapshot id, before the feed waits for the next run. */
const EPOCH_ATTEMPTS = 3;
const SNAPSHOT_ID_ATTEMPTS = 10;

/** A snapshot id this ranker may write, and the epoch it writes it under. */
export interface SnapshotClaim {
  snapshot: number;
  epoch: number;
}

/**
 * The fencing of the feeds this ranker computes. The group's assignment says which feeds are ours;
 * before a feed's writes, a claim in the store makes sure no other ranker writes the same thing.
 *
 * Each time the assignment changes, the ranker forgets its epochs; the first write of a feed
 * afterwards takes the feed's next ownership epoch (one above every earlier owner's). Every
 * snapshot id is claimed under the epoch before it is written: a claim fails when another ranker
 * claimed the same id (another id is chosen) or when the feed has a later epoch than ours (a newer
 * owner took it over: we write nothing more of it in this run, and take a newer epoch at the next
 * one only if the group still gives us the feed). So a
 * (feed, snapshot) is written by one ranker only, and readers serve the newest epoch's snapshot,
 * so a fenced ranker's last snapshot is never served over its new owner's.
 */
@Injectable()
export class FeedOwnership {
  private readonly epochs = new Map<string, number>();
  private readonly log: Logger;

  constructor(
    @Inject(RANKER_ASSIGNMENT) readonly assignment: RankerAssignment,
    private readonly claims: RankerClaimRepository,
    @Inject(LOGGER) logger: Logger,
  ) {
    this.log = logger.child({ component: 'ranker', ranker: assignment.id });
    assignment.onChange(() => this.epochs.clear());
  }

  get ranker(): string {
    return this.assignment.id;
  }

  owns(feed: string): boolean {
    return this.assignment.owns(feed);
  }

  /**
   * A snapshot id of `feed` from `wanted` up that this ranker may write; `undefined` when the feed
   * is no longer ours (the assignment moved it, or a newer owner fenced us).
   */
  async claimSnapshot(feed: string, wanted: number): Promise<SnapshotClaim | undefined> {
    const epoch = await this.epochOf(feed);
    if (epoch === undefined) return undefined;
    for (let snapshot = wanted, attempt = 0; attempt < SNAPSHOT_ID_ATTEMPTS; snapshot += 1, attempt += 1) {
      if (!this.owns(feed)) return undefined;
      const outcome = await this.claims.claim(feed, 'snapshot', snapshot, epoch, this.ranker);
      if (outcome === 'claimed') return { snapshot, epoch };
      if (outcome === 'fenced') return this.fenced(feed, epoch);
    }
    this.log.warn({ feed, from: wanted }, 'no free snapshot id; the feed waits for the next run');
    return undefined;
  }

  /**
   * Whether this ranker may write the shared work's `kind` from `key` on (the labels from a
   * sequence number): it holds the shared work, under the newest epoch of it, and no ranker of the
   * same epoch claimed the same key. A ranker that lost the shared work while a run was under way (a
   * rebalance, or a pause past its lease) writes nothing from then on.
   *
   * @NOTE Claims of older epochs do not count: the key follows the last number written, and a
   * fenced ranker's claim (never written) would otherwise hold it for good. What stays open is an
   * older owner that claimed before the newer one's epoch and writes after the newer one read the
   * last number: a pause of its own between two statements.
   */
  async claimShared(kind: ClaimKind, key: number): Promise<boolean> {
    const epoch = await this.epochOf(SHARED_WORK, () => this.assignment.ownsShared());
    if (epoch === undefined) return false;
    if (!this.assignment.ownsShared()) return false;
    const outcome = await this.claims.claim(SHARED_WORK, kind, key, epoch, this.ranker, true);
    if (outcome === 'fenced') this.fenced(SHARED_WORK, epoch);
    return outcome === 'claimed';
  }

  /** Whether this ranker may freeze `feed`'s digest edition `at` (an edition a fenced owner claimed is frozen again). */
  async claimEdition(feed: string, at: number, epoch: number): Promise<boolean> {
    const outcome = await this.claims.claim(feed, 'edition', at, epoch, this.ranker, true);
    if (outcome === 'fenced') this.fenced(feed, epoch);
    return outcome === 'claimed';
  }

  private async epochOf(feed: string, owned = () => this.owns(feed)): Promise<number | undefined> {
    const held = this.epochs.get(feed);
    if (held !== undefined) return held;
    for (let attempt = 1; attempt <= EPOCH_ATTEMPTS; attempt += 1) {
      if (!owned()) return undefined;
      const epoch = await this.claims.acquireEpoch(feed, this.ranker);
      if (epoch !== undefined) {
        this.epochs.set(feed, epoch);
        this.log.info({ feed, epoch }, 'feed taken over');
        return epoch;
      }
      // Another ranker took an epoch at the same moment (a zombie's group view, or a race): back off at random.
      await sleep(50 + Math.random() * 200);
    }
    this.log.warn({ feed }, 'another ranker keeps taking this feed; it waits for the next run');
    return undefined;
  }

  /**
   * Forgets the stale epoch: this run writes nothing more of the feed, and the next one, if the
   * group still gives this ranker the feed, takes a newer epoch. A ranker that took an epoch while
   * its own lease had lapsed (a pause) fences the true owner; keeping the stale epoch until the
   * assignment changed left the feed unwritten by anyone until some other rebalance.
   */
  private fenced(feed: string, epoch: number): undefined {
    this.epochs.delete(feed);
    this.log.warn({ feed, epoch }, 'a newer epoch of this feed was taken; writing nothing more of it this run');
    return undefined;
  }
}
