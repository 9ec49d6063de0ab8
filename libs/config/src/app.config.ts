import path from 'node:path';
import { InvalidConfigError } from './config.errors.js';
import { EnvReader } from './env.reader.js';
import { readKafkaSecurity, type KafkaSecurityConfig } from './kafka-security.config.js';

const Roles = ['all', 'ingest', 'scoring', 'feed-generator'] as const;
type Role = (typeof Roles)[number];
const LogLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
type LogLevel = (typeof LogLevels)[number];

type BusConfig =
  | { kind: 'in-process' }
  | (KafkaSecurityConfig & {
      kind: 'kafka';
      brokers: string[];
      clientId: string;
      partitions: number;
      consumerGroup: string;
      publishTimeoutMs: number;
      /** A consumer that stops heartbeating loses its partitions after this; a restarted one waits it out to rejoin. */
      sessionTimeoutMs: number;
      /** Put in front of every topic name, so deployments can share a cluster. */
      topicPrefix: string;
      compression: 'zstd' | 'gzip' | 'none';
      /** Idempotent producers a publish is spread over, by key. */
      producers: number;
    });

/** The bus of the embedded mode (`#lib/bus`). */
interface InProcessBusConfig {
  /** Messages of one topic that may wait for their consumers; a publish beyond waits for room. */
  maxQueued: number;
}

export type ClickHouseConfig =
  | { kind: 'embedded'; path: string; database: string }
  | { kind: 'server'; url: string; username: string; password: string; database: string };

interface IngestConfig {
  jetstreamUrl: string;
  /** Seconds re-read after a restart: Jetstream delivers at least once, so overlap is harmless. */
  rewindSeconds: number;
  batchSize: number;
  batchMaxWaitMs: number;
  cursorFile: string;
}

interface ScoringConfig {
  batchSize: number;
  /** Seconds between score snapshot recomputations. */
  intervalSeconds: number;
  /**
   * Whether this process recomputes the score snapshots. Any number of scoring processes share the
   * consumer work; exactly one should compute snapshots.
   */
  snapshots: boolean;
  /** Tries of an insert ClickHouse refuses before the batch is split to isolate the messages it refuses. */
  writeAttempts: number;
}

interface HttpConfig {
  /** Every role serves HTTP: XRPC in the feed generator, health and metrics everywhere. */
  port: number;
  bindHost: string;
  /**
   * Operations listener in every role: `/status`, `/metrics` and the detailed `/ready` report.
   * They cost queries and name feeds and internals, so they stay off the public port.
   */
  opsPort: number;
  opsBindHost: string;
}

/**
 * Bounds of service-auth verification: how long a token may live, and what resolving the DIDs
 * that tokens name may cost (tokens come from anyone, each naming any issuer it likes).
 */
interface ServiceAuthConfig {
  /** A token whose `exp` is further ahead than this is refused. */
  maxExpAheadSeconds: number;
  /** DID documents kept at most, and their total size as JSON. */
  didCacheMaxEntries: number;
  didCacheMaxBytes: number;
  /** A larger DID document is refused (its issuer is unknown to us), never kept. */
  didDocumentMaxBytes: number;
  /** A DID that failed to resolve is answered from memory for this long. */
  didFailureTtlMs: number;
  /** Outbound DID resolutions: running at once, waiting (beyond: refused at once), per issuer. */
  resolutionConcurrency: number;
  resolutionQueue: number;
  resolutionsPerIssuer: number;
}

interface FeedGeneratorConfig {
  /** Public hostname, used for `did:web` and the service endpoint. */
  hostname: string;
  serviceDid: string;
  /** Account whose repo holds the `app.bsky.feed.generator` records. */
  publisherDid: string;
  feedsFile: string;
  plcUrl: string;
  /**
   * Tests against a local network only: resolve DIDs over plain http and local addresses.
   * Production keeps @atproto/identity's protection against server-side request forgery.
   */
  identityAllowInsecure: boolean;
  /**
   * Tests against a local network only (needs `identityAllowInsecure`): curated handles resolve
   * at `<origin>/.well-known/atproto-did?handle=…` instead of DNS and the handle's own domain.
   */
  identityTestHandleOrigin: string | undefined;
  serviceAuth: ServiceAuthConfig;
  /** Bearer token of the admin API and console; absent disables them. Secret. */
  adminToken: string | undefined;
  /** `sendInteractions` requests each viewer may make: a token bucket refilled at `perMinute`, holding `burst`. */
  sendInteractionsLimit: { perMinute: number; burst: number };
  /**
   * Per-viewer feedback at serving time: how far a viewer's feedback moves a post (`window`
   * positions of the ranking), and the bounded cache of viewers' feedback (entries, bytes, and how
   * long an entry is trusted before it is read again from ClickHouse).
   */
  viewerFeedback: { window: number; cacheViewers: number; cacheBytes: number; ttlSeconds: number };
}

