import {
  Global,
  Inject,
  Module,
  type BeforeApplicationShutdown,
  type DynamicModule,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { partsOf, type AppConfig } from '#lib/config';
import { BusStartup } from './bus-startup.js';
import {
  applyMigrations,
  CommunityRepository,
  ConversationRepository,
  createClickHouseClient,
  CurationVersionRepository,
  EditionRepository,
  EventRepository,
  FeedbackRepository,
  FundRepository,
  LabelRepository,
  NoteRepository,
  PostRepository,
  RankerClaimRepository,
  RemovalRepository,
  ScoreRepository,
  StoreBackups,
  type ClickHouseClient,
} from '#lib/clickhouse';
import { Topics, type MessageBus } from '#lib/contracts';
import { createHandleResolution, VerifiedHandleResolver } from '#lib/identity';
import { InProcessBus, PrefixedBus } from '#lib/bus';
import { BackfillProgress } from './backfill-progress.js';
import { consumerLag, instrumentInserts, scoringConsumerGroups } from './instrumentation.js';
import { createLogger, type Logger } from './logger.js';
import { Metrics } from './metrics.js';
import { DEFAULT_HISTORY, PipelineHistory } from './pipeline-history.js';
import { ReadinessService } from './readiness.js';
import { createControlPlane, type ControlPlane } from './control-plane.js';
import { CurationEventsController } from './curation-events.controller.js';
import { CurationService } from './curation.service.js';
import { APP_CONFIG, CLICKHOUSE, CONTROL_PLANE, LOGGER, MESSAGE_BUS } from './tokens.js';

interface PlatformOptions {
  config: AppConfig;
  logger?: Logger;
  /** An already-open bus to share (tests that run several service modules on one bus). */
  bus?: MessageBus;
}

/** The ClickHouse repositories, one instance each for the whole process. */
const repositories = [
  EventRepository,
  PostRepository,
  CommunityRepository,
  FeedbackRepository,
  ScoreRepository,
  CurationVersionRepository,
  EditionRepository,
  ConversationRepository,
  FundRepository,
  RemovalRepository,
  LabelRepository,
  RankerClaimRepository,
  NoteRepository,
  StoreBackups,
];

/** The bus `config` asks for: in-process, or Kafka under the deployment's topic prefix. */
export async function createBus(config: AppConfig, logger: Logger): Promise<MessageBus> {
  if (config.bus.kind === 'in-process') {
    // Control events acknowledge at once while no process listens (during start-up, before the
    // control plane is connected): each process reads the newest curation itself when it starts.
    return new InProcessBus({ retainedTopics: [Topics.deadLetter, Topics.curation], maxQueued: config.inProcessBus.maxQueued });
  }
  // Loaded only in scaled mode, so the embedded process never loads the Kafka client.
  const { KafkaBus } = await import('#lib/kafka');
  const kafkaLogger = logger.child({ component: 'kafka' });
  const bus = new KafkaBus({
    brokers: config.bus.brokers,
    clientId: config.bus.clientId,
    publishTimeoutMs: config.bus.publishTimeoutMs,
    replicationFactor: config.bus.replicationFactor,
    sessionTimeoutMs: config.bus.sessionTimeoutMs,
    compression: config.bus.compression,
    producers: config.bus.producers,
    ssl: config.bus.ssl,
    sasl: config.bus.sasl,
    log: (level, message, extra) => kafkaLogger[level](extra ?? {}, message),
  });
  return config.bus.topicPrefix ? new PrefixedBus(bus, config.bus.topicPrefix) : bus;
}

/** How often a serving process looks at the freshness of the snapshots it serves. */
const FRESHNESS_WATCH_MS = 30_000;

class PlatformLifecycle implements OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown {
  private freshnessTimer?: NodeJS.Timeout;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(MESSAGE_BUS) private readonly bus: MessageBus,
    @Inject(CLICKHOUSE) private readonly clickhouse: ClickHouseClient,
    @Inject(CONTROL_PLANE) private readonly controlPlane: ControlPlane,
    private readonly metrics: Metrics,
    private readonly readiness: ReadinessService,
    private readonly history: PipelineHistory,
    private readonly busStartup: BusStartup,
  ) {}

  /** Collectors every role shares: readiness and snapshot freshness, and (where scoring runs) consumer lag. */
  onApplicationBootstrap(): void {
    const { metrics, readiness } = this;
    const parts = partsOf(this.config);
    for (const part of parts) metrics.role.set({ role: part }, 1);
    metrics.collect('readiness', async () => {
      const report = await readiness.check();
      for (const [check, passed] of Object.entries(report.checks)) metrics.ready.set({ check }, passed ? 1 : 0);
      if (!report.checks.clickhouse) return;
      metrics.snapshotAge.reset();
      metrics.snapshotPosts.reset();
      metrics.snapshotStale.reset();
      for (const feed of report.snapshot.feeds) {
        if (feed.ageSeconds !== null) metrics.snapshotAge.set({ feed: feed.shortname }, feed.ageSeconds);
        if (feed.posts !== null) metrics.snapshotPosts.set({ feed: feed.shortname }, feed.posts);
        metrics.snapshotStale.set({ feed: feed.shortname }, feed.stale ? 1 : 0);
      }
    });
    metrics.collect('bus', () => {
      const refused = this.bus.refusedMessages;
      if (refused !== undefined) metrics.setTotal(metrics.busMessagesRefused, {}, refused);
    });
    if (parts.has('feed-generator')) {
      // @NOTE Where feeds are served, freshness is watched even when nobody probes or scrapes, so
      // a stale snapshot is logged (ReadinessService warns when a feed turns stale).
      this.freshnessTimer = setInterval(() => void readiness.check().catch(() => undefined), FRESHNESS_WATCH_MS);
      this.freshnessTimer.unref();
    }
    if (parts.has('scoring')) {
      const groups = scoringConsumerGroups(this.config);
      const watched = [
        { group: groups.events, topics: [Topics.events] },
        { group: groups.feedback, topics: [Topics.feedback] },
      ];
      metrics.collect('consumer-lag', async () => {
        const lags = await Promise.all(watched.map(async ({ group, topics }) => ({ group, lags: await consumerLag(this.bus, group, topics) })));
        metrics.busConsumerLag.reset();
        for (const { group, lags: partitions } of lags) {
          for (const { topic, partition, lag } of partitions ?? []) metrics.busConsumerLag.set({ group, topic, partition: String(partition) }, lag);
        }
      });
    }
    this.history.start();
  }

  async beforeApplicationShutdown(): Promise<void> {
    clearInterval(this.freshnessTimer);
    await this.history.stop();
  }

  async onApplicationShutdown(): Promise<void> {
    // Start steps under way in the background end once the bus is closed (they retry until then).
    const startSteps = this.busStartup.stop();
    await this.controlPlane.client.close();
    await this.bus.close();
    await startSteps;
    await this.clickhouse.close();
  }
}

