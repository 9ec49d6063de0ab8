/**
 * getFeedSkeleton under load with service-auth verification on, against 1 M scored posts.
 *
 *     npm run bench:feed        # BENCH_POSTS=1000000 BENCH_SECONDS=10 BENCH_CONNECTIONS=16 BENCH_TOKENS=20000 BENCH_VIEWERS=200
 *                               # BENCH_RECENT_POSTS=1000000 (0 skips the recent feed)
 *                               # BENCH_RUNS='first page, auth|deep' (runs whose label has a part) BENCH_VERIFY=0 (skip verify/s)
 *                               # BENCH_CPU_PROFILE=feed.cpuprofile (server thread, measured runs only)
 *                               # BENCH_DISTINCT_VIEWERS=1000000 (viewers whose feedback the cache is offered)
 *
 * This process: the feed generator (role `feed-generator`, embedded ClickHouse in a temp dir, an
 * in-process bus that acknowledges impressions at once, as a broker would) and a local PLC
 * directory serving the DID documents of `BENCH_VIEWERS` secp256k1 accounts; the HTTP load comes
 * from a process of its own, so that this process's CPU is the server's. ClickHouse holds one complete `bridging` snapshot of `BENCH_POSTS` ranked posts (and
 * `BENCH_RECENT_POSTS` posts for the `recent` feed).
 *
 * Every authenticated request carries a different token, as the AppView mints a fresh service JWT
 * per request: a pool of `BENCH_TOKENS` distinct JWTs (createServiceJwt, signed by the viewers) is
 * sent in turn, continuing across runs, and the verifier's counters show that every request
 * checked a signature (its verified-token cache holds 10 000, fewer than the pool).
 *
 * Prints the configuration, service-auth verifications/s (@atproto/crypto, OpenSSL, libsecp256k1
 * on the event loop; and with 0, 1 and 2 signature threads, the CPU each check takes from the event
 * loop and from the process), how long holding the feeds in memory took (the recent
 * window and the snapshot, once their first deep page asked for them) and what they take, then
 * requests/s and p50/p99 at limit 50 for the first page (anonymous, authenticated, and
 * authenticated by viewers whose histories are not yet read), consecutive deep pages (rank
 * ~500 000), deep pages at random depths, and the recent feed's first, deep and random-depth
 * pages. Each run also shows how busy the server's event loop was, the CPU per request of server
 * and load generator (each its whole process), the server's CPU by thread (event loop, signature
 * thread, V8's garbage collection, libuv's pool, chDB) and its garbage-collection pauses: on a
 * shared machine req/s moves with the neighbours' load, CPU per request much less (the server's
 * figure counts chDB's background threads too; the in-process page costs leave them out). The
 * summary at the end puts every figure beside its goal and, under a goal of req/s not met, what
 * caps it: server and load generator share the machine's cores.
 *
 * Personalised runs: every viewer has a feedback history in ClickHouse (posts asked less and more
 * of, posts seen, 500 impressions among the top 2 000 ranks), so authenticated pages are served in
 * the viewer's personal order; the first page of a session and pages deep into one (positions up
 * to 500) are measured. Then the viewer-feedback cache is
 * offered `BENCH_DISTINCT_VIEWERS` distinct viewers' feedback (as the bus brings it) and the
 * process's resident set is read after a full GC: it must stay within the cache's bound.
 */
import 'reflect-metadata';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import os from 'node:os';
import { constants, PerformanceObserver, type NodeGCPerformanceDetail, type PerformanceEntry } from 'node:perf_hooks';
import path from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { P256Keypair, Secp256k1Keypair, type Keypair } from '@atproto/crypto';
import { createServiceJwt, cryptoVerifySignatureWithKey } from '@atproto/xrpc-server';
import type { ClickHouseClient } from '#lib/clickhouse';
import { loadConfig } from '#lib/config';
import { InProcessBus } from '#lib/bus';
import { Nsid } from '#lib/domain';
import { Topics } from '#lib/contracts';
import { CLICKHOUSE } from '#lib/platform';
import { startApp } from '../services/app/src/app.factory.js';
import { deterministicDidPlc, startPlcDirectory } from '#lib/testing';
import { ServiceAuthVerifier } from '../services/feed-generator/src/auth/service-auth.verifier.js';
import { SIGNATURE_THREAD_NAME } from '../services/feed-generator/src/auth/secp256k1-worker.pool.js';
import { SignatureVerifier } from '../services/feed-generator/src/auth/signature.verifier.js';
import { FeedRegistry } from '../services/feed-generator/src/feeds/feed.registry.js';
import { RecentFeed } from '../services/feed-generator/src/feeds/recent.feed.js';
import { SnapshotFeed } from '../services/feed-generator/src/feeds/snapshot.feed.js';
import { ViewerAdjustment } from '../services/feed-generator/src/feeds/viewer-adjustment.js';
import { ViewerFeedbackStore } from '../services/feed-generator/src/feeds/viewer-feedback.store.js';
import { formatLoad, runLoad, type LoadResult } from './http-load.js';
import { loadRecentPosts, loadScoredPosts, postUriSql } from './served-posts.js';

