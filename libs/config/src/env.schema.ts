import { z } from 'zod';
import type { ConfigIssue } from './config.errors.js';
import { boolean, integer, list, matching, number, oneOf, secret, text, url } from './env.variables.js';

export const Roles = ['all', 'ingest', 'scoring', 'feed-generator'] as const;
export const LogLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/**
 * Adding a variable: one line here (`NAME: integer(fallback, { min, max })`, the fallback
 * `undefined` for none, `text()`, `boolean(…)`, `oneOf([…], …)`, `url([…], …)`, `secret()`), one
 * property where it belongs in `envToConfig`
 * (`app.config.ts`; its type follows), and a commented line in `.env.example` (a spec checks it).
 *
 * Every environment variable the project reads: its name, type, fallback and bounds, declared
 * once. Each is documented in `.env.example`. A fallback that depends on another variable (the
 * client id on the role, the DIDs on the hostname, paths on `DATA_DIR`) is absent here and
 * resolved by `envToConfig`, with the rules that involve several variables.
 */
export const EnvSchema = z.object({
  // Process
  CG_ROLE: oneOf(Roles, 'all'),
  LOG_LEVEL: oneOf(LogLevels, 'info'),
  DATA_DIR: text('./data'),

  // Jetstream (ingest)
  JETSTREAM_URL: url(['ws:', 'wss:'], 'wss://jetstream2.us-east.bsky.network/subscribe'),
  JETSTREAM_REWIND_SECONDS: integer(5, { min: 0, max: 3600 }),
  INGEST_BATCH_SIZE: integer(20_000, { min: 1, max: 100_000 }),
  INGEST_BATCH_MAX_WAIT_MS: integer(500, { min: 1, max: 60_000 }),
  INGEST_CURSOR_FILE: text(),

  // Kafka (scaled mode)
  KAFKA_BROKERS: list(),
  KAFKA_CLIENT_ID: text(),
  KAFKA_PARTITIONS: integer(6, { min: 1, max: 1024 }),
  // Kafka carries it as a 16-bit integer.
  KAFKA_REPLICATION_FACTOR: integer(undefined, { min: 1, max: 32_767 }),
  KAFKA_CONSUMER_GROUP: text('common-ground-scoring'),
  KAFKA_PUBLISH_TIMEOUT_MS: integer(30_000, { min: 1_000 }),
  KAFKA_SESSION_TIMEOUT_MS: integer(30_000, { min: 6_000, max: 300_000 }),
  KAFKA_TOPIC_PREFIX: text(''),
  KAFKA_COMPRESSION: oneOf(['zstd', 'gzip', 'none'], 'zstd'),
  KAFKA_PRODUCERS: integer(2, { min: 1, max: 16 }),
  KAFKA_SSL: boolean(false),
  KAFKA_SSL_CA_FILE: text(),
  KAFKA_SSL_CERT_FILE: text(),
  KAFKA_SSL_KEY_FILE: text(),
  KAFKA_SASL_MECHANISM: oneOf(['plain', 'scram-sha-256', 'scram-sha-512']),
  KAFKA_SASL_USERNAME: text(),
  KAFKA_SASL_PASSWORD: secret(),

  // In-process bus (embedded mode)
  IN_PROCESS_BUS_MAX_QUEUED: integer(100_000, { min: 1, max: 10_000_000 }),

  // ClickHouse
  CLICKHOUSE_URL: url(['http:', 'https:']),
  CLICKHOUSE_USER: text('default'),
  CLICKHOUSE_PASSWORD: secret(),
  CLICKHOUSE_DATABASE: matching(/^[A-Za-z_][A-Za-z0-9_]*$/, 'letters, digits and _', 'common_ground'),
  CLICKHOUSE_PATH: text(),
  CLICKHOUSE_BACKUP_PATH: text(),

  // Scoring
  SCORING_BATCH_SIZE: integer(50_000, { min: 1, max: 500_000 }),
  SCORING_INTERVAL_SECONDS: integer(30, { min: 1, max: 86_400 }),
  SCORING_SNAPSHOTS: boolean(true),
  SCORING_WRITE_ATTEMPTS: integer(3, { min: 1, max: 20 }),

  // Rankers (the scoring processes that compute snapshots, split by feed in scaled mode)
  RANKER_PARTITIONS: integer(12, { min: 1, max: 1024 }),
  RANKER_GROUP: text('common-ground-rankers'),
  RANKER_SESSION_TIMEOUT_MS: integer(10_000, { min: 6_000, max: 300_000 }),

  // HTTP
  HTTP_PORT: integer(3000, { min: 0, max: 65_535 }),
  HTTP_BIND_HOST: text('0.0.0.0'),
  OPS_PORT: integer(9464, { min: 0, max: 65_535 }),
  OPS_BIND_HOST: text('127.0.0.1'),

  // Feed generator
  FEEDGEN_HOSTNAME: text('localhost'),
  FEEDGEN_SERVICE_DID: text(),
  FEEDGEN_PUBLISHER_DID: text(),
  FEEDGEN_PRIVACY_POLICY_URL: url(['https:']),
  FEEDGEN_TERMS_OF_SERVICE_URL: url(['https:']),
  FEEDS_FILE: text('./config/feeds.yaml'),
  PLC_URL: url(['http:', 'https:'], 'https://plc.directory'),
  ADMIN_TOKEN: secret({ minLength: 32 }),
  SEND_INTERACTIONS_PER_MINUTE: integer(60, { min: 1, max: 1_000_000 }),
  SEND_INTERACTIONS_BURST: integer(30, { min: 1, max: 1_000_000 }),
  IDENTITY_ALLOW_INSECURE: boolean(false),
  IDENTITY_TEST_HANDLE_ORIGIN: url(['http:', 'https:']),
  VIEWER_FEEDBACK_WINDOW: integer(50, { min: 1, max: 1_000 }),
  VIEWER_FEEDBACK_DEPTH: integer(1_000, { min: 10, max: 100_000 }),
  VIEWER_FEEDBACK_CACHE_VIEWERS: integer(100_000, { min: 1, max: 10_000_000 }),
  VIEWER_FEEDBACK_CACHE_MB: integer(128, { min: 1, max: 64 * 1024 }),
  VIEWER_FEEDBACK_TTL_SECONDS: integer(600, { min: 1, max: 86_400 }),
  RECENT_WINDOW_POSTS: integer(1_000_000, { min: 1_000, max: 20_000_000 }),
  SNAPSHOT_MEMORY_RANKS: integer(2_000_000, { min: 0, max: 50_000_000 }),
  REMOVALS_POLL_MS: integer(250, { min: 50, max: 60_000 }),

  // Curation (versioned in ClickHouse, the curator file as its seed)
  CURATION_POLL_SECONDS: integer(30, { min: 1, max: 3_600 }),
  COMMUNITY_MAX_MEMBERS: integer(1_000_000, { min: 1, max: 100_000_000 }),

  // Backfill (cold start from the network)
  BACKFILL_ENABLED: boolean(true),
  APPVIEW_URL: url(['http:', 'https:'], 'https://public.api.bsky.app'),
  BACKFILL_CONCURRENCY: integer(16, { min: 1, max: 1_000 }),
  BACKFILL_PER_HOST_CONCURRENCY: integer(4, { min: 1, max: 100 }),
  BACKFILL_ATTEMPTS: integer(5, { min: 1, max: 20 }),
  BACKFILL_RETRY_BASE_MS: integer(500, { min: 1, max: 60_000 }),
  BACKFILL_FOLLOWERS_CAP: integer(10_000, { min: 1, max: 10_000_000 }),

  // Labels (our labeler, and the labelers we follow)
  LABELER_DID: text(),
  LABELER_SIGNING_KEY: secret(),
  LABELER_ACCOUNT_PASSWORD: secret(),
  LABELER_APP_PASSWORD: secret(),
  LABELER_ENDPOINT: url(['http:', 'https:']),
  LABELERS_SUBSCRIBE: list(),
  LABELS_POLL_MS: integer(1_000, { min: 50, max: 60_000 }),
  LABELS_HISTORY_DAYS: integer(30, { min: 1, max: 3_650 }),
  LABELS_MAX_SUBSCRIBERS: integer(1_000, { min: 1, max: 1_000_000 }),

  // Bridge Fund
  FUND_EPOCH_DAYS: integer(7, { min: 1, max: 365 }),
  FUND_CREDITS_PER_1000_IMPRESSIONS: number(10, { min: 0.001, max: 1_000_000 }),
  FUND_FLOOR_CREDITS: number(0, { min: 0, max: 1_000_000_000 }),
  FUND_FLOOR_MAX_MEMBERS: integer(100, { min: 0, max: 10_000_000 }),

  // Context notes
  NOTES_PROPOSALS_PER_DAY: integer(5, { min: 1, max: 10_000 }),
  NOTES_YOUNG_ACCOUNT_DAYS: integer(30, { min: 0, max: 3_650 }),
  NOTES_RATER_PRIORS: boolean(true),

  // Service auth and DID resolution
  SERVICE_AUTH_MAX_EXP_SECONDS: integer(300, { min: 1, max: 86_400 }),
  IDENTITY_CACHE_MAX_ENTRIES: integer(20_000, { min: 1, max: 10_000_000 }),
  IDENTITY_CACHE_MAX_BYTES: integer(16 * 1024 * 1024, { min: 1024, max: 4 * 1024 ** 3 }),
  IDENTITY_DOCUMENT_MAX_BYTES: integer(64 * 1024, { min: 1024, max: 512 * 1024 }),
  IDENTITY_FAILURE_TTL_MS: integer(10_000, { min: 0, max: 3_600_000 }),
  IDENTITY_RESOLUTION_CONCURRENCY: integer(16, { min: 1, max: 1_000 }),
  IDENTITY_RESOLUTION_QUEUE: integer(256, { min: 0, max: 100_000 }),
  IDENTITY_RESOLUTIONS_PER_ISSUER: integer(2, { min: 1, max: 100 }),
  IDENTITY_TIMEOUT_MS: integer(3_000, { min: 100, max: 60_000 }),

  // Publishing (npm run feed:publish)
  BSKY_SERVICE: url(['http:', 'https:'], 'https://bsky.social'),
  BSKY_IDENTIFIER: text(),
  BSKY_APP_PASSWORD: secret(),
  FEEDS_KEEP_PUBLISHED: boolean(false),
  FEED_AVATAR_FILE: text(),
});

/** The environment as typed values, before fallbacks that depend on each other and cross-variable rules. */
export type Env = z.infer<typeof EnvSchema>;

/**
 * Step one: reads every variable, listing the problem of each bad one; a bad variable reads as
 * absent (its fallback), so that step two still finds the problems that involve it.
 */
export function readEnv(env: Readonly<Record<string, string | undefined>>): { values: Env; issues: ConfigIssue[] } {
  const issues: ConfigIssue[] = [];
  const values: Record<string, unknown> = {};
  for (const [name, schema] of Object.entries(EnvSchema.shape)) {
    const read = (schema as z.ZodTypeAny).safeParse(env[name]);
    if (read.success) {
      values[name] = read.data;
    } else {
      issues.push(...read.error.issues.map((issue) => ({ variable: name, message: issue.message })));
      values[name] = (schema as z.ZodTypeAny).parse(undefined);
    }
  }
  return { values: values as Env, issues };
}
