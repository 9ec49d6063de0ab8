import { Controller, Get, Inject } from '@nestjs/common';
import type { AppConfig } from '#lib/config';
import { Nsid } from '#lib/domain';
import { APP_CONFIG } from '#lib/platform';
import { FeedRegistry } from '../feeds/feed.registry.js';

/** `app.bsky.feed.describeFeedGenerator`: our DID and the feeds we serve. */
@Controller()
export class DescribeFeedGeneratorController {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly registry: FeedRegistry,
  ) {}

  @Get(`xrpc/${Nsid.describeFeedGenerator}`)
  describe(): { did: string; feeds: { uri: string }[] } {
    return {
      did: this.config.feedGenerator.serviceDid,
      feeds: this.registry.feeds().map((feed) => ({ uri: this.registry.uriOf(feed) })),
    };
  }
}