const posts = Number(process.env.BENCH_POSTS ?? 1_000_000);
const recentPosts = Number(process.env.BENCH_RECENT_POSTS ?? 1_000_000);
const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 16);
const tokenCount = Number(process.env.BENCH_TOKENS ?? 20_000);
const viewerCount = Number(process.env.BENCH_VIEWERS ?? 200);
const distinctViewers = Number(process.env.BENCH_DISTINCT_VIEWERS ?? 1_000_000);
/** Ranks a viewer's history draws its posts from: the top of the feed, where sessions begin. */
const HISTORY_RANKS = 2_000;
const AUTHORS = 1_000;
const LIMIT = 50;
/** The goals of issues 18 and 19, per run (a run meets its goal when every figure named is met, without errors). */
interface Goal {
  requestsPerSecond?: number;
  p99Ms?: number;
  /** Server CPU per request, ms (all its threads). */
  cpuMs?: number;
}
const GOALS = {
  anonymous: { requestsPerSecond: 14_000, p99Ms: 4 },
  auth: { requestsPerSecond: 8_000, p99Ms: 15 },
  anyDepth: { p99Ms: 20, cpuMs: 1 },
  personal: { p99Ms: 20 },
} satisfies Record<string, Goal>;

const publisher = 'did:plc:benchpublisher00000000000';
const serviceDid = 'did:web:feeds.bench.test';
const database = 'common_ground';
const feedUri = (shortname: string) => `at://${publisher}/${Nsid.generator}/${shortname}`;
const lxm = Nsid.getFeedSkeleton;

const dir = await mkdtemp(path.join(os.tmpdir(), 'cg-bench-feed-'));
const plc = await startPlcDirectory();
const authors = Array.from({ length: AUTHORS }, (_, i) => deterministicDidPlc(`bench-author-${i}`));
await writeFile(
  path.join(dir, 'feeds.yaml'),
  [
    'communities:',
    `  north: { members: { dids: [${authors.slice(0, AUTHORS / 2).join(', ')}] } }`,
    `  south: { members: { dids: [${authors.slice(AUTHORS / 2).join(', ')}] } }`,
    'feeds:',
    '  bridging: { displayName: Bridging, communities: [north, south], ranking: bridging }',
    '  recent: { displayName: Recent, communities: [north, south], ranking: recent, includeReplies: true }',
  ].join('\n'),
);
const config = loadConfig({
  DATA_DIR: dir,
  CLICKHOUSE_PATH: path.join(dir, 'clickhouse'),
  FEEDS_FILE: path.join(dir, 'feeds.yaml'),
  FEEDGEN_SERVICE_DID: serviceDid,
  FEEDGEN_PUBLISHER_DID: publisher,
  PLC_URL: plc.url,
  IDENTITY_ALLOW_INSECURE: 'true',
  // The bench's tokens live for the whole run (an hour at most).
  SERVICE_AUTH_MAX_EXP_SECONDS: '3600',
  HTTP_PORT: '0',
  OPS_PORT: '0',
  HTTP_BIND_HOST: '127.0.0.1',
  LOG_LEVEL: 'warn',
});
// @NOTE Nothing consumes impressions in this process; a retained topic acknowledges them at once
// (as Kafka does), where the plain in-process bus would hold every publish until a consumer came.
const bus = new InProcessBus({ retainedTopics: [Topics.feedback, Topics.deadLetter] });
const running = await startApp({ ...config, role: 'feed-generator' }, { bus });
const clickhouse = running.app.get<ClickHouseClient>(CLICKHOUSE);
const verifier = running.app.get(ServiceAuthVerifier);

