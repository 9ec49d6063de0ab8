/**
 * Our labeler under load, in one process on embedded ClickHouse:
 *   1. the ranker labels a snapshot of BENCH_POSTS posts bridging two communities (three labels
 *      each), signed and stored: labels/s signed;
 *   2. BENCH_SUBSCRIBERS subscribeLabels clients replay every label from cursor 0 at once:
 *      labels/s delivered (all subscribers together, and each);
 *   3. with those subscribers live, the next snapshot (BENCH_LIVE_POSTS new posts) is labelled:
 *      time from the end of the snapshot to its labels reaching the first and the last subscriber
 *      (the serving process looks for new labels every LABELS_POLL_MS, default 1000).
 *
 *     npm run bench:labels        # BENCH_POSTS=2000 BENCH_SUBSCRIBERS=100 BENCH_LIVE_POSTS=100
 */
import 'reflect-metadata';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Secp256k1Keypair } from '@atproto/crypto';
import { Subscription } from '@atproto/xrpc-server';
import { LabelRepository } from '#lib/clickhouse';
import { loadConfig } from '#lib/config';
import { startApp } from '../services/app/src/app.factory.js';
import { LabelEmitter, type LabelledSnapshot } from '../services/scoring/src/label.emitter.js';

const posts = Number(process.env.BENCH_POSTS ?? 2_000);
const subscribers = Number(process.env.BENCH_SUBSCRIBERS ?? 100);
const livePosts = Number(process.env.BENCH_LIVE_POSTS ?? 100);

const dir = await mkdtemp(path.join(os.tmpdir(), 'cg-labels-bench-'));
await writeFile(path.join(dir, 'feeds.yaml'), 'communities: {}\nfeeds: {}\n');
const key = await Secp256k1Keypair.create({ exportable: true });
const running = await startApp(
  loadConfig({
    DATA_DIR: dir,
    CLICKHOUSE_DATABASE: 'labels_bench',
    JETSTREAM_URL: 'ws://127.0.0.1:9/subscribe',
    FEEDS_FILE: path.join(dir, 'feeds.yaml'),
    HTTP_PORT: '0',
    HTTP_BIND_HOST: '127.0.0.1',
    OPS_PORT: '0',
    LOG_LEVEL: 'error',
    SCORING_SNAPSHOTS: 'false',
    LABELER_DID: 'did:web:localhost',
    LABELER_SIGNING_KEY: Buffer.from(await key.export()).toString('hex'),
    LABELS_POLL_MS: process.env.LABELS_POLL_MS ?? '1000',
  }),
);
const emitter = running.app.get(LabelEmitter);
const labels = running.app.get(LabelRepository);

/** A snapshot whose posts both communities support: `common-ground`, `supported-by-north`, `supported-by-south` each. */
const snapshot = (from: number, count: number): LabelledSnapshot => ({
  communities: ['north', 'south'],
  posts: Array.from({ length: count }, (_, i) => ({
    uri: `at://did:plc:bench${String(from + i).padStart(19, '0')}/app.bsky.feed.post/3kbench`,
    cid: 'bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm',
    components: { supportedBy: ['north', 'south'], divisiveIn: [] },
  })),
});

/** Opens a subscriber from `cursor`; resolves the time (performance.now) at which it received `lastSeq`. */
function subscriber(cursor: number | undefined, lastSeq: () => number, opened: () => void): Promise<number> {
  const controller = new AbortController();
  const subscription = new Subscription<{ seq?: number }>({
    service: running.url.replace('http', 'ws'),
    method: 'com.atproto.label.subscribeLabels',
    signal: controller.signal,
    getParams: () => (cursor === undefined ? {} : { cursor }),
    validate: (value) => value as { seq?: number },
  });
  return (async () => {
    const iterator = subscription[Symbol.asyncIterator]();
    opened();
    for (;;) {
      const { value, done } = await iterator.next();
      if (done) throw new Error('subscription ended early');
      if (value.seq !== undefined && value.seq >= lastSeq()) {
        controller.abort();
        return performance.now();
      }
    }
  })();
}

const signStarted = performance.now();
const stored = await emitter.emit([snapshot(0, posts)], Date.now());
const signMs = performance.now() - signStarted;
const total = stored.length;

const replayStarted = performance.now();
const done = await Promise.all(Array.from({ length: subscribers }, () => subscriber(0, () => total, () => undefined)));
const replayMs = Math.max(...done) - replayStarted;

let live = 0;
const openedAll = Promise.withResolvers<void>();
let target = Number.POSITIVE_INFINITY;
const received = Array.from({ length: subscribers }, () =>
  subscriber(undefined, () => target, () => {
    live += 1;
    if (live === subscribers) openedAll.resolve();
  }),
);
await openedAll.promise;
await new Promise((resolve) => setTimeout(resolve, 1_000));
const snapshotEnd = performance.now();
const next = await emitter.emit([snapshot(0, posts), snapshot(posts, livePosts)], Date.now());
target = next[next.length - 1]?.seq ?? 0;
const arrivals = await Promise.all(received);
const first = Math.min(...arrivals) - snapshotEnd;
const last = Math.max(...arrivals) - snapshotEnd;

const rate = (count: number, ms: number) => Math.round((count / ms) * 1000).toLocaleString('en');
process.stdout.write(
  [
    `labels signed and stored: ${total} in ${(signMs / 1000).toFixed(2)} s (${rate(total, signMs)} labels/s)`,
    `subscribeLabels replay to ${subscribers} subscribers from cursor 0: ${total} labels each in ${(replayMs / 1000).toFixed(2)} s → ${rate(total * subscribers, replayMs)} labels/s delivered in all, ${rate(total, replayMs)} labels/s per subscriber`,
    `snapshot → served (${next.length} new labels, ${subscribers} live subscribers, LABELS_POLL_MS=${process.env.LABELS_POLL_MS ?? '1000'}): first subscriber ${Math.round(first)} ms, last ${Math.round(last)} ms`,
    `(labels stored in all: ${await labels.lastSeq()})`,
    '',
  ].join('\n'),
);
await running.close();
await rm(dir, { recursive: true, force: true });
