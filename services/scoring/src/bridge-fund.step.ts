import { Inject, Injectable } from '@nestjs/common';
import { FundRepository, type FundAllocation, type FundPostEntry, type PostCharge } from '#lib/clickhouse';
import type { AppConfig } from '#lib/config';
import type { Curation, FeedDefinition, MemberSources } from '#lib/curation';
import {
  boostedContext,
  boostFeed,
  checkPledges,
  clusterMatch,
  describeBoost,
  epochBounds,
  epochOf,
  type FundRules,
  type PostFunding,
} from '#lib/funding';
import { APP_CONFIG, LOGGER, type Logger } from '#lib/platform';
import type { RankedPost } from '#lib/rankings';

/** Posts whose ledger lines are written per fund and settlement, most costly first. */
const MAX_LEDGER_POSTS = 10_000;

/** What one run of the snapshots knows of the funds: the epoch's matched pledges and what each fund has spent. */
export interface FundRun {
  epoch: number;
  /** Boosts a feed's ranking: the ranked posts in their new order, and what to record of the boosts. */
  boost(feed: FeedDefinition, posts: readonly RankedPost[]): { posts: RankedPost[]; allocations: FundAllocation[] };
}

const NO_FUNDS: FundRun = { epoch: 0, boost: (_feed, posts) => ({ posts: [...posts], allocations: [] }) };

/**
 * The Bridge Fund's step in the snapshot runs, after each feed's ranking. Once per run it settles
 * every fund's epoch from the boosted impressions served so far (one ranker, the holder of the
 * shared work, is the one writer of the ledger, so replicas serving the same feed never spend
 * twice), checks the epoch's pledges, matches them across communities, and then raises the eligible posts in each feed of the funding
 * communities. A fund whose budget is spent boosts nothing more until the next epoch.
 */
