/**
 * Poison messages: what the scoring consumers do with messages that decode but that ClickHouse
 * refuses, with numbers that are not sane integers and strings that are not well-formed, and with
 * a ClickHouse that refuses inserts for its own reasons (nothing is taken for poison then). Real
 * buses (in-process and Kafka), real ClickHouse (chDB in memory, a database per bus).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { InProcessBus, PrefixedBus } from '#lib/bus';
import { applyMigrations, createClickHouseClient, EventRepository, FeedbackRepository, type ClickHouseClient } from '#lib/clickhouse';
import { loadConfig, type AppConfig } from '#lib/config';
import { DeadLetterHeaders, encodeMessage, Topics, type FeedbackEventV1, type IncomingMessage, type MessageBus, type PipelineEventV1, type Subscription } from '#lib/contracts';
import { KafkaBus } from '#lib/kafka';
import { createLogger, Metrics } from '#lib/platform';
import { testAppEnv, waitFor } from '#lib/testing';
import { EventBatchConsumer } from '../../services/scoring/src/event-batch.consumer.js';
import { FeedbackBatchConsumer } from '../../services/scoring/src/feedback-batch.consumer.js';

const TEST_TIMEOUT_MS = 60_000;
const brokers = process.env.CG_TEST_KAFKA_BROKERS ?? process.env.KAFKA_BROKERS;
const author = 'did:plc:poison00000000000000000000';
const viewer = 'did:plc:viewer00000000000000000000';
const now = Date.now() * 1000;

const post = (rkey: string, text: string, timeUs = now): PipelineEventV1 => ({
  v: 1, type: 'post', op: 'create', did: author, rkey, cid: `bafy${rkey}`, timeUs, createdAtMs: Math.floor(timeUs / 1000),
  text, langs: ['en'], tags: [], replyRoot: null, replyParent: null, quote: null, hasMedia: false,
});
/** On the wire as producers write it (`encodeMessage` is JSON; NaN becomes null there, as anywhere). */
const message = (event: PipelineEventV1 | FeedbackEventV1 | Record<string, unknown>) => ({
  key: 'viewer' in event ? String(event.viewer) : String(event.did),
  value: JSON.stringify(event),
});

