/**
 * A Polis conversation replayed on Bluesky through the real pipeline, and its live report in a real
 * browser. brexit-consensus (compdemocracy/openData; data gathered using the Polis software,
 * compdemocracy.org/polis, sub-licensed under CC BY 4.0 with Attribution to The Computational
 * Democracy Project: https://compdemocracy.org/case-studies/2017-brexit-consensus) becomes a root
 * post whose replies are the comments; agrees are likes on Jetstream, disagrees and passes are the
 * `requestLess` and `interactionSeen` feedback the sendInteractions path stores.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { FeedbackRepository, PostRepository } from '#lib/clickhouse';
import { loadConfig } from '#lib/config';
import type { FeedbackEventV1 } from '#lib/contracts';
import { atUri, Nsid, type JetstreamEvent } from '#lib/domain';
import {
  accessibilityViolations,
  deterministicDidPlc,
  generateCid,
  launchBrowser,
  mulberry32,
  polisGroupConsensus,
  startJetstreamReplayServer,
  testAppEnv,
  tid,
  waitFor,
  type JetstreamReplayServer,
} from '#lib/testing';
import { planReplay, type ScheduledFeedback } from '../../eval/eval-dataset.js';
import { loadConversationFolder, polisDataset } from '../../eval/polis-dataset.js';
import { startApp, type RunningApp } from '../../services/app/src/app.factory.js';
import { FeedSkeletonService } from '../../services/feed-generator/src/feeds/feed-skeleton.service.js';
import { ScoreSnapshotJob } from '../../services/scoring/src/score-snapshot.job.js';

const publisher = 'did:plc:publisher0000000000000000';
const artifacts = path.resolve('test-artifacts', 'conversation-report');
const curator = deterministicDidPlc('common-ground-test/conversation-curator');

interface ReportJson {
  title: string;
  report: {
    participants: number;
    votes: { agree: number; disagree: number; pass: number };
    groups: { group: number; size: number }[];
    consensus: { uri: string }[];
    divisive: { uri: string; agreeingGroup: number }[];
    thin: { uri: string; votes: number }[];
    thinCount: number;
  } | null;
  texts: Record<string, string>;
}

describe('a Polis conversation replayed on Bluesky, and its live report in a browser', () => {
  const conversation = loadConversationFolder(path.resolve('test/fixtures/polis/brexit-consensus'));
  const { dataset } = polisDataset(conversation, 'brexit-consensus');
  // Within three days: viewer feedback older than 14 days expires from the store (migration 6).
  const plan = planReplay(dataset, { signals: 'all', endMs: Date.now() - 60_000, maxSpanMs: 3 * 86_400_000 });
  // The root post, a minute before the first comment; every comment replies to it.
  const rootUs = plan.events[0]!.time_us - 60_000_000;
  const rootRkey = tid(rootUs, 7);
  const root = { uri: atUri(curator, Nsid.post, rootRkey), cid: generateCid(mulberry32(16)) };
  /** A post as Jetstream carries it; a statement when it replies to the root. */
  const postEvent = (did: string, timeUs: number, rkey: string, cid: string, text: string, reply?: { root: typeof root; parent: typeof root }): JetstreamEvent => ({
    did,
    time_us: timeUs,
    kind: 'commit',
    commit: { rev: rkey, operation: 'create', collection: Nsid.post, rkey, record: { $type: Nsid.post, text, createdAt: new Date(timeUs / 1000).toISOString(), ...(reply && { reply }) }, cid },
  });
  const events: JetstreamEvent[] = [
    postEvent(curator, rootUs, rootRkey, root.cid, 'What should happen with Brexit? Reply with a statement; like the ones you agree with.'),
    ...plan.events.map((event) =>
      event.kind === 'commit' && event.commit.collection === Nsid.post
        ? { ...event, commit: { ...event.commit, record: { ...event.commit.record, reply: { root, parent: root } } } }
        : event,
    ),
  ];
  // The last votes arrive only once the page is open: it has to show them by itself.
  const late = Math.floor(plan.feedback.length * 0.8);
  const feedback = (items: readonly ScheduledFeedback[]): FeedbackEventV1[] =>
    items.map((item) => ({
      v: 1,
      type: 'feedback',
      viewer: plan.dids[item.actor]!,
      feed: null,
      item: item.item,
      event: item.event === 'app.bsky.feed.defs#requestLess' ? 'requestLess' : 'interactionSeen',
      feedContext: null,
      reqId: null,
      timeUs: Math.round(item.atMs * 1000),
    }));

  let dir: string;
  let replay: JetstreamReplayServer;
  let running: RunningApp;
  let context: BrowserContext;
  let page: Page;
  const report = async () => (await (await fetch(`${running.url}/api/conversations/brexit`)).json()) as ReportJson;
  const shot = (name: string) => page.screenshot({ path: path.join(artifacts, `${name}.png`), fullPage: true });

  beforeAll(async () => {
    await mkdir(artifacts, { recursive: true });
    dir = await mkdtemp(path.join(os.tmpdir(), 'cg-conversation-'));
    await writeFile(
      path.join(dir, 'feeds.yaml'),
      [
        'communities:',
        '  curators:',
        `    members: { dids: [${curator}] }`,
        'feeds:',
        '  brexit:',
        '    displayName: Brexit, in statements',
        '    communities: [curators]',
        '    ranking: deliberation',
        '    windowHours: 96',
        '    deliberation:',
        '      title: What should happen with Brexit?',
        `      root: ${root.uri}`,
        '      participants: anyone',
      ].join('\n'),
    );
    replay = await startJetstreamReplayServer({ events });
    running = await startApp(
      loadConfig(
        testAppEnv({
          name: 'conversation',
          dataDir: dir,
          feedsFile: path.join(dir, 'feeds.yaml'),
          jetstreamUrl: replay.subscribeUrl,
          overrides: { FEEDGEN_PUBLISHER_DID: publisher, SCORING_SNAPSHOTS: 'false', SCORING_INTERVAL_SECONDS: '3600' },
        }),
      ),
    );
    await waitFor('the replay in ClickHouse', async () => {
      const status = (await (await fetch(`${running.opsUrl}/status`)).json()) as { store: { events: number } };
      return status.store.events === events.length ? true : undefined;
    }, 120_000);
    await running.app.get(FeedbackRepository).write(feedback(plan.feedback.slice(0, late)));
    await running.app.get(ScoreSnapshotJob).runOnce();

    context = await launchBrowser(dir);
    page = context.pages()[0] ?? (await context.newPage());
  });

  afterAll(async () => {
    await context?.close();
    await running?.close();
    await replay?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('renders the opinion groups, the consensus and the divisive statements of the conversation', async () => {
    await page.goto(`${running.url}/conversations/brexit`);
    await page.getByRole('heading', { level: 1, name: 'What should happen with Brexit?' }).waitFor();
    expect(await page.title()).toBe('What should happen with Brexit? · Common Ground');
    const groups = page.getByRole('list', { name: 'Opinion groups' }).getByRole('listitem');
    expect(await groups.count()).toBeGreaterThanOrEqual(2);
    const consensus = page.locator('section[aria-labelledby="consensus"] ol.statements > li');
    expect(await consensus.count()).toBe(10);
    const { report: first, texts } = await report();
    expect(await consensus.first().locator('.text').textContent()).toBe(texts[first!.consensus[0]!.uri]);
    expect(await page.locator('section[aria-labelledby="divisive"] ol.statements > li').count()).toBeGreaterThan(0);
    await expect(page.locator('section[aria-labelledby="divisive"]').getByText(/Group [A-E] agrees most/).first().isVisible()).resolves.toBe(true);
    await page.locator('figure.chart canvas').first().waitFor();
    // Where to take part: the feed to vote in and the post to reply to, in the Bluesky app.
    await expect(page.getByRole('link', { name: 'Vote in the feed on Bluesky' }).getAttribute('href')).resolves.toBe(`https://bsky.app/profile/${publisher}/feed/brexit`);
    await expect(page.getByRole('link', { name: 'reply to the conversation’s post' }).getAttribute('href')).resolves.toBe(`https://bsky.app/profile/${curator}/post/${rootRkey}`);
    // Groups, charts and statement lists as a screen reader or a keyboard meets them, light and dark.
    expect(await accessibilityViolations(page)).toEqual([]);
    await page.emulateMedia({ colorScheme: 'dark' });
    expect(await accessibilityViolations(page)).toEqual([]);
    await page.emulateMedia({ colorScheme: 'light' });
    await shot('report-desktop');
  });

  it('renders in a browser whose language tag Intl refuses (a C locale on Linux: en-US@posix)', async () => {
    const posix = await launchBrowser(dir, { locale: 'en-US@posix' });
    try {
      const tab = posix.pages()[0] ?? (await posix.newPage());
      const failures: string[] = [];
      tab.on('pageerror', (error) => failures.push(error.message));
      expect(await tab.evaluate(() => navigator.language)).toBe('en-US@posix');
      await tab.goto(`${running.url}/conversations/brexit`);
      await tab.getByRole('heading', { level: 1, name: 'What should happen with Brexit?' }).waitFor();
      await tab.locator('figure.chart canvas').first().waitFor();
      expect(failures).toEqual([]);
    } finally {
      await posix.close();
    }
  });

  it('answers 404 for a conversation nobody opened, and its page says so', async () => {
    const json = await fetch(`${running.url}/api/conversations/no-such-talk`);
    expect(json.status).toBe(404);
    expect(await json.json()).toEqual({ error: 'NotFound', message: 'no conversation named "no-such-talk"' });
    const tab = await context.newPage();
    try {
      const response = await tab.goto(`${running.url}/conversations/no-such-talk`);
      expect(response?.status()).toBe(404);
      await expect(tab.getByRole('alert').textContent()).resolves.toBe('There is no conversation "no-such-talk".');
    } finally {
      await tab.close();
    }
  });

  it('shows new votes by itself once they arrive', async () => {
    const before = await report();
    const votes = (r: ReportJson) => r.report!.votes.agree + r.report!.votes.disagree + r.report!.votes.pass;
    await running.app.get(FeedbackRepository).write(feedback(plan.feedback.slice(late)));
    await running.app.get(ScoreSnapshotJob).runOnce();
    const after = await report();
    expect(votes(after)).toBeGreaterThan(votes(before));
    const shown = (count: number) => page.locator('.card', { hasText: 'Votes' }).getByText(count.toLocaleString('en-US'), { exact: true });
    await shown(votes(after)).waitFor({ timeout: 30_000 });
  });

  it('keeps the report on screen when a refresh fails, and says so', async () => {
    const consensus = page.locator('section[aria-labelledby="consensus"] ol.statements > li');
    await page.route('**/api/conversations/brexit', (route) => route.fulfill({ status: 503, contentType: 'application/json', body: '{}' }));
    // The page loads again as soon as it becomes visible again.
    await page.evaluate("document.dispatchEvent(new Event('visibilitychange'))");
    await page.getByRole('status').filter({ hasText: 'Could not refresh (The report did not load (HTTP 503).)' }).waitFor();
    expect(await consensus.count()).toBe(10);
    await page.unroute('**/api/conversations/brexit');
    await page.evaluate("document.dispatchEvent(new Event('visibilitychange'))");
    await page.getByRole('status').filter({ hasText: 'Could not refresh' }).waitFor({ state: 'detached' });
  });

  it('answers a reader whose copy is current with 304 and no body, and lets a shared cache keep a public report for 10 s', async () => {
    const first = await fetch(`${running.url}/api/conversations/brexit`);
    const etag = first.headers.get('etag');
    expect(etag).toMatch(/^"[\w-]+"$/);
    expect(first.headers.get('cache-control')).toBe('public, max-age=10');
    const again = await fetch(`${running.url}/api/conversations/brexit`, { headers: { 'if-none-match': etag! } });
    expect(again.status).toBe(304);
    expect(await again.text()).toBe('');
  });

  it('recovers Polis’s own consensus statements from the replayed votes', async () => {
    const { report: final } = await report();
    const reference = polisGroupConsensus(conversation);
    const polisTop = [...conversation.comments.keys()].sort((a, b) => reference[b]! - reference[a]!).slice(0, 10).map((i) => plan.postUris[i]!);
    const overlap = final!.consensus.slice(0, 10).filter((statement) => polisTop.includes(statement.uri)).length;
    const polisSizes = conversation.groupIds.map((group) => conversation.participants.filter((p) => p.groupId === group).length);
    console.log(`brexit-consensus through the pipeline: consensus top-10 overlap ${overlap}/10 with Polis; groups found ${final!.groups.map((g) => g.size).join(', ')} (Polis: ${polisSizes.join(', ')})`);
    expect(overlap).toBeGreaterThanOrEqual(8);
    expect(final!.groups.length).toBeGreaterThanOrEqual(2);
  });

  it('serves the statements for voting, without those a signed-in viewer already voted on', async () => {
    const feed = `at://${publisher}/app.bsky.feed.generator/brexit`;
    const skeletons = running.app.get(FeedSkeletonService);
    const everyone = (await skeletons.skeleton({ feed, limit: 100 })).feed.map((item) => item.post);
    expect([...everyone].sort()).toEqual([...plan.postUris].sort());
    const votes = new Map<number, Set<string>>();
    for (const vote of dataset.votes) votes.set(vote.actor, (votes.get(vote.actor) ?? new Set()).add(plan.postUris[vote.post]!));
    // The participant who voted on the most statements, but not on all.
    const [actor, voted] = [...votes].filter(([, posts]) => posts.size < plan.postUris.length).sort((a, b) => b[1].size - a[1].size)[0]!;
    const served = (await skeletons.skeleton({ feed, limit: 100, viewer: plan.dids[actor]! })).feed.map((item) => item.post);
    expect(served.length).toBe(plan.postUris.length - voted.size);
    for (const post of served) expect(voted.has(post)).toBe(false);
  });

  it('works at a phone’s width, with the longest statement anyone can post', async () => {
    // Anyone can reply to the root: a statement of 300 letters without a space, thin on evidence.
    const hostileUs = Date.now() * 1000;
    const rkey = tid(hostileUs, 9);
    replay.push(postEvent(plan.dids[0]!, hostileUs, rkey, generateCid(mulberry32(17)), 'W'.repeat(300), { root, parent: root }));
    const hostile = atUri(plan.dids[0]!, Nsid.post, rkey);
    await waitFor('the long statement stored', async () => (await running.app.get(PostRepository).summaries([hostile])).size === 1);
    await running.app.get(ScoreSnapshotJob).runOnce();
    const { report: withIt } = await report();
    // The report names ten thin statements at most and counts them all.
    expect(withIt!.thin.length).toBeLessThanOrEqual(10);
    expect(withIt!.thinCount).toBeGreaterThanOrEqual(withIt!.thin.length);
    expect(withIt!.thin.map((statement) => statement.uri)).toContain(hostile);

    await page.setViewportSize({ width: 390, height: 844 });
    await page.reload();
    await page.locator('section#thin, section[aria-labelledby="thin"]').getByText('W'.repeat(300)).waitFor();
    await page.getByRole('heading', { level: 1 }).waitFor();
    // Nothing wider than the screen: no sideways scrolling.
    const widths = await page.locator('html').evaluate((element) => ({ scroll: element.scrollWidth, client: element.clientWidth }));
    expect(widths.scroll).toBeLessThanOrEqual(widths.client);
    expect(await accessibilityViolations(page)).toEqual([]);
    await shot('report-phone');
  });
});
