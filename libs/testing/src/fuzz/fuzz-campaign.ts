import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pLimit from 'p-limit';
import { Nsid } from '#lib/domain';
import { AppProcess, appEntry, freePort } from '../app-process.js';
import { startJetstreamReplayServer } from '../jetstream-replay.server.js';
import { testAppEnv } from '../test-app.env.js';
import { waitFor } from '../wait-for.js';
import { forgeServiceTokens, type FuzzAccount } from './forged-tokens.js';
import { generateFuzzFrames, type HostileFrameKind } from './hostile-frames.js';
import { generateFuzzRequests, sendHostileUpgrades, type FuzzRequest } from './hostile-requests.js';

interface FuzzCampaignOptions {
  seed: number;
  frames: number;
  requests: number;
  /** Time budget: the frame phase waits at most about half of it, requests stop when it is spent. */
  seconds: number;
  /** A fresh directory for the app's data and curator file. */
  workDir: string;
  /** A PLC directory that serves the DID documents of `accounts` (the app resolves service-auth keys there). */
  plcUrl: string;
  accounts: readonly FuzzAccount[];
  /** Requests in flight at once (default 8). */
  concurrency?: number;
  /** One frame in this many is megabytes long (default 4000; 0: none). */
  hugeEvery?: number;
  /** The app's `LOG_LEVEL` (default `error`; `warn` also shows each malformed frame and failed batch). */
  logLevel?: string;
  onProgress?: (phase: 'frames' | 'requests', done: number, total: number) => void;
}

/** A request answered 5xx (or not answered at all: the connection failed). */
interface FuzzFailure {
  route: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
  status: number | 'no answer';
  answer: string;
}

export interface FuzzReport {
  seed: number;
  frames: {
    sent: number;
    hostile: Record<HostileFrameKind, number>;
    valid: number;
    validPosts: number;
    /** Member posts a feed of the members serves after the replay: must equal `validPosts`. */
    validPostsInFeed: number;
    /** What the app says it counted (`/status`). */
    receivedByApp: number | null;
    malformedByApp: number | null;
    skippedByApp: number | null;
    storedEvents: number | null;
    /** Event batches ClickHouse refused (each is retried), and events dead-lettered. */
    failedBatches: number | null;
    deadLettered: number | null;
    seconds: number;
  };
  requests: {
    planned: number;
    sent: number;
    byStatus: Record<string, number>;
    byRoute: Record<string, Record<string, number>>;
    /** Answers the protocol defines as 5xx: 501 MethodNotImplemented for an unknown XRPC method. */
    protocol5xx: number;
    failures: FuzzFailure[];
    seconds: number;
    /** Batches of sendInteractions feedback that ClickHouse refused (retried), after the requests. */
    feedbackFailedBatches: number | null;
  };
  /** The app exited during the campaign (0 or 1: it is not restarted). */
  crashes: number;
  /** The app's last lines of output. */
  appOutput: string[];
  /** `/health` answered 200 after both phases. */
  healthy: boolean;
  rssBeforeBytes: number | null;
  rssAfterBytes: number | null;
  /** Exit code of the app after SIGTERM at the end (0: it drained and stopped cleanly). */
  exitCode: number | null;
}

const serviceDid = 'did:web:fuzz.localhost';
const publisherDid = 'did:plc:fuzzpublisher000000000000';
const adminToken = 'fuzz-admin-token-0123456789abcdef';
const shortnames = ['fuzz-recent', 'fuzz-bridging', 'fuzz-members', 'fuzz-digest', 'fuzz-talk'];

function rssOf(pid: number | undefined): Promise<number | null> {
  if (pid === undefined) return Promise.resolve(null);
  return readFile(`/proc/${pid}/status`, 'utf8').then(
    (text) => {
      const kib = /^VmRSS:\s+(\d+)\s+kB/m.exec(text)?.[1];
      return kib === undefined ? null : Number(kib) * 1024;
    },
    () => null,
  );
}

