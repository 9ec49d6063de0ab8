import { FeedbackRepository, FundRepository, type ClickHouseClient } from '#lib/clickhouse';
import type { AppConfig } from '#lib/config';
import type { FeedbackEventV1 } from '#lib/contracts';
import { parseCuration, type MemberSources } from '#lib/curation';
import { boostedContext, epochBounds, epochOf } from '#lib/funding';
import { capturedLogger, openEmbeddedStore, type EmbeddedStore } from '#lib/testing';
import { BridgeFundStep } from './bridge-fund.step.js';

const EPOCH_DAYS = 7;
/** One credit an impression: the figures below read as impressions. */
const funding = { epochDays: EPOCH_DAYS, creditsPerThousandImpressions: 1000, floorCredits: 0, floorMaxMembers: 0 };

const alpha = ['did:plc:alpha0', 'did:plc:alpha1', 'did:plc:alpha2'];
const beta = ['did:plc:beta0', 'did:plc:beta1'];
const viewers = Array.from({ length: 8 }, (_, i) => `did:plc:viewer${i}`);
const post = (name: string) => `at://${alpha[0]}/app.bsky.feed.post/${name}`;

const curationOf = (budgets: { alpha: number; beta: number }, allowance = 1000, pool = 0) =>
  parseCuration(
    [
      'communities:',
      `  alpha: { members: { dids: [${alpha.join(', ')}] } }`,
      `  beta: { members: { dids: [${beta.join(', ')}] } }`,
      'feeds:',
      '  ab: { displayName: Alpha and beta, communities: [alpha, beta], ranking: bridging }',
      'funds:',
      `  alpha: { budget: ${budgets.alpha}, matchingPool: ${pool}, memberAllowance: ${allowance} }`,
      `  beta: { budget: ${budgets.beta}, matchingPool: ${pool} }`,
    ].join('\n'),
    'funds.yaml',
  );
const membersOf = (sources: MemberSources) => Promise.resolve([...(sources.dids ?? [])]);