/**
 * Config, logger, message bus, ClickHouse, metrics (scraped on the ops port), readiness, the
 * control plane and the curation in force for every service in the process. The bus and the
 * database are chosen by configuration (in-process or Kafka; chDB or a server); nothing above this
 * module knows which.
 */
@Global()
@Module({})
export class PlatformModule {
  static forRoot(options: PlatformOptions): DynamicModule {
    const { config } = options;
    const logger = options.logger ?? createLogger(config);
    const busStartup = new BusStartup(config, logger);
    const metrics = new Metrics();
    return {
      module: PlatformModule,
      providers: [
        { provide: Metrics, useValue: metrics },
        { provide: BackfillProgress, useValue: new BackfillProgress() },
        { provide: PipelineHistory, useFactory: () => new PipelineHistory(metrics, DEFAULT_HISTORY) },
        { provide: APP_CONFIG, useValue: config },
        { provide: BusStartup, useValue: busStartup },
        { provide: LOGGER, useValue: logger },
        {
          provide: MESSAGE_BUS,
          useFactory: async () => {
            const bus = options.bus ?? (await createBus(config, logger));
            const partitions = config.bus.kind === 'kafka' ? config.bus.partitions : 1;
            await busStartup.check(bus);
            await busStartup.step('creating topics', () => bus.ensureTopics(Object.values(Topics).map((name) => ({ name, partitions }))));
            return bus;
          },
        },
        {
          provide: CLICKHOUSE,
          useFactory: async () => {
            const client = instrumentInserts(createClickHouseClient(config.clickhouse), metrics);
            const log = logger.child({ component: 'clickhouse' });
            // A server that is starting or restarting is waited for, as the bus waits for Kafka.
            const applied = await applyMigrations(client, config.clickhouse.database, {
              onRetry: ({ attempt, waitMs, error }) => log.warn({ attempt, retryInMs: Math.round(waitMs), err: error.message }, 'schema migrations wait for ClickHouse; trying again'),
            });
            if (applied.length > 0) log.info({ applied }, 'schema migrations applied');
            return client;
          },
        },
        { provide: CONTROL_PLANE, useFactory: (bus: MessageBus) => createControlPlane(config, bus, logger), inject: [MESSAGE_BUS] },
        ...repositories
          .filter((Repository) => Repository !== CommunityRepository)
          .map((Repository) => ({
            provide: Repository,
            useFactory: (client: ClickHouseClient) => new Repository(client, config.clickhouse.database),
            inject: [CLICKHOUSE],
          })),
        {
          provide: CommunityRepository,
          useFactory: (client: ClickHouseClient) => new CommunityRepository(client, config.clickhouse.database, config.curation.maxCommunityMembers),
          inject: [CLICKHOUSE],
        },
        {
          // Curated handles → verified DIDs, for the membership queries of scoring and the feed generator.
          provide: VerifiedHandleResolver,
          useFactory: () => {
            const log = logger.child({ component: 'handles' });
            return new VerifiedHandleResolver({
              ...createHandleResolution({
                plcUrl: config.feedGenerator.plcUrl,
                timeoutMs: config.feedGenerator.serviceAuth.timeoutMs,
                allowInsecureFetch: config.feedGenerator.identityAllowInsecure,
                testHandleOrigin: config.feedGenerator.identityTestHandleOrigin,
              }),
              verifiedTtlMs: 10 * 60_000,
              unverifiedTtlMs: 60_000,
              maxHandles: 100_000,
              concurrency: 8,
              onError: (handle, err) => log.warn({ handle, err: (err as Error).message }, 'handle resolution failed'),
            });
          },
        },
        CurationService,
        ReadinessService,
        PlatformLifecycle,
      ],
      controllers: [CurationEventsController],
      exports: [APP_CONFIG, LOGGER, MESSAGE_BUS, CLICKHOUSE, CONTROL_PLANE, ...repositories, VerifiedHandleResolver, Metrics, PipelineHistory, CurationService, ReadinessService, BackfillProgress, BusStartup],
    };
  }
}
