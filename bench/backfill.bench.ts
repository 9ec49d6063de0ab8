/**
 * Backfill throughput against a local AT Protocol network (@atproto/dev-env: PLC, PDS, AppView on
 * PostgreSQL), with the network and our process on the same machine.
 *
 *     npm run bench:backfill    # BENCH_ACCOUNTS=200 BENCH_RECORDS=500 BENCH_CONCURRENCY=16 BENCH_PER_HOST=8
 *
 * Seeds `BENCH_ACCOUNTS` accounts with `BENCH_RECORDS` records each (60 % posts, 30 % likes, 10 %
 * reposts, written 200 at a time with applyWrites), then:
 *   1. the backfill itself (`BackfillRunner`: listRecords per collection, newest first, mapping,
 *      ClickHouse writes and checkpoints) of one community naming every account: records/s, accounts/s;
 *   2. the same repositories read both ways without writing: `com.atproto.repo.listRecords` for the
 *      three collections against `com.atproto.sync.getRepo` (the whole repository as CAR, walked
 *      with @atproto/repo), at the same concurrency.
 */
import 'reflect-metadata';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pLimit from 'p-limit';
import { AtpAgent } from '@atproto/api';
import { MemoryBlockstore, readCarWithRoot, Repo } from '@atproto/repo';
import {
  applyMigrations,
  BackfillCheckpointRepository,
  CommunityRepository,
  createClickHouseClient,
  EventRepository,
  NoteRepository,
} from '#lib/clickhouse';
import type { Curation } from '#lib/curation';
import { Nsid } from '#lib/domain';
import { createHandleResolution, VerifiedHandleResolver } from '#lib/identity';
import { NetworkReader } from '#lib/network';
import { BackfillProgress, createLogger, terminalProgressReport } from '#lib/platform';
import { startPostgres } from '#scripts/postgres.mjs';
import { startAtprotoNetwork, type AtprotoNetwork } from '../libs/testing/src/atproto-network/index.js';
import { BackfillRunner } from '../services/backfill/src/backfill.runner.js';

