import { loadConfig } from './app.config.js';
import { InvalidConfigError } from './config.errors.js';

describe('loadConfig', () => {
  it('defaults to one embedded process: in-process bus, embedded ClickHouse under ./data', () => {
    const config = loadConfig({});
    expect(config.role).toBe('all');
    expect(config.bus).toEqual({ kind: 'in-process' });
    expect(config.clickhouse).toMatchObject({ kind: 'embedded', database: 'common_ground' });
    expect(config.clickhouse.kind === 'embedded' && config.clickhouse.path).toMatch(/data\/clickhouse$/);
    expect(config.feedGenerator.serviceDid).toBe('did:web:localhost');
  });

  it('switches to Kafka and a ClickHouse server when their addresses are given', () => {
    const config = loadConfig({
      CG_ROLE: 'scoring',
      KAFKA_BROKERS: 'k1:9092, k2:9092',
      CLICKHOUSE_URL: 'http://clickhouse:8123',
    });
    expect(config.bus).toMatchObject({ kind: 'kafka', brokers: ['k1:9092', 'k2:9092'] });
    expect(config.clickhouse).toMatchObject({ kind: 'server', url: 'http://clickhouse:8123' });
  });

  it('lists every bad variable in one error', () => {
    let error: unknown;
    try {
      loadConfig({ CG_ROLE: 'ingest', HTTP_PORT: 'abc', JETSTREAM_URL: 'http://x', LOG_LEVEL: 'loud' });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(InvalidConfigError);
    const variables = (error as InvalidConfigError).issues.map((issue) => issue.variable).sort();
    expect(variables).toEqual(['CLICKHOUSE_URL', 'HTTP_PORT', 'JETSTREAM_URL', 'KAFKA_BROKERS', 'LOG_LEVEL']);
    expect((error as Error).message).toContain('Invalid environment variables');
  });
});
