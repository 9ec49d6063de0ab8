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
  heldKey,
  type FundRules,
  type Pledge,
  type PostFunding,
} from '#lib/funding';
import { APP_CONFIG, LOGGER, type Logger } from '#lib/platform';
import type { RankedPost } from '#lib/rankings';

/** Posts whose ledger lines are written per fund and settlement, most costly first. */
const MAX_LEDGER_POSTS = 10_000;
/**
 * How long after its end an epoch is settled again: impressions served from snapshots built before
 * the end, and those the bus delivers late, are still charged to it (and capped by its budget).
 */
const ENDED_EPOCH_SETTLED_MS = 24 * 3_600_000;
/** Impressions are weighted by the funds sharing them; sums differ from exact ones by float error only. */
const EPSILON = 1e-9;

/** What one run of the snapshots knows of the funds: the epoch's matched pledges and what each fund has spent. */
export interface FundRun {
  epoch: number;
  /** Boosts a feed's ranking: the ranked posts in their new order, and what to record of the boosts. */
  boost(feed: FeedDefinition, posts: readonly RankedPost[]): { posts: RankedPost[]; allocations: FundAllocation[] };
}

/** A run without funds: feeds are ranked as they are. */
export const NO_FUNDS: FundRun = { epoch: 0, boost: (_feed, posts) => ({ posts: [...posts], allocations: [] }) };

/** The communities, members and fund rules of one run for one epoch. */
interface RunFunds {
  members: ReadonlyMap<string, string[]>;
  memberSets: ReadonlyMap<string, ReadonlySet<string>>;
  /** Each fund's rules, its budget with its floor subsidy. */
  rules: ReadonlyMap<string, FundRules>;
  floors: ReadonlyMap<string, number>;
}

/** One epoch's funds as a run finds them: matched pledges, each fund's charges, ledger and what it has left. */
interface EpochFunds {
  epoch: number;
  funding: Map<string, PostFunding>;
  accepted: ReturnType<typeof checkPledges>['accepted'];
  refused: ReturnType<typeof checkPledges>['refused'];
  ledgers: Map<string, LedgerLine[]>;
  remaining: Map<string, number>;
  /** Accepted pledges not yet held at their amount: held at settlement. */
  toHold: Pledge[];
}

/**
 * The Bridge Fund's step in the snapshot runs, after each feed's ranking. Once per run it settles
 * every fund's epoch from the boosted impressions served so far (one ranker, the holder of the
 * shared work, is the one writer of the ledger, so replicas serving the same feed never spend
 * twice), checks the epoch's pledges, matches them across communities, and then raises the eligible
 * posts in each feed of the funding communities. A fund pays for impressions in the order they were
 * served until its budget, or a post's credits, are spent; what is served after that (until the
 * next snapshot stops the boost) is served free. An ended epoch is settled again for a day.
 */
@Injectable()
export class BridgeFundStep {
  private readonly log: Logger;
  private lastSettledAt = 0;
  /**
   * The ledger lines last written, per fund and epoch settled (`<community> <epoch>`): a settlement
   * writes only the lines that changed, and a post's credits are never taken below the most it held.
   * Forgotten whenever this ranker does not settle: another may write the ledger meanwhile.
   */
  private written = new Map<string, Map<string, FundPostEntry>>();

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
   * epoch, and most lines stay as they were.
   */
  private changedLines(before: ReadonlyMap<string, FundPostEntry>, lines: readonly FundPostEntry[], ledger: readonly FundPostEntry[]): FundPostEntry[] {
    const changed = lines.filter((line) => {
      const last = before.get(line.post);
      return !last || lineKey(last) !== lineKey(line);
    });
    const kept = new Set(ledger.map((line) => line.post));
    for (const post of before.keys()) if (!kept.has(post)) changed.push({ post, pledged: 0, matched: 0, credits: 0, impressions: 0, outside: 0, spent: 0 });
    return changed;
  }

