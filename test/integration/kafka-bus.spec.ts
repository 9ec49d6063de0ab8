import { setTimeout as sleep } from 'node:timers/promises';
import { BusUnavailableError, type BatchHandler, type IncomingMessage, type OutgoingMessage, type Subscription } from '#lib/contracts';
import { lastValueFrom } from 'rxjs';
import { KafkaBus, KafkaControlClient, KafkaControlServer, KafkaPartitionGroup, murmur2, parseBrokerList, type KafkaBusOptions, type KafkaLogLevel } from '#lib/kafka';
import { startBroker, type StartedBroker } from '#scripts/kafka-broker.mjs';
import { waitFor } from '#lib/testing';

// A broker given by the environment (`npm test` passes CG_TEST_KAFKA_BROKERS) is shared; otherwise
// this file starts its own. The outage test always needs a broker it may stop.
const externalBrokers = process.env.CG_TEST_KAFKA_BROKERS ?? process.env.KAFKA_BROKERS;

const TEST_TIMEOUT_MS = 45_000;
/**
 * How long the outage test keeps its broker away: longer than kafkajs's own retries of a connection
 * (~10 s for an admin client), after which a process starting then once exited.
 */
const OUTAGE_MS = 13_000;

let ownBroker: StartedBroker | undefined;
let brokers: string[];
const run = `${process.pid}-${Date.now().toString(36)}`;
let topicCount = 0;
const newTopic = (label: string): string => `test.kafka-bus.${run}.${label}.${++topicCount}`;
const newGroup = (label: string): string => `test-kafka-bus-${run}-${label}-${++topicCount}`;

const logs: Array<{ level: KafkaLogLevel; message: string; extra?: Record<string, unknown> }> = [];
const buses: KafkaBus[] = [];
function createBus(overrides: Partial<KafkaBusOptions> = {}): KafkaBus {
  const bus = new KafkaBus({
    brokers,
    clientId: 'kafka-bus-spec',
    // Short timings so rebalances, stops and retries fit the test budget.
    heartbeatIntervalMs: 300,
    sessionTimeoutMs: 10_000,
    maxWaitTimeMs: 200,
    handlerRetryInitialMs: 100,
    handlerRetryMaxMs: 500,
    log: (level, message, extra) => logs.push({ level, message, extra }),
    ...overrides,
  });
  buses.push(bus);
  return bus;
}


const messagesFor = (key: string, from: number, count: number): OutgoingMessage[] =>
  Array.from({ length: count }, (_, i) => ({ key, value: JSON.stringify({ key, seq: from + i }), headers: { seq: String(from + i) } }));

const id = (message: IncomingMessage): string => `${message.partition}:${message.offset}`;

beforeAll(async () => {
  if (externalBrokers) {
    brokers = parseBrokerList(externalBrokers);
  } else {
    ownBroker = await startBroker({ profile: 'test' });
    brokers = [ownBroker.brokers];
  }
}, 120_000);

afterEach(async () => {
  await Promise.all(buses.splice(0).map((bus) => bus.close()));
});

afterAll(async () => {
  await Promise.all(buses.splice(0).map((bus) => bus.close()));
  await ownBroker?.stop();
}, 30_000);

