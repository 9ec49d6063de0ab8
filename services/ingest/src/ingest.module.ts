import { Module } from '@nestjs/common';
import { JetstreamIngestService } from './jetstream-ingest.service.js';

/** Jetstream → bus. Needs `PlatformModule` in the application. */
@Module({
  providers: [JetstreamIngestService],
  exports: [JetstreamIngestService],
})
export class IngestModule {}