interface ConsumerStatus {
  failedBatches: number;
  deadLettered: number;
}

interface Status {
  ingest?: { received: number; malformed: number; skipped: number; published: number };
  scoring?: ConsumerStatus;
  feedback?: ConsumerStatus;
  store?: { events: number };
}

/**
 * The fuzz campaign behind `npm run fuzz` and its short version in the tests: the app in embedded
 * mode as a child process ingests hostile Jetstream frames from a local replay server, then answers
 * hostile HTTP requests on every route; the report says what it counted, whether it stayed up, and
 * every 5xx.
 */
export async function runFuzzCampaign(options: FuzzCampaignOptions): Promise<FuzzReport> {
  const deadline = Date.now() + options.seconds * 1000;
  const startUs = (Date.now() - 2 * 3_600_000) * 1000;
  const frames = generateFuzzFrames({ seed: options.seed, frames: options.frames, startUs, hugeEvery: options.hugeEvery });
  const feedsFile = path.join(options.workDir, 'feeds.yaml');
  await writeFile(feedsFile, fuzzCuration(frames.members, options.accounts));

  const replay = await startJetstreamReplayServer({ events: frames.items, startPaused: true });
  const httpPort = await freePort();
  let opsPort = await freePort();
  while (opsPort === httpPort) opsPort = await freePort();
  const app = new AppProcess(
    'fuzzed app',
    appEntry,
    testAppEnv({
      name: 'fuzz',
      dataDir: options.workDir,
      feedsFile,
      jetstreamUrl: replay.subscribeUrl,
      overrides: {
        CLICKHOUSE_PATH: path.join(options.workDir, 'clickhouse'),
        HTTP_PORT: String(httpPort),
        OPS_PORT: String(opsPort),
        FEEDGEN_HOSTNAME: serviceDid.slice('did:web:'.length),
        FEEDGEN_SERVICE_DID: serviceDid,
        FEEDGEN_PUBLISHER_DID: publisherDid,
        ADMIN_TOKEN: adminToken,
        PLC_URL: options.plcUrl,
        IDENTITY_ALLOW_INSECURE: 'true',
        INGEST_BATCH_SIZE: '2000',
        INGEST_BATCH_MAX_WAIT_MS: '200',
        SCORING_INTERVAL_SECONDS: '5',
        LOG_LEVEL: options.logLevel ?? 'error',
      },
    }),
  );
  const base = `http://127.0.0.1:${httpPort}`;
  let exited = false;
  try {
    app.start();
    app.onExit(() => (exited = true));
    await waitFor('the fuzzed app to answer /health', async () => (await fetch(`${base}/health`)).ok, { timeoutMs: 60_000, context: () => app.output.join('\n') });
    const rssBeforeBytes = await rssOf(app.pid);

    // Phase 1: hostile frames through the real ingest.
    const framesStarted = performance.now();
    await replay.waitForConnections(1, 30_000);
    replay.resume();
    const memberPostsInFeed = () => servedPosts(base, `at://${publisherDid}/${Nsid.generator}/${shortnames[0]!}`);
    const frameBudgetMs = Math.max(30_000, (deadline - Date.now()) / 2);
    let postsInFeed: string[] = [];
    const framesDeadline = Date.now() + frameBudgetMs;
    while (Date.now() < framesDeadline && !exited) {
      options.onProgress?.('frames', replay.sentCount, frames.items.length);
      if (replay.sentCount >= frames.items.length) {
        postsInFeed = await memberPostsInFeed().catch(() => postsInFeed);
        if (postsInFeed.length >= frames.valid.posts) break;
      }
      await sleep(250);
    }
    options.onProgress?.('frames', replay.sentCount, frames.items.length);
    if (!exited) postsInFeed = await memberPostsInFeed().catch(() => postsInFeed);
    const status = exited ? undefined : await readStatus(opsPort, httpPort);
    const framesSeconds = (performance.now() - framesStarted) / 1000;

    // Phase 2: hostile requests on every route.
    const tokens = await forgeServiceTokens({ accounts: options.accounts, serviceDid });
    const requests = generateFuzzRequests({
      seed: options.seed,
      count: options.requests,
      context: {
        publisherDid,
        serviceDid,
        shortnames,
        communities: ['fuzz', 'fuzz-accounts'],
        adminToken,
        tokens,
        postUris: postsInFeed.length > 0 ? postsInFeed.slice(0, 50) : [`at://${frames.members[0]}/${Nsid.post}/3kfuzz2222222`],
      },
    });
    const requestsStarted = performance.now();
    const answers = await sendAll(base, requests, {
      concurrency: options.concurrency ?? 8,
      stop: () => exited || Date.now() > deadline,
      onSent: (sent) => options.onProgress?.('requests', sent, requests.length),
    });
    if (!exited) await sendHostileUpgrades(httpPort);
    const requestsSeconds = (performance.now() - requestsStarted) / 1000;

    const healthy = !exited && (await fetch(`${base}/health`).then((response) => response.ok, () => false));
    const statusAfter = exited ? undefined : await readStatus(opsPort, httpPort);
    const rssAfterBytes = await rssOf(app.pid);
    const crashed = exited;
    const exitCode = crashed ? null : await app.stop('SIGTERM');
    return {
      seed: options.seed,
      frames: {
        sent: replay.sentCount,
        hostile: frames.hostile,
        valid: frames.valid.events,
        validPosts: frames.valid.posts,
        validPostsInFeed: postsInFeed.length,
        receivedByApp: status?.ingest?.received ?? null,
        malformedByApp: status?.ingest?.malformed ?? null,
        skippedByApp: status?.ingest?.skipped ?? null,
        storedEvents: status?.store?.events ?? null,
        failedBatches: status?.scoring?.failedBatches ?? null,
        deadLettered: status?.scoring?.deadLettered ?? null,
        seconds: framesSeconds,
      },
      requests: { planned: requests.length, ...answers, seconds: requestsSeconds, feedbackFailedBatches: statusAfter?.feedback?.failedBatches ?? null },
      crashes: crashed ? 1 : 0,
      appOutput: app.output.slice(-40),
      healthy,
      rssBeforeBytes,
      rssAfterBytes,
      exitCode,
    };
  } finally {
    await app.stop('SIGKILL');
    await replay.close();
  }
}