@Injectable()
export class BridgeFundStep {
  private readonly log: Logger;
  private lastSettledAt = 0;
  /** The ledger lines last written, per fund of the current epoch: a settlement writes only the lines that changed. */
  private written = { epoch: -1, lines: new Map<string, Map<string, string>>() };

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly funds: FundRepository,
    @Inject(LOGGER) logger: Logger,
  ) {
    this.log = logger.child({ component: 'bridge-fund' });
  }

  /** Records which posts a snapshot boosted; before the snapshot itself, so a served boost always has its allocation. */
  async recordAllocations(feed: string, snapshot: number, epoch: number, allocations: readonly FundAllocation[]): Promise<void> {
    await this.funds.writeAllocations(feed, snapshot, epoch, allocations);
  }

  /**
   * The lines of a fund's ledger (its first `lines`) that differ from those last written, and a
   * zero line for each post that left the ledger (a withdrawn pledge): every run settles the whole
   * epoch, and most lines stay as they were. A new epoch, or a restarted ranker, writes every line once.
   */
  private changedLines(community: string, epoch: number, lines: readonly FundPostEntry[], ledger: readonly FundPostEntry[]): FundPostEntry[] {
    if (this.written.epoch !== epoch) this.written = { epoch, lines: new Map() };
    const before = this.written.lines.get(community) ?? new Map<string, string>();
    const changed = lines.filter((line) => before.get(line.post) !== lineKey(line));
    const kept = new Set(ledger.map((line) => line.post));
    for (const post of before.keys()) if (!kept.has(post)) changed.push({ post, pledged: 0, matched: 0, impressions: 0, outside: 0, spent: 0 });
    return changed;
  }

  /**
   * Prepares the boosts of this run and, with `settle`, settles the funds of `curation`;
   * `membersOf` resolves a community's members. Only one ranker settles (see `RankerAssignment`):
   * the others read the same ledger to boost their own feeds.
   */
  async prepare(curation: Curation, nowMs: number, membersOf: (sources: MemberSources) => Promise<string[]>, { settle }: { settle: boolean }): Promise<FundRun> {
    if (curation.funds.size === 0) return NO_FUNDS;
    const { epochDays, creditsPerThousandImpressions, floorCredits, floorMaxMembers } = this.config.funding;
    const epoch = epochOf(nowMs, epochDays);
    const { startMs, endMs } = epochBounds(epoch, epochDays);

    // Every community's members: a fund's own decide pledges and its floor, the others how far its boosts reached.
    const members = new Map<string, string[]>();
    for (const [id, community] of curation.communities) members.set(id, await membersOf(community.members));
    const othersOf = (id: string) => [...new Set([...members].flatMap(([other, list]) => (other === id ? [] : list)))];
    const memberSets = new Map([...curation.funds.keys()].map((id) => [id, new Set(members.get(id) ?? [])]));
    const rules = new Map<string, FundRules>();
    for (const [id, fund] of curation.funds) {
      const floor = (members.get(id)?.length ?? 0) <= floorMaxMembers ? floorCredits : 0;
      rules.set(id, { ...fund, budget: fund.budget + floor });
    }

    const pledges = await this.funds.pledges(startMs * 1000, endMs * 1000);
    const live = await this.funds.livePosts([...new Set(pledges.map((pledge) => pledge.post))]);
    const checked = checkPledges(pledges, {
      allowanceOf: (community) => rules.get(community)?.memberAllowance,
      isMember: (community, did) => memberSets.get(community)?.has(did) ?? false,
      isLivePost: (uri) => live.has(uri),
    });
    const communitiesOf = new Map<string, Set<string>>();
    const memberOf = (did: string): ReadonlySet<string> => {
      let found = communitiesOf.get(did);
      if (!found) communitiesOf.set(did, (found = new Set([...memberSets].filter(([, set]) => set.has(did)).map(([id]) => id))));
      return found;
    };
    const funding = clusterMatch(checked.accepted, memberOf, new Map([...rules].map(([id, fund]) => [id, fund.matchingPool])));

    const costPerImpression = creditsPerThousandImpressions / 1000;
    const charges = new Map<string, Map<string, PostCharge>>();
    const remaining = new Map<string, number>();
    const settledAt = settle ? (this.lastSettledAt = Math.max(nowMs, this.lastSettledAt + 1)) : 0;
    for (const [id, fund] of rules) {
      const charged = await this.funds.charges(id, epoch, members.get(id) ?? [], othersOf(id));
      charges.set(id, charged);
      const refused: Record<string, number> = {};
      for (const { pledge, reason } of checked.refused) if (pledge.community === id) refused[reason] = (refused[reason] ?? 0) + 1;
      const ledger = ledgerOf(id, funding, charged, costPerImpression);
      const spent = ledger.reduce((sum, row) => sum + row.spent, 0);
      remaining.set(id, fund.budget - spent);
      if (!settle) continue;
      const lines = ledger.slice(0, MAX_LEDGER_POSTS);
      await this.funds.writeSettlement(
        {
          community: id,
          epoch,
          budget: fund.budget,
          floor: fund.budget - curation.funds.get(id)!.budget,
          matchingPool: fund.matchingPool,
          pledged: ledger.reduce((sum, row) => sum + row.pledged, 0),
          matched: ledger.reduce((sum, row) => sum + row.matched, 0),
          impressions: ledger.reduce((sum, row) => sum + row.impressions, 0),
          outside: ledger.reduce((sum, row) => sum + row.outside, 0),
          spent,
          remaining: fund.budget - spent,
          pledges: checked.accepted.filter((pledge) => pledge.community === id).length,
          refused,
        },
        this.changedLines(id, epoch, lines, ledger),
        settledAt,
      );
      this.written.lines.set(id, new Map(lines.map((line) => [line.post, lineKey(line)])));
    }
    if (settle && checked.refused.length > 0) this.log.info({ epoch, refused: checked.refused.length, accepted: checked.accepted.length }, 'pledges refused');

    const spentOn = (community: string, post: string) => (charges.get(community)?.get(post)?.impressions ?? 0) * costPerImpression;
    return {
      epoch,
      boost: (feed, posts) => {
        const result = boostFeed({
          feed: feed.shortname,
          communities: feed.communities,
          ranked: posts,
          funds: rules,
          funding,
          spent: spentOn,
          remaining: (community) => remaining.get(community) ?? 0,
        });
        const allocations: FundAllocation[] = [];
        const boosted = result.placed.map(({ item, boosted: raised, unboostedRank }, index): RankedPost => {
          const boost = raised ? result.boosts.get(item.uri) : undefined;
          if (boost) {
            allocations.push({ post: item.uri, rank: index + 1, unboostedRank, funds: boost.funds, credits: boost.credits, lift: boost.lift });
            return {
              ...item,
              feedContext: boostedContext(item.feedContext, boost.funds, epoch),
              components: { ...item.components, boost: { ...boost, epoch, unboostedRank, says: describeBoost(boost) } },
            };
          }
          const refusal = result.refused.get(item.uri);
          return refusal ? { ...item, components: { ...item.components, boostRefused: refusal } } : item;
        });
        return { posts: boosted, allocations };
      },
    };
  }
}

const lineKey = (line: FundPostEntry) => `${line.pledged} ${line.matched} ${line.impressions} ${line.outside} ${line.spent}`;

/** A fund's ledger lines for the epoch: every post it pledged to or was charged for, most costly first. */
function ledgerOf(community: string, funding: ReadonlyMap<string, PostFunding>, charged: ReadonlyMap<string, PostCharge>, costPerImpression: number): FundPostEntry[] {
  const posts = new Set([...charged.keys(), ...[...funding.values()].filter((entry) => (entry.pledged[community] ?? 0) > 0).map((entry) => entry.post)]);
  return [...posts]
    .map((post) => {
      const entry = funding.get(post);
      const charge = charged.get(post);
      return {
        post,
        pledged: entry?.pledged[community] ?? 0,
        matched: entry?.matched[community] ?? 0,
        impressions: charge?.impressions ?? 0,
        outside: charge?.outside ?? 0,
        spent: (charge?.impressions ?? 0) * costPerImpression,
      };
    })
    .sort((a, b) => b.spent - a.spent || b.pledged - a.pledged || (a.post < b.post ? -1 : 1));
}