describe('settling the Bridge Fund from the impressions served', () => {
  let store: EmbeddedStore;
  let database: string;
  let client: ClickHouseClient;
  let funds: FundRepository;
  let feedback: FeedbackRepository;
  const step = () => new BridgeFundStep({ funding } as AppConfig, funds, capturedLogger().logger);
  /** This epoch began an hour ago at most, or now: the times below fall inside it. */
  const nowMs = Date.now();
  const epoch = epochOf(nowMs, EPOCH_DAYS);
  const { startMs } = epochBounds(epoch, EPOCH_DAYS);
  let clock = Math.max(startMs, nowMs - 3_600_000) * 1000;
  const tick = () => (clock += 1_000_000);

  beforeAll(async () => {
    store = await openEmbeddedStore('bridge_fund');
    ({ client, database } = store);
    funds = new FundRepository(client, database);
    feedback = new FeedbackRepository(client, database);
  });

  afterAll(() => store?.close());

  beforeEach(async () => {
    for (const table of ['posts', 'pledges', 'fund_charges', 'fund_posts', 'fund_epochs', 'fund_held_pledges']) await client.command({ query: `TRUNCATE TABLE ${database}.${table}` });
  });

  const livePosts = async (...names: string[]) => {
    await client.insert({
      table: `${database}.posts`,
      values: names.map((name) => ({ did: alpha[0], rkey: name, cid: 'bafy', time_us: tick(), created_at: Date.now(), text: name, deleted: 0, version: clock })),
      format: 'JSONEachRow',
    });
  };
  const pledge = (pledger: string, community: string, to: string, amount: number, atUs = tick()) =>
    funds.recordPledge({ pledger, rkey: `3k${pledger.slice(-6)}${to.slice(-4)}`, community, post: to, amount, timeUs: atUs });
  /** A boosted page served to `viewer`, the item raised by `by` in epoch `inEpoch`. */
  const serve = (viewer: string, item: string, by: string[], inEpoch = epoch, atUs = tick()): FeedbackEventV1 => ({
    v: 1,
    type: 'feedback',
    event: 'impression',
    reqId: null,
    viewer,
    item,
    feed: 'ab',
    feedContext: boostedContext('{"v":1}', by, inEpoch),
    timeUs: atUs,
  });
  const report = async (community: string, of = epoch) => (await funds.report(community, of, 100))!;

  it('pays for impressions in the order they were served until the budget is spent, and says how many it did not pay for', async () => {
    await livePosts('first', 'second');
    await pledge(alpha[1]!, 'alpha', post('first'), 50);
    await pledge(alpha[2]!, 'alpha', post('second'), 50);
    // Three viewers see the first post, then three the second: a budget of 4 pays the first three and one more.
    await feedback.write([...viewers.slice(0, 3).map((v) => serve(v, post('first'), ['alpha'])), ...viewers.slice(3, 6).map((v) => serve(v, post('second'), ['alpha']))]);
    await step().prepare(curationOf({ alpha: 4, beta: 10 }), nowMs, membersOf, { settle: true });

    const { epoch: totals, posts } = await report('alpha');
    expect(totals).toMatchObject({ budget: 4, spent: 4, remaining: 0, impressions: 6, unpaid: 2 });
    expect(Object.fromEntries(posts.map((line) => [line.post, line.spent]))).toEqual({ [post('first')]: 3, [post('second')]: 1 });
  });

  it('pays no more for a post than the credits pledged to it', async () => {
    await livePosts('first');
    await pledge(alpha[1]!, 'alpha', post('first'), 2);
    await feedback.write(viewers.slice(0, 5).map((v) => serve(v, post('first'), ['alpha'])));
    await step().prepare(curationOf({ alpha: 100, beta: 10 }), nowMs, membersOf, { settle: true });

    expect((await report('alpha')).epoch).toMatchObject({ spent: 2, remaining: 98, impressions: 5, unpaid: 3 });
  });

  it('charges a viewer once, to the funds that raised the post when it was first served, whatever was served after', async () => {
    await livePosts('first');
    await pledge(alpha[1]!, 'alpha', post('first'), 50);
    await pledge(beta[0]!, 'beta', post('first'), 50);
    // Raised by both, then (beta's budget spent, in production) by alpha alone, to the same viewers; and one the other way round.
    await feedback.write([serve(viewers[0]!, post('first'), ['alpha', 'beta']), serve(viewers[1]!, post('first'), ['alpha'])]);
    await feedback.write([serve(viewers[0]!, post('first'), ['alpha']), serve(viewers[1]!, post('first'), ['alpha', 'beta'])]);
    await step().prepare(curationOf({ alpha: 100, beta: 100 }), nowMs, membersOf, { settle: true });

    const [a, b] = [(await report('alpha')).epoch, (await report('beta')).epoch];
    expect(a.impressions + b.impressions).toBe(2);
    expect(a).toMatchObject({ impressions: 1.5, spent: 1.5 });
    expect(b).toMatchObject({ impressions: 0.5, spent: 0.5 });
  });

  it('settles an ended epoch again with the impressions served from its snapshots after it ended', async () => {
    const ended = epoch - 1;
    const endedStartUs = epochBounds(ended, EPOCH_DAYS).startMs * 1000;
    await livePosts('first');
    await pledge(alpha[1]!, 'alpha', post('first'), 50, endedStartUs + 1_000_000);
    await feedback.write([serve(viewers[0]!, post('first'), ['alpha'], ended, endedStartUs + 2_000_000)]);
    // The last run of the ended epoch, then impressions of its last snapshot served (or delivered) after its end.
    const lastRunMs = startMs - 1_000;
    await step().prepare(curationOf({ alpha: 100, beta: 10 }), lastRunMs, membersOf, { settle: true });
    expect((await report('alpha', ended)).epoch.impressions).toBe(1);
    await feedback.write(viewers.slice(1, 4).map((v) => serve(v, post('first'), ['alpha'], ended, startMs * 1000 + 500_000)));
    await step().prepare(curationOf({ alpha: 100, beta: 10 }), startMs + 60_000, membersOf, { settle: true });

    expect((await report('alpha', ended)).epoch).toMatchObject({ impressions: 4, spent: 4 });
    // The new epoch has no pledge: nothing is charged to it.
    expect((await report('alpha')).epoch).toMatchObject({ impressions: 0, spent: 0, pledged: 0 });
  });

  it('takes a withdrawn pledge out of the ledger when another process settles next', async () => {
    await livePosts('first', 'second');
    await pledge(alpha[1]!, 'alpha', post('first'), 50);
    await pledge(alpha[2]!, 'alpha', post('second'), 30);
    await step().prepare(curationOf({ alpha: 100, beta: 10 }), nowMs, membersOf, { settle: true });
    expect((await report('alpha')).posts.map((line) => line.post).sort()).toEqual([post('first'), post('second')]);

    await funds.recordPledge({ pledger: alpha[1]!, rkey: `3k${alpha[1]!.slice(-6)}${post('first').slice(-4)}`, timeUs: tick() });
    // A restarted ranker, or the one the settling was handed to.
    await step().prepare(curationOf({ alpha: 100, beta: 10 }), nowMs, membersOf, { settle: true });
    const { epoch: totals, posts } = await report('alpha');
    expect(totals.pledged).toBe(30);
    expect(posts.map((line) => line.post)).toEqual([post('second')]);
  });

  it('keeps what a post was paid for when its pledge is withdrawn after its impressions were served', async () => {
    await livePosts('first');
    const rkey = `3k${alpha[1]!.slice(-6)}${post('first').slice(-4)}`;
    await pledge(alpha[1]!, 'alpha', post('first'), 10);
    await feedback.write(viewers.slice(0, 8).map((v) => serve(v, post('first'), ['alpha'])));
    const settler = step();
    await settler.prepare(curationOf({ alpha: 10, beta: 10 }), nowMs, membersOf, { settle: true });
    expect((await report('alpha')).epoch).toMatchObject({ spent: 8, remaining: 2 });

    await funds.recordPledge({ pledger: alpha[1]!, rkey, timeUs: tick() });
    await settler.prepare(curationOf({ alpha: 10, beta: 10 }), nowMs, membersOf, { settle: true });
    expect((await report('alpha')).epoch).toMatchObject({ pledged: 0, spent: 8, remaining: 2, unpaid: 0 });
    // So does a ranker that starts settling it afterwards.
    await step().prepare(curationOf({ alpha: 10, beta: 10 }), nowMs, membersOf, { settle: true });
    expect((await report('alpha')).epoch).toMatchObject({ spent: 8, remaining: 2 });
  });

  it('holds a pledge once its post was paid for: withdrawn or moved after that, it keeps the member\'s allowance used', async () => {
    await livePosts('first', 'second', 'third');
    const settle = (ranker = step()) => ranker.prepare(curationOf({ alpha: 100, beta: 10 }, 10), nowMs, membersOf, { settle: true });
    const rkeyOf = (pledger: string, to: string) => `3k${pledger.slice(-6)}${to.slice(-4)}`;
    // alpha1 pledges all its allowance to the first post, which is served and paid for.
    await pledge(alpha[1]!, 'alpha', post('first'), 10);
    await feedback.write(viewers.slice(0, 3).map((v) => serve(v, post('first'), ['alpha'])));
    // alpha2 pledges all of its to the third, which nobody is served.
    await pledge(alpha[2]!, 'alpha', post('third'), 10);
    await settle();

    // alpha1 moves its pledge to the second post; alpha2 withdraws its own and pledges to the second.
    await funds.recordPledge({ pledger: alpha[1]!, rkey: rkeyOf(alpha[1]!, post('first')), community: 'alpha', post: post('second'), amount: 10, timeUs: tick() });
    await funds.recordPledge({ pledger: alpha[2]!, rkey: rkeyOf(alpha[2]!, post('third')), timeUs: tick() });
    await pledge(alpha[2]!, 'alpha', post('second'), 10);
    await settle();
    // Then alpha1 withdraws the moved pledge and pledges to the third: still nothing left to pledge.
    await funds.recordPledge({ pledger: alpha[1]!, rkey: rkeyOf(alpha[1]!, post('first')), timeUs: tick() });
    await pledge(alpha[1]!, 'alpha', post('third'), 10);
    await feedback.write(viewers.slice(3, 8).map((v) => serve(v, post('first'), ['alpha'])));
    await settle();

    const { epoch: totals, posts } = await report('alpha');
    const byPost = Object.fromEntries(posts.map((line) => [line.post, line]));
    expect(totals.refused).toEqual({ 'over-allowance': 1 });
    expect(byPost[post('second')]).toMatchObject({ pledged: 10 });
    expect(byPost[post('third')]).toBeUndefined();
    // The first post keeps the credits of the pledge that left it, and pays its impressions with them.
    expect(byPost[post('first')]).toMatchObject({ pledged: 0, credits: 10, impressions: 8, spent: 8 });
    expect(totals).toMatchObject({ pledged: 10, pledges: 1 });
  });

  it('holds a pledge whose boost was served after the settlement that gave it credits, withdrawn before the next', async () => {
    await livePosts('first', 'second');
    const settle = () => step().prepare(curationOf({ alpha: 100, beta: 10 }, 10), nowMs, membersOf, { settle: true });
    await pledge(alpha[1]!, 'alpha', post('first'), 10);
    await settle();
    // The snapshot built then boosts the first post: its impressions are served; then the pledge is withdrawn and made again elsewhere.
    await feedback.write(viewers.slice(0, 4).map((v) => serve(v, post('first'), ['alpha'])));
    await funds.recordPledge({ pledger: alpha[1]!, rkey: `3k${alpha[1]!.slice(-6)}${post('first').slice(-4)}`, timeUs: tick() });
    await pledge(alpha[1]!, 'alpha', post('second'), 10);
    await settle();
    const { epoch: totals, posts } = await report('alpha');
    expect(totals.refused).toEqual({ 'over-allowance': 1 });
    expect(posts.map((line) => [line.post, line.credits, line.spent])).toEqual([[post('first'), 10, 4]]);
  });

  it('keeps the match of a post it was charged for when its pledges are all withdrawn: the pool is not shared again', async () => {
    await livePosts('first', 'second');
    const settle = () => step().prepare(curationOf({ alpha: 1000, beta: 1000 }, 1000, 50), nowMs, membersOf, { settle: true });
    await pledge(alpha[1]!, 'alpha', post('first'), 100);
    await pledge(beta[0]!, 'beta', post('first'), 100);
    await settle();
    await feedback.write(viewers.slice(0, 2).map((v) => serve(v, post('first'), ['alpha', 'beta'])));
    for (const pledger of [alpha[1]!, beta[0]!]) await funds.recordPledge({ pledger, rkey: `3k${pledger.slice(-6)}${post('first').slice(-4)}`, timeUs: tick() });
    await settle();
    await pledge(alpha[2]!, 'alpha', post('second'), 100);
    await pledge(beta[1]!, 'beta', post('second'), 100);
    await settle();
    for (const community of ['alpha', 'beta']) {
      const byPost = Object.fromEntries((await report(community)).posts.map((line) => [line.post, line]));
      expect(byPost[post('first')]).toMatchObject({ pledged: 0, matched: 50, credits: 150 });
      expect(byPost[post('second')]).toMatchObject({ pledged: 100, matched: 0, credits: 100 });
    }
  });

  it('forgets its lines while another ranker settles, and writes the ledger as it stands when it settles again', async () => {
    await livePosts('first', 'second');
    await pledge(alpha[1]!, 'alpha', post('first'), 50);
    const a = step();
    await a.prepare(curationOf({ alpha: 100, beta: 10 }), nowMs, membersOf, { settle: true });
    // The settling moves to another ranker, which settles a pledge to the second post; then it is withdrawn and the first ranker settles again.
    await a.prepare(curationOf({ alpha: 100, beta: 10 }), nowMs, membersOf, { settle: false });
    await pledge(alpha[2]!, 'alpha', post('second'), 30);
    await step().prepare(curationOf({ alpha: 100, beta: 10 }), nowMs, membersOf, { settle: true });
    await funds.recordPledge({ pledger: alpha[2]!, rkey: `3k${alpha[2]!.slice(-6)}${post('second').slice(-4)}`, timeUs: tick() });
    await a.prepare(curationOf({ alpha: 100, beta: 10 }), nowMs, membersOf, { settle: true });
    const { epoch: totals, posts } = await report('alpha');
    expect(totals.pledged).toBe(50);
    expect(posts.map((line) => line.post)).toEqual([post('first')]);
  });

  it('never pays a post more from the matching pool than the pool holds, and keeps what an earlier post was matched', async () => {
    await livePosts('first', 'second', 'third');
    // Alpha and beta support the first post (a claim of 50 on each pool): it takes all of each pool.
    await pledge(alpha[1]!, 'alpha', post('first'), 100);
    await pledge(beta[0]!, 'beta', post('first'), 100);
    await feedback.write(viewers.slice(0, 2).map((v) => serve(v, post('first'), ['alpha', 'beta'])));
    const settler = step();
    await settler.prepare(curationOf({ alpha: 1000, beta: 1000 }, 1000, 50), nowMs, membersOf, { settle: true });
    expect((await report('alpha')).posts.find((line) => line.post === post('first'))).toMatchObject({ matched: 50, credits: 150 });

    // Two more posts are supported by both: the pool has nothing left to match them with.
    for (const name of ['second', 'third']) {
      await pledge(alpha[2]!, 'alpha', post(name), 100);
      await pledge(beta[1]!, 'beta', post(name), 50);
    }
    for (const ranker of [settler, step()]) {
      await ranker.prepare(curationOf({ alpha: 1000, beta: 1000 }, 1000, 50), nowMs, membersOf, { settle: true });
      for (const community of ['alpha', 'beta']) {
        const { epoch: totals, posts } = await report(community);
        const byPost = Object.fromEntries(posts.map((line) => [line.post, line]));
        expect(byPost[post('first')]).toMatchObject({ matched: 50, credits: 150 });
        expect(totals.matched).toBe(50);
        // What the fund may pay the posts beyond their pledges is the pool, no more.
        expect(posts.reduce((sum, line) => sum + line.credits - line.pledged, 0)).toBeCloseTo(50);
      }
    }
  });

  it('settles an ended epoch again with the budget it had, not the one the next epoch has', async () => {
    const ended = epoch - 1;
    const endedStartUs = epochBounds(ended, EPOCH_DAYS).startMs * 1000;
    await livePosts('first');
    await pledge(alpha[1]!, 'alpha', post('first'), 50, endedStartUs + 1_000_000);
    await feedback.write(viewers.slice(0, 3).map((v, i) => serve(v, post('first'), ['alpha'], ended, endedStartUs + 2_000_000 + i)));
    await step().prepare(curationOf({ alpha: 4, beta: 10 }), startMs - 1_000, membersOf, { settle: true });
    await feedback.write(viewers.slice(3, 6).map((v) => serve(v, post('first'), ['alpha'], ended, startMs * 1000 + 500_000)));
    // The curator raised the budget for the new epoch.
    await step().prepare(curationOf({ alpha: 100, beta: 10 }), startMs + 60_000, membersOf, { settle: true });
    expect((await report('alpha', ended)).epoch).toMatchObject({ budget: 4, spent: 4, remaining: 0, impressions: 6, unpaid: 2 });
  });

  it('settles an ended epoch again with the member allowance it had, not the one the next epoch has', async () => {
    const ended = epoch - 1;
    const endedStartUs = epochBounds(ended, EPOCH_DAYS).startMs * 1000;
    await livePosts('first');
    await pledge(alpha[1]!, 'alpha', post('first'), 50, endedStartUs + 1_000_000);
    await step().prepare(curationOf({ alpha: 100, beta: 10 }, 100), startMs - 1_000, membersOf, { settle: true });
    expect((await report('alpha', ended)).epoch).toMatchObject({ pledged: 50, memberAllowance: 100, refused: {} });
    // The curator lowered the allowance for the new epoch: the ended epoch's pledge stays accepted.
    await step().prepare(curationOf({ alpha: 100, beta: 10 }, 20), startMs + 60_000, membersOf, { settle: true });
    expect((await report('alpha', ended)).epoch).toMatchObject({ pledged: 50, memberAllowance: 100, refused: {} });
    expect((await report('alpha')).epoch).toMatchObject({ memberAllowance: 20 });
  });

  it('pays in serve order when thousands of posts ran past their credits (more caps than a query takes as a parameter)', async () => {
    const names = Array.from({ length: 2_500 }, (_, i) => `p${String(i).padStart(5, '0')}`);
    await livePosts(...names);
    // One credit pledged to each, two impressions each: every post runs past its credits, and the budget past them all.
    await client.insert({
      table: `${database}.pledges`,
      values: names.map((name, i) => ({ did: alpha[1 + (i % 2)], rkey: `3k${i}`, subject_uri: post(name), community: 'alpha', amount: 1, time_us: tick(), deleted: 0, version: clock })),
      format: 'JSONEachRow',
    });
    const served = names.flatMap((name) => [serve(viewers[0]!, post(name), ['alpha']), serve(viewers[1]!, post(name), ['alpha'])]);
    await feedback.write(served);
    const curation = parseCuration(
      [
        'communities:',
        `  alpha: { members: { dids: [${alpha.join(', ')}] } }`,
        'feeds:',
        '  ab: { displayName: Alpha, communities: [alpha], ranking: bridging }',
        'funds:',
        '  alpha: { budget: 1000, matchingPool: 0, memberAllowance: 100000 }',
      ].join('\n'),
      'funds.yaml',
    );
    await step().prepare(curation, nowMs, membersOf, { settle: true });
    const { epoch: totals } = await report('alpha');
    expect(totals).toMatchObject({ budget: 1000, spent: 1000, remaining: 0, impressions: 5000, unpaid: 4000 });
  });
});