try {
  // ---- data: one bridging snapshot of `posts` ranks, `recentPosts` posts by the community ----
  let started = performance.now();
  const snapshot = Date.now();
  await loadScoredPosts(clickhouse, { database, feed: feedUri('bridging'), snapshot, authors, posts });
  const newestUs = Date.now() * 1000;
  if (recentPosts > 0) await loadRecentPosts(clickhouse, { database, authors, newestUs, posts: recentPosts });
  const dataSeconds = (performance.now() - started) / 1000;

  // ---- identities and tokens ----
  started = performance.now();
  const viewers: { did: string; keypair: Keypair }[] = [];
  for (let i = 0; i < viewerCount; i += 1) {
    const viewer = { did: deterministicDidPlc(`bench-viewer-${i}`), keypair: await Secp256k1Keypair.create() };
    plc.publish(viewer.did, viewer.keypair, `viewer${i}.bench.test`);
    viewers.push(viewer);
  }
  // Valid for the whole run: the cost of a check does not depend on `exp`, only their number does.
  const exp = Math.floor(Date.now() / 1000) + 3_600;
  const tokens: string[] = [];
  for (let i = 0; i < tokenCount; i += 1) {
    const viewer = viewers[i % viewers.length]!;
    tokens.push(await createServiceJwt({ iss: viewer.did, aud: serviceDid, lxm, keypair: viewer.keypair, exp }));
  }
  if (new Set(tokens).size !== tokens.length) throw new Error('token pool is not distinct');
  // Every viewer's feedback history, an hour old: 20 posts asked less of, 5 more of, 50 seen; 500 impressions.
  const hourAgoUs = (Date.now() - 3_600_000) * 1000;
  const viewerDids = viewers.map((viewer) => viewer.did);
  await clickhouse.command({
    query: `INSERT INTO ${database}.interactions (actor, kind, rkey, subject_uri, subject_did, time_us, deleted, version, feed_context)
      SELECT {viewers:Array(String)}[intDiv(number, 75) + 1], multiIf(number % 75 < 20, 'requestLess', number % 75 < 25, 'requestMore', 'interactionSeen'),
        ${postUriSql('(intDiv(number, 75) * 7919 + (number % 75) * 104729) % {ranks:UInt32}')} AS uri, uri, splitByChar('/', uri)[3],
        {t:UInt64} - number % 75, 0, {t:UInt64} - number % 75, ''
      FROM numbers({rows:UInt64})`,
    query_params: { viewers: viewerDids, authors, n: AUTHORS, ranks: HISTORY_RANKS, t: hourAgoUs, rows: viewerCount * 75 },
  });
  await clickhouse.command({
    query: `INSERT INTO ${database}.impressions (viewer, post, feed, time_us)
      SELECT {viewers:Array(String)}[intDiv(number, 500) + 1], ${postUriSql('(intDiv(number, 500) * 31 + (number % 500) * 3) % {ranks:UInt32}')},
        {feed:String}, {t:UInt64} - number % 500
      FROM numbers({rows:UInt64})`,
    query_params: { viewers: viewerDids, authors, n: AUTHORS, ranks: HISTORY_RANKS, feed: feedUri('bridging'), t: hourAgoUs, rows: viewerCount * 500 },
  });
  if (tokenCount <= 10_000) console.warn(`BENCH_TOKENS=${tokenCount} is not above the verified-token cache (10000): some requests will be answered from it`);
  const tokenSeconds = (performance.now() - started) / 1000;

  console.log(
    [
      `feed bench: ${posts} scored posts in one bridging snapshot, ${recentPosts} posts for the recent feed (${AUTHORS} authors), ` +
        `loaded in ${dataSeconds.toFixed(1)} s`,
      `  HTTP: ${connections} keep-alive connections, ${seconds} s per run (after 1 s warm-up), limit=${LIMIT}, load from a process of its own, ` +
        `${os.availableParallelism()} cores, load average ${os.loadavg().map((n) => n.toFixed(1)).join(' ')}`,
      `  auth: ${viewerCount} secp256k1 viewers on a local PLC, ${tokenCount} distinct service JWTs (signed in ${tokenSeconds.toFixed(1)} s), ` +
        'one per request in turn; verified-token cache 10000 entries',
      `  personal: every viewer has a feedback history (20 requestLess, 5 requestMore, 50 interactionSeen, 500 impressions ` +
        `among the top ${HISTORY_RANKS} ranks); authenticated ranked pages are served in the viewer's personal order ` +
        `(window ${config.feedGenerator.viewerFeedback.window})`,
    ].join('\n'),
  );

  // ---- verifications/s, outside HTTP: @atproto/crypto (pure JS) vs. native ----
  /**
   * ServiceAuthVerifier.verify with unique tokens, the DID key already known and the token cache off.
   * `inFlight` concurrent callers (1: one after another, which is what a worker thread cannot speed up).
   * Besides the rate: the CPU each verification took from the event loop's thread, and from the process.
   */
  async function verifications(
    jwts: string[],
    keys: Map<string, string>,
    options: { verifySignature?: SignatureVerifier['verify']; signatureThreads?: number; inFlight?: number } = {},
  ): Promise<{ rate: number; loopUs: number; processUs: number }> {
    const auth = new ServiceAuthVerifier({
      serviceDid,
      idResolver: { resolveAtprotoKey: async (did) => keys.get(did)! },
      verifiedCacheSize: 0,
      maxExpAheadMs: 3_600_000,
      ...options,
    });
    let done = 0;
    const begin = performance.now();
    const loopCpu = process.threadCpuUsage();
    const processCpu = process.cpuUsage();
    const loop = async () => {
      while (performance.now() - begin < 2_000) {
        const result = await auth.verify(`Bearer ${jwts[done++ % jwts.length]}`, lxm);
        if (result.kind !== 'viewer') throw new Error('token did not verify');
      }
    };
    await Promise.all(Array.from({ length: options.inFlight ?? 1 }, loop));
    const rate = done / ((performance.now() - begin) / 1000);
    const loopUsed = process.threadCpuUsage(loopCpu);
    const processUsed = process.cpuUsage(processCpu);
    await auth.close();
    return { rate, loopUs: (loopUsed.user + loopUsed.system) / done, processUs: (processUsed.user + processUsed.system) / done };
  }
  const k256Keys = new Map(viewers.map((viewer) => [viewer.did, viewer.keypair.did()]));
  const p256Viewers = await Promise.all(Array.from({ length: 4 }, async (_, i) => ({ did: deterministicDidPlc(`bench-p256-${i}`), keypair: await P256Keypair.create() })));
  const p256Keys = new Map(p256Viewers.map((viewer) => [viewer.did, viewer.keypair.did()]));
  const p256Tokens = await Promise.all(
    Array.from({ length: 400 }, (_, i) => {
      const viewer = p256Viewers[i % p256Viewers.length]!;
      return createServiceJwt({ iss: viewer.did, aud: serviceDid, lxm, keypair: viewer.keypair, exp });
    }),
  );
  const k256Tokens = tokens.slice(0, 2_000);
  const k256Backend = new SignatureVerifier().secp256k1Backend;
  // BENCH_VERIFY=0 skips these (for profiling the HTTP runs alone).
  if (process.env.BENCH_VERIFY !== '0') {
    const atproto = { verifySignature: cryptoVerifySignatureWithKey };
    const rates = {
      k256Before: (await verifications(k256Tokens, k256Keys, atproto)).rate,
      k256OpenSsl: (await verifications(k256Tokens, k256Keys, { verifySignature: new SignatureVerifier({ secp256k1: 'openssl' }).verify })).rate,
      k256After: (await verifications(k256Tokens, k256Keys)).rate,
      p256Before: (await verifications(p256Tokens, p256Keys, atproto)).rate,
      p256After: (await verifications(p256Tokens, p256Keys)).rate,
    };
    // How many threads should check secp256k1 signatures: 0 (the event loop), 1 or 2, as a server sees them (64 requests in flight).
    const byThreads = [];
    for (const threads of [0, 1, 2]) byThreads.push({ threads, ...(await verifications(k256Tokens, k256Keys, { signatureThreads: threads, inFlight: 64 })) });
    const r = (rate: number) => `${Math.round(rate)}/s`;
    console.log(
      `service-auth verify (ServiceAuthVerifier.verify, unique tokens, token cache off, DID key known):\n` +
        `  ES256K (secp256k1): @atproto/crypto ${r(rates.k256Before)}, OpenSSL ${r(rates.k256OpenSsl)}, ${k256Backend} ${r(rates.k256After)} (on the event loop, one at a time)\n` +
        `  ES256K, ${k256Backend}, 64 in flight, CPU per verification (event loop / process): ` +
        byThreads.map(({ threads, rate, loopUs, processUs }) => `${threads} worker thread${threads === 1 ? '' : 's'} ${r(rate)}, ${loopUs.toFixed(0)} / ${processUs.toFixed(0)} µs`).join('; ') +
        `\n  ES256  (P-256):     @atproto/crypto ${r(rates.p256Before)}, OpenSSL ${r(rates.p256After)}`,
    );
  }

  // ---- HTTP ----
  let tokenOffset = 0;
  const rotatedTokens = () => {
    const start = tokenOffset % tokens.length;
    return [...tokens.slice(start), ...tokens.slice(0, start)].map((jwt) => ({ authorization: `Bearer ${jwt}` }));
  };
  async function load(urls: string[], auth: boolean, durationSec: number): Promise<LoadResult> {
    const result = await runLoad({ urls, connections, durationSec, process: true, ...(auth && { headerSets: rotatedTokens() }) });
    if (auth) tokenOffset += result.requests;
    return result;
  }

  const skeletonUrl = (feed: string, cursor?: string) =>
    `${running.url}/xrpc/${lxm}?feed=${encodeURIComponent(feedUri(feed))}&limit=${LIMIT}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
  // 100 consecutive deep pages (a reader scrolling from rank ~500 000), requested in turn.
  const deepRanks = Array.from({ length: 100 }, (_, i) => Math.floor(posts / 2) + i * LIMIT);
  // 200 pages at random depths: nearly every one needs its own ClickHouse read.
  const coldRanks = Array.from({ length: 200 }, (_, i) => Math.floor(((i * 7919) % 200) * (posts / 200) + 2_000 + ((i * 104_729) % 900)));
  const recentDeep = Array.from({ length: 100 }, (_, i) => newestUs - Math.floor(recentPosts / 2 + i * LIMIT) * 1000);

  /** `fresh`: the viewers' feedback cache is emptied first and the run has no warm-up, so each viewer's history is read as it comes. */
  const runs: { label: string; urls: string[]; auth: boolean; durationSec?: number; goal?: Goal; fresh?: boolean }[] = [
    { label: 'bridging first page, anonymous', urls: [skeletonUrl('bridging')], auth: false, goal: GOALS.anonymous },
    { label: 'bridging first page, auth (unique tokens)', urls: [skeletonUrl('bridging')], auth: true, goal: GOALS.auth },
    {
      label: `bridging first page, auth, histories not yet read (${viewerCount} viewers, each read from ClickHouse as it first comes)`,
      urls: [skeletonUrl('bridging')],
      auth: true,
      fresh: true,
      durationSec: Math.min(seconds, 5),
      goal: GOALS.personal,
    },
    {
      label: `bridging deep page (rank ~${deepRanks[0]}), anonymous`,
      urls: deepRanks.map((rank) => skeletonUrl('bridging', `s${snapshot}::${rank}::bafyreibench`)),
      auth: false,
      goal: GOALS.anyDepth,
    },
    {
      label: `bridging deep page (rank ~${deepRanks[0]}), auth (unique tokens)`,
      urls: deepRanks.map((rank) => skeletonUrl('bridging', `s${snapshot}::${rank}::bafyreibench`)),
      auth: true,
      goal: GOALS.anyDepth,
    },
    {
      label: 'bridging cold deep pages (200 random depths), auth (unique tokens)',
      urls: coldRanks.map((rank) => skeletonUrl('bridging', `s${snapshot}::${rank}::bafyreibench`)),
      auth: true,
      durationSec: Math.min(seconds, 5),
      goal: GOALS.anyDepth,
    },
  ];
  // Positions 0 … 500 of one session of each viewer's personal order: each page recomputes the order from the top.
  const sessionMs = Date.now();
  const personalPositions = Array.from({ length: 11 }, (_, i) => i * LIMIT);
  runs.push(
    { label: 'bridging first page, personalised (viewers with feedback histories)', urls: [skeletonUrl('bridging')], auth: true, goal: GOALS.personal },
    {
      label: `bridging personalised session pages (positions 0–${personalPositions.at(-1)}), viewers with feedback histories`,
      urls: personalPositions.map((position) => skeletonUrl('bridging', `p${snapshot}-${sessionMs}::${position}::bafyreibench`)),
      auth: true,
      goal: GOALS.personal,
    },
  );
  if (recentPosts > 0) {
    runs.push(
      { label: 'recent first page, auth (unique tokens)', urls: [skeletonUrl('recent')], auth: true, goal: GOALS.anyDepth },
      {
        label: `recent deep page (post ~${Math.floor(recentPosts / 2)}), auth (unique tokens)`,
        urls: recentDeep.map((timeUs) => skeletonUrl('recent', `t::${timeUs}::zzzzzzzz`)),
        auth: true,
        durationSec: Math.min(seconds, 5),
        goal: GOALS.anyDepth,
      },
      {
        label: 'recent cold deep pages (200 random depths), auth (unique tokens)',
        urls: coldRanks.map((rank) => skeletonUrl('recent', `t::${newestUs - Math.floor((rank / posts) * recentPosts) * 1000}::zzzzzzzz`)),
        auth: true,
        durationSec: Math.min(seconds, 5),
        goal: GOALS.anyDepth,
      },
    );
  }

  // BENCH_RUNS='first page, auth|deep' keeps the runs whose label contains one of the |-separated parts.
  const only = process.env.BENCH_RUNS?.split('|').map((word) => word.trim()).filter(Boolean);
  const selected = only ? runs.filter((run) => only.some((word) => run.label.includes(word))) : runs;

  // Every URL must answer a full page before it is measured.
  for (const run of selected) {
    const response = await fetch(run.urls[0]!, { headers: { authorization: `Bearer ${tokens[tokenOffset++ % tokens.length]}` } });
    const body = (await response.json()) as { feed?: unknown[] };
    if (response.status !== 200 || body.feed?.length !== LIMIT) throw new Error(`${run.label}: HTTP ${response.status} ${JSON.stringify(body).slice(0, 300)}`);
  }

  // Every viewer once, before any run: identities resolved and histories read, so that the first
  // authenticated run does not pay for them (on a loaded machine its 1 s warm-up is not enough).
  // The "histories not yet read" run empties the cache again and measures exactly that.
  if (selected.some((run) => run.auth)) {
    const byViewer = Array.from({ length: Math.min(viewerCount, tokens.length) }, () => tokens[tokenOffset++ % tokens.length]!);
    for (let start = 0; start < byViewer.length; start += connections) {
      await Promise.all(
        byViewer.slice(start, start + connections).map(async (jwt) => {
          const response = await fetch(skeletonUrl('bridging'), { headers: { authorization: `Bearer ${jwt}` } });
          await response.arrayBuffer();
        }),
      );
    }
  }

  // A serving replica holds the feeds being paged in memory: the deep pages above started their loads.
  // Wait for them (as a replica's readers would, served from ClickHouse meanwhile) and say what they cost.
  const recentFeed = running.app.get(RecentFeed);
  const snapshotFeed = running.app.get(SnapshotFeed);
  const wantRecent = selected.some((run) => run.label.startsWith('recent')) ? Math.min(recentPosts, config.feedGenerator.memory.recentWindowPosts) : 0;
  const wantRanks = selected.some((run) => run.label.startsWith('bridging') && run.label.includes('deep'))
    ? Math.min(posts, config.feedGenerator.memory.snapshotRanks)
    : 0;
  if (wantRecent + wantRanks > 0) {
    const heldStarted = performance.now();
    const heldCpu = process.cpuUsage();
    while (recentFeed.heldPosts.posts < wantRecent || snapshotFeed.heldRanks.ranks < wantRanks) {
      if (performance.now() - heldStarted > 300_000) throw new Error('the feeds were not held in memory within 5 minutes');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const used = process.cpuUsage(heldCpu);
    const { rss } = settled();
    console.log(
      `held in memory in ${((performance.now() - heldStarted) / 1000).toFixed(1)} s (${((used.user + used.system) / 1e6).toFixed(1)} s CPU, what a replica spends ` +
        `once per snapshot it pages below the top, and per recent window every ${10} minutes): recent window ${recentFeed.heldPosts.posts} posts ` +
        `(${mib(recentFeed.heldPosts.bytes)}), snapshot ${snapshotFeed.heldRanks.ranks} ranks (${mib(snapshotFeed.heldRanks.bytes)}); rss after GC ${mib(rss)}`,
    );
  }

  // BENCH_CPU_PROFILE=out.cpuprofile: a CPU profile of the server's thread during the measured runs only.
  const profiler = process.env.BENCH_CPU_PROFILE ? new Session() : undefined;
  if (profiler) {
    profiler.connect();
    await profiler.post('Profiler.enable');
    await profiler.post('Profiler.start');
  }

  const results = new Map<string, LoadResult & { cpuMs: number; loopCpuMs: number; clientMs: number; machineShare: number; goal?: Goal }>();
  const store = running.app.get(ViewerFeedbackStore);
  for (const run of selected) {
    if (run.fresh) store.invalidate();
    else await load(run.urls, run.auth, 1);
    const reads = store.historyReads;
    const before = { ...verifier.stats, ...verifier.signatureBatches };
    const loop = performance.eventLoopUtilization();
    const threads = threadCpuMs();
    const gc = gcPauses();
    const cpu = process.cpuUsage();
    const loopCpu = process.threadCpuUsage();
    const result = await load(run.urls, run.auth, run.durationSec ?? seconds);
    const busy = performance.eventLoopUtilization(loop).utilization;
    const cpuUs = process.cpuUsage(cpu);
    const loopCpuUs = process.threadCpuUsage(loopCpu);
    const byThread = threadCpuMs(threads);
    const paused = gc.stop();
    const serverCpuMs = (cpuUs.user + cpuUs.system) / 1000;
    const loopCpuMs = (loopCpuUs.user + loopCpuUs.system) / 1000;
    const requests = Math.max(1, result.requests);
    const perRequest = (ms: number) => (ms / requests).toFixed(3);
    // The share of the machine's cores that server and load generator used together: near 100 %, the two of them are the cap.
    const machineShare = (serverCpuMs + result.clientCpuMs) / (result.seconds * 1000 * os.availableParallelism());
    results.set(run.label, {
      ...result,
      cpuMs: serverCpuMs / requests,
      loopCpuMs: loopCpuMs / requests,
      clientMs: result.clientCpuMs / requests,
      machineShare,
      ...(run.goal && { goal: run.goal }),
    });
    const checked = verifier.stats.verified - before.verified;
    const cached = verifier.stats.fromCache - before.fromCache;
    const batches = verifier.signatureBatches.batches - before.batches;
    const batched = verifier.signatureBatches.jobs - before.jobs;
    console.log(
      formatLoad(`  ${run.label}`, result) +
        (run.auth ? `; ${checked} signatures checked, ${cached} from cache` : '') +
        (batches > 0 ? ` (${batched} on the signature thread in ${batches} messages)` : '') +
        (run.fresh ? `; ${store.historyReads - reads} reads of viewers' histories` : '') +
        `\n    server event loop busy ${(busy * 100).toFixed(0)}%; CPU per request: server ${perRequest(serverCpuMs)} ms ` +
        `(its process; event loop's thread ${perRequest(loopCpuMs)} ms), load generator ${perRequest(result.clientCpuMs)} ms (its process); ` +
        `the two used ${(machineShare * 100).toFixed(0)}% of ${os.availableParallelism()} cores` +
        (byThread.size > 0 ? `\n    server CPU per request by thread: ${[...byThread].map(([group, ms]) => `${group} ${perRequest(ms)}`).join(', ')} ms` : '') +
        `; garbage collection paused the event loop ${perRequest(paused.minorMs)} ms a request in ${paused.minor} scavenges, ` +
        `${perRequest(paused.majorMs)} ms in ${paused.major} mark-compacts`,
    );
  }

  if (profiler) {
    const { profile } = await profiler.post('Profiler.stop');
    await writeFile(process.env.BENCH_CPU_PROFILE!, JSON.stringify(profile));
    profiler.disconnect();
    console.log(`CPU profile of the runs written to ${process.env.BENCH_CPU_PROFILE}`);
  }

  const personalRuns = [...results].filter(([label]) => label.includes('personalised'));
  console.log(
    `personalised runs: ${personalRuns.length}; ${store.loads} viewers' histories read from ClickHouse in ${store.historyReads} reads, ` +
      `${store.size} viewers cached, rss ${mib(process.memoryUsage().rss)}`,
  );
  await pageCostInProcess(viewers[0]!.did, snapshot, { coldRanks, recentDeep });
  if (distinctViewers > 0) await viewerCacheBound(store, distinctViewers, config.feedGenerator.viewerFeedback.cacheBytes);

  // Every serving figure of issues 18 and 19, each beside its goal.
  const recentHeld = running.app.get(RecentFeed).heldPosts;
  const snapshotHeld = running.app.get(SnapshotFeed).heldRanks;
  console.log(
    `\nsummary (limit ${LIMIT}, ${connections} connections, load average ${os.loadavg().map((n) => n.toFixed(1)).join(' ')}, ` +
      `rss ${mib(process.memoryUsage().rss)}; in memory: recent windows ${recentHeld.posts} posts ${mib(recentHeld.bytes)}, ` +
      `snapshots ${snapshotHeld.ranks} ranks ${mib(snapshotHeld.bytes)}):`,
  );
  for (const [label, result] of results) {
    const { goal } = result;
    const met =
      goal &&
      result.errors === 0 &&
      (goal.requestsPerSecond === undefined || result.requestsPerSecond >= goal.requestsPerSecond) &&
      (goal.p99Ms === undefined || result.p99Ms <= goal.p99Ms) &&
      (goal.cpuMs === undefined || result.cpuMs <= goal.cpuMs);
    const goalText = goal
      ? [
          goal.requestsPerSecond !== undefined && `≥ ${goal.requestsPerSecond} req/s`,
          goal.p99Ms !== undefined && `p99 ≤ ${goal.p99Ms} ms`,
          goal.cpuMs !== undefined && `≤ ${goal.cpuMs} ms CPU/request`,
        ]
          .filter(Boolean)
          .join(', ')
      : 'none';
    console.log(
      `  ${label}: ${Math.round(result.requestsPerSecond)} req/s, p50 ${result.p50Ms.toFixed(2)} ms, p99 ${result.p99Ms.toFixed(2)} ms, ` +
        `server CPU ${result.cpuMs.toFixed(3)} ms/request (event loop ${result.loopCpuMs.toFixed(3)}), load generator ${result.clientMs.toFixed(3)}` +
        `${result.errors > 0 ? `, ${result.errors} errors` : ''} — goal ${goalText}: ${goal ? (met ? 'met' : 'NOT met') : '—'}`,
    );
    if (goal?.requestsPerSecond !== undefined && !met) console.log(`    what caps it: ${capOf(result, goal.requestsPerSecond)}`);
  }
} finally {
  await running.close();
  await plc.close();
  await rm(dir, { recursive: true, force: true });
}

