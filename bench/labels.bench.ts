/**
 * Our labeler under load, in one process on embedded ClickHouse:
 *   1. the ranker labels a snapshot of BENCH_POSTS posts bridging two communities (three labels
 *      each), signed and stored: labels/s signed;
 *   2. BENCH_SUBSCRIBERS subscribeLabels clients replay every label from cursor 0 at once:
 *      labels/s delivered (all subscribers together, and each);
 *   3. with those subscribers live, the next snapshot (BENCH_LIVE_POSTS new posts) is labelled:
 *      time from the end of the snapshot to its labels reaching the first and the last subscriber
 *      (the serving process looks for new labels every LABELS_POLL_MS, default 1000);
 *   4. queryLabels and the labeler's own reads over a long history: BENCH_HISTORY more statements
 *      (default 1,000,000: posts labelled, most of them negated later, some labelled again),
 *      stored in batches as a ranker stores them; then the first, a middle and a late page of
 *      every label (`*`), 25 exact URIs, one account's prefix, the labels in force a snapshot run
 *      compares with, and the console's totals, each the median of 7 reads.
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
import type { SequencedLabel } from '#lib/labels';
import { loadConfig } from '#lib/config';
import { startApp } from '../services/app/src/app.factory.js';
import { LabelEmitter, type LabelledSnapshot } from '../services/scoring/src/label.emitter.js';

const posts = Number(process.env.BENCH_POSTS ?? 2_000);
const history = Number(process.env.BENCH_HISTORY ?? 1_000_000);
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

/**
 * A history of `count` statements after `fromSeq` on posts of their own: each post gets
 * `common-ground` and `supported-by-north`; seven posts in ten have both negated later, and one in
 * ten `common-ground` again after that. Stored in batches of up to 20,000, each as one emission.
 */
async function storeHistory(fromSeq: number, count: number): Promise<{ stored: number; lastBatchMs: number; lastBatch: number }> {
  const src = 'did:web:localhost';
  const cts = new Date().toISOString();
  const sig = new Uint8Array(64);
  const uriOf = (post: number) => `at://did:plc:hist${String(post % 5_000).padStart(20, '0')}/app.bsky.feed.post/3k${String(post).padStart(11, '0')}`;
  let seq = fromSeq;
  let batch: SequencedLabel[] = [];
  let lastBatchMs = 0;
  let lastBatch = 0;
  const flush = async () => {
    const started = performance.now();
    await labels.append(batch);
    lastBatchMs = performance.now() - started;
    lastBatch = batch.length;
    batch = [];
  };
  const add = async (uri: string, val: string, neg: boolean) => {
    seq += 1;
    batch.push({ seq, ver: 1, src, uri, cid: 'bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm', val, ...(neg && { neg: true }), cts, sig });
    if (batch.length >= 20_000) await flush();
  };
  // Posts come in waves of 2,000: labelled, then the previous wave's negated or labelled again.
  let post = 0;
  let previous: number[] = [];
  while (seq - fromSeq < count) {
    const wave = Array.from({ length: 2_000 }, () => post++);
    for (const p of wave) {
      await add(uriOf(p), 'common-ground', false);
      await add(uriOf(p), 'supported-by-north', false);
    }
    for (const p of previous) {
      if (p % 10 < 7) {
        await add(uriOf(p), 'common-ground', true);
        await add(uriOf(p), 'supported-by-north', true);
        if (p % 10 === 0) await add(uriOf(p), 'common-ground', false);
      }
    }
    previous = wave;
  }
  if (batch.length > 0) await flush();
  return { stored: seq - fromSeq, lastBatchMs, lastBatch };
}

async function medianMs(read: () => Promise<unknown>): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < 7; i += 1) {
    const started = performance.now();
    await read();
    times.push(performance.now() - started);
  }
  return times.sort((a, b) => a - b)[3]!;
}

const historyLines: string[] = [];
if (history > 0) {
  const base = await labels.lastSeq();
  const storeStarted = performance.now();
  const { stored: historyStored, lastBatchMs, lastBatch } = await storeHistory(base, history);
  const storeMs = performance.now() - storeStarted;
  const lastSeq = await labels.lastSeq();
  const page = (afterSeq: number) => labels.query({ exact: [], prefixes: [], all: true, sources: [], afterSeq, limit: 250 });
  const exact = Array.from({ length: 25 }, (_, i) => `at://did:plc:hist${String((i * 7919) % 5_000).padStart(20, '0')}/app.bsky.feed.post/3k${String(i * 7919).padStart(11, '0')}`);
  // queryLabels is public: a page's cost should not grow with the history, as issue 18 asks of a feed's pages.
  const pages: [string, number][] = [
    ['first page of every label (`*`, 250)', await medianMs(() => page(0))],
    ['a middle page', await medianMs(() => page(Math.floor(lastSeq / 2)))],
    ['a page near the end', await medianMs(() => page(lastSeq - 1_000))],
    ['25 exact URIs', await medianMs(() => labels.query({ exact, prefixes: [], all: false, sources: [], afterSeq: 0, limit: 250 }))],
    ["one account's posts (a prefix)", await medianMs(() => labels.query({ exact: [], prefixes: ['at://did:plc:hist00000000000000000042/'], all: false, sources: [], afterSeq: 0, limit: 250 }))],
  ];
  const reads: [string, number][] = [
    ['labels in force, read by each snapshot run', await medianMs(() => labels.inForce('did:web:localhost'))],
    ["the console's totals", await medianMs(() => labels.totals())],
  ];
  historyLines.push(
    `history: ${historyStored.toLocaleString('en')} statements stored in ${(storeMs / 1000).toFixed(1)} s (the last batch, ${lastBatch.toLocaleString('en')}, in ${Math.round(lastBatchMs)} ms); ${lastSeq.toLocaleString('en')} in all`,
    ...pages.map(([name, ms]) => `  queryLabels, ${name}: ${ms.toFixed(1)} ms (goal ≤ 20 ms at any depth: ${ms <= 20 ? 'met' : 'not met'})`),
    ...reads.map(([name, ms]) => `  ${name}: ${ms.toFixed(1)} ms`),
  );
}

const rate = (count: number, ms: number) => Math.round((count / ms) * 1000).toLocaleString('en');
process.stdout.write(
  [
    `labels signed and stored: ${total} in ${(signMs / 1000).toFixed(2)} s (${rate(total, signMs)} labels/s)`,
    `subscribeLabels replay to ${subscribers} subscribers from cursor 0: ${total} labels each in ${(replayMs / 1000).toFixed(2)} s → ${rate(total * subscribers, replayMs)} labels/s delivered in all, ${rate(total, replayMs)} labels/s per subscriber`,
    `snapshot → served (${next.length} new labels, ${subscribers} live subscribers, LABELS_POLL_MS=${process.env.LABELS_POLL_MS ?? '1000'}): first subscriber ${Math.round(first)} ms, last ${Math.round(last)} ms`,
    ...historyLines,
    `(labels stored in all: ${await labels.lastSeq()})`,
    '',
  ].join('\n'),
);
await running.close();
await rm(dir, { recursive: true, force: true });
