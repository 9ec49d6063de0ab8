import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { parse as parseYaml } from 'yaml';
import { accessibilityViolations, generateJetstreamEvents, launchBrowser, startJetstreamReplayServer, type JetstreamReplayServer, startTestApp, type TestApp, waitFor as waitUntil } from '#lib/testing';
import { FundRepository } from '#lib/clickhouse';
import { ScoreSnapshotJob } from '../../services/scoring/src/score-snapshot.job.js';

const publisher = 'did:plc:publisher0000000000000000';
const adminToken = 'console-test-token-0123456789abcdef';
const artifacts = path.resolve('test-artifacts', 'console');

/** The shared poll, with this file's longer default timeout (a replay runs first). */
const waitFor = <T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 120_000): Promise<T> => waitUntil(what, probe, timeoutMs);

const authorOf = (uri: string) => uri.split('/')[2]!;

describe('the web console in a real browser (Debian Chromium, headless)', () => {
  const generated = generateJetstreamEvents({
    seed: 21,
    users: 900,
    events: 24_000,
    startUs: (Date.now() - 20 * 3_600_000) * 1000,
    durationSec: 19 * 3_600,
    communities: [
      { name: 'alpha', members: 160 },
      { name: 'beta', members: 160 },
    ],
    bridgingShare: 0.05,
    mix: { other: 0 },
  });
  const [alpha, beta] = generated.communities;
  let feedsFile: string;
  let replay: JetstreamReplayServer;
  let running: TestApp;
  let context: BrowserContext;
  let page: Page;

  /** The curation in force, as the admin API exports it. */
  const exported = async () => (await fetch(`${running.url}/api/admin/curation/export`, { headers: { authorization: `Bearer ${adminToken}` } })).text();
  const shot = (name: string, fullPage = true) => page.screenshot({ path: path.join(artifacts, `${name}.png`), fullPage });

  beforeAll(async () => {
    await mkdir(artifacts, { recursive: true });
    replay = await startJetstreamReplayServer({ events: generated.events });
    running = await startTestApp({
      name: 'console',
      feeds: [
        '# Curated for the console test.',
        'communities:',
        '  alpha:',
        '    name: Alpha gardeners',
        '    description: People who grow things in the alpha valley',
        '    members:',
        `      dids: [${alpha!.members.join(', ')}]`,
        `      lists: [${alpha!.listUri}]`,
        '  beta:',
        '    name: Beta cyclists',
        '    members:',
        `      dids: [${beta!.members.join(', ')}]`,
        '      hashtags: [cycling]',
        'feeds:',
        '  alpha-new:',
        '    displayName: Alpha, newest',
        '    communities: [alpha]',
        '    windowHours: 48',
        '  common:',
        '    displayName: Common ground',
        '    description: What both valleys agree on.',
        '    communities: [alpha, beta]',
        '    ranking: bridging',
        '    windowHours: 48',
        '    halfLifeHours: 1000',
      ].join('\n'),
      jetstreamUrl: replay.subscribeUrl,
      overrides: {
        FEEDGEN_PUBLISHER_DID: publisher,
        ADMIN_TOKEN: adminToken,
        SCORING_INTERVAL_SECONDS: '3600',
      },
    });
    feedsFile = running.feedsFile;
    await waitFor('the replay in ClickHouse', async () => {
      const status = (await (await fetch(`${running.opsUrl}/status`)).json()) as { store: { events: number } };
      return status.store.events === generated.counts.mappable ? true : undefined;
    });
    await running.app.get(ScoreSnapshotJob).runOnce();

    context = await launchBrowser(running.dir);
    page = context.pages()[0] ?? (await context.newPage());
  });

  afterAll(async () => {
    await context?.close();
    await running?.close();
    await replay?.close();
  });

  it('refuses a wrong token with a visible message', async () => {
    await page.goto(`${running.url}/console`);
    await page.getByLabel('Admin token').fill('not-the-admin-token-at-all');
    await page.getByRole('button', { name: 'Sign in' }).click();
    const error = page.getByRole('alert');
    await error.waitFor();
    expect(await error.textContent()).toBe('That token was refused. Check it and try again.');
    expect(await page.getByRole('navigation', { name: 'Console sections' }).isHidden()).toBe(true);
    await shot('login-refused');
  });

  it('signs in from the keyboard and shows pipeline health, throughput and freshness', async () => {
    await page.getByLabel('Admin token').fill(adminToken);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 1, name: 'Pipeline health' }).waitFor();
    const readiness = page.getByRole('list', { name: 'Readiness' });
    expect(await readiness.getByText('Ready', { exact: true }).count()).toBe(1);
    expect(await readiness.getByText('Reachable').count()).toBe(2);
    expect(await page.locator('figure.chart').count()).toBe(6);
    // A chart is an image described in words once drawn; until it has two samples, the words say so instead.
    const events = page.locator('figure.chart', { hasText: 'Events received' });
    expect(await events.getByRole('img', { name: /^Events received over the last hour/ }).or(events.getByText('collecting samples…', { exact: true })).count()).toBe(1);
    const freshness = page.getByRole('table', { name: /Score snapshots of the ranked feeds/ });
    expect(await freshness.getByRole('row', { name: /common .* fresh/ }).count()).toBe(1);
    // The token lives in this tab's session storage, never in a cookie.
    expect(await context.cookies()).toEqual([]);
    await shot('health');
  });

  it('lists communities with member counts and their sources', async () => {
    await page.getByRole('link', { name: 'Communities' }).click();
    await page.getByRole('heading', { level: 1, name: 'Communities' }).waitFor();
    const alphaRow = page.getByRole('row', { name: /Alpha gardeners/ });
    await waitFor('member counts', async () => ((await alphaRow.locator('td.num').textContent()) !== '…' ? true : undefined), 10_000);
    const count = Number((await alphaRow.locator('td.num').textContent())!.replaceAll(',', ''));
    // An account deactivated, taken down or deleted at the end of the events is no member while away.
    const status = new Map<string, boolean>();
    for (const event of generated.events) if ('kind' in event && event.kind === 'account') status.set(event.did, event.account.active);
    expect(count).toBeGreaterThanOrEqual(alpha!.members.filter((did) => status.get(did) !== false).length);
    expect(await alphaRow.textContent()).toContain('160 accounts · 1 list');
    expect(await page.getByRole('row', { name: /Beta cyclists/ }).textContent()).toContain('hashtags: #cycling');
    await shot('communities');
  });

  it('opens a feed preview with each post’s provenance and the score components that placed it', async () => {
    await page.getByRole('link', { name: 'Feeds' }).click();
    await page.getByRole('link', { name: 'Preview Common ground' }).click();
    await page.getByRole('heading', { level: 1, name: 'Common ground' }).waitFor();
    // Where its subscribers find it: the feed's page in the Bluesky app.
    await expect(page.getByRole('link', { name: 'Open on Bluesky' }).getAttribute('href')).resolves.toBe(`https://bsky.app/profile/${publisher}/feed/common`);
    const posts = page.getByRole('list', { name: /^Top \d+ posts of Common ground/ }).locator(':scope > li');
    expect(await posts.count()).toBeGreaterThan(5);
    const first = posts.first();
    expect(await first.getByRole('list', { name: /^Provenance: bridging in alpha and beta/ }).count()).toBe(1);
    await first.getByText(/^Why here\? Score/).click();
    const components = first.getByRole('table', { name: 'Score components' });
    await components.waitFor();
    expect(await components.getByRole('row', { name: /^ranking bridging$/ }).count()).toBe(1);
    expect(await components.getByRole('row', { name: /^supportedBy alpha, beta$/ }).count()).toBe(1);
    // Evidence per community: approvals among those who saw the post.
    const evidence = components.locator('table.evidence');
    expect(await evidence.getByRole('columnheader').allTextContents()).toEqual(expect.arrayContaining(['group', 'approvals', 'exposure', 'rate']));
    expect(await evidence.getByRole('rowheader').allTextContents()).toEqual(['alpha', 'beta']);
    await first.getByText(/^Explanation endpoint: rank 1 in snapshot \d+, score/).waitFor();
    await shot('feed-preview', false);
  });

  it('edits a community, shows validation errors, and the preview changes', async () => {
    await page.goto(`${running.url}/console#/feeds/alpha-new`);
    await page.getByRole('heading', { level: 1, name: 'Alpha, newest' }).waitFor();
    const posts = page.getByRole('list', { name: /^Top \d+ posts of Alpha, newest/ }).locator(':scope > li code');
    const authors = async () => new Set((await posts.allTextContents()).filter((text) => text.startsWith('at://')).map(authorOf));
    const before = await authors();
    expect(before.size).toBeGreaterThan(0);
    const excluded = [...before][0]!;

    await page.getByRole('link', { name: 'Communities' }).click();
    await page.getByRole('link', { name: 'Edit Alpha gardeners' }).click();
    await page.getByRole('heading', { level: 1, name: 'Edit community: Alpha gardeners' }).waitFor();

    // A mistake is refused with the file's own message, and nothing is written.
    const fileBefore = await readFile(feedsFile, 'utf8');
    const curationBefore = await exported();
    await page.getByLabel('Accounts (DIDs)').fill(`${alpha!.members.join('\n')}\nnot-a-did`);
    await page.getByRole('button', { name: 'Save community' }).click();
    const error = page.getByRole('alert');
    await error.waitFor();
    expect(await error.textContent()).toMatch(/^Not saved\. .*communities\.alpha\.members\.dids/);
    expect(await exported()).toBe(curationBefore);
    await shot('community-validation-error');

    await page.getByLabel('Accounts (DIDs)').fill(alpha!.members.join('\n'));
    await page.getByLabel('Never members').fill(excluded);
    await page.getByRole('button', { name: 'Save community' }).click();
    await page.locator('#view').getByText('Saved community alpha.').waitFor();
    // Saved as a new curation version in ClickHouse, comments kept; the curator file stays as it was.
    expect(await exported()).toContain(excluded);
    expect(await exported()).toContain('# Curated for the console test.');
    expect(await readFile(feedsFile, 'utf8')).toBe(fileBefore);
    await shot('community-saved');

    await page.goto(`${running.url}/console#/feeds/alpha-new`);
    await page.getByRole('heading', { level: 1, name: 'Alpha, newest' }).waitFor();
    // The feed reads its newest posts at most every 2 s; refresh until the edit shows.
    await waitFor('the excluded member to leave the preview', async () => {
      await page.getByRole('button', { name: 'Refresh' }).click();
      await page.waitForTimeout(300);
      return (await authors()).has(excluded) ? undefined : true;
    }, 15_000);
    expect((await authors()).size).toBeGreaterThan(0);
    await shot('feed-preview-after-edit');
  });

  it('edits a feed through the same checks as the file', async () => {
    await page.getByRole('link', { name: 'Feeds' }).click();
    await page.getByRole('link', { name: 'Edit Alpha, newest' }).click();
    await page.getByRole('heading', { level: 1, name: 'Edit feed: Alpha, newest' }).waitFor();
    const halfLife = page.getByLabel('Half-life (hours)');
    const halfLifeBefore = await halfLife.inputValue();
    await halfLife.fill('0');
    await page.getByRole('button', { name: 'Save feed' }).click();
    const error = page.getByRole('alert');
    await error.waitFor();
    expect(await error.textContent()).toContain('expected a positive number');

    await halfLife.fill(halfLifeBefore);
    await page.getByLabel('Display name').fill('Alpha, latest');
    await page.getByLabel('Include replies').check();
    await page.getByRole('button', { name: 'Save feed' }).click();
    await page.locator('#view').getByText('Saved feed alpha-new.').waitFor();
    expect(await page.getByRole('row', { name: /Alpha, latest/ }).textContent()).toContain('recent');
    const curation = await exported();
    expect(curation).toMatch(/displayName: Alpha, latest/);
    expect(curation).toMatch(/includeReplies: true/);
    const history = await fetch(`${running.url}/api/admin/curation/versions?limit=1`, { headers: { authorization: `Bearer ${adminToken}` } });
    expect(((await history.json()) as { versions: { source: string }[] }).versions[0]!.source).toBe('console');
    await shot('feeds');
  });

  it('makes a weekly digest and opens a conversation from the form, with their sections checked as in the file', async () => {
    await page.goto(`${running.url}/console#/feeds/new`);
    await page.getByRole('heading', { level: 1, name: 'New feed' }).waitFor();
    await page.getByLabel('Short name').fill('weekly');
    await page.getByLabel('Display name').fill('Common ground, weekly');
    await page.getByLabel('Alpha gardeners').check();
    await page.getByLabel('Beta cyclists').check();
    await page.getByLabel('Ranking').selectOption('digest');
    const digest = page.getByRole('group', { name: 'Digest' });
    await digest.getByLabel('Cadence').selectOption('weekly');
    await digest.getByLabel('Day', { exact: true }).selectOption('friday');
    await digest.getByLabel('Time of day').fill('17:30');
    await digest.getByLabel('Time zone').fill('Europe/Paris');
    await digest.getByLabel('Posts per edition').fill('500');
    await page.getByRole('button', { name: 'Save feed' }).click();
    // The file's own check words the refusal.
    await page.getByRole('alert').filter({ hasText: /size/ }).waitFor();
    await digest.getByLabel('Posts per edition').fill('12');
    await page.getByRole('button', { name: 'Save feed' }).click();
    await page.locator('#view').getByText('Saved feed weekly.').waitFor();

    await page.goto(`${running.url}/console#/feeds/new`);
    await page.getByLabel('Short name').fill('talk');
    await page.getByLabel('Display name').fill('Valley talk');
    await page.getByLabel('Alpha gardeners').check();
    await page.getByLabel('Ranking').selectOption('deliberation');
    const conversation = page.getByRole('group', { name: 'Conversation' });
    await conversation.getByLabel('Question').fill('What should the valleys share?');
    await conversation.getByLabel('Statements').selectOption('hashtag');
    await conversation.getByLabel('Hashtag').fill('#ValleyTalk');
    await conversation.getByLabel('Participants').selectOption('members');
    await page.getByRole('button', { name: 'Save feed' }).click();
    await page.locator('#view').getByText('Saved feed talk.').waitFor();

    const curation = await exported();
    expect(curation).toMatch(/weekly:[\s\S]*ranking: digest[\s\S]*cadence: weekly[\s\S]*day: friday[\s\S]*at: "?17:30"?[\s\S]*timeZone: Europe\/Paris[\s\S]*size: 12/);
    expect(curation).toMatch(/talk:[\s\S]*ranking: deliberation[\s\S]*title: What should the valleys share\?[\s\S]*hashtag: ValleyTalk[\s\S]*participants: members/);
    // What the file now holds opens in the form again, and the conversation's report is there.
    await page.goto(`${running.url}/console#/feeds/weekly/edit`);
    await expect(page.getByRole('group', { name: 'Digest' }).getByLabel('Time zone').inputValue()).resolves.toBe('Europe/Paris');
    // Its timescales follow the cadence (a week): the form leaves them empty, and saving it again writes none.
    await expect(page.getByLabel('Window (hours)').inputValue()).resolves.toBe('');
    await page.getByLabel('Description').fill('Every Friday evening');
    await page.getByRole('button', { name: 'Save feed' }).click();
    await page.locator('#view').getByText('Saved feed weekly.').waitFor();
    const weekly = (parseYaml(await exported()) as { feeds: Record<string, Record<string, unknown>> }).feeds['weekly']!;
    expect(weekly).toMatchObject({ description: 'Every Friday evening' });
    expect(Object.keys(weekly)).not.toContain('windowHours');
    expect(Object.keys(weekly)).not.toContain('halfLifeHours');
    // A new feed under a short name taken is refused before anything is written.
    await page.goto(`${running.url}/console#/feeds/new`);
    await page.getByLabel('Short name').fill('weekly');
    await page.getByLabel('Display name').fill('Not the weekly');
    await page.getByLabel('Alpha gardeners').check();
    await page.getByRole('button', { name: 'Save feed' }).click();
    await page.getByRole('alert').filter({ hasText: 'exists already' }).waitFor();
    expect(await exported()).not.toContain('Not the weekly');
    const report = await waitUntil('the conversation served', async () => {
      const response = await fetch(`${running.url}/api/conversations/talk`);
      return response.status === 200 ? ((await response.json()) as { title: string; source: unknown; participants: string }) : undefined;
    });
    expect(report).toMatchObject({ title: 'What should the valleys share?', source: { hashtag: 'valleytalk' }, participants: 'members', report: null });
    // Before its first report, its page already says where to take part.
    const tab = await context.newPage();
    try {
      await tab.goto(`${running.url}/conversations/talk`);
      await tab.getByText('No report yet').waitFor();
      await expect(tab.getByRole('link', { name: 'Vote in the feed on Bluesky' }).getAttribute('href')).resolves.toBe(`https://bsky.app/profile/${publisher}/feed/talk`);
      expect(await tab.locator('p.take-part').textContent()).toContain('post with #valleytalk');
    } finally {
      await tab.close();
    }
    await shot('feed-form-digest');
  });

  it('shows a digest’s editions to anyone on its public page, and says when there is no such digest', async () => {
    await running.app.get(ScoreSnapshotJob).runOnce();
    const editions = (await (await fetch(`${running.url}/api/feeds/weekly/editions`)).json()) as { editions: { posts: { uri: string; text: string | null }[] }[] };
    expect(editions.editions.length).toBeGreaterThan(0);
    const first = editions.editions[0]!.posts[0]!;
    // A new tab holds no token (the console keeps it in its own tab's session storage): it reads as anyone.
    const tab = await context.newPage();
    try {
      const response = await tab.goto(`${running.url}/digests/weekly`);
      expect(response?.status()).toBe(200);
      await tab.getByRole('heading', { level: 1, name: 'Common ground, weekly' }).waitFor();
      expect(await tab.title()).toBe('Common ground, weekly · Common Ground');
      await expect(tab.getByRole('link', { name: 'Read it on Bluesky' }).getAttribute('href')).resolves.toBe(`https://bsky.app/profile/${publisher}/feed/weekly`);
      expect(await tab.locator('section ol.preview > li').count()).toBe(editions.editions.reduce((sum, edition) => sum + edition.posts.length, 0));
      expect(await tab.locator('section ol.preview > li').first().locator('.text').textContent()).toBe(first.text ?? '(text not in the store)');
      // Its times read in its own zone, on its own day: Fridays at 17:30 in Paris, whatever the season.
      await expect(tab.locator('p.lead').textContent()).resolves.toMatch(/Next edition Friday,? \d+ \w+ \d{4},? at 17:30 \(Europe\/Paris\)\./);
      await tab.screenshot({ path: path.join(artifacts, 'digest-public.png'), fullPage: true });

      const missing = await tab.goto(`${running.url}/digests/common`);
      expect(missing?.status()).toBe(404);
      await expect(tab.getByRole('alert').textContent()).resolves.toBe('There is no digest "common".');
    } finally {
      await tab.close();
    }
  });

  it('sets and clears a feed’s label rules, and lets a members-only feed serve a community anyone can join once its curator says so', async () => {
    await page.goto(`${running.url}/console#/feeds/common/edit`);
    await page.getByRole('heading', { level: 1, name: 'Edit feed: Common ground' }).waitFor();
    await page.getByLabel('Remove posts labelled').fill('spam\nporn');
    await page.getByLabel('Rank lower posts labelled').fill('misleading');
    await page.getByLabel('Lowered by').fill('1');
    await page.getByRole('button', { name: 'Save feed' }).click();
    await page.getByRole('alert').filter({ hasText: /below 1/ }).waitFor();
    await page.getByLabel('Lowered by').fill('0.3');
    await page.getByRole('button', { name: 'Save feed' }).click();
    await page.locator('#view').getByText('Saved feed common.').waitFor();
    expect(await exported()).toMatch(/common:[\s\S]*exclude:\s*- spam\s*- porn\s*downrank:\s*labels:\s*- misleading\s*factor: 0.3/);
    await page.goto(`${running.url}/console#/feeds/common/edit`);
    await expect(page.getByLabel('Rank lower posts labelled').inputValue()).resolves.toBe('misleading');
    await page.getByLabel('Remove posts labelled').fill('');
    await page.getByLabel('Rank lower posts labelled').fill('');
    await page.getByRole('button', { name: 'Save feed' }).click();
    await page.locator('#view').getByText('Saved feed common.').waitFor();
    expect(await exported()).not.toMatch(/spam|misleading/);

    // Beta takes anyone who posts #cycling: a members-only feed over it needs its curator's consent.
    const saveMembersOnlyFeed = async () => {
      await page.goto(`${running.url}/console#/feeds/new`);
      await page.getByLabel('Short name').fill('beta-only');
      await page.getByLabel('Display name').fill('Beta, members');
      await page.getByLabel('Beta cyclists').check();
      await page.getByLabel('Members only').check();
      await page.getByRole('button', { name: 'Save feed' }).click();
    };
    await saveMembersOnlyFeed();
    await page.getByRole('alert').filter({ hasText: /allowSelfEnrolment/ }).waitFor();
    await page.goto(`${running.url}/console#/communities/beta/edit`);
    await page.getByLabel('Members-only feeds may serve it although anyone can join').check();
    await page.getByRole('button', { name: 'Save community' }).click();
    await page.locator('#view').getByText('Saved community beta.').waitFor();
    await saveMembersOnlyFeed();
    await page.locator('#view').getByText('Saved feed beta-only.').waitFor();
    expect(await exported()).toMatch(/beta:[\s\S]*allowSelfEnrolment: true[\s\S]*beta-only:[\s\S]*membersOnly: true/);
  });

  it('opens a community’s Bridge Fund from the form, edits it and closes it, with the file’s checks', async () => {
    await page.goto(`${running.url}/console#/funds`);
    await page.getByRole('heading', { level: 1, name: 'Bridge Funds' }).waitFor();
    await page.getByRole('link', { name: 'New fund' }).click();
    await page.getByRole('heading', { level: 1, name: 'New fund' }).waitFor();
    await page.getByLabel('Community').selectOption('beta');
    await page.getByLabel('Budget').fill('5000');
    await page.getByLabel('Page share').fill('2');
    await page.getByLabel('Common ground', { exact: true }).check();
    await page.getByRole('button', { name: 'Save fund' }).click();
    await page.getByRole('alert').filter({ hasText: /pageShare/ }).waitFor();
    await page.getByLabel('Page share').fill('0.25');
    await page.getByRole('button', { name: 'Save fund' }).click();
    await page.locator('#view').getByText('Saved the fund of beta.').waitFor();
    const fund = page.getByRole('region', { name: 'Fund of beta' });
    await fund.waitFor();
    expect(await fund.textContent()).toContain('boosts in common');
    expect(await exported()).toMatch(/funds:[\s\S]*beta:[\s\S]*budget: 5000[\s\S]*pageShare: 0.25[\s\S]*feeds:[\s\S]*- common/);

    await page.getByRole('link', { name: 'Edit the fund of beta' }).click();
    await expect(page.getByLabel('Budget').inputValue()).resolves.toBe('5000');
    await page.getByLabel('Budget').fill('7500');
    await page.getByRole('button', { name: 'Save fund' }).click();
    await page.locator('#view').getByText('Saved the fund of beta.').waitFor();
    expect(await exported()).toMatch(/budget: 7500/);
    await expect(page.getByRole('region', { name: 'Fund of beta' }).textContent()).resolves.toContain('budget 7,500');

    // A pledge recorded for a member who publishes no pledge record, then withdrawn.
    const member = beta!.members[0]!;
    const post = (await (await fetch(`${running.url}/xrpc/app.bsky.feed.getFeedSkeleton?feed=${encodeURIComponent(`at://${publisher}/app.bsky.feed.generator/common`)}&limit=1`)).json()) as { feed: { post: string }[] };
    const pledges = async () => (await running.app.get(FundRepository).pledges(0, Date.now() * 2000, ['beta'])).map(({ pledger, amount }) => ({ pledger, amount }));
    const betaFund = page.getByRole('region', { name: 'Fund of beta' });
    await betaFund.getByText('Record a pledge for a member').click();
    await betaFund.getByLabel('Member (DID)').fill(member);
    await betaFund.getByLabel('Post (at:// URI)').fill('not a post');
    await betaFund.getByLabel('Credits').fill('5');
    await betaFund.getByRole('button', { name: 'Record pledge' }).click();
    await betaFund.getByRole('alert').filter({ hasText: /post/ }).waitFor();
    await betaFund.getByLabel('Post (at:// URI)').fill(post.feed[0]!.post);
    await betaFund.getByRole('button', { name: 'Record pledge' }).click();
    await betaFund.getByRole('status').filter({ hasText: `Recorded a pledge of 5 credits from ${member}` }).waitFor();
    expect(await pledges()).toEqual([{ pledger: member, amount: 5 }]);
    await shot('funds-with-form');
    // The record key the form was given is the one it withdraws.
    await betaFund.getByRole('button', { name: 'Withdraw pledge' }).click();
    await betaFund.getByRole('status').filter({ hasText: 'Withdrew the pledge' }).waitFor();
    expect(await pledges()).toEqual([]);

    await page.getByRole('link', { name: 'Edit the fund of beta' }).click();
    page.once('dialog', (dialog) => void dialog.accept());
    await page.getByRole('button', { name: 'Close fund' }).click();
    await page.locator('#view').getByText('Closed the fund of beta.').waitFor();
    const funds = await fetch(`${running.url}/api/admin/funds`, { headers: { authorization: `Bearer ${adminToken}` } });
    expect(((await funds.json()) as { funds: { community: string }[] }).funds).toEqual([]);
    expect(await exported()).not.toMatch(/budget:/);
  });

  it('works at a phone’s width: every section fits the screen, and a wide table scrolls by itself', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    try {
      for (const [section, heading] of [
        ['health', 'Pipeline health'],
        ['communities', 'Communities'],
        ['feeds', 'Feeds'],
        ['feeds/common', /Common ground/],
        ['funds', 'Bridge Funds'],
        ['labels', 'Labels'],
        ['notes', 'Context notes'],
      ] as const) {
        await page.goto(`${running.url}/console#/${section}`);
        await page.getByRole('heading', { level: 1, name: heading }).waitFor();
        // Nothing wider than the screen: the page never scrolls sideways.
        const widths = await page.locator('html').evaluate((element) => ({ scroll: element.scrollWidth, client: element.clientWidth }));
        expect({ section, ...widths }).toEqual({ section, scroll: widths.client, client: widths.client });
      }
      await page.goto(`${running.url}/console#/feeds`);
      const table = page.getByRole('table', { name: /feeds/ });
      expect(await table.evaluate((element) => element.scrollWidth > element.clientWidth)).toBe(true);
      await shot('feeds-phone');
    } finally {
      await page.setViewportSize({ width: 1280, height: 900 });
    }
  });

  it('passes the accessibility engine’s checks on every page, light and dark: sign-in, each section and form, and the public pages', async () => {
    const skeleton = await fetch(`${running.url}/xrpc/app.bsky.feed.getFeedSkeleton?feed=${encodeURIComponent(`at://${publisher}/app.bsky.feed.generator/common`)}&limit=1`);
    const post = ((await skeleton.json()) as { feed: { post: string }[] }).feed[0]!.post;
    const pages = [
      ...['health', 'communities', 'communities/alpha/edit', 'communities/new', 'feeds', 'feeds/common', 'feeds/common/edit', 'feeds/weekly/edit', 'feeds/talk/edit', 'feeds/new', 'feeds/weekly/editions', 'funds', 'funds/new', 'labels', 'notes'].map(
        (section) => `/console#/${section}`,
      ),
      '/digests/weekly',
      '/conversations/talk',
      `/notes?post=${encodeURIComponent(post)}`,
    ];
    const found: string[] = [];
    const check = async (tab: Page, name: string) => {
      // Whatever state a page is in must pass; a moment after its heading, most have their data.
      await tab.getByRole('heading', { level: 1 }).first().waitFor();
      await tab.waitForTimeout(300);
      found.push(...(await accessibilityViolations(tab)).map((violation) => `${name}: ${violation}`));
    };
    // A tab of its own holds no token: the console asks for one.
    const signIn = await context.newPage();
    try {
      await signIn.goto(`${running.url}/console`);
      await check(signIn, 'sign-in');
    } finally {
      await signIn.close();
    }
    for (const scheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme: scheme });
      for (const at of pages) {
        await page.goto(`${running.url}${at}`);
        await check(page, `${scheme} ${at}`);
      }
    }
    await page.emulateMedia({ colorScheme: 'light' });
    expect(found).toEqual([]);
  });
});