/**
 * What a page costs the server, without HTTP or auth, on the event loop's thread alone (chDB's
 * background merges and the load generator left out: on a shared machine this is the figure that
 * moves least): the community ranking's first page and deep pages, the recent feed's deep pages,
 * and ViewerAdjustment.page over the snapshot feed for a viewer with a history (cached).
 */
async function pageCostInProcess(viewer: string, snapshot: number, depths: { coldRanks: number[]; recentDeep: number[] }): Promise<void> {
  const adjustment = running.app.get(ViewerAdjustment);
  const algorithm = running.app.get(SnapshotFeed);
  const recent = running.app.get(RecentFeed);
  const feeds = running.app.get(FeedRegistry).current.feeds;
  const feed = feeds.get('bridging')!;
  const recentFeed = feeds.get('recent')!;
  const sessionMs = Date.now();
  let turn = 0;
  const next = <T>(values: T[]): T => values[turn++ % values.length]!;
  const cases = [
    { label: 'community ranking, first page', call: () => algorithm.skeleton({ feed, limit: LIMIT }) },
    {
      label: 'community ranking, deep pages at random depths',
      call: () => algorithm.skeleton({ feed, limit: LIMIT, cursor: { ordering: `s${snapshot}`, sortKey: next(depths.coldRanks), cid: 'bafyreibench' } }),
    },
    ...(recentFeed && recentPosts > 0
      ? [
          {
            label: `recent, deep pages (post ~${Math.floor(recentPosts / 2)})`,
            call: () => recent.skeleton({ feed: recentFeed, limit: LIMIT, cursor: { ordering: 't', sortKey: next(depths.recentDeep), cid: 'zzzzzzzz' } }),
          },
        ]
      : []),
    { label: 'personal, first page', call: () => adjustment.page(algorithm, { feed, limit: LIMIT, viewer }) },
    {
      label: 'personal, position 500 of a session',
      call: () => adjustment.page(algorithm, { feed, limit: LIMIT, viewer, cursor: { ordering: `p${snapshot}-${sessionMs}`, sortKey: 500, cid: 'bafyreibench' } }),
    },
  ];
  const parts: string[] = [];
  for (const { label, call } of cases) {
    for (let i = 0; i < 50; i += 1) await call();
    const calls = 1_000;
    const started = performance.now();
    const cpu = process.cpuUsage();
    for (let i = 0; i < calls; i += 1) await call();
    const used = process.cpuUsage(cpu);
    const per = (us: number) => (us / calls).toFixed(0);
    const met = (used.user + used.system) / calls <= 1_000;
    parts.push(`${label} ${per(used.user + used.system)} µs CPU (${per((performance.now() - started) * 1000)} µs wall): ${met ? 'met' : 'NOT met'}`);
  }
  // CPU time, read from the process: on a shared machine the wall time also counts the neighbours.
  console.log(`page cost in process (no HTTP, no auth; mean of 1000 calls; goal ≤ 1 ms CPU at any depth): ${parts.join(', ')}`);
}

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(0)} MiB`;
}

/** Resident set and heap in use after a full garbage collection (the flag is set here, so the bench needs no node option). */
function settled(): { rss: number; heap: number } {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
  const { rss, heapUsed } = process.memoryUsage();
  return { rss, heap: heapUsed };
}

/**
 * Offers the viewer-feedback cache `count` distinct viewers' feedback (a requestLess, a requestMore
 * and a seen post each, as the bus delivers it), reading the heap in use and the resident set after
 * each fifth. The heap's growth must stay within the cache's byte bound (plus 64 MiB); the resident
 * set must level off (V8 keeps freed pages, so it rises above the heap once, then stays).
 */
async function viewerCacheBound(store: ViewerFeedbackStore, count: number, boundBytes: number): Promise<void> {
  const before = settled();
  const samples: { rss: number; heap: number }[] = [];
  const started = performance.now();
  const timeUs = Date.now() * 1000;
  const fifth = Math.ceil(count / 5);
  for (let start = 0; start < count; start += 10_000) {
    const events = [];
    for (let i = start; i < Math.min(count, start + 10_000); i += 1) {
      const viewer = `did:plc:benchdistinct${String(i).padStart(10, '0')}`;
      const item = `at://did:plc:benchauthor${String(i % 997).padStart(12, '0')}/app.bsky.feed.post/3l${i.toString(36).padStart(11, '0')}`;
      for (const event of ['requestLess', 'requestMore', 'interactionSeen'] as const) {
        events.push({ v: 1 as const, type: 'feedback' as const, viewer, feed: null, item, event, feedContext: '{"v":1,"b":["north"],"d":[]}', reqId: null, timeUs });
      }
    }
    store.apply(events);
    const done = Math.min(count, start + 10_000);
    if (done % fifth < 10_000 || done === count) samples.push(settled());
    // Yield now and then, as a consumer does between batches.
    await new Promise((resolve) => setImmediate(resolve));
  }
  const seconds = (performance.now() - started) / 1000;
  const after = samples.at(-1)!;
  const heapGrowth = after.heap - before.heap;
  const goal = boundBytes + 64 * 1024 * 1024;
  const lastStep = samples.length >= 2 ? after.rss - samples.at(-2)!.rss : 0;
  console.log(
    `viewer-feedback cache offered ${count} distinct viewers (3 signals each) in ${seconds.toFixed(1)} s: ${store.size} cached; ` +
      `heap in use ${mib(before.heap)} → ${mib(after.heap)} (+${mib(heapGrowth)}; goal ≤ cache bound ${mib(boundBytes)} + 64 MiB: ${heapGrowth <= goal ? 'met' : 'NOT met'}); ` +
      `rss ${mib(before.rss)} → ${samples.map((sample) => mib(sample.rss)).join(' → ')} at each fifth ` +
      `(last fifth ${lastStep >= 0 ? '+' : ''}${mib(lastStep)}; goal: levels off, ≤ 32 MiB: ${lastStep <= 32 * 1024 * 1024 ? 'met' : 'NOT met'})`,
  );
}