/** The curator file of the fuzzed app: the members of the hostile stream, and the accounts that forge tokens. */
function fuzzCuration(members: readonly string[], accounts: readonly FuzzAccount[]): string {
  return [
    'communities:',
    `  fuzz: { name: Fuzz members, members: { dids: [${members.join(', ')}] } }`,
    `  fuzz-accounts: { name: Fuzz accounts, members: { dids: [${accounts.map((account) => account.did).join(', ')}] } }`,
    'feeds:',
    `  ${shortnames[0]}: { displayName: Fuzz recent, communities: [fuzz], ranking: recent, includeReplies: true, windowHours: 72 }`,
    `  ${shortnames[1]}: { displayName: Fuzz bridging, communities: [fuzz, fuzz-accounts], ranking: bridging }`,
    `  ${shortnames[2]}: { displayName: Fuzz members, communities: [fuzz-accounts], ranking: recent, membersOnly: true }`,
    `  ${shortnames[3]}: { displayName: Fuzz digest, communities: [fuzz, fuzz-accounts], ranking: digest, digest: { cadence: daily, at: "08:00", timeZone: UTC, size: 5, base: bridging } }`,
    `  ${shortnames[4]}: { displayName: Fuzz talk, communities: [fuzz], ranking: deliberation, deliberation: { title: Fuzz talk, hashtag: fuzz, participants: anyone } }`,
    'funds:',
    '  fuzz: { budget: 500, matchingPool: 300, memberAllowance: 100 }',
    '',
  ].join('\n');
}

