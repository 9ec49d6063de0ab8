import { Module, type DynamicModule, type Type } from '@nestjs/common';
import { partsOf, type AppConfig } from '#lib/config';
import type { MessageBus } from '#lib/contracts';
import { PlatformModule, type Logger } from '#lib/platform';
import { BackfillModule } from '../../backfill/src/backfill.module.js';
import { FeedGeneratorModule } from '../../feed-generator/src/feed-generator.module.js';
import { IngestModule } from '../../ingest/src/ingest.module.js';
import { ScoringModule } from '../../scoring/src/scoring.module.js';
import { HealthController } from './health.controller.js';
import { ProcessStatusService } from './process-status.service.js';

/**
 * The composition root: the services `CG_ROLE` names, on one shared platform.
 *
 * @NOTE This is the one project that imports other services. Services never import each other;
 * running all three in one process (embedded mode) or one per process (scaled mode) is a choice
 * made here and nowhere else.
 */
@Module({})
export class AppModule {
  static forRole(config: AppConfig, options: { logger?: Logger; bus?: MessageBus } = {}): DynamicModule {
    const services: Type[] = [];
    const parts = partsOf(config);
    // Scoring first: in embedded mode it must be consuming before ingest publishes.
    if (parts.has('scoring')) services.push(ScoringModule);
    if (parts.has('ingest')) services.push(IngestModule, BackfillModule);
    if (parts.has('feed-generator')) services.push(FeedGeneratorModule);
    return {
      module: AppModule,
      controllers: [HealthController],
      providers: [ProcessStatusService],
      imports: [PlatformModule.forRoot({ config, ...options }), ...services],
    };
  }
}

/** True when the process's role serves the feeds (the feed generator's module is in it). */
export function servesFeeds(config: AppConfig): boolean {
  return partsOf(config).has('feed-generator');
}
