import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Secp256k1Keypair } from '@atproto/crypto';
import { loadConfig } from '#lib/config';
import { terminalProgress } from '#lib/platform';
import { FundRepository, NoteRepository, ScoreRepository } from '#lib/clickhouse';
import {
  generateJetstreamEvents,
  noteEvent,
  noteRequestEvent,
  pledgeEvent,
  ratingEvent,
  startJetstreamReplayServer,
  type JetstreamReplayServer,
} from '#lib/testing';
import { JetstreamIngestService } from '../../ingest/src/jetstream-ingest.service.js';
import { EventBatchConsumer } from '../../scoring/src/event-batch.consumer.js';
import { NotesStep } from '../../scoring/src/notes.step.js';
import { ScoreSnapshotJob } from '../../scoring/src/score-snapshot.job.js';
import { startApp } from './app.factory.js';

/** The demo's feeds: one of each ranking over the planted communities. */
const FEEDS = {
  recent: 'demo-recent',
  bridging: 'demo-bridging',
  within: 'demo-agree',
  balanced: 'demo-balanced',
  gardeners: 'demo-gardeners',
  digest: 'demo-digest',
  conversation: 'demo-birders',
} as const;

/**
 * `npm run demo`: the embedded pipeline, offline. A local Jetstream replays a generated sample
 * of realistic Bluesky events (real record shapes, power-law activity, planted communities with
 * planted bridging posts, a few malformed frames); the pipeline ingests, stores, ranks and serves
 * it like the live network: a bridging feed across the communities, a bridging-within and a
 * balanced feed of one, newest-first feeds, a daily digest that ends, and an open conversation
 * (the birders' hashtag) with its live report.
 *
 * The terminal output is for a person: a progress bar, the URLs to try, and the skipped frames
 * summarised by reason (the per-event warnings stay in the log at LOG_LEVEL=warn).
 */