/** Every post a feed serves, page after page. */
async function servedPosts(base: string, feed: string): Promise<string[]> {
  const posts = new Set<string>();
  let cursor: string | undefined;
  for (;;) {
    const query = new URLSearchParams({ feed, limit: '100', ...(cursor && { cursor }) });
    const response = await fetch(`${base}/xrpc/${Nsid.getFeedSkeleton}?${query}`);
    if (!response.ok) throw new Error(`getFeedSkeleton answered ${response.status}`);
    const page = (await response.json()) as { feed: { post: string }[]; cursor?: string };
    for (const item of page.feed) posts.add(item.post);
    if (page.feed.length === 0 || !page.cursor || page.cursor === cursor) return [...posts];
    cursor = page.cursor;
  }
}

/** Sends the hostile requests, `concurrency` at once, until `stop()`; counts answers by status and route, and keeps every 5xx. */
async function sendAll(
  base: string,
  requests: readonly FuzzRequest[],
  control: { concurrency: number; stop: () => boolean; onSent: (sent: number) => void },
): Promise<Pick<FuzzReport['requests'], 'sent' | 'byStatus' | 'byRoute' | 'protocol5xx' | 'failures'>> {
  const byStatus: Record<string, number> = {};
  const byRoute: Record<string, Record<string, number>> = {};
  const failures: FuzzFailure[] = [];
  let protocol5xx = 0;
  let sent = 0;
  const limit = pLimit(control.concurrency);
  await Promise.all(
    requests.map((request) =>
      limit(async () => {
        if (control.stop()) return;
        const outcome = await send(base, request);
        sent += 1;
        control.onSent(sent);
        if (outcome === 'unsendable') {
          byStatus.unsendable = (byStatus.unsendable ?? 0) + 1;
          return;
        }
        const key = outcome.status === 'no answer' ? 'no answer' : String(outcome.status);
        byStatus[key] = (byStatus[key] ?? 0) + 1;
        const route = (byRoute[request.route] ??= {});
        route[key] = (route[key] ?? 0) + 1;
        const unknownMethod = outcome.status === 501 && request.path.startsWith('/xrpc/') && (request.method === 'HEAD' || outcome.answer.includes('MethodNotImplemented'));
        if (unknownMethod) protocol5xx += 1;
        else if (outcome.status === 'no answer' || outcome.status >= 500) failures.push({ ...request, ...outcome, body: request.body?.slice(0, 500) });
      }),
    ),
  );
  return { sent, byStatus, byRoute, protocol5xx, failures };
}

/**
 * `/status` from the ops port, or the main port where the process serves it there.
 * @NOTE Both are tried: `/status` and `/metrics` are moving to an ops listener (`OPS_PORT`).
 */
async function readStatus(opsPort: number, httpPort: number): Promise<Status | undefined> {
  for (const port of [opsPort, httpPort]) {
    const status = await fetch(`http://127.0.0.1:${port}/status`).then(
      async (response) => (response.ok ? ((await response.json()) as Status) : undefined),
      () => undefined,
    );
    if (status) return status;
  }
  return undefined;
}

/** One request; `'unsendable'` when the client refuses to build it (not the server's doing). */
async function send(base: string, request: FuzzRequest): Promise<{ status: number | 'no answer'; answer: string } | 'unsendable'> {
  let url: URL;
  try {
    // @NOTE Concatenated, not resolved against `base`: a path like `//host` must not become another host.
    url = new URL(base + request.path);
  } catch {
    return 'unsendable';
  }
  try {
    const response = await fetch(url, {
      method: request.method,
      headers: request.headers,
      body: request.body,
      signal: AbortSignal.timeout(15_000),
    });
    const answer = await response.text();
    return { status: response.status, answer: answer.slice(0, 300) };
  } catch (error) {
    if (error instanceof TypeError && !/fetch failed|terminated|socket/i.test(error.message)) return 'unsendable';
    return { status: 'no answer', answer: error instanceof Error ? `${error.name}: ${error.message} ${String((error as { cause?: unknown }).cause ?? '')}` : String(error) };
  }
}
