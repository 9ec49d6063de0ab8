import v8 from 'node:v8';
import vm from 'node:vm';
import type { LabelRepository } from '#lib/clickhouse';
import type { AppConfig } from '#lib/config';
import type { SequencedLabel } from '#lib/labels';
import { createLogger } from '#lib/platform';
import { LabelStream } from './label.stream.js';

/** Stands in for the label store: our newest labels in memory, in sequence order. */
class StoredLabels {
  private labels: SequencedLabel[] = [];
  private newest = 0;

  add(count: number): void {
    for (let i = 0; i < count; i++) {
      this.newest += 1;
      this.labels.push({ seq: this.newest, ver: 1, src: 'did:web:labeler', uri: `at://did:plc:a/app.bsky.feed.post/${this.newest}`, val: 'common-ground', cts: new Date(0).toISOString(), sig: new Uint8Array(64) });
    }
    this.labels = this.labels.slice(-1_000);
  }

  async lastSeq(): Promise<number> {
    return Promise.resolve(this.newest);
  }

  async after(afterSeq: number, limit: number): Promise<SequencedLabel[]> {
    return Promise.resolve(this.labels.filter((label) => label.seq > afterSeq).slice(0, limit));
  }
}

/** Bytes of heap in use after a full collection. */
function heapInUse(): number {
  v8.setFlagsFromString('--expose-gc');
  (vm.runInNewContext('gc') as () => void)();
  return process.memoryUsage().heapUsed;
}

describe('the label stream subscribeLabels serves', () => {
  let store: StoredLabels;
  let stream: LabelStream;

  beforeEach(async () => {
    store = new StoredLabels();
    store.add(3);
    const config = { labeler: { pollMs: 3_600_000 } } as AppConfig;
    stream = new LabelStream(config, store as unknown as LabelRepository, createLogger({ logLevel: 'silent', role: 'all' }));
    await stream.onApplicationBootstrap();
  });

  afterEach(() => stream.beforeApplicationShutdown());

  it('serves each new label once, in order, when looks for new labels overlap (the poller and connecting subscribers)', async () => {
    store.add(3);
    await Promise.all([stream.poll(), stream.poll(), stream.poll()]);
    const served: number[] = [];
    for await (const batch of stream.after(3, new AbortController().signal)) {
      served.push(...batch.map((label) => label.seq));
      break;
    }
    expect(served).toEqual([4, 5, 6]);
    expect(stream.lastSeq).toBe(6);
  });

  it('a look asked for during another serves what was stored before it was asked for', async () => {
    const under = stream.poll();
    store.add(1);
    await stream.poll();
    await under;
    expect(stream.lastSeq).toBe(4);
  });

  it('a subscriber waiting for label after label holds no more memory for it', async () => {
    const controller = new AbortController();
    const batches = stream.after(stream.lastSeq, controller.signal);
    const oneLabel = async () => {
      const next = batches.next();
      store.add(1);
      await stream.poll();
      return next;
    };
    // Past the 10,000 labels the stream keeps in memory: from here on what it keeps stays the same size.
    for (let i = 0; i < 12_000; i++) await oneLabel();
    const before = heapInUse();
    for (let i = 0; i < 10_000; i++) await oneLabel();
    const grown = heapInUse() - before;
    // Each wait used to leave ~350 bytes behind on the subscriber's abort signal until it disconnected.
    expect(grown / 10_000).toBeLessThan(100);
    const waiting = batches.next();
    controller.abort();
    expect((await waiting).done).toBe(true);
  });
});