  /** A fund's ledger lines as last written for an epoch: from memory when this ranker wrote them, else from the ledger. */
  private async lastWritten(community: string, epoch: number): Promise<Map<string, FundPostEntry>> {
    const key = `${community} ${epoch}`;
    let lines = this.written.get(key);
    if (!lines) this.written.set(key, (lines = new Map((await this.funds.ledgerLines(community, epoch, MAX_LEDGER_POSTS)).map((line) => [line.post, line]))));
    return lines;
  }

  /**
   * Prepares the boosts of this run and, with `settle`, settles the funds of `curation`;
   * `membersOf` resolves a community's members. Only one ranker settles (see `RankerAssignment`):
   * the others read the same ledger to boost their own feeds.
   */
  async prepare(curation: Curation, nowMs: number, membersOf: (sources: MemberSources) => Promise<string[]>, { settle }: { settle: boolean }): Promise<FundRun> {
    if (curation.funds.size === 0) return NO_FUNDS;
    const { epochDays, floorCredits, floorMaxMembers } = this.config.funding;
    const epoch = epochOf(nowMs, epochDays);

    // Every community's members: a fund's own decide pledges and its floor, the others how far its boosts reached.
    const members = new Map<string, string[]>();
    for (const [id, community] of curation.communities) members.set(id, await membersOf(community.members));
    const memberSets = new Map([...curation.funds.keys()].map((id) => [id, new Set(members.get(id) ?? [])]));
    const rules = new Map<string, FundRules>();
    const floors = new Map<string, number>();
    for (const [id, fund] of curation.funds) {
      const floor = (members.get(id)?.length ?? 0) <= floorMaxMembers ? floorCredits : 0;
      rules.set(id, { ...fund, budget: fund.budget + floor });
      floors.set(id, floor);
    }
    const run: RunFunds = { members, memberSets, rules, floors };
    if (!settle) this.written.clear();

    const current = await this.epochFunds(run, epoch);
    // What a ranker that does not settle read of the ledger is stale by its next run.
    if (!settle) this.written.clear();
    if (settle) {
      const settledAt = (this.lastSettledAt = Math.max(nowMs, this.lastSettledAt + 1));
      const ended = epoch - 1;
      if (ended >= 0 && nowMs < epochBounds(ended, epochDays).endMs + ENDED_EPOCH_SETTLED_MS) {
        const endedRun = await this.asSettled(run, ended);
        await this.settle(endedRun, await this.epochFunds(endedRun, ended), settledAt);
      }
      await this.settle(run, current, settledAt);
      for (const key of this.written.keys()) if (Number(key.slice(key.lastIndexOf(' ') + 1)) < ended) this.written.delete(key);
      if (current.refused.length > 0) this.log.info({ epoch, refused: current.refused.length, accepted: current.accepted.length }, 'pledges refused');
    }

    const { funding, remaining } = current;
    const spent = new Map([...current.ledgers].map(([id, ledger]) => [id, new Map(ledger.map((line) => [line.post, line.spent]))]));
    const spentOn = (community: string, post: string) => spent.get(community)?.get(post) ?? 0;
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

  /**
   * The run's funds as an ended epoch had them: its budget, floor, matching pool and member
   * allowance as settled in it (a curator's change at the boundary is the next epoch's), the
   * members as they are now.
   */
  private async asSettled(run: RunFunds, epoch: number): Promise<RunFunds> {
    const rules = new Map(run.rules);
    const floors = new Map(run.floors);
    for (const [id, fund] of run.rules) {
      const settled = await this.funds.totals(id, epoch);
      if (!settled) continue;
      rules.set(id, { ...fund, budget: settled.budget, matchingPool: settled.matchingPool, memberAllowance: settled.memberAllowance ?? fund.memberAllowance });
      floors.set(id, settled.floor);
    }
    return { ...run, rules, floors };
  }

  /** One epoch's pledges, matches, charges and ledgers. */
  private async epochFunds(run: RunFunds, epoch: number): Promise<EpochFunds> {
    const { epochDays, creditsPerThousandImpressions } = this.config.funding;
    const { startMs, endMs } = epochBounds(epoch, epochDays);
    const othersOf = (id: string) => [...new Set([...run.members].flatMap(([other, list]) => (other === id ? [] : list)))];
    // What each fund was charged for, and what it wrote last. A post it was charged for keeps the
    // most credits it held, its match from the pool among them, and so do the pledges that gave
    // them: what was served stays paid. Before any charge, nothing was spent, and a pledge
    // withdrawn or lowered gives back its credits, its allowance and its share of the pool.
    const charges = new Map<string, Map<string, PostCharge>>();
    const written = new Map<string, ReadonlyMap<string, FundPostEntry>>();
    for (const id of run.rules.keys()) {
      charges.set(id, await this.funds.charges(id, epoch, run.members.get(id) ?? [], othersOf(id)));
      written.set(id, await this.lastWritten(id, epoch));
    }
    const wasCharged = (community: string, post: string) => charges.get(community)?.has(post) ?? false;

    const pledges = await this.funds.pledges(startMs * 1000, endMs * 1000, [...run.rules.keys()]);
    const live = await this.funds.livePosts([...new Set(pledges.map((pledge) => pledge.post))]);
    const held = await this.funds.heldPledges(epoch, [...run.rules.keys()]);
    const checked = checkPledges(pledges, {
      allowanceOf: (community) => run.rules.get(community)?.memberAllowance,
      isMember: (community, did) => run.memberSets.get(community)?.has(did) ?? false,
      isLivePost: (uri) => live.has(uri),
      held: held.filter((pledge) => wasCharged(pledge.community, pledge.post)),
    });
    const communitiesOf = new Map<string, Set<string>>();
    const memberOf = (did: string): ReadonlySet<string> => {
      let found = communitiesOf.get(did);
      if (!found) communitiesOf.set(did, (found = new Set([...run.memberSets].filter(([, set]) => set.has(did)).map(([id]) => id))));
      return found;
    };
    const matchedBefore = new Map(
      [...written].map(([id, lines]) => [id, new Map([...lines].filter(([post]) => wasCharged(id, post)).map(([post, line]) => [post, line.matched]))]),
    );
    const pools = new Map([...run.rules].map(([id, fund]) => [id, fund.matchingPool]));
    const funding = clusterMatch(checked.accepted, memberOf, pools, (id) => matchedBefore.get(id) ?? new Map());

    const costPerImpression = creditsPerThousandImpressions / 1000;
    const found: EpochFunds = { epoch, funding, accepted: checked.accepted, refused: checked.refused, ledgers: new Map(), remaining: new Map(), toHold: [] };
    // Every pledge that gives credits is held at the most it gave: it counts once its post is charged.
    const heldAmount = new Map(held.map((pledge) => [heldKey(pledge), pledge.amount]));
    found.toHold = checked.accepted.filter((pledge) => (heldAmount.get(heldKey(pledge)) ?? 0) < pledge.amount);
    for (const [id, fund] of run.rules) {
      const charged = charges.get(id)!;
      const before = written.get(id)!;
      const credits = new Map<string, number>();
      for (const post of new Set([...charged.keys(), ...funding.keys()])) {
        const entry = funding.get(post);
        const kept = charged.has(post) ? (before.get(post)?.credits ?? 0) : 0;
        credits.set(post, Math.max((entry?.pledged[id] ?? 0) + (entry?.matched[id] ?? 0), kept));
      }
      const paid = await this.paid(id, epoch, fund.budget, credits, charged, costPerImpression);
      const ledger = ledgerOf(id, funding, credits, charged, paid, costPerImpression);
      found.ledgers.set(id, ledger);
      found.remaining.set(id, Math.max(0, fund.budget - ledger.reduce((sum, row) => sum + row.spent, 0)));
    }
    return found;
  }

  /**
   * The impressions a fund pays for, per post: every one it was charged while its budget and each
   * post's `credits` cover them; past either, in the order they were served.
   */
  private async paid(community: string, epoch: number, budget: number, credits: ReadonlyMap<string, number>, charged: ReadonlyMap<string, PostCharge>, costPerImpression: number): Promise<Map<string, number>> {
    const capOf = (post: string) => (credits.get(post) ?? 0) / costPerImpression;
    if (!(costPerImpression > 0)) return new Map([...charged].map(([post, charge]) => [post, charge.impressions]));
    const paid = new Map([...charged].map(([post, charge]) => [post, Math.min(charge.impressions, capOf(post))]));
    const total = [...paid.values()].reduce((sum, value) => sum + value, 0);
    if (total <= budget / costPerImpression + EPSILON) return paid;
    // The budget runs out: which impressions came first decides what it paid for. Only the posts charged past their credits need their cap named.
    const caps = new Map([...charged].filter(([post, charge]) => charge.impressions > capOf(post) + EPSILON).map(([post]) => [post, capOf(post)]));
    return this.funds.paidImpressions(community, epoch, caps, budget / costPerImpression);
  }

  /** Writes one epoch's settlement of every fund: the lines that changed, then the totals. */
  private async settle(run: RunFunds, funds: EpochFunds, settledAt: number): Promise<void> {
    const { epoch } = funds;
    await this.funds.holdPledges(epoch, funds.toHold, settledAt);
    for (const [id, fund] of run.rules) {
      const ledger = funds.ledgers.get(id)!;
      const refused: Record<string, number> = {};
      for (const { pledge, reason } of funds.refused) if (pledge.community === id) refused[reason] = (refused[reason] ?? 0) + 1;
      const sum = (of: (row: LedgerLine) => number) => ledger.reduce((total, row) => total + of(row), 0);
      const spent = sum((row) => row.spent);
      const lines = ledger.slice(0, MAX_LEDGER_POSTS);
      await this.funds.writeSettlement(
        {
          community: id,
          epoch,
          budget: fund.budget,
          floor: run.floors.get(id) ?? 0,
          matchingPool: fund.matchingPool,
          memberAllowance: fund.memberAllowance,
          pledged: sum((row) => row.pledged),
          matched: sum((row) => row.matched),
          impressions: sum((row) => row.impressions),
          outside: sum((row) => row.outside),
          unpaid: sum((row) => row.unpaid),
          spent,
          remaining: Math.max(0, fund.budget - spent),
          pledges: funds.accepted.filter((pledge) => pledge.community === id).length,
          refused,
        },
        this.changedLines(await this.lastWritten(id, epoch), lines, ledger),
        settledAt,
      );
      this.written.set(`${id} ${epoch}`, new Map(lines.map((line) => [line.post, line])));
    }
  }
}

/** A ledger line, with the impressions served past the budget or the post's credits (the totals count them). */
type LedgerLine = FundPostEntry & { unpaid: number };

const lineKey = (line: FundPostEntry) => `${line.pledged} ${line.matched} ${line.credits} ${line.impressions} ${line.outside} ${line.spent}`;

/** A fund's ledger lines for the epoch: every post it pledged to or was charged for, most costly first. */
function ledgerOf(
  community: string,
  funding: ReadonlyMap<string, PostFunding>,
  credits: ReadonlyMap<string, number>,
  charged: ReadonlyMap<string, PostCharge>,
  paid: ReadonlyMap<string, number>,
  costPerImpression: number,
): LedgerLine[] {
  const posts = new Set([...charged.keys(), ...[...funding.values()].filter((entry) => (entry.pledged[community] ?? 0) > 0).map((entry) => entry.post)]);
  return [...posts]
    .map((post) => {
      const entry = funding.get(post);
      const charge = charged.get(post);
      const impressions = charge?.impressions ?? 0;
      const paidFor = Math.min(impressions, paid.get(post) ?? 0);
      return {
        post,
        pledged: entry?.pledged[community] ?? 0,
        matched: entry?.matched[community] ?? 0,
        credits: credits.get(post) ?? 0,
        impressions,
        outside: charge?.outside ?? 0,
        spent: paidFor * costPerImpression,
        unpaid: impressions - paidFor,
      };
    })
    .sort((a, b) => b.spent - a.spent || b.pledged - a.pledged || (a.post < b.post ? -1 : 1));
}