async function demo(): Promise<void> {
  const base = loadConfig();
  const dataDir = path.join(base.dataDir, 'demo');
  await rm(dataDir, { recursive: true, force: true });
  await mkdir(dataDir, { recursive: true });

  const now = Date.now();
  const sample = generateJetstreamEvents({
    seed: 2026,
    users: 3_000,
    events: 150_000,
    startUs: (now - 6 * 3_600_000) * 1000,
    durationSec: 6 * 3_600 - 60,
    communities: [
      { name: 'gardeners', members: 300 },
      { name: 'cyclists', members: 250 },
      { name: 'birders', members: 200 },
    ],
    malformedEvery: 5_000,
  });
  const feedsFile = path.join(dataDir, 'feeds.yaml');
  await writeFile(feedsFile, demoCuration(sample.communities));

  // An empty ADMIN_TOKEN would turn the console off: the demo always has one to sign in with.
  const adminToken = process.env.ADMIN_TOKEN || randomBytes(24).toString('base64url');
  const replay = await startJetstreamReplayServer({ events: sample.events });
  // The demo is its own labeler (did:web:localhost, whose did.json names the key), with a key made for the run.
  const labelerKey = await Secp256k1Keypair.create({ exportable: true });
  const config = loadConfig({
    LABELER_DID: 'did:web:localhost',
    LABELER_SIGNING_KEY: Buffer.from(await labelerKey.export()).toString('hex'),
    LABELER_ENDPOINT: 'http://localhost:3000',
    ...process.env,
    // @NOTE Per-event warnings (the sample's malformed frames) would bury the URLs; they are
    // summarised below instead. LOG_LEVEL set by the person running the demo wins.
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'error',
    DATA_DIR: dataDir,
    JETSTREAM_URL: replay.subscribeUrl,
    FEEDS_FILE: feedsFile,
    ADMIN_TOKEN: adminToken,
    // The demo computes its snapshots as soon as the replay is in; afterwards, every 30 s as usual.
    SCORING_INTERVAL_SECONDS: process.env.SCORING_INTERVAL_SECONDS ?? '30',
    // The sample's accounts exist nowhere else: backfilling them would ask the public PLC directory
    // and AppView about hundreds of made-up DIDs, and list each as failed.
    BACKFILL_ENABLED: process.env.BACKFILL_ENABLED ?? 'false',
  });
  const running = await startApp(config);

  const progress = terminalProgress({ label: 'replay → ClickHouse', total: sample.counts.mappable, unit: 'events' });
  const scoring = running.app.get(EventBatchConsumer);
  while (scoring.stats.written < sample.counts.mappable) {
    progress.update(scoring.stats.written);
    await sleep(200);
  }
  progress.update(scoring.stats.written);
  progress.finish();

  await pledgeToBridgingPosts(replay, sample, running.app.get(FundRepository));
  const rankingStarted = performance.now();
  const runs = await running.app.get(ScoreSnapshotJob).runOnce();
  const ranked = runs.map((run) => `${run.feed.split('/').at(-1)} ${run.posts} posts${run.boosted ? ` (${run.boosted} boosted)` : ''}`).join(', ');
  process.stderr.write(`ranked ${runs.length} feeds in ${((performance.now() - rankingStarted) / 1000).toFixed(1)} s: ${ranked}\n`);

  const publisher = config.feedGenerator.publisherDid;
  const feedUri = (name: string) => `at://${publisher}/app.bsky.feed.generator/${name}`;
  const feedUrl = (name: string) => `${running.url}/xrpc/app.bsky.feed.getFeedSkeleton?feed=${feedUri(name)}&limit=10`;
  // Context notes, then a second run: it scores them, with the raters' priors from the first run's
  // factor model of the gardeners' likes, and lowers the noted post in the bridging feed.
  const scores = running.app.get(ScoreRepository);
  const bridging = (await scores.top(feedUri(FEEDS.bridging), (await scores.latestSnapshot(feedUri(FEEDS.bridging)))!.snapshot, 3)).map((item) => item.uri);
  const noted = await writeNotes(replay, sample, running.app.get(NoteRepository), bridging.at(-1)!);
  await running.app.get(ScoreSnapshotJob).runOnce();
  const notes = running.app.get(NotesStep).stats.last!;
  const firstPost = await firstPostOf(feedUrl(FEEDS.bridging));
  const ingest = running.app.get(JetstreamIngestService).stats;
  const skipped = [...ingest.malformedByReason].map(([reason, count]) => `${count} ${reason}`).join(', ');

  process.stdout.write(
    [
      '',
      'Common Ground demo: the feeds are serving.',
      '',
      'Feeds (getFeedSkeleton):',
      `  bridging across gardeners, cyclists and birders  ${feedUrl(FEEDS.bridging)}`,
      `  bridging within the gardeners                    ${feedUrl(FEEDS.within)}`,
      `  the gardeners, both sides balanced               ${feedUrl(FEEDS.balanced)}`,
      `  newest posts of every community                  ${feedUrl(FEEDS.recent)}`,
      `  today's digest (ends after 10 posts)             ${feedUrl(FEEDS.digest)}`,
      `  its editions                                     ${running.url}/digests/${FEEDS.digest} (JSON: ${running.url}/api/feeds/${FEEDS.digest}/editions)`,
      `  statements of the birders' conversation          ${feedUrl(FEEDS.conversation)}`,
      `  operations (status, metrics)                     ${running.opsUrl}/status`,
      '',
      firstPost
        ? `Why is the top bridging post there?  ${running.url}/api/feeds/${FEEDS.bridging}/explain?post=${encodeURIComponent(firstPost)}`
        : 'The bridging feed has no post yet: the sample gave it too little evidence.',
      `The conversation's live report:  ${running.url}/conversations/${FEEDS.conversation}`,
      `Bridge Funds: the gardeners' ledger  ${running.url}/api/funds/gardeners/current`,
      `              the cyclists' ledger   ${running.url}/api/funds/cyclists/current`,
      '              boosted items carry "f" (the funds) in their feedContext and a "boost" in their explanation',
      `Signed labels from the bridging provenance (${config.labeler.did}):  ${running.url}/xrpc/com.atproto.label.queryLabels?uriPatterns=*`,
      `Context notes: ${notes.helpful.length} helpful of ${notes.scored} rated; ${notes.priors} raters seeded from their likes, ` +
        `${Math.round(notes.agreementWithoutPriors * 100)}% of statuses the same without them`,
      `  the helpful note's page   ${running.url}/notes?post=${encodeURIComponent(noted)}`,
      `  the post, lowered by the note in the bridging feed   ${running.url}/api/feeds/${FEEDS.bridging}/explain?post=${encodeURIComponent(noted)}`,
      `  its readers-added-context label   ${running.url}/xrpc/com.atproto.label.queryLabels?uriPatterns=${encodeURIComponent(noted)}`,
      `  posts waiting for a note   ${running.url}/api/notes/requests`,
      `Console (sign in with the token ${adminToken}):  ${running.url}/console`,
      '',
      `Skipped frames: ${ingest.malformed}${skipped ? ` (${skipped})` : ''}; the sample plants one malformed frame in every 5,000.`,
      'Press Ctrl-C to stop.',
      '',
    ].join('\n'),
  );

  const stop = async () => {
    await running.close();
    await replay.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}

/** What the demo's records are made from: the planted communities and bridging posts. */
interface DemoSample {
  communities: { name: string; members: string[] }[];
  bridgingPosts: string[];
}

/** The members of the community `name` who belong to none of `others`. */
function membersOnlyOf(sample: DemoSample, name: string, ...others: string[]): string[] {
  const membersOf = (id: string) => sample.communities.find((community) => community.name === id)?.members ?? [];
  const elsewhere = new Set(others.flatMap(membersOf));
  return membersOf(name).filter((did) => !elsewhere.has(did));
}

/** Pledges the demo's members make as records, through the local Jetstream: gardeners and cyclists to planted bridging posts. */
const DEMO_PLEDGES = 6;

async function pledgeToBridgingPosts(replay: JetstreamReplayServer, sample: DemoSample, funds: FundRepository): Promise<void> {
  const onlyGardeners = membersOnlyOf(sample, 'gardeners', 'cyclists');
  const onlyCyclists = membersOnlyOf(sample, 'cyclists', 'gardeners');
  const pledges = sample.bridgingPosts.slice(0, DEMO_PLEDGES).flatMap((post, i) => [
    pledgeEvent({ did: onlyGardeners[i % onlyGardeners.length]!, community: 'gardeners', post, amount: 40 + 10 * i }),
    pledgeEvent({ did: onlyCyclists[i % onlyCyclists.length]!, community: 'cyclists', post, amount: 30 + 5 * i }),
  ]);
  replay.push(...pledges);
  while ((await funds.pledges(0, Date.now() * 2000)).length < pledges.length) await sleep(200);
}

/**
 * Context notes as records through the local Jetstream, rated by gardeners and cyclists (the two
 * sides): a note both find helpful on `target` (a post of the bridging feed), one only gardeners
 * like, two that split them, and a birder's request for a note. Returns `target`.
 */
async function writeNotes(replay: JetstreamReplayServer, sample: DemoSample, notes: NoteRepository, target: string): Promise<string> {
  const sideA = membersOnlyOf(sample, 'gardeners', 'cyclists', 'birders').slice(0, 8);
  const sideB = membersOnlyOf(sample, 'cyclists', 'gardeners', 'birders').slice(0, 8);
  const writers = membersOnlyOf(sample, 'birders', 'gardeners', 'cyclists');
  const [bridged, oneSided, forA, forB] = [
    [target, 'outdated_information', 'This photo is from the 2019 show, not this year\'s.'],
    [sample.bridgingPosts[DEMO_PLEDGES + 1]!, 'misrepresentation_or_missing_context', 'The gardeners\' club says the figure counts members only.'],
    [sample.bridgingPosts[DEMO_PLEDGES + 2]!, 'other', 'Cycle lanes are cheaper per kilometre than roads.'],
    [sample.bridgingPosts[DEMO_PLEDGES + 3]!, 'other', 'Hedges shelter more birds than fences.'],
  ].map(([post, reason, text], i) => noteEvent({ did: writers[i]!, post: post!, reason: reason!, text: text! }));
  const rate = (note: { uri: string; cid: string }, raters: readonly string[], helpfulness: 'helpful' | 'somewhat_helpful' | 'not_helpful') =>
    raters.map((did) => ratingEvent({ did, note, helpfulness }));
  const events = [
    bridged!.event,
    oneSided!.event,
    forA!.event,
    forB!.event,
    ...rate(forA!, sideA, 'helpful'),
    ...rate(forA!, sideB, 'not_helpful'),
    ...rate(forB!, sideB, 'helpful'),
    ...rate(forB!, sideA, 'not_helpful'),
    ...rate(bridged!, sideA.slice(0, 5), 'helpful'),
    ...rate(bridged!, sideB.slice(0, 4), 'helpful'),
    ...rate(bridged!, sideB.slice(4, 5), 'somewhat_helpful'),
    ...rate(oneSided!, sideA, 'helpful'),
    noteRequestEvent({ did: writers[5]!, post: sample.bridgingPosts[0]! }),
  ];
  replay.push(...events);
  const expected = events.filter((event) => event.commit.collection === 'org.opencommunitynotes.rating').length;
  while ((await notes.ratings()).length < expected) await sleep(200);
  return target;
}

/** The first post of a feed's first page, or undefined when it is empty. */
async function firstPostOf(url: string): Promise<string | undefined> {
  const response = await fetch(url);
  const body = (await response.json()) as { feed?: { post: string }[] };
  return body.feed?.[0]?.post;
}

function demoCuration(communities: { name: string; members: string[]; listUri: string }[]): string {
  const lines = ['# Generated by `npm run demo` for the replayed sample.', 'communities:'];
  for (const community of communities) {
    lines.push(`  ${community.name}:`, '    members:', `      dids: [${community.members.join(', ')}]`, `      lists: [${community.listUri}]`);
  }
  const all = `[${communities.map((community) => community.name).join(', ')}]`;
  lines.push(
    'funds:',
    '  gardeners: { budget: 500, matchingPool: 300, memberAllowance: 100 }',
    '  cyclists: { budget: 400, matchingPool: 200, memberAllowance: 100 }',
    'feeds:',
    `  ${FEEDS.bridging}:`,
    '    displayName: Common ground',
    '    description: Posts liked across the gardeners, the cyclists and the birders.',
    `    communities: ${all}`,
    '    ranking: bridging',
    '    # A post whose helpful context note says it misleads goes down the feed.',
    '    downrank: { labels: [readers-added-context], factor: 0.5 }',
    `  ${FEEDS.within}:`,
    '    displayName: Gardeners agree',
    '    description: What gardeners on both sides of their divide like.',
    '    communities: [gardeners]',
    '    ranking: bridging-within',
    `  ${FEEDS.balanced}:`,
    '    displayName: Gardeners, balanced',
    '    description: Both sides of the gardeners, a fair share each.',
    '    communities: [gardeners]',
    '    ranking: balanced',
    `  ${FEEDS.recent}:`,
    '    displayName: Demo, newest',
    '    description: The newest posts of every demo community.',
    `    communities: ${all}`,
    '    includeReplies: true',
    `  ${FEEDS.gardeners}:`,
    '    displayName: Gardeners, newest',
    '    communities: [gardeners]',
    `  ${FEEDS.digest}:`,
    '    displayName: Common ground, daily',
    '    description: Once a day, the ten posts the communities agreed on most; then you are caught up.',
    `    communities: ${all}`,
    '    ranking: digest',
    '    digest:',
    '      cadence: daily',
    '      at: "08:00"',
    '      timeZone: UTC',
    '      size: 10',
    '      base: bridging',
    `  ${FEEDS.conversation}:`,
    '    displayName: Birders talk',
    '    description: Statements tagged #birders: like what you agree with, "show less" what you do not.',
    '    communities: [birders]',
    '    ranking: deliberation',
    '    deliberation:',
    '      title: What birders say, and where they agree',
    '      hashtag: birders',
    '      participants: anyone',
  );
  return `${lines.join('\n')}\n`;
}

demo().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
