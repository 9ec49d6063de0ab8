import { writeFile } from 'node:fs/promises';
import { ScoreRepository, type ClickHouseClient } from '#lib/clickhouse';
import { CLICKHOUSE } from '#lib/platform';
import {
  capturedLogger,
  generateJetstreamEvents,
  startChdbHttpServer,
  startJetstreamReplayServer,
  startTestApp,
  waitFor,
  type ChdbHttpServer,
  type JetstreamReplayServer,
  type TestApp,
} from '#lib/testing';
import { ScoreSnapshotJob } from '../../services/scoring/src/score-snapshot.job.js';

const publisher = 'did:plc:publisher0000000000000000';
const feedUri = (name: string) => `at://${publisher}/app.bsky.feed.generator/${name}`;

describe('recovering without a restart: a moment without ClickHouse, a curator mistake', () => {
  const generated = generateJetstreamEvents({
    seed: 23,
    users: 200,
    events: 3_000,
    startUs: (Date.now() - 3_600_000) * 1000,
    durationSec: 3_000,
    communities: [
      { name: 'gardeners', members: 40 },
      { name: 'cyclists', members: 40 },
    ],
    mix: { other: 0 },
  });
  const [gardeners, cyclists] = generated.communities;
  const captured = capturedLogger();
  let clickhouse: ChdbHttpServer;
  let replay: JetstreamReplayServer;
  let running: TestApp;

  const skeleton = (name: string) => fetch(`${running.url}/xrpc/app.bsky.feed.getFeedSkeleton?feed=${encodeURIComponent(feedUri(name))}&limit=10`);

  beforeAll(async () => {
    clickhouse = await startChdbHttpServer({ path: ':memory:' });
    replay = await startJetstreamReplayServer({ events: generated.events });
    running = await startTestApp({
      name: 'recovery',
      feeds: [
        'communities:',
        `  gardeners: { members: { dids: [${gardeners!.members.join(', ')}] } }`,
        `  cyclists: { members: { dids: [${cyclists!.members.join(', ')}] } }`,
        'feeds:',
        '  gardeners-new: { displayName: Gardeners, communities: [gardeners], includeReplies: true }',
        '  common: { displayName: Common ground, communities: [gardeners, cyclists], ranking: bridging, windowHours: 48 }',
      ].join('\n'),
      jetstreamUrl: replay.subscribeUrl,
      overrides: { CLICKHOUSE_URL: clickhouse.url, FEEDGEN_PUBLISHER_DID: publisher, SCORING_INTERVAL_SECONDS: '1', LOG_LEVEL: 'info' },
      start: { logger: captured.logger },
    });
    await waitFor('the replay in ClickHouse', async () => {
      const status = (await (await fetch(`${running.opsUrl}/status`)).json()) as { store: { events: number } };
      return status.store.events === generated.counts.mappable ? true : undefined;
    });
  });

  afterAll(async () => {
    await running?.close();
    await replay?.close();
    await clickhouse?.close();
  });

  it('serves the recent feed once ClickHouse is back, although its first load failed', async () => {
    // The first request for the feed finds ClickHouse away.
    await clickhouse.stop();
    expect((await skeleton('gardeners-new')).status).toBeGreaterThanOrEqual(500);
    await clickhouse.start();
    const items = await waitFor(
      'the recent feed to answer again',
      async () => {
        // @NOTE A page read while ClickHouse was going away may come back empty and be served for
        // one timeline refresh (2 s); what matters is that the feed answers again without a restart.
        const response = await skeleton('gardeners-new');
        const feed = response.status === 200 ? ((await response.json()) as { feed: { post: string }[] }).feed : [];
        return feed.length > 0 ? feed : undefined;
      },
      15_000,
    );
    expect(items.length).toBe(10);
    const members = new Set(gardeners!.members);
    for (const item of items) expect(members.has(item.post.split('/')[2]!)).toBe(true);
  });

  it('keeps computing snapshots with the last good definitions while the curator file has a mistake, and reports it', async () => {
    const scores = running.app.get(ScoreRepository);
    const job = running.app.get(ScoreSnapshotJob);
    await waitFor('a first snapshot of the ranked feed', async () => (await scores.latestSnapshot(feedUri('common'))) ?? undefined, 30_000);

    await writeFile(running.feedsFile, ['communities: {}', 'feeds:', '  common: { displayName: Common ground, communities: [nobody], ranking: loudest }'].join('\n'));
    const brokenAt = Date.now();
    const failuresBefore = job.stats.failures;
    const after = await waitFor(
      'a snapshot computed after the mistake',
      async () => {
        const latest = await scores.latestSnapshot(feedUri('common'));
        return latest && latest.snapshot > brokenAt + 1_000 ? latest : undefined;
      },
      30_000,
    );
    // The last good definitions: two communities' posts, not an empty feed of an unknown community.
    expect(after.posts).toBeGreaterThan(0);
    expect(job.stats.failures).toBe(failuresBefore);

    const rejected = captured.lines.filter((line) => line.msg === 'curator file rejected; snapshots continue with the last good definitions');
    expect(rejected).toHaveLength(1);
    expect(JSON.stringify(rejected[0]!.problems)).toContain('feeds.common.ranking');
    const metrics = await (await fetch(`${running.opsUrl}/metrics`)).text();
    expect(metrics).toMatch(/^cg_curation_invalid 1$/m);
    // The feed generator kept its definitions too: the ranked feed is still served.
    expect((await skeleton('common')).status).toBe(200);
  });

  /**
   * Puts `feeds` (besides the two communities and the ranked feed `common`) in force, drops `table`,
   * and waits until `failed` says a part failed for it and `common` was computed after: the metrics then.
   */
  async function withoutTable(table: string, feeds: string[], what: string, failed: (job: ScoreSnapshotJob) => boolean): Promise<string> {
    const scores = running.app.get(ScoreRepository);
    const job = running.app.get(ScoreSnapshotJob);
    await writeFile(
      running.feedsFile,
      [
        'communities:',
        `  gardeners: { members: { dids: [${gardeners!.members.join(', ')}] } }`,
        `  cyclists: { members: { dids: [${cyclists!.members.join(', ')}] } }`,
        ...feeds,
      ].join('\n'),
    );
    await running.app.get<ClickHouseClient>(CLICKHOUSE).command({ query: `DROP TABLE ${running.config.clickhouse.database}.${table}` });
    const droppedAt = Date.now();
    await waitFor(
      `${what} and the ranked feed computed after it`,
      async () => {
        const latest = await scores.latestSnapshot(feedUri('common'));
        return failed(job) && latest && latest.snapshot > droppedAt + 1_000 ? true : undefined;
      },
      30_000,
    );
    return (await fetch(`${running.opsUrl}/metrics`)).text();
  }
  const common = '  common: { displayName: Common ground, communities: [gardeners, cyclists], ranking: bridging, windowHours: 48 }';

  it('goes on with the other feeds when one cannot be computed, and counts that feed\'s failures', async () => {
    // A conversation first (a feed never written goes first), then the ranked feed. Without the
    // table of conversation reports, the conversation's snapshot fails where it writes its report.
    const talk = ['  talk:', '    displayName: Town hall', '    communities: [gardeners]', '    ranking: deliberation', '    deliberation: { title: What should the garden grow?, hashtag: townhall, participants: anyone }'];
    const metrics = await withoutTable('conversation_reports', ['feeds:', ...talk, common], 'the conversation failing', (job) => (job.stats.feedFailures.get(feedUri('talk')) ?? 0) > 0);
    expect(metrics).toMatch(/^cg_scoring_snapshot_feed_failures_total\{feed="talk"\} [1-9]\d*$/m);
    expect(captured.lines.some((line) => line.msg === 'snapshot of a feed failed; the other feeds go on' && line.feed === feedUri('talk'))).toBe(true);
  });

  it('ranks the feeds without boosts when the Bridge Fund step fails, and counts it', async () => {
    // Without the ledger's table, the fund step fails where it reads what it wrote last.
    const metrics = await withoutTable('fund_posts', ['feeds:', common, 'funds:', '  gardeners: { budget: 100 }'], 'a failed fund step', (job) => job.stats.fundFailures > 0);
    expect(metrics).toMatch(/^cg_fund_step_failures_total [1-9]\d*$/m);
    expect(captured.lines.some((line) => line.msg === 'Bridge Fund step failed; the feeds are ranked without boosts this run')).toBe(true);
  });
});
