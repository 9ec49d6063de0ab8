import path from 'node:path';
import { ConfigProblems, InvalidConfigError } from './config.errors.js';
import { readEnv, type Env, type Roles } from './env.schema.js';
import { kafkaSecurity } from './kafka-security.config.js';

const DID = /^did:(plc|web):[A-Za-z0-9._:%-]+$/;

/** chDB keeps `:memory:` databases in the process (tests); anything else is a folder. */
const embeddedPath = (value: string) => (value === ':memory:' ? value : path.resolve(value));

/**
 * A consumer group's id on the broker: under the deployment's topic prefix, like its topics.
 *
 * @NOTE Two deployments that share a cluster under different prefixes would otherwise join the
 * same groups: a member joining or leaving either would rebalance both, and a member busy with a
 * long batch in one would hold up the other's rebalances. Without a prefix the id is the
 * configured name, so a deployment that never had one keeps its committed offsets.
 */
const consumerGroupId = (env: Env, name: string): string => env.KAFKA_TOPIC_PREFIX + name;

function busConfig(env: Env, problems: ConfigProblems) {
  if (env.KAFKA_BROKERS.length === 0) {
    if (env.CG_ROLE !== 'all') problems.add('KAFKA_BROKERS', `required when CG_ROLE=${env.CG_ROLE}: separate processes talk through Kafka`);
    return { kind: 'in-process' as const };
  }
  return {
    kind: 'kafka' as const,
    brokers: env.KAFKA_BROKERS,
    clientId: env.KAFKA_CLIENT_ID ?? `common-ground-${env.CG_ROLE}`,
    partitions: env.KAFKA_PARTITIONS,
    /** Replicas of each topic created at start-up; undefined: the broker's `default.replication.factor`. */
    replicationFactor: env.KAFKA_REPLICATION_FACTOR,
    consumerGroup: consumerGroupId(env, env.KAFKA_CONSUMER_GROUP),
    publishTimeoutMs: env.KAFKA_PUBLISH_TIMEOUT_MS,
    /** A consumer that stops heartbeating loses its partitions after this; a restarted one waits it out to rejoin. */
    sessionTimeoutMs: env.KAFKA_SESSION_TIMEOUT_MS,
    /** Put in front of every topic name, so deployments can share a cluster. */
    topicPrefix: env.KAFKA_TOPIC_PREFIX,
    compression: env.KAFKA_COMPRESSION,
    /** Idempotent producers a publish is spread over, by key. */
    producers: env.KAFKA_PRODUCERS,
    ...kafkaSecurity(env, problems),
  };
}

/** ClickHouse embedded in this process (chDB) or a server over HTTP. */
type ClickHouseSettings =
  | {
      kind: 'embedded';
      /** The data folder, or `:memory:` (a temporary one). */
      path: string;
      /** The folder `BACKUP … TO File(…)` writes under (an on-disk store only). */
      backupPath?: string;
      database: string;
    }
  | { kind: 'server'; url: string; username: string; password: string; database: string };

function clickhouseConfig(env: Env, dataDir: string, problems: ConfigProblems): ClickHouseSettings {
  const database = env.CLICKHOUSE_DATABASE;
  if (env.CLICKHOUSE_URL === undefined) {
    if (env.CG_ROLE !== 'all') problems.add('CLICKHOUSE_URL', `required when CG_ROLE=${env.CG_ROLE}: embedded ClickHouse belongs to one process`);
    return {
      kind: 'embedded',
      path: embeddedPath(env.CLICKHOUSE_PATH ?? path.join(dataDir, 'clickhouse')),
      backupPath: path.resolve(env.CLICKHOUSE_BACKUP_PATH ?? path.join(dataDir, 'backups')),
      database,
    };
  }
  return { kind: 'server', url: env.CLICKHOUSE_URL, username: env.CLICKHOUSE_USER, password: env.CLICKHOUSE_PASSWORD ?? '', database };
}

