/**
 * Kafka timings for an app under test, spread into the environment of every app a test starts on
 * a broker. @NOTE A member killed by a test is noticed by the group coordinator only after its
 * session times out: with the default 30 s, every kill of a scoring process cost the test half a
 * minute of waiting for the rebalance. 6 s is the broker's smallest allowed session
 * (`group.min.session.timeout.ms`); heartbeats then come every 2 s.
 */
export const kafkaTestEnv: Readonly<Record<string, string>> = { KAFKA_SESSION_TIMEOUT_MS: '6000' };

/**
 * The environment of an app started inside a test process: ClickHouse in memory (chDB binds one
 * data directory per process, so tests share the engine and are isolated by database name), HTTP
 * and the ops listener on free loopback ports, no logs, no backfill. `overrides` adds or replaces variables.
 */
export function testAppEnv(options: {
  /** Prefix of the test's own ClickHouse database. */
  name: string;
  dataDir: string;
  feedsFile: string;
  jetstreamUrl?: string;
  overrides?: Record<string, string>;
}): Record<string, string> {
  return {
    CLICKHOUSE_PATH: ':memory:',
    CLICKHOUSE_DATABASE: `${options.name}_${process.pid}_${Date.now()}`,
    DATA_DIR: options.dataDir,
    FEEDS_FILE: options.feedsFile,
    ...(options.jetstreamUrl && { JETSTREAM_URL: options.jetstreamUrl }),
    HTTP_PORT: '0',
    HTTP_BIND_HOST: '127.0.0.1',
    OPS_PORT: '0',
    LOG_LEVEL: 'silent',
    // A loaded test machine can take seconds to answer a local PLC directory.
    IDENTITY_TIMEOUT_MS: '15000',
    // @NOTE No backfill unless a test asks for one (`BACKFILL_ENABLED: 'true'`): a test's accounts
    // have no repositories on the network the default looks at, so the backfill would only spend
    // the test's CPU failing to reach it, account after account.
    BACKFILL_ENABLED: 'false',
    // @NOTE Removals read once a second, not four times: each read is a chDB query of ~5 ms of CPU,
    // a third of an idle app's, and a run has many apps up at once. Tests of removals wait for them.
    REMOVALS_POLL_MS: '1000',
    ...kafkaTestEnv,
    ...options.overrides,
  };
}
