import { readFileSync } from 'node:fs';
import { loadConfig } from './app.config.js';
import { InvalidConfigError } from './config.errors.js';
import { EnvSchema } from './env.schema.js';
import { SECRET } from './env.variables.js';

describe('loadConfig', () => {
  it('defaults to one embedded process: in-process bus, embedded ClickHouse under ./data', () => {
    const config = loadConfig({});
    expect(config.role).toBe('all');
    expect(config.bus).toEqual({ kind: 'in-process' });
    expect(config.clickhouse).toMatchObject({ kind: 'embedded', database: 'common_ground' });
    expect(config.clickhouse.kind === 'embedded' && config.clickhouse.path).toMatch(/data\/clickhouse$/);
    expect(config.feedGenerator.serviceDid).toBe('did:web:localhost');
  });

  it('names a hostname with a port in the default did:web as did:web does, percent-encoded', () => {
    const config = loadConfig({ FEEDGEN_HOSTNAME: 'localhost:3000' });
    expect(config.feedGenerator).toMatchObject({ hostname: 'localhost:3000', serviceDid: 'did:web:localhost%3A3000', publisherDid: 'did:web:localhost%3A3000' });
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

  it('takes the Kafka session timeout within what a broker accepts (30 s unless told)', () => {
    const scaled = { CG_ROLE: 'scoring', KAFKA_BROKERS: 'k1:9092', CLICKHOUSE_URL: 'http://clickhouse:8123' };
    expect(loadConfig(scaled).bus).toMatchObject({ sessionTimeoutMs: 30_000 });
    expect(loadConfig({ ...scaled, KAFKA_SESSION_TIMEOUT_MS: '10000' }).bus).toMatchObject({ sessionTimeoutMs: 10_000 });
    expect(() => loadConfig({ ...scaled, KAFKA_SESSION_TIMEOUT_MS: '1000' })).toThrow('KAFKA_SESSION_TIMEOUT_MS');
  });

  it('takes the replication factor of new topics from KAFKA_REPLICATION_FACTOR, and leaves it to the brokers without it', () => {
    const scaled = { CG_ROLE: 'ingest', KAFKA_BROKERS: 'k1:9092', CLICKHOUSE_URL: 'http://clickhouse:8123' };
    expect(loadConfig(scaled).bus).toMatchObject({ replicationFactor: undefined });
    expect(loadConfig({ ...scaled, KAFKA_REPLICATION_FACTOR: '3' }).bus).toMatchObject({ replicationFactor: 3 });
    for (const bad of ['0', '-1', '1.5', 'three']) expect(() => loadConfig({ ...scaled, KAFKA_REPLICATION_FACTOR: bad })).toThrow('KAFKA_REPLICATION_FACTOR');
  });

  it('puts the consumer groups under the topic prefix, so deployments sharing a cluster never share a group', () => {
    const scaled = { CG_ROLE: 'scoring', KAFKA_BROKERS: 'k1:9092', CLICKHOUSE_URL: 'http://clickhouse:8123' };
    const groups = (env: Record<string, string>) => {
      const config = loadConfig({ ...scaled, ...env });
      return { scoring: config.bus.kind === 'kafka' ? config.bus.consumerGroup : undefined, rankers: config.scoring.rankers.groupId };
    };
    // Without a prefix the ids are the names configured, as before: a running deployment keeps its offsets.
    expect(groups({})).toEqual({ scoring: 'common-ground-scoring', rankers: 'common-ground-rankers' });
    expect(groups({ KAFKA_TOPIC_PREFIX: 'staging.' })).toEqual({ scoring: 'staging.common-ground-scoring', rankers: 'staging.common-ground-rankers' });
    expect(groups({ KAFKA_TOPIC_PREFIX: 'blue.', KAFKA_CONSUMER_GROUP: 'scoring', RANKER_GROUP: 'rankers' })).toEqual({ scoring: 'blue.scoring', rankers: 'blue.rankers' });
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

  it('takes the policies describeFeedGenerator links to as https URLs only', () => {
    expect(loadConfig({ FEEDGEN_TERMS_OF_SERVICE_URL: 'https://feeds.example.com/terms' }).feedGenerator.links).toEqual({
      privacyPolicy: undefined,
      termsOfService: 'https://feeds.example.com/terms',
    });
    expect(() => loadConfig({ FEEDGEN_PRIVACY_POLICY_URL: 'http://feeds.example.com/privacy' })).toThrow(/FEEDGEN_PRIVACY_POLICY_URL/);
  });
});

describe('loadConfig refuses secrets nobody chose', () => {
  const strongToken = 'f3a9c1d7e5b24a6890cd13ef57ab92c4';
  const issuesOf = (env: Record<string, string>) => {
    try {
      loadConfig(env);
    } catch (error) {
      if (error instanceof InvalidConfigError) return error;
      throw error;
    }
    throw new Error('expected an InvalidConfigError');
  };

  it.each(['change-me', 'changeme', 'CHANGE_ME', 'secret', 'password', 'admin', 'change-me-to-a-long-random-token', 'x'.repeat(40), 'your-token-here-0123456789abcdefgh'])(
    'refuses the placeholder ADMIN_TOKEN "%s" without repeating it',
    (token) => {
      const error = issuesOf({ ADMIN_TOKEN: token });
      expect(error.issues).toEqual([{ variable: 'ADMIN_TOKEN', message: expect.stringContaining('placeholder') }]);
      expect(error.message).not.toContain(token);
    },
  );

  it('refuses an ADMIN_TOKEN shorter than 32 characters and accepts a long random one', () => {
    const error = issuesOf({ ADMIN_TOKEN: strongToken.slice(0, 31) });
    expect(error.issues).toEqual([{ variable: 'ADMIN_TOKEN', message: 'must be at least 32 characters, got 31' }]);
    expect(loadConfig({ ADMIN_TOKEN: strongToken }).feedGenerator.adminToken).toBe(strongToken);
    expect(loadConfig({}).feedGenerator.adminToken).toBeUndefined();
  });

  it('refuses a placeholder ClickHouse password when one is set, and accepts none', () => {
    const server = { CLICKHOUSE_URL: 'http://clickhouse:8123', CLICKHOUSE_USER: 'common_ground' };
    expect(issuesOf({ ...server, CLICKHOUSE_PASSWORD: 'change-me' }).issues.map((i) => i.variable)).toEqual(['CLICKHOUSE_PASSWORD']);
    expect(loadConfig({ ...server, CLICKHOUSE_PASSWORD: 'q8Zr-41vT-Lm2w-9Xk' }).clickhouse).toMatchObject({ password: 'q8Zr-41vT-Lm2w-9Xk' });
    expect(loadConfig(server).clickhouse).toMatchObject({ password: '' });
  });

  it('lists every bad secret in one error', () => {
    const error = issuesOf({
      ADMIN_TOKEN: 'short-token',
      CLICKHOUSE_URL: 'http://clickhouse:8123',
      CLICKHOUSE_PASSWORD: 'password',
      KAFKA_BROKERS: 'kafka:9092',
      KAFKA_SASL_MECHANISM: 'scram-sha-512',
      KAFKA_SASL_USERNAME: 'common-ground',
      KAFKA_SASL_PASSWORD: 'admin',
      BSKY_APP_PASSWORD: 'secret',
    });
    expect(error.issues.map((issue) => issue.variable).sort()).toEqual(['ADMIN_TOKEN', 'BSKY_APP_PASSWORD', 'CLICKHOUSE_PASSWORD', 'KAFKA_SASL_PASSWORD']);
    expect(error.message).toContain('Invalid environment variables');
  });
});

describe('the environment schema', () => {
  const names = Object.keys(EnvSchema.shape);

  it('flags every password and token as a secret, whose problems never repeat its value', () => {
    const secrets = names.filter((name) => EnvSchema.shape[name as keyof typeof EnvSchema.shape].description === SECRET);
    expect(secrets.sort()).toEqual(names.filter((name) => /PASSWORD|TOKEN|SECRET|SIGNING_KEY/.test(name)).sort());
  });

  it('has every variable documented in .env.example', () => {
    const example = readFileSync(new URL('../../../.env.example', import.meta.url), 'utf8');
    expect(names.filter((name) => !new RegExp(`^#? ?${name}=`, 'm').test(example))).toEqual([]);
  });
});
