/**
 * Console load times with a million scored posts: one feed's snapshot of 1,000,000 ranked posts
 * (and the posts themselves) in embedded ClickHouse on disk, then the console's JSON APIs and
 * pages timed one request at a time, as a curator would load them.
 *
 *     npm run bench:console                 # BENCH_POSTS=1000000 BENCH_RUNS=30
 *
 * Prints p50/p95/max per API and, with the packaged Chromium (`node scripts/chromium.mjs`), the
 * time from navigation start to the rendered view in a real browser (the console's own
 * `cg:rendered` performance mark: HTML, modules, stylesheets, API calls and rendering). The budget
 * is 200 ms per page.
 */
import 'reflect-metadata';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { ClickHouseClient } from '#lib/clickhouse';
import { loadConfig } from '#lib/config';
import { encodeFeedCursor } from '#lib/domain';
import { CLICKHOUSE, formatDuration, terminalProgress } from '#lib/platform';
import { CHROMIUM_ARGS, ensureChromium } from '#scripts/chromium.mjs';
import { startApp } from '../services/app/src/app.factory.js';

const posts = Number(process.env.BENCH_POSTS ?? 1_000_000);
const runs = Number(process.env.BENCH_RUNS ?? 30);
const budgetMs = 200;
const publisher = 'did:plc:benchpublisher00000000000';
const token = 'console-bench-token-0123456789abcdef';
const database = 'console_bench';
const feedUri = `at://${publisher}/app.bsky.feed.generator/million`;

const dir = await mkdtemp(path.join(os.tmpdir(), 'cg-console-bench-'));
await writeFile(
  path.join(dir, 'feeds.yaml'),
  [
    'communities:',
    '  north: { name: North, members: { dids: [did:plc:north000000000000000000000], hashtags: [north] } }',
    '  south: { name: South, members: { dids: [did:plc:south000000000000000000000], followersOf: [did:plc:south000000000000000000000] } }',
    'feeds:',
    '  million: { displayName: A million posts, communities: [north, south], ranking: bridging, windowHours: 720 }',
    '  newest: { displayName: Newest, communities: [north, south] }',
  ].join('\n'),
);
const running = await startApp(
  loadConfig({
    DATA_DIR: dir,
    CLICKHOUSE_DATABASE: database,
    JETSTREAM_URL: 'ws://127.0.0.1:9/subscribe',
    FEEDS_FILE: path.join(dir, 'feeds.yaml'),
    FEEDGEN_PUBLISHER_DID: publisher,
    ADMIN_TOKEN: token,
    SCORING_SNAPSHOTS: 'false',
    HTTP_PORT: '0',
    OPS_PORT: '0',
    HTTP_BIND_HOST: '127.0.0.1',
    // Nothing to ingest here (the Jetstream address is a closed port): keep its retries quiet.
    LOG_LEVEL: 'error',
  }),
);
const clickhouse = running.app.get<ClickHouseClient>(CLICKHOUSE);

// One snapshot of `posts` ranked posts, with realistic context and components, and the posts.
const loadStarted = performance.now();
const snapshot = Date.now();
const did = `concat('did:plc:', lower(hex(cityHash64(number % 50000))))`;
await clickhouse.command({
  query: `INSERT INTO ${database}.posts (did, rkey, cid, time_us, created_at, text, langs, tags, reply_root, reply_parent, quote, has_media, deleted, version)
    SELECT ${did}, concat('3l', toString(number)), concat('bafyrei', lower(hex(cityHash64(number)))),
      toUInt64((toUnixTimestamp(now()) - number % 86400) * 1000000), now64(3),
      concat('post number ', toString(number), ' about gardens, bikes and the town square'), ['en'], [], '', '', '', 0, 0, 1
    FROM numbers(${posts})`,
});
await clickhouse.command({
  query: `INSERT INTO ${database}.feed_scores (feed, snapshot, rank, uri, cid, score, feed_context, components)
    SELECT {feed:String}, {snapshot:UInt64}, number + 1,
      concat('at://', ${did}, '/app.bsky.feed.post/3l', toString(number)), concat('bafyrei', lower(hex(cityHash64(number)))),
      1 / (number + 1), '{"v":1,"b":["north","south"],"d":[]}',
      concat('{"ranking":"bridging","score":', toString(1 / (number + 1)), ',"bridging":0.8,"decay":0.9,"ageHours":3.2,',
        '"supportedBy":["north","south"],"divisiveIn":[],"groups":[{"group":"north","approvals":12,"exposure":30,"rate":0.4},',
        '{"group":"south","approvals":9,"exposure":25,"rate":0.36}],"gic":0.41,"geoMean":0.64,"eligible":true}')
    FROM numbers(${posts})`,
  query_params: { feed: feedUri, snapshot },
});
await clickhouse.insert({ table: `${database}.feed_snapshots`, values: [{ feed: feedUri, snapshot, posts }], format: 'JSONEachRow' });
console.log(`loaded ${posts.toLocaleString('en-US')} posts and one snapshot of ${posts.toLocaleString('en-US')} ranked posts in ${formatDuration((performance.now() - loadStarted) / 1000)}`);