/**
 * What caps a run's rate: the share of the cores server and load generator used together, the
 * req/s these CPU costs allow with the load generator beside the server (as here) and for the
 * server alone (as behind a real AppView; its event loop is one thread, so at most one core's
 * worth of event-loop time), and the server CPU per request a goal of `goal` req/s leaves beside
 * this load generator.
 */
function capOf(result: { cpuMs: number; loopCpuMs: number; clientMs: number; machineShare: number }, goal: number): string {
  const cores = os.availableParallelism();
  const shared = (cores * 1000) / (result.cpuMs + result.clientMs);
  const alone = Math.min((cores * 1000) / result.cpuMs, 1000 / result.loopCpuMs);
  const left = (cores * 1000) / goal - result.clientMs;
  return (
    `server and load generator used ${(result.machineShare * 100).toFixed(0)}% of the ${cores} cores` +
    (result.machineShare < 0.8 ? ' (other processes had the rest: this rate says little, the CPU per request more)' : ' (the two of them are the cap)') +
    `; at these CPU costs the machine allows ${Math.round(shared)} req/s ` +
    `with the load generator beside the server, ${Math.round(alone)} req/s for the server alone; ${goal} req/s here would leave the server ` +
    (left > 0 ? `${left.toFixed(3)} ms of CPU a request` : 'nothing (the load generator alone needs the cores)')
  );
}