function feedGeneratorConfig(env: Env, problems: ConfigProblems) {
  const hostname = env.FEEDGEN_HOSTNAME;
  // did:web names a port percent-encoded (did:web:localhost%3A3000), as the document served at did.json does.
  const serviceDid = env.FEEDGEN_SERVICE_DID ?? `did:web:${encodeURIComponent(hostname)}`;
  const publisherDid = env.FEEDGEN_PUBLISHER_DID ?? serviceDid;
  for (const [variable, did] of [['FEEDGEN_SERVICE_DID', serviceDid], ['FEEDGEN_PUBLISHER_DID', publisherDid]] as const) {
    if (!DID.test(did)) problems.add(variable, `expected a did:plc or did:web, got "${did}"`);
  }
  if (env.IDENTITY_TEST_HANDLE_ORIGIN !== undefined && !env.IDENTITY_ALLOW_INSECURE) {
    problems.add('IDENTITY_TEST_HANDLE_ORIGIN', 'tests only: needs IDENTITY_ALLOW_INSECURE=true');
  }
  return {
    /** Public hostname, used for `did:web` and the service endpoint. */
    hostname,
    serviceDid,
    /** Account whose repo holds the `app.bsky.feed.generator` records. */
    publisherDid,
    /**
     * What `describeFeedGenerator` links to, for the Bluesky app to show beside the feeds: the
     * operator's privacy policy (the service stores what each signed-in viewer was shown and sent
     * back) and terms of service.
     */
    links: { privacyPolicy: env.FEEDGEN_PRIVACY_POLICY_URL, termsOfService: env.FEEDGEN_TERMS_OF_SERVICE_URL },
    feedsFile: path.resolve(env.FEEDS_FILE),
    plcUrl: env.PLC_URL,
    /**
     * Tests against a local network only: resolve DIDs over plain http and local addresses.
     * Production keeps @atproto/identity's protection against server-side request forgery.
     */
    identityAllowInsecure: env.IDENTITY_ALLOW_INSECURE,
    /**
     * Tests against a local network only (needs `identityAllowInsecure`): curated handles resolve
     * at `<origin>/.well-known/atproto-did?handle=…` instead of DNS and the handle's own domain.
     */
    identityTestHandleOrigin: env.IDENTITY_TEST_HANDLE_ORIGIN,
    /**
     * Bounds of service-auth verification: how long a token may live, and what resolving the DIDs
     * that tokens name may cost (tokens come from anyone, each naming any issuer it likes).
     */
    serviceAuth: {
      /** A token whose `exp` is further ahead than this is refused. */
      maxExpAheadSeconds: env.SERVICE_AUTH_MAX_EXP_SECONDS,
      /** DID documents kept at most, and their total size as JSON. */
      didCacheMaxEntries: env.IDENTITY_CACHE_MAX_ENTRIES,
      didCacheMaxBytes: env.IDENTITY_CACHE_MAX_BYTES,
      /** A larger DID document is refused (its issuer is unknown to us), never kept. */
      didDocumentMaxBytes: env.IDENTITY_DOCUMENT_MAX_BYTES,
      /** A DID that failed to resolve is answered from memory for this long. */
      didFailureTtlMs: env.IDENTITY_FAILURE_TTL_MS,
      /** Outbound DID resolutions: running at once, waiting (beyond: refused at once), per issuer. */
      resolutionConcurrency: env.IDENTITY_RESOLUTION_CONCURRENCY,
      resolutionQueue: env.IDENTITY_RESOLUTION_QUEUE,
      resolutionsPerIssuer: env.IDENTITY_RESOLUTIONS_PER_ISSUER,
      /** How long one DID document fetch may take (ms) before the request is answered without it. */
      timeoutMs: env.IDENTITY_TIMEOUT_MS,
    },
    /** Bearer token of the admin API and console; absent disables them. Secret. */
    adminToken: env.ADMIN_TOKEN,
    /** `sendInteractions` requests each viewer may make: a token bucket refilled at `perMinute`, holding `burst`. */
    sendInteractionsLimit: { perMinute: env.SEND_INTERACTIONS_PER_MINUTE, burst: env.SEND_INTERACTIONS_BURST },
    /**
     * A viewer's own feedback: how far it moves a post, how many positions of a ranked feed a
     * session's personal order covers, and the per-process cache of viewers' feedback.
     */
    viewerFeedback: {
      window: env.VIEWER_FEEDBACK_WINDOW,
      depth: env.VIEWER_FEEDBACK_DEPTH,
      cacheViewers: env.VIEWER_FEEDBACK_CACHE_VIEWERS,
      cacheBytes: env.VIEWER_FEEDBACK_CACHE_MB * 1024 * 1024,
      ttlSeconds: env.VIEWER_FEEDBACK_TTL_SECONDS,
    },
    /**
     * Feeds held in memory, so that a page costs the same at any depth: the newest posts of each
     * recent feed (per feed), and the ranks of the score snapshots being paged (all feeds together).
     */
    memory: { recentWindowPosts: env.RECENT_WINDOW_POSTS, snapshotRanks: env.SNAPSHOT_MEMORY_RANKS },
    /** How often deleted posts and inactive accounts are read: each leaves every page at most this long after it is stored. */
    removalsPollMs: env.REMOVALS_POLL_MS,
  };
}

