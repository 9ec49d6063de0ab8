import { Inject, Injectable, Optional } from '@nestjs/common';
import { EventRepository, ScoreRepository } from '#lib/clickhouse';
import { partsOf, type AppConfig } from '#lib/config';
import type { MessageBus } from '#lib/contracts';
import { atUri, Nsid } from '#lib/domain';
import { CurationService } from './curation.service.js';
import type { Logger } from './logger.js';
import { APP_CONFIG, LOGGER, MESSAGE_BUS } from './tokens.js';

/** A dependency that does not answer within this time counts as unreachable. */
const PING_TIMEOUT_MS = 3_000;
/** Readiness is computed at most this often; probes, scrapes and the console share the answer. */
const CACHE_MS = 1_000;
/** Added to three scoring intervals before a snapshot counts as stale. */
const STALE_MARGIN_SECONDS = 60;

interface FeedFreshness {
  shortname: string;
  uri: string;
  /** Newest complete snapshot, or null when the feed has none yet. */
  snapshot: number | null;
  posts: number | null;
  completedAtMs: number | null;
  ageSeconds: number | null;
  /** Older than the stale rule allows (a feed with no snapshot yet is not stale: there is nothing to be late). */
  stale: boolean;
}

interface SnapshotCheck {
  /** False when the rule does not apply (no ranked feeds, or nobody produces snapshots yet). */
  applies: boolean;
  stale: boolean;
  /** Whether staleness makes this process not ready: only where snapshots are computed and not served. */
  gatesReadiness: boolean;
  /** Age of the newest snapshot over the ranked feeds (from process start when there is none yet). */
  ageSeconds: number | null;
  staleAfterSeconds: number;
  feeds: FeedFreshness[];
  /** Why freshness could not be determined (the check then fails). */
  error?: string;
}

export interface ReadinessReport {
  ready: boolean;
  checks: { bus: boolean; clickhouse: boolean; snapshot: boolean };
  snapshot: SnapshotCheck;
}

const withTimeout = <T>(promise: Promise<T>, fallback: T, ms = PING_TIMEOUT_MS): Promise<T> => {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise.catch(() => fallback),
    new Promise<T>((resolve) => {
      timer = setTimeout(() => resolve(fallback), ms);
    }),
  ]).finally(() => clearTimeout(timer));
};

/**
 * Whether this process can do its work now: the bus (except in the feed-generator role) and
 * ClickHouse answer, and (in the scoring role) the snapshots it computes are not stale. Every
 * check is reported, whether it gates readiness or not.
 *
 * @NOTE The snapshot rule: stale when the newest snapshot of the ranked feeds is older than
 * 3 × SCORING_INTERVAL_SECONDS + 60 s. It is measured where it means something: in a role that
 * serves or computes ranked feeds (not ingest), when ranked feeds exist, and when snapshots are
 * expected — this process computes them, or the store already has some (a fresh cluster whose
 * scoring has never run stays ready). A process that computes snapshots counts their age from its
 * own start at the earliest, so a restart after downtime gets one full window to catch up.
 *
 * @NOTE Only the scoring role is made not ready by stale snapshots. A role that serves feeds (the
 * feed generator, and embedded mode, which is the only server it has) keeps serving the last
 * snapshot: taking every replica out of the load balancer because the ranker is late would turn
 * a late feed into no feeds at all, the recent ones included. There staleness is reported instead:
 * the `cg_snapshot_stale` gauge per feed and a warning when a feed turns stale.
 */
