import { Module } from '@nestjs/common';
import { CurationEventsController } from './curation-events.controller.js';
import { CurationService } from './curation.service.js';

/**
 * The curation in force, shared by the roles that use it (scoring's snapshots, the feed
 * generator): one `CurationService` per process, and the control-plane handler that applies
 * announced versions. Needs `PlatformModule`.
 */
@Module({
  controllers: [CurationEventsController],
  providers: [CurationService],
  exports: [CurationService],
})
export class CurationModule {}
