import { jest } from '@jest/globals';
import kafkajs, { type Admin, type ITopicConfig } from 'kafkajs';
import { loadConfig } from '#lib/config';
import { scoringConsumerGroups } from './instrumentation.js';
import { createLogger } from './logger.js';
import { createBus } from './platform.module.js';

describe('createBus in scaled mode', () => {
  const scaled = { CG_ROLE: 'ingest', KAFKA_BROKERS: 'kafka:9092', CLICKHOUSE_URL: 'http://clickhouse:8123', LOG_LEVEL: 'silent' };

  /** What the bus of `env` asks the broker to create for one topic, through an admin that only records it. */
  async function createdTopics(env: Record<string, string>): Promise<ITopicConfig[]> {
    const created: ITopicConfig[] = [];
    const admin = {
      connect: () => Promise.resolve(),
      disconnect: () => Promise.resolve(),
      listTopics: () => Promise.resolve([]),
      createTopics: ({ topics }: { topics: ITopicConfig[] }) => {
        created.push(...topics);
        return Promise.resolve(true);
      },
      fetchTopicMetadata: ({ topics }: { topics: string[] }) => Promise.resolve({ topics: topics.map((name) => ({ name, partitions: [{ partitionId: 0, leader: 1 }] })) }),
    };
    const stub = jest.spyOn(kafkajs.Kafka.prototype, 'admin').mockReturnValue(admin as unknown as Admin);
    try {
      const config = loadConfig({ ...scaled, ...env });
      const bus = await createBus(config, createLogger(config));
      await bus.ensureTopics([{ name: 'events', partitions: 2 }]);
      await bus.close();
    } finally {
      stub.mockRestore();
    }
    return created;
  }

  it('creates topics with KAFKA_REPLICATION_FACTOR replicas, and leaves the number to the brokers without it', async () => {
    expect(await createdTopics({ KAFKA_REPLICATION_FACTOR: '3', KAFKA_TOPIC_PREFIX: 'staging.' })).toEqual([
      expect.objectContaining({ topic: 'staging.events', numPartitions: 2, replicationFactor: 3 }),
    ]);
    const [byDefault] = await createdTopics({});
    expect(byDefault).toMatchObject({ topic: 'events', numPartitions: 2 });
    expect(byDefault?.replicationFactor).toBeUndefined();
  });
});

describe('the scoring consumers of two deployments sharing a cluster', () => {
  it("join groups of their own, named under each deployment's topic prefix", () => {
    const scaled = { CG_ROLE: 'scoring', KAFKA_BROKERS: 'kafka:9092', CLICKHOUSE_URL: 'http://clickhouse:8123' };
    const blue = scoringConsumerGroups(loadConfig({ ...scaled, KAFKA_TOPIC_PREFIX: 'blue.' }));
    const green = scoringConsumerGroups(loadConfig({ ...scaled, KAFKA_TOPIC_PREFIX: 'green.' }));
    expect(blue).toEqual({ events: 'blue.common-ground-scoring', feedback: 'blue.common-ground-scoring-feedback' });
    expect(green).toEqual({ events: 'green.common-ground-scoring', feedback: 'green.common-ground-scoring-feedback' });
    expect(scoringConsumerGroups(loadConfig(scaled))).toEqual({ events: 'common-ground-scoring', feedback: 'common-ground-scoring-feedback' });
  });
});
