import { Controller, Get, Inject } from '@nestjs/common';
import type { AppConfig } from '#lib/config';
import { Nsid } from '#lib/domain';
import { APP_CONFIG } from '#lib/platform';
import { FeedRegistry } from '../feeds/feed.registry.js';

/** `app.bsky.feed.describeFeedGenerator`: our DID, the feeds we serve, and the operator's policies when configured. */
@Controller()
export class DescribeFeedGeneratorController {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly registry: FeedRegistry,
  ) {}

  @Get(`xrpc/${Nsid.describeFeedGenerator}`)
  describe(): { did: string; feeds: { uri: string }[]; links?: { privacyPolicy?: string; termsOfService?: string } } {
    const { serviceDid, links } = this.config.feedGenerator;
    const given = Object.fromEntries(Object.entries(links).filter(([, url]) => url !== undefined));
    return {
      did: serviceDid,
      feeds: this.registry.feeds().map((feed) => ({ uri: this.registry.uriOf(feed) })),
      ...(Object.keys(given).length > 0 && { links: given }),
    };
  }
}