describe('KafkaBus on a real broker', () => {
  it.each([
    { compression: 'zstd', producers: 2 },
    { compression: 'gzip', producers: 1 },
    { compression: 'none', producers: 3 },
  ] as const)('keeps the order of messages with the same key and carries keys, values and headers ($compression, $producers producers)', async ({ compression, producers }) => {
    const bus = createBus({ compression, producers });
    const topic = newTopic('order');
    await bus.ensureTopics([{ name: topic, partitions: 4 }]);
    const keys = ['did:plc:alice', 'did:plc:bob', 'did:plc:carol', 'did:plc:dave', 'did:plc:erin'];
    const perKey = 120;
    // Interleaved publishes, several keys per call.
    for (let from = 0; from < perKey; from += 30) {
      await bus.publish(topic, keys.flatMap((key) => messagesFor(key, from, 30)));
    }

    const received = new Map<string, Array<{ seq: number; partition: number }>>();
    let total = 0;
    const subscription = await bus.subscribe({
      groupId: newGroup('order'),
      topics: [topic],
      maxBatchSize: 25,
      handler: async (batch) => {
        expect(batch.messages.length).toBeLessThanOrEqual(25);
        for (const message of batch.messages) {
          const body = JSON.parse(message.value) as { key: string; seq: number };
          expect(message.key).toBe(body.key);
          expect(message.headers.seq).toBe(String(body.seq));
          const list = received.get(body.key) ?? [];
          list.push({ seq: body.seq, partition: message.partition });
          received.set(body.key, list);
          total++;
        }
      },
    });
    await waitFor('every message', () => total >= keys.length * perKey);
    await subscription.stop();

    expect(total).toBe(keys.length * perKey);
    for (const key of keys) {
      const list = received.get(key)!;
      expect(list.map((entry) => entry.seq)).toEqual(Array.from({ length: perKey }, (_, i) => i));
      // The partition the Java client's partitioner picks for the key, so other producers agree.
      expect(new Set(list.map((entry) => entry.partition))).toEqual(new Set([(murmur2(Buffer.from(key)) & 0x7fffffff) % 4]));
    }
  }, TEST_TIMEOUT_MS);

  it('hands a failed batch over again, unchanged, and loses or skips nothing', async () => {
    const bus = createBus();
    const topic = newTopic('retry');
    const groupId = newGroup('retry');
    await bus.ensureTopics([{ name: topic, partitions: 2 }]);
    await bus.publish(topic, ['k1', 'k2', 'k3', 'k4'].flatMap((key) => messagesFor(key, 0, 30)));

    const calls: Array<{ ids: string[]; failed: boolean; partition: number }> = [];
    const handled: string[] = [];
    let failures = 0;
    const handler: BatchHandler = async (batch) => {
      const ids = batch.messages.map(id);
      // Fail the second batch of the run once.
      const fail = calls.length === 1 && failures === 0;
      calls.push({ ids, failed: fail, partition: batch.partition });
      if (fail) {
        failures++;
        throw new Error('transient failure');
      }
      handled.push(...ids);
    };
    const subscription = await bus.subscribe({ groupId, topics: [topic], maxBatchSize: 20, handler });
    await waitFor('every message', () => handled.length >= 120);
    await subscription.stop();

    expect(calls[1]!.failed).toBe(true);
    // The next call for that partition is the same batch again (other partitions run concurrently).
    const retry = calls.slice(2).find((call) => call.partition === calls[1]!.partition);
    expect(retry!.ids).toEqual(calls[1]!.ids);
    expect(handled).toHaveLength(120);
    expect(new Set(handled).size).toBe(120);
    // Per partition: every offset from 0, in order, none twice.
    const byPartition = new Map<string, number[]>();
    for (const entry of handled) {
      const [partition, offset] = entry.split(':') as [string, string];
      byPartition.set(partition, [...(byPartition.get(partition) ?? []), Number(offset)]);
    }
    for (const offsets of byPartition.values()) {
      expect(offsets).toEqual(Array.from({ length: offsets.length }, (_, i) => i));
    }
    expect(logs.some((line) => line.level === 'error' && line.message.includes('handed over again'))).toBe(true);
    expect(await bus.getLag(groupId, topic)).toEqual([
      { partition: 0, lag: 0 },
      { partition: 1, lag: 0 },
    ]);
  }, TEST_TIMEOUT_MS);

  it('commits only after the handler resolved: a new member resumes after the last committed message', async () => {
    const bus = createBus();
    const topic = newTopic('resume');
    const groupId = newGroup('resume');
    await bus.ensureTopics([{ name: topic, partitions: 1 }]);
    await bus.publish(topic, messagesFor('only', 0, 100));
    const offsetsOf = (messages: IncomingMessage[]): number[] => messages.map((message) => Number(message.offset));

    // Member A: three batches succeed; the fourth is still running when A is told to stop, and then
    // succeeds: stop() waits for it, and it is committed.
    const handledByA: number[] = [];
    let stopA: Promise<void> | undefined;
    let subscriptionA: Subscription | undefined;
    // eslint-disable-next-line prefer-const -- the handler reads it, and may run before subscribe() returns
    subscriptionA = await bus.subscribe({
      groupId,
      topics: [topic],
      maxBatchSize: 10,
      handler: async (batch, context) => {
        if (handledByA.length === 30) {
          stopA = subscriptionA!.stop();
          await waitFor('A to be stopping', () => context.isStopping());
        }
        handledByA.push(...offsetsOf(batch.messages));
      },
    });
    await waitFor('A to be asked to stop', () => stopA !== undefined);
    await stopA;
    expect(handledByA).toEqual(Array.from({ length: 40 }, (_, i) => i));
    expect(await bus.getLag(groupId, topic)).toEqual([{ partition: 0, lag: 60 }]);

    // Member B: its first batch is abandoned (rejects) while it stops; nothing is committed.
    const seenByB: number[][] = [];
    let stopB: Promise<void> | undefined;
    const subscriptionB: Subscription = await bus.subscribe({
      groupId,
      topics: [topic],
      maxBatchSize: 10,
      handler: async (batch, context) => {
        seenByB.push(offsetsOf(batch.messages));
        stopB ??= subscriptionB.stop();
        await waitFor('B to be stopping', () => context.isStopping());
        throw new Error('abandoned while stopping');
      },
    });
    await waitFor('B to be asked to stop', () => stopB !== undefined);
    await stopB;
    expect(seenByB).toEqual([Array.from({ length: 10 }, (_, i) => 40 + i)]);
    expect(await bus.getLag(groupId, topic)).toEqual([{ partition: 0, lag: 60 }]);

    // Member C resumes at 40 and sees each remaining message exactly once.
    const handledByC: number[] = [];
    const subscriptionC = await bus.subscribe({
      groupId,
      topics: [topic],
      maxBatchSize: 10,
      handler: async (batch) => {
        handledByC.push(...offsetsOf(batch.messages));
      },
    });
    await waitFor('C to catch up', () => handledByC.length >= 60);
    await sleep(300);
    await subscriptionC.stop();
    expect(handledByC).toEqual(Array.from({ length: 60 }, (_, i) => 40 + i));
    expect(await bus.getLag(groupId, topic)).toEqual([{ partition: 0, lag: 0 }]);
  }, TEST_TIMEOUT_MS);

  it('splits the partitions between two members of a group, which together see every message once', async () => {
    const bus = createBus();
    const topic = newTopic('split');
    const groupId = newGroup('split');
    await bus.ensureTopics([{ name: topic, partitions: 4 }]);

    const seen = { first: [] as IncomingMessage[], second: [] as IncomingMessage[] };
    const member = (name: keyof typeof seen) =>
      bus.subscribe({
        groupId,
        topics: [topic],
        handler: async (batch) => {
          seen[name].push(...batch.messages);
        },
      });
    const first = await member('first');
    // The second join completes once the first member re-joined: the group is then stable.
    const second = await member('second');

    const keys = Array.from({ length: 40 }, (_, i) => `did:plc:user${i}`);
    await bus.publish(topic, keys.flatMap((key) => messagesFor(key, 0, 10)));
    await waitFor('every message', () => seen.first.length + seen.second.length >= 400);
    await sleep(500);
    await Promise.all([first.stop(), second.stop()]);

    const all = [...seen.first, ...seen.second].map(id);
    expect(all).toHaveLength(400);
    expect(new Set(all).size).toBe(400);
    const partitionsOf = (messages: IncomingMessage[]) => new Set(messages.map((message) => message.partition));
    expect(partitionsOf(seen.first).size).toBeGreaterThan(0);
    expect(partitionsOf(seen.second).size).toBeGreaterThan(0);
    expect([...partitionsOf(seen.first)].filter((partition) => partitionsOf(seen.second).has(partition))).toEqual([]);
  }, TEST_TIMEOUT_MS);

  it('sends multi-byte text in requests measured in bytes: a publish beyond what a topic takes in one batch goes through whole', async () => {
    const bus = createBus({ compression: 'none', producers: 1 });
    const topic = newTopic('utf8');
    await bus.ensureTopics([{ name: topic, partitions: 1 }]);
    // 6 M UTF-16 code units, under a request's 8 MiB by length, but 18 MB of UTF-8: beyond the topic's 10 MiB.
    const text = '漢'.repeat(5_000);
    await bus.publish(topic, Array.from({ length: 1_200 }, (_, i) => ({ key: `did:plc:user${i}`, value: text })));
    expect(await bus.getLag(newGroup('utf8'), topic)).toEqual([{ partition: 0, lag: 1_200 }]);
  }, TEST_TIMEOUT_MS);

  it('refuses a message larger than a request may carry, logging and counting it, and publishes the others', async () => {
    const bus = createBus({ compression: 'none', producers: 1 });
    const topic = newTopic('too-large');
    await bus.ensureTopics([{ name: topic, partitions: 1 }]);
    const huge = { key: 'did:plc:huge', value: 'x'.repeat(11 * 1024 * 1024) };
    await bus.publish(topic, [...messagesFor('did:plc:small', 0, 2), huge, ...messagesFor('did:plc:small', 2, 2)]);
    expect(bus.refusedMessages).toBe(1);
    expect(logs).toContainEqual({
      level: 'error',
      message: 'message larger than the bus carries; refused, not published',
      extra: expect.objectContaining({ topic, key: 'did:plc:huge', bytes: expect.any(Number), maxBytes: 8 * 1024 * 1024 }),
    });

    const received: string[] = [];
    const subscription = await bus.subscribe({
      groupId: newGroup('too-large'),
      topics: [topic],
      handler: async (batch) => {
        received.push(...batch.messages.map((message) => `${message.key}:${message.headers.seq}`));
      },
    });
    await waitFor('the other messages', () => received.length >= 4);
    await subscription.stop();
    expect(received).toEqual(['did:plc:small:0', 'did:plc:small:1', 'did:plc:small:2', 'did:plc:small:3']);
  }, TEST_TIMEOUT_MS);

  it("creates topics with the replication factor it is given, and with the broker's default without one", async () => {
    const topic = newTopic('replicas');
    await createBus().ensureTopics([{ name: topic, partitions: 1 }]);
    await createBus().publish(topic, messagesFor('replicas', 0, 1));
    // The test broker is alone: a factor of 2 reaches it, and it refuses it.
    const refused = createBus({ replicationFactor: 2 }).ensureTopics([{ name: newTopic('replicas'), partitions: 1 }]);
    await expect(refused).rejects.toBeInstanceOf(BusUnavailableError);
    await expect(refused).rejects.toThrow(/Replication-factor is invalid/);
  }, TEST_TIMEOUT_MS);

  it('keeps its place in the group while a handler outlasts the session: the batch is committed once, never handed over again', async () => {
    // The smallest session the broker allows; the handler's one step takes half as long again.
    const sessionTimeoutMs = 6_000;
    const bus = createBus({ sessionTimeoutMs, heartbeatIntervalMs: 1_000 });
    const topic = newTopic('slow');
    const groupId = newGroup('slow');
    await bus.ensureTopics([{ name: topic, partitions: 1 }]);
    await bus.publish(topic, messagesFor('slow', 0, 3));
    const handed: string[][] = [];
    const subscription = await bus.subscribe({
      groupId,
      topics: [topic],
      handler: async (batch) => {
        handed.push(batch.messages.map(id));
        if (handed.length === 1) await sleep(sessionTimeoutMs * 1.5);
      },
    });
    await waitFor('the slow batch to be committed', async () => (await bus.lag(groupId, [topic]))[0]?.lag === 0, 30_000);
    // Time for a batch handed over again to arrive.
    await sleep(2_000);
    await subscription.stop();
    expect(handed).toEqual([['0:0', '0:1', '0:2']]);
  }, TEST_TIMEOUT_MS);

  it('leaves nothing in the ranker group when stopped while it was still joining', async () => {
    const topic = newTopic('rankers');
    const groupId = newGroup('rankers');
    await createBus().ensureTopics([{ name: topic, partitions: 4 }]);
    const member = (clientId: string) =>
      new KafkaPartitionGroup({ brokers, clientId, groupId, topic, sessionTimeoutMs: 6_000, logLevel: 'warn', log: (level, message, extra) => logs.push({ level, message, extra }) });
    const stopped = member('stopped-early');
    const other = member('other');
    try {
      const starting = stopped.start();
      await stopped.stop();
      await starting;
      expect(stopped.state.joined).toBe(false);
      // Had the stopped member joined after all, it would hold half of the partitions.
      await other.start();
      await waitFor('the other member to hold every partition', () => other.state.partitions.length === 4, 15_000);
      await sleep(1_000);
      expect(stopped.state.joined).toBe(false);
      expect(other.state.partitions).toEqual([0, 1, 2, 3]);
    } finally {
      await stopped.stop();
      await other.stop();
    }
  }, TEST_TIMEOUT_MS);

  it('stores every publish it acknowledges when a send timed out but reached the broker (a stalled broker, then one back)', async () => {
    const broker = await startBroker({ profile: 'test' });
    try {
      // One lane, so that every publish shares one idempotent producer; a short request timeout, so that the stall outlasts it.
      const bus = createBus({ brokers: [broker.brokers], producers: 1, requestTimeoutMs: 2_000, publishTimeoutMs: 20_000 });
      const topic = newTopic('stall');
      await bus.ensureTopics([{ name: topic, partitions: 1 }]);
      await bus.publish(topic, [{ key: 'k', value: 'warm-up' }]);
      // The broker stalls (a long pause of its JVM): the first send times out on the client, and is written once the broker resumes.
      process.kill(broker.pid!, 'SIGSTOP');
      const outcomes: Record<string, Promise<void>> = {};
      try {
        outcomes['A'] = bus.publish(topic, [{ key: 'k', value: 'A' }]);
        await sleep(500);
        outcomes['B'] = bus.publish(topic, [{ key: 'k', value: 'B' }]);
        await sleep(2_500);
      } finally {
        process.kill(broker.pid!, 'SIGCONT');
      }
      const settled = await Promise.allSettled(Object.values(outcomes));
      const acknowledged = Object.keys(outcomes).filter((_, index) => settled[index]!.status === 'fulfilled');
      await bus.publish(topic, [{ key: 'k', value: 'after' }]);

      const values: string[] = [];
      const subscription = await bus.subscribe({
        groupId: newGroup('stall'),
        topics: [topic],
        handler: async (batch) => {
          values.push(...batch.messages.map((message) => String(message.value)));
        },
      });
      await waitFor('the message after the stall', () => values.includes('after'), 30_000);
      await subscription.stop();
      // Every publish that resolved is stored (a copy too many is allowed: consumers are idempotent; a loss is not).
      for (const value of acknowledged) expect({ value, stored: values.includes(value) }).toEqual({ value, stored: true });
      expect(acknowledged.length).toBeGreaterThan(0);
    } finally {
      await Promise.all(buses.splice(0).map((bus) => bus.close()));
      await broker.stop();
    }
  }, 120_000);

  it('rejects a publish with BusUnavailableError within the bound while the broker is down; publishing and consuming resume after a restart, and a bus, a ranker member and a control plane started meanwhile wait for the broker to create topics, subscribe and join', async () => {
    const broker = ownBroker ?? (await startBroker({ profile: 'test' }));
    try {
      const publishTimeoutMs = 4_000;
      // The member that lost the broker cannot leave the group; the group waits one session timeout
      // for it before the restarted consumer joins, so the smallest session the broker allows.
      const bus = createBus({ brokers: [broker.brokers], publishTimeoutMs, pingTimeoutMs: 1_000, sessionTimeoutMs: 6_000 });
      const topic = newTopic('outage');
      const controlTopic = newTopic('control');
      await bus.ensureTopics([{ name: topic, partitions: 2 }, { name: controlTopic, partitions: 1 }]);
      // A subscription opened before the outage keeps working after it.
      const keys: string[] = [];
      const subscription = await bus.subscribe({
        groupId: newGroup('outage'),
        topics: [topic],
        handler: async (batch) => {
          keys.push(...batch.messages.map((message) => message.key ?? ''));
        },
      });
      await bus.publish(topic, messagesFor('before', 0, 5));
      await waitFor('the messages from before the outage', () => keys.length >= 5);
      expect(await bus.ping()).toBe(true);

      await broker.stop({ keepData: true });
      const started = Date.now();
      await expect(bus.publish(topic, messagesFor('during', 0, 5))).rejects.toBeInstanceOf(BusUnavailableError);
      expect(Date.now() - started).toBeLessThan(publishTimeoutMs + 1_000);
      expect(await bus.ping()).toBe(false);
      // A process starting now (its broker restarting) creates its topics once the broker is back.
      const lateTopic = newTopic('late');
      const creating = createBus({ brokers: [broker.brokers] }).ensureTopics([{ name: lateTopic, partitions: 1 }]);
      // And subscribes once the broker is back, instead of giving up (its process would have no reader).
      const lateKeys: string[] = [];
      const subscribing = createBus({ brokers: [broker.brokers], sessionTimeoutMs: 6_000 }).subscribe({
        groupId: newGroup('late-reader'),
        topics: [topic],
        handler: async (batch) => {
          lateKeys.push(...batch.messages.map((message) => message.key ?? ''));
        },
      });
      // A ranker member and the control plane of a process starting now join once the broker is back.
      const lateMember = new KafkaPartitionGroup({
        brokers: [broker.brokers], clientId: 'late-ranker', groupId: newGroup('late-rankers'), topic, sessionTimeoutMs: 6_000, logLevel: 'warn',
        log: (level, message, extra) => logs.push({ level, message, extra }),
      });
      const joining = lateMember.start();
      const controlOptions = {
        brokers: [broker.brokers], clientId: `late-control-${run}`, topicPrefix: '', sessionTimeoutMs: 6_000, logLevel: 'error' as const,
        log: (level: KafkaLogLevel, message: string, extra?: Record<string, unknown>) => logs.push({ level, message, extra }),
      };
      const controlServer = new KafkaControlServer(controlOptions);
      const announced: unknown[] = [];
      controlServer.addHandler(controlTopic, (data: unknown) => Promise.resolve(void announced.push(data)), true);
      const listening = new Promise<void>((resolve, reject) => void controlServer.listen((error) => (error ? reject(error) : resolve())));
      await sleep(OUTAGE_MS);

      await broker.restart();
      await creating;
      const lateSubscription = await subscribing;
      await joining;
      expect(lateMember.state.partitions).toEqual([0, 1]);
      await listening;
      const controlClient = new KafkaControlClient(controlOptions);
      await lastValueFrom(controlClient.emit(controlTopic, { change: 'after the outage' }), { defaultValue: undefined });
      await waitFor('the control plane to hear what was announced after the outage', () => announced.length >= 1, 30_000);
      expect(announced).toEqual([{ change: 'after the outage' }]);
      await controlClient.close();
      await controlServer.close();
      await lateMember.stop();
      await bus.publish(lateTopic, messagesFor('late', 0, 1));
      expect(await bus.ping()).toBe(true);
      await bus.publish(topic, messagesFor('after', 0, 5));
      await waitFor('the messages from after the outage', () => keys.length >= 10, 30_000);
      await waitFor('the late reader to read them too', () => lateKeys.length >= 10, 30_000);
      await lateSubscription.stop();
      await subscription.stop();
      expect(keys.sort()).toEqual([...Array(5).fill('after'), ...Array(5).fill('before')]);
    } finally {
      await Promise.all(buses.splice(0).map((bus) => bus.close()));
      if (broker !== ownBroker) await broker.stop();
    }
    // Two broker starts (a JVM each): on 2 cores shared with the other test workers, up to a minute.
  }, 120_000 + OUTAGE_MS);
});