const auth = { authorization: `Bearer ${token}` };
const consolePage = await (await fetch(`${running.url}/console`)).text();
/** A module the page names, by the start of its file name (`main.`, `uPlot.esm.`). */
function modulePath(name: string): string {
  const found = [...consolePage.matchAll(/(?:src|href)="(\/console\/assets\/[^"]+\.js)"/g)].find((match) => match[1]!.startsWith(`/console/assets/${name}`));
  if (!found) throw new Error(`the console page names no module ${name}`);
  return found[1]!;
}
async function uriAtRank(rank: number): Promise<string> {
  const result = await clickhouse.query({
    query: `SELECT uri FROM ${database}.feed_scores WHERE feed = {feed:String} AND snapshot = {snapshot:UInt64} AND rank = {rank:UInt32}`,
    query_params: { feed: feedUri, snapshot, rank },
    format: 'JSONEachRow',
  });
  return (await result.json<{ uri: string }>())[0]!.uri;
}
const routes: [label: string, url: string, headers?: Record<string, string>][] = [
  ['page /console (HTML)', '/console'],
  ['entry module (fingerprinted, cached by browsers)', modulePath('main.')],
  ['uPlot module (brotli, cached by browsers)', modulePath('uPlot.esm.')],
  ['api overview (health page)', '/api/admin/console/overview', auth],
  ['api curation (communities, feeds)', '/api/admin/curation', auth],
  ['api community members', '/api/admin/communities/north/members', auth],
  ['api preview top 30 (ranked)', '/api/admin/feeds/million/preview?limit=30', auth],
  ['api preview top 100 (ranked)', '/api/admin/feeds/million/preview?limit=100', auth],
  ['api preview top 30 (recent)', '/api/admin/feeds/newest/preview?limit=30', auth],
  ['api explain one post (rank 900,000)', `/api/feeds/million/explain?post=${encodeURIComponent(await uriAtRank(900_000))}`, auth],
  ['getFeedSkeleton first page', `/xrpc/app.bsky.feed.getFeedSkeleton?feed=${encodeURIComponent(feedUri)}&limit=30`],
  [
    'getFeedSkeleton deep page (rank 500,000)',
    `/xrpc/app.bsky.feed.getFeedSkeleton?feed=${encodeURIComponent(feedUri)}&limit=30&cursor=${encodeURIComponent(encodeFeedCursor({ ordering: `s${snapshot}`, sortKey: 500_000, cid: 'bafyreiaaaaaaaaa' }))}`,
  ],
];

const percentile = (sorted: number[], share: number) => sorted[Math.min(sorted.length - 1, Math.floor(share * sorted.length))]!;
let overBudget = 0;

const progress = terminalProgress({ label: 'timing', total: routes.length * runs, unit: 'requests' });
const lines: string[] = [];
let done = 0;
for (const [label, route, headers] of routes) {
  const times: number[] = [];
  let first = 0;
  for (let run = 0; run <= runs; run += 1) {
    const started = performance.now();
    const response = await fetch(`${running.url}${route}`, { headers });
    await response.arrayBuffer();
    const ms = performance.now() - started;
    if (!response.ok) throw new Error(`${route} answered ${response.status}`);
    if (run === 0) first = ms;
    else times.push(ms);
    progress.update((done += run === 0 ? 0 : 1), label);
  }
  times.sort((a, b) => a - b);
  const p95 = percentile(times, 0.95);
  if (p95 > budgetMs) overBudget += 1;
  lines.push(
    `${label.padEnd(44)} first ${first.toFixed(1).padStart(7)} ms   p50 ${percentile(times, 0.5).toFixed(1).padStart(6)} ms   p95 ${p95.toFixed(1).padStart(6)} ms   max ${times.at(-1)!.toFixed(1).padStart(6)} ms`,
  );
}
progress.finish();
console.log(lines.join('\n'));