/** Our AT Protocol labeler (labels from snapshot provenance), and the labelers whose labels we follow. */
function labelerConfig(env: Env, problems: ConfigProblems) {
  const did = env.LABELER_DID;
  const signingKey = env.LABELER_SIGNING_KEY;
  if ((did === undefined) !== (signingKey === undefined)) {
    problems.add(did === undefined ? 'LABELER_DID' : 'LABELER_SIGNING_KEY', 'LABELER_DID and LABELER_SIGNING_KEY go together');
  }
  if (did !== undefined && !DID.test(did)) problems.add('LABELER_DID', `expected a did:plc or did:web, got "${did}"`);
  if (env.LABELER_APP_PASSWORD !== undefined && did === undefined) problems.add('LABELER_APP_PASSWORD', 'needs LABELER_DID: it is the password of that account');
  if (signingKey !== undefined && !/^[0-9a-f]{64}$/i.test(signingKey)) problems.add('LABELER_SIGNING_KEY', 'expected 64 hex digits (a secp256k1 private key)');
  for (const labeler of env.LABELERS_SUBSCRIBE) {
    if (!DID.test(labeler)) problems.add('LABELERS_SUBSCRIBE', `expected labeler DIDs, got "${labeler}"`);
  }
  return {
    /** The labeler account's DID; with `signingKey`, the ranker signs and stores labels. */
    did,
    /** Hex secp256k1 private key of the DID document's `#atproto_label` method. Secret. */
    signingKey,
    /** The labeler account's password, for `npm run labeler:setup` only. Secret. */
    accountPassword: env.LABELER_ACCOUNT_PASSWORD,
    /**
     * An app password of the labeler account: with it, the ranker that emits the labels keeps the
     * account's `app.bsky.labeler.service` record declaring the values of the communities in force.
     * Secret.
     */
    appPassword: env.LABELER_APP_PASSWORD,
    /** Public URL of our `com.atproto.label.*` endpoints, for the DID document's `#atproto_labeler` service. */
    endpoint: env.LABELER_ENDPOINT ?? `https://${env.FEEDGEN_HOSTNAME}`,
    /** Labeler DIDs whose labels we subscribe to, verify and store. */
    subscribe: env.LABELERS_SUBSCRIBE,
    /** How often a serving process looks for new labels to push to `subscribeLabels` clients. */
    pollMs: env.LABELS_POLL_MS,
    /** Negated and superseded labels older than this are pruned; an older cursor gets `#info OutdatedCursor`. */
    historyDays: env.LABELS_HISTORY_DAYS,
    /** subscribeLabels connections a serving process holds at once; more are refused with 503 and Retry-After. */
    maxSubscribers: env.LABELS_MAX_SUBSCRIBERS,
  };
}