/** Backfill of community membership and recent history from the network (`services/backfill`). */
interface BackfillConfig {
  /** Whether the ingest role backfills communities when they are defined or changed. */
  enabled: boolean;
  /** AppView for list and follower look-ups (`app.bsky.graph.getFollowers`). */
  appviewUrl: string;
  /** Repository reads in flight at once, all hosts together, and per PDS host. */
  concurrency: number;
  perHostConcurrency: number;
  /** Tries of one request that fails with a network error, 429 or 5xx; the wait doubles from `retryBaseMs`. */
  attempts: number;
  retryBaseMs: number;
  /** Followers read at most per seed account (`followersOf`); reaching it is logged as a warning. */
  followersCap: number;
}

/** The account that publishes the feed records (`npm run feed:publish`); used by that script only. */
interface PublishingConfig {
  /** PDS of the publishing account. */
  service: string;
  identifier: string | undefined;
  /** An app password, never the account password. Secret. */
  appPassword: string | undefined;
  /** Image file for the feeds' avatar (PNG or JPEG). */
  avatarFile: string | undefined;
}

/** The curation every role and replica applies: versioned in ClickHouse, the curator file as its seed. */
interface CurationConfig {
  /** Seconds between looks at the newest stored version: heals an announcement a process missed. */
  pollSeconds: number;
}

/** The Bridge Fund: how the ranker settles what boosts cost (funds themselves are in the curator file). */
interface FundingConfig {
  /** Budgets and allowances last one epoch of this many days (epochs count from 1970-01-01). */
  epochDays: number;
  /** Credits one thousand impressions of boosted posts cost. */
  creditsPerThousandImpressions: number;
  /** Credits added to the budget of a fund whose community has at most `floorMaxMembers` members. */
  floorCredits: number;
  floorMaxMembers: number;
}

/** Our AT Protocol labeler (labels from snapshot provenance), and the labelers whose labels we follow. */
interface LabelerConfig {
  /** The labeler account's DID; with `signingKey`, the ranker signs and stores labels. */
  did: string | undefined;
  /** Hex secp256k1 private key of the DID document's `#atproto_label` method. Secret. */
  signingKey: string | undefined;
  /** The labeler account's password, for `npm run labeler:setup` only (identity changes refuse app passwords). Secret. */
  accountPassword: string | undefined;
  /** Public URL of our `com.atproto.label.*` endpoints, for the DID document's `#atproto_labeler` service. */
  endpoint: string;
  /** Labeler DIDs whose labels we subscribe to, verify and store (curators name their values per feed). */
  subscribe: string[];
  /** How often a serving process looks for new labels to push to `subscribeLabels` clients. */
  pollMs: number;
  /** Negated and superseded labels older than this are pruned; a cursor before them gets `#info OutdatedCursor`. */
  historyDays: number;
}

export interface AppConfig {
  role: Role;
  logLevel: LogLevel;
  dataDir: string;
  http: HttpConfig;
  bus: BusConfig;
  inProcessBus: InProcessBusConfig;
  clickhouse: ClickHouseConfig;
  ingest: IngestConfig;
  scoring: ScoringConfig;
  feedGenerator: FeedGeneratorConfig;
  curation: CurationConfig;
  publishing: PublishingConfig;
  funding: FundingConfig;
  backfill: BackfillConfig;
  labeler: LabelerConfig;
}

/** chDB keeps `:memory:` databases in the process (tests); anything else is a folder. */
const embeddedPath = (value: string) => (value === ':memory:' ? value : path.resolve(value));

