import { setTimeout as sleep } from 'node:timers/promises';
import { Topics } from '#lib/contracts';
import type { IncomingMessage } from '#lib/contracts';
import { InProcessBus } from './in-process.bus.js';
import { PrefixedBus } from './prefixed.bus.js';
import { waitFor } from '#lib/testing';

const messages = (count: number, from = 0) =>
  Array.from({ length: count }, (_, index) => ({ key: `did:plc:${(from + index) % 3}`, value: String(from + index) }));

describe('InProcessBus', () => {
  let bus: InProcessBus;
  beforeEach(() => (bus = new InProcessBus({ retainedTopics: [Topics.deadLetter] })));
  afterEach(() => bus.close());

  it('acknowledges a publish only after the consumer group has handled the messages', async () => {
    const handled: string[] = [];
    const subscription = await bus.subscribe({
      groupId: 'g',
      topics: [Topics.events],
      handler: async (batch) => {
        await sleep(20);
        handled.push(...batch.messages.map((message) => message.value));
      },
    });
    await bus.publish(Topics.events, messages(5));
    expect(handled).toEqual(['0', '1', '2', '3', '4']);
    await subscription.stop();
  });

  it("hands consumers the producer's decoded message beside its value, and nothing when none was given", async () => {
    const seen: IncomingMessage[] = [];
    const subscription = await bus.subscribe({
      groupId: 'g',
      topics: [Topics.events],
      handler: async (batch) => void seen.push(...batch.messages),
    });
    const event = { v: 1, type: 'like', did: 'did:plc:a' };
    await bus.publish(Topics.events, [{ key: 'did:plc:a', value: JSON.stringify(event), decoded: event }, { key: 'did:plc:b', value: '{}' }]);
    expect(seen[0]!.decoded).toBe(event);
    expect(seen[0]!.value).toBe(JSON.stringify(event));
    expect(seen[1]).not.toHaveProperty('decoded');
    await subscription.stop();
  });

  it('delivers a failed batch again, in order, without losing or skipping anything', async () => {
    const seen: IncomingMessage[][] = [];
    let failOnce = true;
    const subscription = await bus.subscribe({
      groupId: 'g',
      topics: [Topics.events],
      maxBatchSize: 4,
      handler: async (batch) => {
        seen.push(batch.messages);
        if (failOnce) {
          failOnce = false;
          throw new Error('ClickHouse is away');
        }
      },
    });
    await bus.publish(Topics.events, messages(6));
    expect(seen.map((batch) => batch.map((message) => message.value))).toEqual([
      ['0', '1', '2', '3'],
      ['0', '1', '2', '3'],
      ['4', '5'],
    ]);
    await subscription.stop();
  });

  it('holds messages for a group that subscribes later, and resolves the publish once it has them', async () => {
    let acknowledged = false;
    const published = bus.publish(Topics.events, messages(3)).then(() => (acknowledged = true));
    await sleep(10);
    expect(acknowledged).toBe(false);
    const values: string[] = [];
    const subscription = await bus.subscribe({
      groupId: 'g',
      topics: [Topics.events],
      handler: async (batch) => void values.push(...batch.messages.map((message) => message.value)),
    });
    await published;
    expect(values).toEqual(['0', '1', '2']);
    await subscription.stop();
  });

  it('starts a group subscribing from the latest message at what is published after it, while others still hold the earlier ones', async () => {
    const early = bus.publish(Topics.feedback, messages(2));
    const live: string[] = [];
    const latest = await bus.subscribe({ groupId: 'replica', topics: [Topics.feedback], from: 'latest', handler: async (batch) => void live.push(...batch.messages.map((m) => m.value)) });
    const all: string[] = [];
    const earliest = await bus.subscribe({ groupId: 'writer', topics: [Topics.feedback], handler: async (batch) => void all.push(...batch.messages.map((m) => m.value)) });
    await early;
    await bus.publish(Topics.feedback, messages(1, 2));
    expect(live).toEqual(['2']);
    expect(all).toEqual(['0', '1', '2']);
    await latest.stop();
    await earliest.stop();
  });

  it('acknowledges at once on a retained topic nobody consumes and keeps the messages for inspection', async () => {
    await bus.publish(Topics.deadLetter, [{ key: 'k', value: 'bad', headers: { 'x-dead-letter-reason': 'not JSON' } }]);
    expect(bus.retained(Topics.deadLetter).messages).toEqual([
      expect.objectContaining({ value: 'bad', headers: { 'x-dead-letter-reason': 'not JSON' } }),
    ]);
  });

  it('reports as lag what a group has not committed yet, and nothing once it has', async () => {
    let release!: () => void;
    const blocked = new Promise<void>((resolve) => (release = resolve));
    const subscription = await bus.subscribe({ groupId: 'g', topics: [Topics.events], maxBatchSize: 2, handler: () => blocked });
    const published = bus.publish(Topics.events, messages(5));
    await sleep(10);
    expect(await bus.lag('g', [Topics.events])).toEqual([{ topic: Topics.events, partition: 0, lag: 5 }]);
    release();
    await published;
    expect(await bus.lag('g', [Topics.events])).toEqual([{ topic: Topics.events, partition: 0, lag: 0 }]);
    // A group that does not consume yet lags by everything waiting; a retained topic nobody reads, by nothing.
    expect(await bus.lag('other', [Topics.events])).toEqual([{ topic: Topics.events, partition: 0, lag: 0 }]);
    await bus.publish(Topics.deadLetter, messages(1));
    expect(await bus.lag('g', [Topics.deadLetter])).toEqual([]);
    await subscription.stop();
  });

  it('reports lag through a topic prefix in the contract topic names', async () => {
    const prefixed = new PrefixedBus(bus, 'test.');
    await prefixed.ensureTopics([{ name: Topics.events, partitions: 1 }]);
    expect(await prefixed.lag!('g', [Topics.events])).toEqual([{ topic: Topics.events, partition: 0, lag: 0 }]);
    // A bus that cannot tell its lag stays one that cannot tell, rather than reporting none.
    expect(new PrefixedBus({ ping: async () => true } as unknown as InProcessBus, 'x.').lag).toBeUndefined();
  });

  it('makes publishers wait while a topic holds its bound of unconsumed messages, and lets them in as the consumer drains', async () => {
    const bounded = new InProcessBus({ maxQueued: 4 });
    const gates: (() => void)[] = [];
    const handled: string[] = [];
    let peak = 0;
    const subscription = await bounded.subscribe({
      groupId: 'g',
      topics: [Topics.events],
      maxBatchSize: 2,
      handler: async (batch) => {
        peak = Math.max(peak, bounded.queued(Topics.events).messages);
        await new Promise<void>((resolve) => gates.push(resolve));
        handled.push(...batch.messages.map((message) => message.value));
      },
    });
    const drainOneBatch = async () => (await waitFor('a batch in the consumer', () => gates.shift(), 5_000))();

    // Three publishers of three messages against a bound of four: the first is in, the second
    // partly, the third waits behind it.
    const acknowledged: number[] = [];
    const publishes = [0, 1, 2].map((i) => bounded.publish(Topics.events, messages(3, i * 3)).then(() => void acknowledged.push(i)));
    await waitFor('the topic full', () => bounded.queued(Topics.events).messages === 4, 5_000);
    await sleep(20);
    expect(bounded.queued(Topics.events)).toEqual({ messages: 4, blockedPublishes: 2 });

    // Each batch the consumer commits makes room for as many waiting messages, in publish order.
    await drainOneBatch();
    await waitFor('the second publish in', () => bounded.queued(Topics.events).blockedPublishes === 1, 5_000);
    expect(bounded.queued(Topics.events)).toEqual({ messages: 4, blockedPublishes: 1 });
    expect(acknowledged).toEqual([]);
    for (let i = 0; i < 4; i += 1) await drainOneBatch();
    await Promise.all(publishes);

    expect(acknowledged).toEqual([0, 1, 2]);
    expect(handled).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8']);
    expect(peak).toBeLessThanOrEqual(4);
    expect(bounded.queued(Topics.events)).toEqual({ messages: 0, blockedPublishes: 0 });
    await subscription.stop();
    await bounded.close();
  });

  it('holds a bounded topic for a group that subscribes later without growing past the bound', async () => {
    const bounded = new InProcessBus({ maxQueued: 3 });
    const published = bounded.publish(Topics.events, messages(7));
    await sleep(10);
    expect(bounded.queued(Topics.events)).toEqual({ messages: 3, blockedPublishes: 1 });
    const values: string[] = [];
    const subscription = await bounded.subscribe({
      groupId: 'g',
      topics: [Topics.events],
      handler: async (batch) => void values.push(...batch.messages.map((message) => message.value)),
    });
    await published;
    expect(values).toEqual(['0', '1', '2', '3', '4', '5', '6']);
    await subscription.stop();
    await bounded.close();
  });
});