/** The event loop's garbage-collection pauses from now until `stop`: scavenges (young generation) and mark-compacts (whole heap). */
function gcPauses(): { stop(): { minor: number; minorMs: number; major: number; majorMs: number } } {
  const totals = { minor: 0, minorMs: 0, major: 0, majorMs: 0 };
  const count = (entries: PerformanceEntry[]) => {
    for (const entry of entries) {
      const { kind } = (entry as PerformanceEntry & { detail: NodeGCPerformanceDetail }).detail;
      if (kind === constants.NODE_PERFORMANCE_GC_MINOR) {
        totals.minor += 1;
        totals.minorMs += entry.duration;
      } else if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) {
        totals.major += 1;
        totals.majorMs += entry.duration;
      }
    }
  };
  const observer = new PerformanceObserver((list) => count(list.getEntries()));
  observer.observe({ entryTypes: ['gc'] });
  return {
    stop() {
      count(observer.takeRecords());
      observer.disconnect();
      return totals;
    },
  };
}

/** How a thread of this process is reported, by its name (worker threads are named where they are started). */
function threadGroup(name: string): string {
  if (name === 'MainThread') return 'event loop';
  if (name === SIGNATURE_THREAD_NAME) return 'signature check';
  if (name === 'V8Worker' || name === 'DelayedTaskSche') return 'V8 (garbage collection, compiler)';
  if (name.startsWith('libuv')) return 'libuv pool';
  return 'chDB and other native threads';
}

/**
 * CPU time of this process's threads by group, ms (from /proc; an empty map where there is none),
 * or, given an earlier reading, what each group spent since.
 */
function threadCpuMs(since?: Map<string, number>): Map<string, number> {
  const byGroup = new Map<string, number>();
  let tasks: string[];
  try {
    tasks = readdirSync('/proc/self/task');
  } catch {
    return byGroup;
  }
  for (const task of tasks) {
    try {
      const stat = readFileSync(`/proc/self/task/${task}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      // Fields after the name: state is the 3rd of the line; utime and stime the 14th and 15th, in clock ticks (100 a second).
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ms = (Number(fields[11]) + Number(fields[12])) * 10;
      const group = threadGroup(name);
      byGroup.set(group, (byGroup.get(group) ?? 0) + ms);
    } catch {
      // The thread ended meanwhile.
    }
  }
  if (since === undefined) return byGroup;
  return new Map([...byGroup].map(([group, ms]) => [group, ms - (since.get(group) ?? 0)] as const).filter(([, ms]) => ms > 0));
}