function httpConfig(env: Env, problems: ConfigProblems) {
  if (env.OPS_PORT !== 0 && env.OPS_PORT === env.HTTP_PORT) {
    problems.add('OPS_PORT', `must differ from HTTP_PORT (${env.HTTP_PORT}): the ops endpoints stay off the public port`);
  }
  return {
    /** Every role serves HTTP: XRPC in the feed generator, health and metrics everywhere. */
    port: env.HTTP_PORT,
    bindHost: env.HTTP_BIND_HOST,
    /**
     * Operations listener in every role: `/status`, `/metrics` and the detailed `/ready` report.
     * They cost queries and name feeds and internals, so they stay off the public port.
     */
    opsPort: env.OPS_PORT,
    opsBindHost: env.OPS_BIND_HOST,
  };
}

/**
 * Step two: the typed configuration, with the fallbacks that depend on other variables and the
 * rules that involve several; each broken rule is added to `problems`.
 */
export function envToConfig(env: Env, problems: ConfigProblems) {
  const dataDir = path.resolve(env.DATA_DIR);
  if (env.FEEDS_KEEP_PUBLISHED && (env.BSKY_IDENTIFIER === undefined || env.BSKY_APP_PASSWORD === undefined)) {
    problems.add('FEEDS_KEEP_PUBLISHED', 'needs BSKY_IDENTIFIER and BSKY_APP_PASSWORD: the account that publishes the feeds');
  }
  return {
    role: env.CG_ROLE,
    logLevel: env.LOG_LEVEL,
    dataDir,
    http: httpConfig(env, problems),
    bus: busConfig(env, problems),
    /** The bus of the embedded mode (`#lib/bus`). */
    inProcessBus: {
      /** Messages of one topic that may wait for their consumers; a publish beyond waits for room. */
      maxQueued: env.IN_PROCESS_BUS_MAX_QUEUED,
    },
    clickhouse: clickhouseConfig(env, dataDir, problems),
    ingest: {
      jetstreamUrl: env.JETSTREAM_URL,
      /** Seconds re-read after a restart: Jetstream delivers at least once, so overlap is harmless. */
      rewindSeconds: env.JETSTREAM_REWIND_SECONDS,
      batchSize: env.INGEST_BATCH_SIZE,
      batchMaxWaitMs: env.INGEST_BATCH_MAX_WAIT_MS,
      cursorFile: path.resolve(env.INGEST_CURSOR_FILE ?? path.join(dataDir, 'ingest-cursor.json')),
    },
    scoring: {
      batchSize: env.SCORING_BATCH_SIZE,
      /** Seconds between score snapshot recomputations. */
      intervalSeconds: env.SCORING_INTERVAL_SECONDS,
      /**
       * Whether this process computes score snapshots (is a ranker). Any number of scoring processes
       * share the consumer work; in scaled mode any number of rankers share the feeds.
       */
      snapshots: env.SCORING_SNAPSHOTS,
      /**
       * Scaled mode: the processes that compute snapshots (rankers) split the feeds. Each feed is
       * hashed to one of `partitions` partitions of the rankers' topic; the members of the Kafka
       * consumer group `groupId` share the partitions, and a ranker silent for `sessionTimeoutMs`
       * loses its feeds to the others.
       */
      rankers: { partitions: env.RANKER_PARTITIONS, groupId: consumerGroupId(env, env.RANKER_GROUP), sessionTimeoutMs: env.RANKER_SESSION_TIMEOUT_MS },
      /** Tries of an insert ClickHouse refuses before the batch is split to isolate the messages it refuses. */
      writeAttempts: env.SCORING_WRITE_ATTEMPTS,
    },
    feedGenerator: feedGeneratorConfig(env, problems),
    /** The curation every role and replica applies: how often the newest stored version is looked at (heals a missed announcement). */
    curation: {
      pollSeconds: env.CURATION_POLL_SECONDS,
      /** The most accounts a community may resolve to: every process that asks holds them all. */
      maxCommunityMembers: env.COMMUNITY_MAX_MEMBERS,
    },
    /** Communities and their members' recent history read from the network (cold start). */
    backfill: {
      enabled: env.BACKFILL_ENABLED,
      appviewUrl: env.APPVIEW_URL,
      concurrency: env.BACKFILL_CONCURRENCY,
      perHostConcurrency: env.BACKFILL_PER_HOST_CONCURRENCY,
      attempts: env.BACKFILL_ATTEMPTS,
      retryBaseMs: env.BACKFILL_RETRY_BASE_MS,
      followersCap: env.BACKFILL_FOLLOWERS_CAP,
    },
    labeler: labelerConfig(env, problems),
    /** The Bridge Fund: how the ranker settles what boosts cost (funds themselves are in the curation). */
    funding: {
      epochDays: env.FUND_EPOCH_DAYS,
      creditsPerThousandImpressions: env.FUND_CREDITS_PER_1000_IMPRESSIONS,
      floorCredits: env.FUND_FLOOR_CREDITS,
      floorMaxMembers: env.FUND_FLOOR_MAX_MEMBERS,
    },
    /** Context notes: what the ranker's notes step admits and how it weighs ratings (docs/notes.md). */
    notes: {
      /** Notes an account may propose per UTC day; later ones that day are not scored. */
      proposalsPerDay: env.NOTES_PROPOSALS_PER_DAY,
      /** Raters first seen fewer days ago than this weigh less. 0: no discount. */
      youngAccountDays: env.NOTES_YOUNG_ACCOUNT_DAYS,
      /** Whether community members' factors from their Bluesky likes seed the raters' factors. */
      raterPriors: env.NOTES_RATER_PRIORS,
    },
    /** The account that publishes the feed records: `npm run feed:publish`, and the ranker with `FEEDS_KEEP_PUBLISHED`. */
    publishing: {
      /** PDS of the publishing account. */
      service: env.BSKY_SERVICE,
      identifier: env.BSKY_IDENTIFIER,
      /** An app password, never the account password. Secret. */
      appPassword: env.BSKY_APP_PASSWORD,
      /** Whether the ranker keeps the feeds' generator records in step with the curation (create, update, delete). */
      keepPublished: env.FEEDS_KEEP_PUBLISHED,
      /** Image file for the feeds' avatar (PNG or JPEG). */
      avatarFile: env.FEED_AVATAR_FILE,
    },
  };
}

