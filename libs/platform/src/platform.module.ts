import { Global, Inject, Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import type { AppConfig } from '#lib/config';
import {
  applyMigrations,
  CommunityRepository,
  createClickHouseClient,
  EventRepository,
  FeedbackRepository,
  PostRepository,
  ScoreRepository,
  type ClickHouseClient,
} from '#lib/clickhouse';
import { Topics, type MessageBus } from '#lib/contracts';
import { InProcessBus, PrefixedBus } from '#lib/bus';
import { createLogger, type Logger } from './logger.js';
import { APP_CONFIG, CLICKHOUSE, LOGGER, MESSAGE_BUS } from './tokens.js';

export interface PlatformOptions {
  config: AppConfig;
  logger?: Logger;
  /** An already-open bus to share (tests that run several service modules on one bus). */
  bus?: MessageBus;
}

/** The ClickHouse repositories, one instance each for the whole process. */
const repositories = [EventRepository, PostRepository, CommunityRepository, FeedbackRepository, ScoreRepository];

async function createBus(config: AppConfig, logger: Logger): Promise<MessageBus> {
  if (config.bus.kind === 'in-process') return new InProcessBus({ retainedTopics: [Topics.deadLetter] });
  // Loaded only in scaled mode, so the embedded process never loads the Kafka client.
  const { KafkaBus } = await import('#lib/kafka');
  const kafkaLogger = logger.child({ component: 'kafka' });
  const bus = new KafkaBus({
    brokers: config.bus.brokers,
    clientId: config.bus.clientId,
    publishTimeoutMs: config.bus.publishTimeoutMs,
    log: (level, message, extra) => kafkaLogger[level](extra ?? {}, message),
  });
  return config.bus.topicPrefix ? new PrefixedBus(bus, config.bus.topicPrefix) : bus;
}

class PlatformLifecycle implements OnApplicationShutdown {
  constructor(
    @Inject(MESSAGE_BUS) private readonly bus: MessageBus,
    @Inject(CLICKHOUSE) private readonly clickhouse: ClickHouseClient,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    await this.bus.close();
    await this.clickhouse.close();
  }
}

/**
 * Config, logger, message bus and ClickHouse for every service in the process. The bus and the
 * database are chosen by configuration (in-process or Kafka; chDB or a server); nothing above
 * this module knows which.
 */
@Global()
@Module({})
export class PlatformModule {
  static forRoot(options: PlatformOptions): DynamicModule {
    const { config } = options;
    const logger = options.logger ?? createLogger(config);
    return {
      module: PlatformModule,
      providers: [
        { provide: APP_CONFIG, useValue: config },
        { provide: LOGGER, useValue: logger },
        {
          provide: MESSAGE_BUS,
          useFactory: async () => {
            const bus = options.bus ?? (await createBus(config, logger));
            const partitions = config.bus.kind === 'kafka' ? config.bus.partitions : 1;
            await bus.ensureTopics(Object.values(Topics).map((name) => ({ name, partitions })));
            return bus;
          },
        },
        {
          provide: CLICKHOUSE,
          useFactory: async () => {
            const client = createClickHouseClient(config.clickhouse);
            const applied = await applyMigrations(client, config.clickhouse.database);
            if (applied.length > 0) logger.info({ component: 'clickhouse', applied }, 'schema migrations applied');
            return client;
          },
        },
        ...repositories.map((Repository) => ({
          provide: Repository,
          useFactory: (client: ClickHouseClient) => new Repository(client, config.clickhouse.database),
          inject: [CLICKHOUSE],
        })),
        PlatformLifecycle,
      ],
      exports: [APP_CONFIG, LOGGER, MESSAGE_BUS, CLICKHOUSE, ...repositories],
    };
  }
}