@Injectable()
export class ReadinessService {
  private readonly startedAt = Date.now();
  private cached?: { at: number; report: Promise<ReadinessReport> };
  /** Feeds last seen stale, so that the warning is logged when a feed turns stale, not on every check. */
  private readonly staleFeeds = new Set<string>();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(MESSAGE_BUS) private readonly bus: MessageBus,
    private readonly events: EventRepository,
    private readonly scores: ScoreRepository,
    @Inject(CurationService) private readonly curation: Pick<CurationService, 'current'>,
    @Optional() @Inject(LOGGER) private readonly logger?: Logger,
  ) {}

  /** True when this process computes score snapshots itself. */
  get computesSnapshots(): boolean {
    return partsOf(this.config).has('ranker');
  }

  /**
   * False in the feed-generator role: serving feeds reads ClickHouse only, and what it publishes
   * (impressions) waits in a bounded buffer, so a bus outage is no reason to leave the load balancer.
   */
  get busGatesReadiness(): boolean {
    return this.config.role !== 'feed-generator';
  }

  /** True when stale snapshots make this process not ready: it computes them and serves no feed. */
  get snapshotsGateReadiness(): boolean {
    return this.config.role === 'scoring' && this.computesSnapshots;
  }

  get staleAfterSeconds(): number {
    return 3 * this.config.scoring.intervalSeconds + STALE_MARGIN_SECONDS;
  }

  check(): Promise<ReadinessReport> {
    const now = Date.now();
    if (this.cached && now - this.cached.at < CACHE_MS) return this.cached.report;
    const report = this.evaluate();
    this.cached = { at: now, report };
    return report;
  }

  /** Age of every ranked feed's newest snapshot, read from the store (a few rows per feed). */
  async freshness(nowMs = Date.now()): Promise<FeedFreshness[]> {
    const ranked = this.rankedFeeds();
    if (ranked.length === 0) return [];
    const summaries = new Map((await this.scores.latestSnapshots(ranked.map((feed) => feed.uri))).map((row) => [row.feed, row]));
    return ranked.map(({ shortname, uri }) => {
      const latest = summaries.get(uri);
      return {
        shortname,
        uri,
        snapshot: latest?.snapshot ?? null,
        posts: latest?.posts ?? null,
        completedAtMs: latest?.completedAtMs ?? null,
        ageSeconds: latest ? Math.max(0, (nowMs - latest.completedAtMs) / 1000) : null,
        stale: latest ? (nowMs - latest.completedAtMs) / 1000 > this.staleAfterSeconds : false,
      };
    });
  }

  private async evaluate(): Promise<ReadinessReport> {
    const [bus, clickhouse] = await Promise.all([
      withTimeout(this.bus.ping(), false),
      withTimeout(this.events.ping(), false),
    ]);
    const gatesReadiness = this.snapshotsGateReadiness;
    const unknown = (error?: string): SnapshotCheck => ({
      applies: false,
      stale: false,
      gatesReadiness,
      ageSeconds: null,
      staleAfterSeconds: this.staleAfterSeconds,
      feeds: [],
      ...(error && { error }),
    });
    // Without ClickHouse freshness cannot be read; that check already fails.
    const snapshot = clickhouse
      ? await withTimeout(
          this.snapshotCheck().catch((error: unknown) => unknown((error as Error).message)),
          unknown('timed out reading the snapshots'),
        )
      : unknown();
    this.reportStale(snapshot.feeds);
    const snapshotOk = !gatesReadiness || (!snapshot.stale && snapshot.error === undefined);
    const checks = { bus, clickhouse, snapshot: clickhouse && snapshotOk };
    return { ready: (checks.bus || !this.busGatesReadiness) && checks.clickhouse && checks.snapshot, checks, snapshot };
  }

  /** A warning when a feed's snapshot turns stale (it is still served), a note when it is fresh again. */
  private reportStale(feeds: readonly FeedFreshness[]): void {
    for (const feed of feeds) {
      if (feed.stale && !this.staleFeeds.has(feed.uri)) {
        this.staleFeeds.add(feed.uri);
        this.logger?.warn(
          { component: 'readiness', feed: feed.shortname, snapshot: feed.snapshot, ageSeconds: Math.round(feed.ageSeconds ?? 0), staleAfterSeconds: this.staleAfterSeconds },
          'score snapshot is stale; the feed is still served from it',
        );
      } else if (!feed.stale && this.staleFeeds.delete(feed.uri)) {
        this.logger?.info({ component: 'readiness', feed: feed.shortname, snapshot: feed.snapshot }, 'score snapshot fresh again');
      }
    }
  }

  private async snapshotCheck(): Promise<SnapshotCheck> {
    const staleAfterSeconds = this.staleAfterSeconds;
    const gatesReadiness = this.snapshotsGateReadiness;
    const notApplicable = (feeds: FeedFreshness[] = []): SnapshotCheck => ({ applies: false, stale: false, gatesReadiness, ageSeconds: null, staleAfterSeconds, feeds });
    if (this.config.role === 'ingest') return notApplicable();
    const now = Date.now();
    const feeds = await this.freshness(now);
    const newest = Math.max(0, ...feeds.map((feed) => feed.completedAtMs ?? 0));
    if (feeds.length === 0 || (newest === 0 && !this.computesSnapshots)) return notApplicable(feeds);
    const reference = this.computesSnapshots ? Math.max(newest, this.startedAt) : newest;
    const ageSeconds = Math.max(0, (now - reference) / 1000);
    return { applies: true, stale: ageSeconds > staleAfterSeconds, gatesReadiness, ageSeconds, staleAfterSeconds, feeds };
  }

  /** Ranked feeds of the curation in force. */
  private rankedFeeds(): { shortname: string; uri: string }[] {
    return [...this.curation.current.feeds.values()]
      .filter((feed) => feed.ranking !== 'recent')
      .map((feed) => ({ shortname: feed.shortname, uri: atUri(this.config.feedGenerator.publisherDid, Nsid.generator, feed.shortname) }));
  }

}