export type AppConfig = ReturnType<typeof envToConfig>;
export type ClickHouseConfig = AppConfig['clickhouse'];

/** A part of the pipeline; a process runs one or more, as its role says. */
export type Part = 'ingest' | 'scoring' | 'ranker' | 'feed-generator';

/**
 * The parts this process runs: every one in embedded mode (`all`), else its role's, and a scoring
 * process that computes the score snapshots is a ranker too.
 */
export function partsOf(config: Pick<AppConfig, 'role' | 'scoring'>): ReadonlySet<Part> {
  const runs = (role: (typeof Roles)[number]) => config.role === 'all' || config.role === role;
  const parts = new Set<Part>();
  if (runs('ingest')) parts.add('ingest');
  if (runs('scoring')) parts.add('scoring');
  if (runs('scoring') && config.scoring.snapshots) parts.add('ranker');
  if (runs('feed-generator')) parts.add('feed-generator');
  return parts;
}

/**
 * Reads and validates the environment once. The only place in the project that looks at
 * `process.env`; everything else receives the typed `AppConfig`. Throws `InvalidConfigError`
 * listing every bad variable.
 */
export function loadConfig(env: Readonly<Record<string, string | undefined>> = process.env): AppConfig {
  const { values, issues } = readEnv(env);
  const problems = new ConfigProblems(issues);
  const config = envToConfig(values, problems);
  if (problems.issues.length > 0) throw new InvalidConfigError(problems.issues);
  return config;
}
