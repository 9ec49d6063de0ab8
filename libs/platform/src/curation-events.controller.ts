import { Controller, Inject } from '@nestjs/common';
import { EventPattern, Payload } from '@nestjs/microservices';
import { CurationChangedV1, Topics } from '#lib/contracts';
import { CurationService } from './curation.service.js';
import type { Logger } from './logger.js';
import { LOGGER } from './tokens.js';

/** Control-plane handlers: a curation version announced by any process is applied in this one. */
@Controller()
export class CurationEventsController {
  private readonly log: Logger;

  constructor(
    private readonly curation: CurationService,
    @Inject(LOGGER) logger: Logger,
  ) {
    this.log = logger.child({ component: 'curation' });
  }

  @EventPattern(Topics.curation)
  async curationChanged(@Payload() payload: unknown): Promise<void> {
    const event = CurationChangedV1.safeParse(payload);
    if (!event.success) {
      this.log.warn({ problems: event.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`) }, 'curation announcement ignored');
      return;
    }
    await this.curation.announced(event.data);
  }
}