const env = (name: string, fallback: number) => {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer, got ${process.env[name]}`);
  return value;
};

const ACCOUNTS = env('BENCH_ACCOUNTS', 200);
const RECORDS = env('BENCH_RECORDS', 500);
const CONCURRENCY = env('BENCH_CONCURRENCY', 16);
const PER_HOST = env('BENCH_PER_HOST', 8);
const WRITES_PER_CALL = 200;

async function seed(net: AtprotoNetwork): Promise<string[]> {
  const dids: string[] = [];
  for (let i = 0; i < ACCOUNTS; i++) dids.push((await net.createAccount(`bench${i}`)).did);
  const { agent } = net.seed;
  const firstPosts: string[] = [];
  const limit = pLimit(4);
  const now = Date.now();
  let written = 0;
  const progress = terminalProgressReport().phase('seeding', ACCOUNTS * RECORDS, 'records');
  await Promise.all(
    dids.map((did, index) =>
      limit(async () => {
        for (let start = 0; start < RECORDS; start += WRITES_PER_CALL) {
          const writes = [];
          for (let n = start; n < Math.min(RECORDS, start + WRITES_PER_CALL); n++) {
            const createdAt = new Date(now - (RECORDS - n) * 1000).toISOString();
            const kind = n % 10;
            const target = firstPosts[(index + n) % Math.max(1, firstPosts.length)];
            if (kind < 6 || !target) {
              writes.push({ $type: 'com.atproto.repo.applyWrites#create' as const, collection: Nsid.post, value: { $type: Nsid.post, text: `post ${n} by ${index}`, createdAt } });
            } else {
              const collection = kind < 9 ? Nsid.like : Nsid.repost;
              const uri = target;
              writes.push({ $type: 'com.atproto.repo.applyWrites#create' as const, collection, value: { $type: collection, subject: { uri, cid: 'bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm' }, createdAt } });
            }
          }
          const { data } = await agent.com.atproto.repo.applyWrites({ repo: did, writes }, { headers: net.seed.getHeaders(did as `did:${string}:${string}`), encoding: 'application/json' });
          const created = (data.results ?? []).find((result) => 'uri' in result && typeof result.uri === 'string' && result.uri.includes(Nsid.post));
          if (created && 'uri' in created && firstPosts.length < ACCOUNTS) firstPosts.push(created.uri);
          written += writes.length;
          progress.update(written);
        }
      }),
    ),
  );
  progress.finish();
  return dids;
}

async function main(): Promise<void> {
  const postgres = await startPostgres();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'cg-bench-backfill-'));
  const net = await startAtprotoNetwork({ postgresUrl: postgres.url, jetstream: false });
  const database = `bench_backfill_${process.pid}`;
  const client = createClickHouseClient({ kind: 'embedded', path: path.join(dir, 'chdb'), database });
  try {
    console.log(`backfill bench: ${ACCOUNTS} accounts × ${RECORDS} records, concurrency ${CONCURRENCY} (${PER_HOST} per host), ${os.cpus().length} cores shared by PDS, AppView and us`);
    const dids = await seed(net);
    await applyMigrations(client, database);
    const reader = () =>
      new NetworkReader({ plcUrl: net.plcUrl, appviewUrl: net.appviewUrl, concurrency: CONCURRENCY, perHostConcurrency: PER_HOST, attempts: 3, retryBaseMs: 200, allowInsecureFetch: true });
    const log = createLogger({ logLevel: 'warn', role: 'all' });
    const curation: Curation = {
      communities: new Map([['bench', { id: 'bench', name: 'bench', description: '', allowSelfEnrolment: false, members: { dids, handles: [], lists: [], starterPacks: [], hashtags: [], followersOf: [], exclude: [] } }]]),
      feeds: new Map([
        ['bench', { shortname: 'bench', displayName: 'bench', description: '', communities: ['bench'], ranking: 'recent', membersOnly: false, includeReplies: true, windowHours: 24 * 30, halfLifeHours: 24, balance: 'equal' }],
      ]),
      funds: new Map(),
    };
    const runner = new BackfillRunner({
      reader: reader(),
      events: new EventRepository(client, database),
      checkpoints: new BackfillCheckpointRepository(client, database),
      accounts: new NoteRepository(client, database),
      communities: new CommunityRepository(client, database),
      handles: new VerifiedHandleResolver({ ...createHandleResolution({ plcUrl: net.plcUrl, timeoutMs: 3_000, allowInsecureFetch: true }), verifiedTtlMs: 60_000, unverifiedTtlMs: 60_000, maxHandles: 10, concurrency: 1 }),
      progress: new BackfillProgress(),
      log,
      concurrency: CONCURRENCY,
      followersCap: 1,
    });
    const summary = await runner.run(curation, { report: terminalProgressReport() });
    console.log(
      `backfill: ${summary.records} records, ${summary.accounts.done} accounts in ${summary.seconds.toFixed(1)} s: ` +
        `${Math.round(summary.records / summary.seconds)} records/s, ${(summary.accounts.done / summary.seconds).toFixed(1)} accounts/s`,
    );

    // The same repositories read both ways, nothing written.
    const listing = reader();
    let listed = 0;
    let started = performance.now();
    const limit = pLimit(CONCURRENCY);
    await Promise.all(
      dids.map((did) =>
        limit(async () => {
          for (const collection of [Nsid.post, Nsid.like, Nsid.repost]) for await (const page of listing.listRecords(did, collection)) listed += page.length;
        }),
      ),
    );
    const listSeconds = (performance.now() - started) / 1000;
    const pds = new AtpAgent({ service: net.pdsUrl });
    let walked = 0;
    let carBytes = 0;
    started = performance.now();
    await Promise.all(
      dids.map((did) =>
        limit(async () => {
          const { data } = await pds.com.atproto.sync.getRepo({ did });
          carBytes += data.byteLength;
          const { root, blocks } = await readCarWithRoot(data);
          const repo = await Repo.load(new MemoryBlockstore(blocks), root);
          for await (const entry of repo.walkRecords()) if (entry.collection === Nsid.post || entry.collection === Nsid.like || entry.collection === Nsid.repost) walked += 1;
        }),
      ),
    );
    const carSeconds = (performance.now() - started) / 1000;
    console.log(`listRecords: ${listed} records in ${listSeconds.toFixed(1)} s (${Math.round(listed / listSeconds)} records/s, ${listing.requests} requests)`);
    console.log(`getRepo + @atproto/repo walk: ${walked} records in ${carSeconds.toFixed(1)} s (${Math.round(walked / carSeconds)} records/s, ${dids.length} requests, ${(carBytes / 1e6).toFixed(1)} MB of CAR)`);
  } finally {
    await client.close();
    await net.close();
    await postgres.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exit(1);
});
