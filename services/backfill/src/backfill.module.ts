import { Module } from '@nestjs/common';
import { BackfillCheckpointRepository, type ClickHouseClient } from '#lib/clickhouse';
import type { AppConfig } from '#lib/config';
import { NetworkReader } from '#lib/network';
import { APP_CONFIG, CLICKHOUSE } from '#lib/platform';
import { BackfillEventRepository } from './backfill-event.repository.js';
import { BackfillService } from './backfill.service.js';

/** Communities and their members' recent history, read from the network. Needs `PlatformModule`. */
@Module({
  providers: [
    {
      provide: NetworkReader,
      useFactory: (config: AppConfig) =>
        new NetworkReader({
          plcUrl: config.feedGenerator.plcUrl,
          appviewUrl: config.backfill.appviewUrl,
          concurrency: config.backfill.concurrency,
          perHostConcurrency: config.backfill.perHostConcurrency,
          attempts: config.backfill.attempts,
          retryBaseMs: config.backfill.retryBaseMs,
          allowInsecureFetch: config.feedGenerator.identityAllowInsecure,
        }),
      inject: [APP_CONFIG],
    },
    {
      provide: BackfillCheckpointRepository,
      useFactory: (client: ClickHouseClient, config: AppConfig) => new BackfillCheckpointRepository(client, config.clickhouse.database),
      inject: [CLICKHOUSE, APP_CONFIG],
    },
    {
      provide: BackfillEventRepository,
      useFactory: (client: ClickHouseClient, config: AppConfig) => new BackfillEventRepository(client, config.clickhouse.database),
      inject: [CLICKHOUSE, APP_CONFIG],
    },
    BackfillService,
  ],
  exports: [BackfillService],
})
export class BackfillModule {}