describe.each(['in-process', 'kafka'] as const)('scoring consumers and poison messages (%s bus)', (kind) => {
  let dir: string;
  let config: AppConfig;
  let client: ClickHouseClient;
  let bus: MessageBus;
  let consumers: (EventBatchConsumer | FeedbackBatchConsumer)[];
  let reader: Subscription | undefined;
  const deadLetters: IncomingMessage[] = [];

  const query = async <T>(sql: string) =>
    (await (await client.query({ query: sql.replaceAll('{db}', config.clickhouse.database), format: 'JSONEachRow' })).json<T>());
  const postsOf = async (final: boolean) =>
    (await query<{ rkey: string }>(`SELECT rkey FROM {db}.posts ${final ? 'FINAL' : ''} WHERE did = '${author}' ORDER BY rkey`)).map((row) => row.rkey);
  const deadLettersWith = (count: number) => () => {
    const found = kind === 'in-process' ? (bus as InProcessBus).retained(Topics.deadLetter).messages : deadLetters;
    return found.length >= count ? found : undefined;
  };

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'cg-poison-'));
    await writeFile(path.join(dir, 'feeds.yaml'), 'communities: {}\nfeeds: {}\n');
    const run = `${process.pid}_${Date.now().toString(36)}`;
    config = loadConfig(
      testAppEnv({
        name: `poison_${kind.replace('-', '_')}`,
        dataDir: dir,
        feedsFile: path.join(dir, 'feeds.yaml'),
        overrides: { SCORING_WRITE_ATTEMPTS: '2', ...(kind === 'kafka' && brokers && { KAFKA_BROKERS: brokers, KAFKA_CONSUMER_GROUP: `poison-${run}` }) },
      }),
    );
    client = createClickHouseClient(config.clickhouse);
    await applyMigrations(client, config.clickhouse.database);
    // Rows ClickHouse refuses for what they hold, though they decode: a post whose text is 'poison'.
    await client.command({ query: `ALTER TABLE ${config.clickhouse.database}.posts ADD CONSTRAINT poison CHECK text != 'poison'` });
    if (kind === 'in-process') {
      bus = new InProcessBus({ retainedTopics: [Topics.deadLetter] });
    } else {
      if (!brokers) throw new Error('the Kafka cases need a broker: run them through `npm test`, which starts one');
      bus = new PrefixedBus(new KafkaBus({ brokers: brokers.split(','), clientId: 'poison-spec', logLevel: 'error', maxWaitTimeMs: 200 }), `test.poison.${run}.`);
      await bus.ensureTopics(Object.values(Topics).map((name) => ({ name, partitions: 1 })));
      reader = await bus.subscribe({
        groupId: `poison-dead-letter-reader-${run}`,
        topics: [Topics.deadLetter],
        handler: async (batch) => void deadLetters.push(...batch.messages),
      });
    }
    const logger = createLogger({ logLevel: 'silent', role: 'all' });
    const metrics = new Metrics({ processMetrics: false });
    const { database } = config.clickhouse;
    consumers = [
      new EventBatchConsumer(config, bus, new EventRepository(client, database), logger, metrics),
      new FeedbackBatchConsumer(config, bus, new FeedbackRepository(client, database), logger, metrics),
    ];
    for (const consumer of consumers) await consumer.onApplicationBootstrap();
  }, TEST_TIMEOUT_MS);

  afterAll(async () => {
    for (const consumer of consumers ?? []) await consumer.beforeApplicationShutdown();
    await reader?.stop();
    await bus?.close();
    await client?.command({ query: `DROP DATABASE IF EXISTS ${config.clickhouse.database}` });
    await client?.close();
    await rm(dir, { recursive: true, force: true });
  }, TEST_TIMEOUT_MS);

  it(
    'stores every good message of a batch ClickHouse refuses once, dead-letters the refused one with its error, and moves on',
    async () => {
      // The message decodes, and its insert fails every time.
      const refused = post('3kpoison00003', 'poison');
      const batch = [post('3kpoison00001', 'one'), post('3kpoison00002', 'two'), refused, post('3kpoison00004', 'four'), post('3kpoison00005', 'five')];
      await bus.publish(Topics.events, batch.map(message));

      const [dead] = await waitFor('the refused message in the dead-letter topic', deadLettersWith(1), TEST_TIMEOUT_MS);
      expect(dead!.value).toBe(encodeMessage(refused));
      expect(dead!.headers[DeadLetterHeaders.reason]).toMatch(/^refused by ClickHouse: .*poison/);
      expect(dead!.headers[DeadLetterHeaders.sourceTopic]).toBe(Topics.events);
      expect(dead!.headers[DeadLetterHeaders.sourceOffset]).toMatch(/^\d+$/);

      const good = ['3kpoison00001', '3kpoison00002', '3kpoison00004', '3kpoison00005'];
      await waitFor('the good posts', async () => ((await postsOf(true)).length === 4 ? true : undefined), TEST_TIMEOUT_MS);
      // Once each, even before merges: the halves that went in were not written again.
      expect(await postsOf(false)).toEqual(good);
      expect(await postsOf(true)).toEqual(good);

      // The partition moved on: what comes next is written.
      await bus.publish(Topics.events, [message(post('3kpoison00006', 'after'))]);
      await waitFor('the post after the poison', async () => ((await postsOf(true)).includes('3kpoison00006') ? true : undefined), TEST_TIMEOUT_MS);
      // The consumer counts a batch once it is stored and committed, a moment after the rows can be read.
      await waitFor('the consumer counting the post after the poison', async () => (consumers[0]!.stats.written >= 5 ? true : undefined), TEST_TIMEOUT_MS);
      expect(consumers[0]!.stats).toMatchObject({ written: 5, deadLettered: 1 });
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'dead-letters at decode a number that is a float, negative, NaN or out of range, on either topic',
    async () => {
      const before = deadLettersWith(0)()!.length;
      const { timeUs: _t, ...withoutTime } = post('3kpoison00010', 'x');
      const feedback = (timeUs: unknown) => ({ v: 1, type: 'feedback', viewer, feed: null, item: `at://${author}/app.bsky.feed.post/3kpoison00001`, event: 'interactionSeen', feedContext: null, reqId: null, timeUs });
      const badEvents = [
        { ...post('3kpoison00011', 'float'), timeUs: now + 0.5 },
        { ...post('3kpoison00012', 'negative'), timeUs: -now },
        { ...withoutTime, rkey: '3kpoison00013', timeUs: Number.NaN },
        { ...post('3kpoison00014', 'far future'), timeUs: 1e20 },
        { ...post('3kpoison00015', 'float date'), createdAtMs: 1.25 },
      ];
      await bus.publish(Topics.events, [...badEvents.map(message), message(post('3kpoison00016', 'fine'))]);
      await bus.publish(Topics.feedback, [message(feedback(now + 0.5)), message(feedback(now))]);

      const dead = await waitFor('six dead letters', deadLettersWith(before + 6), TEST_TIMEOUT_MS);
      const time = 'field "timeUs": expected a positive integer of microseconds';
      expect(dead.slice(before).map((entry) => `${entry.headers[DeadLetterHeaders.sourceTopic]} ${entry.headers[DeadLetterHeaders.reason]}`).sort()).toEqual(
        [
          ...Array.from({ length: 4 }, () => `${Topics.events} ${time}`),
          `${Topics.events} field "createdAtMs": expected an integer of milliseconds`,
          `${Topics.feedback} ${time}`,
        ].sort(),
      );
      await waitFor('the good post beside them', async () => ((await postsOf(true)).includes('3kpoison00016') ? true : undefined), TEST_TIMEOUT_MS);
      await waitFor('the good feedback beside them', async () =>
        (await query<{ actor: string }>(`SELECT actor FROM {db}.interactions FINAL WHERE actor = '${viewer}'`)).length === 1 ? true : undefined,
      TEST_TIMEOUT_MS);
      expect((await postsOf(false)).filter((rkey) => rkey >= '3kpoison00010')).toEqual(['3kpoison00016']);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'dead-letters at decode a string holding an unpaired surrogate, on either topic, and stores the messages beside it',
    async () => {
      const before = deadLettersWith(0)()!.length;
      const item = `at://${author}/app.bsky.feed.post/3kpoison00018`;
      const feedback = (feedContext: string): FeedbackEventV1 => ({ v: 1, type: 'feedback', viewer, feed: null, item, event: 'requestMore', feedContext, reqId: null, timeUs: now });
      // Valid JSON and valid JavaScript strings, which ClickHouse would refuse the escapes of.
      await bus.publish(Topics.events, [message(post('3kpoison00017', 'half an emoji \ud83d')), message({ ...post('3kpoison00018', 'fine'), tags: ['\udfff'] }), message(post('3kpoison00019', 'fine'))]);
      await bus.publish(Topics.feedback, [message(feedback('climate\ud800')), message(feedback('climate'))]);

      const dead = await waitFor('three dead letters', deadLettersWith(before + 3), TEST_TIMEOUT_MS);
      expect(dead.slice(before).map((entry) => `${entry.headers[DeadLetterHeaders.sourceTopic]} ${entry.headers[DeadLetterHeaders.reason]}`).sort()).toEqual(
        [`${Topics.events} a string holds an unpaired surrogate`, `${Topics.events} a string holds an unpaired surrogate`, `${Topics.feedback} a string holds an unpaired surrogate`].sort(),
      );
      await waitFor('the good post beside them', async () => ((await postsOf(true)).includes('3kpoison00019') ? true : undefined), TEST_TIMEOUT_MS);
      await waitFor('the good feedback beside them', async () =>
        (await query<{ feed_context: string }>(`SELECT feed_context FROM {db}.interactions FINAL WHERE actor = '${viewer}' AND subject_uri = '${item}'`)).map((row) => row.feed_context).join() === 'climate' ? true : undefined,
      TEST_TIMEOUT_MS);
      expect((await postsOf(false)).filter((rkey) => rkey >= '3kpoison00017' && rkey < '3kpoison00020')).toEqual(['3kpoison00019']);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'dead-letters nothing while ClickHouse answers but refuses inserts into a table, and once it takes them again writes the batch and dead-letters only its bad message',
    async () => {
      const deadBefore = deadLettersWith(0)()!.length;
      const failedBefore = consumers[0]!.stats.failedBatches;
      const refused = post('3kpoison00023', 'poison');
      const like = (rkey: string): PipelineEventV1 => ({
        v: 1, type: 'like', op: 'create', did: author, rkey, cid: `bafy${rkey}`, timeUs: now, createdAtMs: Math.floor(now / 1000),
        subjectUri: `at://${author}/app.bsky.feed.post/3kpoison00021`, subjectCid: 'bafy3kpoison00021',
      });
      const batch = [post('3kpoison00021', 'one'), post('3kpoison00022', 'two'), refused, post('3kpoison00024', 'four'), like('3kpoison00025'), like('3kpoison00026')];
      const likes = async () => (await query<{ rkey: string }>(`SELECT rkey FROM {db}.interactions FINAL WHERE actor = '${author}' ORDER BY rkey`)).map((row) => row.rkey);
      // Too many parts in the likes' table, as when its merges fall behind: ClickHouse answers its
      // ping, takes the posts, and refuses the likes whatever they hold.
      await client.command({ query: `ALTER TABLE ${config.clickhouse.database}.interactions MODIFY SETTING parts_to_throw_insert = 1` });
      // The in-process bus acknowledges a publish once the consumers have committed it: awaited
      // once ClickHouse takes inserts again.
      const published = bus.publish(Topics.events, batch.map(message));
      try {
        await waitFor('the batch refused and delivered again', async () => (consumers[0]!.stats.failedBatches >= failedBefore + 3 ? true : undefined), TEST_TIMEOUT_MS);
        expect(deadLettersWith(0)()!.length).toBe(deadBefore);
        expect(await likes()).toEqual([]);
      } finally {
        await client.command({ query: `ALTER TABLE ${config.clickhouse.database}.interactions RESET SETTING parts_to_throw_insert` });
      }
      await published;

      await waitFor('the likes', async () => ((await likes()).length === 2 ? true : undefined), TEST_TIMEOUT_MS);
      expect(await likes()).toEqual(['3kpoison00025', '3kpoison00026']);
      expect((await postsOf(true)).filter((rkey) => rkey >= '3kpoison00021')).toEqual(['3kpoison00021', '3kpoison00022', '3kpoison00024']);
      const dead = await waitFor('the bad message in the dead-letter topic', deadLettersWith(deadBefore + 1), TEST_TIMEOUT_MS);
      expect(dead.slice(deadBefore).map((entry) => entry.value)).toEqual([encodeMessage(refused)]);
      expect(dead[deadBefore]!.headers[DeadLetterHeaders.reason]).toMatch(/^refused by ClickHouse: .*poison/);
    },
    TEST_TIMEOUT_MS,
  );
});