// The pages as a browser loads them: navigation to rendered content, token already signed in.
const executablePath = await ensureChromium().catch((error: unknown) => {
  console.log(`browser: no Chromium (${(error as Error).message}); page render times skipped`);
  return undefined;
});
if (executablePath) {
  const { default: playwright } = await import('playwright-core');
  const context = await playwright.chromium.launchPersistentContext(await mkdtemp(path.join(dir, 'profile-')), {
    executablePath,
    // A language tag of its own: the packaged Chromium reads `en-US@posix` from a C locale, which Intl refuses.
    locale: 'en-US',
    headless: true,
    args: [...CHROMIUM_ARGS],
  });
  await context.addInitScript({ content: `sessionStorage.setItem('common-ground.admin-token', ${JSON.stringify(token)});` });
  const page = context.pages()[0] ?? (await context.newPage());
  const pages: [label: string, hash: string, ready: string][] = [
    ['browser: health page', '#/health', 'figure.chart'],
    ['browser: communities page', '#/communities', 'table tbody tr'],
    ['browser: feeds page', '#/feeds', 'table tbody tr'],
    ['browser: preview of the 1 M-post feed (top 30)', '#/feeds/million', 'ol.preview > li'],
  ];
  // Where the time goes, from the browser's own timings: document and script ready, the API calls, rendering.
  const breakdown = `(() => {
    const navigation = performance.getEntriesByType('navigation')[0];
    const api = performance.getEntriesByType('resource').filter((entry) => entry.name.includes('/api/'));
    const rendered = performance.getEntriesByName('cg:rendered')[0].startTime;
    return {
      rendered,
      ready: navigation.domContentLoadedEventEnd,
      api: api.length ? Math.max(...api.map((entry) => entry.responseEnd)) - Math.min(...api.map((entry) => entry.startTime)) : 0,
    };
  })()`;
  for (const [label, hash, ready] of pages) {
    const samples: { rendered: number; ready: number; api: number }[] = [];
    for (let run = 0; run <= Math.min(runs, 10); run += 1) {
      await page.goto('about:blank');
      await page.goto(`${running.url}/console${hash}`);
      await page.locator(ready).first().waitFor();
      // The console marks the moment a view is on screen; its time counts from navigation start.
      if (run > 0) samples.push(await page.evaluate<{ rendered: number; ready: number; api: number }>(breakdown));
    }
    const times = samples.map((sample) => sample.rendered).sort((a, b) => a - b);
    const median = (key: 'ready' | 'api') => percentile(samples.map((sample) => sample[key]).sort((a, b) => a - b), 0.5);
    const p95 = percentile(times, 0.95);
    if (p95 > budgetMs) overBudget += 1;
    console.log(
      `${label.padEnd(48)} p50 ${percentile(times, 0.5).toFixed(1).padStart(6)} ms   p95 ${p95.toFixed(1).padStart(6)} ms   max ${times.at(-1)!.toFixed(1).padStart(6)} ms` +
        `   (p50: document+script ready ${median('ready').toFixed(0)} ms, API ${median('api').toFixed(0)} ms)`,
    );
  }
  // Moving between views inside the console (the usual case): from the click to the view on screen.
  const navigate = (hash: string) => `(async () => {
    const before = performance.getEntriesByName('cg:rendered').length;
    const started = performance.now();
    location.hash = ${JSON.stringify(hash)};
    while (performance.getEntriesByName('cg:rendered').length === before) await new Promise((resolve) => setTimeout(resolve, 1));
    return performance.getEntriesByName('cg:rendered').at(-1).startTime - started;
  })()`;
  for (const [label, hash] of pages) {
    const times: number[] = [];
    for (let run = 0; run <= Math.min(runs, 10); run += 1) {
      await page.evaluate(navigate(hash === '#/health' ? '#/feeds' : '#/health'));
      const ms = Number(await page.evaluate(navigate(hash)));
      if (run > 0) times.push(ms);
    }
    times.sort((a, b) => a - b);
    const p95 = percentile(times, 0.95);
    if (p95 > budgetMs) overBudget += 1;
    console.log(`${label.replace('browser:', 'in-app:').padEnd(48)} p50 ${percentile(times, 0.5).toFixed(1).padStart(6)} ms   p95 ${p95.toFixed(1).padStart(6)} ms   max ${times.at(-1)!.toFixed(1).padStart(6)} ms`);
  }
  await context.close();
}
console.log(overBudget === 0 ? `every page and API within ${budgetMs} ms (p95)` : `${overBudget} over the ${budgetMs} ms budget (p95)`);

await running.close();
await rm(dir, { recursive: true, force: true });