const DEFAULT_JETSTREAM_URL = 'wss://jetstream2.us-east.bsky.network/subscribe';

/**
 * Reads and validates the environment once. The only place in the project that looks at
 * `process.env`; everything else receives the typed `AppConfig`.
 */
export function loadConfig(env: Readonly<Record<string, string | undefined>> = process.env): AppConfig {
  const read = new EnvReader(env);
  const role = read.oneOf('CG_ROLE', Roles, 'all');
  const dataDir = path.resolve(read.string('DATA_DIR', './data'));

  const brokers = read.list('KAFKA_BROKERS');
  const bus: BusConfig =
    brokers.length === 0
      ? { kind: 'in-process' }
      : {
          kind: 'kafka',
          brokers,
          clientId: read.string('KAFKA_CLIENT_ID', `common-ground-${role}`),
          partitions: read.integer('KAFKA_PARTITIONS', 6, { min: 1, max: 1024 }),
          consumerGroup: read.string('KAFKA_CONSUMER_GROUP', 'common-ground-scoring'),
          publishTimeoutMs: read.integer('KAFKA_PUBLISH_TIMEOUT_MS', 30_000, { min: 1_000 }),
          sessionTimeoutMs: read.integer('KAFKA_SESSION_TIMEOUT_MS', 30_000, { min: 6_000, max: 300_000 }),
          topicPrefix: read.string('KAFKA_TOPIC_PREFIX', ''),
          compression: read.oneOf('KAFKA_COMPRESSION', ['zstd', 'gzip', 'none'] as const, 'zstd'),
          producers: read.integer('KAFKA_PRODUCERS', 2, { min: 1, max: 16 }),
          ...readKafkaSecurity(read),
        };
  if (bus.kind === 'in-process' && role !== 'all') {
    read.problem('KAFKA_BROKERS', `required when CG_ROLE=${role}: separate processes talk through Kafka`);
  }

  const database = read.string('CLICKHOUSE_DATABASE', 'common_ground');
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(database)) {
    read.problem('CLICKHOUSE_DATABASE', `expected letters, digits and _, got "${database}"`);
  }
  const clickhouseUrl = read.url('CLICKHOUSE_URL', undefined, ['http:', 'https:']);
  const clickhouse: ClickHouseConfig =
    clickhouseUrl === undefined
      ? { kind: 'embedded', path: embeddedPath(read.string('CLICKHOUSE_PATH', path.join(dataDir, 'clickhouse'))), database }
      : {
          kind: 'server',
          url: clickhouseUrl,
          username: read.string('CLICKHOUSE_USER', 'default'),
          password: read.secret('CLICKHOUSE_PASSWORD') ?? '',
          database,
        };
  if (clickhouse.kind === 'embedded' && role !== 'all') {
    read.problem('CLICKHOUSE_URL', `required when CG_ROLE=${role}: embedded ClickHouse belongs to one process`);
  }

  const ingest: IngestConfig = {
    jetstreamUrl: read.url('JETSTREAM_URL', DEFAULT_JETSTREAM_URL, ['ws:', 'wss:'])!,
    rewindSeconds: read.integer('JETSTREAM_REWIND_SECONDS', 5, { min: 0, max: 3600 }),
    batchSize: read.integer('INGEST_BATCH_SIZE', 5_000, { min: 1, max: 100_000 }),
    batchMaxWaitMs: read.integer('INGEST_BATCH_MAX_WAIT_MS', 500, { min: 1, max: 60_000 }),
    cursorFile: path.resolve(read.string('INGEST_CURSOR_FILE', path.join(dataDir, 'ingest-cursor.json'))),
  };

  const scoring: ScoringConfig = {
    batchSize: read.integer('SCORING_BATCH_SIZE', 20_000, { min: 1, max: 500_000 }),
    intervalSeconds: read.integer('SCORING_INTERVAL_SECONDS', 30, { min: 1, max: 86_400 }),
    snapshots: read.boolean('SCORING_SNAPSHOTS', true),
    writeAttempts: read.integer('SCORING_WRITE_ATTEMPTS', 3, { min: 1, max: 20 }),
  };

  const hostname = read.string('FEEDGEN_HOSTNAME', 'localhost');
  const serviceDid = read.string('FEEDGEN_SERVICE_DID', `did:web:${hostname}`);
  const publisherDid = read.string('FEEDGEN_PUBLISHER_DID', serviceDid);
  for (const [variable, did] of [['FEEDGEN_SERVICE_DID', serviceDid], ['FEEDGEN_PUBLISHER_DID', publisherDid]] as const) {
    if (!/^did:(plc|web):[A-Za-z0-9._:%-]+$/.test(did)) read.problem(variable, `expected a did:plc or did:web, got "${did}"`);
  }
  const feedGenerator: FeedGeneratorConfig = {
    hostname,
    serviceDid,
    publisherDid,
    feedsFile: path.resolve(read.string('FEEDS_FILE', './config/feeds.yaml')),
    plcUrl: read.url('PLC_URL', 'https://plc.directory', ['http:', 'https:'])!,
    identityAllowInsecure: read.boolean('IDENTITY_ALLOW_INSECURE', false),
    identityTestHandleOrigin: read.url('IDENTITY_TEST_HANDLE_ORIGIN', undefined, ['http:', 'https:']),
    serviceAuth: {
      maxExpAheadSeconds: read.integer('SERVICE_AUTH_MAX_EXP_SECONDS', 300, { min: 1, max: 86_400 }),
      didCacheMaxEntries: read.integer('IDENTITY_CACHE_MAX_ENTRIES', 20_000, { min: 1, max: 10_000_000 }),
      didCacheMaxBytes: read.integer('IDENTITY_CACHE_MAX_BYTES', 16 * 1024 * 1024, { min: 1024, max: 4 * 1024 ** 3 }),
      didDocumentMaxBytes: read.integer('IDENTITY_DOCUMENT_MAX_BYTES', 64 * 1024, { min: 1024, max: 512 * 1024 }),
      didFailureTtlMs: read.integer('IDENTITY_FAILURE_TTL_MS', 10_000, { min: 0, max: 3_600_000 }),
      resolutionConcurrency: read.integer('IDENTITY_RESOLUTION_CONCURRENCY', 16, { min: 1, max: 1_000 }),
      resolutionQueue: read.integer('IDENTITY_RESOLUTION_QUEUE', 256, { min: 0, max: 100_000 }),
      resolutionsPerIssuer: read.integer('IDENTITY_RESOLUTIONS_PER_ISSUER', 2, { min: 1, max: 100 }),
    },
    adminToken: read.secret('ADMIN_TOKEN', { minLength: 32 }),
    sendInteractionsLimit: {
      perMinute: read.integer('SEND_INTERACTIONS_PER_MINUTE', 60, { min: 1, max: 1_000_000 }),
      burst: read.integer('SEND_INTERACTIONS_BURST', 30, { min: 1, max: 1_000_000 }),
    },
    viewerFeedback: {
      window: read.integer('VIEWER_FEEDBACK_WINDOW', 50, { min: 1, max: 1_000 }),
      cacheViewers: read.integer('VIEWER_FEEDBACK_CACHE_VIEWERS', 100_000, { min: 1, max: 10_000_000 }),
      cacheBytes: read.integer('VIEWER_FEEDBACK_CACHE_MB', 128, { min: 1, max: 64 * 1024 }) * 1024 * 1024,
      ttlSeconds: read.integer('VIEWER_FEEDBACK_TTL_SECONDS', 600, { min: 1, max: 86_400 }),
    },
  };
  if (feedGenerator.identityTestHandleOrigin !== undefined && !feedGenerator.identityAllowInsecure) {
    read.problem('IDENTITY_TEST_HANDLE_ORIGIN', 'tests only: needs IDENTITY_ALLOW_INSECURE=true');
  }

  const backfill: BackfillConfig = {
    enabled: read.boolean('BACKFILL_ENABLED', true),
    appviewUrl: read.url('APPVIEW_URL', 'https://public.api.bsky.app', ['http:', 'https:'])!,
    concurrency: read.integer('BACKFILL_CONCURRENCY', 16, { min: 1, max: 1_000 }),
    perHostConcurrency: read.integer('BACKFILL_PER_HOST_CONCURRENCY', 4, { min: 1, max: 100 }),
    attempts: read.integer('BACKFILL_ATTEMPTS', 5, { min: 1, max: 20 }),
    retryBaseMs: read.integer('BACKFILL_RETRY_BASE_MS', 500, { min: 1, max: 60_000 }),
    followersCap: read.integer('BACKFILL_FOLLOWERS_CAP', 10_000, { min: 1, max: 10_000_000 }),
  };
  const labeler: LabelerConfig = {
    did: read.optionalString('LABELER_DID'),
    signingKey: read.secret('LABELER_SIGNING_KEY'),
    accountPassword: read.secret('LABELER_ACCOUNT_PASSWORD'),
    endpoint: read.url('LABELER_ENDPOINT', `https://${hostname}`, ['http:', 'https:'])!,
    subscribe: read.list('LABELERS_SUBSCRIBE'),
    pollMs: read.integer('LABELS_POLL_MS', 1_000, { min: 50, max: 60_000 }),
    historyDays: read.integer('LABELS_HISTORY_DAYS', 30, { min: 1, max: 3_650 }),
  };
  if ((labeler.did === undefined) !== (labeler.signingKey === undefined)) {
    read.problem(labeler.did === undefined ? 'LABELER_DID' : 'LABELER_SIGNING_KEY', 'LABELER_DID and LABELER_SIGNING_KEY go together');
  }
  if (labeler.did !== undefined && !/^did:(plc|web):[A-Za-z0-9._:%-]+$/.test(labeler.did)) read.problem('LABELER_DID', `expected a did:plc or did:web, got "${labeler.did}"`);
  if (labeler.signingKey !== undefined && !/^[0-9a-f]{64}$/i.test(labeler.signingKey)) read.problem('LABELER_SIGNING_KEY', 'expected 64 hex digits (a secp256k1 private key)');
  for (const did of labeler.subscribe) {
    if (!/^did:(plc|web):[A-Za-z0-9._:%-]+$/.test(did)) read.problem('LABELERS_SUBSCRIBE', `expected labeler DIDs, got "${did}"`);
  }

  const config: AppConfig = {
    role,
    logLevel: read.oneOf('LOG_LEVEL', LogLevels, 'info'),
    dataDir,
    http: {
      port: read.integer('HTTP_PORT', 3000, { min: 0, max: 65_535 }),
      bindHost: read.string('HTTP_BIND_HOST', '0.0.0.0'),
      opsPort: read.integer('OPS_PORT', 9464, { min: 0, max: 65_535 }),
      opsBindHost: read.string('OPS_BIND_HOST', '127.0.0.1'),
    },
    bus,
    inProcessBus: { maxQueued: read.integer('IN_PROCESS_BUS_MAX_QUEUED', 100_000, { min: 1, max: 10_000_000 }) },
    clickhouse,
    ingest,
    scoring,
    feedGenerator,
    curation: { pollSeconds: read.integer('CURATION_POLL_SECONDS', 30, { min: 1, max: 3_600 }) },
    publishing: {
      service: read.url('BSKY_SERVICE', 'https://bsky.social', ['http:', 'https:'])!,
      identifier: read.optionalString('BSKY_IDENTIFIER'),
      appPassword: read.secret('BSKY_APP_PASSWORD'),
      avatarFile: read.optionalString('FEED_AVATAR_FILE'),
    },
    funding: {
      epochDays: read.integer('FUND_EPOCH_DAYS', 7, { min: 1, max: 365 }),
      creditsPerThousandImpressions: read.number('FUND_CREDITS_PER_1000_IMPRESSIONS', 10, { min: 0.001, max: 1_000_000 }),
      floorCredits: read.number('FUND_FLOOR_CREDITS', 0, { min: 0, max: 1_000_000_000 }),
      floorMaxMembers: read.integer('FUND_FLOOR_MAX_MEMBERS', 100, { min: 0, max: 10_000_000 }),
    },
    backfill,
    labeler,
  };
  if (config.http.opsPort !== 0 && config.http.opsPort === config.http.port) {
    read.problem('OPS_PORT', `must differ from HTTP_PORT (${config.http.port}): the ops endpoints stay off the public port`);
  }
  if (read.issues.length > 0) throw new InvalidConfigError(read.issues);
  return config;
}
